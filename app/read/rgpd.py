"""What is held about one student (the right of access, RGPD art. 15), and who is past
the retention period.

``student_data`` gathers, in one query per kind of row, everything the database keeps
about a student of the site: identity, framework and dates, badges, habilitations and
their grounds, presences, the runs and pieces they worked on, the welds attributed to
them, their evidence with its assessments (levels and comments), their self-assessments,
the levels set by hand, the welder's continuity confirmations, the operations given to
them and the events about them (kind, time, outcome). Plain JSON-able values: times in
ISO 8601 UTC, dates in ISO. It never writes.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from app.models import (
    Assessment,
    Assignment,
    Badge,
    Competency,
    ContinuityConfirmation,
    Event,
    Evidence,
    Framework,
    Habilitation,
    LevelOverride,
    Operation,
    OperationRun,
    OperationType,
    Piece,
    Presence,
    RunParticipant,
    SelfAssessment,
    StaffUser,
    Station,
    Student,
    StudentHabilitation,
    Weld,
    WeldStudent,
    WorkOrder,
)

FEELINGS_FR = {"difficile": "difficile", "moyen": "moyen", "facile": "facile"}


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _student_row(session: Session, site_id: int, code: str) -> Any:
    return session.execute(
        select(
            Student.id,
            Student.code,
            Student.name,
            Student.active,
            Student.left_on,
            Student.erased_at,
            Framework.code.label("framework"),
            Framework.title.label("framework_title"),
        )
        .join(Framework, Framework.id == Student.framework_id)
        .where(Student.site_id == site_id, Student.code == code)
    ).first()


def student_summary(session: Session, site_id: int, code: str) -> dict[str, Any] | None:
    """Return a student's identity (code, name, framework, dates), or None if unknown."""
    row = _student_row(session, site_id, code)
    if row is None:
        return None
    return {
        "code": row.code,
        "name": row.name,
        "framework": row.framework,
        "framework_title": row.framework_title,
        "active": row.active,
        "left_on": _iso(row.left_on),
        "erased_at": _iso(row.erased_at),
    }


def student_data(session: Session, site_id: int, code: str) -> dict[str, Any] | None:
    """Return everything held about a student of the site, or None if unknown."""
    row = _student_row(session, site_id, code)
    if row is None:
        return None
    sid = row.id
    return {
        "student": {
            "code": row.code,
            "name": row.name,
            "framework": {"code": row.framework, "title": row.framework_title},
            "active": row.active,
            "left_on": _iso(row.left_on),
            "erased_at": _iso(row.erased_at),
        },
        "badges": list(
            session.execute(
                select(Badge.code).where(Badge.student_id == sid).order_by(Badge.code)
            ).scalars()
        ),
        "habilitations": _habilitations(session, sid),
        "presences": _presences(session, sid),
        "runs": _runs(session, sid),
        "welds": _welds(session, sid),
        "evidence": _evidence(session, sid),
        "self_assessments": _self_assessments(session, sid),
        "level_overrides": _overrides(session, sid),
        "continuity_confirmations": _confirmations(session, sid),
        "assignments": _assignments(session, sid),
        "events": _events(session, site_id, sid),
    }


def _habilitations(session: Session, sid: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(StudentHabilitation, Habilitation.code, Habilitation.name)
        .join(Habilitation, Habilitation.id == StudentHabilitation.habilitation_id)
        .where(StudentHabilitation.student_id == sid)
        .order_by(Habilitation.code, StudentHabilitation.recorded_at)
    ).all()
    return [
        {
            "habilitation": code,
            "name": name,
            "until": _iso(held.until),
            "medical_until": _iso(held.medical_until),
            "trained_on": _iso(held.trained_on),
            "trainer": held.trainer,
            "recorded_at": _iso(held.recorded_at),
            "ended_at": _iso(held.ended_at),
        }
        for held, code, name in rows
    ]


def _presences(session: Session, sid: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Station.code, Presence.started_at, Presence.ended_at)
        .join(Station, Station.id == Presence.station_id)
        .where(Presence.student_id == sid)
        .order_by(Presence.started_at, Presence.id)
    ).all()
    return [
        {"station": r.code, "started_at": _iso(r.started_at), "ended_at": _iso(r.ended_at)}
        for r in rows
    ]


