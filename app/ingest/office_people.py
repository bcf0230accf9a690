"""The office's edits of people: students, their badges and their habilitations.

Each handler checks everything before it writes and refuses in French. A badge given on
the office's page is read as the scan path reads it (``labels.codes.parse_code``), so the
code stored is the one a station will look up; a badge it replaces is deleted in the same
transaction and is refused at the next scan (the scan path reads the badge table, no
cache). An authorisation is never deleted: a change of terms ends the row in force and
writes a new one, an end only ends it (the history the labour inspector may ask for).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Any

from sqlalchemy import delete, insert, select, update

from app.ingest.core import Done, Refusal, Scope, handles
from app.ingest.office_events import (
    GiveBadge,
    SaveHabilitation,
    SaveStudent,
    SetStudentHabilitation,
)
from app.models import (
    Badge,
    Framework,
    Habilitation,
    Student,
    StudentHabilitation,
    table_of,
)
from labels.codes import CodeKind, ParsedCode, parse_code

STUDENTS = table_of(Student)
BADGES = table_of(Badge)
FRAMEWORKS = table_of(Framework)
HABILITATIONS = table_of(Habilitation)
HELD = table_of(StudentHabilitation)

# The school file's identifiers (app.data.schema's IDENT and UPPER_IDENT, which the core
# may not import): a student's code, a habilitation's code.
STUDENT_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,39}")
HABILITATION_CODE = re.compile(r"[A-Z0-9][A-Z0-9-]{0,39}")
MAX_STUDENT_NAME = 80
MAX_HABILITATION_NAME = 120
MAX_TRAINER = 80
MAX_BADGE = 20


def clean_text(value: str | None, what: str, max_length: int, *, required: bool = True) -> str:
    """Return a field's text, stripped; refuse it empty, too long or with control characters."""
    text = (value or "").strip()
    if not text:
        if required:
            raise Refusal("bad_value", f"{what} : à renseigner.", f"empty {what}")
        return ""
    if len(text) > max_length:
        raise Refusal(
            "bad_value",
            f"{what} : {max_length} caractères au plus ({len(text)} donnés).",
            f"{what} longer than {max_length}",
        )
    if any(_unprintable(ch) for ch in text):
        raise Refusal(
            "bad_value",
            f"{what} : caractères invisibles ou invalides, à retirer.",
            f"control character or lone surrogate in {what}",
        )
    return text


def _unprintable(ch: str) -> bool:
    category = unicodedata.category(ch)
    # Cc: control characters (NUL, tab, newline…); Cs: a lone surrogate.
    return category in {"Cc", "Cs"}


def _student_code(code: str) -> str:
    text = (code or "").strip()
    # « nouveau » is the address of the office's form that adds a student.
    if not STUDENT_CODE.fullmatch(text) or text.casefold() == "nouveau":
        raise Refusal(
            "bad_value",
            "Code élève : lettres, chiffres et tirets, 40 caractères au plus "
            "(par exemple E2026-001).",
            "malformed student code",
        )
    return text


def _student(scope: Scope, code: str, *, editable: bool = True) -> Any:
    """Return a student of the site by code, or refuse (an erased one cannot be changed)."""
    text = (code or "").strip()
    row = scope.conn.execute(
        select(STUDENTS.c.id, STUDENTS.c.code, STUDENTS.c.name, STUDENTS.c.erased_at).where(
            STUDENTS.c.site_id == scope.site_id, STUDENTS.c.code == text
        )
    ).first()
    if row is None:
        raise Refusal("not_found", f"Élève {text} inconnu.", "unknown student")
    scope.columns["student_id"] = row.id
    if editable and row.erased_at is not None:
        raise Refusal(
            "erased",
            "Les données de cet élève ont été effacées : il ne peut plus être modifié.",
            "erased student",
        )
    return row


def _framework_id(scope: Scope, code: str) -> int:
    text = (code or "").strip()
    found = scope.conn.execute(
        select(FRAMEWORKS.c.id).where(
            FRAMEWORKS.c.site_id == scope.site_id, FRAMEWORKS.c.code == text
        )
    ).scalar()
    if found is None:
        raise Refusal(
            "bad_value",
            f"Référentiel {text or '(vide)'} inconnu : choisissez une classe de la liste.",
            "unknown framework",
        )
    return int(found)


