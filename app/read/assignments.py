"""« Qui fait quoi » : for each operation of the open work orders, who should make it.

A candidate is a student still at the workshop (active, not erased, ``left_on`` unset or
not past) who holds today what the operation needs — the operation type's habilitations,
and those of at least one station of its ``station_kind``, as the office's assignment
checks (``app.ingest.office_orders``). Candidates are ranked by what the operation would
teach them: first the number of the type's competencies (of their own framework) they have
no evidence of yet — « non vu », as ``app.read.records`` counts it: no evidence row — then
the fewest evidences of those competencies, then by name.

The whole page is a fixed number of bulk statements, whatever the number of students and
operations: the ranking itself is done here, in memory.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import (
    Assignment,
    Competency,
    Evidence,
    Framework,
    Habilitation,
    Operation,
    OperationType,
    Station,
    Student,
    StudentHabilitation,
    WorkOrder,
    operation_code,
)
from app.models.habilitations import holds_on, operation_type_requirements, station_requirements
from app.models.production import operation_type_competencies
from app.read.wording import short_name

SHOWN = 5


def _held(session: Session, site_id: int, day: date) -> dict[int, set[int]]:
    """Return the habilitations each student holds on a day."""
    held: dict[int, set[int]] = defaultdict(set)
    for row in session.execute(
        select(
            StudentHabilitation.student_id,
            StudentHabilitation.habilitation_id,
            StudentHabilitation.until,
            StudentHabilitation.medical_until,
            Habilitation.derogation_until,
        )
        .join(Habilitation, Habilitation.id == StudentHabilitation.habilitation_id)
        .where(StudentHabilitation.site_id == site_id, StudentHabilitation.ended_at.is_(None))
    ):
        if holds_on(day, row.until, row.medical_until, row.derogation_until):
            held[row.student_id].add(row.habilitation_id)
    return held


def _needs(
    session: Session, site_id: int, type_ids: list[int]
) -> tuple[dict[int, set[int]], dict[str, list[set[int]]], dict[int, str]]:
    """Return each type's habilitations, each station kind's stations' ones, and the names."""
    by_type: dict[int, set[int]] = defaultdict(set)
    for type_id, habilitation_id in session.execute(
        select(
            operation_type_requirements.c.operation_type_id,
            operation_type_requirements.c.habilitation_id,
        ).where(operation_type_requirements.c.operation_type_id.in_(type_ids))
    ):
        by_type[type_id].add(habilitation_id)
    stations: dict[int, tuple[str, set[int]]] = {
        station_id: (kind, set())
        for station_id, kind in session.execute(
            select(Station.id, Station.kind).where(Station.site_id == site_id)
        )
    }
    for station_id, habilitation_id in session.execute(
        select(station_requirements.c.station_id, station_requirements.c.habilitation_id)
        .join(Station, Station.id == station_requirements.c.station_id)
        .where(Station.site_id == site_id)
    ):
        stations[station_id][1].add(habilitation_id)
    by_kind: dict[str, list[set[int]]] = defaultdict(list)
    for kind, needs in stations.values():
        by_kind[kind].append(needs)
    names = dict(
        session.execute(
            select(Habilitation.id, Habilitation.name).where(Habilitation.site_id == site_id)
        ).all()
    )
    return by_type, by_kind, names


def lacking(held: set[int], type_needs: set[int], kind_needs: list[set[int]] | None) -> set[int]:
    """Return what a student lacks: the type's needs, and the easiest station's of its kind."""
    missing = type_needs - held
    if kind_needs:
        missing = missing | min((needs - held for needs in kind_needs), key=len)
    return missing


