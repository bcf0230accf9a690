"""A student's portfolio: evidence per competency of their framework, and welding time."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.models import (
    Assessment,
    Evidence,
    OperationRun,
    Piece,
    Student,
    Weld,
    WeldStudent,
    Wps,
    iso,
)
from app.read.pieces import assessment_ref, student_ref


def arc_time_by_student(session: Session, student_id: int) -> list[dict[str, Any]]:
    """Sum a student's arc time per process and position (for welder qualification)."""
    rows = session.execute(
        select(
            Weld.process,
            Wps.position,
            func.sum(Weld.arc_s),
            func.count(Weld.id),
            func.max(Weld.started_at),
        )
        .join(WeldStudent, WeldStudent.weld_id == Weld.id)
        .outerjoin(Wps, Wps.id == Weld.wps_id)
        .where(WeldStudent.student_id == student_id)
        .group_by(Weld.process, Wps.position)
        .order_by(Weld.process, Wps.position)
    ).all()
    return [
        {
            "process": process,
            "position": position,
            "arc_s": round(float(total or 0.0), 1),
            "welds": int(welds),
            "last_weld_at": iso(last),
        }
        for process, position, total, welds, last in rows
    ]


def student_portfolio(session: Session, site_id: int, code: str) -> dict[str, Any] | None:
    """Summarise a student's evidence per competency of their framework (their livret)."""
    student = session.execute(
        select(Student).where(Student.site_id == site_id, Student.code == code)
    ).scalar_one_or_none()
    if student is None:
        return None
    framework = student.framework
    rows = session.execute(
        select(Evidence, Piece.code)
        .join(OperationRun, OperationRun.id == Evidence.run_id)
        .join(Piece, Piece.id == OperationRun.piece_id)
        .where(Evidence.student_id == student.id)
        .order_by(Evidence.created_at, Evidence.id)
        .options(selectinload(Evidence.assessments).selectinload(Assessment.assessed_by))
    ).all()
    by_competency: dict[int, list[tuple[Evidence, str]]] = defaultdict(list)
    for evidence, piece_code in rows:
        by_competency[evidence.competency_id].append((evidence, piece_code))
    competencies = []
    for competency in framework.competencies:
        items = by_competency.get(competency.id, [])
        assessments = [a for evidence, _ in items for a in evidence.assessments]
        latest = max(assessments, key=lambda a: (a.assessed_at, a.id)) if assessments else None
        pieces = list(dict.fromkeys(piece_code for _, piece_code in items))
        competencies.append(
            {
                "code": f"{framework.code}:{competency.code}",
                "title": competency.title,
                "evidence_count": len(items),
                "latest_assessment": assessment_ref(latest),
                "pieces": pieces,
            }
        )
    return {
        "welding": arc_time_by_student(session, student.id),
        "student": {
            **student_ref(student),
            "framework": {
                "code": framework.code,
                "title": framework.title,
                "provisional": framework.provisional,
            },
        },
        "competencies": competencies,
    }
