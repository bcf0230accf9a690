"""The office's read side of people: class lists, a student's page, the habilitations.

Plain dicts, never a write. Dates that decide whether an authorisation holds are compared
with the workshop's local day, which the page passes in (``today``): an authorisation
lapses on the first of its own end, its medical fitness and its place's derogation
(``app.models.habilitations``). Erased students are never shown by name.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import (
    Badge,
    Framework,
    Habilitation,
    Student,
    StudentHabilitation,
    holds_on,
    utcnow,
)
from app.read.board import workshop_timezone
from app.read.wording import french_order

SOON_DAYS = 30
ERASED_LABEL = "effacé"


def workshop_today(zone: tzinfo | None = None, now: datetime | None = None) -> date:
    """Return the workshop's local date today."""
    return (now or utcnow()).astimezone(zone or workshop_timezone()).date()


def lapses_on(
    until: date | None, medical_until: date | None, derogation_until: date | None
) -> date | None:
    """Return the day an authorisation lapses: the first of its dates (None: none set)."""
    limits = [limit for limit in (until, medical_until, derogation_until) if limit]
    return min(limits) if limits else None


def frameworks_of(session: Session, site_id: int) -> list[dict[str, str]]:
    """List the site's frameworks (classes): ``{"code", "title"}``."""
    return [
        {"code": row.code, "title": row.title}
        for row in session.execute(
            select(Framework.code, Framework.title)
            .where(Framework.site_id == site_id)
            .order_by(Framework.code)
        )
    ]


def habilitation_kinds(session: Session, site_id: int, today: date) -> list[dict[str, Any]]:
    """List the site's habilitations with their derogation and how many hold them today."""
    held = _in_force(session, site_id)
    rows = session.execute(
        select(Habilitation.code, Habilitation.name, Habilitation.derogation_until)
        .where(Habilitation.site_id == site_id)
        .order_by(Habilitation.code)
    ).all()
    return [
        {
            "code": row.code,
            "name": row.name,
            "derogation_until": row.derogation_until,
            "derogation_lapsed": row.derogation_until is not None and row.derogation_until < today,
            "derogation_soon": row.derogation_until is not None
            and today <= row.derogation_until <= today + timedelta(days=SOON_DAYS),
            "holders": sum(
                1 for h in held if h["habilitation"] == row.code and h["lapses_on"] >= today
            ),
        }
        for row in rows
    ]


def class_lists(
    session: Session, site_id: int, today: date | None = None, with_left: bool = False
) -> list[dict[str, Any]]:
    """List each framework's students: code, name, badges, end of schooling, authorisations.

    The class is the students still at school on ``today`` (no end of schooling, or one to
    come); those who left are counted (``left``) and listed apart (``former``) only when
    asked: ten years of a school are not a class. Erased students are only counted
    (``erased``), never listed.
    """
    badges: dict[int, list[str]] = {}
    for student_id, code in session.execute(
        select(Badge.student_id, Badge.code)
        .where(Badge.site_id == site_id, Badge.student_id.is_not(None))
        .order_by(Badge.code)
    ):
        if student_id is not None:
            badges.setdefault(student_id, []).append(code)
    held = dict(
        session.execute(
            select(StudentHabilitation.student_id, func.count())
            .where(StudentHabilitation.site_id == site_id, StudentHabilitation.ended_at.is_(None))
            .group_by(StudentHabilitation.student_id)
        ).all()
    )
    classes: dict[str, dict[str, Any]] = {
        fw["code"]: {**fw, "students": [], "former": [], "left": 0, "erased": 0}
        for fw in frameworks_of(session, site_id)
    }
    for row in session.execute(
        select(
            Student.id,
            Student.code,
            Student.name,
            Student.left_on,
            Student.erased_at,
            Framework.code.label("framework"),
        )
        .join(Framework, Framework.id == Student.framework_id)
        .where(Student.site_id == site_id)
    ):
        group = classes[row.framework]
        if row.erased_at is not None:
            group["erased"] += 1
            continue
        gone = today is not None and row.left_on is not None and row.left_on < today
        if gone:
            group["left"] += 1
            if not with_left:
                continue
        group["former" if gone else "students"].append(
            {
                "code": row.code,
                "name": row.name,
                "badges": badges.get(row.id, []),
                "left_on": row.left_on,
                "habilitations": int(held.get(row.id, 0)),
            }
        )
    for group in classes.values():
        group["students"].sort(key=lambda s: (french_order(s["name"]), s["code"]))
        group["former"].sort(key=lambda s: (s["left_on"], s["code"]), reverse=True)
    return list(classes.values())


