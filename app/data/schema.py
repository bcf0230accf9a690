"""Validate the school data file against docs/contract.md section 2, before touching the database.

Every problem is collected with its file, line and field, so the person fixing the file
sees all of them at once.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from app.data.yamlfile import InvalidDate, LocatedDocument, Path, SchoolFileError, format_path
from app.ingest.school_spec import (
    COMPETENCY_CODE,
    IDENT,
    MQTT_DEVICE,
    PROCESS,
    SITE,
    SPAN_LIMITS,
    STATION_CODE,
    UPPER_IDENT,
    CustomerSpec,
    FrameworkSpec,
    HabilitationSpec,
    HeldSpec,
    OperationTypeSpec,
    SchoolSpec,
    StationSpec,
    StepSpec,
    StudentSpec,
    TeacherSpec,
    WorkOrderSpec,
    WpsSpec,
    span_problem,
)
from app.models.production import STATION_KINDS
from labels.codes import PRINTED_BADGE_PATTERN, RFID_BADGE_PATTERN, WORK_ORDER_PATTERN

TOP_KEYS = (
    "site",
    "site_name",
    "frameworks",
    "habilitations",
    "students",
    "teachers",
    "stations",
    "wps",
    "operation_types",
    "customers",
    "work_orders",
)

WORK_ORDER = WORK_ORDER_PATTERN
BADGE = re.compile(f"{PRINTED_BADGE_PATTERN.pattern}|{RFID_BADGE_PATTERN.pattern}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class _Invalid(Exception):
    """A value failed a check; the message is already recorded."""


class Checker:
    """Collect the errors of a document while reading typed values out of it."""

    def __init__(self, doc: LocatedDocument) -> None:
        self.doc = doc
        self.errors: list[str] = []

    def fail(self, path: Path, message: str) -> _Invalid:
        """Record an error at a path and return an exception to stop reading that value."""
        self.errors.append(self.doc.error(path, message))
        return _Invalid(message)

    def record(
        self, path: Path, value: Any, required: tuple[str, ...], optional: tuple[str, ...]
    ) -> dict[str, Any]:
        """Check that a value is a mapping with the required keys and no unknown key."""
        if not isinstance(value, dict):
            raise self.fail(path, "un enregistrement {clé: valeur, …} est attendu")
        for key in value:
            if key not in required and key not in optional:
                allowed = ", ".join((*required, *optional))
                self.fail((*path, str(key)), f"clé inconnue « {key} » (clés possibles : {allowed})")
        missing = [key for key in required if key not in value or value[key] is None]
        for key in missing:
            self.fail(path, f"champ obligatoire « {key} » manquant")
        if missing:
            raise _Invalid("missing")
        return value

    def items(self, path: Path, value: Any) -> list[Any]:
        """Check that a value is a list (absent means empty)."""
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(path, "une liste est attendue")
        return value

    def text(
        self,
        path: Path,
        value: Any,
        pattern: re.Pattern[str] | None = None,
        max_len: int = 200,
        what: str = "",
    ) -> str:
        """Read a non-empty string, optionally matching a pattern."""
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.fail(path, "un texte est attendu")
        text = str(value).strip()
        if not text:
            raise self.fail(path, "ne peut pas être vide")
        if len(text) > max_len:
            raise self.fail(path, f"trop long ({len(text)} caractères, {max_len} au plus)")
        if pattern is not None and not pattern.fullmatch(text):
            raise self.fail(path, f"« {text} » n'est pas {what or 'au bon format'}")
        return text

    def optional_text(self, path: Path, value: Any, **kwargs: Any) -> str | None:
        """Read an optional string."""
        if value is None:
            return None
        return self.text(path, value, **kwargs)

    def integer(self, path: Path, value: Any, low: int, high: int) -> int:
        """Read an integer within bounds."""
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, "un nombre entier est attendu")
        if not low <= value <= high:
            raise self.fail(path, f"doit être entre {low} et {high}")
        return value

    def boolean(self, path: Path, value: Any) -> bool:
        """Read a boolean (absent means false)."""
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self.fail(path, "true ou false est attendu")
        return value

    def day(self, path: Path, value: Any) -> date | None:
        """Read an optional date written YYYY-MM-DD (a real day of the calendar)."""
        if value is None:
            return None
        if isinstance(value, InvalidDate):
            raise self.fail(path, f"« {value.text} » n'est pas une date valide (AAAA-MM-JJ)")
        if isinstance(value, datetime):
            raise self.fail(path, "une date AAAA-MM-JJ est attendue, sans heure")
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                raise self.fail(
                    path, f"« {value} » n'est pas une date valide (AAAA-MM-JJ)"
                ) from None
        raise self.fail(path, "une date AAAA-MM-JJ est attendue")

    def span(self, path: Path, value: Any) -> tuple[float, float]:
        """Read a [min, max] range of positive, finite numbers within the field's limit."""
        if (
            not isinstance(value, list)
            or len(value) != 2
            or any(isinstance(v, bool) or not isinstance(v, int | float) for v in value)
        ):
            raise self.fail(path, "une plage [min, max] de deux nombres est attendue")
        try:
            low, high = float(value[0]), float(value[1])
        except OverflowError:  # an integer too big for a float
            raise self.fail(path, "la plage doit être faite de nombres finis") from None
        problem = span_problem(low, high, SPAN_LIMITS.get(str(path[-1]), 1.0e6))
        if problem is not None:
            raise self.fail(path, problem)
        return low, high

    def unique(self, seen: dict[str, Path], key: str, path: Path, what: str) -> None:
        """Record an error when an id appears twice."""
        if key in seen:
            self.fail(
                path, f"{what} « {key} » en double (déjà à la ligne {self.doc.line(seen[key])})"
            )
        else:
            seen[key] = path


