"""The review pages: the queue, a piece, a batch of pieces, unattributed welds.

The usual review — the piece conforme, every student at the same level — is three taps
from the queue: the piece, « Tout au niveau 3 » (the verdict « conforme » is chosen
already), « Valider ». Every form works without JavaScript (a plain POST with its CSRF
token; « Tout au niveau N » then re-renders the form filled in, writing nothing);
``teacher/review.js`` only does the same in the page. Each form carries an event key minted
when it was rendered: posting it twice (a double tap, a retry) records the review once.
A refusal of the core is said in French with a 4xx status, and nothing changed.
"""

from __future__ import annotations

import io
import logging
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required
from flask_wtf.csrf import CSRFError, validate_csrf
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import ValidationError  # type: ignore[import-untyped]

from app.boundary import submit, web_origin
from app.errors import ErrorText
from app.extensions import csrf, db
from app.ingest import Outcome
from app.ingest.events import AssessmentInput, AssignWeld, AttachPhoto, ReviewPiece
from app.models import ASSESSMENT_LEVELS, StaffUser
from app.read import weldcharts
from app.read.board import workshop_timezone
from app.read.kiosk import weld_message
from app.read.pieces import piece_detail
from app.read.records import photo as stored_photo
from app.read.records import self_assessments_for_piece
from app.read.reviews import review_queue
from app.read.welds import unattributed_welds
from app.read.wording import LEVEL_WORDS, fr_number, process_label, verdict_label
from app.teacher import bp, page, staff

VERDICT_CHOICES = (
    ("conforme", "Conforme", "is-ok"),
    ("a_reprendre", "À reprendre", "is-warn"),
    ("rebut", "Rebut", "is-bad"),
)
VERDICT_WORDS = {value: label for value, label, _ in VERDICT_CHOICES}
# The short label on a level's button, the words under it come from LEVEL_WORDS.
LEVEL_SHORT = {"NE": "NE", "ABS": "ABS", "1": "1", "2": "2", "3": "3", "4": "4"}
LEVEL_HINTS = {
    "NE": "non évalué",
    "ABS": "absent",
    "1": "non maîtrisé",
    "2": "insuffisant",
    "3": "maîtrisé",
    "4": "bien maîtrisé",
}
CANNED_COMMENTS = (
    "Travail soigné",
    "Respecte le DMOS",
    "Bonne autonomie",
    "Revoir la préparation",
    "Revoir le pointage",
    "Attention à la sécurité",
)
FEELING_WORDS = {"difficile": "difficile", "moyen": "moyen", "facile": "facile"}
KEY = re.compile(r"^[0-9a-f]{32}$")
MAX_PHOTO_BYTES = 2 * 1024 * 1024  # what the core accepts (app/ingest/records.py)
# The photo form's body: the photo and its few fields. A heavier one is read to its end,
# up to PHOTO_DRAIN_BYTES, before the French « trop lourde » answer (see _drain_body).
PHOTO_REQUEST_BYTES = MAX_PHOTO_BYTES + 256 * 1024
PHOTO_DRAIN_BYTES = 40 * 1024 * 1024
# Unattributed welds listed, newest first; the page says how many more wait.
WELDS_SHOWN = 50

logger = logging.getLogger(__name__)


# ---- Small helpers ----------------------------------------------------------------------


def _when(value: str | None) -> str:
    """Word an ISO instant in the workshop's time (« 25/11 09:41 », « 09:41 » today)."""
    if not value:
        return "–"
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    zone = workshop_timezone(current_app.config.get("ATELIER_TIMEZONE"))
    local = moment.astimezone(zone)
    if local.date() == datetime.now(UTC).astimezone(zone).date():
        return "aujourd'hui " + local.strftime("%H:%M")
    return local.strftime("%d/%m %H:%M")


def _duration(seconds: float | None) -> str:
    """Word a duration for a teacher (« 12 min », « 1 h 05 », « 40 s »)."""
    if seconds is None:
        return "–"
    total = round(seconds)
    if total < 60:
        return f"{total} s"
    minutes = total // 60
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d}"


