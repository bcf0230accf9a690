"""Staff sessions: a sign-in opens one, a sign-out or a revocation ends it at once.

The boundary (``app.auth``) mints the session's secret and hashes it; the core stores the
hash, for an account of the input's site only. Sessions long over are pruned at each
sign-in of the account: the event log keeps the history.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select, update

from app.ingest.core import Done, Refusal, Scope, handles
from app.ingest.session_events import RevokeSessions, SignIn, SignOut
from app.models import REVOKE_REASONS, StaffSession, StaffUser, table_of
from app.models.sessions import SIGNED_OUT

SESSIONS = table_of(StaffSession)
USERS = table_of(StaffUser)
# How long an ended or expired session stays listed before it is pruned.
KEEP_ENDED = timedelta(days=7)
MAX_LABEL = 80


def _account(scope: Scope, user_id: int) -> tuple[int, bool]:
    """Return an account of the site (its id, whether it is active), or refuse."""
    row = scope.conn.execute(
        select(USERS.c.id, USERS.c.active).where(
            USERS.c.id == user_id, USERS.c.site_id == scope.site_id
        )
    ).first()
    if row is None:
        raise Refusal("not_found", "Compte introuvable.", f"no staff account {user_id}")
    return int(row.id), bool(row.active)


@handles(SignIn)
def sign_in(scope: Scope, event: SignIn) -> Done:
    """Open a session for an active account of the site, until the end of its day."""
    user_id, active = _account(scope, event.user_id)
    if not active:
        raise Refusal("inactive", "Ce compte est désactivé.", f"account {user_id} inactive")
    if event.expires_at <= scope.now:
        raise Refusal("expired", "Cette session a déjà expiré.", "session expires at once")
    scope.write(
        delete(SESSIONS).where(
            SESSIONS.c.user_id == user_id,
            SESSIONS.c.expires_at < scope.now - KEEP_ENDED,
        )
    )
    session_id = scope.write(
        SESSIONS.insert().returning(SESSIONS.c.id),
        {
            "user_id": user_id,
            "secret_sha256": event.secret_sha256,
            "created_at": scope.now,
            "last_seen_at": scope.now,
            "expires_at": event.expires_at,
            "revoked_at": None,
            "revoked_reason": None,
            "user_agent": (event.user_agent or "")[:MAX_LABEL] or None,
        },
    ).scalar_one()
    return Done("Connexion ouverte.", {"session": session_id, "user": user_id})


@handles(SignOut)
def sign_out(scope: Scope, event: SignOut) -> Done:
    """End one session of the account (signing out twice is harmless)."""
    user_id, _active = _account(scope, event.user_id)
    scope.write(
        update(SESSIONS)
        .where(
            SESSIONS.c.id == event.session_id,
            SESSIONS.c.user_id == user_id,
            SESSIONS.c.revoked_at.is_(None),
        )
        .values(revoked_at=scope.now, revoked_reason=SIGNED_OUT)
    )
    return Done("Vous êtes déconnecté.", {"session": event.session_id, "user": user_id})


@handles(RevokeSessions)
def revoke_sessions(scope: Scope, event: RevokeSessions) -> Done:
    """End every open session of an account of the site, but the one kept."""
    if event.reason not in REVOKE_REASONS:
        raise Refusal("bad_reason", "Motif inconnu.", f"unknown reason {event.reason!r}")
    user_id, _active = _account(scope, event.user_id)
    condition = [SESSIONS.c.user_id == user_id, SESSIONS.c.revoked_at.is_(None)]
    if event.keep_session_id is not None:
        condition.append(SESSIONS.c.id != event.keep_session_id)
    ended = scope.write(
        update(SESSIONS).where(*condition).values(revoked_at=scope.now, revoked_reason=event.reason)
    ).rowcount
    noun = "session fermée" if ended == 1 else "sessions fermées"
    return Done(f"{ended} {noun}.", {"user": user_id, "ended": ended})
