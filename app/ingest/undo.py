"""The undo log of a scan: how to put the shop back as it was (``A-ANNULE``).

Each accepted scan records the rows it created and the fields it changed, with their
values before and after. Undoing checks that every row is still as the scan left it, so a
later change made elsewhere is never silently overwritten.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, delete, inspect, update
from sqlalchemy.exc import IntegrityError

from app.extensions import Base, db


class UndoConflict(Exception):
    """The shop changed since the scan: undoing it would overwrite someone else's work."""


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and "$dt" in value:
        return datetime.fromisoformat(value["$dt"])
    return value


def _encode_map(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _encode(value) for key, value in values.items()}


def _decode_map(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _decode(value) for key, value in values.items()}


class UndoLog:
    """Collects, while a scan is applied, what undoing it would take."""

    def __init__(self) -> None:
        self.ops: list[list[Any]] = []

    def record_created(self, obj: Base) -> None:
        """Remember that the scan created this (flushed) row, and how it was then."""
        mapper = inspect(type(obj))
        values = {column.key: getattr(obj, column.key) for column in mapper.column_attrs}
        self.ops.append(["del", obj.__tablename__, _encode_map(_pk(obj)), _encode_map(values)])

    def record_inserted(self, table: str, pk: dict[str, Any], values: dict[str, Any]) -> None:
        """Remember a row the scan inserted with a Core statement."""
        self.ops.append(["del", table, _encode_map(pk), _encode_map(values)])

    def set(self, obj: Base, **values: Any) -> None:
        """Change fields of a row and remember their previous values."""
        old = {key: getattr(obj, key) for key in values}
        changed = {key: value for key, value in values.items() if old[key] != value}
        if not changed:
            return
        for key, value in changed.items():
            setattr(obj, key, value)
        self.ops.append(
            [
                "set",
                obj.__tablename__,
                _encode_map(_pk(obj)),
                _encode_map({key: old[key] for key in changed}),
                _encode_map(changed),
            ]
        )

    def to_json(self) -> list[list[Any]]:
        """Return the log as JSON-serialisable data for the event row."""
        return self.ops


def _pk(obj: Base) -> dict[str, Any]:
    mapper = inspect(type(obj))
    keys = [mapper.get_property_by_column(column).key for column in mapper.primary_key]
    return {key: getattr(obj, key) for key in keys}


def _where(table: Table, values: dict[str, Any]) -> Any:
    clauses = [
        table.c[key].is_(None) if value is None else table.c[key] == value
        for key, value in values.items()
    ]
    return and_(*clauses)


def apply_undo(ops: list[list[Any]]) -> None:
    """Reverse a scan's changes, newest first; raise UndoConflict if the shop moved on."""
    db.session.flush()
    savepoint = db.session.begin_nested()
    try:
        for op in reversed(ops):
            table = Base.metadata.tables[op[1]]
            pk = _decode_map(op[2])
            if op[0] == "del":
                created = _decode_map(op[3]) if len(op) > 3 else {}
                result = db.session.execute(delete(table).where(_where(table, {**pk, **created})))
            else:
                old, new = _decode_map(op[3]), _decode_map(op[4])
                result = db.session.execute(
                    update(table).where(_where(table, {**pk, **new})).values(**old)
                )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise UndoConflict(f"{op[0]} {op[1]} {op[2]} no longer matches")
        savepoint.commit()
    except IntegrityError as exc:
        savepoint.rollback()
        raise UndoConflict(str(exc.orig)) from exc
    except UndoConflict:
        savepoint.rollback()
        raise
    db.session.expire_all()
