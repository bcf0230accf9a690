"""The kiosk's pages and data: ``/borne``, its enrolment link, its state and a student's page."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
from pathlib import Path
from typing import Any, TypeVar

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from app.auth.tokens import (
    KIOSK_COOKIE,
    clear_cache,
    cross_site,
    hash_token,
    kiosk_from_request,
    new_token,
    stamp_used,
)
from app.boundary import submit
from app.db import DatabaseBusy, write_transaction
from app.extensions import csrf, db
from app.ingest.events import ActivateKiosk, Actor, Origin, SelfAssess
from app.ingest.kiosks import LINK_UNKNOWN, LINK_USED
from app.models import safe_text, utcnow
from app.read.kiosk import (
    enrolment_site,
    kiosk_label,
    kiosk_state,
    present_at,
    station_in_view,
    student_page,
)
from kiosk import admin, commands

logger = logging.getLogger(__name__)

R = TypeVar("R", bound=BaseResponse)

bp = Blueprint(
    "kiosk",
    __name__,
    url_prefix="/borne",
    static_folder="static",
    static_url_path="/static",
    template_folder="templates",
)

STATIC = Path(__file__).resolve().parent / "static"
# Browsers keep a cookie 400 days at most; the page sets it again on every load.
COOKIE_MAX_AGE_S = 400 * 24 * 3600


def _private(response: R) -> R:
    # A kiosk's pages and data are live and personal: no copy in any cache or referrer.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _enrol_screen(status: int, reason: str | None = None) -> Response:
    html = render_template("kiosk/enrol.html", reason=reason)
    return _private(Response(html, status=status, mimetype="text/html"))


def _unknown_kiosk() -> Response:
    response = jsonify(
        {
            "status": "error",
            "error": {
                "code": "kiosk_unknown",
                "message": "Borne non activée : demandez un lien d'activation au maître pro.",
            },
        }
    )
    response.status_code = 401
    return _private(response)


def _set_cookie(response: BaseResponse, token: str) -> None:
    response.set_cookie(
        KIOSK_COOKIE,
        token,
        max_age=COOKIE_MAX_AGE_S,
        path="/",
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        httponly=True,
        samesite="Strict",
    )


@bp.get("")
def page() -> Response:
    """Show the kiosk, or the enrolment screen to a browser that is not an enrolled kiosk."""
    kiosk = kiosk_from_request(fresh=True)
    label = kiosk_label(db.session(), kiosk.station_id) if kiosk and kiosk.station_id else None
    if kiosk is None or label is None:
        return _enrol_screen(401)
    html = render_template(
        "kiosk/borne.html",
        station_code=label["code"],
        station_name=label["name"],
        site_name=label["site_name"],
        speech=bool(current_app.config.get("ATELIER_KIOSK_SPEECH")),
        asset=lambda path: url_for("kiosk.static", filename=path),
    )
    response = _private(Response(html, mimetype="text/html"))
    _set_cookie(response, request.cookies[KIOSK_COOKIE])
    return response


@bp.get("/inscription/<code>")
def enrol(code: str) -> BaseResponse:
    """Use a one-time enrolment link: give this browser the kiosk's credential."""
    if len(code) > 100:
        return _enrol_screen(404, LINK_UNKNOWN)
    code_sha256 = hashlib.sha256(code.encode("utf-8", "replace")).hexdigest()
    site_id = enrolment_site(db.session(), code_sha256)
    if site_id is None:
        logger.warning("unknown kiosk enrolment link opened")
        return _enrol_screen(404, LINK_UNKNOWN)
    token = new_token()
    origin = Origin(
        site_id=site_id,
        channel="web",
        # The link's hash is the event's id: a second use is a duplicate the database
        # refuses, however many browsers open it at once.
        key=f"kiosk-activate:{code_sha256}",
        actor=Actor("kiosk", "borne"),
        received_at=utcnow(),
        body_sha256=hash_token(token),
    )
    try:
        outcome = submit(
            origin,
            ActivateKiosk(
                code_sha256=code_sha256, token_sha256=hash_token(token), prefix=token[:12]
            ),
        )
    except DatabaseBusy:
        return _enrol_screen(503, "Le serveur est occupé : rouvrez le lien dans un instant.")
    if outcome.status in {"duplicate", "conflict"}:
        return _enrol_screen(410, LINK_USED)
    if not outcome.accepted:
        error = outcome.body.get("error", {})
        status = 404 if error.get("code") == "enrolment_unknown" else 410
        return _enrol_screen(status, str(error.get("message") or LINK_UNKNOWN))
    clear_cache()
    response = _private(redirect(url_for("kiosk.page"), code=303))
    _set_cookie(response, token)
    return response