def _runs(session: Session, sid: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(
            Piece.code.label("piece"),
            WorkOrder.number,
            Operation.step,
            OperationType.name.label("operation"),
            Station.code.label("station"),
            OperationRun.round,
            OperationRun.status,
            OperationRun.started_at,
            OperationRun.finished_at,
            RunParticipant.joined_at,
        )
        .select_from(RunParticipant)
        .join(OperationRun, OperationRun.id == RunParticipant.run_id)
        .join(Piece, Piece.id == OperationRun.piece_id)
        .join(Operation, Operation.id == OperationRun.operation_id)
        .join(WorkOrder, WorkOrder.id == Operation.work_order_id)
        .join(OperationType, OperationType.id == Operation.operation_type_id)
        .join(Station, Station.id == OperationRun.station_id)
        .where(RunParticipant.student_id == sid)
        .order_by(OperationRun.started_at, OperationRun.id)
    ).all()
    return [
        {
            "piece": r.piece,
            "work_order": r.number,
            "step": r.step,
            "operation": r.operation,
            "station": r.station,
            "round": r.round,
            "status": r.status,
            "started_at": _iso(r.started_at),
            "finished_at": _iso(r.finished_at),
            "joined_at": _iso(r.joined_at),
        }
        for r in rows
    ]


def _welds(session: Session, sid: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(
            Weld.weld_key,
            Station.code.label("station"),
            Weld.started_at,
            Weld.arc_s,
            Weld.process,
            Weld.i_mean_a,
            Weld.u_mean_v,
            Weld.heat_input_kj_mm,
            Weld.verdict,
            Piece.code.label("piece"),
        )
        .select_from(WeldStudent)
        .join(Weld, Weld.id == WeldStudent.weld_id)
        .join(Station, Station.id == Weld.station_id)
        .outerjoin(OperationRun, OperationRun.id == Weld.run_id)
        .outerjoin(Piece, Piece.id == OperationRun.piece_id)
        .where(WeldStudent.student_id == sid)
        .order_by(Weld.started_at, Weld.id)
    ).all()
    return [
        {
            "weld": r.weld_key,
            "station": r.station,
            "piece": r.piece,
            "started_at": _iso(r.started_at),
            "arc_s": r.arc_s,
            "process": r.process,
            "i_mean_a": r.i_mean_a,
            "u_mean_v": r.u_mean_v,
            "heat_input_kj_mm": r.heat_input_kj_mm,
            "verdict": r.verdict,
        }
        for r in rows
    ]


def _competency_code() -> Any:
    return Framework.code + ":" + Competency.code


def _evidence(session: Session, sid: int) -> list[dict[str, Any]]:
    items = session.execute(
        select(
            Evidence.id,
            _competency_code().label("competency"),
            Competency.title,
            Piece.code.label("piece"),
            Operation.step,
            Evidence.created_at,
        )
        .join(Competency, Competency.id == Evidence.competency_id)
        .join(Framework, Framework.id == Competency.framework_id)
        .join(OperationRun, OperationRun.id == Evidence.run_id)
        .join(Piece, Piece.id == OperationRun.piece_id)
        .join(Operation, Operation.id == OperationRun.operation_id)
        .where(Evidence.student_id == sid)
        .order_by(Evidence.created_at, Evidence.id)
    ).all()
    assessor = aliased(StaffUser)
    assessments: dict[int, list[dict[str, Any]]] = {}
    for a in session.execute(
        select(
            Assessment.evidence_id,
            Assessment.level,
            Assessment.comment,
            Assessment.assessed_at,
            assessor.name.label("by"),
        )
        .join(Evidence, Evidence.id == Assessment.evidence_id)
        .join(assessor, assessor.id == Assessment.assessed_by_id)
        .where(Evidence.student_id == sid)
        .order_by(Assessment.assessed_at, Assessment.id)
    ):
        assessments.setdefault(a.evidence_id, []).append(
            {
                "level": a.level,
                "comment": a.comment,
                "assessed_by": a.by,
                "assessed_at": _iso(a.assessed_at),
            }
        )
    return [
        {
            "competency": e.competency,
            "title": e.title,
            "piece": e.piece,
            "step": e.step,
            "created_at": _iso(e.created_at),
            "assessments": assessments.get(e.id, []),
        }
        for e in items
    ]