def who_makes_what(
    session: Session,
    site_id: int,
    today: date,
    number: str | None = None,
    shown: int = SHOWN,
) -> list[dict[str, Any]]:
    """Return the open orders' operations with their ranked candidates and assignments."""
    query = (
        select(
            Operation.id,
            Operation.step,
            Operation.operation_type_id.label("type_id"),
            OperationType.name.label("type_name"),
            OperationType.station_kind,
            WorkOrder.id.label("order_id"),
            WorkOrder.number,
            WorkOrder.product,
            WorkOrder.due_on,
        )
        .join(WorkOrder, WorkOrder.id == Operation.work_order_id)
        .join(OperationType, OperationType.id == Operation.operation_type_id)
        .where(WorkOrder.site_id == site_id, WorkOrder.status == "open")
    )
    if number:
        query = query.where(WorkOrder.number == number)
    operations = session.execute(query).all()
    if not operations:
        return []
    type_ids = sorted({op.type_id for op in operations})
    students = session.execute(
        select(Student.id, Student.code, Student.name, Student.framework_id)
        .where(
            Student.site_id == site_id,
            Student.active,
            Student.erased_at.is_(None),
            (Student.left_on.is_(None)) | (Student.left_on >= today),
        )
        .order_by(Student.name, Student.code)
    ).all()
    # The competencies each type evidences, by framework.
    teaches: dict[tuple[int, int], list[Any]] = defaultdict(list)
    competency_ids: set[int] = set()
    for row in session.execute(
        select(
            operation_type_competencies.c.operation_type_id.label("type_id"),
            Competency.id,
            Competency.code,
            Competency.title,
            Competency.framework_id,
            Framework.code.label("framework"),
        )
        .join(Competency, Competency.id == operation_type_competencies.c.competency_id)
        .join(Framework, Framework.id == Competency.framework_id)
        .where(operation_type_competencies.c.operation_type_id.in_(type_ids))
        .order_by(Competency.position, Competency.id)
    ):
        teaches[(row.type_id, row.framework_id)].append(row)
        competency_ids.add(row.id)
    evidence: dict[tuple[int, int], int] = {}
    if competency_ids and students:
        for student_id, competency_id, count in session.execute(
            select(Evidence.student_id, Evidence.competency_id, func.count(Evidence.id))
            .where(
                Evidence.student_id.in_([student.id for student in students]),
                Evidence.competency_id.in_(competency_ids),
            )
            .group_by(Evidence.student_id, Evidence.competency_id)
        ):
            evidence[(student_id, competency_id)] = int(count)
    held = _held(session, site_id, today)
    by_type, by_kind, habilitation_names = _needs(session, site_id, type_ids)
    assigned: dict[int, list[dict[str, Any]]] = defaultdict(list)
    assigned_ids: dict[int, set[int]] = defaultdict(set)
    for row in session.execute(
        select(
            Assignment.operation_id, Assignment.assigned_at, Student.id, Student.code, Student.name
        )
        .join(Student, Student.id == Assignment.student_id)
        .where(
            Assignment.site_id == site_id,
            Assignment.ended_at.is_(None),
            Assignment.operation_id.in_([op.id for op in operations]),
        )
        .order_by(Assignment.assigned_at, Assignment.id)
    ):
        assigned[row.operation_id].append(
            {"code": row.code, "name": short_name(row.name), "assigned_at": row.assigned_at}
        )
        assigned_ids[row.operation_id].add(row.id)

    result = []
    for op in sorted(
        operations, key=lambda o: (o.due_on is None, o.due_on or date.max, o.number, o.step)
    ):
        candidates = []
        refused = 0
        kind_needs = by_kind.get(op.station_kind) if op.station_kind else None
        for student in students:
            if student.id in assigned_ids[op.id]:
                continue
            if lacking(held.get(student.id, set()), by_type.get(op.type_id, set()), kind_needs):
                refused += 1
                continue
            brings = []
            count = 0
            for competency in teaches.get((op.type_id, student.framework_id), []):
                seen = evidence.get((student.id, competency.id), 0)
                count += seen
                if not seen:
                    brings.append(
                        {
                            "code": competency.code,
                            "id": f"{competency.framework}:{competency.code}",
                            "title": competency.title,
                        }
                    )
            candidates.append(
                {
                    "code": student.code,
                    "name": short_name(student.name),
                    "sort_name": student.name,
                    "not_seen": len(brings),
                    "evidence": count,
                    "brings": brings,
                }
            )
        candidates.sort(key=lambda c: (-c["not_seen"], c["evidence"], c["sort_name"], c["code"]))
        result.append(
            {
                "code": operation_code(op.number, op.step),
                "step": op.step,
                "type_name": op.type_name,
                "work_order": op.number,
                "product": op.product,
                "due_on": op.due_on,
                "candidates": candidates[:shown],
                "more": max(0, len(candidates) - shown),
                "not_habilitated": refused,
                "needs": sorted(
                    habilitation_names[h]
                    for h in by_type.get(op.type_id, set())
                    if h in habilitation_names
                ),
                "assigned": assigned.get(op.id, []),
            }
        )
    return result
