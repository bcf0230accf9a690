"""The kiosk's screens in a real Chromium: team work, habilitations, a call for help, welding,
a student's own pages, accessibility at both sizes and reduced motion.

Each test drives ``/borne`` as students do (a scanner's keys, touch buttons) and reads what
they read: the status region, the instruction, the student panel, the arc. The database
and the read API say what was recorded. Welds come either through the ingest core (for the
screens) or, in the welding test, from ``python -m devices.simulate`` through a real
Mosquitto and the real ingest worker. Every screen is checked with axe-core at 1280x800
and 800x1280, leaving its screenshot in ``test-artifacts/kiosk-NAME-WxH.png``.
"""

from __future__ import annotations

import copy
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy
import yaml
from flask.testing import FlaskClient

from app.boundary import submit, web_origin
from app.ingest.events import AssessmentInput, ReviewPiece, SetLevel
from app.models import WeldSamples, utcnow
from app.read.wording import LEVEL_WORDS, french_day
from tests.board.welding import WeldingStation
from tests.factories import MINIMAL_SCHOOL, Scanner, load_school, make_staff, make_token
from tests.kiosk.conftest import (
    AXE,
    LANDSCAPE,
    PORTRAIT,
    Kiosk,
    KioskBrowser,
    expect,
    kiosk_scans,
)
from tests.kiosk.test_scanning import answered, touched
from tests.support.backends import screen_only
from tests.support.browser import sync_api
from tests.support.mosquitto import INSTALL_HINT, MosquittoBroker
from tests.support.server import GunicornServer
from tests.support.services import require_binary
from tests.support.worker import WorkerProcess

ROOT = Path(__file__).resolve().parents[2]
LUCAS, INES, LEA, HUGO = "B-0001", "B-0002", "B-0003", "B-0004"
TEACHER = "B-9001"  # M. Perrin
# Waits on the page: generous, the machine may be loaded; nothing is timed.
WAIT_MS = 30_000
DEFAULT_EXPECT_MS = 5_000  # Playwright's own


# -- helpers -------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def patient_expectations() -> Iterator[None]:
    """Let every page assertion of this module wait up to 30 s (a loaded machine is slow)."""
    if sync_api is None:  # the kiosks fixture skips the test
        yield
        return
    sync_api.expect.set_options(timeout=WAIT_MS)
    try:
        yield
    finally:
        sync_api.expect.set_options(timeout=DEFAULT_EXPECT_MS)


def said(kiosk: Kiosk, code: str) -> str:
    """Scan ``code``; check it was recorded and the status region shows its message."""
    return answered(kiosk, code, lambda: kiosk.scan(code))


