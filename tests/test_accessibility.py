"""Every page a person can open today, checked by axe-core in a real Chromium at its real size.

The pages are served by gunicorn on the test's database, filled through the real scan API;
axe-core (vendored in ``kiosk/static/vendor/axe-core``) runs the WCAG 2.1 A and AA rules
and its best practices in the page. Any violation fails the test, with axe's own words.
The run leaves a screenshot of each page in ``test-artifacts/a11y-*.png``.

These check the screen alone, so they run on one database (``screen_only``): what the
pages read and write is tested on both by tests/board, tests/test_auth.py, tests/auth,
tests/printing and tests/test_errors.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.factories import MINIMAL_SCHOOL, Scanner, load_school, make_staff, make_token
from tests.support.backends import screen_only
from tests.support.browser import launch_chromium, sync_api
from tests.support.server import GunicornServer

AXE = (
    Path(__file__).resolve().parents[1] / "kiosk" / "static" / "vendor" / "axe-core" / "axe.min.js"
)
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
WALL = {"width": 1920, "height": 1080}  # the workshop's TV
TABLET = {"width": 1024, "height": 768}  # the teachers' tablet, landscape
PASSWORD = "un-mot-de-passe-long"


class Pages:
    """A Chromium on the live server that checks each page it opens with axe-core."""

    def __init__(self, browser: Any, server: GunicornServer) -> None:
        self.browser = browser
        self.server = server

    def context(self, viewport: dict[str, int]) -> Any:
        """Return a new browser context (own cookies) of that size, in French, in Paris."""
        # axe is injected as an inline script, which the app's CSP rightly forbids.
        return self.browser.new_context(
            viewport=viewport, locale="fr-FR", timezone_id="Europe/Paris", bypass_csp=True
        )

    def check(self, page: Any, name: str) -> None:
        """Run axe-core on the page as it is now; fail with every violation it finds."""
        page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
        result = page.evaluate(
            "rules => axe.run(document, {runOnly: {type: 'tag', values: rules}})", RULES
        )
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"a11y-{name}.png"), full_page=True)
        found = [
            f"{violation['id']} ({violation['impact']}): {violation['help']} — "
            + "; ".join(node["target"][0] for node in violation["nodes"][:5])
            for violation in result["violations"]
        ]
        assert found == [], f"{name}: axe-core found {len(found)} violation(s):\n" + "\n".join(
            found
        )
        assert result["passes"], f"{name}: axe-core checked nothing"

    def open(self, context: Any, path: str, status: int = 200) -> Any:
        """Open a path of the live server in a new tab and check the status it answered."""
        page = context.new_page()
        response = page.goto(self.server.url + path)
        assert response is not None and response.status == status, path
        return page

    def sign_in(self, context: Any, email: str) -> Any:
        """Sign in through the form, as a teacher does; return the page it leads to."""
        page = self.open(context, "/connexion")
        page.get_by_label("E-mail").fill(email)
        page.get_by_label("Mot de passe").fill(PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        page.wait_for_load_state()
        return page


@pytest.fixture
def pages(live_server: GunicornServer) -> Iterator[Pages]:
    """Debian's Chromium driving pages of the live server."""
    with launch_chromium() as browser:
        yield Pages(browser, live_server)


@pytest.fixture
def busy_workshop(client: FlaskClient, school: None) -> None:
    """Students badged in, an operation running on a piece, another station working."""
    welder = Scanner(client, make_token("ST-SOUD-01", name="soudure 1"))
    for code in ("0A00F1C2D3", "B-0003", "OF-2026-0001-20", "P-2026-000001"):
        welder.ok(code)
    cutter = Scanner(client, make_token("ST-PLASMA", name="plasma"))
    cutter.ok("B-0004")


@screen_only
def test_the_workshop_board_is_accessible_on_the_wall_screen_and_on_a_tablet(
    pages: Pages, busy_workshop: None
) -> None:
    for name, viewport in (("board-wall", WALL), ("board-tablet", TABLET)):
        context = pages.context(viewport)
        page = pages.open(context, "/")
        page.wait_for_selector("#board.is-live")
        page.locator('article[data-key="ST-SOUD-01"]').get_by_text("2 élèves au poste").wait_for()
        pages.check(page, name)
        context.close()


@screen_only
def test_the_sign_in_page_is_accessible_empty_and_after_a_wrong_password(
    pages: Pages, school: None
) -> None:
    context = pages.context(TABLET)
    page = pages.open(context, "/connexion")
    pages.check(page, "sign-in")
    page.get_by_label("E-mail").fill("personne@example.org")
    page.get_by_label("Mot de passe").fill("pas-le-bon-mot-de-passe")
    page.get_by_role("button", name="Se connecter").click()
    sync_api.expect(page.get_by_role("status")).to_have_text("E-mail ou mot de passe incorrect.")
    pages.check(page, "sign-in-refused")


@screen_only
def test_the_password_page_is_accessible_to_a_teacher_with_a_provisional_password(
    pages: Pages, school: None
) -> None:
    make_staff("nouvelle@example.org", password=PASSWORD, must_change=True)
    context = pages.context(TABLET)
    page = pages.sign_in(context, "nouvelle@example.org")
    sync_api.expect(page.locator("h1")).to_have_text("Choisir un mot de passe")
    pages.check(page, "password")


@screen_only
def test_the_error_pages_are_accessible(pages: Pages, school: None) -> None:
    context = pages.context(TABLET)
    pages.check(pages.open(context, "/piece/P-2026-999999", status=404), "error-404")
    pages.check(pages.open(context, "/tableau/nulle-part", status=404), "error-404-site")


@screen_only
def test_the_choice_of_school_is_accessible_when_one_server_holds_several(
    pages: Pages, app: Any
) -> None:
    load_school()
    load_school(
        MINIMAL_SCHOOL,
        text=MINIMAL_SCHOOL.read_text("utf-8")
        .replace("site: belfort", "site: mulhouse")
        .replace("mqtt_device: ws0", "mqtt_device: mws0")
        .replace("m.perrin@example.org", "m.klein@example.org"),
    )
    context = pages.context(TABLET)
    page = pages.open(context, "/")
    sync_api.expect(page.locator("h1")).to_have_text("Choisir l'atelier")
    pages.check(page, "choose-school")


@screen_only
def test_the_impressions_page_is_accessible_on_a_tablet_and_after_a_refused_sheet(
    pages: Pages, school: None
) -> None:
    make_staff("prof@example.org", password=PASSWORD)
    context = pages.context(TABLET)
    pages.sign_in(context, "prof@example.org")
    page = pages.open(context, "/impressions")
    sync_api.expect(page.locator("h1")).to_contain_text("Impressions")
    pages.check(page, "impressions")
    form = page.get_by_role("form", name="Étiquettes de pièces de OF-2026-0001")
    form.get_by_label("Étiquettes", exact=True).fill("1001")
    # The browser's own check would stop the form first; the server's answer is the point.
    form.evaluate("f => f.noValidate = true")
    form.get_by_role("button", name="Étiquettes de pièces").click()
    sync_api.expect(page.get_by_role("status")).to_contain_text("Nombre d'étiquettes invalide")
    pages.check(page, "impressions-refused")
    context.close()
