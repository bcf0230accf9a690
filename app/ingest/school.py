"""Import the school file into the site's data: an idempotent, all-or-nothing upsert.

The file has been read and validated by ``app.data`` (docs/contract.md §2); this writes it,
inside a savepoint: an error found while writing (a routing step already made on pieces)
refuses the whole import and changes nothing, and the rejected import is still recorded.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.ingest.core import Done, Refusal, Scope, handles
from app.ingest.events import ImportSchool
from app.ingest.school_spec import (
    CustomerSpec,
    HeldSpec,
    OperationTypeSpec,
    SchoolSpec,
    StationSpec,
    WpsSpec,
)
from app.models import (
    Badge,
    Base,
    Competency,
    Customer,
    Framework,
    Habilitation,
    Operation,
    OperationRun,
    OperationType,
    Site,
    StaffUser,
    Station,
    Student,
    StudentHabilitation,
    WorkOrder,
    Wps,
)

SECTION_LABELS = {
    "frameworks": "référentiels",
    "competencies": "compétences",
    "habilitations": "habilitations",
    "students": "élèves",
    "student_habilitations": "habilitations d'élèves",
    "teachers": "enseignants",
    "badges": "badges",
    "stations": "postes",
    "wps": "DMOS",
    "operation_types": "types d'opération",
    "customers": "clients",
    "work_orders": "OF",
    "operations": "étapes de gamme",
}


# The identifiers a preview lists, per kind and per change (the counts are always whole).
NAMES_CAP = 200


@dataclass
class ImportSummary:
    """What an import did, counted per kind of record, with what it created, changed, removed."""

    filename: str
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    removed: Counter[str] = field(default_factory=Counter)
    names: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def note(self, change: str, section: str, ident: str) -> None:
        """Count one record of a kind as created, updated, unchanged or removed."""
        counter: Counter[str] = getattr(self, change)
        counter[section] += 1
        if change == "unchanged":
            return
        names = self.names.setdefault(change, {}).setdefault(section, [])
        if len(names) < NAMES_CAP:
            names.append(ident)

    def as_body(self) -> dict[str, Any]:
        """Return the counts (and the identifiers) as the core's answer carries them."""
        return {
            "created": dict(self.created),
            "updated": dict(self.updated),
            "removed": dict(self.removed),
            "unchanged": dict(self.unchanged),
        }

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

    def __init__(self, session: Session, spec: SchoolSpec, summary: ImportSummary) -> None:
        self.session = session
        self.spec = spec
        self.summary = summary
        self.errors: list[str] = []
        self.site_id = 0
        self.filename = ""
        # The import event and its time: what an authorisation's rows are stamped with.
        self.event_id: int | None = None
        self.now: datetime | None = None

    @classmethod
    def at_site(cls, session: Session, site_id: int, event_id: int | None = None) -> _Upsert:
        """Return an upsert of single records of a site (the office's inputs)."""
        upsert = cls(session, SchoolSpec(site=""), ImportSummary(""))
        upsert.site_id = site_id
        upsert.event_id = event_id
        return upsert

    def sync(
        self,
        section: str,
        obj: Base,
        created: bool,
        also_changed: bool = False,
        *,
        ident: str,
        **values: Any,
    ) -> str:
        """Bring a record's columns to the values given; count it and return what happened."""
        changed = also_changed
        for key, value in values.items():
            if getattr(obj, key) != value:
                setattr(obj, key, value)
                changed = True
        change = "created" if created else "updated" if changed else "unchanged"
        self.summary.note(change, section, ident)
        return change

    def get_or_new(self, model: type[Base], **key: Any) -> tuple[Any, bool]:
        obj = self.session.execute(select(model).filter_by(**key)).scalar_one_or_none()
        if obj is not None:
            return obj, False
        obj = model(**key)
        self.session.add(obj)
        return obj, True

    def run(self) -> Site:
        spec = self.spec
        site: Site
        site, created = self.get_or_new(Site, code=spec.site)
        self.sync(
            "sites", site, created, ident=spec.site, name=spec.site_name or site.name or spec.site
        )
        self.session.flush()
        self.site_id = site.id
        frameworks = self.frameworks()
        competencies = {
            f"{fw_code}:{comp.code}": comp
            for fw_code, framework in frameworks.items()
            for comp in framework.competencies
        }
        habilitations = self.habilitations()
        self.students(frameworks, habilitations)
        self.teachers()
        self.stations(habilitations)
        wps = self.wps()
        types = self.operation_types(competencies, habilitations)
        customers = self.customers()
        self.work_orders(customers, types, wps)
        return site

    def frameworks(self) -> dict[str, Framework]:
        result = {}
        for fspec in self.spec.frameworks:
            framework, created = self.get_or_new(Framework, site_id=self.site_id, code=fspec.id)
            self.sync(
                "frameworks",
                framework,
                created,
                ident=fspec.id,
                title=fspec.title,
                source=fspec.source,
                provisional=fspec.provisional,
            )
            self.session.flush()
            for position, (code, title) in enumerate(fspec.competencies):
                comp, comp_created = self.get_or_new(
                    Competency, framework_id=framework.id, code=code
                )
                self.sync(
                    "competencies",
                    comp,
                    comp_created,
                    ident=f"{fspec.id}:{code}",
                    title=title,
                    position=position,
                )
            self.session.flush()
            self.session.refresh(framework)
            result[fspec.id] = framework
        return result

    def habilitations(self) -> dict[str, Habilitation]:
        result = {}
        for hspec in self.spec.habilitations:
            habilitation, created = self.get_or_new(
                Habilitation, site_id=self.site_id, code=hspec.id
            )
            self.sync(
                "habilitations",
                habilitation,
                created,
                ident=hspec.id,
                name=hspec.name,
                derogation_until=hspec.derogation_until,
            )
            result[hspec.id] = habilitation
        self.session.flush()
        return result

    def requirements(
        self, obj: Station | OperationType, created: bool, wanted: list[Habilitation]
    ) -> bool:
        """Set what a station or an operation type requires; tell whether it changed."""
        current = [] if created else sorted(h.id for h in obj.requires)
        if current == sorted(h.id for h in wanted):
            return False
        obj.requires = wanted
        return True

    def _held(
        self, student: Student, held: list[HeldSpec], habilitations: dict[str, Habilitation]
    ) -> None:
        """Bring a student's authorisations to the file's; end the others, never delete."""
        current = {
            row.habilitation_id: row
            for row in self.session.execute(
                select(StudentHabilitation).where(
                    StudentHabilitation.student_id == student.id,
                    StudentHabilitation.ended_at.is_(None),
                )
            ).scalars()
        }
        codes = {h.id: code for code, h in habilitations.items()}
        wanted: list[tuple[StudentHabilitation | None, HeldSpec, int]] = []
        for hspec in held:
            habilitation_id = habilitations[hspec.id].id
            wanted.append((current.pop(habilitation_id, None), hspec, habilitation_id))
        for dropped in current.values():
            self._end(dropped)
            ident = f"{student.code} {codes.get(dropped.habilitation_id, '?')}"
            self.summary.note("removed", "student_habilitations", ident)
        fresh: list[tuple[HeldSpec, int]] = []
        for row, hspec, habilitation_id in wanted:
            values = {
                "until": hspec.until,
                "medical_until": hspec.medical_until,
                "trained_on": hspec.trained_on,
                "trainer": hspec.trainer,
            }
            ident = f"{student.code} {hspec.id}"
            if row is None:
                self.summary.note("created", "student_habilitations", ident)
            elif any(getattr(row, key) != value for key, value in values.items()):
                # A new row for the new terms: the old one says what held until now.
                self._end(row)
                self.summary.note("updated", "student_habilitations", ident)
            else:
                self.summary.note("unchanged", "student_habilitations", ident)
                continue
            fresh.append((hspec, habilitation_id))
        # The ended rows first: one authorisation in force per habilitation (unique index).
        self.session.flush()
        for hspec, habilitation_id in fresh:
            self.session.add(
                StudentHabilitation(
                    site_id=self.site_id,
                    student_id=student.id,
                    habilitation_id=habilitation_id,
                    until=hspec.until,
                    medical_until=hspec.medical_until,
                    trained_on=hspec.trained_on,
                    trainer=hspec.trainer,
                    recorded_at=self.now,
                    event_id=self.event_id,
                )
            )
        self.session.flush()

    def _end(self, row: StudentHabilitation) -> None:
        row.ended_at = self.now
        row.ended_event_id = self.event_id

    def _badges(self, codes: list[str], student_id: int | None, user_id: int | None) -> None:
        holder = Badge.student_id if student_id is not None else Badge.user_id
        holder_id = student_id if student_id is not None else user_id
        for badge in self.session.execute(
            select(Badge).where(holder == holder_id, Badge.site_id == self.site_id)
        ).scalars():
            if badge.code not in codes:
                self.session.delete(badge)
                self.summary.note("removed", "badges", badge.code)
        self.session.flush()
        for code in codes:
            badge, created = self.get_or_new(Badge, site_id=self.site_id, code=code)
            self.sync("badges", badge, created, ident=code, student_id=student_id, user_id=user_id)
        self.session.flush()

    def students(
        self, frameworks: dict[str, Framework], habilitations: dict[str, Habilitation]
    ) -> None:
        for sspec in self.spec.students:
            student, created = self.get_or_new(Student, site_id=self.site_id, code=sspec.id)
            self.sync(
                "students",
                student,
                created,
                ident=sspec.id,
                name=sspec.name,
                framework_id=frameworks[sspec.framework].id,
                left_on=sspec.left_on,
            )
            self.session.flush()
            self._badges(sspec.badges, student.id, None)
            self._held(student, sspec.habilitations, habilitations)

    def teachers(self) -> None:
        for tspec in self.spec.teachers:
            user, created = self.get_or_new(StaffUser, email=tspec.email)
            if not created and user.site_id != self.site_id:
                self.errors.append(
                    f"{self.filename}: teachers : {tspec.email} est déjà le compte d'un "
                    "autre site (une adresse ne sert qu'à un compte)"
                )
                continue
            values: dict[str, Any] = {"name": tspec.name}
            if created:
                values.update(
                    site_id=self.site_id,
                    role="teacher",
                    must_change_password=True,
                    active=True,
                    session_version=1,
                )
            self.sync("teachers", user, created, ident=tspec.email, **values)
            self.session.flush()
            self._badges(tspec.badges, None, user.id)

    def stations(self, habilitations: dict[str, Habilitation]) -> None:
        existing = {
            s.code: s
            for s in self.session.execute(
                select(Station).where(Station.site_id == self.site_id)
            ).scalars()
        }
        # Free the MQTT device names that move first, so that swapping two never collides.
        for sspec in self.spec.stations:
            station = existing.get(sspec.code)
            if station is not None and station.mqtt_device != sspec.mqtt_device:
                station.mqtt_device = None
        self.session.flush()
        for sspec in self.spec.stations:
            self.station(sspec, habilitations, existing.get(sspec.code))
        self.session.flush()

    def station(
        self,
        sspec: StationSpec,
        habilitations: dict[str, Habilitation],
        station: Station | None,
    ) -> str:
        """Create or update one station (``station`` is the one of that code, if any)."""
        created = station is None
        if station is None:
            station = Station(site_id=self.site_id, code=sspec.code)
            self.session.add(station)
        requires_changed = self.requirements(
            station, created, [habilitations[hid] for hid in sspec.requires]
        )
        return self.sync(
            "stations",
            station,
            created,
            also_changed=requires_changed,
            ident=sspec.code,
            name=sspec.name,
            kind=sspec.kind,
            mqtt_device=sspec.mqtt_device,
        )

    def wps(self) -> dict[str, Wps]:
        result = {}
        for wspec in self.spec.wps:
            result[wspec.id] = self.one_wps(wspec)[0]
        self.session.flush()
        return result

    def one_wps(self, wspec: WpsSpec) -> tuple[Wps, str]:
        """Create or update one WPS; return it and what happened to it."""
        wps, created = self.get_or_new(Wps, site_id=self.site_id, code=wspec.id)
        q = wspec.q_kj_mm
        change = self.sync(
            "wps",
            wps,
            created,
            ident=wspec.id,
            process=wspec.process,
            position=wspec.position,
            i_min_a=wspec.i_a[0],
            i_max_a=wspec.i_a[1],
            u_min_v=wspec.u_v[0],
            u_max_v=wspec.u_v[1],
            q_min_kj_mm=q[0] if q else None,
            q_max_kj_mm=q[1] if q else None,
        )
        return wps, change

    def operation_types(
        self, competencies: dict[str, Competency], habilitations: dict[str, Habilitation]
    ) -> dict[str, OperationType]:
        result = {}
        for ospec in self.spec.operation_types:
            wanted = [competencies[name] for name in ospec.competencies]
            result[ospec.id] = self.operation_type(ospec, habilitations, wanted)[0]
        self.session.flush()
        return result

    def operation_type(
        self,
        ospec: OperationTypeSpec,
        habilitations: dict[str, Habilitation],
        competencies: list[Competency] | None,
    ) -> tuple[OperationType, str]:
        """Create or update one operation type; ``competencies`` None leaves its grid alone."""
        op_type, created = self.get_or_new(OperationType, site_id=self.site_id, code=ospec.id)
        mapping_changed = False
        if competencies is not None:
            current_ids = [] if created else sorted(c.id for c in op_type.competencies)
            mapping_changed = current_ids != sorted(c.id for c in competencies)
            if mapping_changed:
                op_type.competencies = competencies
        requires_changed = self.requirements(
            op_type, created, [habilitations[hid] for hid in ospec.requires]
        )
        change = self.sync(
            "operation_types",
            op_type,
            created,
            also_changed=mapping_changed or requires_changed,
            ident=ospec.id,
            name=ospec.name,
            process=ospec.process,
            station_kind=ospec.station_kind,
        )
        return op_type, change

    def customers(self) -> dict[str, Customer]:
        result = {}
        for cspec in self.spec.customers:
            result[cspec.id] = self.customer(cspec)[0]
        self.session.flush()
        return result

    def customer(self, cspec: CustomerSpec) -> tuple[Customer, str]:
        """Create or update one customer; return it and what happened to it."""
        customer, created = self.get_or_new(Customer, site_id=self.site_id, code=cspec.id)
        return customer, self.sync("customers", customer, created, ident=cspec.id, name=cspec.name)

    def work_orders(
        self,
        customers: dict[str, Customer],
        types: dict[str, OperationType],
        wps: dict[str, Wps],
    ) -> None:
        for wspec in self.spec.work_orders:
            work_order, created = self.get_or_new(
                WorkOrder, site_id=self.site_id, number=wspec.number
            )
            self.sync(
                "work_orders",
                work_order,
                created,
                ident=wspec.number,
                customer_id=customers[wspec.customer].id,
                product=wspec.product,
                quantity=wspec.quantity,
                due_on=wspec.due,
                drawing=wspec.drawing,
            )
            self.session.flush()
            existing = {
                op.step: op
                for op in self.session.execute(
                    select(Operation).where(Operation.work_order_id == work_order.id)
                ).scalars()
            }
            wanted_steps = {step.step for step in wspec.operations}
            for step, operation in existing.items():
                if step in wanted_steps:
                    continue
                has_runs = self.session.execute(
                    select(OperationRun.id)
                    .where(OperationRun.operation_id == operation.id)
                    .limit(1)
                ).first()
                if has_runs:
                    self.errors.append(
                        f"{wspec.operations_where} : l'étape {step} de {wspec.number} a déjà "
                        "été réalisée sur des pièces : elle ne peut pas être retirée de la gamme"
                    )
                    continue
                self.session.delete(operation)
                self.summary.note("removed", "operations", f"{wspec.number}-{step:02d}")
            self.session.flush()
            for sspec in wspec.operations:
                step_row = existing.get(sspec.step)
                created_step = step_row is None
                if step_row is None:
                    step_row = Operation(work_order_id=work_order.id, step=sspec.step)
                    self.session.add(step_row)
                self.sync(
                    "operations",
                    step_row,
                    created_step,
                    ident=f"{wspec.number}-{sspec.step:02d}",
                    operation_type_id=types[sspec.type].id,
                    wps_id=wps[sspec.wps].id if sspec.wps else None,
                )
            self.session.flush()


