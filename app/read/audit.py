"""The audit log: what people did on pages and on the command line, newest first.

The event log is the audit log. This page reads the events of people (channels ``web``
and ``cli``: the office's changes, reviews, exports, sign-ins…) of one site, through the
partial index ``ix_events_site_people (site_id, id) WHERE channel IN ('web', 'cli')`` —
the statement repeats that condition with literal values so that SQLite can use it —
fifty at a time, keyset-paginated on the id (``before``). It words each event in French
(what, about whom or what, accepted or refused with its message). Payloads never hold a
password nor a secret; nothing here writes, and there is nothing to edit or delete.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, and_, false, literal_column, or_, select
from sqlalchemy.orm import Session

from app.models import Event, StaffUser
from app.read.board import workshop_timezone

PAGE_SIZE = 50
CLI = "cli"

# (value of the filter, French label, condition on the kind)
_GROUPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("bureau", "Bureau", ("office.%", "labels.allocate")),
    ("fichier", "Fichier de l'école", ("data.import",)),
    ("evaluations", "Évaluations", ("piece.review", "piece.photo", "record.%")),
    ("soudures", "Soudures", ("weld.assign",)),
    ("comptes", "Comptes et connexions", ("staff.%",)),
    ("jetons", "Jetons et bornes", ("token.%", "kiosk.%")),
    ("rgpd", "RGPD", ("rgpd.%",)),
    ("exports", "Exports", ("record.export",)),
)
KIND_GROUPS: tuple[tuple[str, str], ...] = (
    *((value, label) for value, label, _ in _GROUPS),
    ("autres", "Autres"),
)

WHAT: dict[str, str] = {
    "office.student": "Fiche élève modifiée",
    "office.badge": "Badge donné",
    "office.habilitation": "Habilitation enregistrée",
    "office.student_habilitation": "Habilitation d'un élève modifiée",
    "office.customer": "Client enregistré",
    "office.station": "Poste enregistré",
    "office.wps": "DMOS enregistré",
    "office.operation_type": "Type d'opération enregistré",
    "office.grid": "Grille des compétences modifiée",
    "office.template": "Gamme type enregistrée",
    "office.work_order": "Ordre de fabrication créé",
    "office.work_order_edit": "Ordre de fabrication modifié",
    "office.work_order_status": "Statut d'un ordre de fabrication changé",
    "office.assign": "Affectation d'une opération",
    "labels.allocate": "Étiquettes de pièces imprimées",
    "data.import": "Fichier de l'école importé",
    "piece.review": "Pièce évaluée",
    "piece.photo": "Photo d'une pièce ajoutée",
    "record.self": "Auto-évaluation",
    "record.level": "Niveau d'une compétence fixé",
    "record.rule": "Règle de maîtrise changée",
    "record.confirm": "Continuité de soudage confirmée",
    "record.export": "Livret ou données exportés",
    "weld.assign": "Soudure attribuée",
    "staff.create": "Compte créé",
    "staff.password": "Mot de passe changé",
    "staff.sign_in": "Connexion",
    "staff.sign_out": "Déconnexion",
    "staff.revoke_sessions": "Sessions fermées",
    "token.create": "Jeton d'appareil créé",
    "token.revoke": "Jeton d'appareil révoqué",
    "kiosk.enrol": "Borne inscrite",
    "kiosk.activate": "Borne activée",
    "rgpd.erase": "Données d'un élève effacées",
    "day.close": "Journée close",
    "scan": "Scan",
    "http.bad": "Requête illisible",
}
VERDICTS = {"conforme": "conforme", "a_reprendre": "à reprendre", "rebut": "rebut"}
STATUSES = {"open": "ouvert", "closed": "clos", "cancelled": "annulé"}
# The payload's keys that name what an event is about, in the order they are looked for.
SUBJECT_KEYS = (
    ("number", "OF"),
    ("work_order", "OF"),
    ("piece", "pièce"),
    ("student", "élève"),
    ("operation", "opération"),
    ("customer", "client"),
    ("station", "poste"),
    ("habilitation", "habilitation"),
    ("wps", "DMOS"),
    ("operation_type", "opération"),
    ("template", "gamme"),
    ("framework", "référentiel"),
    ("badge", "badge"),
    ("weld", "soudure"),
    ("email", "compte"),
    ("filename", "fichier"),
    ("name", "nom"),
    ("day", "jour"),
)


def _like_any(patterns: tuple[str, ...]) -> ColumnElement[bool]:
    return or_(
        *(
            Event.kind.like(pattern) if pattern.endswith("%") else Event.kind == pattern
            for pattern in patterns
        )
    )


def kind_condition(group: str) -> ColumnElement[bool] | None:
    """Return the condition on an event's kind of a filter group (None: not a group)."""
    for value, _, patterns in _GROUPS:
        if value == group:
            condition = _like_any(patterns)
            if value == "evaluations":
                condition = and_(condition, Event.kind != "record.export")
            return condition
    if group == "autres":
        known = [_like_any(patterns) for _, _, patterns in _GROUPS]
        return ~or_(*known) if known else false()
    return None


def group_of(kind: str) -> str:
    """Return the French label of the group an event kind belongs to."""
    if kind == "record.export":
        return "Exports"
    for _, label, patterns in _GROUPS:
        for pattern in patterns:
            if (pattern.endswith("%") and kind.startswith(pattern[:-1])) or kind == pattern:
                return label
    return "Autres"


