"""A student's record (livret): current levels, history, gaps, hours, welding, continuity.

A competency's current level follows from its assessments by the site's rule: ``latest``,
the newest numeric level, or ``recent``, the N newest numeric levels weighted N..1 (newest
heaviest) and rounded half up — so early failures do not pull down a skill the student
now has. ``NE`` and ``ABS`` are not levels: the rule skips them, the history shows them.
When a piece is reviewed again, only the latest assessment of each evidence counts. A
level a teacher set by hand stands until a newer numeric assessment of that competency.

Every figure is aggregated in SQL, one query per section, on indexed columns: the record
costs what it shows, not what the school has done in ten years.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    and_,
    case,
    cast,
    exists,
    func,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session, aliased

from app.models import (
    CONTINUITY_MONTHS,
    Assessment,
    Competency,
    ContinuityConfirmation,
    Evidence,
    Framework,
    LevelOverride,
    Operation,
    OperationRun,
    OperationType,
    Piece,
    ReviewPhoto,
    RunInterval,
    RunParticipant,
    SelfAssessment,
    Site,
    StaffUser,
    Student,
    Weld,
    WeldStudent,
    WorkOrder,
    Wps,
    iso,
    months_after,
    months_before,
    utcnow,
)
from app.read.board import workshop_timezone
from app.read.wording import french_order, short_name

NUMERIC_LEVELS = ("1", "2", "3", "4")
# A level in the record's words (the reference scale of docs/contract.md §8).
LEVEL_SHORT_WORDS = {
    "NE": "non évalué",
    "ABS": "absent",
    "1": "non maîtrisé",
    "2": "insuffisamment maîtrisé",
    "3": "maîtrisé",
    "4": "bien maîtrisé",
}
DEFAULT_RULE = ("recent", 3)
PROVISIONAL_NOTE = (
    "Référentiel provisoire : ses compétences peuvent encore changer avant le texte officiel."
)


# -- the mastery rule ---------------------------------------------------------------------------


def rule_label(kind: str, n: int) -> str:
    """Say the rule in French, as the teacher reads it beside the levels."""
    if kind == "latest" or n <= 1:
        return "Dernier niveau évalué."
    weights = ", ".join(str(w) for w in range(n, 0, -1))
    return (
        f"Moyenne des {n} derniers niveaux évalués, le plus récent pèse le plus "
        f"(poids {weights}), arrondie au plus proche."
    )


def mastery_rule(session: Session, site_id: int) -> dict[str, Any]:
    """Return the site's rule: ``{"kind", "n", "label"}``."""
    row = session.execute(
        select(Site.mastery_rule, Site.mastery_n).where(Site.id == site_id)
    ).first()
    kind, n = (row.mastery_rule, int(row.mastery_n)) if row is not None else DEFAULT_RULE
    return {"kind": kind, "n": n, "label": rule_label(kind, n)}