@functools.cache
def service_worker_source() -> str:
    """Return the service worker, its cache named after a digest of the static files."""
    digest = hashlib.sha256()
    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(STATIC).as_posix().encode())
            digest.update(path.read_bytes())
    source = (STATIC / "sw.js").read_text(encoding="utf-8")
    placeholder = 'const VERSION = "borne-dev";'
    if placeholder not in source:
        raise RuntimeError("kiosk/static/sw.js lost its VERSION placeholder")
    return source.replace(placeholder, f'const VERSION = "borne-{digest.hexdigest()[:12]}";')


@bp.get("/sw.js")
def service_worker() -> Response:
    """Serve the kiosk's service worker at the scope it controls (``/borne``)."""
    response = Response(service_worker_source(), mimetype="text/javascript")
    response.headers["Service-Worker-Allowed"] = "/borne"
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/etat")
def state() -> Response:
    """Answer what the kiosk shows now (JSON), for the enrolled kiosk only."""
    kiosk = kiosk_from_request()
    if kiosk is None or kiosk.station_id is None:
        return _unknown_kiosk()
    described = _describe(kiosk.site_id, kiosk.station_id)
    if described is None:
        return _unknown_kiosk()
    if kiosk.needs_stamp(utcnow()):
        # The office's « vue pour la dernière fois »; busy, only that column waits.
        with contextlib.suppress(DatabaseBusy):
            write_transaction(lambda session: stamp_used(session, kiosk))
    return _private(jsonify(described))


def _describe(site_id: int, station_id: int) -> dict[str, Any] | None:
    config = current_app.config
    described = kiosk_state(
        db.session(),
        site_id,
        station_id,
        utcnow(),
        float(config["ATELIER_KIOSK_STATION_TIMEOUT_S"]),
    )
    if described is None:
        return None
    closing = config.get("ATELIER_CLOSING_TIME")
    described["kiosk"].update(
        idle_badge_out_s=int(config.get("ATELIER_KIOSK_IDLE_MINUTES", 10)) * 60,
        closing_time=closing.strftime("%H:%M") if closing is not None else None,
        speech=bool(config.get("ATELIER_KIOSK_SPEECH")),
    )
    return described


@bp.get("/eleves/<student_code>")
def student(student_code: str) -> Response:
    """Answer a student's own pieces and competencies, while they are badged in here."""
    kiosk = kiosk_from_request()
    if kiosk is None or kiosk.station_id is None:
        return _unknown_kiosk()
    session = db.session()
    # Only the station on the kiosk's screen counts, not the rest of what it shows.
    seen = station_in_view(
        session,
        kiosk.site_id,
        kiosk.station_id,
        utcnow(),
        float(current_app.config["ATELIER_KIOSK_STATION_TIMEOUT_S"]),
    )
    # A code no student has (and no database takes: NUL, control characters) is not here.
    well_formed = len(student_code) <= 40 and student_code.isprintable()
    if (
        seen is None
        or not well_formed
        or not present_at(session, kiosk.site_id, seen[1]["code"], student_code)
    ):
        response = jsonify(
            {
                "status": "error",
                "error": {
                    "code": "not_here",
                    "message": "Badge-toi d'abord à ce poste pour voir tes pièces.",
                },
            }
        )
        response.status_code = 403
        return _private(response)
    page_data = student_page(session, kiosk.site_id, student_code, utcnow())
    if page_data is None:
        return _unknown_kiosk()
    return _private(jsonify(page_data))


# The student's own word after A-FIN (« Comment ça s'est passé ? »), as the page sends it.
FEELINGS = ("difficile", "moyen", "facile")
MAX_EVENT_ID = 80
MAX_CODE = 40
STATUS_CODES = {"accepted": 201, "duplicate": 200, "rejected": 422, "conflict": 409}


def _error(status: int, code: str, message: str) -> Response:
    response = jsonify({"status": "error", "error": {"code": code, "message": message}})
    response.status_code = status
    return _private(response)


