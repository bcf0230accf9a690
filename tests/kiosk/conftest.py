"""The kiosk in a real Chromium, served by gunicorn on the test's database.

A kiosk is enrolled as a school's IT person does it: ``flask --app app kiosk enrol STATION``
prints a link, the kiosk's browser opens it and lands on ``/borne``. Scans are typed on the
page's keyboard at a scanner's speed (a few ms per character, then Enter), with no field
focused; the page itself posts them. Its status region (``role=status``) is what the tests
read, as a student does, and the database is what they count.

Time: one gunicorn and one Chromium serve a whole module (per database), each test on an
empty database of its own all the same — the module's database is emptied before every
test (SQLite: the migrated template copied back in place with SQLite's backup API, which
the server's open connections see; PostgreSQL: truncated, as the suite does anyway). Every
test still gets its own browser context (cookies, IndexedDB, service worker, storage), and
a test that stops the server finds it started again by the next one. Chromium is started
and stopped within the module: a Playwright kept across modules would stand in the way of
the other browser tests' own ``sync_playwright`` in the same process.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from app.extensions import db
from app.models import Event, Station
from tests.support.browser import launch_chromium, sync_api
from tests.support.databases import TestDatabase, truncate_all
from tests.support.server import GunicornServer

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
AXE = ROOT / "kiosk" / "static" / "vendor" / "axe-core" / "axe.min.js"
LANDSCAPE = {"width": 1280, "height": 800}  # the workshop's wall screen
PORTRAIT = {"width": 800, "height": 1280}  # a cheap tablet at a station
SCANNER_DELAY_MS = 5  # between characters: what a USB wedge scanner does
PERSON_DELAY_MS = 160  # between keys: a person typing
# Polls every second: a change must show within a few.
SHOWS_WITHIN_MS = 10_000
AXE_RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
# A button ignores a second press within this time (a gloved double tap: kiosk.js).
DOUBLE_TAP_MS = 800


def enrol_path(runner: FlaskCliRunner, station: str) -> str:
    """Run ``kiosk enrol STATION`` and return the path of the link it printed last."""
    result = runner.invoke(args=["kiosk", "enrol", station])
    assert result.exit_code == 0, result.output
    link = result.stdout.strip().splitlines()[-1]
    match = re.match(r"https?://[^/]+(/borne/inscription/\S+)$", link)
    assert match, link
    return match.group(1)


def expect(target: Any) -> Any:
    """Return Playwright's auto-waiting assertion on a locator or page."""
    return sync_api.expect(target)


