"""Fixtures of the office tests (school: tests/data/school_minimal.yaml).

- ``admin``: the site's administrator (« M. Test », admin@example.org); ``teacher``: a
  teacher of the same site (prof@example.org).
- ``office``: the Flask test client signed in as the administrator (fresh application
  context per request, CSRF off); ``teacher_office``: the same as the teacher.
- ``desk``: Debian's Chromium on the live gunicorn server, signed in as the administrator
  through the sign-in form, at 1366x768; ``desk.check(name)`` runs axe-core at 1366x768 and
  820x1180 and saves both screenshots to ``test-artifacts/office/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.models import StaffUser
from tests.auth.helpers import PASSWORD, browsers, sign_in
from tests.factories import make_staff
from tests.support.server import GunicornServer
from tests.teacher.conftest import Tablet, signed_in_as

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "office"
DESKTOP = {"width": 1366, "height": 768}
PORTRAIT = {"width": 820, "height": 1180}
ADMIN_EMAIL = "admin@example.org"
TEACHER_EMAIL = "prof@example.org"


@pytest.fixture
def admin(school: None) -> StaffUser:
    """The administrator of the minimal school's site."""
    return make_staff(ADMIN_EMAIL, password=PASSWORD, role="admin")


@pytest.fixture
def teacher(school: None) -> StaffUser:
    """A teacher of the minimal school's site."""
    return make_staff(TEACHER_EMAIL, password=PASSWORD)


@pytest.fixture
def office(app: Flask, admin: StaffUser) -> FlaskClient:
    """A browser signed in as the administrator."""
    browsers(app)
    client = app.test_client()
    assert sign_in(client, ADMIN_EMAIL).status_code == 302
    return client


@pytest.fixture
def teacher_office(app: Flask, teacher: StaffUser) -> FlaskClient:
    """A browser signed in as a teacher."""
    browsers(app)
    client = app.test_client()
    assert sign_in(client, TEACHER_EMAIL).status_code == 302
    return client


class Desk(Tablet):
    """The office's screen: a signed-in Chromium page on the live server."""

    SIZES = (DESKTOP, PORTRAIT)
    ARTIFACTS = ARTIFACTS
    SETTLE_MS = 0


def signed_in_desk(server: GunicornServer, email: str, *, scripts: bool = True) -> Iterator[Desk]:
    """Chromium at the office (French, Paris time, no touch), signed in by the sign-in form."""
    yield from signed_in_as(server, email, Desk, touch=False, scripts=scripts)


@pytest.fixture
def desk(live_server: GunicornServer, admin: StaffUser) -> Iterator[Desk]:
    """The administrator's screen at 1366x768, signed in through the sign-in form."""
    yield from signed_in_desk(live_server, ADMIN_EMAIL)


def text_of(response: Any) -> str:
    """Return a test response's body as text."""
    return str(response.get_data(as_text=True))
