"""The student's own voice after A-FIN: « Comment ça s'est passé ? » at the kiosk.

In a real Chromium on the real server: after an accepted A-FIN the kiosk asks each student
badged in, by first name, with three pictograms and their words; one tap records the
feeling (``POST /borne/ressenti``, the core's ``SelfAssess``), « Passer », the next scan or
the time-out record nothing, and the page's event id makes a replay change nothing. The
endpoint's guards (the kiosk's credential, its header, same origin, the student badged in
here) are checked with the test client.
"""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select

from app.extensions import db
from app.models import Event, OperationRun, SelfAssessment, Student
from tests.factories import next_event_id
from tests.kiosk.conftest import Kiosk, KioskBrowser, expect
from tests.kiosk.test_enrolment import enrolled, scan
from tests.kiosk.test_scanning import said, touched
from tests.support.backends import screen_only

LUCAS, INES = "B-0001", "B-0002"
WAIT_MS = 30_000


def feelings() -> list[tuple[str, str]]:
    """Return the feelings recorded: (student code, feeling), by student code."""
    db.session.commit()  # see what the server committed
    rows = db.session.execute(
        select(Student.code, SelfAssessment.feeling)
        .join(Student, Student.id == SelfAssessment.student_id)
        .order_by(Student.code)
    ).all()
    return [(row.code, row.feeling) for row in rows]


def feeling_events() -> list[Event]:
    """Return the self-assessment inputs of the event log, in order."""
    db.session.commit()
    return list(
        db.session.execute(
            select(Event).where(Event.kind == "record.self").order_by(Event.id)
        ).scalars()
    )


def prompt(kiosk: Kiosk) -> Any:
    """Return the « Comment ça s'est passé ? » prompt."""
    return kiosk.page.get_by_role("dialog", name=re.compile("comment ça s'est passé", re.I))


def asked(kiosk: Kiosk, name: str) -> Any:
    """Wait until the prompt asks this student, ready for a tap; return it."""
    shown = prompt(kiosk)
    expect(shown).to_be_visible(timeout=WAIT_MS)
    expect(shown.get_by_role("heading")).to_have_text(f"{name}, comment ça s'est passé\u00a0?")
    # The tap that finished the run, landing twice, is not an answer: the prompt arms after.
    expect(kiosk.page.locator("#feeling")).to_have_attribute("data-armed", "1", timeout=WAIT_MS)
    return shown


def post_again(kiosk: Kiosk, body: dict[str, Any]) -> dict[str, Any]:
    """Post a feeling from the kiosk's page as it does (its header, its cookie)."""
    answer: dict[str, Any] = kiosk.page.evaluate(
        """async (body) => {
            const response = await fetch("/borne/ressenti", {
              method: "POST", credentials: "same-origin",
              headers: {"Content-Type": "application/json", "X-Atelier-Borne": "1"},
              body: JSON.stringify(body),
            });
            return {status: response.status, body: await response.json()};
        }""",
        body,
    )
    return answer


def start_control(kiosk: Kiosk, piece: str, *badges: str) -> None:
    """Badge students in and start the control (step 30) of a piece of OF-2026-0001."""
    for badge in badges:
        said(kiosk, badge)
    said(kiosk, "OF-2026-0001-30")
    said(kiosk, piece)
    expect(kiosk.page.locator("#run-state")).to_have_text("en cours")


def test_after_a_fin_each_student_is_asked_and_one_tap_records_the_feeling(
    kiosks: KioskBrowser,
) -> None:
    """Team work: Lucas then Inès are asked by name; each tap is one row; a replay is not."""
    kiosk = kiosks.enrol()
    start_control(kiosk, "P-2026-000003", LUCAS, INES)
    assert touched(kiosk, "Fin", "A-FIN").startswith("Bravo !")

    shown = asked(kiosk, "Lucas")
    # Words under the pictograms, never a colour alone.
    expect(shown.get_by_role("button")).to_have_text(["Difficile", "Moyen", "Facile", "Passer"])
    shown.get_by_role("button", name="Facile").click()
    asked(kiosk, "Inès").get_by_role("button", name="Difficile").click()
    expect(prompt(kiosk)).to_be_hidden()
    kiosk.says("Merci, ton ressenti est enregistré.")
    kiosk.page.wait_for_function(
        "() => window.atelierKiosk.feeling.sent.every((item) => item.status > 0)",
        timeout=WAIT_MS,
    )
    sent = kiosk.page.evaluate("() => window.atelierKiosk.feeling.sent")
    assert [(item["student"], item["feeling"], item["status"]) for item in sent] == [
        ("E2026-001", "facile", 201),
        ("E2026-002", "difficile", 201),
    ]
    assert feelings() == [("E2026-001", "facile"), ("E2026-002", "difficile")]
    events = feeling_events()
    assert [(e.status, e.key) for e in events] == [
        ("accepted", f"ressenti:{item['event_id']}") for item in sent
    ]
    # Both refer to the control just finished.
    db.session.commit()
    (run_id,) = db.session.execute(select(SelfAssessment.run_id).distinct()).scalars()
    run = db.session.get(OperationRun, run_id)
    assert run is not None and run.status == "finished"

    # The same post again (a retry): a duplicate, nothing changes; the same id for another
    # answer: refused.
    first = {
        "event_id": sent[0]["event_id"],
        "piece": "P-2026-000003",
        "step": 30,
        "student": "E2026-001",
        "feeling": "facile",
    }
    again = post_again(kiosk, first)
    assert again["status"] == 200, again
    other = post_again(kiosk, {**first, "feeling": "moyen"})
    assert other["status"] == 409, other
    assert feelings() == [("E2026-001", "facile"), ("E2026-002", "difficile")]
    assert len(feeling_events()) == 2