def read_piece(client: FlaskClient, code: str) -> dict[str, Any]:
    """Read a piece through the read API, with a read token."""
    token = make_token(read=True, name="lecture")
    response = client.get(f"/api/v1/pieces/{code}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def operation(piece: dict[str, Any], step: int) -> dict[str, Any]:
    """Return one step of a piece as the read API shows it."""
    found: dict[str, Any] = next(op for op in piece["operations"] if op["step"] == step)
    return found


def student_item(kiosk: Kiosk, student_id: str) -> Any:
    """Return a student's entry in the kiosk's list of people at the station."""
    return kiosk.page.locator(f"#students li[data-student='{student_id}']")


def open_panel(kiosk: Kiosk, student_id: str, part: str) -> Any:
    """Touch a student's « Mes pièces » or « Mes compétences »; return the open panel's body."""
    kiosk.page.locator(
        f"#students li[data-student='{student_id}'] button[data-part='{part}']"
    ).click()
    panel = kiosk.page.locator("#student-panel")
    expect(panel).to_be_visible()
    body = kiosk.page.locator("#panel-body")
    expect(body.locator(".panel-wait")).to_have_count(0, timeout=WAIT_MS)
    return body


def close_panel(kiosk: Kiosk) -> None:
    """Close the student panel with its button."""
    kiosk.page.locator("#panel-close").click()
    expect(kiosk.page.locator("#student-panel")).to_be_hidden()


def finish_control(kiosk: Kiosk, piece: str, *badges: str) -> None:
    """Badge students in and make the CONTROLE step (30) of a piece of OF-2026-0001."""
    for badge in badges:
        said(kiosk, badge)
    said(kiosk, "OF-2026-0001-30")
    said(kiosk, piece)
    expect(kiosk.page.locator("#run-state")).to_have_text("en cours")
    assert said(kiosk, "A-FIN").startswith("Bravo !")


def first_steps(client: FlaskClient, piece: str) -> None:
    """Make steps 10 (Lucas, at the plasma table) and 20 (Léa, welding) of a piece.

    Through the scan API, as the stations' readers do; both badge out afterwards.
    """
    for station, badge, step in (("ST-PLASMA", LUCAS, 10), ("ST-SOUD-01", LEA, 20)):
        reader = Scanner(client, make_token(station, name=station))
        for code in (badge, f"OF-2026-0001-{step}", piece, "A-FIN", badge):
            reader.ok(code)


def workshop_today() -> date:
    """Return the workshop's local date (Europe/Paris), the one habilitations are read on."""
    return datetime.now(ZoneInfo("Europe/Paris")).date()


def with_press_habilitation() -> str:
    """Return the minimal school with « Presse plieuse » required at ST-PLIEUSE.

    Lucas holds it until next year, Inès held it until yesterday, Hugo never had it.
    """
    data: dict[str, Any] = copy.deepcopy(yaml.safe_load(MINIMAL_SCHOOL.read_text("utf-8")))
    data["habilitations"] = [{"id": "PLIEUSE", "name": "Presse plieuse"}]
    press = next(s for s in data["stations"] if s["code"] == "ST-PLIEUSE")
    press["requires"] = ["PLIEUSE"]
    today = workshop_today()
    held = {
        "E2026-001": (today + timedelta(days=365)).isoformat(),
        "E2026-002": (today - timedelta(days=1)).isoformat(),
    }
    for student in data["students"]:
        if student["id"] in held:
            student["habilitations"] = [{"id": "PLIEUSE", "until": held[student["id"]]}]
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def refused_look(kiosk: Kiosk) -> None:
    """Check the page wears the refusal look: the last answer refused, the feedback red."""
    expect(kiosk.page.locator("body")).to_have_attribute("data-last-answer", "refused")
    expect(kiosk.page.locator("#feedback")).to_have_attribute("data-tone", "bad")


def board_page(kiosks: KioskBrowser) -> Any:
    """Open the workshop board in its own browser context; return it once it is live."""
    context = kiosks.browser.new_context(
        viewport={"width": 1920, "height": 1080}, locale="fr-FR", timezone_id="Europe/Paris"
    )
    page = context.new_page()
    kiosks.kiosks.append(Kiosk(page, kiosks.server, ""))  # its script errors fail the test
    page.goto(kiosks.server.url + "/")
    page.wait_for_selector("#board.is-live", timeout=WAIT_MS)
    return page


def review(piece: str, student: str, competency: str, level: str, comment: str) -> None:
    """Give a finished piece a teacher's verdict and one assessment, through the core."""
    teacher = make_staff()
    outcome = submit(
        web_origin(teacher),
        ReviewPiece(piece, "conforme", (AssessmentInput(student, competency, level, comment),)),
    )
    assert outcome.accepted, outcome.body


def running_animations(kiosk: Kiosk) -> list[str]:
    """Return the CSS animations and transitions running on the page now."""
    names: list[str] = kiosk.page.evaluate(
        """() => document.getAnimations()
            .filter((a) => a.playState === "running")
            .map((a) => a.animationName || a.transitionProperty || a.constructor.name)"""
    )
    return names


# -- team work -----------------------------------------------------------------------------


def test_two_students_badged_in_together_both_get_the_operation(
    kiosks: KioskBrowser, client: FlaskClient
) -> None:
    """Team mode: both students show by first name, and the run is recorded for both."""
    kiosk = kiosks.enrol()
    assert said(kiosk, LUCAS) == "Bonjour Lucas — badge accepté."
    said(kiosk, INES)
    expect(kiosk.page.locator("#students li.student")).to_have_count(2)
    expect(student_item(kiosk, "E2026-001").locator(".student-name")).to_have_text("Lucas")
    expect(student_item(kiosk, "E2026-002").locator(".student-name")).to_have_text("Inès")
    expect(kiosk.page.locator("body")).to_have_class(re.compile(r"\bis-team\b"))

    said(kiosk, "OF-2026-0001-30")
    expect(kiosk.page.locator("#routing li.step.is-current")).to_contain_text("Contrôle")
    said(kiosk, "P-2026-000003")
    expect(kiosk.page.locator("#run-state")).to_have_text("en cours")
    expect(kiosk.page.locator("#piece-code")).to_have_text("P-2026-000003")
    assert said(kiosk, "A-FIN").startswith("Bravo !")

    control = operation(read_piece(client, "P-2026-000003"), 30)
    assert sorted(student["id"] for student in control["students"]) == [
        "E2026-001",
        "E2026-002",
    ]
    assert control["finished_at"] is not None


# -- habilitations -------------------------------------------------------------------------


def test_the_press_brake_refuses_students_without_a_valid_habilitation(
    kiosks: KioskBrowser,
) -> None:
    """Hugo (never habilitated) and Inès (expired yesterday) are refused; Lucas starts."""
    load_school(text=with_press_habilitation())
    kiosk = kiosks.enrol("ST-PLIEUSE")

    said(kiosk, HUGO)
    said(kiosk, "OF-2026-0002-20")
    refusal = said(kiosk, "P-2026-000020")
    assert refusal == "Hugo n'a pas l'habilitation « Presse plieuse » : demande à ton maître pro."
    refused_look(kiosk)
    # Its own pictogram beside the words: the habilitation's shield.
    expect(kiosk.page.locator("#feedback")).to_have_attribute("data-pictogram", "habilitation")
    kiosk.check_accessibility("not-habilitated")
    expect(kiosk.page.locator("#run-clock")).to_be_hidden()
    said(kiosk, "A-SORTIE")

    said(kiosk, INES)
    said(kiosk, "OF-2026-0002-20")
    expired = said(kiosk, "P-2026-000020")
    yesterday = french_day(workshop_today() - timedelta(days=1))
    assert re.fullmatch(
        rf"L'habilitation « Presse plieuse » d'Inès a expiré le {re.escape(yesterday)} : "
        "demande à ton maître pro\\.",
        expired,
    ), expired
    refused_look(kiosk)
    said(kiosk, "A-SORTIE")

    said(kiosk, LUCAS)
    said(kiosk, "OF-2026-0002-20")
    started = said(kiosk, "P-2026-000020")
    assert "Pliage" in started
    expect(kiosk.page.locator("body")).to_have_attribute("data-last-answer", "accepted")
    expect(kiosk.page.locator("#feedback")).to_have_attribute("data-tone", "ok")
    expect(kiosk.page.locator("#run-state")).to_have_text("en cours")

    refusals = [e for e in kiosk_scans("ST-PLIEUSE") if e.status == "rejected"]
    assert [(e.error_code, e.message) for e in refusals] == [
        ("not_habilitated", refusal),
        ("not_habilitated", expired),
    ]


# -- calling the teacher -------------------------------------------------------------------


def test_a_call_for_help_shows_on_the_board_until_the_teacher_badges_in(
    kiosks: KioskBrowser,
) -> None:
    """« J'ai besoin d'aide » shows on the board with its waiting time; the teacher clears it."""
    kiosk = kiosks.enrol()
    said(kiosk, LUCAS)
    message = touched(kiosk, "J'ai besoin d'aide", "A-AIDE")
    assert message.startswith("Ton maître pro est prévenu")
    expect(kiosk.page.locator("#help-banner")).to_be_visible()
    expect(kiosk.page.locator("#instruction")).to_have_attribute("data-kind", "help")

    board = board_page(kiosks)
    card = board.locator('article[data-key="ST-KIOSK-1"]')
    call = card.locator(".help-call")
    expect(call).to_contain_text("Aide demandée", timeout=WAIT_MS)
    expect(call.locator(".help-since")).to_have_text(re.compile(r"^depuis \d+ (s|min \d\d)$"))

    answer = said(kiosk, TEACHER)
    assert answer == "M. Perrin est là : l'appel à l'aide est terminé."
    expect(kiosk.page.locator("#help-banner")).to_be_hidden()
    expect(card).to_contain_text("Lucas M.", timeout=WAIT_MS)
    expect(card.locator(".help-call")).to_have_count(0, timeout=WAIT_MS)
    expect(card).not_to_contain_text("Aide demandée")


# -- welding -------------------------------------------------------------------------------


def stored_batches(database_url: str, device: str, at_least: int) -> None:
    """Wait until the worker has stored ``at_least`` sample batches of a device's weld."""
    engine = sqlalchemy.create_engine(database_url)
    deadline = time.monotonic() + WAIT_MS / 1000
    try:
        while True:
            with engine.connect() as connection:
                count = connection.execute(
                    sqlalchemy.select(sqlalchemy.func.count())
                    .select_from(WeldSamples)
                    .where(WeldSamples.device == device)
                ).scalar_one()
            if count >= at_least:
                return
            assert time.monotonic() < deadline, f"{count} sample batch(es) of {device} stored"
            time.sleep(0.2)
    finally:
        engine.dispose()


def simulator(broker: MosquittoBroker, log: Path) -> subprocess.Popen[bytes]:
    """Start ``python -m devices.simulate stations`` for ws01: one long weld, in range.

    Its arc burns until the simulator is stopped (SIGTERM ends the arc and sends the
    weld's record), so the test decides when the arc goes out, not a clock.
    """
    with log.open("wb") as output:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "devices.simulate",
                "stations",
                "--mqtt-url",
                broker.url,
                "--school",
                str(MINIMAL_SCHOOL),
                "--stations",
                "ws01",
                "--speed",
                "1",
                "--idle-s",
                "0,0",
                "--arc-s",
                "600,600",
                "--tack-rate",
                "0",
                "--out-of-range-rate",
                "0",
                "--known-length-rate",
                "0",
                "--max-welds",
                "1",
                "--seed",
                "5",
            ],
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )


