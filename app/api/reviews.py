"""Section 8 of docs/contract.md: review a piece, attribute welds, export a student's record.

For a signed-in teacher or administrator only (the session cookie), of their own site:
anonymous requests get 401, device tokens and kiosk credentials 403. The API blueprint is
exempt from Flask-WTF's automatic CSRF check (bearer tokens carry no cookie), so the
state-changing calls here, which the session cookie authenticates, check the token of the
``X-CSRFToken`` header themselves. Bodies are strict JSON with bounded sizes; anything
else is a French 400, never a 500. Every write, and every export, goes through the core
(``app.boundary.submit``) and so into the audit log.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Response, current_app, g, jsonify, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from app.api import bp, error_response
from app.auth.tokens import device_from_request
from app.boundary import submit, web_origin
from app.db import DatabaseBusy
from app.extensions import csrf, db
from app.ingest import Outcome
from app.ingest.events import AssessmentInput, AssignWeld, ExportRecord, ReviewPiece
from app.models import ROLES, StaffUser, safe_text
from app.read.pieces import piece_detail
from app.read.records import student_record
from app.read.reviews import QUEUE_LIMIT, awaiting_count, review_queue, weld_detail
from app.read.welds import unattributed_welds

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

MAX_CODE = 40
MAX_COMPETENCY = 80
MAX_LEVEL = 10
MAX_VERDICT = 20
MAX_COMMENT = 500
MAX_ASSESSMENTS = 200
MAX_STUDENTS = 20
MAX_STEP = 9999
MAX_FILTER = 80
BUSY = "Le serveur est occupé : réessayez dans un instant."
# Refusals of the core and the status each gets (anything else refused: 422).
STATUSES = {
    "not_found": 404,
    "not_finished": 409,
    "already_attributed": 409,
    "internal_error": 500,
}


class BadBody(ValueError):
    """The request body is not what the endpoint takes; the message says why (French)."""


# -- access ------------------------------------------------------------------------------------


def staff_only(view: F) -> F:
    """Let a signed-in teacher or administrator in; 403 for devices, 401 for anyone else."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if device_from_request() is not None:
            return error_response(
                403, "forbidden", "Réservé aux enseignants connectés : un appareil n'y a pas accès."
            )
        if not (current_user.is_authenticated and current_user.is_active):
            return error_response(401, "unauthorized", "Connexion enseignant requise.")
        user: StaffUser = current_user._get_current_object()
        if user.role not in ROLES:
            return error_response(403, "forbidden", "Réservé aux enseignants et administrateurs.")
        g.user = user
        g.site_id = user.site_id
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _csrf_refusal() -> Any:
    """Check the CSRF token of a cookie-authenticated write; return the refusal, if any."""
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return None
    try:
        csrf.protect()
    except CSRFError:
        return error_response(
            403,
            "csrf_failed",
            "Jeton CSRF absent ou expiré (en-tête X-CSRFToken) : rechargez la page et recommencez.",
        )
    return None


def _no_store(response: Response) -> Response:
    # Students' data: never kept by a shared tablet's cache.
    response.headers["Cache-Control"] = "no-store"
    return response


# -- bodies -------------------------------------------------------------------------------------


def _strict_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise BadBody(f"le champ « {safe_text(key)[:40]} » apparaît deux fois")
        seen[key] = value
    return seen


def _no_constant(name: str) -> Any:
    raise BadBody(f"{name} n'est pas un nombre JSON")


def _json_body() -> dict[str, Any]:
    """Return the request's JSON object, or raise BadBody (strict: no NaN, no twice a key)."""
    raw = request.get_data(cache=True)
    try:
        body = json.loads(raw, object_pairs_hook=_strict_pairs, parse_constant=_no_constant)
    except BadBody:
        raise
    except RecursionError:
        raise BadBody("le corps est imbriqué trop profondément") from None
    except (ValueError, UnicodeDecodeError):
        raise BadBody("le corps n'est pas du JSON valide") from None
    if not isinstance(body, dict):
        raise BadBody("le corps doit être un objet JSON")
    return body


def _only(body: dict[str, Any], allowed: set[str], where: str = "") -> None:
    extra = sorted(set(body) - allowed)
    if extra:
        raise BadBody(f"champ inconnu{where} : « {safe_text(extra[0])[:40]} »")


