"""The pieces waiting for a teacher's review, as the tablet's queue and section 8's API list them.

A piece waits once its routing is done (status ``awaiting_review``) until a teacher reviews
it. The queue reads the waiting pieces only, newest first, through the index on
``(status, completed_at)``: its cost follows the number of pieces waiting and the page size,
never the years of history. Students appear by their short name only (« Lucas M. »).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, selectinload

from app.models import (
    OperationRun,
    Piece,
    RunParticipant,
    Station,
    Student,
    Weld,
    WeldStudent,
    WorkOrder,
    iso,
)
from app.read.pieces import weld_ref
from app.read.wording import french_order, short_name

AWAITING = "awaiting_review"
QUEUE_LIMIT = 200


def _current_runs_of_piece() -> Any:
    """Return the condition that a run belongs to the outer piece's current round."""
    return (OperationRun.piece_id == Piece.id) & (OperationRun.round == Piece.round)


def review_queue(
    session: Session,
    site_id: int,
    *,
    student: str | None = None,
    work_order: str | None = None,
    station: str | None = None,
    limit: int = QUEUE_LIMIT,
) -> list[dict[str, Any]]:
    """List a site's pieces awaiting review, newest first, optionally filtered.

    ``student`` is a student's code, ``work_order`` a work order number and ``station`` a
    station code: a piece matches when one of the runs of its current round had that
    student or was done at that station. Two statements whatever the filters.
    """
    limit = max(1, min(int(limit), QUEUE_LIMIT))
    query = (
        select(Piece.id, Piece.code, Piece.completed_at, WorkOrder.number, WorkOrder.product)
        .join(WorkOrder, WorkOrder.id == Piece.work_order_id)
        .where(Piece.status == AWAITING, Piece.site_id == site_id)
    )
    if work_order:
        query = query.where(WorkOrder.number == work_order)
    if student:
        query = query.where(
            exists(
                select(RunParticipant.run_id)
                .join(OperationRun, OperationRun.id == RunParticipant.run_id)
                .join(Student, Student.id == RunParticipant.student_id)
                .where(_current_runs_of_piece(), Student.code == student)
            )
        )
    if station:
        query = query.where(
            exists(
                select(OperationRun.id)
                .join(Station, Station.id == OperationRun.station_id)
                .where(_current_runs_of_piece(), Station.code == station)
            )
        )
    pieces = session.execute(
        query.order_by(Piece.completed_at.desc(), Piece.id.desc()).limit(limit)
    ).all()
    if not pieces:
        return []
    students: dict[int, dict[str, str]] = defaultdict(dict)
    stations: dict[int, list[str]] = defaultdict(list)
    rows = session.execute(
        select(
            OperationRun.piece_id,
            OperationRun.started_at,
            Station.code.label("station"),
            Student.code.label("student"),
            Student.name,
        )
        .join(Piece, Piece.id == OperationRun.piece_id)
        .join(Station, Station.id == OperationRun.station_id)
        .outerjoin(RunParticipant, RunParticipant.run_id == OperationRun.id)
        .outerjoin(Student, Student.id == RunParticipant.student_id)
        .where(
            OperationRun.piece_id.in_([piece.id for piece in pieces]),
            OperationRun.round == Piece.round,
        )
        .order_by(OperationRun.started_at, OperationRun.id)
    )
    for row in rows:
        if row.station not in stations[row.piece_id]:
            stations[row.piece_id].append(row.station)
        if row.student is not None:
            students[row.piece_id].setdefault(row.student, short_name(row.name))
    return [
        {
            "code": piece.code,
            "work_order": {"number": piece.number, "product": piece.product},
            "students": sorted(
                ({"code": code, "display_name": name} for code, name in students[piece.id].items()),
                key=lambda item: french_order(item["display_name"]),
            ),
            "completed_at": iso(piece.completed_at),
            "stations": stations[piece.id],
        }
        for piece in pieces
    ]


def awaiting_count(session: Session, site_id: int) -> int:
    """Count a site's pieces awaiting review (the number every teacher page shows)."""
    return int(
        session.execute(
            select(func.count())
            .select_from(Piece)
            .where(Piece.status == AWAITING, Piece.site_id == site_id)
        ).scalar_one()
    )


def weld_detail(session: Session, site_id: int, weld_id: str) -> dict[str, Any] | None:
    """Describe one weld of a site by its id, as the API shows it (after an assignment)."""
    weld = session.execute(
        select(Weld)
        .where(Weld.site_id == site_id, Weld.weld_key == weld_id)
        .options(
            selectinload(Weld.students).selectinload(WeldStudent.student),
            selectinload(Weld.station),
            selectinload(Weld.wps),
        )
    ).scalar_one_or_none()
    return weld_ref(weld) if weld is not None else None