def test_a_weld_from_the_station_shows_on_its_tablet_without_a_reload(
    kiosks: KioskBrowser, client: FlaskClient, database_url: str, tmp_path: Path
) -> None:
    """The arc shows « Arc allumé » while it burns, then the weld's verdict in words."""
    require_binary("mosquitto", INSTALL_HINT)
    kiosk = kiosks.enrol("ST-SOUD-01")
    said(kiosk, LUCAS)
    said(kiosk, "OF-2026-0001-20")
    said(kiosk, "P-2026-000004")
    page = kiosk.page
    expect(page.locator("#run-state")).to_have_text("en cours")
    page.evaluate("() => { window.neverReloaded = true; }")

    with MosquittoBroker(workdir=tmp_path / "broker") as broker:
        worker = WorkerProcess(database_url, broker.url, tmp_path)
        worker.start()
        station: subprocess.Popen[bytes] | None = None
        try:
            worker.wait_subscribed()
            station = simulator(broker, tmp_path / "simulate.log")
            expect(page.locator("#welding")).to_be_visible(timeout=WAIT_MS)
            expect(page.locator("#wps-range")).to_have_text("160–200 A · 21–25 V")
            expect(page.locator("#wps-id")).to_have_text("WPS-135-PB")
            expect(page.locator("#arc")).to_have_attribute("data-arc", "on", timeout=WAIT_MS)
            expect(page.locator("#arc-text")).to_have_text("Arc allumé")
            expect(page.locator("body")).to_have_class(re.compile(r"\barc-on\b"))

            # A few seconds of arc first: a weld cut at its ignition ramp would average
            # below the range, whatever the load on the machine made of the wait.
            stored_batches(database_url, "ws01", at_least=3)
            station.send_signal(signal.SIGTERM)  # the welder lifts the torch
            assert station.wait(timeout=30) == 0, (tmp_path / "simulate.log").read_text()
            expect(page.locator("#arc")).to_have_attribute("data-arc", "off", timeout=WAIT_MS)
            expect(page.locator("#arc-text")).to_have_text("Arc éteint")
            expect(page.locator("#last-weld-text")).to_have_text(
                re.compile(r"^Dernière soudure \d\d:\d\d : Soudure dans la plage du DMOS\.$"),
                timeout=WAIT_MS,
            )
            expect(page.locator("#last-weld")).to_have_attribute("data-ok", "1")
        finally:
            if station is not None and station.poll() is None:
                station.kill()
                station.wait()
            worker.stop()

    assert page.evaluate("() => window.neverReloaded") is True
    step = operation(read_piece(client, "P-2026-000004"), 20)
    assert [weld["wps_verdict"] for weld in step["welds"]] == ["in_range"]
    assert [student["id"] for student in step["students"]] == ["E2026-001"]