def _self_assessments(session: Session, sid: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Piece.code, Operation.step, SelfAssessment.feeling, SelfAssessment.answered_at)
        .join(OperationRun, OperationRun.id == SelfAssessment.run_id)
        .join(Piece, Piece.id == OperationRun.piece_id)
        .join(Operation, Operation.id == OperationRun.operation_id)
        .where(SelfAssessment.student_id == sid)
        .order_by(SelfAssessment.answered_at)
    ).all()
    return [
        {
            "piece": r.code,
            "step": r.step,
            "feeling": FEELINGS_FR.get(r.feeling, r.feeling),
            "answered_at": _iso(r.answered_at),
        }
        for r in rows
    ]


def _overrides(session: Session, sid: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(
            _competency_code().label("competency"),
            LevelOverride.level,
            LevelOverride.reason,
            LevelOverride.set_at,
            StaffUser.name.label("by"),
        )
        .join(Competency, Competency.id == LevelOverride.competency_id)
        .join(Framework, Framework.id == Competency.framework_id)
        .join(StaffUser, StaffUser.id == LevelOverride.set_by_id)
        .where(LevelOverride.student_id == sid)
        .order_by(LevelOverride.set_at)
    ).all()
    return [
        {
            "competency": r.competency,
            "level": r.level,
            "reason": r.reason,
            "set_by": r.by,
            "set_at": _iso(r.set_at),
        }
        for r in rows
    ]


def _confirmations(session: Session, sid: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(
            ContinuityConfirmation.process,
            ContinuityConfirmation.position,
            ContinuityConfirmation.confirmed_at,
            StaffUser.name.label("by"),
        )
        .join(StaffUser, StaffUser.id == ContinuityConfirmation.confirmed_by_id)
        .where(ContinuityConfirmation.student_id == sid)
        .order_by(ContinuityConfirmation.confirmed_at)
    ).all()
    return [
        {
            "process": r.process,
            "position": r.position,
            "confirmed_by": r.by,
            "confirmed_at": _iso(r.confirmed_at),
        }
        for r in rows
    ]


def _assignments(session: Session, sid: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(WorkOrder.number, Operation.step, Assignment.assigned_at, Assignment.ended_at)
        .join(Operation, Operation.id == Assignment.operation_id)
        .join(WorkOrder, WorkOrder.id == Operation.work_order_id)
        .where(Assignment.student_id == sid)
        .order_by(Assignment.assigned_at)
    ).all()
    return [
        {
            "work_order": r.number,
            "step": r.step,
            "assigned_at": _iso(r.assigned_at),
            "ended_at": _iso(r.ended_at),
        }
        for r in rows
    ]


def _events(session: Session, site_id: int, sid: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(
            Event.kind,
            Event.channel,
            Event.received_at,
            Event.status,
            Event.error_code,
            Event.message,
        )
        .where(Event.site_id == site_id, Event.student_id == sid)
        .order_by(Event.received_at, Event.id)
    ).all()
    return [
        {
            "kind": r.kind,
            "channel": r.channel,
            "received_at": _iso(r.received_at),
            "status": r.status,
            "error": r.error_code,
            "message": r.message,
        }
        for r in rows
    ]


def retention_due(session: Session, site_id: int, today: date, days: int) -> list[dict[str, Any]]:
    """List the students not erased whose end of schooling plus ``days`` is past."""
    rows = session.execute(
        select(Student.code, Student.name, Student.left_on)
        .where(
            Student.site_id == site_id,
            Student.erased_at.is_(None),
            Student.left_on.is_not(None),
        )
        .order_by(Student.left_on, Student.code)
    ).all()
    due = []
    for row in rows:
        until = row.left_on + timedelta(days=days)
        if until < today:
            due.append(
                {
                    "code": row.code,
                    "name": row.name,
                    "left_on": row.left_on.isoformat(),
                    "kept_until": until.isoformat(),
                }
            )
    return due
