"""What the demo reads from the database to reuse its credentials and number its pieces.

These functions only read, inside the caller's application context; every write goes
through the documented CLI commands (`token create`, `user create`).
"""

from __future__ import annotations

import re
from enum import Enum

from sqlalchemy import select

from app.api.auth import hash_token
from app.extensions import db
from app.models import DeviceToken, Piece, StaffUser

_PIECE_LABEL = re.compile(r"^P-\d{4}-(\d{6})$")


class TeacherState(Enum):
    """Where the demo teacher's account stands."""

    MISSING = "missing"
    PROVISIONAL = "provisional"
    CHOSEN = "chosen"


def token_is_active(token: str) -> bool:
    """Tell whether a device token exists in this database and is not revoked."""
    found = db.session.execute(
        select(DeviceToken.id).where(
            DeviceToken.token_sha256 == hash_token(token), DeviceToken.revoked_at.is_(None)
        )
    ).first()
    return found is not None


def teacher_state(email: str) -> TeacherState:
    """Tell whether the account is missing, on its one-time password, or on a chosen one."""
    user = db.session.execute(
        select(StaffUser).where(StaffUser.email == email.strip().lower())
    ).scalar_one_or_none()
    if user is None or not user.password_hash:
        return TeacherState.MISSING
    return TeacherState.PROVISIONAL if user.must_change_password else TeacherState.CHOSEN


def next_piece_number() -> int:
    """Return the first piece number above every pre-printed label already used."""
    # Labels of every year share one counter in the simulator, so the year is ignored.
    highest = 0
    for code in db.session.execute(select(Piece.code).where(Piece.code.like("P-%"))).scalars():
        match = _PIECE_LABEL.match(code)
        if match:
            highest = max(highest, int(match.group(1)))
    return highest + 1
