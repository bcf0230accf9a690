"""A piece as the read API and the tablet show it: its routing, who did what, its welds."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.models import (
    Assessment,
    Competency,
    Evidence,
    Operation,
    OperationRun,
    Piece,
    PieceReview,
    RunParticipant,
    Student,
    Weld,
    WeldStudent,
    WorkOrder,
    iso,
)


def student_ref(student: Student) -> dict[str, str]:
    """Return how the API names a student: pseudonymous id and short name."""
    return {"id": student.code, "name": student.name}


def assessment_ref(assessment: Assessment | None) -> dict[str, Any] | None:
    """Describe a teacher's assessment: level, when, by whom, and the comment."""
    if assessment is None:
        return None
    return {
        "level": assessment.level,
        "assessed_at": iso(assessment.assessed_at),
        "by": assessment.assessed_by.name,
        "comment": assessment.comment,
    }


def weld_ref(weld: Weld) -> dict[str, Any]:
    """Describe a weld as the API shows it: figures, heat input and WPS verdict."""
    return {
        "weld_id": weld.weld_key,
        "station": weld.station.code,
        "process": weld.process,
        "started_at": iso(weld.started_at),
        "arc_s": weld.arc_s,
        "i_mean_a": weld.i_mean_a,
        "u_mean_v": weld.u_mean_v,
        "energy_j": weld.energy_j,
        "length_mm": weld.length_mm,
        "heat_input_kj_mm": weld.heat_input_kj_mm,
        "wps": weld.wps.code if weld.wps is not None else None,
        "wps_verdict": weld.verdict,
        "deviations": weld.deviations or [],
        "students": [student_ref(link.student) for link in weld.students],
    }


def operation_ref(operation: Operation) -> dict[str, Any]:
    """Describe a routing step: its code, step number, operation type and name."""
    return {
        "code": operation.code,
        "step": operation.step,
        "type": operation.operation_type.code,
        "name": operation.operation_type.name,
    }


def piece_detail(session: Session, site_id: int, code: str) -> dict[str, Any] | None:
    """Describe a piece: its order, each routing step with who did it, and its evidence."""
    piece = session.execute(
        select(Piece)
        .where(Piece.site_id == site_id, Piece.code == code)
        .options(
            selectinload(Piece.work_order).selectinload(WorkOrder.customer),
            selectinload(Piece.work_order)
            .selectinload(WorkOrder.operations)
            .selectinload(Operation.operation_type),
            selectinload(Piece.work_order)
            .selectinload(WorkOrder.operations)
            .selectinload(Operation.wps),
        )
    ).scalar_one_or_none()
    if piece is None:
        return None
    work_order = piece.work_order
    runs = {
        run.operation_id: run
        for run in session.execute(
            select(OperationRun)
            .where(OperationRun.piece_id == piece.id, OperationRun.round == piece.round)
            .options(
                selectinload(OperationRun.participants).selectinload(RunParticipant.student),
                selectinload(OperationRun.station),
            )
        ).scalars()
    }
    welds_by_run: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if runs:
        for weld in session.execute(
            select(Weld)
            .where(Weld.run_id.in_([run.id for run in runs.values()]))
            .order_by(Weld.started_at, Weld.id)
            .options(
                selectinload(Weld.students).selectinload(WeldStudent.student),
                selectinload(Weld.station),
                selectinload(Weld.wps),
            )
        ).scalars():
            assert weld.run_id is not None
            welds_by_run[weld.run_id].append(weld_ref(weld))
    operations = []
    for operation in work_order.operations:
        run = runs.get(operation.id)
        operations.append(
            {
                **operation_ref(operation),
                "wps": operation.wps.code if operation.wps is not None else None,
                "status": run.status if run is not None else "todo",
                "station": run.station.code if run is not None else None,
                "students": [student_ref(p.student) for p in run.participants] if run else [],
                "started_at": iso(run.started_at) if run is not None else None,
                "finished_at": iso(run.finished_at) if run is not None else None,
                "welds": welds_by_run.get(run.id, []) if run is not None else [],
            }
        )
    evidence = []
    for item in session.execute(
        select(Evidence)
        .join(OperationRun, OperationRun.id == Evidence.run_id)
        .where(OperationRun.piece_id == piece.id)
        .order_by(Evidence.id)
        .options(
            selectinload(Evidence.assessments).selectinload(Assessment.assessed_by),
            selectinload(Evidence.student),
            selectinload(Evidence.competency).selectinload(Competency.framework),
            selectinload(Evidence.run).selectinload(OperationRun.operation),
        )
    ).scalars():
        latest = item.assessments[-1] if item.assessments else None
        evidence.append(
            {
                "student": student_ref(item.student),
                "competency": item.competency.full_code,
                "title": item.competency.title,
                "operation": item.run.operation.code,
                "assessment": assessment_ref(latest),
            }
        )
    review = session.execute(
        select(PieceReview)
        .where(PieceReview.piece_id == piece.id)
        .order_by(PieceReview.reviewed_at.desc(), PieceReview.id.desc())
        .limit(1)
        .options(selectinload(PieceReview.reviewed_by))
    ).scalar_one_or_none()
    return {
        "code": piece.code,
        "status": piece.status,
        "created_at": iso(piece.created_at),
        "completed_at": iso(piece.completed_at),
        "work_order": {
            "number": work_order.number,
            "product": work_order.product,
            "customer": work_order.customer.name,
            "quantity": work_order.quantity,
            "due": work_order.due_on.isoformat() if work_order.due_on else None,
        },
        "operations": operations,
        "evidence": evidence,
        "review": (
            {
                "verdict": review.verdict,
                "reviewed_at": iso(review.reviewed_at),
                "by": review.reviewed_by.name,
            }
            if review is not None
            else None
        ),
    }
