"""The office's edits of the school's data: customers, stations, WPS, operation types, the grid.

Each input is one record as the office's form gives it, checked with the school file's own
rules and French words (``app.ingest.school_spec``), then written by the import's own
per-record code (``app.ingest.school._Upsert``): a record edited on a page and the same
record imported from the file end up the same.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from app.ingest.core import Done, Refusal, Scope, handles
from app.ingest.office_events import (
    SaveCustomer,
    SaveOperationType,
    SaveStation,
    SaveWps,
    SetGrid,
)
from app.ingest.school import _Upsert
from app.ingest.school_spec import (
    IDENT,
    IDENT_WORDS,
    MQTT_DEVICE,
    MQTT_DEVICE_WORDS,
    PROCESS,
    PROCESS_WORDS,
    SPAN_LIMITS,
    STATION_CODE,
    STATION_CODE_WORDS,
    UPPER_IDENT,
    UPPER_IDENT_WORDS,
    CustomerSpec,
    OperationTypeSpec,
    StationSpec,
    WpsSpec,
    span_problem,
)
from app.models import (
    Competency,
    Customer,
    Framework,
    Habilitation,
    OperationType,
    Station,
    Wps,
)
from app.models.production import STATION_KINDS

CHANGE_WORDS = {"created": "créé", "updated": "modifié", "unchanged": "inchangé"}


def _invalid(field: str, message: str) -> Refusal:
    """Return the refusal of a form's field, its French message naming the field."""
    return Refusal("invalid", f"{field} : {message}", f"invalid {field}: {message}", field=field)


def _text(
    field: str,
    value: str | None,
    *,
    max_len: int,
    pattern: re.Pattern[str] | None = None,
    what: str = "",
) -> str:
    """Return a required field's text, checked as the school file checks it."""
    text = (value or "").strip()
    if not text:
        raise _invalid(field, "ne peut pas être vide")
    if len(text) > max_len:
        raise _invalid(field, f"trop long ({len(text)} caractères, {max_len} au plus)")
    if pattern is not None and not pattern.fullmatch(text):
        raise _invalid(field, f"« {text} » n'est pas {what or 'au bon format'}")
    return text


def _optional(field: str, value: str | None, **kwargs: Any) -> str | None:
    """Return an optional field's text, or None when it is blank."""
    if value is None or not value.strip():
        return None
    return _text(field, value, **kwargs)


def _kind(field: str, value: str | None, *, required: bool) -> str | None:
    """Return a station kind, one of STATION_KINDS."""
    kind = (value or "").strip()
    if not kind:
        if required:
            raise _invalid(field, "ne peut pas être vide")
        return None
    if kind not in STATION_KINDS:
        raise _invalid(field, f"type de poste « {kind} » inconnu ({', '.join(STATION_KINDS)})")
    return kind


def _habilitations(scope: Scope, codes: tuple[str, ...]) -> dict[str, Habilitation]:
    """Return the site's habilitations a record requires, each known and named once."""
    known = {
        h.code: h
        for h in scope.session.execute(
            select(Habilitation).where(Habilitation.site_id == scope.site_id)
        ).scalars()
    }
    seen: set[str] = set()
    for code in codes:
        if code not in known:
            raise _invalid("Habilitations", f"habilitation « {code} » inconnue")
        if code in seen:
            raise _invalid("Habilitations", f"habilitation « {code} » en double")
        seen.add(code)
    return {code: known[code] for code in codes}


def _exists(scope: Scope, model: Any, code: str) -> Any:
    """Return a record of the site by its code, or None."""
    return scope.session.execute(
        select(model).where(model.site_id == scope.site_id, model.code == code)
    ).scalar_one_or_none()


def _refuse_existing(what: str, code: str) -> Refusal:
    return Refusal(
        "exists",
        f"{what} {code} existe déjà : ouvrez-le dans la liste pour le modifier.",
        f"{code} exists",
        field="Code",
    )


def _done(what: str, code: str, change: str, body: dict[str, Any]) -> Done:
    return Done(f"{what} {code} {CHANGE_WORDS[change]}.", {**body, "change": change})


@handles(SaveCustomer, atomic=True)
def save_customer(scope: Scope, event: SaveCustomer) -> Done:
    """Create or change a customer of the site."""
    code = _text("Code", event.code, max_len=40, pattern=IDENT, what=IDENT_WORDS)
    name = _text("Nom", event.name, max_len=150)
    if event.create and _exists(scope, Customer, code) is not None:
        raise _refuse_existing("Le client", code)
    upsert = _Upsert.at_site(scope.session, scope.site_id, scope.event_id)
    _customer, change = upsert.customer(CustomerSpec((), code, name))
    scope.session.flush()
    return _done("Client", code, change, {"customer": code})


@handles(SaveStation, atomic=True)
def save_station(scope: Scope, event: SaveStation) -> Done:
    """Create or change a station: name, kind, MQTT device (unique on the site), requirements."""
    code = _text("Code", event.code, max_len=40, pattern=STATION_CODE, what=STATION_CODE_WORDS)
    name = _text("Nom", event.name, max_len=100)
    kind = _kind("Type de poste", event.kind, required=True)
    assert kind is not None
    device = _optional(
        "Appareil MQTT",
        event.mqtt_device,
        max_len=40,
        pattern=MQTT_DEVICE,
        what=MQTT_DEVICE_WORDS,
    )
    habilitations = _habilitations(scope, event.requires)
    station = _exists(scope, Station, code)
    if event.create and station is not None:
        raise _refuse_existing("Le poste", code)
    if device is not None:
        holder = scope.session.execute(
            select(Station.code).where(
                Station.site_id == scope.site_id,
                Station.mqtt_device == device,
                Station.code != code,
            )
        ).scalar()
        if holder is not None:
            raise Refusal(
                "mqtt_device_taken",
                f"Appareil MQTT : « {device} » est déjà celui du poste {holder} "
                "(un appareil ne sert qu'à un poste).",
                f"mqtt device {device!r} is station {holder}'s",
                field="Appareil MQTT",
            )
    upsert = _Upsert.at_site(scope.session, scope.site_id, scope.event_id)
    change = upsert.station(
        StationSpec((), code, name, kind, device, list(event.requires)), habilitations, station
    )
    scope.session.flush()
    return _done("Poste", code, change, {"station": code})