def _each(checker: Checker, path: Path, value: Any) -> list[tuple[Path, Any]]:
    try:
        return [((*path, i), item) for i, item in enumerate(checker.items(path, value))]
    except _Invalid:
        return []


def validate(doc: LocatedDocument) -> SchoolSpec:
    """Check the whole document; return it typed, or raise SchoolFileError with every error."""
    c = Checker(doc)
    for path, line in doc.duplicate_keys:
        c.errors.append(f"{doc.filename}:{line}: {'.'.join(map(str, path))} : clé en double")
    data = doc.data
    try:
        root = c.record((), data, ("site",), TOP_KEYS[1:])
    except _Invalid:
        raise SchoolFileError(c.errors) from None
    try:
        site = c.text(("site",), root["site"], SITE, 40, "un identifiant de site (a-z, 0-9, -)")
    except _Invalid:
        site = "?"
    try:
        site_name = c.optional_text(("site_name",), root.get("site_name"), max_len=150)
    except _Invalid:
        site_name = None
    spec = SchoolSpec(site=site, site_name=site_name)
    _frameworks(c, root, spec)
    competencies = {f"{fw.id}:{code}" for fw in spec.frameworks for code, _title in fw.competencies}
    framework_ids = {fw.id for fw in spec.frameworks}
    _habilitations(c, root, spec)
    habilitations = {h.id for h in spec.habilitations}
    badges: dict[str, Path] = {}
    _students(c, root, spec, framework_ids, badges, habilitations=habilitations)
    _teachers(c, root, spec, badges)
    _stations(c, root, spec, habilitations)
    _wps(c, root, spec)
    _operation_types(c, root, spec, competencies, habilitations)
    _customers(c, root, spec)
    _work_orders(c, root, spec)
    if c.errors:
        raise SchoolFileError(c.errors)
    return spec


def _frameworks(c: Checker, root: dict[str, Any], spec: SchoolSpec) -> None:
    seen: dict[str, Path] = {}
    for path, item in _each(c, ("frameworks",), root.get("frameworks")):
        try:
            rec = c.record(path, item, ("id", "title"), ("source", "provisional", "competencies"))
            fw_id = c.text(
                (*path, "id"), rec["id"], IDENT, 40, "un identifiant (lettres, chiffres, -)"
            )
            c.unique(seen, fw_id, (*path, "id"), "référentiel")
            codes: dict[str, Path] = {}
            comps: list[tuple[str, str]] = []
            for cpath, comp in _each(c, (*path, "competencies"), rec.get("competencies")):
                try:
                    crec = c.record(cpath, comp, ("code", "title"), ())
                    code = c.text(
                        (*cpath, "code"), crec["code"], COMPETENCY_CODE, 20, "un code de compétence"
                    )
                    c.unique(codes, code, (*cpath, "code"), "compétence")
                    comps.append((code, c.text((*cpath, "title"), crec["title"], max_len=300)))
                except _Invalid:
                    continue
            spec.frameworks.append(
                FrameworkSpec(
                    path,
                    fw_id,
                    c.text((*path, "title"), rec["title"]),
                    c.optional_text((*path, "source"), rec.get("source"), max_len=300),
                    c.boolean((*path, "provisional"), rec.get("provisional")),
                    comps,
                )
            )
        except _Invalid:
            continue


