"""The French 404 page in a real Chromium, served by gunicorn as in production.

The run leaves a screenshot of the page at 1280x800 in ``test-artifacts/error-404.png``.
A check of the screen alone, on one database (``screen_only``): tests/test_errors.py
covers the error pages on both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.backends import screen_only
from tests.support.browser import launch_chromium, sync_api
from tests.support.server import GunicornServer

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@screen_only
def test_the_404_page_is_french_styled_and_leads_back_to_the_board(
    live_server: GunicornServer,
) -> None:
    problems: list[str] = []

    def console(message: Any) -> None:
        if message.type == "error" and "404" not in message.text:
            problems.append(message.text)

    with launch_chromium() as chromium:
        page = chromium.new_context(
            viewport={"width": 1280, "height": 800}, locale="fr-FR"
        ).new_page()
        page.on("console", console)
        page.on("pageerror", lambda error: problems.append(str(error)))
        response = page.goto(live_server.url + "/piece/P-2026-999999")
        assert response is not None and response.status == 404
        expect = sync_api.expect
        expect(page).to_have_title("Page introuvable — Atelier")
        expect(page.locator("h1")).to_have_text("Page introuvable")
        expect(page.locator(".error-code")).to_have_text("Erreur 404")
        card = page.locator(".error-card")
        expect(card).to_be_visible()
        # The stylesheet applies: a white card with the accent border, big readable type.
        assert card.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(255, 255, 255)"
        assert page.locator("h1").evaluate("e => parseFloat(getComputedStyle(e).fontSize)") >= 30
        back = page.get_by_role("link", name="Retour au tableau de l'atelier")
        expect(back).to_be_visible()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "error-404.png"))
        back.click()
        page.wait_for_url(live_server.url + "/")
        expect(page.locator("#board")).to_be_visible()
    assert problems == []
