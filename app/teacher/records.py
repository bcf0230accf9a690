"""The livret pages: a student's record, the class's « non vu », the mastery rule.

For a signed-in teacher or administrator of their own site: another site's student is
« introuvable » (404). The pages read ``app.read.records`` and write by handing an event
to the core: a level set by hand (``SetLevel``, with its reason), a signed continuity
confirmation (``ConfirmContinuity``), the site's mastery rule (``SetMasteryRule``) and,
before each download, the export itself (``ExportRecord``, for the audit log). Every form
works without JavaScript; the level charts are drawn by ``static/teacher/record.js``
from the page's JSON, beside a table that says the same in words.
"""

from __future__ import annotations

import logging
import re
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from flask import (
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required

from app.boundary import submit, web_origin
from app.errors import ErrorText
from app.extensions import db
from app.ingest.events import (
    MASTERY_RULES,
    ConfirmContinuity,
    ExportRecord,
    SetLevel,
    SetMasteryRule,
)
from app.models import StaffUser
from app.printing import records as rendering
from app.read import records as reading
from app.read.board import workshop_timezone
from app.read.wording import LEVEL_WORDS, fr_number, french_day, french_order, process_label
from app.teacher import bp, page, staff

logger = logging.getLogger(__name__)

# What a teacher may set by hand: the reference scale (docs/contract.md §8).
LEVELS = tuple(LEVEL_WORDS)
# How a student felt their run went (the kiosk's three pictograms), in words.
FEELING_WORDS = {"difficile": "difficile", "moyen": "moyen", "facile": "facile"}
# The « N most recent » rule: how many levels it may weigh.
RULE_N_MIN, RULE_N_MAX, RULE_N_DEFAULT = 2, 10, 3
REASON_MAX = 300  # app.ingest.records MAX_REASON
# Evaluations listed per competency (newest first) unless the teacher asks for all
# (``?tout=1``): a ten-year record stays a page, the chart still carries every level.
HISTORY_SHOWN = 10
NUMERIC = frozenset({"1", "2", "3", "4"})
SAFE_NAME = re.compile(r"[^A-Za-z0-9_-]+")


# -- wording ------------------------------------------------------------------------------


def _zone() -> Any:
    return workshop_timezone(current_app.config.get("ATELIER_TIMEZONE"))


def _today() -> date:
    """Return the workshop's local date (a signature's, an export's)."""
    return datetime.now(_zone()).date()


def _moment(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.astimezone(_zone())


def when(value: str | None) -> str:
    """Write an instant of the record as the workshop's local time (« 01/12/2026 09:41 »)."""
    moment = _moment(value)
    return moment.strftime("%d/%m/%Y %H:%M") if moment else "–"


def day(value: str | None) -> str:
    """Write a date or an instant of the record as a French day (« 1er juin 2026 »)."""
    if not value:
        return "–"
    moment = _moment(value)
    if moment is not None:
        return french_day(moment.date())
    try:
        return french_day(date.fromisoformat(value))
    except ValueError:
        return value


def duration(seconds: float | None) -> str:
    """Write an arc time in hours and minutes (« 1 h 05 min », « 4 min 10 s »)."""
    if not seconds:
        return "0 min"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}\u00a0h\u00a0{minutes:02d}\u00a0min"
    if minutes:
        return f"{minutes}\u00a0min\u00a0{secs:02d}\u00a0s"
    return f"{secs}\u00a0s"


def share(value: float | None) -> str:
    """Write a share as a French percentage (« 87 % »), or a dash when nothing was measured."""
    if value is None:
        return "–"
    return f"{fr_number(value * 100)}\u00a0%"


def level_words(level: str | None) -> str:
    """Say a level in words (« niveau 3 : maîtrisé »), « pas encore évalué » without one."""
    if level is None:
        return "pas encore évalué"
    return LEVEL_WORDS.get(level, level)


def _helpers() -> dict[str, Any]:
    return {
        "when": when,
        "day": day,
        "duration": duration,
        "share": share,
        "fr_number": fr_number,
        "level_words": level_words,
        "process_label": process_label,
        "levels": LEVELS,
        "LEVEL_WORDS": LEVEL_WORDS,
        "feeling_words": FEELING_WORDS,
    }


# -- answers ------------------------------------------------------------------------------


def _not_found(code: str) -> Response:
    """Answer « introuvable » for a student of no site of this teacher's (or of none)."""
    html = render_template(
        "errors/error.html",
        status=404,
        text=ErrorText(
            "Élève introuvable",
            f"Aucun élève « {code[:40]} » dans votre atelier. Repartez de la liste des élèves.",
        ),
        actions=[("Liste des élèves", url_for("teacher.students"))],
    )
    return page(html, 404)


def _chart_data(record: dict[str, Any]) -> dict[str, Any]:
    """Return what record.js draws: per competency, the numeric levels over time."""
    charts: dict[str, Any] = {}
    for competency in record["competencies"]:
        points = []
        for entry in competency["history"]:
            moment = _moment(entry.get("at"))
            level = entry.get("level")
            if moment is None or level not in {"1", "2", "3", "4"}:
                continue
            points.append([int(moment.timestamp()), int(level)])
        points.sort()
        charts[competency["id"]] = points
    return {"charts": charts}


def _url_parts(endpoint: str, name: str) -> tuple[str, str]:
    """Return an endpoint's URL around its one variable (``/enseignant/photos/``, ``.jpg``).

    Built once per page: the template concatenates each row's value in between.
    """
    values: dict[str, Any] = {name: 0}
    head, tail = url_for(endpoint, **values).rsplit("0", 1)
    return head, tail


def _competency_views(
    record: dict[str, Any], *, full: bool, focus: str = ""
) -> list[dict[str, Any]]:
    """Word each competency's history once, in Python, for the template to print as is.

    Newest first; the ``HISTORY_SHOWN`` newest rows only unless ``full`` (or the competency
    is the one a refused form came back to). Links are concatenated to a prefix built once:
    a url_for and a time-zone conversion per row made a long record slow to render.
    """
    piece_prefix, _ = _url_parts("teacher.piece", "code")
    zone = _zone()

    def local(value: str | None) -> str:
        if not value:
            return "–"
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return "–"
        return moment.astimezone(zone).strftime("%d/%m/%Y %H:%M")

    views = []
    for competency in record["competencies"]:
        history = sorted(competency["history"], key=lambda entry: entry.get("at") or "")
        history.reverse()
        numeric = [entry["level"] for entry in reversed(history) if entry.get("level") in NUMERIC]
        latest_self = next((entry["self"] for entry in history if entry.get("self")), None)
        shown = history if full or focus == competency["id"] else history[:HISTORY_SHOWN]
        rows = []
        for entry in shown:
            feeling = entry.get("self")
            piece = entry.get("piece")
            detail = entry.get("work_order") or ""
            if entry.get("operation"):
                detail += f" · {entry['operation']}"
            rows.append(
                {
                    "when": local(entry.get("at")),
                    "superseded": entry.get("superseded"),
                    "level": level_words(entry.get("level")),
                    "by": entry.get("by"),
                    "piece": piece,
                    "href": piece_prefix + quote(piece, safe="") if piece else None,
                    "detail": detail,
                    "comment": entry.get("comment") or "–",
                    "self": FEELING_WORDS.get(feeling, feeling) if feeling else "–",
                }
            )
        if len(numeric) > HISTORY_SHOWN:
            levels = ", ".join(numeric[-HISTORY_SHOWN:])
            chart_words = (
                f"{len(numeric)} niveaux, les {HISTORY_SHOWN} plus récents du plus ancien"
                f" au plus récent : {levels}"
            )
        else:
            chart_words = f"du plus ancien au plus récent : {', '.join(numeric)}"
        views.append(
            {
                "anchor": competency["id"].replace(":", "-").replace(".", "-"),
                "latest_self": FEELING_WORDS.get(latest_self, latest_self) if latest_self else None,
                "has_chart": bool(numeric),
                "chart_words": chart_words,
                "count": len(history),
                "rows": rows,
                "hidden": len(history) - len(rows),
            }
        )
    return views


def _record_page(
    user: StaffUser,
    record: dict[str, Any],
    *,
    status: int = 200,
    problem: dict[str, str] | None = None,
) -> Response:
    problem = problem or {}
    full = request.args.get("tout") == "1"
    student_code = record["student"]["code"]
    piece_prefix, _ = _url_parts("teacher.piece", "code")
    photos = [
        {**photo, "href": piece_prefix + quote(photo["piece"], safe=""), "when": when(photo["at"])}
        for photo in record["photos"]
    ]
    photo_head, photo_tail = _url_parts("teacher.photo_file", "photo_id")
    html = render_template(
        "teacher/record.html",
        record=record,
        views=_competency_views(record, full=full, focus=problem.get("competency", "")),
        full=full,
        history_shown=HISTORY_SHOWN,
        record_url=url_for("teacher.student_record", code=student_code),
        level_url=url_for("teacher.record_level", code=student_code),
        photos=photos,
        photo_head=photo_head,
        photo_tail=photo_tail,
        chart_data=_chart_data(record),
        problem=problem,
        **_helpers(),
    )
    return page(html, status)


def _record_or_none(user: StaffUser, code: str) -> dict[str, Any] | None:
    record: dict[str, Any] | None = reading.student_record(db.session(), user.site_id, code)
    return record


def _refusal(outcome: Any) -> str:
    error = outcome.body.get("error") or {}
    return str(error.get("message") or "Refusé : rien n'a été changé.")


# -- the class lists and their « non vu » -------------------------------------------------


def _classes(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Group ``class_gaps`` rows by framework: the class's students and competencies."""
    classes: dict[str, dict[str, Any]] = {}
    for row in rows:
        framework = row["framework"]
        group = classes.setdefault(
            framework["code"], {**framework, "students": [], "competencies": row["competencies"]}
        )
        group["students"].append(row)
    return sorted(classes.values(), key=lambda group: french_order(group["name"]))


@bp.get("/eleves")
@login_required  # type: ignore[untyped-decorator]
def students() -> Any:
    """List each class (framework) with its students and the competencies none has shown yet."""
    user = staff()
    gaps = reading.class_gaps(db.session(), user.site_id)
    html = render_template("teacher/students.html", classes=_classes(gaps), **_helpers())
    return page(html)


# -- one student's livret -----------------------------------------------------------------


@bp.get("/eleves/<code>")
@login_required  # type: ignore[untyped-decorator]
def student_record(code: str) -> Any:
    """Show a student's livret: levels and how they came, hours, welding, qualification."""
    user = staff()
    record = _record_or_none(user, code)
    if record is None:
        return _not_found(code)
    return _record_page(user, record)


@bp.post("/eleves/<code>/niveau")
@login_required  # type: ignore[untyped-decorator]
def record_level(code: str) -> Any:
    """Set one competency's current level by hand, with the teacher's reason."""
    user = staff()
    record = _record_or_none(user, code)
    if record is None:
        return _not_found(code)
    competency = request.form.get("competency", "").strip()
    level = request.form.get("level", "").strip()
    reason = " ".join(request.form.get("reason", "").split())
    problem = {"competency": competency, "level": level, "reason": reason}
    known = {item["id"] for item in record["competencies"]}
    if competency not in known:
        message = "Compétence inconnue pour le référentiel de cet élève : rien n'a été changé."
        return _record_page(user, record, status=422, problem={"general": message})
    if level not in LEVELS:
        message = "Niveau inconnu : choisissez-en un de la liste. Rien n'a été changé."
    elif not reason:
        message = "Donnez la raison de ce changement : rien n'a été changé."
    elif len(reason) > REASON_MAX:
        message = f"Raison trop longue (au plus {REASON_MAX} caractères) : rien n'a été changé."
    else:
        outcome = submit(
            web_origin(user), SetLevel(record["student"]["code"], competency, level, reason)
        )
        if outcome.accepted:
            title = next(c["code"] for c in record["competencies"] if c["id"] == competency)
            flash(f"{title} : {level_words(level)}, fixé à la main.", "success")
            return redirect(
                url_for("teacher.student_record", code=record["student"]["code"])
                + f"#c-{_anchor(competency)}"
            )
        message = _refusal(outcome)
    problem["message"] = message
    return _record_page(user, record, status=422, problem=problem)


@bp.post("/eleves/<code>/continuite")
@login_required  # type: ignore[untyped-decorator]
def record_continuity(code: str) -> Any:
    """Sign a student's 6-monthly ISO 9606-1 continuity for one process and position."""
    user = staff()
    record = _record_or_none(user, code)
    if record is None:
        return _not_found(code)
    process = request.form.get("process", "").strip()
    position = request.form.get("position", "").strip()
    known = {(q["process"], q["position"]) for q in record["qualification"]}
    if (process, position) not in known:
        message = (
            "Aucune soudure de l'élève pour ce procédé et cette position : rien n'a été signé."
        )
    else:
        outcome = submit(
            web_origin(user), ConfirmContinuity(record["student"]["code"], process, position)
        )
        if outcome.accepted:
            flash(
                f"Continuité {process_label(process)} {position} signée par {user.name},"
                f" le {french_day(_today())}.",
                "success",
            )
            return redirect(
                url_for("teacher.student_record", code=record["student"]["code"]) + "#qualification"
            )
        message = _refusal(outcome)
    return _record_page(user, record, status=422, problem={"continuity": message})


def _export(code: str, fmt: str) -> Any:
    user = staff()
    record = _record_or_none(user, code)
    if record is None:
        return _not_found(code)
    student = record["student"]["code"]
    outcome = submit(web_origin(user), ExportRecord(student, fmt))
    if not outcome.accepted:
        return _record_page(user, record, status=422, problem={"export": _refusal(outcome)})
    if fmt == "pdf":
        content: bytes = rendering.record_pdf(record)
        media_type = "application/pdf"
    else:
        # Already with its byte-order mark (a spreadsheet then reads the accents right).
        content = rendering.record_csv(record).encode("utf-8")
        media_type = "text/csv; charset=utf-8"
    response = Response(content, mimetype=media_type)
    filename = f"livret-{SAFE_NAME.sub('-', student)}-{_today().isoformat()}.{fmt}"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/eleves/<code>/livret.pdf")
@login_required  # type: ignore[untyped-decorator]
def record_pdf(code: str) -> Any:
    """Download a student's livret as PDF (the export goes to the audit log first)."""
    return _export(code, "pdf")


@bp.get("/eleves/<code>/livret.csv")
@login_required  # type: ignore[untyped-decorator]
def record_csv(code: str) -> Any:
    """Download a student's livret as CSV (the export goes to the audit log first)."""
    return _export(code, "csv")


def _anchor(competency_id: str) -> str:
    return SAFE_NAME.sub("-", competency_id)


# -- the mastery rule ---------------------------------------------------------------------


def _rule_page(rule: dict[str, Any], *, status: int = 200, problem: str | None = None) -> Response:
    html = render_template(
        "teacher/rule.html",
        rule=rule,
        problem=problem,
        n_min=RULE_N_MIN,
        n_max=RULE_N_MAX,
        example=_example(rule),
        **_helpers(),
    )
    return page(html, status)


def _current_rule(user: StaffUser) -> dict[str, Any]:
    return reading.mastery_rule(db.session(), user.site_id)


EXAMPLE_LEVELS = (1, 1, 2, 3, 3)  # oldest first: early failures, then a skill now held


def weighted(levels: tuple[int, ...], n: int) -> float:
    """Weigh the N most recent levels N..1, newest heaviest (what the « recent » rule does)."""
    recent = list(reversed(levels))[:n]
    weights = list(range(len(recent), 0, -1))
    return sum(w * v for w, v in zip(weights, recent, strict=True)) / sum(weights)


def _example(rule: dict[str, Any]) -> dict[str, Any]:
    n = int(rule.get("n") or RULE_N_DEFAULT)
    recent = list(reversed(EXAMPLE_LEVELS))[:n]
    weights = list(range(len(recent), 0, -1))
    value = weighted(EXAMPLE_LEVELS, n)
    newest_first = [str(level) for level in reversed(EXAMPLE_LEVELS)]
    terms = " + ".join(f"{w}\u00a0×\u00a0{v}" for w, v in zip(weights, recent, strict=True))
    return {
        "levels": EXAMPLE_LEVELS,
        "n": n,
        "terms": terms,
        "total": sum(weights),
        "value": fr_number(value, 2),
        "rounded": reading.computed_level(newest_first, "recent", n),
        "latest": reading.computed_level(newest_first, "latest", n),
        "average": fr_number(sum(EXAMPLE_LEVELS) / len(EXAMPLE_LEVELS), 2),
    }


def _kept_n(current: dict[str, Any]) -> int:
    """Keep the site's N when it goes back to « latest », for a later return to « recent »."""
    n = int(current.get("n") or RULE_N_DEFAULT)
    return n if RULE_N_MIN <= n <= RULE_N_MAX else RULE_N_DEFAULT


@bp.get("/regle")
@login_required  # type: ignore[untyped-decorator]
def rule() -> Any:
    """Show the site's mastery rule, explained with an example, and the form to change it."""
    return _rule_page(_current_rule(staff()))


@bp.post("/regle")
@login_required  # type: ignore[untyped-decorator]
def set_rule() -> Any:
    """Choose the site's mastery rule: the latest level, or the N most recent weighted."""
    user = staff()
    kind = request.form.get("kind", "").strip()
    raw_n = request.form.get("n", "").strip() or str(RULE_N_DEFAULT)
    current = _current_rule(user)
    try:
        n = int(raw_n)
    except ValueError:
        n = 0
    if kind not in MASTERY_RULES:
        problem = "Règle inconnue : choisissez-en une des deux. Rien n'a été changé."
    elif kind == "recent" and not RULE_N_MIN <= n <= RULE_N_MAX:
        problem = (
            f"Nombre d'évaluations invalide : {raw_n[:10]} (de {RULE_N_MIN} à {RULE_N_MAX})."
            " Rien n'a été changé."
        )
    else:
        outcome = submit(
            web_origin(user), SetMasteryRule(kind, n if kind == "recent" else _kept_n(current))
        )
        if outcome.accepted:
            flash("Règle enregistrée : les niveaux des livrets la suivent désormais.", "success")
            return redirect(url_for("teacher.rule"))
        problem = _refusal(outcome)
    return _rule_page(
        {**current, "kind": kind or current.get("kind"), "n": n or current.get("n")},
        status=422,
        problem=problem,
    )