def _habilitations(c: Checker, root: dict[str, Any], spec: SchoolSpec) -> None:
    seen: dict[str, Path] = {}
    for path, item in _each(c, ("habilitations",), root.get("habilitations")):
        try:
            rec = c.record(path, item, ("id", "name"), ("derogation_until",))
            hid = c.text((*path, "id"), rec["id"], UPPER_IDENT, 40, "un identifiant (A-Z, 0-9, -)")
            c.unique(seen, hid, (*path, "id"), "habilitation")
            spec.habilitations.append(
                HabilitationSpec(
                    path,
                    hid,
                    c.text((*path, "name"), rec["name"], max_len=120),
                    c.day((*path, "derogation_until"), rec.get("derogation_until")),
                )
            )
        except _Invalid:
            continue


def _requires(c: Checker, path: Path, value: Any, habilitations: set[str]) -> list[str]:
    """Read a list of required habilitation ids, each known and listed once."""
    result: list[str] = []
    for rpath, ref in _each(c, path, value):
        try:
            hid = c.text(rpath, ref)
            if hid not in habilitations:
                raise c.fail(rpath, f"habilitation « {hid} » inconnue")
            if hid in result:
                raise c.fail(rpath, f"habilitation « {hid} » en double")
            result.append(hid)
        except _Invalid:
            continue
    return result


def _held(c: Checker, path: Path, value: Any, habilitations: set[str]) -> list[HeldSpec]:
    """Read a student's habilitations: each known, listed once, with its dates."""
    result: list[HeldSpec] = []
    seen: dict[str, Path] = {}
    for hpath, item in _each(c, path, value):
        try:
            rec = c.record(hpath, item, ("id", "until"), ("medical_until", "trained_on", "trainer"))
            hid = c.text((*hpath, "id"), rec["id"])
            if hid not in habilitations:
                raise c.fail((*hpath, "id"), f"habilitation « {hid} » inconnue")
            c.unique(seen, hid, (*hpath, "id"), "habilitation")
            until = c.day((*hpath, "until"), rec["until"])
            assert until is not None  # required: record() refused it missing
            result.append(
                HeldSpec(
                    hpath,
                    hid,
                    until,
                    c.day((*hpath, "medical_until"), rec.get("medical_until")),
                    c.day((*hpath, "trained_on"), rec.get("trained_on")),
                    c.optional_text((*hpath, "trainer"), rec.get("trainer"), max_len=80),
                )
            )
        except _Invalid:
            continue
    return result


def _badge_list(c: Checker, path: Path, value: Any, badges: dict[str, Path]) -> list[str]:
    result = []
    for bpath, badge in _each(c, path, value):
        try:
            code = c.text(
                bpath,
                badge,
                BADGE,
                20,
                "un badge valide (B- suivi de chiffres, "
                "ou 8 à 14 chiffres hexadécimaux en majuscules)",
            )
            c.unique(badges, code, bpath, "badge")
            result.append(code)
        except _Invalid:
            continue
    return result


def _students(
    c: Checker,
    root: dict[str, Any],
    spec: SchoolSpec,
    frameworks: set[str],
    badges: dict[str, Path],
    *,
    habilitations: set[str],
) -> None:
    seen: dict[str, Path] = {}
    for path, item in _each(c, ("students",), root.get("students")):
        try:
            rec = c.record(
                path, item, ("id", "name", "framework"), ("badges", "left_on", "habilitations")
            )
            sid = c.text(
                (*path, "id"), rec["id"], IDENT, 40, "un identifiant (lettres, chiffres, -)"
            )
            c.unique(seen, sid, (*path, "id"), "élève")
            framework = c.text((*path, "framework"), rec["framework"])
            if framework not in frameworks:
                raise c.fail((*path, "framework"), f"référentiel « {framework} » inconnu")
            spec.students.append(
                StudentSpec(
                    path,
                    sid,
                    c.text((*path, "name"), rec["name"], max_len=80),
                    framework,
                    _badge_list(c, (*path, "badges"), rec.get("badges"), badges),
                    c.day((*path, "left_on"), rec.get("left_on")),
                    _held(c, (*path, "habilitations"), rec.get("habilitations"), habilitations),
                )
            )
        except _Invalid:
            continue