@handles(SaveStudent)
def save_student(scope: Scope, event: SaveStudent) -> Done:
    """Create a student, or change one's name, framework and end of schooling."""
    code = _student_code(event.code)
    if event.create:
        exists = scope.conn.execute(
            select(STUDENTS.c.id).where(
                STUDENTS.c.site_id == scope.site_id, STUDENTS.c.code == code
            )
        ).first()
        if exists is not None:
            raise Refusal(
                "exists",
                f"Le code élève {code} existe déjà : choisissez-en un autre.",
                "student code taken",
            )
    else:
        student = _student(scope, code)
    name = clean_text(event.name, "Nom", MAX_STUDENT_NAME)
    framework_id = _framework_id(scope, event.framework)
    values = {"name": name, "framework_id": framework_id, "left_on": event.left_on}
    if event.create:
        student_id = scope.write(
            insert(STUDENTS)
            .values(site_id=scope.site_id, code=code, active=True, **values)
            .returning(STUDENTS.c.id)
        ).scalar_one()
        scope.columns["student_id"] = student_id
        return Done(f"Élève {code} ({name}) ajouté·e.", {"student": code, "created": True})
    scope.write(update(STUDENTS).where(STUDENTS.c.id == student.id).values(**values))
    return Done(f"Élève {code} ({name}) enregistré·e.", {"student": code, "created": False})


def badge_code(text: str) -> str:
    """Return a badge's code as a scan reads it, or refuse what is not a badge."""
    parsed = parse_code(text or "")
    if not isinstance(parsed, ParsedCode) or parsed.kind != CodeKind.BADGE:
        raise Refusal(
            "bad_value",
            "Ce n'est pas un code de badge : un badge RFID (10 caractères de 0 à 9 et A à F) "
            "ou un badge imprimé B-0001. Passez le badge devant le lecteur à nouveau.",
            f"not a badge code: {str(text)[:40]!r}",
        )
    if len(parsed.text) > MAX_BADGE:
        raise Refusal("bad_value", "Code de badge trop long.", "badge code too long")
    return parsed.text


@handles(GiveBadge)
def give_badge(scope: Scope, event: GiveBadge) -> Done:
    """Give a student a badge; delete the one it replaces, so that it stops working at once."""
    student = _student(scope, event.student_code)
    replaced: Any = None
    if event.replaces:
        old = (event.replaces or "").strip().upper()
        replaced = scope.conn.execute(
            select(BADGES.c.id, BADGES.c.code).where(
                BADGES.c.site_id == scope.site_id,
                BADGES.c.code == old,
                BADGES.c.student_id == student.id,
            )
        ).first()
        if replaced is None:
            raise Refusal(
                "not_found",
                f"Le badge {old} n'est pas un badge de cet élève.",
                "replaced badge not the student's",
            )
    code = ""
    if (event.code or "").strip() or replaced is None:
        code = badge_code(event.code)
        holder = scope.conn.execute(
            select(BADGES.c.student_id, BADGES.c.user_id).where(
                BADGES.c.site_id == scope.site_id, BADGES.c.code == code
            )
        ).first()
        if holder is not None and holder.student_id == student.id:
            raise Refusal(
                "exists", f"Le badge {code} est déjà celui de cet élève.", "badge already held"
            )
        if holder is not None:
            raise Refusal(
                "taken",
                f"Le badge {code} est déjà attribué à une autre personne : "
                "prenez un autre badge, ou faites d'abord rendre celui-ci.",
                "badge held by someone else",
            )
    if replaced is not None:
        scope.write(delete(BADGES).where(BADGES.c.id == replaced.id))
    if code:
        scope.write(insert(BADGES).values(site_id=scope.site_id, code=code, student_id=student.id))
    body = {"student": student.code, "badge": code or None, "replaced": event.replaces or None}
    if replaced is not None and code:
        message = (
            f"Badge {code} donné à {student.name} ; l'ancien badge {replaced.code} "
            "ne fonctionne plus."
        )
    elif replaced is not None:
        message = f"Badge {replaced.code} retiré à {student.name} : il ne fonctionne plus."
    else:
        message = f"Badge {code} donné à {student.name}".rstrip(".") + "."
    return Done(message, body)


