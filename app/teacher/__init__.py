"""The teacher's tablet: the review queue, a piece's review, unattributed welds, the livret.

For a signed-in teacher or administrator of their own site. Pages read through
``app.read`` and write by handing an event to the core (``app.boundary.submit``).
"""

from __future__ import annotations

from flask import Blueprint, abort
from flask_login import current_user

from app.models import ROLES, StaffUser

bp = Blueprint("teacher", __name__, url_prefix="/enseignant")


def staff() -> StaffUser:
    """Return the signed-in teacher or administrator, or refuse (401 is the login's)."""
    user: StaffUser = current_user._get_current_object()
    if user.role not in ROLES:
        abort(403)
    return user


from app.teacher import records, review  # noqa: E402, F401  (their routes)