def _key(raw: str | None) -> str:
    """Return the form's event key if it looks like one we minted, else a fresh one."""
    value = (raw or "").strip().lower()
    return value if KEY.match(value) else uuid.uuid4().hex


def _message(outcome: Outcome) -> str:
    body = outcome.body
    if outcome.accepted:
        return str(body.get("message") or "Enregistré.")
    error = body.get("error") or {}
    return str(error.get("message") or "Refusé : rien n'a été enregistré.")


def _refusal_status(outcome: Outcome) -> int:
    return 409 if outcome.status == "conflict" else 422


def _not_found(message: str) -> Response:
    html = render_template(
        "errors/error.html",
        status=404,
        text=ErrorText("Introuvable", message),
        actions=[("Retour aux pièces à évaluer", url_for("teacher.queue"))],
    )
    return page(html, 404)


# ---- The queue --------------------------------------------------------------------------


def _options(pieces: Iterable[dict[str, Any]]) -> dict[str, list[tuple[str, str]]]:
    """The filters' choices: the students, work orders and stations of the waiting pieces."""
    students: dict[str, str] = {}
    orders: dict[str, str] = {}
    stations: dict[str, str] = {}
    for piece in pieces:
        for student in piece["students"]:
            students[student["code"]] = student["display_name"]
        order = piece["work_order"]
        orders[order["number"]] = f"{order['number']} — {order['product']}"
        for station in piece["stations"]:
            stations[station] = station
    return {
        "eleve": sorted(students.items(), key=lambda item: item[1].casefold()),
        "of": sorted(orders.items()),
        "poste": sorted(stations.items()),
    }


@bp.get("/")
@login_required  # type: ignore[untyped-decorator]
def queue() -> Any:
    """The pieces awaiting review, newest first, filtered by student, work order, station."""
    user = staff()
    session = db.session()
    chosen = {name: request.args.get(name, "").strip()[:40] for name in ("eleve", "of", "poste")}
    everything = review_queue(session, user.site_id)
    options = _options(everything)
    # A filter names one of the choices offered, or nothing (a hand-typed one is ignored).
    for name, choices in options.items():
        if chosen[name] and chosen[name] not in dict(choices):
            chosen[name] = ""
    if any(chosen.values()):
        pieces = review_queue(
            session,
            user.site_id,
            student=chosen["eleve"] or None,
            work_order=chosen["of"] or None,
            station=chosen["poste"] or None,
        )
    else:
        pieces = everything
    per_order: dict[str, int] = defaultdict(int)
    for piece in everything:
        per_order[piece["work_order"]["number"]] += 1
    for piece in pieces:
        piece["when"] = _when(piece["completed_at"])
    batches = [(number, count) for number, count in sorted(per_order.items()) if count > 1]
    html = render_template(
        "teacher/queue.html",
        pieces=pieces,
        total=len(everything),
        options=options,
        chosen=chosen,
        batches=batches,
    )
    return page(html)


# ---- A piece ----------------------------------------------------------------------------


def _self_assessments(piece_id: int) -> dict[tuple[str, int], str]:
    return self_assessments_for_piece(db.session(), piece_id)


