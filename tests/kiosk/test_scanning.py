"""A student at the kiosk, by scanner alone: badge, work order, operation, piece, finish.

Each step is typed at a scanner's speed on ``/borne`` (Chromium, 1280x800) and read back in
its status region, which must say exactly the message the server recorded for that scan;
the piece is then read through the read API. A person typing is not a scan, a scanner on
the wrong keyboard layout is told so, and the touch buttons do what the action codes do.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from flask.testing import FlaskClient

from app.extensions import db
from tests.factories import make_token
from tests.kiosk.conftest import (
    PERSON_DELAY_MS,
    Kiosk,
    KioskBrowser,
    code_of,
    expect,
    kiosk_scans,
    source_of,
)


def said(kiosk: Kiosk, code: str) -> str:
    """Wait for a new scan of ``code`` to be recorded; check the kiosk shows its message."""
    return answered(kiosk, code, lambda: kiosk.scan(code))


def touched(kiosk: Kiosk, name: str, code: str) -> str:
    """Press a touch button; check it posted ``code`` and the kiosk shows its message."""
    return answered(kiosk, code, lambda: kiosk.touch(name))


def answered(kiosk: Kiosk, code: str, act: Callable[[], None]) -> str:
    """Do something that posts ``code``; return the message the status region shows for it."""
    before = len(kiosk_scans(kiosk.station))
    act()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        new = kiosk_scans(kiosk.station)[before:]
        if new:
            assert [code_of(e) for e in new] == [code]
            message = new[0].message
            assert message
            kiosk.says(message)
            return message
        time.sleep(0.1)
    raise AssertionError(f"no scan of {code} recorded")


def test_a_student_does_a_piece_by_scanner_alone(kiosks: KioskBrowser, client: FlaskClient) -> None:
    kiosk = kiosks.enrol()
    page = kiosk.page
    expect(page.locator("#instruction-text")).to_have_text("Badge-toi pour commencer.")
    expect(page.locator("#station-name")).to_have_text("Borne atelier")

    assert said(kiosk, "B-0001") == "Bonjour Lucas — badge accepté."
    expect(page.locator("#students")).to_contain_text("Lucas")
    expect(page.locator("#instruction-text")).to_have_text(
        "Scanne la fiche suiveuse de l'ordre de fabrication."
    )

    said(kiosk, "OF-2026-0001")
    expect(page.locator("#of-number")).to_have_text("OF-2026-0001")
    expect(page.locator("#routing li")).to_have_count(3)
    expect(page.locator("#instruction-text")).to_have_text(
        "Scanne l'opération sur la fiche suiveuse."
    )

    said(kiosk, "OF-2026-0001-30")
    current = page.locator("#routing li[aria-current='step']")
    expect(current).to_contain_text("Contrôle")
    expect(current).to_contain_text("à faire")
    expect(page.locator("#instruction-text")).to_have_text("Scanne l'étiquette de la pièce.")

    started = said(kiosk, "P-2026-000001")
    assert "Contrôle" in started
    expect(page.locator("#run-state")).to_have_text("en cours")
    expect(current).to_contain_text("en cours")
    expect(page.locator("#timer")).not_to_have_text("00:00", timeout=5000)  # it runs

    assert said(kiosk, "A-FIN").startswith("Bravo !")
    expect(page.locator("#run-clock")).to_be_hidden()

    events = kiosk_scans()
    assert [code_of(e) for e in events] == [
        "B-0001",
        "OF-2026-0001",
        "OF-2026-0001-30",
        "P-2026-000001",
        "A-FIN",
    ]
    assert {e.status for e in events} == {"accepted"}
    assert {source_of(e) for e in events} == {"keyboard"}
    assert {e.actor_kind for e in events} == {"kiosk"}
    assert all(e.key.startswith("ST-KIOSK-1-") for e in events)

    token = make_token(read=True, name="lecture")
    piece = client.get(
        "/api/v1/pieces/P-2026-000001", headers={"Authorization": f"Bearer {token}"}
    ).get_json()
    control = next(op for op in piece["operations"] if op["step"] == 30)
    assert [student["id"] for student in control["students"]] == ["E2026-001"]
    assert control["finished_at"] is not None


def test_a_person_typing_is_not_a_scan(kiosks: KioskBrowser) -> None:
    kiosk = kiosks.enrol()
    kiosk.scan("B-0001", delay_ms=PERSON_DELAY_MS)
    # The same badge from the scanner goes through. Had the person's keys been a scan, it
    # would have gone first (the outbox sends in order): this one would badge Lucas out.
    assert said(kiosk, "B-0001") == "Bonjour Lucas — badge accepté."
    expect(kiosk.page.locator("body")).to_have_attribute("data-outbox", "0")
    assert [code_of(e) for e in kiosk_scans()] == ["B-0001"]


def test_a_scanner_on_the_wrong_keyboard_layout_is_told_what_to_do(
    kiosks: KioskBrowser,
) -> None:
    kiosk = kiosks.enrol()
    # B-0001 read by a QWERTY scanner on an AZERTY computer.
    message = said(kiosk, "B)ààà&")
    event = kiosk_scans()[-1]
    assert (event.status, event.error_code) == ("rejected", "keyboard_layout")
    assert "clavier" in message.lower()
    expect(kiosk.page.locator("body")).to_have_attribute("data-last-answer", "refused")
    expect(kiosk.page.locator("#feedback")).to_have_attribute("data-pictogram", "keyboard")


def test_touch_buttons_do_what_the_action_codes_do(kiosks: KioskBrowser) -> None:
    kiosk = kiosks.enrol()
    for code in ("B-0001", "OF-2026-0001-30", "P-2026-000002"):
        said(kiosk, code)
    assert touched(kiosk, "Pause", "A-PAUSE").startswith("Pause :")
    expect(kiosk.page.locator("#run-state")).to_have_text("en pause")
    assert touched(kiosk, "Reprendre", "A-PAUSE").startswith("Reprise :")
    assert touched(kiosk, "Fin", "A-FIN").startswith("Bravo !")
    touched(kiosk, "Annuler", "A-ANNULE")
    expect(kiosk.page.locator("#run-state")).to_have_text("en cours")
    # A gloved double tap (two presses within 800 ms) is one press.
    # Both presses on the one button, at once: two separate clicks would look the button up
    # again by its name, which the first press's answer may already have made « Reprendre ».
    kiosk.page.get_by_role("button", name="Pause").dblclick()
    kiosk.touched_at = time.monotonic()
    expect(kiosk.page.locator("#run-state")).to_have_text("en pause")
    # A second post would be in the outbox before the next press's (sent in order).
    assert touched(kiosk, "Reprendre", "A-PAUSE").startswith("Reprise :")
    touched(kiosk, "Sortie", "A-SORTIE")
    expect(kiosk.page.locator("#instruction-text")).to_have_text("Badge-toi pour commencer.")
    by_touch = [e for e in kiosk_scans() if source_of(e) == "touch"]
    assert [code_of(e) for e in by_touch] == [
        "A-PAUSE",
        "A-PAUSE",
        "A-FIN",
        "A-ANNULE",
        "A-PAUSE",
        "A-PAUSE",
        "A-SORTIE",
    ]
    assert {e.status for e in by_touch} == {"accepted"}
    db.session.commit()


def test_who_am_i_shows_the_students_badged_in_without_a_scan(kiosks: KioskBrowser) -> None:
    kiosk = kiosks.enrol()
    said(kiosk, "B-0001")
    said(kiosk, "B-0002")
    before = len(kiosk_scans())
    kiosk.page.get_by_role("button", name=re.compile("Qui suis")).click()
    names = kiosk.page.locator("#whoami-names")
    expect(names).to_be_visible()
    expect(names).to_contain_text("Lucas")
    expect(names).to_contain_text("Inès")
    assert len(kiosk_scans()) == before