@handles(ImportSchool, atomic=True)
def import_school(scope: Scope, event: ImportSchool) -> Done:
    """Create or update a site's data from its validated school file (or only preview it)."""
    existing = scope.session.execute(select(Site.id).where(Site.code == event.spec.site)).scalar()
    if existing is not None:
        scope.columns["site_id"] = existing
    if scope.origin.site_id is not None and existing != scope.origin.site_id:
        ours = scope.session.execute(
            select(Site.code).where(Site.id == scope.origin.site_id)
        ).scalar()
        scope.columns["site_id"] = scope.origin.site_id
        raise Refusal(
            "other_site",
            f"{event.filename} est le fichier du site « {event.spec.site} », "
            f"pas de celui-ci (« {ours} ») : rien n'a été modifié.",
            f"file of site {event.spec.site!r} sent to site {ours!r}",
        )
    summary = ImportSummary(event.filename)
    upsert = _Upsert(scope.session, event.spec, summary)
    upsert.filename = event.filename
    upsert.event_id = scope.event_id
    upsert.now = scope.now
    site = upsert.run()
    scope.session.flush()
    if upsert.errors:
        raise Refusal(
            "invalid_file",
            f"{event.filename} : {len(upsert.errors)} erreur(s), rien n'a été modifié.",
            "; ".join(upsert.errors)[:400],
            errors=upsert.errors,
        )
    if event.preview:
        # The savepoint rolls the whole upsert back: the log keeps who previewed which file.
        raise Refusal(
            "preview",
            f"Aperçu de {event.filename} : rien n'a encore été modifié.",
            f"preview of {event.filename}",
            site=event.spec.site,
            line=summary.line(),
            names=summary.names,
            **summary.as_body(),
        )
    scope.columns["site_id"] = site.id
    return Done(summary.line(), {"site": site.code, **summary.as_body()})