def _piece_view(user: StaffUser, code: str) -> dict[str, Any] | None:
    """Read everything the piece page shows: routing, welds with charts, the evidence."""
    session = db.session()
    piece = piece_detail(session, user.site_id, code)
    if piece is None:
        return None
    extra = weldcharts.piece_charts(session, user.site_id, code) or {}
    feelings = _self_assessments(int(extra["piece_id"])) if extra else {}
    step_of = {operation["code"]: operation["step"] for operation in piece["operations"]}
    charts: dict[str, Any] = {}
    for operation in piece["operations"]:
        operation["when"] = _when(operation["started_at"])
        operation["worked"] = (
            _duration(extra.get("worked_s", {}).get(operation["step"]))
            if operation["status"] != "todo"
            else "–"
        )
        for weld in operation["welds"]:
            chart = extra.get("charts", {}).get(weld["weld_id"])
            weld["dom_id"] = f"weld-{len(charts) + 1}"
            weld["verdict_words"] = weld_message(weld["wps_verdict"], weld["deviations"])
            weld["verdict_short"] = verdict_label(weld["wps_verdict"], weld["deviations"])
            weld["process_words"] = process_label(weld["process"]) or "procédé inconnu"
            weld["figures"] = _weld_figures(weld)
            weld["has_samples"] = bool(chart and chart["samples"])
            weld["out_count"] = len(chart["out"]) if chart else 0
            if chart is not None:
                charts[weld["dom_id"]] = {**chart, "title": weld["weld_id"]}
    # The evidence, student by student: one row per (student, competency).
    students: dict[str, dict[str, Any]] = {}
    for item in piece["evidence"]:
        student = students.setdefault(
            item["student"]["id"],
            {"code": item["student"]["id"], "name": item["student"]["name"], "items": []},
        )
        step = step_of.get(item["operation"])
        feeling = feelings.get((student["code"], step)) if step is not None else None
        student["items"].append(
            {
                "competency": item["competency"],
                "title": item["title"],
                "operation": item["operation"],
                "step": step,
                "feeling": FEELING_WORDS.get(feeling or ""),
                "previous": item["assessment"],
            }
        )
    piece["students"] = list(students.values())
    piece["charts"] = charts
    piece["photos"] = extra.get("photos", [])
    piece["when"] = _when(piece["completed_at"])
    return piece


def _weld_figures(weld: dict[str, Any]) -> list[tuple[str, str]]:
    figures = [
        ("Durée d'arc", f"{fr_number(weld['arc_s'], 1)} s"),
        ("Intensité moyenne", f"{fr_number(weld['i_mean_a'])} A"),
        ("Tension moyenne", f"{fr_number(weld['u_mean_v'], 1)} V"),
    ]
    if weld["heat_input_kj_mm"] is not None:
        figures.append(("Apport de chaleur", f"{fr_number(weld['heat_input_kj_mm'], 2)} kJ/mm"))
    else:
        figures.append(("Apport de chaleur", "non calculé (longueur inconnue)"))
    return figures


def _levels_from(form: Any, piece: dict[str, Any]) -> dict[tuple[str, str], str]:
    """Read the levels of the form, ``level:<student>:<competency>`` = NE, ABS, 1–4."""
    levels: dict[tuple[str, str], str] = {}
    for student in piece["students"]:
        for item in student["items"]:
            value = form.get(f"level:{student['code']}:{item['competency']}", "").strip()
            if value:
                levels[(student["code"], item["competency"])] = value
    return levels


def _comments_from(form: Any, piece: dict[str, Any]) -> dict[str, str]:
    """Read each student's comment: the canned ones ticked, then the free text."""
    comments: dict[str, str] = {}
    for student in piece["students"]:
        picked = [text for text in form.getlist(f"canned:{student['code']}") if text]
        free = form.get(f"comment:{student['code']}", "").strip()
        text = ". ".join([*picked, *([free] if free else [])])
        if text:
            comments[student["code"]] = text[:500]
    return comments


def _render_piece(
    user: StaffUser,
    piece: dict[str, Any],
    *,
    status: int = 200,
    verdict: str = "conforme",
    levels: dict[tuple[str, str], str] | None = None,
    comments: dict[str, str] | None = None,
    picked: dict[str, list[str]] | None = None,
    error: str | None = None,
    key: str | None = None,
) -> Response:
    html = render_template(
        "teacher/piece.html",
        piece=piece,
        verdict=verdict,
        verdicts=VERDICT_CHOICES,
        verdict_words=VERDICT_WORDS,
        levels=levels or {},
        comments=comments or {},
        picked=picked or {},
        level_choices=[
            (v, LEVEL_SHORT[v], LEVEL_HINTS[v], LEVEL_WORDS[v]) for v in ASSESSMENT_LEVELS
        ],
        canned=CANNED_COMMENTS,
        error=error,
        key=key or uuid.uuid4().hex,
        photo_key=uuid.uuid4().hex,
        reviewable=piece["status"] != "in_progress",
    )
    return page(html, status)


