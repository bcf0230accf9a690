"""The teacher's tablet: the review queue, a piece's review, unattributed welds, the livret.

For a signed-in teacher or administrator of their own site. Pages read through
``app.read`` and write by handing an event to the core (``app.boundary.submit``).
Every teacher page shows what is waiting (pieces to review, welds to attribute): the
``teacher/base.html`` nav reads ``teacher_counts`` from this blueprint's context processor.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, url_for
from flask_login import current_user
from werkzeug.routing import BuildError

from app.extensions import db
from app.models import ROLES, StaffUser
from app.read.reviews import awaiting_count
from app.read.weldcharts import unattributed_count

bp = Blueprint("teacher", __name__, url_prefix="/enseignant")


@bp.after_request
def _no_store(response: Response) -> Response:
    """Keep no copy of any teacher page or download: they carry minors' names and levels."""
    response.headers["Cache-Control"] = "no-store"
    return response


def page(html: str, status: int = 200) -> Response:
    """Return a rendered teacher page with its status."""
    return Response(html, status=status, mimetype="text/html")


def staff() -> StaffUser:
    """Return the signed-in teacher or administrator, or refuse (401 is the login's)."""
    user: StaffUser = current_user._get_current_object()
    if user.role not in ROLES:
        abort(403)
    return user


def counts(site_id: int) -> dict[str, int]:
    """Return what waits for the teacher: pieces to review and welds to attribute."""
    session = db.session()
    return {
        "awaiting": awaiting_count(session, site_id),
        "unattributed": unattributed_count(session, site_id),
    }


def _teacher_url(endpoint: str, fallback: str, **values: Any) -> str:
    """Return an endpoint's URL, or the path it will have while it is not built yet."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return fallback


@bp.context_processor
def _teacher_context() -> dict[str, Any]:
    values: dict[str, Any] = {"teacher_url": _teacher_url}
    user = current_user
    if getattr(user, "is_authenticated", False) and getattr(user, "role", None) in ROLES:
        values["teacher_counts"] = counts(user.site_id)
    else:
        values["teacher_counts"] = {"awaiting": 0, "unattributed": 0}
    return values


from app.teacher import records, review  # noqa: E402, F401  (their routes)
