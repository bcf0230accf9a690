"""Staff sessions kept on the server, and the failed sign-ins that throttle the next ones.

A staff member's browser holds a random session secret (in Flask's signed cookie); the
server keeps only its SHA-256, with who, since when, when last seen, until when, and
whether it was ended (sign-out, password change, an administrator). Ending the row ends
the session at once, whatever copy of the cookie exists.

A failed sign-in is noted (the e-mail's SHA-256, never the e-mail or the password, and the
client's address) so that every worker process counts the same failures.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base
from app.models.types import UtcDateTime, utcnow

# Why a session ended.
SIGNED_OUT = "sign_out"
PASSWORD_CHANGED = "password"  # noqa: S105  (a reason, not a secret)
BY_ADMIN = "admin"
REVOKE_REASONS = (SIGNED_OUT, PASSWORD_CHANGED, BY_ADMIN)


class StaffSession(Base):
    """One sign-in of a staff member on one browser, until it ends or expires."""

    __tablename__ = "staff_sessions"
    __table_args__ = (Index("ix_staff_sessions_user_open", "user_id", "revoked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # The end of the workshop's local day it began on.
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(10))
    # A short label of the browser ("Chrome, Android"), for the administrator's list.
    user_agent: Mapped[str | None] = mapped_column(String(80))


class SignInFailure(Base):
    """A failed sign-in: counted per account and per address over a short window."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (
        Index("ix_sign_in_failures_email_at", "email_sha256", "at"),
        Index("ix_sign_in_failures_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    email_sha256: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(45))
