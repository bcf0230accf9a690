"""The ingest core: record every input under its id, run its kind's handler, and flush.

``record()`` runs inside the boundary's write transaction (``app.db.write_transaction``):
it inserts the event as *pending* under ``(site, channel, key)`` — a retry, a redelivery or
a replay finds the row there and gets the recorded answer, or a conflict if the same id
came with another body — then runs the handler registered for the input's kind, and
completes the row with the outcome (accepted, or rejected with a code and a French
message). The core answers in the domain's words; transports map that to HTTP, MQTT
acknowledgements or exit codes. It reads no request and no configuration: the boundary
passes ``Settings``.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.ingest.events import Origin, Settings
from app.models import Event, safe_text, table_of
from app.models.types import utcnow

logger = logging.getLogger(__name__)

EVENTS = table_of(Event)
PENDING = "pending"
MAX_REASON = 400
MAX_RAW = 2000

E = TypeVar("E")


class Refusal(Exception):
    """An input the rules refuse: the API error code, the French message, the English reason.

    ``body`` holds extra fields of the answer (a scan's ``kind`` and ``station``).
    """

    def __init__(self, code: str, message: str, reason: str, **body: Any) -> None:
        super().__init__(reason)
        self.code = code
        self.message = message
        self.reason = reason
        self.body = body


@dataclass
class Done:
    """What an accepted input did: its French message and the fields of the answer."""

    message: str
    body: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """The core's answer: ``accepted``, ``rejected``, ``duplicate`` or ``conflict``."""

    status: str
    body: dict[str, Any]
    event_id: int | None = None

    @property
    def accepted(self) -> bool:
        """Tell whether the input was applied (now, or the first time it came)."""
        return self.body.get("status") == "accepted"


@dataclass
class Scope:
    """What a handler works with: the session, its connection, the event and the time."""

    session: Session
    conn: Connection
    event_id: int
    origin: Origin
    settings: Settings
    # Indexed columns of the event row the handler fills in (station_id, student_id, …).
    columns: dict[str, Any] = field(default_factory=dict)
    wrote: bool = False
    # When the input takes effect, if not when it was received: a day close run late still
    # closes at the closing time (app.ingest.day). Set by the handler, from its input only.
    effective_at: datetime | None = None

    @property
    def now(self) -> datetime:
        """Return the time the input takes effect (every change it makes is stamped so).

        That is when it was received, unless the handler says otherwise (``effective_at``).
        """
        return self.effective_at or self.origin.received_at

    @property
    def site_id(self) -> int:
        """Return the site the input belongs to."""
        site_id = self.columns.get("site_id", self.origin.site_id)
        if site_id is None:
            raise RuntimeError("an input without a site")
        return int(site_id)

    def write(self, statement: Any, params: Any = None) -> Any:
        """Execute a statement that changes the shop (noted, so a late refusal is caught)."""
        self.wrote = True
        return self.conn.execute(statement, params)


@dataclass(frozen=True)
class Handler:
    """A kind's handler, and whether it may refuse after writing (then it runs in a savepoint)."""

    run: Callable[[Scope, Any], Done]
    atomic: bool


HANDLERS: dict[type, Handler] = {}


def handles(kind: type[E], *, atomic: bool = False) -> Callable[[Callable[[Scope, E], Done]], Any]:
    """Register the handler of an input kind."""

    def register(function: Callable[[Scope, E], Done]) -> Callable[[Scope, E], Done]:
        HANDLERS[kind] = Handler(function, atomic)
        return function

    return register


def record(session: Session, origin: Origin, event: Any, settings: Settings) -> Outcome:
    """Record an input and apply it, in the caller's write transaction; return the outcome."""
    handler = HANDLERS.get(type(event))
    if handler is None:
        raise TypeError(f"no handler for {type(event).__name__}")
    conn = session.connection()
    event_id = conn.execute(
        _insert_pending(conn.dialect.name),
        {
            **_origin_columns(origin),
            "kind": event.KIND,
            "payload": _storable(event.payload()),
            "status": PENDING,
        },
    ).scalar()
    if event_id is None:
        return _replay(conn, origin)
    scope = Scope(session, conn, event_id, origin, settings)
    values: dict[str, Any]
    try:
        if handler.atomic:
            with session.begin_nested():
                # The session emits its SAVEPOINT only once it procures its connection:
                # do it now, since handlers also write through scope.conn directly.
                session.connection()
                done = handler.run(scope, event)
                session.flush()
        else:
            done = handler.run(scope, event)
        body = {**done.body, "status": "accepted", "message": done.message}
        body = _ordered(body)
        values = {"status": "accepted", "message": safe_text(done.message, 400)}
        outcome_status = "accepted"
    except Refusal as refusal:
        if scope.wrote and not handler.atomic:
            # The rules refuse before they write; a refusal after a write is a bug.
            raise RuntimeError(f"refused after writing: {refusal.reason}") from refusal
        body = _ordered(
            {
                **refusal.body,
                "status": "rejected",
                "error": {"code": refusal.code, "message": refusal.message},
            }
        )
        values = {
            "status": "rejected",
            "error_code": refusal.code,
            "message": safe_text(refusal.message, 400),
            "reason": safe_text(refusal.reason, MAX_REASON),
        }
        outcome_status = "rejected"
        logger.info("%s %s rejected: %s (%s)", event.KIND, origin.key, refusal.code, refusal.reason)
    values.update(scope.columns)
    values["response"] = _storable(body)
    conn.execute(_complete(tuple(sorted(values))), {"k_id": event_id, **values})
    return Outcome(outcome_status, body, event_id)


def record_failure(
    session: Session,
    origin: Origin,
    /,
    event: Any,
    error: BaseException,
    *,
    message: str,
    answer: dict[str, Any] | None = None,
) -> Outcome:
    """Record an input whose handler failed unexpectedly, as rejected (``internal_error``).

    ``answer`` holds fields the answer carries whatever happens (a scan's ``event_id``).
    """
    conn = session.connection()
    body = _ordered(
        {
            **(answer or {}),
            "status": "rejected",
            "error": {"code": "internal_error", "message": message},
        }
    )
    event_id = conn.execute(
        _insert_pending(conn.dialect.name),
        {
            **_origin_columns(origin),
            "kind": event.KIND,
            "payload": _storable(event.payload()),
            "status": "rejected",
            "error_code": "internal_error",
            "message": message,
            "reason": safe_text(f"{type(error).__name__}: {error}", MAX_REASON),
            "response": body,
        },
    ).scalar()
    if event_id is None:
        return _replay(conn, origin)
    return Outcome("rejected", body, event_id)


def _origin_columns(origin: Origin) -> dict[str, Any]:
    actor = origin.actor
    return {
        "site_id": origin.site_id,
        "channel": origin.channel,
        "key": safe_text(origin.key, 160),
        "received_at": origin.received_at,
        "body_sha256": origin.body_sha256,
        "actor_kind": actor.kind,
        "actor_name": safe_text(actor.name, 80) if actor.name else None,
        "device_token_id": actor.device_token_id,
        "user_id": actor.user_id,
    }


def _ordered(body: dict[str, Any]) -> dict[str, Any]:
    """Put the answer's fields in the contract's order: event_id, status, kind, message…"""
    first = ("event_id", "status", "kind", "message", "error")
    return {
        **{key: body[key] for key in first if key in body},
        **{key: value for key, value in body.items() if key not in first},
    }


# How ASCII JSON writes a NUL or half of a UTF-16 surrogate pair: only then can a string of
# the value be unstorable (a pair, an emoji, is fine: the slow path keeps it).
_ESCAPED_UNSTORABLE = re.compile(r"\\u(?:0000|d[89a-f])")


def _storable(value: Any) -> Any:
    """Return a JSON value with every string storable by both databases."""
    try:
        if not _ESCAPED_UNSTORABLE.search(json.dumps(value)):
            return value  # the common case, told at C speed
    except (TypeError, ValueError):
        pass
    return _cleaned(value)


def _cleaned(value: Any) -> Any:
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, dict):
        return {safe_text(str(k)): _cleaned(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_cleaned(item) for item in value]
    return value


def _replay(conn: Connection, origin: Origin) -> Outcome:
    """Answer an input whose id was seen before: the same answer, or a conflict."""
    existing = conn.execute(
        select(EVENTS.c.id, EVENTS.c.body_sha256, EVENTS.c.response).where(
            EVENTS.c.site_id == origin.site_id,
            EVENTS.c.channel == origin.channel,
            EVENTS.c.key == safe_text(origin.key, 160),
        )
    ).one()
    if existing.body_sha256 == origin.body_sha256 and existing.response is not None:
        return Outcome("duplicate", {**existing.response, "duplicate": True}, existing.id)
    return Outcome(
        "conflict",
        {
            "status": "rejected",
            "error": {
                "code": "conflict",
                "message": "Ce numéro a déjà servi pour une autre demande.",
            },
        },
        existing.id,
    )


def insert_for(dialect: str) -> Any:
    """Return the ``INSERT … ON CONFLICT`` constructor of a dialect (by its name)."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


@functools.cache
def _insert_pending(dialect: str) -> Any:
    """Return the statement recording an input unless its id was seen (built once)."""
    return (
        insert_for(dialect)(EVENTS)
        .on_conflict_do_nothing(index_elements=["site_id", "channel", "key"])
        .returning(EVENTS.c.id)
    )


@functools.cache
def _complete(columns: tuple[str, ...]) -> Any:
    """Return the statement writing an event's outcome (built once per set of columns)."""
    return (
        update(EVENTS)
        .where(EVENTS.c.id == bindparam("k_id"))
        .values({column: bindparam(column) for column in columns})
    )


def now() -> datetime:
    """Return the current time, for boundaries that stamp an input as it arrives."""
    return utcnow()
