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
from tests.support.browser import launch_chromium
from tests.support.server import GunicornServer
from tests.teacher.conftest import AXE_URL, Tablet

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "office"
DESKTOP = {"width": 1366, "height": 768}
PORTRAIT = {"width": 820, "height": 1180}
ADMIN_EMAIL = "admin@example.org"
TEACHER_EMAIL = "prof@example.org"
AXE_RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


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

    def screenshots(self, name: str) -> None:
        """Save a screenshot at each size (where axe-core cannot run)."""
        page = self.page
        shown = page.viewport_size
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        try:
            for size in (DESKTOP, PORTRAIT):
                page.set_viewport_size(size)
                page.screenshot(
                    path=str(ARTIFACTS / f"{name}-{size['width']}x{size['height']}.png"),
                    full_page=True,
                )
        finally:
            page.set_viewport_size(shown)

    def check(self, name: str) -> None:
        """Run axe-core at both sizes; save a screenshot of each; fail on serious ones."""
        page = self.page
        if not page.evaluate("() => typeof window.axe === 'object'"):
            page.add_script_tag(url=AXE_URL)
        shown = page.viewport_size
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        found: list[str] = []
        try:
            for size in (DESKTOP, PORTRAIT):
                page.set_viewport_size(size)
                result = page.evaluate(
                    "rules => axe.run(document, {runOnly: {type: 'tag', values: rules}})",
                    AXE_RULES,
                )
                page.screenshot(
                    path=str(ARTIFACTS / f"{name}-{size['width']}x{size['height']}.png"),
                    full_page=True,
                )
                found += [
                    f"{size['width']}x{size['height']} {violation['id']} "
                    f"({violation['impact']}): {violation['help']} — "
                    + "; ".join(str(node["target"][0]) for node in violation["nodes"][:5])
                    for violation in result["violations"]
                    if violation["impact"] in {"serious", "critical"}
                ]
                assert result["passes"], f"{name}: axe-core checked nothing"
        finally:
            page.set_viewport_size(shown)
        assert found == [], f"{name}: axe-core found:\n" + "\n".join(found)
        assert self.problems == [], self.problems


def signed_in_desk(server: GunicornServer, email: str, *, scripts: bool = True) -> Iterator[Desk]:
    """Chromium at the office (French, Paris time), signed in by the sign-in form."""
    with launch_chromium() as browser:
        context = browser.new_context(
            viewport=DESKTOP,
            locale="fr-FR",
            timezone_id="Europe/Paris",
            java_script_enabled=scripts,
        )
        page = context.new_page()
        desk = Desk(page, server)
        desk.open("/connexion")
        page.get_by_label("E-mail").fill(email)
        page.get_by_label("Mot de passe").fill(PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        page.wait_for_load_state()
        yield desk
        context.close()


@pytest.fixture
def desk(live_server: GunicornServer, admin: StaffUser) -> Iterator[Desk]:
    """The administrator's screen at 1366x768, signed in through the sign-in form."""
    yield from signed_in_desk(live_server, ADMIN_EMAIL)


def text_of(response: Any) -> str:
    """Return a test response's body as text."""
    return str(response.get_data(as_text=True))