@bp.get("/pieces/<code>")
@login_required  # type: ignore[untyped-decorator]
def piece(code: str) -> Any:
    """A piece: its routing, who did what, its welds as charts, and the review form."""
    user = staff()
    found = _piece_view(user, code)
    if found is None:
        return _not_found(f"La pièce {code[:30]} n'existe pas sur ce site.")
    return _render_piece(user, found)


@bp.post("/pieces/<code>/evaluation")
@login_required  # type: ignore[untyped-decorator]
def evaluate(code: str) -> Any:
    """Record the review (``ReviewPiece``), or fill every level in (« Tout au niveau N »)."""
    user = staff()
    found = _piece_view(user, code)
    if found is None:
        return _not_found(f"La pièce {code[:30]} n'existe pas sur ce site.")
    form = request.form
    verdict = form.get("verdict", "").strip()
    levels = _levels_from(form, found)
    comments = {s["code"]: form.get(f"comment:{s['code']}", "") for s in found["students"]}
    picked = {s["code"]: form.getlist(f"canned:{s['code']}") for s in found["students"]}
    key = _key(form.get("key"))
    fill = form.get("fill", "").strip()
    if fill:
        # Without JavaScript, « Tout au niveau N » comes here: the same form, filled in.
        if fill in ASSESSMENT_LEVELS:
            levels = {
                (student["code"], item["competency"]): fill
                for student in found["students"]
                for item in student["items"]
            }
        return _render_piece(
            user,
            found,
            verdict=verdict or "conforme",
            levels=levels,
            comments=comments,
            picked=picked,
            key=key,
        )
    texts = _comments_from(form, found)
    event = ReviewPiece(
        code,
        verdict,
        tuple(
            AssessmentInput(student, competency, level, texts.get(student))
            for (student, competency), level in levels.items()
        ),
    )
    outcome = submit(web_origin(user, key), event)
    if not outcome.accepted:
        return _render_piece(
            user,
            found,
            status=_refusal_status(outcome),
            verdict=verdict,
            levels=levels,
            comments=comments,
            picked=picked,
            error=_message(outcome),
            key=uuid.uuid4().hex,
        )
    flash(_message(outcome), "ok")
    return redirect(url_for("teacher.queue"), 303)


# ---- Photos -----------------------------------------------------------------------------


def _megabytes(size: int) -> str:
    """Word a size in Mo the way the tablet does (« 4,2 Mo », a no-break space)."""
    return f"{fr_number(size / (1024 * 1024), 1)}\u00a0Mo"


def _too_heavy(size: int | None) -> str:
    weight = f" ({_megabytes(size)})" if size else ""
    limit = MAX_PHOTO_BYTES // (1024 * 1024)
    return (
        f"Photo trop lourde{weight} : la limite est de {limit}\u00a0Mo. "
        "Réglez l'appareil photo de la tablette sur une plus petite taille, "
        "ou choisissez une autre photo."
    )


