"""``A-ANNULE``: take back what a recorded scan changed, found from the scan itself.

Every row a scan created carries its event id (``event_id``), every row it ended carries it
too (``ended_event_id``, ``finished_event_id``, ``completed_event_id``). Undoing the scan
deletes the first and reopens the second, newest dependencies first, inside a savepoint; a
station context it wrote is deleted, and the one before is the station's newest again.
If the shop moved on since — a row the scan created was ended or superseded by a later
event, or a later row depends on one (a participant, evidence, a weld, an assessment:
foreign keys), or a row it ended cannot be reopened (the student is badged in elsewhere:
unique indexes) — nothing is changed and ``UndoConflict`` says so.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, delete, exists, select, true, union, update
from sqlalchemy.exc import IntegrityError

from app.ingest.core import Scope
from app.ingest.events import DayClose
from app.models import (
    Event,
    Evidence,
    OperationRun,
    Piece,
    Presence,
    RunInterval,
    RunParticipant,
    StationContext,
    table_of,
)

# A row of a Core statement, read by its columns' names.
Record = Any

EVENTS = table_of(Event)
CONTEXTS = table_of(StationContext)
PRESENCES = table_of(Presence)
PIECES = table_of(Piece)
RUNS = table_of(OperationRun)
INTERVALS = table_of(RunInterval)
PARTICIPANTS = table_of(RunParticipant)
EVIDENCE = table_of(Evidence)


DAY_CLOSE_KIND = DayClose.KIND


class UndoConflict(Exception):
    """The shop changed since the scan: undoing it would overwrite someone else's work."""


_UNDONE = EVENTS.alias("undone")
_DAY_CLOSE = EVENTS.alias("day_close")
_LAST_UNDOABLE = (
    select(EVENTS.c.id, EVENTS.c.code)
    .where(
        EVENTS.c.station_id == bindparam("station_id"),
        EVENTS.c.status == "accepted",
        EVENTS.c.undoable.is_(true()),
        EVENTS.c.received_at >= bindparam("cutoff"),
        EVENTS.c.id != bindparam("event_id"),
        ~exists().where(_UNDONE.c.undoes_event_id == EVENTS.c.id),
        # Not across the end of the day (app.ingest.day): undoing a badge-out made just
        # before it would badge the student in again, or start a paused run's clock, for
        # the night. Ids tell the order: on SQLite every write is serialised; on PostgreSQL
        # the close waits on each station's lock, so only a scan racing it to the lock
        # within that transaction could be numbered after it and applied before.
        ~exists().where(
            _DAY_CLOSE.c.site_id == EVENTS.c.site_id,
            _DAY_CLOSE.c.id > EVENTS.c.id,
            _DAY_CLOSE.c.kind == DAY_CLOSE_KIND,
            _DAY_CLOSE.c.status == "accepted",
        ),
    )
    .order_by(EVENTS.c.id.desc())
    .limit(1)
)


def last_undoable(scope: Scope, station_id: int, cutoff: datetime) -> Record | None:
    """Return the last scan made at a device that changed something and is not undone.

    A scan made before the site's day was closed is not undone any more.
    """
    return scope.conn.execute(
        _LAST_UNDOABLE,
        {"station_id": station_id, "cutoff": cutoff, "event_id": scope.event_id},
    ).first()


_LATER_CONTEXT = CONTEXTS.alias("later")
_SUPERSEDED = exists().where(
    _LATER_CONTEXT.c.station_id == CONTEXTS.c.station_id, _LATER_CONTEXT.c.id > CONTEXTS.c.id
)


def _moved_on(scope: Scope, event_id: int) -> str | None:
    """Say which row the event created was changed by a later event, if one was."""
    checks = (
        ("station context", CONTEXTS, _SUPERSEDED),
        ("presence", PRESENCES, PRESENCES.c.ended_at.is_not(None)),
        ("run interval", INTERVALS, INTERVALS.c.ended_at.is_not(None)),
    )
    for what, table, ended in checks:
        if scope.conn.execute(
            select(table.c.id).where(table.c.event_id == event_id, ended).limit(1)
        ).first():
            return f"a {what} it created was ended since"
    reviewed = scope.conn.execute(
        select(PIECES.c.id)
        .where(PIECES.c.completed_event_id == event_id, PIECES.c.status != "awaiting_review")
        .limit(1)
    ).first()
    if reviewed:
        return "the piece it completed was reviewed since"
    return None