def _span(field: str, low: float, high: float, limit: float) -> tuple[float, float]:
    """Return a WPS range, finite, positive, min < max and within the field's limit."""
    try:
        low, high = float(low), float(high)
    except (TypeError, ValueError, OverflowError):
        raise _invalid(field, "une plage [min, max] de deux nombres est attendue") from None
    problem = span_problem(low, high, limit, strict=True)
    if problem is not None:
        raise _invalid(field, problem)
    return low, high


@handles(SaveWps, atomic=True)
def save_wps(scope: Scope, event: SaveWps) -> Done:
    """Create or change a WPS (DMOS) and its ranges."""
    code = _text("Code", event.code, max_len=40, pattern=UPPER_IDENT, what=UPPER_IDENT_WORDS)
    process = _text("Procédé", event.process, max_len=3, pattern=PROCESS, what=PROCESS_WORDS)
    position = _optional("Position", event.position, max_len=10)
    i_a = _span("Intensité (A)", event.i_min_a, event.i_max_a, SPAN_LIMITS["i_a"])
    u_v = _span("Tension (V)", event.u_min_v, event.u_max_v, SPAN_LIMITS["u_v"])
    q: tuple[float, float] | None = None
    if event.q_min_kj_mm is not None or event.q_max_kj_mm is not None:
        if event.q_min_kj_mm is None or event.q_max_kj_mm is None:
            raise _invalid("Énergie (kJ/mm)", "donnez le minimum et le maximum, ou aucun des deux")
        q = _span("Énergie (kJ/mm)", event.q_min_kj_mm, event.q_max_kj_mm, SPAN_LIMITS["q_kj_mm"])
    if event.create and _exists(scope, Wps, code) is not None:
        raise _refuse_existing("Le DMOS", code)
    upsert = _Upsert.at_site(scope.session, scope.site_id, scope.event_id)
    _wps, change = upsert.one_wps(WpsSpec((), code, process, position, i_a, u_v, q))
    scope.session.flush()
    return _done("DMOS", code, change, {"wps": code})


@handles(SaveOperationType, atomic=True)
def save_operation_type(scope: Scope, event: SaveOperationType) -> Done:
    """Create or change an operation type (its competencies are the grid's)."""
    code = _text("Code", event.code, max_len=40, pattern=UPPER_IDENT, what=UPPER_IDENT_WORDS)
    name = _text("Nom", event.name, max_len=120)
    process = _optional("Procédé", event.process, max_len=3, pattern=PROCESS, what=PROCESS_WORDS)
    kind = _kind("Type de poste", event.station_kind, required=False)
    habilitations = _habilitations(scope, event.requires)
    if event.create and _exists(scope, OperationType, code) is not None:
        raise _refuse_existing("Le type d'opération", code)
    upsert = _Upsert.at_site(scope.session, scope.site_id, scope.event_id)
    _op_type, change = upsert.operation_type(
        OperationTypeSpec((), code, name, process, kind, [], list(event.requires)),
        habilitations,
        None,
    )
    scope.session.flush()
    return _done("Type d'opération", code, change, {"operation_type": code})


@handles(SetGrid, atomic=True)
def set_grid(scope: Scope, event: SetGrid) -> Done:
    """Set which of one framework's competencies each operation type of the site evidences."""
    framework = _exists(scope, Framework, event.framework)
    if framework is None:
        raise Refusal(
            "not_found",
            f"Référentiel « {event.framework} » inconnu.",
            f"unknown framework {event.framework!r}",
        )
    competencies = {
        c.code: c
        for c in scope.session.execute(
            select(Competency).where(Competency.framework_id == framework.id)
        ).scalars()
    }
    types = {
        t.code: t
        for t in scope.session.execute(
            select(OperationType).where(OperationType.site_id == scope.site_id)
        ).scalars()
    }
    wanted: dict[str, set[int]] = {code: set() for code in types}
    for type_code, comp_code in event.cells:
        if type_code not in types:
            raise _invalid("Grille", f"type d'opération « {type_code} » inconnu")
        if comp_code not in competencies:
            raise _invalid("Grille", f"compétence « {event.framework}:{comp_code} » inconnue")
        wanted[type_code].add(competencies[comp_code].id)
    ours = {c.id for c in competencies.values()}
    added = removed = 0
    changed_types: list[str] = []
    for type_code, op_type in sorted(types.items()):
        current = {c.id for c in op_type.competencies if c.id in ours}
        if current == wanted[type_code]:
            continue
        added += len(wanted[type_code] - current)
        removed += len(current - wanted[type_code])
        changed_types.append(type_code)
        keep = [c for c in op_type.competencies if c.id not in ours]
        op_type.competencies = keep + [
            c for c in competencies.values() if c.id in wanted[type_code]
        ]
    scope.session.flush()
    if not changed_types:
        message = f"Grille {framework.code} inchangée."
    else:
        message = (
            f"Grille {framework.code} enregistrée : {added} case(s) cochée(s), "
            f"{removed} décochée(s)."
        )
    return Done(
        message,
        {
            "framework": framework.code,
            "added": added,
            "removed": removed,
            "operation_types": changed_types,
        },
    )