# -- a student's own pages -----------------------------------------------------------------


def test_a_student_sees_the_pieces_of_the_week_and_the_teachers_assessment(
    kiosks: KioskBrowser, client: FlaskClient
) -> None:
    """« Mes pièces » lists the week's work; « Mes compétences » the evidence and the level."""
    first_steps(client, "P-2026-000005")  # Lucas cuts it, Léa welds it
    kiosk = kiosks.enrol()
    finish_control(kiosk, "P-2026-000005", LUCAS)  # Lucas checks it at the kiosk
    review("P-2026-000005", "E2026-001", "cap-rics:C5", "3", "Contrôle soigné, bravo.")

    pieces = open_panel(kiosk, "E2026-001", "pieces")
    expect(kiosk.page.locator("#panel-title")).to_have_text("Mes pièces — Lucas")
    # One piece, two operations on it: the count is of pieces.
    expect(pieces.locator(".panel-count")).to_have_text("1 pièce cette semaine")
    items = pieces.locator("li.piece-item")
    expect(items).to_have_count(2)
    expect(items.locator(".piece-code")).to_have_text(["P-2026-000005", "P-2026-000005"])
    expect(items.locator(".piece-product")).to_have_text(["Support soudé", "Support soudé"])
    expect(items.nth(0)).to_contain_text("Contrôle")  # the latest first
    expect(items.nth(1)).to_contain_text("Débit")
    expect(items.locator(".piece-when")).to_have_text(
        [re.compile("^finie "), re.compile("^finie ")]
    )
    close_panel(kiosk)

    skills = open_panel(kiosk, "E2026-001", "competences")
    expect(kiosk.page.locator("#panel-title")).to_have_text("Mes compétences — Lucas")
    rows = skills.locator("li.skill")
    expect(rows.locator(".skill-code")).to_have_text(["C3", "C4", "C5"])
    expect(rows.locator(".skill-evidence")).to_have_text(["1 preuve", "aucune preuve", "1 preuve"])
    level = LEVEL_WORDS["3"]  # « niveau 3 : maîtrisé »
    expect(rows.nth(2).locator(".skill-level")).to_have_text(level[0].upper() + level[1:])
    expect(rows.nth(2).locator(".skill-comment")).to_have_text(
        "Le maître pro : « Contrôle soigné, bravo. »"
    )
    expect(rows.nth(0).locator(".skill-level")).to_have_count(0)  # evidence, not yet reviewed
    expect(rows.nth(0).locator(".skill-comment")).to_have_count(0)
    close_panel(kiosk)

    # The teacher sets C5 by hand: the kiosk shows the current level, never the reason.
    reason = "Vu en atelier : mesure reprise seul."
    teacher = make_staff("niveau@example.org")
    outcome = submit(web_origin(teacher), SetLevel("E2026-001", "cap-rics:C5", "4", reason))
    assert outcome.accepted, outcome.body
    skills = open_panel(kiosk, "E2026-001", "competences")
    level = LEVEL_WORDS["4"]
    expect(skills.locator("li.skill").nth(2).locator(".skill-level")).to_have_text(
        level[0].upper() + level[1:]
    )
    expect(skills).not_to_contain_text(reason)
    close_panel(kiosk)