def _teachers(c: Checker, root: dict[str, Any], spec: SchoolSpec, badges: dict[str, Path]) -> None:
    seen: dict[str, Path] = {}
    for path, item in _each(c, ("teachers",), root.get("teachers")):
        try:
            rec = c.record(path, item, ("email", "name"), ("badges",))
            email = c.text((*path, "email"), rec["email"], EMAIL, 200, "une adresse e-mail").lower()
            c.unique(seen, email, (*path, "email"), "enseignant")
            spec.teachers.append(
                TeacherSpec(
                    path,
                    email,
                    c.text((*path, "name"), rec["name"], max_len=80),
                    _badge_list(c, (*path, "badges"), rec.get("badges"), badges),
                )
            )
        except _Invalid:
            continue


def _stations(c: Checker, root: dict[str, Any], spec: SchoolSpec, habilitations: set[str]) -> None:
    seen: dict[str, Path] = {}
    devices: dict[str, Path] = {}
    for path, item in _each(c, ("stations",), root.get("stations")):
        try:
            rec = c.record(path, item, ("code", "name", "kind"), ("mqtt_device", "requires"))
            code = c.text(
                (*path, "code"),
                rec["code"],
                STATION_CODE,
                40,
                "un code de poste (ST-…, A-Z, 0-9, -)",
            )
            c.unique(seen, code, (*path, "code"), "poste")
            kind = c.text((*path, "kind"), rec["kind"])
            if kind not in STATION_KINDS:
                raise c.fail(
                    (*path, "kind"),
                    f"type de poste « {kind} » inconnu ({', '.join(STATION_KINDS)})",
                )
            device = c.optional_text(
                (*path, "mqtt_device"),
                rec.get("mqtt_device"),
                pattern=MQTT_DEVICE,
                max_len=40,
                what="un identifiant MQTT (lettres, chiffres, - ou _)",
            )
            if device is not None:
                c.unique(devices, device, (*path, "mqtt_device"), "appareil MQTT")
            spec.stations.append(
                StationSpec(
                    path,
                    code,
                    c.text((*path, "name"), rec["name"], max_len=100),
                    kind,
                    device,
                    _requires(c, (*path, "requires"), rec.get("requires"), habilitations),
                )
            )
        except _Invalid:
            continue


def _wps(c: Checker, root: dict[str, Any], spec: SchoolSpec) -> None:
    seen: dict[str, Path] = {}
    for path, item in _each(c, ("wps",), root.get("wps")):
        try:
            rec = c.record(path, item, ("id", "process", "i_a", "u_v"), ("position", "q_kj_mm"))
            wid = c.text((*path, "id"), rec["id"], UPPER_IDENT, 40, "un identifiant (A-Z, 0-9, -)")
            c.unique(seen, wid, (*path, "id"), "DMOS")
            q = rec.get("q_kj_mm")
            spec.wps.append(
                WpsSpec(
                    path,
                    wid,
                    c.text(
                        (*path, "process"),
                        rec["process"],
                        PROCESS,
                        3,
                        "un numéro de procédé ISO 4063",
                    ),
                    c.optional_text((*path, "position"), rec.get("position"), max_len=10),
                    c.span((*path, "i_a"), rec["i_a"]),
                    c.span((*path, "u_v"), rec["u_v"]),
                    c.span((*path, "q_kj_mm"), q) if q is not None else None,
                )
            )
        except _Invalid:
            continue


