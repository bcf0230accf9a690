"""Fixtures of the teacher's tablet tests (school: tests/data/school_minimal.yaml).

- ``workshop``: finishes pieces of OF-2026-0001 through the real scan API (Léa cuts and
  checks; Lucas and Léa weld), each weld sent as a station does (``arc_start``, 10 Hz
  sample batches, ``arc_end`` with its seam length) through the real ingest path; and makes
  welds no run was active for (station ST-SOUD-02, nobody working there).
- ``teacher``: the teacher's account (« M. Test », prof@example.org).
- ``tablet``: Debian's Chromium on the live gunicorn server, signed in as that teacher
  through the sign-in form, at 1180x820; ``tablet.check(name)`` runs axe-core at 1180x820
  and 820x1180 and saves both screenshots to ``test-artifacts/teacher/``; ``tablet.tap``
  clicks and counts the taps. ``plain_tablet``: the same with JavaScript off.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from flask.testing import FlaskClient

from app.models import StaffUser, utcnow
from tests.board.welding import WeldingStation
from tests.factories import Scanner, make_staff, make_token
from tests.support.browser import launch_chromium, sync_api
from tests.support.server import GunicornServer
from tests.support.stations import stamp

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "teacher"
AXE_URL = "/borne/static/vendor/axe-core/axe.min.js"
AXE_RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
LANDSCAPE = {"width": 1180, "height": 820}
PORTRAIT = {"width": 820, "height": 1180}
EMAIL = "prof@example.org"
PASSWORD = "un-mot-de-passe-long"

LUCAS = "0A00F1C2D3"  # E2026-001 « Lucas M. » (cap-rics)
LEA = "B-0003"  # E2026-003 « Léa C. » (cap-metallier)
ORDER = "OF-2026-0001"


def expect(target: Any) -> Any:
    """Return Playwright's auto-waiting assertion on a locator or page."""
    return sync_api.expect(target)


class Workshop:
    """The minimal school's workshop, driven through the scan API and the ingest path."""

    def __init__(self, client: FlaskClient) -> None:
        self.welder = Scanner(client, make_token("ST-SOUD-01", name="soudure 1"))
        self.cutter = Scanner(client, make_token("ST-PLASMA", name="plasma"))
        self.ws01 = WeldingStation("ws01")
        self.ws02 = WeldingStation("ws02")
        self.welder.ok(LUCAS)
        self.welder.ok(LEA)
        self.cutter.ok(LEA)
        self.serial = 0

    def weld(
        self,
        station: WeldingStation,
        start: datetime,
        *,
        arc_s: float = 6.0,
        current: float = 182.0,
        voltage: float = 23.9,
        spike: tuple[float, float] | None = None,
    ) -> str:
        """Make a weld with its 10 Hz samples; ``spike`` (from_s, to_s) goes out of the WPS."""
        weld_id = station.arc_start(start)
        count = round(arc_s * 10)
        currents, voltages = [], []
        for k in range(count):
            t = k / 10
            wobble = ((k * 7) % 11 - 5) * 0.8
            high = spike is not None and spike[0] <= t < spike[1]
            currents.append(round((214.0 if high else current) + wobble, 1))
            voltages.append(round(voltage + wobble / 10, 2))
        for first in range(0, count, 40):
            station.send(
                "data/samples",
                {
                    "v": 1,
                    "device": station.device,
                    "boot_id": station.boot_id,
                    "seq": station.messages.next_seq(),
                    "weld_id": weld_id,
                    "t0": stamp(start + timedelta(seconds=first / 10)),
                    "dt_ms": 100,
                    "i_a": currents[first : first + 40],
                    "u_v": voltages[first : first + 40],
                },
            )
        station.send(
            "evt/arc",
            station.messages.arc_end(
                weld_id,
                start,
                arc_s=arc_s,
                i_mean=sum(currents) / count,
                u_mean=sum(voltages) / count,
                energy_j=round(sum(currents) / count * sum(voltages) / count * arc_s),
                length_mm=120.0,
            ),
        )
        return weld_id

    def finish_piece(self, *, spike: bool = False) -> str:
        """Make the next piece of OF-2026-0001 through its routing, with two welds; its code."""
        self.serial += 1
        code = f"P-2026-{self.serial:06d}"
        self.cutter.ok(f"{ORDER}-10")
        self.cutter.ok(code)
        self.cutter.ok("A-FIN")
        self.welder.ok(f"{ORDER}-20")
        self.welder.ok(code)
        begin = utcnow() + timedelta(milliseconds=50)
        self.weld(self.ws01, begin, spike=(2.0, 3.2) if spike else None)
        self.weld(self.ws01, begin + timedelta(seconds=7), arc_s=4.0)
        self.welder.ok("A-FIN")
        self.cutter.ok(f"{ORDER}-30")
        self.cutter.ok(code)
        self.cutter.ok("A-FIN")
        return code

    def stray_weld(self) -> str:
        """Make a weld at ST-SOUD-02, where no run is active: it waits for a teacher."""
        return self.weld(self.ws02, utcnow() - timedelta(minutes=3), arc_s=5.0)