# -- accessibility and screenshots ---------------------------------------------------------


@screen_only
def test_the_work_screens_pass_axe(kiosks: KioskBrowser) -> None:
    """Idle, badged in with a work order, running, paused, refused, help called: no finding.

    On one database: what it scans (badges, a work order, a run, a pause, a refusal, a call
    for help) is checked on both by test_scanning and the team and help tests here.
    """
    kiosk = kiosks.enrol()
    page = kiosk.page
    kiosk.check_accessibility("idle")

    said(kiosk, LUCAS)
    said(kiosk, INES)
    said(kiosk, "OF-2026-0001")
    expect(page.locator("#of-number")).to_have_text("OF-2026-0001")
    kiosk.check_accessibility("work-order")

    said(kiosk, "OF-2026-0001-30")
    said(kiosk, "P-2026-000006")
    expect(page.locator("#run-state")).to_have_text("en cours")
    expect(page.locator("#routing li.step")).to_have_count(3)
    # The codes in the answer are whole on their line, at both sizes.
    codes = page.locator("#status .code")
    expect(codes).to_have_text(["P-2026-000006", "OF-2026-0001", "P-2026-000006"])
    for size in (PORTRAIT, LANDSCAPE):
        page.set_viewport_size(size)
        rects = codes.evaluate_all("spans => spans.map((s) => s.getClientRects().length)")
        assert rects == [1, 1, 1], size
    kiosk.check_accessibility("running")

    touched(kiosk, "Pause", "A-PAUSE")
    expect(page.locator("#run-state")).to_have_text("en pause")
    expect(page.locator("#routing li.is-current .step-mark")).to_have_text("en pause")
    kiosk.check_accessibility("paused")

    said(kiosk, "B-7777")  # a badge nobody holds
    refused_look(kiosk)
    kiosk.check_accessibility("refused")

    touched(kiosk, "J'ai besoin d'aide", "A-AIDE")
    expect(page.locator("#help-banner")).to_be_visible()
    kiosk.check_accessibility("help")


