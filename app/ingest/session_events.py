"""Staff sessions as inputs of the core: a sign-in, a sign-out, sessions ended by force.

The event log is the audit log: it says who signed in (on which browser, until when), who
signed out, and whose sessions an administrator or a password change ended. It never
holds a password nor a session secret (nor their hashes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from app.models.types import iso


@dataclass(frozen=True)
class SignIn:
    """A staff member signed in: a session opens for one browser (only its hash is kept)."""

    KIND: ClassVar[str] = "staff.sign_in"
    user_id: int
    expires_at: datetime
    user_agent: str | None
    secret_sha256: str = field(repr=False)

    def payload(self) -> dict[str, Any]:
        """Return who, on which browser, until when (never the session's secret)."""
        return {
            "user": self.user_id,
            "browser": self.user_agent,
            "expires_at": iso(self.expires_at),
        }


@dataclass(frozen=True)
class SignOut:
    """A staff member signed out: their session ends at once."""

    KIND: ClassVar[str] = "staff.sign_out"
    user_id: int
    session_id: int

    def payload(self) -> dict[str, Any]:
        """Return whose session ended."""
        return {"user": self.user_id, "session": self.session_id}


@dataclass(frozen=True)
class RevokeSessions:
    """Every open session of an account ends, but the one kept (if any).

    ``reason`` is ``admin`` (« Déconnecter partout ») or ``password`` (the account's
    password changed: its other sessions end).
    """

    KIND: ClassVar[str] = "staff.revoke_sessions"
    user_id: int
    reason: str
    keep_session_id: int | None = None

    def payload(self) -> dict[str, Any]:
        """Return whose sessions end, why, and which one is kept."""
        return {"user": self.user_id, "reason": self.reason, "kept": self.keep_session_id}
