"""Staff sessions kept on the server: what the sign-in cookie names, and when it stops.

At sign-in the server mints a random secret, stores its SHA-256 (``staff_sessions``, through
the core's ``SignIn``) and puts the secret in Flask-Login's place in the signed session
cookie. Each request's cookie is judged against its row: the session is refused once it
was ended (sign-out, a password change, an administrator's « Déconnecter partout »), after
``ATELIER_STAFF_IDLE_MINUTES`` without a request (30 by default; 0: no idle limit), and at
the end of the workshop's local day it began on (``ATELIER_TIMEZONE``, Europe/Paris by
default). A copy of the cookie is worth no more than the row.

The time the session was last seen is stamped at most once a minute, in a write
transaction of its own; a busy database skips the stamp rather than fail the request.
``now()`` is the clock the checks read (tests move it).
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from flask import current_app, g
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.db import DatabaseBusy, write_transaction
from app.extensions import db
from app.models import StaffSession, table_of, utcnow
from app.read.board import local_day_bounds, workshop_timezone

logger = logging.getLogger(__name__)

SESSIONS = table_of(StaffSession)
SECRET_PREFIX = "s1."  # noqa: S105  (a marker, not a secret)
MAX_SECRET = 100
STAMP_RESOLUTION = timedelta(minutes=1)


def now() -> datetime:
    """Return the current time, as the session checks see it."""
    return utcnow()


def new_secret() -> str:
    """Return a new random session secret (256 bits)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def secret_digest(secret: str) -> str:
    """Return the SHA-256 under which a session secret is stored."""
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


def zone() -> tzinfo:
    """Return the workshop's time zone (``ATELIER_TIMEZONE``, Europe/Paris by default)."""
    return workshop_timezone(current_app.config.get("ATELIER_TIMEZONE") or None)


def end_of_day(at: datetime) -> datetime:
    """Return when the workshop's local day of ``at`` ends (its next local midnight)."""
    return local_day_bounds(at, zone())[1]


def idle_limit() -> timedelta | None:
    """Return how long a session may go without a request (None: no limit)."""
    minutes = int(current_app.config.get("ATELIER_STAFF_IDLE_MINUTES", 30))
    return timedelta(minutes=minutes) if minutes > 0 else None


@dataclass(frozen=True)
class OpenSession:
    """A session that is still good: its row, its account, when it was last seen."""

    id: int
    user_id: int
    last_seen_at: datetime
    expires_at: datetime


def find(secret: str, at: datetime | None = None) -> OpenSession | None:
    """Return the open session a secret names, or None if it is unknown or over."""
    if not secret.startswith(SECRET_PREFIX) or len(secret) > MAX_SECRET:
        return None  # an old "id:version" cookie, or garbage
    row = db.session.execute(
        select(
            SESSIONS.c.id,
            SESSIONS.c.user_id,
            SESSIONS.c.last_seen_at,
            SESSIONS.c.expires_at,
            SESSIONS.c.revoked_at,
        ).where(SESSIONS.c.secret_sha256 == secret_digest(secret))
    ).first()
    if row is None or row.revoked_at is not None:
        return None
    at = at or now()
    if at >= row.expires_at:
        return None
    limit = idle_limit()
    if limit is not None and at - row.last_seen_at > limit:
        return None
    return OpenSession(row.id, row.user_id, row.last_seen_at, row.expires_at)


def touch(session: OpenSession, at: datetime | None = None) -> None:
    """Stamp when the session was last seen, at most once a minute; never fail for it."""
    at = at or now()
    if at - session.last_seen_at < STAMP_RESOLUTION:
        return

    def work(db_session: Session) -> None:
        db_session.execute(
            update(SESSIONS)
            .where(
                SESSIONS.c.id == session.id,
                SESSIONS.c.revoked_at.is_(None),
                SESSIONS.c.last_seen_at < at,
            )
            .values(last_seen_at=at)
        )

    try:
        write_transaction(work)
    except DatabaseBusy:
        logger.warning("staff session %s: last-seen stamp skipped, database busy", session.id)


def remember(session_id: int) -> None:
    """Note which session the request is signed in with."""
    g.atelier_staff_session = session_id


def current_session_id() -> int | None:
    """Return the id of the session the request is signed in with, if any."""
    value = g.get("atelier_staff_session")
    return int(value) if value is not None else None


_BROWSERS = (
    ("Edge", re.compile(r"\bEdg(e|A|iOS)?/")),
    ("Firefox", re.compile(r"\b(Firefox|FxiOS)/")),
    ("Chromium", re.compile(r"\bChromium/")),
    ("Chrome", re.compile(r"(Chrome|CriOS)/")),
    ("Safari", re.compile(r"\bSafari/")),
)
_SYSTEMS = (
    ("Android", re.compile(r"Android")),
    ("iPad", re.compile(r"iPad")),
    ("iPhone", re.compile(r"iPhone")),
    ("ChromeOS", re.compile(r"CrOS")),
    ("Windows", re.compile(r"Windows")),
    ("macOS", re.compile(r"Mac OS X|Macintosh")),
    ("Linux", re.compile(r"Linux")),
)


def browser_label(user_agent: str | None) -> str | None:
    """Return a short label of a browser ("Chrome, Android") from its User-Agent."""
    text = (user_agent or "")[:500]
    if not text:
        return None
    browser = next((name for name, pattern in _BROWSERS if pattern.search(text)), None)
    system = next((name for name, pattern in _SYSTEMS if pattern.search(text)), None)
    label = ", ".join(part for part in (browser, system) if part)
    return label or "Autre navigateur"