@pytest.fixture
def workshop(client: FlaskClient, school: None) -> Workshop:
    """The workshop of the minimal school, students badged in at the welding and cutting."""
    return Workshop(client)


@pytest.fixture
def teacher(school: None) -> StaffUser:
    """The teacher's account of the minimal school's site."""
    return make_staff(EMAIL, password=PASSWORD)


class Tablet:
    """The teacher's tablet: a signed-in Chromium page on the live server.

    ``SIZES`` are the viewports checked and shot, ``ARTIFACTS`` where the screenshots go,
    ``SETTLE_MS`` how long a page is given to follow a new width (the charts redraw).
    """

    SIZES: tuple[dict[str, int], ...] = (LANDSCAPE, PORTRAIT)
    ARTIFACTS: Path = ARTIFACTS
    SETTLE_MS = 250

    def __init__(self, page: Any, server: GunicornServer) -> None:
        self.page = page
        self.server = server
        self.taps = 0
        self.problems: list[str] = []
        page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))
        page.on("console", self._console)
        page.on("response", self._response)

    def _response(self, response: Any) -> None:
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            self.problems.append(f"{response.status} {response.url}")

    def _console(self, message: Any) -> None:
        if "Failed to load resource" in message.text:
            return  # said by _response, with its address
        if message.type == "error" or "Content Security Policy" in message.text:
            self.problems.append(f"console: {message.text}")

    def open(self, path: str, status: int = 200) -> None:
        """Go to a path of the server (not a tap: the test's own navigation)."""
        response = self.page.goto(self.server.url + path)
        assert response is not None and response.status == status, (path, response)

    def tap(self, locator: Any) -> None:
        """Tap one thing on the page, as the teacher's finger does; counted."""
        locator.click()
        self.taps += 1

    def screenshots(self, name: str) -> None:
        """Save a screenshot at each tablet size (where axe-core cannot run: scripts off)."""
        page = self.page
        shown = page.viewport_size
        self.ARTIFACTS.mkdir(parents=True, exist_ok=True)
        try:
            for size in self.SIZES:
                page.set_viewport_size(size)
                page.screenshot(
                    path=str(self.ARTIFACTS / f"{name}-{size['width']}x{size['height']}.png"),
                    full_page=True,
                )
        finally:
            page.set_viewport_size(shown)

    def check(self, name: str) -> None:
        """Run axe-core at both tablet sizes; save a screenshot of each; fail on serious ones."""
        page = self.page
        if not page.evaluate("() => typeof window.axe === 'object'"):
            page.add_script_tag(url=AXE_URL)
        shown = page.viewport_size
        self.ARTIFACTS.mkdir(parents=True, exist_ok=True)
        found: list[str] = []
        try:
            for size in self.SIZES:
                page.set_viewport_size(size)
                if self.SETTLE_MS:
                    page.wait_for_timeout(self.SETTLE_MS)  # the charts follow the new width
                result = page.evaluate(
                    "rules => axe.run(document, {runOnly: {type: 'tag', values: rules}})",
                    AXE_RULES,
                )
                page.screenshot(
                    path=str(self.ARTIFACTS / f"{name}-{size['width']}x{size['height']}.png"),
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


T = TypeVar("T", bound=Tablet)


def signed_in_as(
    server: GunicornServer,
    email: str,
    kind: type[T],
    *,
    touch: bool = True,
    scripts: bool = True,
) -> Iterator[T]:
    """Chromium as ``kind`` at its first size (French, Paris time), signed in by the form.

    The context's ``locale`` makes the pages' language (``navigator.language``, the
    Accept-Language header) French; Chromium's own widgets (the file input's « Choose File »)
    follow the browser's UI language instead, and Debian's package ships only en-US: the
    photo form's script puts a French button in their place.
    """
    with launch_chromium() as browser:
        context = browser.new_context(
            viewport=kind.SIZES[0],
            locale="fr-FR",
            timezone_id="Europe/Paris",
            has_touch=touch,
            java_script_enabled=scripts,
        )
        page = context.new_page()
        screen = kind(page, server)
        screen.open("/connexion")
        page.get_by_label("E-mail").fill(email)
        page.get_by_label("Mot de passe").fill(PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        page.wait_for_load_state()
        yield screen
        context.close()


@pytest.fixture
def tablet(live_server: GunicornServer, teacher: StaffUser) -> Iterator[Tablet]:
    """The teacher's tablet at 1180x820, signed in through the sign-in form."""
    yield from signed_in_as(live_server, EMAIL, Tablet)


@pytest.fixture
def plain_tablet(live_server: GunicornServer, teacher: StaffUser) -> Iterator[Tablet]:
    """The same tablet with JavaScript off: the plain forms only."""
    yield from signed_in_as(live_server, EMAIL, Tablet, scripts=False)
