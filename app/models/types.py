"""Column types shared by the models."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, Index, Table, text
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    """Format a timestamp as RFC 3339 UTC with milliseconds, as the API promises."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# The years a device may write: anything outside is hostile input, and some of it cannot
# even be converted to UTC (9999-12-31T23:59:59-23:59 overflows). A clock left at 1999 is
# a wrong but real reading: it is kept (``scanned_at`` is advisory).
EARLIEST_YEAR = 1970
LATEST_YEAR = 2999
MAX_TIMESTAMP_LENGTH = 40


def parse_timestamp(value: str) -> datetime:
    """Read an RFC 3339 timestamp with a time zone, e.g. ``2026-11-26T09:20:11.400Z``.

    Raise ValueError for anything else, including a year, as written, before 1970 or after
    2999 (docs/contract.md §5 and §6).
    """
    text = value.strip()
    if len(text) > MAX_TIMESTAMP_LENGTH or not text.isascii():
        raise ValueError("not an RFC 3339 timestamp")
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError("timestamp without a time zone")
    if not EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:
        raise ValueError("timestamp out of range (1970-2999)")
    return parsed.astimezone(UTC)


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def safe_text(value: str, max_length: int | None = None) -> str:
    """Return text any database can store: NUL and lone surrogates become U+FFFD.

    JSON lets a client send both (``"\\u0000"``, ``"\\ud800"``); neither SQLite's UTF-8
    nor PostgreSQL accepts them, and a rejected input must still be recorded.
    """
    cleaned = _UNSTORABLE.sub("\ufffd", value)
    return cleaned if max_length is None else cleaned[:max_length]


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no time zone, PostgreSQL does: this type makes both behave the same.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        """Convert an aware datetime to UTC before storing it; refuse naive ones."""
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError("UtcDateTime needs a timezone-aware datetime")
        moment: datetime = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return moment.replace(tzinfo=None)
        return moment

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Return stored timestamps as aware UTC datetimes."""
        if value is None:
            return None
        stored: datetime = value
        if stored.tzinfo is None:
            return stored.replace(tzinfo=UTC)
        return stored.astimezone(UTC)


def table_of(model: type[Any]) -> Table:
    """Return a mapped class's table, typed as a Table for Core statements."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def stamp_index(table: str, column: str) -> Index:
    """Index a column that is NULL on most rows (the event that ended a row, say) partially.

    Rows written with it NULL then cost no index page; look-ups by value (``column = :id``,
    which implies NOT NULL) use the index all the same, on SQLite and on PostgreSQL.
    """
    present = text(f"{column} IS NOT NULL")
    return Index(f"ix_{table}_{column}", column, sqlite_where=present, postgresql_where=present)
