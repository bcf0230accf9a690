"""The read side: what pages and the read API show, computed from the database.

Nothing here writes; everything returns plain JSON-ready dictionaries.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.ingest import catalog as catalog_module
from app.ingest.station import load_state, operation_ref, present_students, summarize
from app.models import (
    Assessment,
    Evidence,
    OperationRun,
    Piece,
    Student,
    Weld,
    WeldStudent,
    Wps,
)
from app.models.types import iso


def student_ref(student: Student) -> dict[str, str]:
    """Return how the API names a student: pseudonymous id and short name."""
    return {"id": student.code, "name": student.name}


def stations_overview() -> list[dict[str, Any]]:
    """Describe every station's live state, in code order."""
    conn = db.session.connection()
    catalog = catalog_module.current(conn)
    result = []
    for station in sorted(catalog.stations.values(), key=lambda s: s.code):
        state = load_state(conn, station.id, lock=False)
        result.append(
            summarize(catalog, station, state, present_students(conn, catalog, station.id))
        )
    return result


def _assessment_ref(assessment: Assessment | None) -> dict[str, Any] | None:
    if assessment is None:
        return None
    return {
        "level": assessment.level,
        "assessed_at": iso(assessment.assessed_at),
        "by": assessment.assessed_by.name,
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


def unattributed_welds(limit: int = 200) -> list[dict[str, Any]]:
    """List the welds no run was active for, newest first: a teacher assigns them."""
    welds = db.session.execute(
        select(Weld)
        .where(Weld.run_id.is_(None))
        .order_by(Weld.started_at.desc(), Weld.id.desc())
        .limit(limit)
    ).scalars()
    return [weld_ref(weld) for weld in welds]


def arc_time_by_student(code: str) -> list[dict[str, Any]]:
    """Sum a student's arc time per process and position (for welder qualification)."""
    rows = db.session.execute(
        select(
            Weld.process,
            Wps.position,
            func.sum(Weld.arc_s),
            func.count(Weld.id),
            func.max(Weld.started_at),
        )
        .join(WeldStudent, WeldStudent.weld_id == Weld.id)
        .join(Student, Student.id == WeldStudent.student_id)
        .outerjoin(Wps, Wps.id == Weld.wps_id)
        .where(Student.code == code)
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


def piece_detail(code: str) -> dict[str, Any] | None:
    """Describe a piece: its order, each routing step with who did it, and its evidence."""
    piece = db.session.execute(select(Piece).where(Piece.code == code)).scalar_one_or_none()
    if piece is None:
        return None
    work_order = piece.work_order
    catalog = catalog_module.current(db.session.connection())
    runs = {
        run.operation_id: run
        for run in db.session.execute(
            select(OperationRun)
            .where(OperationRun.piece_id == piece.id)
            .options(selectinload(OperationRun.participants), selectinload(OperationRun.station))
        ).scalars()
    }
    welds_by_run: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if runs:
        for weld in db.session.execute(
            select(Weld)
            .where(Weld.run_id.in_([run.id for run in runs.values()]))
            .order_by(Weld.started_at, Weld.id)
            .options(selectinload(Weld.students).selectinload(WeldStudent.student))
        ).scalars():
            assert weld.run_id is not None
            welds_by_run[weld.run_id].append(weld_ref(weld))
    operations = []
    for operation in work_order.operations:
        run = runs.get(operation.id)
        entry: dict[str, Any] = {
            **operation_ref(catalog.operations[operation.id]),
            "wps": operation.wps.code if operation.wps is not None else None,
            "status": run.status if run is not None else "todo",
            "station": run.station.code if run is not None else None,
            "students": [student_ref(p.student) for p in run.participants] if run else [],
            "started_at": iso(run.started_at) if run is not None else None,
            "finished_at": iso(run.finished_at) if run is not None else None,
            "welds": welds_by_run.get(run.id, []) if run is not None else [],
        }
        operations.append(entry)
    evidence_rows = db.session.execute(
        select(Evidence)
        .join(OperationRun, OperationRun.id == Evidence.run_id)
        .where(OperationRun.piece_id == piece.id)
        .order_by(Evidence.id)
        .options(selectinload(Evidence.assessments))
    ).scalars()
    evidence = []
    for item in evidence_rows:
        latest = item.assessments[-1] if item.assessments else None
        evidence.append(
            {
                "student": student_ref(item.student),
                "competency": item.competency.full_code,
                "title": item.competency.title,
                "operation": item.run.operation.code,
                "assessment": _assessment_ref(latest),
            }
        )
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
    }


def student_portfolio(code: str) -> dict[str, Any] | None:
    """Summarise a student's evidence per competency of their framework (their livret)."""
    student = db.session.execute(select(Student).where(Student.code == code)).scalar_one_or_none()
    if student is None:
        return None
    framework = student.framework
    rows = db.session.execute(
        select(Evidence, Piece.code)
        .join(OperationRun, OperationRun.id == Evidence.run_id)
        .join(Piece, Piece.id == OperationRun.piece_id)
        .where(Evidence.student_id == student.id)
        .order_by(Evidence.created_at, Evidence.id)
        .options(selectinload(Evidence.assessments))
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
                "code": competency.full_code,
                "title": competency.title,
                "evidence_count": len(items),
                "latest_assessment": _assessment_ref(latest),
                "pieces": pieces,
            }
        )
    return {
        "welding": arc_time_by_student(code),
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