def test_passer_the_next_scan_or_the_time_out_closes_the_prompt_and_records_nothing(
    kiosks: KioskBrowser,
) -> None:
    """« Passer » closes it, so does the next scan, and so does the time without a tap."""
    kiosk = kiosks.enrol()
    page = kiosk.page
    start_control(kiosk, "P-2026-000001", LUCAS)

    said(kiosk, "A-FIN")
    asked(kiosk, "Lucas").get_by_role("button", name="Passer").click()
    expect(prompt(kiosk)).to_be_hidden()

    said(kiosk, "A-ANNULE")  # the control runs again
    expect(page.locator("#run-state")).to_have_text("en cours")
    said(kiosk, "A-FIN")
    asked(kiosk, "Lucas")
    said(kiosk, "A-ANNULE")  # the next scan: the prompt goes away
    expect(prompt(kiosk)).to_be_hidden()

    # Left alone, it goes away by itself (20 s on the kiosk; shortened here).
    page.evaluate("() => { window.atelierKiosk.feeling.timeoutMs = 1500; }")
    said(kiosk, "A-FIN")
    asked(kiosk, "Lucas")
    expect(prompt(kiosk)).to_be_hidden(timeout=WAIT_MS)

    assert page.evaluate("() => window.atelierKiosk.feeling.sent") == []
    assert feelings() == []
    assert feeling_events() == []


@screen_only
def test_the_feeling_prompt_passes_axe(kiosks: KioskBrowser) -> None:
    """The prompt at both sizes: no serious or critical finding.

    On one database: what it records is checked on both by the tests above.
    """
    kiosk = kiosks.enrol()
    start_control(kiosk, "P-2026-000002", LUCAS, INES)
    said(kiosk, "A-FIN")
    asked(kiosk, "Lucas")
    kiosk.check_accessibility("feeling")
    # Each answer is a touch target of a gloved hand at both sizes (>= 48 px).
    sizes = (
        prompt(kiosk)
        .get_by_role("button")
        .evaluate_all("buttons => buttons.map((b) => [b.offsetWidth, b.offsetHeight])")
    )
    assert all(width >= 48 and height >= 48 for width, height in sizes), sizes


# -- the endpoint's guards (test client) ------------------------------------------------------


def post_feeling(
    client: FlaskClient, body: Any, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    """Post to /borne/ressenti as the kiosk page does (its header unless others are given)."""
    response = client.post(
        "/borne/ressenti",
        json=body,
        headers={"X-Atelier-Borne": "1"} if headers is None else headers,
    )
    return response.status_code, response.get_json()


def test_the_feeling_endpoint_takes_only_the_kiosks_own_word_for_a_student_here(
    client: FlaskClient, runner: FlaskCliRunner, school: None
) -> None:
    """No credential: 401; forged: 403; malformed: 400; not here: 403; not finished: 422."""
    body = {
        "event_id": next_event_id("ressenti"),
        "piece": "P-2026-000001",
        "step": 30,
        "student": "E2026-001",
        "feeling": "facile",
    }
    assert post_feeling(client, body)[0] == 401
    enrolled(client, runner)
    before = db.session.execute(select(func.count(Event.id))).scalar()
    for headers in (
        {},
        {"X-Atelier-Borne": "1", "Sec-Fetch-Site": "cross-site"},
        {"X-Atelier-Borne": "1", "Origin": "http://evil.example"},
    ):
        status, answer = post_feeling(client, body, headers)
        assert (status, answer["error"]["code"]) == (403, "forbidden"), headers
    malformed: list[Any] = [
        [],
        {**body, "feeling": "super"},
        {**body, "step": "30"},
        {**body, "step": True},
        {**body, "event_id": ""},
        {**body, "student": "E2026-001\x00"},
        {**body, "piece": "x" * 300},
    ]
    for bad in malformed:
        status, answer = post_feeling(client, bad)
        assert (status, answer["error"]["code"]) == (400, "bad_request"), bad
        assert answer["error"]["message"].startswith("Ressenti invalide : ")
    status, answer = post_feeling(client, body)
    assert (status, answer["error"]["code"]) == (403, "not_here")
    db.session.commit()
    assert db.session.execute(select(func.count(Event.id))).scalar() == before

    for code in (LUCAS, "OF-2026-0001-30", "P-2026-000001"):
        assert scan(client, code).status_code == 201
    status, answer = post_feeling(client, body)  # the control is not finished yet
    assert status == 422, answer
    assert answer["error"]["code"] == "not_finished"
    # The refusal is on record under its id: the same id again is that answer again.
    assert post_feeling(client, body)[1]["error"]["code"] == "not_finished"
    assert scan(client, "A-FIN").status_code == 201
    status, answer = post_feeling(client, {**body, "event_id": next_event_id("ressenti")})
    assert status == 201, answer
    assert answer["message"] == "Merci, ton ressenti est enregistré."
    assert feelings() == [("E2026-001", "facile")]
