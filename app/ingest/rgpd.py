"""A student's erasure (RGPD art. 17): on request, or past the retention period.

One transaction does it all, or nothing. The student's row keeps its id, so the pieces,
runs, welds, presences and levels they made stay linked and counted (the school's
production and the board do not change), but it no longer says who they were: the name
becomes « Élève effacé », the code a neutral ``EFF-<id>``. Their badges and habilitation
rows (the medical fitness dates) are deleted; the free-text comments written about them
are emptied. Then every row of the site that still names them is rewritten: the event log
(payload, raw body, code, message, reason, answer), the MQTT outbox and the comments about
their teammates' work. In those rows, the name, the old code, each badge code and, in rows
about them, the first name, become « [effacé] ».

The event log is append-only: its trigger lets exactly this UPDATE through (a new
``redacted_at``, the row's identity, kind, outcome and time unchanged). A rewritten row's
``body_sha256`` becomes the digest of what it says now: the old one was a digest of the
badge code with the scan's public fields, which could be found again by trying every code.

The erasure's own event keeps that an erasure happened (who, when, why) and of whom only
the neutral code: its payload is rewritten to ``{"student": "EFF-…", "reason": …}`` before
the core writes its outcome. A replay of the same request (same key) therefore answers a
conflict, never a second erasure.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, and_, bindparam, cast, delete, or_, select, update

from app.ingest.core import Done, Refusal, Scope, handles
from app.ingest.office_events import EraseStudent
from app.models import (
    Assessment,
    Badge,
    Event,
    Evidence,
    LevelOverride,
    MqttOutbox,
    Presence,
    RunParticipant,
    Student,
    StudentHabilitation,
    first_name,
    safe_text,
    table_of,
)

STUDENTS = table_of(Student)
BADGES = table_of(Badge)
EVENTS = table_of(Event)
EVIDENCE = table_of(Evidence)
ASSESSMENTS = table_of(Assessment)
OVERRIDES = table_of(LevelOverride)
HELD = table_of(StudentHabilitation)
PRESENCES = table_of(Presence)
PARTICIPANTS = table_of(RunParticipant)
OUTBOX = table_of(MqttOutbox)

ERASED_NAME = "Élève effacé"
REDACTED = "[effacé]"
# LevelOverride.reason is NOT NULL: what stands for the teacher's words.
ERASED_REASON = "(effacé)"
REASONS = {"request": "demande de l'élève ou de ses parents", "retention": "durée de conservation"}
# What a habilitation's grounds say of the student's health and training: a dict naming
# the student loses them too (the rows themselves are deleted).
GROUNDS = ("medical_until", "trained_on", "trainer")
# The event columns that may carry a name or a code, as text.
TEXT_COLUMNS = ("raw", "code", "message", "reason")
# Their lengths: « [effacé] » is longer than a three-letter first name.
MAX_LENGTHS = {"code": 200, "message": 400, "reason": 400}
JSON_COLUMNS = ("payload", "response")


def erased_code(student_id: int) -> str:
    """Return the neutral code an erased student is given (it reveals nothing but the row)."""
    return f"EFF-{student_id:06d}"


def digest(payload: Any) -> str:
    """Return the SHA-256 of a payload's canonical JSON (as ``app.boundary.digest``)."""
    text = json.dumps(payload, sort_keys=True, ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Needles:
    """What names a student: the strings to find, and how to replace them."""

    strong: tuple[str, ...]  # name, code, badges: replaced wherever they are
    first: str  # the first name: replaced only in rows about the student

    def patterns(self, about: bool) -> list[re.Pattern[str]]:
        """Return the replacement patterns, longest first (the first name only when ``about``).

        Each matches the string or its JSON-escaped form (a raw body keeps « L\\u00e9a »).
        """
        words = sorted({w for w in self.strong if w}, key=len, reverse=True)
        if about and self.first and self.first not in words:
            words.append(self.first)
        patterns = []
        for word in words:
            forms = sorted({word, json.dumps(word, ensure_ascii=True)[1:-1]}, key=len, reverse=True)
            either = "|".join(re.escape(form) for form in forms)
            patterns.append(re.compile(rf"(?<!\w)(?:{either})(?!\w)", re.IGNORECASE))
        return patterns

    def like_forms(self, *, first: bool = False) -> list[str]:
        """Return the LIKE patterns: each string, and its JSON-escaped form (``L\\u00e9a``)."""
        words = [self.first] if first else list(self.strong)
        forms: set[str] = set()
        for word in words:
            if not word:
                continue
            forms.add(word)
            forms.add(json.dumps(word, ensure_ascii=True)[1:-1])
        return [f"%{_escape_like(form)}%" for form in sorted(forms)]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def redact_text(text: str, patterns: list[re.Pattern[str]]) -> str:
    """Replace every pattern in a text by « [effacé] »."""
    for pattern in patterns:
        text = pattern.sub(REDACTED, text)
    return text


def redact_value(value: Any, patterns: list[re.Pattern[str]], codes: frozenset[str]) -> Any:
    """Rewrite a JSON value: every string (keys too) redacted; a dict naming the student
    also loses its habilitation grounds (``medical_until``, ``trained_on``, ``trainer``)."""
    if isinstance(value, str):
        return redact_text(value, patterns)
    if isinstance(value, list):
        return [redact_value(item, patterns, codes) for item in value]
    if isinstance(value, dict):
        names_them = any(
            isinstance(item, str) and item.casefold() in codes for item in value.values()
        )
        rewritten: dict[str, Any] = {}
        for key, item in value.items():
            if names_them and key in GROUNDS and item is not None:
                rewritten[redact_text(str(key), patterns)] = REDACTED
            else:
                rewritten[redact_text(str(key), patterns)] = redact_value(item, patterns, codes)
        return rewritten
    return value


@handles(EraseStudent)
def erase_student(scope: Scope, erase: EraseStudent) -> Done:
    """Erase a student's personal data and every trace of it, keeping what they made counted."""
    if erase.reason not in REASONS:
        raise Refusal(
            "bad_reason",
            f"Motif d'effacement inconnu : {erase.reason} (request ou retention).",
            f"unknown erasure reason {erase.reason!r}",
        )
    student = scope.conn.execute(
        select(STUDENTS.c.id, STUDENTS.c.code, STUDENTS.c.name, STUDENTS.c.erased_at).where(
            STUDENTS.c.site_id == scope.site_id, STUDENTS.c.code == erase.student_code
        )
    ).first()
    if student is None:
        raise Refusal("not_found", f"Élève {erase.student_code} inconnu.", "unknown student")
    scope.columns["student_id"] = student.id
    if student.erased_at is not None:
        raise Refusal(
            "already_erased",
            f"L'élève {erase.student_code} a déjà été effacé·e.",
            "student already erased",
        )
    badges = list(
        scope.conn.execute(select(BADGES.c.code).where(BADGES.c.student_id == student.id)).scalars()
    )
    new_code = erased_code(student.id)
    needles = Needles((student.name, student.code, *badges), first_name(student.name))
    codes = frozenset(word.casefold() for word in (student.name, student.code, *badges))
    now = scope.now

    scope.write(
        update(STUDENTS)
        .where(STUDENTS.c.id == student.id)
        .values(name=ERASED_NAME, code=new_code, erased_at=now, active=False)
    )
    scope.write(delete(BADGES).where(BADGES.c.student_id == student.id))
    # Nothing references a habilitation row (checked: no foreign key to it): the medical
    # dates and the training go with it.
    held = scope.write(delete(HELD).where(HELD.c.student_id == student.id)).rowcount
    comments = _erase_comments(scope, student.id, needles)
    scope.write(
        update(OVERRIDES).where(OVERRIDES.c.student_id == student.id).values(reason=ERASED_REASON)
    )
    events = _redact_events(scope, student.id, needles, codes)
    _redact_outbox(scope, needles)
    # The erasure's own row: the neutral code only, and the digest of that.
    own = {"student": new_code, "reason": erase.reason}
    scope.write(
        update(EVENTS)
        .where(EVENTS.c.id == scope.event_id)
        .values(payload=own, body_sha256=digest(own), redacted_at=now)
    )
    return Done(
        f"Élève effacé·e : désormais {new_code} ({REASONS[erase.reason]}). "
        f"{len(badges)} badge(s) et {held} habilitation(s) supprimés, {comments} commentaire(s) "
        f"vidé(s) ou réécrit(s), {events} événement(s) réécrit(s) ; les pièces et les niveaux "
        "restent.",
        {
            "student": new_code,
            "reason": erase.reason,
            "badges": len(badges),
            "habilitations": held,
            "comments": comments,
            "events": events,
        },
    )


def _erase_comments(scope: Scope, student_id: int, needles: Needles) -> int:
    """Empty the comments on the student's evidence; redact those on their teammates'."""
    own = select(EVIDENCE.c.id).where(EVIDENCE.c.student_id == student_id)
    emptied = scope.write(
        update(ASSESSMENTS)
        .where(ASSESSMENTS.c.evidence_id.in_(own), ASSESSMENTS.c.comment.is_not(None))
        .values(comment=None)
    ).rowcount
    # A comment on a teammate's evidence may name them: by name or code anywhere, by
    # first name when it is about a run they worked on.
    their_runs = select(PARTICIPANTS.c.run_id).where(PARTICIPANTS.c.student_id == student_id)
    strong = or_(*(ASSESSMENTS.c.comment.ilike(f, escape="\\") for f in needles.like_forms()))
    first = or_(
        *(ASSESSMENTS.c.comment.ilike(f, escape="\\") for f in needles.like_forms(first=True))
    )
    rows = scope.conn.execute(
        select(ASSESSMENTS.c.id, ASSESSMENTS.c.comment, EVIDENCE.c.run_id.in_(their_runs))
        .join(EVIDENCE, EVIDENCE.c.id == ASSESSMENTS.c.evidence_id)
        .join(STUDENTS, STUDENTS.c.id == EVIDENCE.c.student_id)
        .where(
            STUDENTS.c.site_id == scope.site_id,
            ASSESSMENTS.c.comment.is_not(None),
            or_(strong, first),
        )
    ).all()
    changes = []
    for row in rows:
        text = redact_text(row.comment, needles.patterns(about=bool(row[2])))
        if text != row.comment:
            changes.append({"a_id": row.id, "a_comment": text})
    if changes:
        scope.write(
            update(ASSESSMENTS)
            .where(ASSESSMENTS.c.id == bindparam("a_id"))
            .values(comment=bindparam("a_comment")),
            changes,
        )
    return int(emptied or 0) + len(changes) + _redact_reasons(scope, student_id, needles)


def _redact_reasons(scope: Scope, student_id: int, needles: Needles) -> int:
    """Rewrite the reasons of levels set by hand for others that name the student."""
    strong = or_(*(OVERRIDES.c.reason.ilike(f, escape="\\") for f in needles.like_forms()))
    rows = scope.conn.execute(
        select(OVERRIDES.c.id, OVERRIDES.c.reason)
        .join(STUDENTS, STUDENTS.c.id == OVERRIDES.c.student_id)
        .where(STUDENTS.c.site_id == scope.site_id, OVERRIDES.c.student_id != student_id, strong)
    ).all()
    patterns = needles.patterns(about=True)
    changes = [
        {"r_id": row.id, "r_reason": safe_text(redact_text(row.reason, patterns), 300)}
        for row in rows
        if redact_text(row.reason, patterns) != row.reason
    ]
    if changes:
        scope.write(
            update(OVERRIDES)
            .where(OVERRIDES.c.id == bindparam("r_id"))
            .values(reason=bindparam("r_reason")),
            changes,
        )
    return len(changes)


def _redact_events(scope: Scope, student_id: int, needles: Needles, codes: frozenset[str]) -> int:
    """Rewrite every event of the site that names the student; return how many."""
    texts = [cast(EVENTS.c[name], Text) for name in (*TEXT_COLUMNS, *JSON_COLUMNS)]
    strong = or_(*(t.ilike(f, escape="\\") for t in texts for f in needles.like_forms()))
    # What the shop said at a station while they were badged in there (« Lucas et Léa… »):
    # about them, even when the row names another student.
    first = or_(*(t.ilike(f, escape="\\") for t in texts for f in needles.like_forms(first=True)))
    present = (
        select(PRESENCES.c.id)
        .where(
            PRESENCES.c.student_id == student_id,
            PRESENCES.c.station_id == EVENTS.c.station_id,
            PRESENCES.c.started_at <= EVENTS.c.received_at,
            or_(PRESENCES.c.ended_at.is_(None), PRESENCES.c.ended_at >= EVENTS.c.received_at),
        )
        .exists()
    )
    # A row that names them (by name, code or badge) is about them: its first name is theirs.
    about = or_(EVENTS.c.student_id == student_id, strong, and_first(first, present))
    rows = scope.conn.execute(
        select(
            EVENTS.c.id,
            EVENTS.c.student_id,
            *(EVENTS.c[name] for name in (*TEXT_COLUMNS, *JSON_COLUMNS)),
            about.label("about"),
        ).where(
            EVENTS.c.site_id == scope.site_id,
            EVENTS.c.id != scope.event_id,
            about,
        )
    ).all()
    changes = []
    for row in rows:
        patterns = needles.patterns(about=bool(row.about))
        values: dict[str, Any] = {}
        for name in TEXT_COLUMNS:
            old = getattr(row, name)
            new = redact_text(old, patterns) if old is not None else None
            if new is not None and name in MAX_LENGTHS:
                new = safe_text(new, MAX_LENGTHS[name])
            values[f"e_{name}"] = new
        for name in JSON_COLUMNS:
            old = getattr(row, name)
            values[f"e_{name}"] = redact_value(old, patterns, codes) if old is not None else None
        values["e_sha"] = digest(values["e_payload"])
        values["e_id"] = row.id
        changes.append(values)
    if changes:
        scope.write(
            update(EVENTS)
            .where(EVENTS.c.id == bindparam("e_id"))
            .values(
                {name: bindparam(f"e_{name}") for name in (*TEXT_COLUMNS, *JSON_COLUMNS)}
                | {"body_sha256": bindparam("e_sha"), "redacted_at": scope.now}
            ),
            changes,
        )
    return len(changes)


def and_first(first: Any, present: Any) -> Any:
    """Return the condition « names the first name, at a station while they were there »."""
    return and_(first, present)


def _redact_outbox(scope: Scope, needles: Needles) -> None:
    """Rewrite the MQTT messages still queued (or sent) that name the student."""
    strong = or_(*(OUTBOX.c.payload.ilike(f, escape="\\") for f in needles.like_forms()))
    rows = scope.conn.execute(
        select(OUTBOX.c.id, OUTBOX.c.payload).where(OUTBOX.c.site_id == scope.site_id, strong)
    ).all()
    patterns = needles.patterns(about=False)
    changes = [
        {"o_id": row.id, "o_payload": redact_text(row.payload, patterns)}
        for row in rows
        if redact_text(row.payload, patterns) != row.payload
    ]
    if changes:
        scope.write(
            update(OUTBOX)
            .where(OUTBOX.c.id == bindparam("o_id"))
            .values(payload=bindparam("o_payload")),
            changes,
        )
