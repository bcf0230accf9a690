"""The board in a real Chromium, served by gunicorn: live state, updates without reload, outages.

Welds reach the database through the ingest core (``tests/board/welding.py``), scans through
the scan API; the page only ever talks to the real server. The run leaves a screenshot of
the board at 1920x1080 in ``test-artifacts/board.png``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.models import utcnow
from tests.board.conftest import HUGO, INES, LEA, LUCAS, finish_piece
from tests.board.welding import WeldingStation
from tests.factories import Scanner
from tests.support.browser import launch_chromium, sync_api
from tests.support.server import GunicornServer

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# The page polls every 2.5 s: a change must show within a couple of polls.
SHOWS_WITHIN_MS = 8000


class Browser:
    """A Chromium page on the live server, and what went wrong in it."""

    def __init__(self, page: Any, server: GunicornServer) -> None:
        self.page = page
        self.server = server
        self.problems: list[str] = []
        page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text:
            self.problems.append(f"CSP: {message.text}")

    def open_board(self) -> Any:
        """Open the home page and wait until its script has taken over."""
        self.page.goto(self.server.url + "/")
        self.page.wait_for_selector("#board.is-live")
        return self.page


@pytest.fixture
def browser(live_server: GunicornServer) -> Iterator[Browser]:
    """Chromium (Debian's) showing the board at the wall screen's size, in Paris."""
    with launch_chromium() as chromium:
        context = chromium.new_context(
            viewport={"width": 1920, "height": 1080}, locale="fr-FR", timezone_id="Europe/Paris"
        )
        watched = Browser(context.new_page(), live_server)
        yield watched
    assert watched.problems == []


def expect(target: Any) -> Any:
    """Return Playwright's auto-waiting assertion on a locator or page."""
    return sync_api.expect(target)


def test_the_board_shows_the_live_state_and_a_weld_without_reloading(
    browser: Browser, welder: Scanner, cutter: Scanner, bender: Scanner
) -> None:
    welder.ok(LUCAS)
    welder.ok(LEA)
    welder.ok("OF-2026-0001-20")
    welder.ok("P-2026-000001")
    cutter.ok(HUGO)
    bender.ok(INES)
    finish_piece(cutter, bender, "P-2026-000010")
    cutter.ok("OF-2026-0002-10")
    cutter.ok("P-2026-000011")
    ws01, ws02 = WeldingStation("ws01"), WeldingStation("ws02")
    ws01.status("online")
    ws02.status("offline")

    page = browser.open_board()
    mag1 = page.locator('article[data-key="ST-SOUD-01"]')
    expect(mag1).to_contain_text("2 élèves au poste")  # anonymous: no name by the verdict
    expect(mag1).to_contain_text("OF-2026-0001")
    expect(mag1).to_contain_text("Soudage MAG (135)")
    expect(mag1).to_contain_text("P-2026-000001")
    expect(mag1).to_contain_text("En cours")
    expect(mag1).to_contain_text("En ligne")
    expect(page.locator('article[data-key="ST-SOUD-02"]')).to_contain_text("Hors ligne")
    expect(page.locator('article[data-key="ST-PLASMA"]')).to_contain_text("Hugo L.")
    expect(page.locator(".finished .count")).to_have_text("1")
    expect(page.locator(".weld")).to_have_count(0)
    page.evaluate("window.boardNeverReloaded = true")

    struck = utcnow()
    weld_id = ws01.arc_start(struck)
    expect(mag1.locator(".arc-badge")).to_be_visible(timeout=SHOWS_WITHIN_MS)
    expect(mag1).to_have_class(re.compile(r"\barc-on\b"))
    expect(mag1.locator(".arc-since")).to_have_text(re.compile(r"^depuis \d+ s$"))

    ws01.arc_end(weld_id, struck, arc_s=8.6, i_mean=212.4, u_mean=23.9)
    newest = page.locator(".weld").first
    expect(newest).to_contain_text(re.compile(r"Hors DMOS\s:\sintensité \+12\sA"))
    expect(newest).to_contain_text("Poste MAG 1 (135)")
    expect(newest).not_to_contain_text("Léa C.")
    expect(newest).to_contain_text(re.compile(r"135 MAG\s*8,6\ss\s*212\sA\s*23,9\sV"))
    expect(mag1.locator(".arc-badge")).to_have_count(0, timeout=SHOWS_WITHIN_MS)
    expect(mag1.locator(".last-weld")).to_contain_text("Hors DMOS")

    ws01.arc_start(utcnow())  # welding again, for the picture
    expect(mag1.locator(".arc-badge")).to_be_visible(timeout=SHOWS_WITHIN_MS)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "board.png"))

    assert page.evaluate("window.boardNeverReloaded") is True
    expect(page.locator("#board-lost")).to_be_hidden()
    expect(page.locator("#board-freshness-text")).to_contain_text("Mis à jour")


def test_the_board_says_so_when_the_server_stops_answering_and_recovers(
    browser: Browser, live_server: GunicornServer, welder: Scanner
) -> None:
    welder.ok(LUCAS)

    page = browser.open_board()
    lost = page.locator("#board-lost")
    expect(lost).to_be_hidden()
    expect(page.locator('article[data-key="ST-SOUD-01"]')).to_contain_text("1 élève au poste")

    live_server.stop()
    expect(lost).to_be_visible(timeout=SHOWS_WITHIN_MS)
    expect(lost).to_contain_text("Connexion perdue — nouvel essai…")
    expect(page.locator("body")).to_have_class(re.compile(r"\bboard-stale\b"))
    expect(page.locator("#board-freshness")).to_have_class(re.compile(r"\bis-stale\b"))

    welder.ok(LUCAS)  # badged out while the screen could not know
    live_server.start()
    expect(lost).to_be_hidden(timeout=15000)
    expect(page.locator("body")).not_to_have_class(re.compile(r"\bboard-stale\b"))
    expect(page.locator('article[data-key="ST-SOUD-01"]')).not_to_contain_text("au poste")