def _wants_json() -> bool:
    """The page's script asks for JSON (``Accept: application/json``); a plain form, HTML."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _drain_body() -> None:
    """Read what is left of a refused body, up to a bound, so the answer reaches the browser.

    A server that answers before the upload is over and closes the connection makes the
    browser see a reset, not the page. nginx reads the whole body itself in production;
    gunicorn alone (tests, a small install) does not.
    """
    left = request.content_length or 0
    if left > PHOTO_DRAIN_BYTES:
        return
    stream = request.environ.get("wsgi.input")
    if stream is None:
        return
    try:
        while left > 0:
            chunk = stream.read(min(left, 64 * 1024))
            if not chunk:
                break
            left -= len(chunk)
    except OSError:  # the browser gave up: nobody is there to read the answer
        logger.info("photo upload cut off while draining its body")


def _photo_answer(
    user: StaffUser, found: dict[str, Any], *, status: int, error: str, code: str
) -> Response:
    """Refuse a photo: the piece page with the French message, or JSON for the script."""
    if _wants_json():
        response = jsonify(
            {
                "status": "error",
                "error": {"code": code, "message": f"{error} Rien n'a été enregistré."},
                "key": uuid.uuid4().hex,  # the next try is a new input
            }
        )
        response.status_code = status
        return response
    return _render_piece(user, found, status=status, error=error)


@bp.post("/pieces/<code>/photo")
@csrf.exempt  # type: ignore[untyped-decorator]  # checked below, with the larger body
@login_required  # type: ignore[untyped-decorator]
def photo(code: str) -> Any:
    """Attach a photo of the piece taken with the tablet (``AttachPhoto``).

    The site's request limit (64 KiB) is raised for this form alone, to what the core
    accepts for a photo plus the form's fields; the CSRF token is checked then. A heavier
    body is answered with the piece page and « Photo trop lourde (N Mo) » (413), never
    Werkzeug's bare page. ``teacher/review.js`` shrinks the photo to 1600 px before
    sending it and asks for JSON: the same answers, ``{"status": "ok", "location"}`` on
    success (the message is flashed for the page it goes to).
    """
    user = staff()
    request.max_content_length = PHOTO_REQUEST_BYTES
    found = _piece_view(user, code)
    try:
        form, files = request.form, request.files
    except RequestEntityTooLarge:
        size = request.content_length
        logger.info("photo of %s bytes refused for %s (over the limit)", size, code[:30])
        _drain_body()
        if found is None:
            return _not_found(f"La pièce {code[:30]} n'existe pas sur ce site.")
        return _photo_answer(user, found, status=413, error=_too_heavy(size), code="too_large")
    try:
        validate_csrf(form.get("csrf_token"))
    except ValidationError as exc:
        # The same French « Formulaire expiré » page as every other form.
        raise CSRFError(str(exc)) from None
    if found is None:
        return _not_found(f"La pièce {code[:30]} n'existe pas sur ce site.")
    upload = files.get("photo")
    data = upload.read(MAX_PHOTO_BYTES + 1) if upload is not None else b""
    if not data or upload is None:
        return _photo_answer(
            user,
            found,
            status=422,
            error="Choisissez d'abord une photo de la pièce.",
            code="no_photo",
        )
    if len(data) > MAX_PHOTO_BYTES:
        upload.stream.seek(0, io.SEEK_END)
        return _photo_answer(
            user, found, status=413, error=_too_heavy(upload.stream.tell()), code="too_large"
        )
    media_type = upload.mimetype or "application/octet-stream"
    outcome = submit(web_origin(user, _key(form.get("key"))), AttachPhoto(code, media_type, data))
    if not outcome.accepted:
        error = outcome.body.get("error") or {}
        return _photo_answer(
            user,
            found,
            status=_refusal_status(outcome),
            error=_message(outcome),
            code=str(error.get("code") or "refused"),
        )
    flash(_message(outcome), "ok")
    location = url_for("teacher.piece", code=code) + "#photos"
    if _wants_json():
        return jsonify({"status": "ok", "message": _message(outcome), "location": location})
    return redirect(location, 303)


@bp.get("/photos/<int:photo_id>.jpg")
@login_required  # type: ignore[untyped-decorator]
def photo_file(photo_id: int) -> Any:
    """Serve a photo of a piece of the teacher's site (never cached)."""
    user = staff()
    found = stored_photo(db.session(), user.site_id, photo_id)
    if found is None:
        abort(404)
    data, media_type = found
    return Response(data, mimetype=media_type or "image/jpeg")


# ---- A batch of pieces ------------------------------------------------------------------