def _operation_types(
    c: Checker,
    root: dict[str, Any],
    spec: SchoolSpec,
    competencies: set[str],
    habilitations: set[str],
) -> None:
    seen: dict[str, Path] = {}
    for path, item in _each(c, ("operation_types",), root.get("operation_types")):
        try:
            rec = c.record(
                path,
                item,
                ("id", "name"),
                ("process", "station_kind", "competencies", "requires"),
            )
            oid = c.text((*path, "id"), rec["id"], UPPER_IDENT, 40, "un identifiant (A-Z, 0-9, -)")
            c.unique(seen, oid, (*path, "id"), "type d'opération")
            kind = c.optional_text((*path, "station_kind"), rec.get("station_kind"))
            if kind is not None and kind not in STATION_KINDS:
                raise c.fail(
                    (*path, "station_kind"),
                    f"type de poste « {kind} » inconnu ({', '.join(STATION_KINDS)})",
                )
            refs: list[str] = []
            for cpath, ref in _each(c, (*path, "competencies"), rec.get("competencies")):
                try:
                    name = c.text(cpath, ref)
                    if name not in competencies:
                        raise c.fail(
                            cpath, f"compétence « {name} » inconnue (attendu référentiel:code)"
                        )
                    if name in refs:
                        raise c.fail(cpath, f"compétence « {name} » en double")
                    refs.append(name)
                except _Invalid:
                    continue
            spec.operation_types.append(
                OperationTypeSpec(
                    path,
                    oid,
                    c.text((*path, "name"), rec["name"], max_len=120),
                    c.optional_text(
                        (*path, "process"),
                        rec.get("process"),
                        pattern=PROCESS,
                        max_len=3,
                        what="un numéro de procédé ISO 4063",
                    ),
                    kind,
                    refs,
                    _requires(c, (*path, "requires"), rec.get("requires"), habilitations),
                )
            )
        except _Invalid:
            continue


def _customers(c: Checker, root: dict[str, Any], spec: SchoolSpec) -> None:
    seen: dict[str, Path] = {}
    for path, item in _each(c, ("customers",), root.get("customers")):
        try:
            rec = c.record(path, item, ("id", "name"), ())
            cid = c.text(
                (*path, "id"), rec["id"], IDENT, 40, "un identifiant (lettres, chiffres, -)"
            )
            c.unique(seen, cid, (*path, "id"), "client")
            spec.customers.append(
                CustomerSpec(path, cid, c.text((*path, "name"), rec["name"], max_len=150))
            )
        except _Invalid:
            continue


def _work_orders(c: Checker, root: dict[str, Any], spec: SchoolSpec) -> None:
    seen: dict[str, Path] = {}
    customers = {customer.id for customer in spec.customers}
    types = {op.id: op for op in spec.operation_types}
    wps = {w.id: w for w in spec.wps}
    for path, item in _each(c, ("work_orders",), root.get("work_orders")):
        try:
            rec = c.record(
                path,
                item,
                ("number", "customer", "product", "quantity"),
                ("due", "drawing", "operations"),
            )
            number = c.text(
                (*path, "number"), rec["number"], WORK_ORDER, 20, "un numéro d'OF (OF-AAAA-NNNN)"
            )
            c.unique(seen, number, (*path, "number"), "OF")
            customer = c.text((*path, "customer"), rec["customer"])
            if customer not in customers:
                raise c.fail((*path, "customer"), f"client « {customer} » inconnu")
            steps: list[StepSpec] = []
            step_seen: dict[str, Path] = {}
            for spath, step in _each(c, (*path, "operations"), rec.get("operations")):
                try:
                    srec = c.record(spath, step, ("step", "type"), ("wps",))
                    number_step = c.integer((*spath, "step"), srec["step"], 1, 99)
                    c.unique(step_seen, str(number_step), (*spath, "step"), "étape")
                    type_id = c.text((*spath, "type"), srec["type"])
                    if type_id not in types:
                        raise c.fail((*spath, "type"), f"type d'opération « {type_id} » inconnu")
                    wps_id = c.optional_text((*spath, "wps"), srec.get("wps"))
                    if wps_id is not None:
                        if wps_id not in wps:
                            raise c.fail((*spath, "wps"), f"DMOS « {wps_id} » inconnu")
                        op_process = types[type_id].process
                        if op_process is not None and wps[wps_id].process != op_process:
                            raise c.fail(
                                (*spath, "wps"),
                                f"le DMOS {wps_id} est pour le procédé {wps[wps_id].process}, "
                                f"l'opération {type_id} pour le procédé {op_process}",
                            )
                    steps.append(StepSpec(spath, number_step, type_id, wps_id))
                except _Invalid:
                    continue
            spec.work_orders.append(
                WorkOrderSpec(
                    path,
                    number,
                    customer,
                    c.text((*path, "product"), rec["product"], max_len=150),
                    c.integer((*path, "quantity"), rec["quantity"], 1, 100000),
                    c.day((*path, "due"), rec.get("due")),
                    steps,
                    c.optional_text((*path, "drawing"), rec.get("drawing"), max_len=100),
                    f"{c.doc.filename}:{c.doc.line((*path, 'operations'))}: "
                    f"{format_path((*path, 'operations'))}",
                )
            )
        except _Invalid:
            continue