def computed_level(levels_newest_first: Sequence[str], kind: str, n: int) -> str | None:
    """Apply the rule to a competency's levels, newest first (NE and ABS are skipped).

    ``recent``: the N newest numeric levels (fewer if there are fewer), weighted k..1
    newest heaviest, rounded half up. ``latest``: the newest numeric level.
    """
    numeric = [int(level) for level in levels_newest_first if level in NUMERIC_LEVELS]
    if not numeric:
        return None
    if kind == "latest":
        return str(numeric[0])
    recent = numeric[: max(1, n)]
    weights = range(len(recent), 0, -1)
    total = sum(w * level for w, level in zip(weights, recent, strict=True))
    weight = sum(weights)
    # Half up, in integers: floor(total / weight + 1/2).
    return str((2 * total + weight) // (2 * weight))


# -- current levels -----------------------------------------------------------------------------


def _assessment_rows(session: Session, student_id: int) -> Sequence[Any]:
    """Every assessment of a student's evidence, oldest first, with what it was about."""
    self_answer = aliased(SelfAssessment)
    return session.execute(
        select(
            Assessment.id,
            Assessment.evidence_id,
            Assessment.level,
            Assessment.comment,
            Assessment.assessed_at,
            Evidence.competency_id,
            StaffUser.name.label("by"),
            Piece.code.label("piece"),
            WorkOrder.number.label("work_order"),
            OperationType.name.label("operation"),
            Operation.step,
            self_answer.feeling,
        )
        .join(Evidence, Evidence.id == Assessment.evidence_id)
        .join(StaffUser, StaffUser.id == Assessment.assessed_by_id)
        .join(OperationRun, OperationRun.id == Evidence.run_id)
        .join(Piece, Piece.id == OperationRun.piece_id)
        .join(WorkOrder, WorkOrder.id == Piece.work_order_id)
        .join(Operation, Operation.id == OperationRun.operation_id)
        .join(OperationType, OperationType.id == Operation.operation_type_id)
        .outerjoin(
            self_answer,
            and_(
                self_answer.run_id == Evidence.run_id,
                self_answer.student_id == Evidence.student_id,
            ),
        )
        .where(Evidence.student_id == student_id)
        .order_by(Assessment.assessed_at, Assessment.id)
    ).all()


def _latest_overrides(session: Session, student_id: int) -> dict[int, Any]:
    """The newest level set by hand per competency of a student."""
    rows = session.execute(
        select(
            LevelOverride.competency_id,
            LevelOverride.level,
            LevelOverride.reason,
            LevelOverride.set_at,
            StaffUser.name.label("by"),
        )
        .join(StaffUser, StaffUser.id == LevelOverride.set_by_id)
        .where(LevelOverride.student_id == student_id)
        .order_by(LevelOverride.set_at, LevelOverride.id)
    ).all()
    return {row.competency_id: row for row in rows}


def _levels(
    assessments: Iterable[Any], overrides: dict[int, Any], kind: str, n: int
) -> dict[int, dict[str, Any]]:
    """Per competency: the computed level, the standing override and the current level.

    ``assessments`` come oldest first; a later assessment of the same evidence (the piece
    reviewed again) supersedes the earlier one.
    """
    latest_per_evidence: dict[int, Any] = {}
    for row in assessments:
        latest_per_evidence[row.evidence_id] = row
    by_competency: dict[int, list[Any]] = defaultdict(list)
    for row in latest_per_evidence.values():
        by_competency[row.competency_id].append(row)
    levels: dict[int, dict[str, Any]] = {}
    for competency_id in set(by_competency) | set(overrides):
        rows = sorted(by_competency.get(competency_id, []), key=lambda r: (r.assessed_at, r.id))
        newest_first = [row.level for row in reversed(rows)]
        computed = computed_level(newest_first, kind, n)
        last_numeric = max(
            (row.assessed_at for row in rows if row.level in NUMERIC_LEVELS), default=None
        )
        override = overrides.get(competency_id)
        if override is not None and last_numeric is not None and last_numeric > override.set_at:
            override = None  # a newer assessment replaces the level set by hand
        levels[competency_id] = {
            "computed": computed,
            "override": override,
            "level": override.level if override is not None else computed,
        }
    return levels


def current_levels(session: Session, student_id: int) -> dict[int, str]:
    """Return a student's current level per competency id (only those with one)."""
    site_id = session.execute(
        select(Student.site_id).where(Student.id == student_id)
    ).scalar_one_or_none()
    if site_id is None:
        return {}
    rule = mastery_rule(session, site_id)
    levels = _levels(
        _assessment_rows(session, student_id),
        _latest_overrides(session, student_id),
        rule["kind"],
        rule["n"],
    )
    return {cid: item["level"] for cid, item in levels.items() if item["level"] is not None}


# -- hours and welding --------------------------------------------------------------------------


def _worked_seconds(dialect: str, now: datetime) -> ColumnElement[Any]:
    """The seconds of a run interval (an open one up to ``now``), in the database's SQL."""
    ended = func.coalesce(RunInterval.ended_at, type_coerce(now, RunInterval.ended_at.type))
    if dialect == "postgresql":
        return func.extract("epoch", ended - RunInterval.started_at)
    return (func.julianday(ended) - func.julianday(RunInterval.started_at)) * 86400.0


def _hours(session: Session, student_id: int, now: datetime) -> list[dict[str, Any]]:
    """Worked hours (pauses excluded) and runs per operation type of a student's runs."""
    dialect = session.get_bind().dialect.name
    seconds = cast(func.sum(_worked_seconds(dialect, now)), Float)
    rows = session.execute(
        select(
            OperationType.code,
            OperationType.name,
            seconds.label("seconds"),
            func.count(func.distinct(OperationRun.id)).label("runs"),
        )
        .select_from(RunParticipant)
        .join(OperationRun, OperationRun.id == RunParticipant.run_id)
        .join(RunInterval, RunInterval.run_id == OperationRun.id)
        .join(Operation, Operation.id == OperationRun.operation_id)
        .join(OperationType, OperationType.id == Operation.operation_type_id)
        .where(RunParticipant.student_id == student_id)
        .group_by(OperationType.id, OperationType.code, OperationType.name)
        .order_by(OperationType.code)
    ).all()
    return [
        {
            "operation_type": row.code,
            "name": row.name,
            "hours": round(max(0.0, float(row.seconds or 0.0)) / 3600.0, 2),
            "seconds": round(max(0.0, float(row.seconds or 0.0)), 1),
            "runs": int(row.runs),
        }
        for row in rows
    ]


def _welding(session: Session, student_id: int) -> list[dict[str, Any]]:
    """Welds, arc time and the share within the WPS per process and WPS position.

    Each item also carries ``last`` (the last weld's start, a datetime) for the
    continuity view; ``student_record`` drops it.
    """
    rows = session.execute(
        select(
            Weld.process,
            Wps.position,
            func.count(Weld.id).label("welds"),
            func.sum(Weld.arc_s).label("arc_s"),
            func.count(Weld.wps_id).label("with_wps"),
            func.sum(case((Weld.verdict == "in_range", 1), else_=0)).label("in_range"),
            func.max(Weld.started_at).label("last"),
        )
        .select_from(WeldStudent)
        .join(Weld, Weld.id == WeldStudent.weld_id)
        .outerjoin(Wps, Wps.id == Weld.wps_id)
        .where(WeldStudent.student_id == student_id)
        .group_by(Weld.process, Wps.position)
    ).all()
    stats = [
        {
            "process": row.process,
            "position": row.position,
            "welds": int(row.welds),
            "arc_s": round(float(row.arc_s or 0.0), 1),
            "in_range_share": (
                round(int(row.in_range or 0) / int(row.with_wps), 3) if row.with_wps else None
            ),
            "last_weld_at": iso(_aware(row.last)),
            "last": _aware(row.last),
        }
        for row in rows
    ]
    stats.sort(key=lambda s: (s["process"] or "~", s["position"] or "~"))
    return stats


def _aware(value: Any) -> datetime | None:
    """Read a ``max()`` of a UTC timestamp column as an aware datetime, whatever the driver."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    moment: datetime = value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _qualification(
    session: Session,
    student_id: int,
    welding: list[dict[str, Any]],
    now: datetime,
    zone: tzinfo,
) -> list[dict[str, Any]]:
    """ISO 9606-1 continuity per process and position: the last weld, until when it holds.

    The qualification holds until 6 months after the last weld (9.2); a confirmation is
    to sign while it holds and none was signed in the last 6 months.
    """
    confirmations: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for row in session.execute(
        select(
            ContinuityConfirmation.process,
            ContinuityConfirmation.position,
            ContinuityConfirmation.confirmed_at,
            StaffUser.name,
        )
        .join(StaffUser, StaffUser.id == ContinuityConfirmation.confirmed_by_id)
        .where(ContinuityConfirmation.student_id == student_id)
        .order_by(ContinuityConfirmation.confirmed_at, ContinuityConfirmation.id)
    ):
        confirmations[(row.process, row.position)].append(row)
    today = now.astimezone(zone).date()
    recent_since = months_before(now, CONTINUITY_MONTHS)
    views = []
    for stat in welding:
        last: datetime | None = stat["last"]
        if not stat["process"] or not stat["position"] or last is None:
            continue
        valid_until: date = months_after(last.astimezone(zone), CONTINUITY_MONTHS).date()
        signed = confirmations.get((stat["process"], stat["position"]), [])
        holds = today <= valid_until
        views.append(
            {
                "process": stat["process"],
                "position": stat["position"],
                "last_weld_at": stat["last_weld_at"],
                "valid_until": valid_until.isoformat(),
                "holds": holds,
                "to_confirm": holds and not any(c.confirmed_at >= recent_since for c in signed),
                "confirmations": [{"at": iso(c.confirmed_at), "by": c.name} for c in signed],
            }
        )
    return views


def _photos(session: Session, site_id: int, student_id: int) -> list[dict[str, Any]]:
    """The photos of the pieces a student worked on, newest first (not their bytes)."""
    pieces = (
        select(OperationRun.piece_id)
        .join(RunParticipant, RunParticipant.run_id == OperationRun.id)
        .where(RunParticipant.student_id == student_id)
    )
    rows = session.execute(
        select(ReviewPhoto.id, Piece.code, ReviewPhoto.taken_at)
        .join(Piece, Piece.id == ReviewPhoto.piece_id)
        .where(ReviewPhoto.site_id == site_id, ReviewPhoto.piece_id.in_(pieces))
        .order_by(ReviewPhoto.taken_at.desc(), ReviewPhoto.id.desc())
    ).all()
    return [{"id": row.id, "piece": row.code, "at": iso(row.taken_at)} for row in rows]


# -- the record ---------------------------------------------------------------------------------


def framework_ref(framework: Framework) -> dict[str, Any]:
    """Name a framework with its provisional warning when it is provisional."""
    note = None
    if framework.provisional:
        note = PROVISIONAL_NOTE
        if framework.source:
            note = f"{note} Source : {framework.source}."
    return {
        "code": framework.code,
        "name": framework.title,
        "provisional": bool(framework.provisional),
        "note": note,
    }


def student_record(
    session: Session,
    site_id: int,
    code: str,
    *,
    now: datetime | None = None,
    zone: tzinfo | None = None,
) -> dict[str, Any] | None:
    """Return a student's record (livret), or None for no such student of the site.

    ``now`` is "today" for the continuity view (default: the current time); ``zone`` the
    workshop's time zone the validity dates are in (default: Europe/Paris).
    """
    now = now or utcnow()
    zone = zone or workshop_timezone()
    student = session.execute(
        select(Student).where(Student.site_id == site_id, Student.code == code)
    ).scalar_one_or_none()
    if student is None:
        return None
    framework = student.framework
    rule = mastery_rule(session, site_id)
    assessments = _assessment_rows(session, student.id)
    overrides = _latest_overrides(session, student.id)
    levels = _levels(assessments, overrides, rule["kind"], rule["n"])
    counted = {
        row.id
        for row in {a.evidence_id: a for a in assessments}.values()  # latest per evidence
    }
    evidence_counts = dict(
        session.execute(
            select(Evidence.competency_id, func.count(Evidence.id))
            .where(Evidence.student_id == student.id)
            .group_by(Evidence.competency_id)
        ).all()
    )
    history: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in assessments:
        history[row.competency_id].append(
            {
                "at": iso(row.assessed_at),
                "level": row.level,
                "piece": row.piece,
                "work_order": row.work_order,
                "operation": row.operation,
                "step": row.step,
                "comment": row.comment,
                "by": row.by,
                "self": row.feeling,
                "superseded": row.id not in counted,
            }
        )
    competencies = []
    not_seen = []
    for competency in framework.competencies:
        full = f"{framework.code}:{competency.code}"
        item = levels.get(competency.id, {"computed": None, "override": None, "level": None})
        override = item["override"]
        count = int(evidence_counts.get(competency.id, 0))
        if not count:
            not_seen.append(full)
        competencies.append(
            {
                "id": full,
                "code": competency.code,
                "title": competency.title,
                "level": item["level"],
                "level_words": LEVEL_SHORT_WORDS.get(item["level"]) if item["level"] else None,
                "computed": item["computed"],
                "override": (
                    {
                        "level": override.level,
                        "reason": override.reason,
                        "by": override.by,
                        "at": iso(override.set_at),
                    }
                    if override is not None
                    else None
                ),
                "evidence_count": count,
                "seen": count > 0,
                "history": history.get(competency.id, []),
            }
        )
    welding = _welding(session, student.id)
    qualification = _qualification(session, student.id, welding, now, zone)
    for stat in welding:
        del stat["last"]
    return {
        "student": {
            "code": student.code,
            "first_name": student.first_name,
            "display_name": short_name(student.name),
            "active": student.active,
            "framework": framework_ref(framework),
        },
        "rule": rule,
        "generated_at": iso(now),
        "competencies": competencies,
        "not_seen": not_seen,
        "hours": _hours(session, student.id, now),
        "welding": welding,
        "qualification": qualification,
        "photos": _photos(session, site_id, student.id),
    }


# -- the class's gaps ---------------------------------------------------------------------------


def class_gaps(
    session: Session, site_id: int, framework_code: str | None = None
) -> list[dict[str, Any]]:
    """Per active student: the competencies of their framework with no evidence yet.

    Each row also lists the framework's competencies with ``missing``, how many of the
    listed students of that framework have not shown it yet. One EXISTS per pair, on the
    evidence's (student, competency, run) key: the cost does not grow with the history.
    """
    frameworks = select(Framework).where(Framework.site_id == site_id)
    if framework_code is not None:
        frameworks = frameworks.where(Framework.code == framework_code)
    known = {f.id: f for f in session.execute(frameworks).scalars()}
    if not known:
        return []
    competencies: dict[int, list[Competency]] = defaultdict(list)
    for competency in session.execute(
        select(Competency)
        .where(Competency.framework_id.in_(known))
        .order_by(Competency.framework_id, Competency.position, Competency.id)
    ).scalars():
        competencies[competency.framework_id].append(competency)
    students = session.execute(
        select(Student.id, Student.code, Student.name, Student.framework_id).where(
            Student.site_id == site_id, Student.active, Student.framework_id.in_(known)
        )
    ).all()
    missing_pairs = session.execute(
        select(Student.id, Competency.id)
        .join(Competency, Competency.framework_id == Student.framework_id)
        .where(
            Student.site_id == site_id,
            Student.active,
            Student.framework_id.in_(known),
            ~exists().where(
                Evidence.student_id == Student.id, Evidence.competency_id == Competency.id
            ),
        )
    ).all()
    missing: dict[int, set[int]] = defaultdict(set)
    for student_id, competency_id in missing_pairs:
        missing[student_id].add(competency_id)
    missing_count: dict[int, int] = defaultdict(int)
    for ids in missing.values():
        for competency_id in ids:
            missing_count[competency_id] += 1
    references = {fid: framework_ref(f) for fid, f in known.items()}
    listing = {
        fid: [
            {
                "id": f"{known[fid].code}:{c.code}",
                "code": c.code,
                "title": c.title,
                "framework": known[fid].code,
                "missing": missing_count.get(c.id, 0),
            }
            for c in items
        ]
        for fid, items in competencies.items()
    }
    rows = []
    for student in sorted(students, key=lambda s: (french_order(s.name), s.code)):
        framework = known[student.framework_id]
        gaps = missing.get(student.id, set())
        rows.append(
            {
                "code": student.code,
                "display_name": short_name(student.name),
                "framework": references[student.framework_id],
                "not_seen": [
                    f"{framework.code}:{c.code}"
                    for c in competencies.get(student.framework_id, [])
                    if c.id in gaps
                ],
                "competencies": listing.get(student.framework_id, []),
            }
        )
    return rows


# -- a piece's self-assessments and photos ------------------------------------------------------


def self_assessments_for_piece(session: Session, piece_id: int) -> dict[tuple[str, int], str]:
    """Return how each student felt each step of a piece went (its latest round's answer)."""
    rows = session.execute(
        select(Student.code, Operation.step, SelfAssessment.feeling)
        .join(OperationRun, OperationRun.id == SelfAssessment.run_id)
        .join(Operation, Operation.id == OperationRun.operation_id)
        .join(Student, Student.id == SelfAssessment.student_id)
        .where(OperationRun.piece_id == piece_id)
        .order_by(OperationRun.round, SelfAssessment.id)
    ).all()
    return {(code, step): feeling for code, step, feeling in rows}


def photo(session: Session, site_id: int, photo_id: int) -> tuple[bytes, str] | None:
    """Return a photo's JPEG bytes and media type, or None if the site has no such photo."""
    row = session.execute(
        select(ReviewPhoto.data, ReviewPhoto.media_type).where(
            ReviewPhoto.id == photo_id, ReviewPhoto.site_id == site_id
        )
    ).first()
    if row is None:
        return None
    return bytes(row.data), str(row.media_type)