def _text(
    body: dict[str, Any], key: str, max_len: int, *, required: bool = True, where: str = ""
) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise BadBody(f"champ « {key} » manquant{where}")
        return None
    if not isinstance(value, str):
        raise BadBody(f"le champ « {key} »{where} doit être un texte")
    if len(value) > max_len:
        raise BadBody(f"le champ « {key} »{where} dépasse {max_len} caractères")
    if safe_text(value) != value:
        raise BadBody(f"le champ « {key} »{where} contient des caractères invalides")
    if required and not value.strip():
        raise BadBody(f"le champ « {key} »{where} ne peut pas être vide")
    return value


def review_from_body(code: str, body: dict[str, Any]) -> ReviewPiece:
    """Turn a review body into the core's input, or raise BadBody."""
    _only(body, {"verdict", "assessments"})
    verdict = _text(body, "verdict", MAX_VERDICT)
    assert verdict is not None
    items = body.get("assessments", [])
    if items is None:
        items = []
    if not isinstance(items, list):
        raise BadBody("le champ « assessments » doit être une liste")
    if len(items) > MAX_ASSESSMENTS:
        raise BadBody(f"au plus {MAX_ASSESSMENTS} évaluations par pièce")
    assessments = []
    for number, item in enumerate(items, start=1):
        where = f" (évaluation {number})"
        if not isinstance(item, dict):
            raise BadBody(f"l'évaluation {number} doit être un objet")
        _only(item, {"student", "competency", "level", "comment"}, where)
        student = _text(item, "student", MAX_CODE, where=where)
        competency = _text(item, "competency", MAX_COMPETENCY, where=where)
        level = _text(item, "level", MAX_LEVEL, where=where)
        comment = _text(item, "comment", MAX_COMMENT, required=False, where=where)
        assert student is not None and competency is not None and level is not None
        assessments.append(AssessmentInput(student, competency, level, comment))
    return ReviewPiece(code, verdict, tuple(assessments))


def assignment_from_body(weld_id: str, body: dict[str, Any]) -> AssignWeld:
    """Turn a weld assignment body into the core's input, or raise BadBody."""
    _only(body, {"piece", "step", "students"})
    piece = _text(body, "piece", MAX_CODE)
    assert piece is not None
    step = body.get("step")
    if step is None:
        raise BadBody("champ « step » manquant")
    if isinstance(step, bool) or not isinstance(step, int) or not 0 < step <= MAX_STEP:
        raise BadBody(f"le champ « step » doit être un entier de 1 à {MAX_STEP}")
    students = body.get("students")
    if not isinstance(students, list) or not students:
        raise BadBody("le champ « students » doit être une liste d'au moins un élève")
    if len(students) > MAX_STUDENTS:
        raise BadBody(f"au plus {MAX_STUDENTS} élèves par soudure")
    codes = []
    for number, student in enumerate(students, start=1):
        if not isinstance(student, str) or not student.strip():
            raise BadBody(f"l'élève {number} doit être un code texte")
        if len(student) > MAX_CODE or safe_text(student) != student:
            raise BadBody(f"le code de l'élève {number} est invalide")
        codes.append(student)
    return AssignWeld(weld_id, piece.upper(), step, tuple(codes))


# -- answers ------------------------------------------------------------------------------------


def _submit(event: Any) -> Outcome | tuple[Any, int]:
    try:
        return submit(web_origin(g.user), event)
    except DatabaseBusy:
        response = error_response(503, "unavailable", BUSY)
        response[0].headers["Retry-After"] = "1"
        return response


def _refused(outcome: Outcome) -> tuple[Any, int]:
    error = outcome.body.get("error") or {}
    code = str(error.get("code") or "rejected")
    message = str(error.get("message") or "Refusé.")
    return error_response(STATUSES.get(code, 422), code, message)


def _bad(exc: BadBody) -> tuple[Any, int]:
    return error_response(400, "bad_request", f"Requête invalide : {exc}.")


def _guarded_body(build: Callable[[dict[str, Any]], Any]) -> Any:
    """Check CSRF, then parse and validate the body; return the input or an error answer."""
    refusal = _csrf_refusal()
    if refusal is not None:
        return refusal
    try:
        return build(_json_body())
    except BadBody as exc:
        return _bad(exc)


# -- routes -------------------------------------------------------------------------------------