def _field(body: dict[str, Any], key: str, max_len: int) -> str | None:
    """Return a required short printable text of the body, or None if it is not one."""
    value = body.get(key)
    if not isinstance(value, str) or not value or len(value) > max_len:
        return None
    if not value.isprintable() or safe_text(value) != value:
        return None
    return value


def feeling_from_body(body: Any) -> tuple[str, SelfAssess] | str:
    """Turn the page's JSON into (event id, event), or say in French what is wrong."""
    if not isinstance(body, dict):
        return "le corps doit être un objet JSON"
    event_id = _field(body, "event_id", MAX_EVENT_ID)
    if event_id is None:
        return "le champ « event_id » manque ou n'est pas un identifiant"
    piece = _field(body, "piece", MAX_CODE)
    student = _field(body, "student", MAX_CODE)
    if piece is None or student is None:
        return "les champs « piece » et « student » doivent être des codes"
    step = body.get("step")
    if not isinstance(step, int) or isinstance(step, bool) or not 0 < step < 1_000_000:
        return "le champ « step » doit être un numéro d'étape"
    feeling = body.get("feeling")
    if feeling not in FEELINGS:
        return f"le champ « feeling » doit valoir {', '.join(FEELINGS)}"
    return event_id, SelfAssess(
        piece_code=piece, step=step, student_code=student, feeling=str(feeling)
    )


@bp.post("/ressenti")
def feeling() -> Response:
    """Record how a student badged in here felt the step they just finished went.

    Under the kiosk's credential and the same guards as its scans (its header, same
    origin); the page's event id is the input's key, so a retry records nothing twice.
    Answers 201, 200 (duplicate), 400, 401, 403, 409, 422 or 503, in French.
    """
    kiosk = kiosk_from_request()
    if kiosk is None or kiosk.station_id is None:
        return _unknown_kiosk()
    if cross_site(kiosk):
        return _error(403, "forbidden", "Refusé : cette demande ne vient pas de la borne.")
    try:
        parsed = feeling_from_body(json.loads(request.get_data(cache=True)))
    except (ValueError, UnicodeDecodeError, RecursionError):
        parsed = "le corps n'est pas du JSON valide"
    if isinstance(parsed, str):
        return _error(400, "bad_request", f"Ressenti invalide : {parsed}.")
    event_id, answer = parsed
    session = db.session()
    seen = station_in_view(
        session,
        kiosk.site_id,
        kiosk.station_id,
        utcnow(),
        float(current_app.config["ATELIER_KIOSK_STATION_TIMEOUT_S"]),
    )
    # Only a student badged in at the station on the screen answers for themselves here.
    if seen is None or not present_at(session, kiosk.site_id, seen[1]["code"], answer.student_code):
        return _error(403, "not_here", "Badge-toi d'abord à ce poste pour donner ton ressenti.")
    canonical = json.dumps(answer.payload(), sort_keys=True, ensure_ascii=True)
    origin = Origin(
        site_id=kiosk.site_id,
        channel="http",
        key=f"ressenti:{event_id}",
        actor=Actor("kiosk", kiosk.name, device_token_id=kiosk.token_id),
        received_at=utcnow(),
        body_sha256=hashlib.sha256(canonical.encode()).hexdigest(),
    )
    try:
        outcome = submit(origin, answer, answer={"event_id": event_id})
    except DatabaseBusy:
        response = _error(503, "unavailable", "Le serveur est occupé : réessaie dans un instant.")
        response.headers["Retry-After"] = "1"
        return response
    body = dict(outcome.body)
    if outcome.status == "conflict":
        body = {
            "event_id": event_id,
            "status": "rejected",
            "error": {"code": "conflict", "message": "Ce numéro a déjà servi pour un autre envoi."},
        }
    response = jsonify(body)
    response.status_code = STATUS_CODES.get(outcome.status, 500)
    return _private(response)


def register(app: Flask) -> None:
    """Add the kiosk's pages, its administration page and its commands to the application."""
    app.register_blueprint(bp)
    # The scans' guard instead of a form's token: SameSite=Strict cookie, kiosk header,
    # same origin (``cross_site``).
    csrf.exempt(feeling)
    app.register_blueprint(admin.bp)
    commands.register(app)
