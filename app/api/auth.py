"""Device tokens: creation, hashing and the bearer authentication of API requests."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from flask import request
from sqlalchemy import select, update

from app.extensions import begin_write, db
from app.models import DeviceToken, Station, utcnow

TOKEN_PREFIX = "atl_"  # noqa: S105  (a marker, not a secret)
# A revoked token may keep working this long in a process that cached it.
CACHE_TTL_S = 30.0
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class DeviceIdentity:
    """Who is calling the API with a bearer token, and what they may do."""

    token_id: int
    name: str
    station_id: int | None
    can_scan: bool
    can_read: bool


_cache: dict[str, tuple[float, DeviceIdentity | None]] = {}
_cache_lock = threading.Lock()


def hash_token(token: str) -> str:
    """Return the SHA-256 digest under which a token is stored (it has 256 random bits)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(name: str, station_code: str | None, read: bool) -> tuple[str, DeviceToken]:
    """Create a device token; return the clear token (shown once) and its row."""
    station_id = None
    if station_code is not None:
        station = db.session.execute(
            select(Station).where(Station.code == station_code)
        ).scalar_one_or_none()
        if station is None:
            raise LookupError(station_code)
        station_id = station.id
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = DeviceToken(
        name=name,
        token_sha256=hash_token(token),
        prefix=token[:12],
        station_id=station_id,
        can_scan=True,
        can_read=read,
        created_at=utcnow(),
    )
    db.session.add(row)
    db.session.flush()
    return token, row


def clear_cache() -> None:
    """Forget cached token lookups (after a revocation, and between tests)."""
    with _cache_lock:
        _cache.clear()


def _lookup(digest: str) -> DeviceIdentity | None:
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(digest)
    if hit is not None and hit[0] > now:
        return hit[1]
    row = db.session.execute(
        select(DeviceToken).where(
            DeviceToken.token_sha256 == digest, DeviceToken.revoked_at.is_(None)
        )
    ).scalar_one_or_none()
    identity = None
    if row is not None:
        identity = DeviceIdentity(row.id, row.name, row.station_id, row.can_scan, row.can_read)
        stamp = utcnow()
        if row.last_used_at is None or stamp - row.last_used_at > LAST_USED_RESOLUTION:
            begin_write()
            db.session.execute(
                update(DeviceToken).where(DeviceToken.id == row.id).values(last_used_at=stamp)
            )
            db.session.commit()
    with _cache_lock:
        _cache[digest] = (now + CACHE_TTL_S, identity)
    return identity


def device_from_request() -> DeviceIdentity | None:
    """Return the device identity of the request's bearer token, if it is valid."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 200:
        return None
    return _lookup(hash_token(token))
