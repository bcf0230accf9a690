"""Competency evidence: what an operation run proves about the students who did it."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.ingest.sql import insert_ignore
from app.models import Evidence, OperationRun, RunParticipant, Student
from app.models.curriculum import Competency
from app.models.production import operation_type_competencies
from app.models.types import utcnow


def grant(run: OperationRun, student_ids: list[int], event_db_id: int | None) -> list[int]:
    """Give these students evidence of the run's competencies; return the new evidence ids.

    A student gets evidence only for competencies of their own framework; evidence that
    already exists (from a weld of the same run, or a replay) is left as it is.
    """
    if not student_ids:
        return []
    rows = db.session.execute(
        select(Student.id, Competency.id)
        .join(Competency, Competency.framework_id == Student.framework_id)
        .join(
            operation_type_competencies,
            operation_type_competencies.c.competency_id == Competency.id,
        )
        .where(
            Student.id.in_(student_ids),
            operation_type_competencies.c.operation_type_id == run.operation.operation_type_id,
        )
        .order_by(Student.id, Competency.id)
    ).all()
    created: list[int] = []
    now = utcnow()
    table = Evidence.__table__
    for student_id, competency_id in rows:
        new_id = insert_ignore(
            table,  # type: ignore[arg-type]
            {
                "student_id": student_id,
                "competency_id": competency_id,
                "run_id": run.id,
                "event_id": event_db_id,
                "created_at": now,
            },
            ["student_id", "competency_id", "run_id"],
        )
        if new_id is not None:
            created.append(int(new_id))
    return created


def grant_for_run(run: OperationRun, event_db_id: int | None) -> list[int]:
    """Give every participant of a finished run their evidence; return the new ids."""
    student_ids = list(
        db.session.execute(
            select(RunParticipant.student_id).where(RunParticipant.run_id == run.id)
        ).scalars()
    )
    return grant(run, student_ids, event_db_id)