def student_details(
    session: Session, site_id: int, code: str, today: date, zone: tzinfo | None = None
) -> dict[str, Any] | None:
    """Return one student's page: details, badges, authorisations in force and their history.

    None when the site has no student of that code. An erased student comes back with
    ``erased`` set and no name, badges nor authorisations.
    """
    row = session.execute(
        select(
            Student.id,
            Student.code,
            Student.name,
            Student.left_on,
            Student.erased_at,
            Student.active,
            Framework.code.label("framework"),
            Framework.title.label("framework_title"),
        )
        .join(Framework, Framework.id == Student.framework_id)
        .where(Student.site_id == site_id, Student.code == code)
    ).first()
    if row is None:
        return None
    if row.erased_at is not None:
        return {
            "code": row.code,
            "name": ERASED_LABEL,
            "erased": True,
            "erased_at": row.erased_at,
            "erased_on": row.erased_at.astimezone(zone or workshop_timezone()).date(),
            "framework": row.framework,
            "framework_title": row.framework_title,
            "left_on": None,
            "badges": [],
            "habilitations": [],
            "history": [],
        }
    badges = [
        {"code": badge_code, "rfid": not badge_code.startswith("B-")}
        for badge_code in session.execute(
            select(Badge.code)
            .where(Badge.site_id == site_id, Badge.student_id == row.id)
            .order_by(Badge.code)
        ).scalars()
    ]
    rows = _authorisations(session, site_id, today, student_id=row.id, with_ended=True)
    local = zone or workshop_timezone()
    for r in rows:
        # The days the history shows, in the workshop's time.
        r["recorded_on"] = r["recorded_at"].astimezone(local).date()
        r["ended_on"] = r["ended_at"].astimezone(local).date() if r["ended_at"] else None
    return {
        "code": row.code,
        "name": row.name,
        "erased": False,
        "erased_at": None,
        "active": row.active,
        "framework": row.framework,
        "framework_title": row.framework_title,
        "left_on": row.left_on,
        "badges": badges,
        "habilitations": [r for r in rows if r["ended_at"] is None],
        "history": [r for r in rows if r["ended_at"] is not None],
    }


def authorisations(session: Session, site_id: int, today: date) -> list[dict[str, Any]]:
    """List the authorisations in force of the site's students, by habilitation then name.

    Each says when it lapses (``lapses_on``), whether it has (``lapsed``) and whether it
    lapses within a month (``soon``).
    """
    return _authorisations(session, site_id, today)


def expiring(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the authorisations that lapse within the month, soonest first."""
    return sorted((r for r in rows if r["soon"]), key=lambda r: (r["lapses_on"], r["sort"]))


def inspection(session: Session, site_id: int, today: date) -> dict[str, Any]:
    """Return the list for the labour inspector: each habilitation, its derogation, and the
    students authorised on the day with the grounds (medical fitness, training)."""
    rows = [r for r in _authorisations(session, site_id, today) if r["valid"]]
    kinds = habilitation_kinds(session, site_id, today)
    for kind in kinds:
        kind["students"] = [r for r in rows if r["habilitation"] == kind["code"]]
    return {"kinds": kinds, "count": len(rows)}


def _in_force(session: Session, site_id: int) -> list[dict[str, Any]]:
    return [
        {"habilitation": r["habilitation"], "lapses_on": r["lapses_on"]}
        for r in _authorisations(session, site_id, date.min)
    ]


def _authorisations(
    session: Session,
    site_id: int,
    today: date,
    *,
    student_id: int | None = None,
    with_ended: bool = False,
) -> list[dict[str, Any]]:
    query = (
        select(
            StudentHabilitation.until,
            StudentHabilitation.medical_until,
            StudentHabilitation.trained_on,
            StudentHabilitation.trainer,
            StudentHabilitation.recorded_at,
            StudentHabilitation.ended_at,
            Habilitation.code.label("habilitation"),
            Habilitation.name.label("habilitation_name"),
            Habilitation.derogation_until,
            Student.code.label("student"),
            Student.name.label("student_name"),
            Framework.code.label("framework"),
        )
        .join(Habilitation, Habilitation.id == StudentHabilitation.habilitation_id)
        .join(Student, Student.id == StudentHabilitation.student_id)
        .join(Framework, Framework.id == Student.framework_id)
        .where(StudentHabilitation.site_id == site_id, Student.erased_at.is_(None))
        .order_by(StudentHabilitation.recorded_at.desc(), StudentHabilitation.id.desc())
    )
    if student_id is not None:
        query = query.where(StudentHabilitation.student_id == student_id)
    if not with_ended:
        query = query.where(StudentHabilitation.ended_at.is_(None))
    soon_until = today + timedelta(days=SOON_DAYS)
    result = []
    for row in session.execute(query):
        lapse = lapses_on(row.until, row.medical_until, row.derogation_until) or row.until
        valid = holds_on(today, row.until, row.medical_until, row.derogation_until)
        result.append(
            {
                "student": row.student,
                "student_name": row.student_name,
                "framework": row.framework,
                "habilitation": row.habilitation,
                "habilitation_name": row.habilitation_name,
                "until": row.until,
                "medical_until": row.medical_until,
                "trained_on": row.trained_on,
                "trainer": row.trainer,
                "derogation_until": row.derogation_until,
                "recorded_at": row.recorded_at,
                "ended_at": row.ended_at,
                "lapses_on": lapse,
                "lapse_reason": _reason(lapse, row.until, row.medical_until, row.derogation_until),
                "valid": valid,
                "lapsed": not valid,
                "soon": valid and lapse <= soon_until,
                "sort": (french_order(row.student_name), row.student),
            }
        )
    if not with_ended:
        result.sort(key=lambda r: (r["habilitation"], r["sort"]))
    return result


def _reason(
    lapse: date, until: date, medical_until: date | None, derogation_until: date | None
) -> str:
    """Say which date makes an authorisation lapse (in French, for the pages)."""
    if derogation_until is not None and lapse == derogation_until and lapse != until:
        return "dérogation du lieu"
    if medical_until is not None and lapse == medical_until and lapse != until:
        return "aptitude médicale"
    return "fin de l'habilitation"