@handles(SaveHabilitation)
def save_habilitation(scope: Scope, event: SaveHabilitation) -> Done:
    """Create or change a kind of habilitation and the place's derogation date for it."""
    code = (event.code or "").strip().upper()
    if not HABILITATION_CODE.fullmatch(code):
        raise Refusal(
            "bad_value",
            "Code d'habilitation : lettres, chiffres et tirets, 40 caractères au plus "
            "(par exemple PLIEUSE).",
            "malformed habilitation code",
        )
    name = clean_text(event.name, "Nom de l'habilitation", MAX_HABILITATION_NAME)
    found = scope.conn.execute(
        select(HABILITATIONS.c.id).where(
            HABILITATIONS.c.site_id == scope.site_id, HABILITATIONS.c.code == code
        )
    ).scalar()
    values = {"name": name, "derogation_until": event.derogation_until}
    if found is None:
        scope.write(insert(HABILITATIONS).values(site_id=scope.site_id, code=code, **values))
        return Done(f"Habilitation {name} ajoutée.", {"habilitation": code, "created": True})
    scope.write(update(HABILITATIONS).where(HABILITATIONS.c.id == found).values(**values))
    return Done(f"Habilitation {name} enregistrée.", {"habilitation": code, "created": False})


def _habilitation(scope: Scope, code: str) -> Any:
    text = (code or "").strip().upper()
    row = scope.conn.execute(
        select(HABILITATIONS.c.id, HABILITATIONS.c.code, HABILITATIONS.c.name).where(
            HABILITATIONS.c.site_id == scope.site_id, HABILITATIONS.c.code == text
        )
    ).first()
    if row is None:
        raise Refusal(
            "bad_value",
            f"Habilitation {text or '(vide)'} inconnue : choisissez-en une de la liste.",
            "unknown habilitation",
        )
    return row


@handles(SetStudentHabilitation)
def set_student_habilitation(scope: Scope, event: SetStudentHabilitation) -> Done:
    """Authorise a student for a habilitation on new terms (a new row), or end it."""
    student = _student(scope, event.student_code)
    habilitation = _habilitation(scope, event.habilitation)
    current = scope.conn.execute(
        select(
            HELD.c.id, HELD.c.until, HELD.c.medical_until, HELD.c.trained_on, HELD.c.trainer
        ).where(
            HELD.c.student_id == student.id,
            HELD.c.habilitation_id == habilitation.id,
            HELD.c.ended_at.is_(None),
        )
    ).first()
    body = {"student": student.code, "habilitation": habilitation.code}
    if event.end:
        if current is None:
            raise Refusal(
                "not_found",
                f"{student.name} n'a pas d'habilitation « {habilitation.name} » en cours.",
                "no authorisation in force",
            )
        _end(scope, current.id)
        return Done(
            f"Habilitation « {habilitation.name} » de {student.name} terminée.",
            {**body, "ended": True},
        )
    if event.until is None:
        raise Refusal(
            "bad_value",
            "Date de fin de l'habilitation : à renseigner.",
            "authorisation without an end date",
        )
    if event.trained_on is not None and event.until < event.trained_on:
        raise Refusal(
            "bad_value",
            "La date de fin précède la date de la formation.",
            "until before trained_on",
        )
    trainer = clean_text(event.trainer, "Formateur", MAX_TRAINER, required=False) or None
    terms: dict[str, date | str | None] = {
        "until": event.until,
        "medical_until": event.medical_until,
        "trained_on": event.trained_on,
        "trainer": trainer,
    }
    if current is not None and all(getattr(current, key) == value for key, value in terms.items()):
        return Done(
            f"Habilitation « {habilitation.name} » de {student.name} inchangée.",
            {**body, "changed": False},
        )
    if current is not None:
        # The ended row first: one authorisation in force per habilitation (unique index).
        _end(scope, current.id)
    scope.write(
        insert(HELD).values(
            site_id=scope.site_id,
            student_id=student.id,
            habilitation_id=habilitation.id,
            recorded_at=scope.now,
            event_id=scope.event_id,
            **terms,
        )
    )
    return Done(
        f"{student.name} est habilité·e « {habilitation.name} » jusqu'au "
        f"{event.until.strftime('%d/%m/%Y')}.",
        {**body, "changed": True},
    )


def _end(scope: Scope, row_id: int) -> None:
    scope.write(
        update(HELD)
        .where(HELD.c.id == row_id)
        .values(ended_at=scope.now, ended_event_id=scope.event_id)
    )
