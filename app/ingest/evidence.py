"""Competency evidence, built in one place: a run gives its students evidence of what its
operation type evidences, each student only for the competencies of their own framework.

One ``INSERT … SELECT … ON CONFLICT DO NOTHING`` per run does it, whatever the number of
students: evidence a weld of the same run already gave, or a replay, stays as it is.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, select

from app.ingest.core import insert_for
from app.models import (
    Competency,
    Evidence,
    Operation,
    OperationRun,
    RunParticipant,
    Student,
    operation_type_competencies,
    table_of,
)

EVIDENCE = table_of(Evidence)
STUDENTS = table_of(Student)
COMPETENCIES = table_of(Competency)
RUNS = table_of(OperationRun)
OPERATIONS = table_of(Operation)
PARTICIPANTS = table_of(RunParticipant)
LINKS = operation_type_competencies


@dataclass(frozen=True)
class Grant:
    """Evidence to give for one run: to these students, or (None) to its participants."""

    run_id: int
    event_id: int | None
    student_ids: tuple[int, ...] | None = None


@functools.cache
def _statement(dialect: str, participants: bool) -> Any:
    """Return the INSERT … SELECT of a run's evidence (built once per dialect and shape)."""
    who = (
        STUDENTS.c.id.in_(
            select(PARTICIPANTS.c.student_id).where(PARTICIPANTS.c.run_id == bindparam("run_id"))
        )
        if participants
        else STUDENTS.c.id.in_(bindparam("student_ids", expanding=True))
    )
    rows = (
        select(
            STUDENTS.c.id,
            COMPETENCIES.c.id,
            RUNS.c.id,
            bindparam("event_id", type_=EVIDENCE.c.event_id.type),
            bindparam("now", type_=EVIDENCE.c.created_at.type),
        )
        .select_from(
            RUNS.join(OPERATIONS, OPERATIONS.c.id == RUNS.c.operation_id)
            .join(LINKS, LINKS.c.operation_type_id == OPERATIONS.c.operation_type_id)
            .join(COMPETENCIES, COMPETENCIES.c.id == LINKS.c.competency_id)
            .join(STUDENTS, and_(STUDENTS.c.framework_id == COMPETENCIES.c.framework_id, who))
        )
        .where(RUNS.c.id == bindparam("run_id"))
    )
    return (
        insert_for(dialect)(EVIDENCE)
        .from_select(["student_id", "competency_id", "run_id", "event_id", "created_at"], rows)
        .on_conflict_do_nothing(index_elements=["student_id", "competency_id", "run_id"])
    )


def grant_evidence(conn: Connection, grants: Iterable[Grant], now: datetime) -> int:
    """Give the evidence of each run to its students; return how many rows were created."""
    created = 0
    seen: set[tuple[int, tuple[int, ...] | None]] = set()
    for grant in grants:
        students: Sequence[int] | None = grant.student_ids
        key = (grant.run_id, tuple(sorted(set(students))) if students is not None else None)
        if key in seen or (students is not None and not students):
            continue
        seen.add(key)
        params: dict[str, Any] = {"run_id": grant.run_id, "event_id": grant.event_id, "now": now}
        if key[1] is not None:
            params["student_ids"] = list(key[1])
        result = conn.execute(_statement(conn.dialect.name, key[1] is None), params)
        created += int(result.rowcount or 0)
    return created
