"""The office: the school's administration and production office, in the web app.

Administrators run the school's data here (students and badges, habilitations, customers,
stations, operation types and their competencies, WPS, device tokens, the school file),
the production board and the audit log; teachers too reach the work orders, the routing
templates and « Qui fait quoi ». Pages read through ``app.read`` and write by handing an
event of ``app.ingest.office_events`` to the core (``app.boundary.submit``); the site is
the signed-in account's, always.
"""

from __future__ import annotations

import uuid
from datetime import date, tzinfo
from typing import Any

from flask import Blueprint, Response, abort, current_app, flash, redirect, url_for
from flask_login import current_user, login_required

from app.boundary import DatabaseBusy, submit, web_origin
from app.ingest import Outcome
from app.models import ROLES, StaffUser, utcnow
from app.read.board import workshop_timezone

bp = Blueprint("office", __name__, url_prefix="/bureau")

BUSY = "Le serveur est occupé : réessayez dans un instant."


@bp.after_request
def _no_store(response: Response) -> Response:
    """Keep no copy of any office page or download: they carry minors' data."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def page(html: str, status: int = 200) -> Response:
    """Return a rendered office page with its status."""
    return Response(html, status=status, mimetype="text/html")


def staff() -> StaffUser:
    """Return the signed-in teacher or administrator, or refuse (401 is the login's)."""
    user: StaffUser = current_user._get_current_object()
    if not getattr(user, "is_authenticated", False) or user.role not in ROLES:
        abort(403)
    return user


def admin() -> StaffUser:
    """Return the signed-in administrator, or refuse (a teacher gets 403)."""
    user = staff()
    if user.role != "admin":
        abort(403)
    return user


def zone() -> tzinfo:
    """Return the workshop's time zone (``ATELIER_TIMEZONE``)."""
    return workshop_timezone(current_app.config.get("ATELIER_TIMEZONE"))


def today() -> date:
    """Return the workshop's local date today."""
    return utcnow().astimezone(zone()).date()


def form_key() -> str:
    """Return a fresh event key for a form (a double submit of it records once)."""
    return uuid.uuid4().hex


def send(user: StaffUser, event: Any, key: str | None = None) -> Outcome | None:
    """Hand an event to the core for a page; None when the database stayed busy (flashed)."""
    try:
        return submit(web_origin(user, key=key or None), event)
    except DatabaseBusy:
        flash(BUSY, "error")
        return None


def refusal(outcome: Outcome) -> str:
    """Return the French message of a refused input."""
    error = outcome.body.get("error") or {}
    return str(error.get("message") or outcome.body.get("message") or "Refusé.")


@bp.get("/")
@login_required  # type: ignore[untyped-decorator]
def index() -> Any:
    """Open the office on its first tab, the work orders."""
    staff()
    return redirect(url_for("office.orders"))


@bp.context_processor
def _office_context() -> dict[str, Any]:
    user = current_user
    return {"office_admin": getattr(user, "is_authenticated", False) and user.role == "admin"}


from app.office import (  # noqa: E402, F401  (their routes)
    audit,
    board,
    files,
    habilitations,
    orders,
    people,
    rgpd,
    school,
)
