"""Import and export the school's data file: an idempotent, all-or-nothing upsert."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import yaml
from sqlalchemy import select

from app.data.schema import SchoolSpec, validate
from app.data.yamlfile import LocatedDocument, SchoolFileError, load_located
from app.extensions import Base, db
from app.ingest import catalog
from app.models import (
    Badge,
    Competency,
    Customer,
    Framework,
    Operation,
    OperationRun,
    OperationType,
    Setting,
    StaffUser,
    Station,
    Student,
    WorkOrder,
    Wps,
)

SECTION_LABELS = {
    "frameworks": "référentiels",
    "competencies": "compétences",
    "students": "élèves",
    "teachers": "enseignants",
    "badges": "badges",
    "stations": "postes",
    "wps": "DMOS",
    "operation_types": "types d'opération",
    "customers": "clients",
    "work_orders": "OF",
    "operations": "étapes de gamme",
}


@dataclass
class ImportSummary:
    """What an import did, counted per kind of record."""

    filename: str
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    removed: Counter[str] = field(default_factory=Counter)

    @property
    def changed(self) -> bool:
        """Tell whether the import changed anything."""
        return bool(
            sum(self.created.values()) + sum(self.updated.values()) + sum(self.removed.values())
        )

    def line(self) -> str:
        """Return the one-line summary the command prints."""
        totals = self.created + self.updated + self.unchanged
        content = ", ".join(
            f"{totals[key]} {label}" for key, label in SECTION_LABELS.items() if totals[key]
        )
        return (
            f"{self.filename} : {sum(self.created.values())} créé(s), "
            f"{sum(self.updated.values())} modifié(s), {sum(self.removed.values())} retiré(s), "
            f"{sum(self.unchanged.values())} inchangé(s) — {content or 'fichier vide'}"
        )


class _Upsert:
    """Write a validated spec into the database, counting what changed."""

    def __init__(self, spec: SchoolSpec, summary: ImportSummary, doc: LocatedDocument) -> None:
        self.spec = spec
        self.summary = summary
        self.doc = doc
        self.errors: list[str] = []

    def sync(
        self, section: str, obj: Base, created: bool, also_changed: bool = False, **values: Any
    ) -> None:
        changed = also_changed
        for key, value in values.items():
            if getattr(obj, key) != value:
                setattr(obj, key, value)
                changed = True
        if created:
            self.summary.created[section] += 1
        elif changed:
            self.summary.updated[section] += 1
        else:
            self.summary.unchanged[section] += 1

    def get_or_new(self, model: type[Base], **key: Any) -> tuple[Any, bool]:
        obj = db.session.execute(select(model).filter_by(**key)).scalar_one_or_none()
        if obj is not None:
            return obj, False
        obj = model(**key)
        db.session.add(obj)
        return obj, True

    def run(self) -> None:
        spec = self.spec
        setting, created = self.get_or_new(Setting, key="site")
        self.sync("settings", setting, created, value=spec.site)
        frameworks = self.frameworks()
        competencies = {
            f"{fw_code}:{comp.code}": comp
            for fw_code, framework in frameworks.items()
            for comp in framework.competencies
        }
        self.students(frameworks)
        self.teachers()
        self.stations()
        wps = self.wps()
        types = self.operation_types(competencies)
        customers = self.customers()
        self.work_orders(customers, types, wps)

    def frameworks(self) -> dict[str, Framework]:
        result = {}
        for fspec in self.spec.frameworks:
            framework, created = self.get_or_new(Framework, code=fspec.id)
            self.sync(
                "frameworks",
                framework,
                created,
                title=fspec.title,
                source=fspec.source,
                provisional=fspec.provisional,
            )
            db.session.flush()
            for position, (code, title) in enumerate(fspec.competencies):
                comp, comp_created = self.get_or_new(
                    Competency, framework_id=framework.id, code=code
                )
                self.sync("competencies", comp, comp_created, title=title, position=position)
            db.session.flush()
            db.session.refresh(framework)
            result[fspec.id] = framework
        return result

    def _badges(self, codes: list[str], student_id: int | None, user_id: int | None) -> None:
        holder = Badge.student_id if student_id is not None else Badge.user_id
        holder_id = student_id if student_id is not None else user_id
        for badge in db.session.execute(select(Badge).where(holder == holder_id)).scalars():
            if badge.code not in codes:
                db.session.delete(badge)
                self.summary.removed["badges"] += 1
        db.session.flush()
        for code in codes:
            badge, created = self.get_or_new(Badge, code=code)
            self.sync("badges", badge, created, student_id=student_id, user_id=user_id)
        db.session.flush()

    def students(self, frameworks: dict[str, Framework]) -> None:
        for sspec in self.spec.students:
            student, created = self.get_or_new(Student, code=sspec.id)
            self.sync(
                "students",
                student,
                created,
                name=sspec.name,
                framework_id=frameworks[sspec.framework].id,
            )
            db.session.flush()
            self._badges(sspec.badges, student.id, None)

    def teachers(self) -> None:
        for tspec in self.spec.teachers:
            user, created = self.get_or_new(StaffUser, email=tspec.email)
            values: dict[str, Any] = {"name": tspec.name}
            if created:
                values.update(role="teacher", must_change_password=True, active=True)
            self.sync("teachers", user, created, **values)
            db.session.flush()
            self._badges(tspec.badges, None, user.id)

    def stations(self) -> None:
        existing = {s.code: s for s in db.session.execute(select(Station)).scalars()}
        # Free the MQTT device names that move first, so that swapping two never collides.
        for sspec in self.spec.stations:
            station = existing.get(sspec.code)
            if station is not None and station.mqtt_device != sspec.mqtt_device:
                station.mqtt_device = None
        db.session.flush()
        for sspec in self.spec.stations:
            station = existing.get(sspec.code)
            created = station is None
            if station is None:
                station = Station(code=sspec.code)
                db.session.add(station)
            self.sync(
                "stations",
                station,
                created,
                name=sspec.name,
                kind=sspec.kind,
                mqtt_device=sspec.mqtt_device,
            )
        db.session.flush()

    def wps(self) -> dict[str, Wps]:
        result = {}
        for wspec in self.spec.wps:
            wps, created = self.get_or_new(Wps, code=wspec.id)
            q = wspec.q_kj_mm
            self.sync(
                "wps",
                wps,
                created,
                process=wspec.process,
                position=wspec.position,
                i_min_a=wspec.i_a[0],
                i_max_a=wspec.i_a[1],
                u_min_v=wspec.u_v[0],
                u_max_v=wspec.u_v[1],
                q_min_kj_mm=q[0] if q else None,
                q_max_kj_mm=q[1] if q else None,
            )
            result[wspec.id] = wps
        db.session.flush()
        return result

    def operation_types(self, competencies: dict[str, Competency]) -> dict[str, OperationType]:
        result = {}
        for ospec in self.spec.operation_types:
            op_type, created = self.get_or_new(OperationType, code=ospec.id)
            wanted = [competencies[name] for name in ospec.competencies]
            current_ids = [] if created else sorted(c.id for c in op_type.competencies)
            mapping_changed = current_ids != sorted(c.id for c in wanted)
            if mapping_changed:
                op_type.competencies = wanted
            self.sync(
                "operation_types",
                op_type,
                created,
                also_changed=mapping_changed,
                name=ospec.name,
                process=ospec.process,
                station_kind=ospec.station_kind,
            )
            result[ospec.id] = op_type
        db.session.flush()
        return result

    def customers(self) -> dict[str, Customer]:
        result = {}
        for cspec in self.spec.customers:
            customer, created = self.get_or_new(Customer, code=cspec.id)
            self.sync("customers", customer, created, name=cspec.name)
            result[cspec.id] = customer
        db.session.flush()
        return result

    def work_orders(
        self,
        customers: dict[str, Customer],
        types: dict[str, OperationType],
        wps: dict[str, Wps],
    ) -> None:
        for wspec in self.spec.work_orders:
            work_order, created = self.get_or_new(WorkOrder, number=wspec.number)
            self.sync(
                "work_orders",
                work_order,
                created,
                customer_id=customers[wspec.customer].id,
                product=wspec.product,
                quantity=wspec.quantity,
                due_on=wspec.due,
            )
            db.session.flush()
            existing = {
                op.step: op
                for op in db.session.execute(
                    select(Operation).where(Operation.work_order_id == work_order.id)
                ).scalars()
            }
            wanted_steps = {step.step for step in wspec.operations}
            for step, operation in existing.items():
                if step in wanted_steps:
                    continue
                has_runs = db.session.execute(
                    select(OperationRun.id)
                    .where(OperationRun.operation_id == operation.id)
                    .limit(1)
                ).first()
                if has_runs:
                    self.errors.append(
                        self.doc.error(
                            (*wspec.path, "operations"),
                            f"l'étape {step} de {wspec.number} a déjà été réalisée sur des "
                            "pièces : elle ne peut pas être retirée de la gamme",
                        )
                    )
                    continue
                db.session.delete(operation)
                self.summary.removed["operations"] += 1
            db.session.flush()
            for sspec in wspec.operations:
                step_row = existing.get(sspec.step)
                created_step = step_row is None
                if step_row is None:
                    step_row = Operation(work_order_id=work_order.id, step=sspec.step)
                    db.session.add(step_row)
                self.sync(
                    "operations",
                    step_row,
                    created_step,
                    operation_type_id=types[sspec.type].id,
                    wps_id=wps[sspec.wps].id if sspec.wps else None,
                )
            db.session.flush()


def import_school(text: str, filename: str) -> ImportSummary:
    """Validate a school file and upsert it; raise SchoolFileError and change nothing if invalid.

    The caller commits on success and rolls back on error.
    """
    doc = load_located(text, filename)
    spec = validate(doc)
    summary = ImportSummary(filename)
    upsert = _Upsert(spec, summary, doc)
    upsert.run()
    if upsert.errors:
        raise SchoolFileError(upsert.errors)
    if summary.changed:
        catalog.bump_version()
    return summary


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def export_school() -> dict[str, Any]:
    """Return the school's data in the file format of CONTRACT.md section 2."""
    site = db.session.get(Setting, "site")
    data: dict[str, Any] = {"site": site.value if site is not None else "site"}
    frameworks = db.session.execute(select(Framework).order_by(Framework.code)).scalars().all()
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
    data["students"] = [
        {
            "id": student.code,
            "name": student.name,
            "framework": student.framework.code,
            "badges": [badge.code for badge in student.badges],
        }
        for student in db.session.execute(select(Student).order_by(Student.code)).scalars()
    ]
    data["teachers"] = [
        {"email": user.email, "name": user.name, "badges": [badge.code for badge in user.badges]}
        for user in db.session.execute(
            select(StaffUser).where(StaffUser.role == "teacher").order_by(StaffUser.email)
        ).scalars()
    ]
    data["stations"] = []
    for station in db.session.execute(select(Station).order_by(Station.code)).scalars():
        sentry: dict[str, Any] = {"code": station.code, "name": station.name, "kind": station.kind}
        if station.mqtt_device:
            sentry["mqtt_device"] = station.mqtt_device
        data["stations"].append(sentry)
    data["wps"] = []
    for wps in db.session.execute(select(Wps).order_by(Wps.code)).scalars():
        wentry: dict[str, Any] = {"id": wps.code, "process": wps.process}
        if wps.position:
            wentry["position"] = wps.position
        wentry["i_a"] = [_number(wps.i_min_a), _number(wps.i_max_a)]
        wentry["u_v"] = [_number(wps.u_min_v), _number(wps.u_max_v)]
        if wps.q_min_kj_mm is not None and wps.q_max_kj_mm is not None:
            wentry["q_kj_mm"] = [_number(wps.q_min_kj_mm), _number(wps.q_max_kj_mm)]
        data["wps"].append(wentry)
    data["operation_types"] = []
    for op_type in db.session.execute(select(OperationType).order_by(OperationType.code)).scalars():
        oentry: dict[str, Any] = {"id": op_type.code, "name": op_type.name}
        if op_type.process:
            oentry["process"] = op_type.process
        if op_type.station_kind:
            oentry["station_kind"] = op_type.station_kind
        oentry["competencies"] = [comp.full_code for comp in op_type.competencies]
        data["operation_types"].append(oentry)
    data["customers"] = [
        {"id": customer.code, "name": customer.name}
        for customer in db.session.execute(select(Customer).order_by(Customer.code)).scalars()
    ]
    data["work_orders"] = []
    for work_order in db.session.execute(select(WorkOrder).order_by(WorkOrder.number)).scalars():
        woentry: dict[str, Any] = {
            "number": work_order.number,
            "customer": work_order.customer.code,
            "product": work_order.product,
            "quantity": work_order.quantity,
        }
        if work_order.due_on is not None:
            woentry["due"] = work_order.due_on
        woentry["operations"] = []
        for operation in work_order.operations:
            step: dict[str, Any] = {"step": operation.step, "type": operation.operation_type.code}
            if operation.wps is not None:
                step["wps"] = operation.wps.code
            woentry["operations"].append(step)
        data["work_orders"].append(woentry)
    return data


def dump_school(data: dict[str, Any]) -> str:
    """Write exported data as YAML, short records on one line as in the contract."""
    header = "# Données de l'école exportées par Atelier (format : CONTRACT.md, section 2)\n"
    return header + yaml.safe_dump(
        data, sort_keys=False, allow_unicode=True, default_flow_style=None, width=110
    )
