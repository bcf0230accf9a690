"""The sign-in, password and accounts pages on a tablet, in Debian's Chromium: laid out
for touch at 1180x820 and 820x1180, who is signed in shown; screenshots kept under
test-artifacts/auth/ (look at them).

A check of the screen alone, on one database (``screen_only``): sign-in, sessions and
accounts are tested on both by tests/auth/test_sessions.py and tests/test_auth.py."""

from __future__ import annotations

from pathlib import Path

from tests.factories import make_staff
from tests.support.backends import screen_only
from tests.support.browser import launch_chromium, sync_api
from tests.support.server import GunicornServer

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "auth"
VIEWPORTS = {
    "landscape": {"width": 1180, "height": 820},
    "portrait": {"width": 820, "height": 1180},
}
PASSWORD = "un-mot-de-passe-long"


@screen_only
def test_the_auth_pages_fit_a_tablet(live_server: GunicornServer, school: None) -> None:
    make_staff("admin@example.org", PASSWORD, role="admin")
    make_staff("prof@example.org", PASSWORD)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with launch_chromium() as browser:
        for name, viewport in VIEWPORTS.items():
            context = browser.new_context(viewport=viewport)
            page = context.new_page()
            page.goto(live_server.url + "/connexion")
            box = page.locator("form.auth-form").bounding_box()
            assert box is not None
            # Centred, not against the left edge; fields and button big enough to touch.
            assert box["x"] > 40 and abs(box["x"] * 2 + box["width"] - viewport["width"]) < 80
            for target in ("#email", "#password", "button[type=submit]"):
                height = page.locator(f"form.auth-form {target}").bounding_box()["height"]
                assert height >= 48, (name, target, height)
            page.screenshot(path=str(ARTIFACTS / f"login-{name}.png"), full_page=True)

            page.fill("#email", "prof@example.org")
            page.fill("#password", "pas-le-bon")
            page.click("button[type=submit]")
            sync_api.expect(page.get_by_role("status")).to_have_text(
                "E-mail ou mot de passe incorrect."
            )
            page.screenshot(path=str(ARTIFACTS / f"login-refused-{name}.png"), full_page=True)

            page.fill("#email", "admin@example.org")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_load_state()
            who = page.locator(".topbar .who")
            sync_api.expect(who).to_contain_text("M. Test")
            sync_api.expect(who).to_contain_text("administrateur")
            page.goto(live_server.url + "/comptes")
            sync_api.expect(page.locator("h1")).to_have_text("Comptes du personnel")
            button = page.get_by_role("button", name="Déconnecter partout").first
            assert button.bounding_box()["height"] >= 48
            page.screenshot(path=str(ARTIFACTS / f"accounts-{name}.png"), full_page=True)
            page.goto(live_server.url + "/mot-de-passe")
            page.screenshot(path=str(ARTIFACTS / f"password-{name}.png"), full_page=True)
            # No horizontal scrolling on the tablet.
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
            page.get_by_role("button", name="Déconnexion").click()
            page.wait_for_load_state()
            sync_api.expect(page.get_by_role("status")).to_have_text("Vous êtes déconnecté.")
            context.close()
