"""The school file: read and validate it for an import, and export a site's data.

The import itself is the core's (``app.ingest.school``): this module turns the file into
the validated ``SchoolSpec`` the core writes, and reads the database back into the format.
"""

from __future__ import annotations

import hashlib
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.data.schema import validate
from app.data.yamlfile import load_located
from app.ingest.events import ImportSchool
from app.models import (
    Customer,
    Framework,
    Habilitation,
    OperationType,
    Site,
    StaffUser,
    Station,
    Student,
    StudentHabilitation,
    WorkOrder,
    Wps,
)


def read_school_file(text: str, filename: str) -> ImportSchool:
    """Read and validate a school file; raise SchoolFileError listing every problem."""
    spec = validate(load_located(text, filename))
    digest = hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()
    return ImportSchool(spec=spec, filename=filename, sha256=digest)


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def export_school(session: Session, site_id: int) -> dict[str, Any]:
    """Return a site's data in the file format of docs/contract.md section 2."""
    site = session.get(Site, site_id)
    assert site is not None
    data: dict[str, Any] = {"site": site.code}
    if site.name != site.code:
        data["site_name"] = site.name
    frameworks = (
        session.execute(
            select(Framework).where(Framework.site_id == site_id).order_by(Framework.code)
        )
        .scalars()
        .all()
    )
    data["frameworks"] = []
    for framework in frameworks:
        entry: dict[str, Any] = {"id": framework.code, "title": framework.title}
        if framework.source:
            entry["source"] = framework.source
        if framework.provisional:
            entry["provisional"] = True
        entry["competencies"] = [
            {"code": comp.code, "title": comp.title} for comp in framework.competencies
        ]
        data["frameworks"].append(entry)
    habilitations = (
        session.execute(
            select(Habilitation).where(Habilitation.site_id == site_id).order_by(Habilitation.code)
        )
        .scalars()
        .all()
    )
    if habilitations:
        data["habilitations"] = []
        for habilitation in habilitations:
            hentry: dict[str, Any] = {"id": habilitation.code, "name": habilitation.name}
            if habilitation.derogation_until is not None:
                hentry["derogation_until"] = habilitation.derogation_until
            data["habilitations"].append(hentry)
    held = _held_now(session, site_id)
    data["students"] = []
    for student in session.execute(
        select(Student)
        .where(Student.site_id == site_id, Student.erased_at.is_(None))
        .order_by(Student.code)
    ).scalars():
        sentry: dict[str, Any] = {
            "id": student.code,
            "name": student.name,
            "framework": student.framework.code,
            "badges": [badge.code for badge in student.badges],
        }
        if student.left_on is not None:
            sentry["left_on"] = student.left_on
        if student.id in held:
            sentry["habilitations"] = held[student.id]
        data["students"].append(sentry)
    data["teachers"] = [
        {"email": user.email, "name": user.name, "badges": [badge.code for badge in user.badges]}
        for user in session.execute(
            select(StaffUser)
            .where(StaffUser.site_id == site_id, StaffUser.role == "teacher")
            .order_by(StaffUser.email)
        ).scalars()
    ]
    data["stations"] = []
    for station in session.execute(
        select(Station).where(Station.site_id == site_id).order_by(Station.code)
    ).scalars():
        stentry: dict[str, Any] = {
            "code": station.code,
            "name": station.name,
            "kind": station.kind,
        }
        if station.mqtt_device:
            stentry["mqtt_device"] = station.mqtt_device
        if station.requires:
            stentry["requires"] = [h.code for h in station.requires]
        data["stations"].append(stentry)
    data["wps"] = []
    for wps in session.execute(
        select(Wps).where(Wps.site_id == site_id).order_by(Wps.code)
    ).scalars():
        wentry: dict[str, Any] = {"id": wps.code, "process": wps.process}
        if wps.position:
            wentry["position"] = wps.position
        wentry["i_a"] = [_number(wps.i_min_a), _number(wps.i_max_a)]
        wentry["u_v"] = [_number(wps.u_min_v), _number(wps.u_max_v)]
        if wps.q_min_kj_mm is not None and wps.q_max_kj_mm is not None:
            wentry["q_kj_mm"] = [_number(wps.q_min_kj_mm), _number(wps.q_max_kj_mm)]
        data["wps"].append(wentry)
    data["operation_types"] = []
    for op_type in session.execute(
        select(OperationType).where(OperationType.site_id == site_id).order_by(OperationType.code)
    ).scalars():
        oentry: dict[str, Any] = {"id": op_type.code, "name": op_type.name}
        if op_type.process:
            oentry["process"] = op_type.process
        if op_type.station_kind:
            oentry["station_kind"] = op_type.station_kind
        oentry["competencies"] = [comp.full_code for comp in op_type.competencies]
        if op_type.requires:
            oentry["requires"] = [h.code for h in op_type.requires]
        data["operation_types"].append(oentry)
    data["customers"] = [
        {"id": customer.code, "name": customer.name}
        for customer in session.execute(
            select(Customer).where(Customer.site_id == site_id).order_by(Customer.code)
        ).scalars()
    ]
    data["work_orders"] = []
    for work_order in session.execute(
        select(WorkOrder).where(WorkOrder.site_id == site_id).order_by(WorkOrder.number)
    ).scalars():
        woentry: dict[str, Any] = {
            "number": work_order.number,
            "customer": work_order.customer.code,
            "product": work_order.product,
            "quantity": work_order.quantity,
        }
        if work_order.due_on is not None:
            woentry["due"] = work_order.due_on
        if work_order.drawing:
            woentry["drawing"] = work_order.drawing
        woentry["operations"] = []
        for operation in work_order.operations:
            step: dict[str, Any] = {"step": operation.step, "type": operation.operation_type.code}
            if operation.wps is not None:
                step["wps"] = operation.wps.code
            woentry["operations"].append(step)
        data["work_orders"].append(woentry)
    return data


def _held_now(session: Session, site_id: int) -> dict[int, list[dict[str, Any]]]:
    """Return the authorisations in force at a site, per student, as the file writes them."""
    result: dict[int, list[dict[str, Any]]] = {}
    for row, code in session.execute(
        select(StudentHabilitation, Habilitation.code)
        .join(Habilitation, Habilitation.id == StudentHabilitation.habilitation_id)
        .where(StudentHabilitation.site_id == site_id, StudentHabilitation.ended_at.is_(None))
        .order_by(StudentHabilitation.student_id, Habilitation.code)
    ):
        entry: dict[str, Any] = {"id": code, "until": row.until}
        if row.medical_until is not None:
            entry["medical_until"] = row.medical_until
        if row.trained_on is not None:
            entry["trained_on"] = row.trained_on
        if row.trainer:
            entry["trainer"] = row.trainer
        result.setdefault(row.student_id, []).append(entry)
    return result


def dump_school(data: dict[str, Any]) -> str:
    """Write exported data as YAML, short records on one line as in the contract."""
    header = "# Données de l'école exportées par Atelier (format : docs/contract.md, section 2)\n"
    return header + yaml.safe_dump(
        data, sort_keys=False, allow_unicode=True, default_flow_style=None, width=110
    )