def day_bounds(first: date | None, last: date | None, zone: tzinfo) -> tuple[Any, Any]:
    """Return the instants a range of local days (both included) begins and ends."""
    start = datetime.combine(first, time(0), zone) if first else None
    end = datetime.combine(last + timedelta(days=1), time(0), zone) if last else None
    return start, end


def _what(kind: str, payload: dict[str, Any]) -> str:
    if kind == "office.student" and payload.get("create"):
        return "Élève créé"
    if kind == "office.student_habilitation" and payload.get("end"):
        return "Habilitation d'un élève retirée"
    if kind == "office.assign" and payload.get("remove"):
        return "Affectation retirée"
    if kind == "data.import" and payload.get("preview"):
        return "Fichier de l'école vérifié (aperçu)"
    return WHAT.get(kind, kind)


def _subject(kind: str, payload: dict[str, Any], users: dict[int, str]) -> str:
    parts: list[str] = []
    for key, word in SUBJECT_KEYS:
        value = payload.get(key)
        if value in (None, "", [], {}) or isinstance(value, dict | list | bool):
            continue
        if key == "name" and parts:
            continue
        parts.append(f"{word} {value}")
        if len(parts) == 2:
            break
    if kind == "piece.review" and payload.get("verdict"):
        parts.append(VERDICTS.get(str(payload["verdict"]), str(payload["verdict"])))
    if kind == "office.work_order_status" and payload.get("status"):
        parts.append(STATUSES.get(str(payload["status"]), str(payload["status"])))
    if kind == "weld.assign" and payload.get("students"):
        parts.append("élèves " + ", ".join(str(code) for code in payload["students"]))
    if kind == "record.export" and payload.get("format"):
        parts.append(str(payload["format"]).upper())
    if kind.startswith("staff.") and isinstance(payload.get("user"), int) and not parts:
        name = users.get(payload["user"])
        if name:
            parts.append(f"compte {name}")
    return " · ".join(parts)


def staff_of_site(session: Session, site_id: int) -> list[dict[str, str]]:
    """List the site's staff accounts, for the person filter (name and e-mail)."""
    rows = session.execute(
        select(StaffUser.name, StaffUser.email)
        .where(StaffUser.site_id == site_id)
        .order_by(StaffUser.name, StaffUser.email)
    ).all()
    return [{"name": row.name, "email": row.email} for row in rows]


def audit_page(
    session: Session,
    site_id: int,
    *,
    before: int | None = None,
    person: str | None = None,
    group: str | None = None,
    first: date | None = None,
    last: date | None = None,
    zone: tzinfo | None = None,
    size: int = PAGE_SIZE,
) -> dict[str, Any]:
    """Read one page of the site's audit log, newest first, with the filters given."""
    zone = zone or workshop_timezone()
    conditions: list[Any] = [
        Event.site_id == site_id,
        # Literal values, as in the partial index's own condition: SQLite uses a partial
        # index only when the statement's WHERE implies it without looking at parameters.
        Event.channel.in_((literal_column("'web'"), literal_column("'cli'"))),
    ]
    if before is not None:
        conditions.append(Event.id < before)
    if person == CLI:
        conditions.append(Event.channel == CLI)
    elif person:
        conditions.append(Event.actor_name == person)
    if group:
        condition = kind_condition(group)
        if condition is not None:
            conditions.append(condition)
    start, end = day_bounds(first, last, zone)
    if start is not None:
        conditions.append(Event.received_at >= start)
    if end is not None:
        conditions.append(Event.received_at < end)
    rows = session.execute(
        select(
            Event.id,
            Event.received_at,
            Event.kind,
            Event.channel,
            Event.actor_name,
            Event.user_id,
            StaffUser.name.label("user_name"),
            Event.payload,
            Event.status,
            Event.message,
            Event.redacted_at,
        )
        .outerjoin(StaffUser, StaffUser.id == Event.user_id)
        .where(*conditions)
        .order_by(Event.id.desc())
        .limit(size + 1)
    ).all()
    more = len(rows) > size
    rows = rows[:size]
    mentioned = {
        row.payload["user"]
        for row in rows
        if isinstance(row.payload, dict) and isinstance(row.payload.get("user"), int)
    }
    users: dict[int, str] = {}
    if mentioned:
        users = {
            user_id: name
            for user_id, name in session.execute(
                select(StaffUser.id, StaffUser.name).where(
                    StaffUser.id.in_(mentioned), StaffUser.site_id == site_id
                )
            )
        }
    entries = []
    for row in rows:
        payload = row.payload if isinstance(row.payload, dict) else {}
        if row.user_name:
            who = row.user_name
        elif row.channel == CLI:
            who = f"Ligne de commande ({row.actor_name or '?'})"
        else:
            who = row.actor_name or "?"
        entries.append(
            {
                "id": row.id,
                "at": row.received_at,
                "kind": row.kind,
                "group": group_of(row.kind),
                "who": who,
                "email": row.actor_name if row.channel != CLI else None,
                "what": _what(row.kind, payload),
                "subject": _subject(row.kind, payload, users),
                "accepted": row.status == "accepted",
                "message": row.message,
                "redacted": row.redacted_at is not None,
            }
        )
    return {
        "entries": entries,
        "older": entries[-1]["id"] if more and entries else None,
    }