class Kiosk:
    """A kiosk's browser tab on the live server, and what went wrong in it."""

    def __init__(self, page: Any, server: GunicornServer, station: str) -> None:
        self.page = page
        self.server = server
        self.station = station
        self.problems: list[str] = []
        self.touched_at: float | None = None  # time.monotonic() after the last touch
        page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            self.problems.append(f"CSP: {message.text}")

    @property
    def status(self) -> Any:
        """Return the status region (the feedback of the latest scan)."""
        return self.page.get_by_role("status")

    def wait_ready(self) -> None:
        """Wait until the page has shown its first state."""
        self.page.wait_for_selector("body[data-ready='1']", timeout=SHOWS_WITHIN_MS)

    def scan(self, code: str, delay_ms: int = SCANNER_DELAY_MS) -> None:
        """Type a code as a wedge scanner does: real key events ``delay_ms`` apart, then Enter.

        The keys go through the DevTools protocol with their own timestamps (the events'
        ``timeStamp``), so the page sees the scanner's timing even when this process or
        the browser stalls between two keys on a loaded machine: a burst is never cut in
        two, and a person's pace (``PERSON_DELAY_MS``) is never a burst. Characters of no
        US key (« é », « à » from a scanner on an AZERTY computer) are real keys too.
        """
        keys: list[dict[str, Any]] = [{"key": char, "text": char} for char in code]
        keys.append({"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13})
        cdp = self.page.context.new_cdp_session(self.page)
        try:
            # Stamped in the past, as an input stack stamps keys when they arrive, however
            # late the page gets them.
            at = time.time() - len(keys) * delay_ms / 1000
            for key in keys:
                at += delay_ms / 1000
                cdp.send("Input.dispatchKeyEvent", {"type": "keyDown", **key, "timestamp": at})
                up = {name: value for name, value in key.items() if name != "text"}
                cdp.send("Input.dispatchKeyEvent", {"type": "keyUp", **up, "timestamp": at + 0.001})
        finally:
            cdp.detach()

    def says(self, text: str) -> None:
        """Wait until the status region says exactly this."""
        expect(self.status).to_have_text(text, timeout=SHOWS_WITHIN_MS)

    def touch(self, name: str) -> None:
        """Press a touch button by its visible words, as a person does: never twice within
        the double-tap guard (a second press that soon is ignored, on purpose)."""
        last = self.touched_at
        if last is not None:
            # Measured here after the previous click returned, so later than the page's
            # own stamp of that press: waiting the rest of the guard here is enough.
            left_ms = DOUBLE_TAP_MS + 50 - (time.monotonic() - last) * 1000
            if left_ms > 0:
                self.page.wait_for_timeout(left_ms)
        self.page.get_by_role("button", name=name).click()
        self.touched_at = time.monotonic()

    def outbox_size(self) -> int:
        """Return how many scans wait in the page's outbox."""
        return int(self.page.evaluate("() => window.atelierKiosk.outbox.size()"))

    def reload(self) -> None:
        """Reload the page as a student's elbow on F5 would, and wait for it."""
        self.page.reload()
        self.wait_ready()

    def check_accessibility(self, name: str) -> None:
        """Run axe-core on the page as it is, at both sizes; save a screenshot of each.

        Fails on any serious or critical finding. The wall screen's landscape and the
        tablet's portrait are the same page state, laid out twice.
        """
        page = self.page
        if not page.evaluate("() => typeof window.axe === 'object'"):
            page.add_script_tag(url="/borne/static/vendor/axe-core/axe.min.js")
        shown = page.viewport_size
        ARTIFACTS.mkdir(exist_ok=True)
        found: list[str] = []
        try:
            for size in (LANDSCAPE, PORTRAIT):
                page.set_viewport_size(size)
                result = page.evaluate(
                    "rules => axe.run(document, {runOnly: {type: 'tag', values: rules}})",
                    AXE_RULES,
                )
                page.screenshot(
                    path=str(ARTIFACTS / f"kiosk-{name}-{size['width']}x{size['height']}.png")
                )
                found += [
                    f"{size['width']}x{size['height']} {violation['id']} "
                    f"({violation['impact']}): {violation['help']} — "
                    + "; ".join(node["target"][0] for node in violation["nodes"][:5])
                    for violation in result["violations"]
                    if violation["impact"] in {"serious", "critical"}
                ]
                assert result["passes"], f"{name}: axe-core checked nothing"
        finally:
            if shown is not None:
                page.set_viewport_size(shown)
        assert found == [], f"{name}: axe-core found:\n" + "\n".join(found)


class KioskBrowser:
    """A Chromium on the live server that enrols kiosks, each in its own context."""

    def __init__(self, browser: Any, server: GunicornServer, runner: FlaskCliRunner) -> None:
        self.browser = browser
        self.server = server
        self.runner = runner
        self.kiosks: list[Kiosk] = []

    def enrol(
        self,
        station: str = "ST-KIOSK-1",
        viewport: dict[str, int] | None = None,
        **context_options: Any,
    ) -> Kiosk:
        """Enrol a new browser context as the station's kiosk; return it on ``/borne``."""
        context = self.browser.new_context(
            viewport=viewport or LANDSCAPE,
            locale="fr-FR",
            timezone_id="Europe/Paris",
            **context_options,
        )
        page = context.new_page()
        kiosk = Kiosk(page, self.server, station)
        response = page.goto(self.server.url + enrol_path(self.runner, station))
        assert response is not None and response.status == 200
        assert page.url == self.server.url + "/borne"
        kiosk.wait_ready()
        self.kiosks.append(kiosk)
        return kiosk


def _copy_into(template: Path, target: Path) -> None:
    """Make ``target`` a copy of the SQLite ``template``, through SQLite itself.

    The backup API writes the pages under the database's own locks, so a server with the
    file open (WAL) sees the new content at its next transaction, as if freshly opened.
    """
    source = sqlite3.connect(template)
    destination = sqlite3.connect(target, timeout=30)
    try:
        source.backup(destination)
    finally:
        destination.close()
        source.close()


@pytest.fixture(scope="module")
def module_database(
    database: TestDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestDatabase]:
    """The database the module's tests share, one after another (emptied before each)."""
    if database.template is None:
        yield database  # PostgreSQL: the run's database, truncated before every test
        return
    target = tmp_path_factory.mktemp("kiosk-db") / "atelier.db"
    _copy_into(database.template, target)
    yield TestDatabase(database.backend, f"sqlite:///{target}", database.template)


@pytest.fixture
def database_url(module_database: TestDatabase) -> str:
    """The URL of the module's database, emptied and migrated for this test."""
    if module_database.template is None:
        truncate_all(module_database.url)
    else:
        path = sa.make_url(module_database.url).database
        assert path is not None
        _copy_into(module_database.template, Path(path))
    return module_database.url


@pytest.fixture(scope="module")
def module_server(
    module_database: TestDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GunicornServer]:
    """The real web server (gunicorn, 2 workers) on the module's database."""
    server = GunicornServer(module_database.url, tmp_path_factory.mktemp("gunicorn"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def live_server(module_server: GunicornServer, database_url: str) -> GunicornServer:
    """The module's server on this test's (emptied) database, started again if a test
    before stopped it (a server gone away is what several tests are about)."""
    process = module_server.process
    if process is None or process.poll() is not None:
        module_server.stop()
        module_server.start()
    return module_server


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's Chromium for the module's tests, each in contexts of its own."""
    with launch_chromium() as browser:
        yield browser


@pytest.fixture
def kiosks(
    chromium: Any, live_server: GunicornServer, runner: FlaskCliRunner, school: None
) -> Iterator[KioskBrowser]:
    """Kiosks of the minimal school on the live server, each in a context of its own."""
    browser = KioskBrowser(chromium, live_server, runner)
    contexts_before = set(chromium.contexts)
    try:
        yield browser
    finally:
        for context in set(chromium.contexts) - contexts_before:
            context.close()
    problems = [problem for kiosk in browser.kiosks for problem in kiosk.problems]
    assert problems == []


def kiosk_scans(station: str = "ST-KIOSK-1") -> list[Event]:
    """Return the scan events recorded at a station's kiosk, in the order they were applied."""
    db.session.commit()  # see what the server committed
    station_id = db.session.execute(select(Station.id).where(Station.code == station)).scalar()
    return list(
        db.session.execute(
            select(Event)
            .where(Event.kind == "scan", Event.station_id == station_id)
            .order_by(Event.id)
        ).scalars()
    )


def code_of(event: Event) -> str | None:
    """Return the code a scan event recorded."""
    return (event.payload or {}).get("code")


def source_of(event: Event) -> str | None:
    """Return what a scan came from (keyboard: the scanner; touch: a button)."""
    return (event.payload or {}).get("source")