def undo_event(scope: Scope, event_id: int) -> set[int]:
    """Revert what a scan changed; return the stations touched. Raise UndoConflict."""
    reason = _moved_on(scope, event_id)
    if reason is not None:
        raise UndoConflict(reason)
    stations = _stations_touched(scope, event_id)
    runs = {
        row.run_id
        for row in scope.conn.execute(
            select(INTERVALS.c.run_id).where(
                (INTERVALS.c.event_id == event_id) | (INTERVALS.c.ended_event_id == event_id)
            )
        )
    } | {
        row.id
        for row in scope.conn.execute(select(RUNS.c.id).where(RUNS.c.finished_event_id == event_id))
    }
    wrote_before = scope.wrote
    try:
        with scope.session.begin_nested():
            scope.session.connection()  # emits the SAVEPOINT (writes go through scope.conn)
            _revert(scope, event_id)
            if runs:
                _recompute_run_status(scope, runs)
    except IntegrityError as exc:
        # Rolled back to the savepoint: nothing of the revert was written.
        scope.wrote = wrote_before
        raise UndoConflict(str(exc.orig)) from exc
    return stations


def _stations_touched(scope: Scope, event_id: int) -> set[int]:
    query = union(
        select(CONTEXTS.c.station_id).where(CONTEXTS.c.event_id == event_id),
        select(INTERVALS.c.station_id).where(
            (INTERVALS.c.event_id == event_id) | (INTERVALS.c.ended_event_id == event_id)
        ),
        select(RUNS.c.station_id).where(
            (RUNS.c.event_id == event_id) | (RUNS.c.finished_event_id == event_id)
        ),
    )
    return {row[0] for row in scope.conn.execute(query)}


def _revert(scope: Scope, event_id: int) -> None:
    """Delete what the event created and reopen what it ended, dependents first."""
    write = scope.write
    write(delete(EVIDENCE).where(EVIDENCE.c.event_id == event_id))
    write(
        update(PIECES)
        .where(PIECES.c.completed_event_id == event_id)
        .values(status="in_progress", completed_at=None, completed_event_id=None)
    )
    # The station's context before the event becomes its newest again.
    write(delete(CONTEXTS).where(CONTEXTS.c.event_id == event_id))
    write(delete(PARTICIPANTS).where(PARTICIPANTS.c.event_id == event_id))
    write(delete(INTERVALS).where(INTERVALS.c.event_id == event_id))
    write(
        update(INTERVALS)
        .where(INTERVALS.c.ended_event_id == event_id)
        .values(ended_at=None, ended_event_id=None)
    )
    write(
        update(RUNS)
        .where(RUNS.c.finished_event_id == event_id)
        .values(finished_at=None, finished_event_id=None)
    )
    write(delete(RUNS).where(RUNS.c.event_id == event_id))
    write(delete(PRESENCES).where(PRESENCES.c.event_id == event_id))
    write(
        update(PRESENCES)
        .where(PRESENCES.c.ended_event_id == event_id)
        .values(ended_at=None, ended_event_id=None)
    )
    write(delete(PIECES).where(PIECES.c.event_id == event_id))


def _recompute_run_status(scope: Scope, run_ids: set[int]) -> None:
    """Set each run's status from its rows: finished, running (an open interval), or paused."""
    open_interval = exists().where(
        and_(INTERVALS.c.run_id == RUNS.c.id, INTERVALS.c.ended_at.is_(None))
    )
    scope.write(
        update(RUNS)
        .where(RUNS.c.id.in_(sorted(run_ids)))
        .values(
            status=case(
                (RUNS.c.finished_event_id.is_not(None), "finished"),
                (open_interval, "running"),
                else_="paused",
            )
        )
    )