@screen_only
def test_the_student_panels_and_overlays_pass_axe(
    kiosks: KioskBrowser, client: FlaskClient
) -> None:
    """The student panel (pieces, competencies), « Qui suis-je ? » and the idle countdown.

    On one database: the panels' data is checked on both by
    test_a_student_sees_the_pieces_of_the_week_and_the_teachers_assessment, the countdown
    by test_offline's idle tests.
    """
    kiosk = kiosks.enrol()
    page = kiosk.page
    first_steps(client, "P-2026-000007")
    finish_control(kiosk, "P-2026-000007", LUCAS, LEA)
    review("P-2026-000007", "E2026-001", "cap-rics:C5", "2", "Reprendre la mesure au réglet.")

    open_panel(kiosk, "E2026-001", "pieces")
    kiosk.check_accessibility("panel-pieces")
    close_panel(kiosk)
    skills = open_panel(kiosk, "E2026-001", "competences")
    expect(skills.locator(".skill-comment")).to_have_count(1)
    kiosk.check_accessibility("panel-competences")
    close_panel(kiosk)

    page.get_by_role("button", name=re.compile("Qui suis")).click()
    expect(page.locator("#whoami-names")).to_contain_text("Léa")
    kiosk.check_accessibility("whoami")
    page.locator("#whoami").click()
    expect(page.locator("#whoami")).to_be_hidden()

    # Nobody touched nor scanned for all but 45 s of the idle time: the badge-out countdown.
    # (The page keeps the last activity in its storage, so that a reload does not reset it.)
    page.evaluate(
        """() => {
            const idle = window.atelierKiosk.state.etat.kiosk.idle_badge_out_s;
            localStorage.setItem("atelier.borne.activite", String(Date.now() - (idle - 45) * 1000));
        }"""
    )
    kiosk.reload()
    expect(page.locator("#countdown")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#countdown-text")).to_contain_text("Sortie automatique dans")
    kiosk.check_accessibility("countdown")


@screen_only
def test_the_welding_enrolment_and_offline_screens_pass_axe(
    kiosks: KioskBrowser, live_server: GunicornServer
) -> None:
    """A welding tablet with its arc on, a browser not enrolled, and a kiosk offline.

    On one database: a weld shown live is checked on both by
    test_a_weld_from_the_station_shows_on_its_tablet_without_a_reload, a weld's words by
    test_state, the enrolment screen by test_enrolment, the offline kiosk by test_offline.
    """
    ws01 = WeldingStation("ws01")
    ws01.status("online")
    kiosk = kiosks.enrol("ST-SOUD-01")
    page = kiosk.page
    said(kiosk, LEA)
    said(kiosk, "OF-2026-0001-20")
    said(kiosk, "P-2026-000008")
    started = utcnow()  # after the run began: the weld is the run's
    ws01.weld(started, arc_s=3.0, i_mean=212.0)  # 12 A over the range
    ws01.arc_start(started + timedelta(seconds=4))  # and the next one burns
    expect(page.locator("#arc")).to_have_attribute("data-arc", "on", timeout=WAIT_MS)
    expect(page.locator("#last-weld-text")).to_have_text(
        re.compile(
            r"^Dernière soudure \d\d:\d\d : Soudure hors de la plage : Intensité trop haute "
            r"de 12\sA\.$"
        )
    )
    expect(page.locator("#last-weld")).to_have_attribute("data-ok", "0")
    kiosk.check_accessibility("welding")

    stranger = kiosks.browser.new_context(
        viewport=LANDSCAPE, locale="fr-FR", timezone_id="Europe/Paris"
    )
    enrolment = Kiosk(stranger.new_page(), live_server, "")
    kiosks.kiosks.append(enrolment)
    response = enrolment.page.goto(live_server.url + "/borne")
    assert response is not None and response.status == 401
    expect(enrolment.page.get_by_role("heading", level=1)).to_contain_text("pas activée")
    enrolment.check_accessibility("enrolment")

    # axe-core is fetched from the kiosk's server, which is down from now on: from the disk.
    page.route("**/vendor/axe-core/axe.min.js", lambda route: route.fulfill(path=str(AXE)))
    live_server.stop()
    expect(kiosk.status).to_contain_text("hors ligne", timeout=WAIT_MS)
    expect(page.locator("#feedback")).to_have_attribute("data-tone", "offline")
    kiosk.check_accessibility("offline")


# -- reduced motion ------------------------------------------------------------------------


@screen_only
def test_nothing_moves_when_the_kiosk_asks_for_reduced_motion(kiosks: KioskBrowser) -> None:
    """With prefers-reduced-motion, the burning arc does not glow in and out, nor anything else.

    On one database: the style sheet's business alone; the arc and the pause it shows are
    checked on both by the welding and touch-button tests.
    """
    ws01 = WeldingStation("ws01")
    ws01.status("online")
    moving = kiosks.enrol("ST-SOUD-01")
    still = kiosks.enrol("ST-SOUD-01", reduced_motion="reduce")
    said(moving, LUCAS)
    said(moving, "OF-2026-0001-20")
    said(moving, "P-2026-000009")
    ws01.arc_start()
    for kiosk in (moving, still):
        expect(kiosk.page.locator("#arc")).to_have_attribute("data-arc", "on", timeout=WAIT_MS)
    assert "arc-glow" in running_animations(moving)  # the check sees animations at all
    assert running_animations(still) == []
    still.touch("Pause")
    expect(still.page.locator("#run-state")).to_have_text("en pause")
    assert running_animations(still) == []
