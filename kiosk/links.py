"""Kiosk enrolment links: a random code, kept only as its hash, behind the public address."""

from __future__ import annotations

import hashlib
import secrets

from flask import current_app

ENROLMENT_CODE_BYTES = 24


def new_enrolment_code() -> tuple[str, str]:
    """Return a new enrolment code and the SHA-256 under which it is kept."""
    code = secrets.token_urlsafe(ENROLMENT_CODE_BYTES)
    return code, hashlib.sha256(code.encode()).hexdigest()


def enrolment_url(code: str) -> str:
    """Return the enrolment link a kiosk's browser opens (from ``ATELIER_PUBLIC_URL``)."""
    base = str(current_app.config["ATELIER_PUBLIC_URL"]).rstrip("/")
    return f"{base}/borne/inscription/{code}"