@bp.get("/reviews")
@staff_only
def get_reviews() -> Any:
    """List the pieces awaiting review, newest first (filters: student, work order, station)."""
    filters: dict[str, str | None] = {}
    for key in ("student", "work_order", "station"):
        value = request.args.get(key) or None
        if value is not None and (len(value) > MAX_FILTER or safe_text(value) != value):
            return error_response(400, "bad_request", f"Filtre « {key} » invalide.")
        filters[key] = value
    raw_limit = request.args.get("limit")
    limit = QUEUE_LIMIT
    if raw_limit is not None:
        if not raw_limit.isascii() or not raw_limit.isdigit() or not 0 < int(raw_limit) <= 200:
            return error_response(
                400, "bad_request", f"« limit » doit être un entier de 1 à {QUEUE_LIMIT}."
            )
        limit = int(raw_limit)
    session = db.session()
    pieces = review_queue(
        session,
        g.site_id,
        student=filters["student"],
        work_order=filters["work_order"].upper() if filters["work_order"] else None,
        station=filters["station"].upper() if filters["station"] else None,
        limit=limit,
    )
    return _no_store(jsonify({"count": awaiting_count(session, g.site_id), "pieces": pieces}))


@bp.post("/pieces/<code>/review")
@staff_only
def post_review(code: str) -> Any:
    """Record a piece's verdict and its students' levels; answer the piece as it is now."""
    if len(code) > MAX_CODE:
        return error_response(404, "not_found", "Pièce inconnue.")
    review = _guarded_body(lambda body: review_from_body(code.upper(), body))
    if not isinstance(review, ReviewPiece):
        return review
    outcome = _submit(review)
    if not isinstance(outcome, Outcome):
        return outcome
    if not outcome.accepted:
        return _refused(outcome)
    detail = piece_detail(db.session(), g.site_id, review.piece_code)
    return _no_store(jsonify(detail))


@bp.get("/welds")
@staff_only
def get_welds() -> Any:
    """List the welds no run was active for, newest first (``?unattributed=true``)."""
    if request.args.get("unattributed") != "true":
        return error_response(
            400,
            "bad_request",
            "Seule la liste des soudures non attribuées existe : ajoutez ?unattributed=true.",
        )
    return _no_store(jsonify({"welds": unattributed_welds(db.session(), g.site_id)}))


@bp.post("/welds/<code>/assign")
@staff_only
def post_weld_assignment(code: str) -> Any:
    """Attribute an unattributed weld to a piece's operation and its students."""
    if len(code) > 80 or safe_text(code) != code:
        return error_response(404, "not_found", "Soudure inconnue.")
    assignment = _guarded_body(lambda body: assignment_from_body(code, body))
    if not isinstance(assignment, AssignWeld):
        return assignment
    outcome = _submit(assignment)
    if not isinstance(outcome, Outcome):
        return outcome
    if not outcome.accepted:
        return _refused(outcome)
    return _no_store(
        jsonify(
            {
                "status": "accepted",
                "message": outcome.body.get("message"),
                "weld": weld_detail(db.session(), g.site_id, code),
            }
        )
    )


def _export(code: str, fmt: str) -> Any:
    # Imported here: the app.printing package imports app.errors, which imports this API.
    from app.printing.records import record_csv, record_pdf  # noqa: PLC0415

    if len(code) > MAX_CODE or safe_text(code) != code:
        return error_response(404, "not_found", "Élève inconnu.")
    record = student_record(db.session(), g.site_id, code)
    if record is None:
        return error_response(404, "not_found", f"Élève {code} inconnu.")
    content: bytes = record_pdf(record) if fmt == "pdf" else record_csv(record).encode("utf-8")
    outcome = _submit(ExportRecord(record["student"]["code"], fmt))
    if not isinstance(outcome, Outcome):
        return outcome
    if not outcome.accepted:
        return _refused(outcome)
    response = Response(
        content, mimetype="application/pdf" if fmt == "pdf" else "text/csv; charset=utf-8"
    )
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", record["student"]["code"])
    response.headers["Content-Disposition"] = f'attachment; filename="livret-{name}.{fmt}"'
    return _no_store(response)


@bp.get("/students/<code>/record.pdf")
@staff_only
def get_record_pdf(code: str) -> Any:
    """Return a student's record (livret) as a PDF; the export is in the audit log."""
    return _export(code, "pdf")


@bp.get("/students/<code>/record.csv")
@staff_only
def get_record_csv(code: str) -> Any:
    """Return a student's record (livret) as CSV; the export is in the audit log."""
    return _export(code, "csv")
