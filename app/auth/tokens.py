"""Device credentials: hashing, and the authentication of devices' requests.

A reader agent or an integration sends its token in the ``Authorization`` header; a
kiosk's browser carries its credential in the ``atelier_borne`` cookie (HttpOnly,
SameSite=Strict), which only a kiosk credential may ride in, and which the scan API
accepts only with the kiosk's own header (``KIOSK_HEADER``): a page of another site can
neither read the cookie nor send that header.

A credential has 256 random bits, so its SHA-256 is all that is stored. Looking one up reads the
database (cached for ``CACHE_TTL_S``: a revoked token may keep working that long in a
process that cached it) and writes nothing: the time it was last used is stamped by the
request's own write (``stamp_used``), through the one write path.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import request
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import KIOSK_CREDENTIAL, TOKEN, DeviceToken, utcnow

TOKEN_PREFIX = "atl_"  # noqa: S105  (a marker, not a secret)
KIOSK_COOKIE = "atelier_borne"
KIOSK_HEADER = "X-Atelier-Borne"
CACHE_TTL_S = 30.0
# A kiosk asks for its state every second anyway: a revoked kiosk must leave the students'
# screen within seconds, in every worker, not after the tokens' half-minute.
KIOSK_CACHE_TTL_S = 2.0
LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_TOKEN_LENGTH = 200


@dataclass(frozen=True)
class DeviceIdentity:
    """Who is calling the API with a bearer token, and what they may do."""

    token_id: int
    kind: str
    name: str
    site_id: int
    station_id: int | None
    can_scan: bool
    can_read: bool
    last_used_at: datetime | None
    # Carried by the kiosk cookie rather than the Authorization header.
    via_cookie: bool = False

    def needs_stamp(self, now: datetime) -> bool:
        """Tell whether the token's last use is older than the stamp's resolution."""
        return self.last_used_at is None or now - self.last_used_at > LAST_USED_RESOLUTION


_cache: dict[str, tuple[float, DeviceIdentity | None]] = {}
_cache_lock = threading.Lock()


def hash_token(token: str) -> str:
    """Return the SHA-256 digest under which a token is stored."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def new_token() -> str:
    """Return a new random token (shown once to whoever creates it)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def clear_cache() -> None:
    """Forget cached token lookups (after a revocation, and between tests)."""
    with _cache_lock:
        _cache.clear()


def _lookup(digest: str, ttl_s: float = CACHE_TTL_S) -> DeviceIdentity | None:
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(digest) if ttl_s > 0 else None
    if hit is not None and hit[0] > now:
        return hit[1]
    row = db.session.execute(
        select(DeviceToken).where(
            DeviceToken.token_sha256 == digest, DeviceToken.revoked_at.is_(None)
        )
    ).scalar_one_or_none()
    identity = None
    if row is not None:
        identity = DeviceIdentity(
            row.id,
            row.kind,
            row.name,
            row.site_id,
            row.station_id,
            row.can_scan,
            row.can_read,
            row.last_used_at,
        )
    with _cache_lock:
        _cache[digest] = (now + ttl_s, identity)
    return identity


def device_from_request() -> DeviceIdentity | None:
    """Return the device identity of the request's bearer token or kiosk cookie, if valid.

    A request with an ``Authorization`` header is judged by it alone.
    """
    header = request.headers.get("Authorization")
    if header is None:
        return kiosk_from_request()
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    identity = _lookup(hash_token(token))
    if identity is None or identity.kind != TOKEN:
        return None
    return identity


def kiosk_from_request(fresh: bool = False) -> DeviceIdentity | None:
    """Return the kiosk the request's ``atelier_borne`` cookie names, if it is valid.

    ``fresh`` asks the database rather than the cache (the page itself, whose answer
    decides whether a revoked kiosk shows the enrolment screen).
    """
    token = request.cookies.get(KIOSK_COOKIE, "")
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    identity = _lookup(hash_token(token), 0.0 if fresh else KIOSK_CACHE_TTL_S)
    if identity is None or identity.kind != KIOSK_CREDENTIAL or identity.station_id is None:
        return None
    return replace(identity, via_cookie=True)


def cross_site(identity: DeviceIdentity) -> bool:
    """Tell whether a kiosk-cookie request may come from another site (a forged request).

    The cookie is SameSite=Strict already; the kiosk's custom header (which a form or a
    cross-origin fetch cannot send without a preflight this server never grants) and the
    browser's own ``Sec-Fetch-Site``/``Origin`` are checked as well.
    """
    if not identity.via_cookie:
        return False
    if request.headers.get(KIOSK_HEADER) != "1":
        return True
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in {"same-origin", "none"}:
        return True
    origin = request.headers.get("Origin")
    # The host only: behind a TLS proxy the scheme the application sees may differ.
    return origin is not None and urlsplit(origin).netloc != request.host


def stamp_used(session: Session, identity: DeviceIdentity, now: datetime | None = None) -> None:
    """Write when a token was last used (inside the caller's write transaction)."""
    now = now or utcnow()
    session.execute(
        update(DeviceToken).where(DeviceToken.id == identity.token_id).values(last_used_at=now)
    )
    stamped = replace(identity, last_used_at=now)
    with _cache_lock:
        for digest, (expires, cached) in list(_cache.items()):
            if cached is not None and cached.token_id == identity.token_id:
                _cache[digest] = (expires, stamped)