def _batch_groups(user: StaffUser, number: str) -> list[dict[str, Any]]:
    """The waiting pieces of a work order, grouped by the students who made them."""
    session = db.session()
    groups: dict[tuple[str, ...], dict[str, Any]] = {}
    for item in review_queue(session, user.site_id, work_order=number):
        team = tuple(sorted(student["code"] for student in item["students"]))
        group = groups.setdefault(
            team, {"team": team, "students": item["students"], "pieces": [], "evidence": {}}
        )
        detail = piece_detail(session, user.site_id, item["code"])
        if detail is None:
            continue
        group["pieces"].append({"code": item["code"], "when": _when(item["completed_at"])})
        for evidence in detail["evidence"]:
            pair = (evidence["student"]["id"], evidence["competency"])
            group["evidence"].setdefault(
                pair,
                {
                    "student": evidence["student"]["id"],
                    "name": evidence["student"]["name"],
                    "competency": evidence["competency"],
                    "title": evidence["title"],
                    "pieces": set(),
                },
            )["pieces"].add(item["code"])
    result = []
    for index, group in enumerate(groups.values(), start=1):
        group["id"] = f"g{index}"
        group["evidence"] = list(group["evidence"].values())
        result.append(group)
    return result


@bp.route("/of/<number>/lot", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
def batch(number: str) -> Any:
    """Review together the waiting pieces of one work order made by the same students."""
    user = staff()
    groups = _batch_groups(user, number[:40])
    error = None
    status = 200
    levels: dict[tuple[str, str], str] = {}
    chosen_group = request.form.get("group", "") if request.method == "POST" else ""
    fill = request.form.get("fill", "").strip() if request.method == "POST" else ""
    if request.method == "POST":
        group = next((g for g in groups if g["id"] == chosen_group), None)
        if group is None:
            error = "Ces pièces ne sont plus à évaluer : rien n'a été enregistré."
            status = 409
        else:
            for item in group["evidence"]:
                value = request.form.get(f"level:{item['student']}:{item['competency']}", "")
                if fill in ASSESSMENT_LEVELS:
                    value = fill
                if value.strip():
                    levels[(item["student"], item["competency"])] = value.strip()
            if not fill:
                done, error, status = _submit_batch(user, group, levels)
                if error is None:
                    flash(done, "ok")
                    return redirect(url_for("teacher.queue"), 303)
    html = render_template(
        "teacher/batch.html",
        number=number,
        groups=groups,
        levels=levels,
        chosen_group=chosen_group,
        verdict=request.form.get("verdict", "conforme"),
        verdicts=VERDICT_CHOICES,
        level_choices=[
            (v, LEVEL_SHORT[v], LEVEL_HINTS[v], LEVEL_WORDS[v]) for v in ASSESSMENT_LEVELS
        ],
        error=error,
        key=_key(request.form.get("key")) if request.method == "POST" else uuid.uuid4().hex,
    )
    return page(html, status)


def _submit_batch(
    user: StaffUser, group: dict[str, Any], levels: dict[tuple[str, str], str]
) -> tuple[str, str | None, int]:
    """Submit one ``ReviewPiece`` per piece of the group, each with its own event key."""
    key = _key(request.form.get("key"))
    verdict = request.form.get("verdict", "").strip()
    comment = request.form.get("comment", "").strip()[:500] or None
    chosen = set(request.form.getlist("piece"))
    pieces = [piece["code"] for piece in group["pieces"] if piece["code"] in chosen]
    if not pieces:
        return "", "Cochez au moins une pièce : rien n'a été enregistré.", 422
    done: list[str] = []
    for code in pieces:
        assessments = tuple(
            AssessmentInput(item["student"], item["competency"], level, comment)
            for item in group["evidence"]
            if code in item["pieces"]
            for level in [levels.get((item["student"], item["competency"]))]
            if level
        )
        # One key per piece, derived from the form's: a retry of the form doubles nothing.
        outcome = submit(web_origin(user, f"{key}:{code}"), ReviewPiece(code, verdict, assessments))
        if not outcome.accepted:
            reviewed = f" ({len(done)} déjà enregistrée(s) : {', '.join(done)})" if done else ""
            return "", f"{code} : {_message(outcome)}{reviewed}", _refusal_status(outcome)
        done.append(code)
    word = VERDICT_WORDS.get(verdict, verdict).lower()
    return f"{len(done)} pièce(s) évaluée(s) ensemble, {word} : {', '.join(done)}.", None, 200


# ---- Unattributed welds -----------------------------------------------------------------


def _weld_words(weld: dict[str, Any]) -> dict[str, Any]:
    weld["when"] = _when(weld["started_at"])
    weld["verdict_short"] = verdict_label(weld["wps_verdict"], weld["deviations"])
    weld["process_words"] = process_label(weld["process"]) or "procédé inconnu"
    weld["figures"] = _weld_figures(weld)
    return weld


def _welds_page(
    user: StaffUser, *, status: int = 200, error: str | None = None, focus: str = ""
) -> Response:
    """List the newest waiting welds compactly; render the assignment form of one only.

    The open weld is ``focus`` (``?soudure=<id>``, or the one a refused form came back to),
    else the newest: its candidate runs and the students to offer are read for it alone, so
    the page costs what it shows, never the site's years of welds and enrolments.
    """
    session = db.session()
    welds = [_weld_words(weld) for weld in unattributed_welds(session, user.site_id, WELDS_SHOWN)]
    newest = len(welds)
    focus = focus[:80]
    opened = next((weld for weld in welds if weld["weld_id"] == focus), None)
    missing = older = False
    if opened is None and focus:
        found = weldcharts.unattributed_weld(session, user.site_id, focus)
        if found is not None:
            # Older than the newest listed: shown first, on its own, above them.
            opened = _weld_words(found)
            welds.insert(0, opened)
            older = True
        else:
            missing = True
    if opened is None and welds and not missing:
        opened = welds[0]
    candidates: list[dict[str, Any]] = []
    students: dict[str, list[dict[str, str]]] = {"near": [], "others": []}
    preset: list[str] = []
    if opened is not None:
        candidates = weldcharts.assign_candidates(session, user.site_id, opened["weld_id"])
        badged = [student["id"] for student in opened["students"]]
        nearby = [s["code"] for candidate in candidates for s in candidate["students"]]
        first_run = [s["code"] for s in candidates[0]["students"]] if candidates else []
        preset = badged or first_run
        zone = workshop_timezone(current_app.config.get("ATELIER_TIMEZONE"))
        today = datetime.now(UTC).astimezone(zone).date()
        students = weldcharts.assign_students(session, user.site_id, today, badged + nearby)
    html = render_template(
        "teacher/welds.html",
        welds=welds,
        opened=opened,
        candidates=candidates,
        students=students,
        preset=preset,
        missing=missing,
        newest=newest,
        older=older,
        welds_url=url_for("teacher.welds"),
        error=error,
        key=uuid.uuid4().hex,
    )
    return page(html, status)


@bp.get("/soudures")
@login_required  # type: ignore[untyped-decorator]
def welds() -> Any:
    """The welds no run was active for: station, time, figures, and where to put them."""
    return _welds_page(staff(), focus=request.args.get("soudure", "").strip())


@bp.post("/soudures/<weld_id>/attribuer")
@login_required  # type: ignore[untyped-decorator]
def assign(weld_id: str) -> Any:
    """Give an unattributed weld to a piece's operation and its students (``AssignWeld``)."""
    user = staff()
    form = request.form
    target = form.get("target", "").strip()
    piece_code = form.get("piece", "").strip().upper()
    step_text = form.get("step", "").strip()
    if piece_code:
        step_raw = step_text
    elif "|" in target:
        piece_code, step_raw = target.split("|", 1)
    else:
        return _welds_page(
            user,
            status=422,
            error="Choisissez la pièce et l'opération de la soudure.",
            focus=weld_id,
        )
    try:
        step = int(step_raw)
    except ValueError:
        return _welds_page(
            user,
            status=422,
            error=f"Numéro d'opération attendu (10, 20…) : {step_raw[:10] or 'vide'}.",
            focus=weld_id,
        )
    students = tuple(code for code in form.getlist("students") if code)
    event = AssignWeld(weld_id[:80], piece_code[:30], step, students)
    outcome = submit(web_origin(user, _key(form.get("key"))), event)
    if not outcome.accepted:
        return _welds_page(
            user, status=_refusal_status(outcome), error=_message(outcome), focus=weld_id
        )
    flash(_message(outcome), "ok")
    return redirect(url_for("teacher.welds"), 303)
