"""The kiosk when the network or the server fails, and when the server changes things alone.

In a real Chromium on the real server (gunicorn), on both databases: scans typed while the
server is down wait in the page's outbox (IndexedDB), survive a reload served by the
service worker, and reach the server once it is back, each exactly once and in the order
they were typed, also when the school's nginx answers 502 meanwhile; a scan the server
refuses on replay is listed as refused; a 503 is retried with the same event id. A
revoked kiosk falls back to the enrolment screen by itself, a student left alone is badged
out after the idle time (never while an operation runs), and the day's close shows on the
screen without a reload.

Waits are for what the page shows or the database holds, never for a length of time.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from flask.testing import FlaskCliRunner
from sqlalchemy import select

from app.extensions import db
from app.models import Event
from tests.kiosk.conftest import (
    Kiosk,
    KioskBrowser,
    code_of,
    expect,
    kiosk_scans,
    source_of,
)

# Generous: the machine may be loaded (two databases, xdist, a Chromium per test).
WITHIN_MS = 30_000
WITHIN_S = WITHIN_MS / 1000
IDLE_SENTENCE = "Badge-toi pour commencer."
COUNTDOWN = re.compile(
    r"^Sortie automatique dans ([1-9]|[1-5][0-9]|60) s — scanne ou touche l'écran pour rester$"
)

# Started online: Lucas badged in, the control (step 30) of OF-2026-0001 running on piece 1.
STARTED = ["B-0001", "OF-2026-0001-30", "P-2026-000001"]
# Typed while the server is down. Badges toggle (in, then out) and A-PAUSE pauses then
# resumes: applied in this order, exactly once each, every scan is accepted and the end
# state is Lucas alone, the control of piece 3 running, pieces 1 and 2 controlled.
OFFLINE = [
    "B-0002",  # Inès joins the run
    "B-0003",  # Léa joins
    "A-PAUSE",  # pause
    "B-0004",  # Hugo arrives while paused
    "A-PAUSE",  # resume
    "B-0003",  # Léa leaves
    "A-FIN",  # piece 1 controlled
    "P-2026-000002",  # the control starts on piece 2
    "B-0004",  # Hugo leaves
    "A-PAUSE",  # pause
    "A-PAUSE",  # resume
    "A-FIN",  # piece 2 controlled
    "P-2026-000003",  # the control starts on piece 3
    "B-0003",  # Léa comes back
    "B-0002",  # Inès leaves
    "A-PAUSE",  # pause
    "B-0004",  # Hugo comes back
    "A-PAUSE",  # resume
    "B-0003",  # Léa leaves
    "B-0004",  # Hugo leaves
]

# True once the browser's service worker is active and holds the kiosk's shell.
SHELL_CACHED = """async () => {
  const registration = await navigator.serviceWorker.getRegistration('/borne');
  if (!registration || !registration.active || registration.active.state !== 'activated') {
    return false;
  }
  for (const name of await caches.keys()) {
    if (name.startsWith('borne-') && await (await caches.open(name)).match('/borne')) {
      return true;
    }
  }
  return false;
}"""

# Records each value body[data-outbox] takes (the page's count of waiting scans).
COUNT_DOWN = """() => {
  window.outboxSizes = [];
  new MutationObserver(() => window.outboxSizes.push(document.body.dataset.outbox))
    .observe(document.body, {attributes: true, attributeFilter: ['data-outbox']});
}"""

# The scan API's answer while the database is busy or down (app/api/scans.py).
BUSY = {
    "status": "error",
    "error": {
        "code": "unavailable",
        "message": "Le serveur est occupé : le scan sera renvoyé automatiquement.",
    },
}


def eventually(kiosk: Kiosk, check: Callable[[], Any], what: str) -> Any:
    """Poll ``check`` until it returns something truthy; return it, or fail naming ``what``.

    It waits in the page's own time (``wait_for_timeout``), not in ``time.sleep``: the
    Playwright calls are what lets the browser's events (routes, console) reach Python.
    """
    deadline = time.monotonic() + WITHIN_S
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"still not the case after {WITHIN_S:.0f} s: {what}")
        kiosk.page.wait_for_timeout(100)


def said(kiosk: Kiosk, code: str) -> Event:
    """Scan ``code`` online; wait until it is recorded and its message shows; return it."""
    before = len(kiosk_scans(kiosk.station))
    kiosk.scan(code)
    new = eventually(
        kiosk, lambda: kiosk_scans(kiosk.station)[before:], f"a scan of {code} recorded"
    )
    assert [code_of(event) for event in new] == [code]
    event: Event = new[0]
    assert event.message
    expect(kiosk.status).to_have_text(event.message, timeout=WITHIN_MS)
    return event


class BadGateway(BaseHTTPRequestHandler):
    """What nginx answers while gunicorn behind it is down: 502, an HTML page, any path."""

    PAGE = (
        b"<html><head><title>502 Bad Gateway</title></head>"
        b"<body><h1>502 Bad Gateway</h1><hr><center>nginx</center></body></html>"
    )

    def answer(self) -> None:
        """Read the request's body if any, then answer 502."""
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(502)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(self.PAGE)))
        self.end_headers()
        self.wfile.write(self.PAGE)

    def do_GET(self) -> None:
        """Answer a page, an asset or /borne/etat."""
        self.answer()

    def do_POST(self) -> None:
        """Answer a scan."""
        self.answer()

    def log_message(self, format: str, *args: Any) -> None:
        """Say nothing: the test reads the page, not a log."""


@contextmanager
def bad_gateway(port: int) -> Iterator[None]:
    """Answer 502 on ``port`` (the stopped server's), as the school's nginx does meanwhile."""
    proxy = ThreadingHTTPServer(("127.0.0.1", port), BadGateway)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        proxy.shutdown()
        proxy.server_close()
        thread.join()


def reload(kiosk: Kiosk) -> None:
    """Reload the page (a student's elbow on F5) and wait until it shows its first state."""
    kiosk.page.reload()
    kiosk.page.wait_for_selector("body[data-ready='1']", timeout=WITHIN_MS)


def says(kiosk: Kiosk, text: str) -> None:
    """Wait until the kiosk's status region says exactly this."""
    expect(kiosk.status).to_have_text(text, timeout=WITHIN_MS)


def go_offline(kiosk: Kiosk) -> None:
    """Stop the server; wait until the kiosk says it is offline."""
    kiosk.server.stop()
    expect(kiosk.status).to_have_text(re.compile(r"^hors ligne — "), timeout=WITHIN_MS)
    expect(kiosk.page.locator("body")).to_have_class(re.compile(r"\bis-offline\b"))


def waiting(count: int) -> str:
    """Return what the status region says while ``count`` scans wait for the server."""
    return f"hors ligne — {count} {'scans' if count > 1 else 'scan'} en attente"


def drained(kiosk: Kiosk) -> None:
    """Wait until the kiosk's outbox is empty and it says it is online again."""
    expect(kiosk.page.locator("body")).to_have_attribute("data-outbox", "0", timeout=WITHIN_MS)
    expect(kiosk.page.locator("body")).not_to_have_class(
        re.compile(r"\bis-offline\b"), timeout=WITHIN_MS
    )
    assert kiosk.outbox_size() == 0


def outbox_items(kiosk: Kiosk) -> list[dict[str, Any]]:
    """Return the scans waiting in the page's outbox (IndexedDB), oldest first."""
    items: list[dict[str, Any]] = kiosk.page.evaluate(
        "async () => await window.atelierKiosk.outbox.items()"
    )
    return items


def pick(item: dict[str, Any]) -> dict[str, Any]:
    """Return what identifies a waiting scan (not its count of attempts, which grows)."""
    return {key: item[key] for key in ("seq", "event_id", "code", "source", "scanned_at")}


def stored_activity(kiosk: Kiosk) -> int:
    """Return the kiosk's last local activity as the page stored it (ms since the epoch)."""
    return int(kiosk.page.evaluate("() => Number(localStorage.getItem('atelier.borne.activite'))"))


def idle_seconds(kiosk: Kiosk) -> int:
    """Return the idle time after which the kiosk badges its students out, as the server set it."""
    seconds = int(
        kiosk.page.evaluate("() => window.atelierKiosk.state.etat.kiosk.idle_badge_out_s")
    )
    assert seconds > 60, seconds
    return seconds


def idle_since(kiosk: Kiosk, seconds_ago: float) -> int:
    """Store a last activity ``seconds_ago`` in the past and reload (the page reads it then).

    Return the instant stored (ms since the epoch).
    """
    stored = int(
        kiosk.page.evaluate(
            """ago => {
              const at = Date.now() - ago;
              localStorage.setItem('atelier.borne.activite', String(at));
              return at;
            }""",
            int(seconds_ago * 1000),
        )
    )
    reload(kiosk)
    return stored


def polls(kiosk: Kiosk) -> int:
    """Return how many times the page has asked the server for the station's state."""
    return int(kiosk.page.evaluate("() => window.atelierKiosk.state.polls"))


def polled_again(kiosk: Kiosk) -> None:
    """Wait until the page has polled the server once more, and so decided on idleness again.

    Each poll ends by deciding (``tickIdle``, also run every 250 ms) from the page's last
    activity, which what was done before the call (a touch, a scan's answer) already set,
    and the station's state, which nothing here changes: the next poll to end decides
    after it.
    """
    seen = polls(kiosk)
    eventually(kiosk, lambda: polls(kiosk) > seen, "one more poll of /borne/etat")


def test_scans_made_offline_and_kept_across_an_offline_reload_arrive_once_in_order(
    kiosks: KioskBrowser,
) -> None:
    kiosk = kiosks.enrol()
    page = kiosk.page
    for code in STARTED:
        said(kiosk, code)
    expect(page.locator("#run-state")).to_have_text("en cours")
    before = len(kiosk_scans())
    # The service worker holds the shell before the server goes away.
    eventually(kiosk, lambda: page.evaluate(SHELL_CACHED), "the service worker caching /borne")

    go_offline(kiosk)
    for code in OFFLINE:
        kiosk.scan(code)
    says(kiosk, waiting(20))
    expect(page.locator("body")).to_have_attribute("data-outbox", "20")
    queued = [pick(item) for item in outbox_items(kiosk)]
    assert [item["code"] for item in queued] == OFFLINE
    event_ids = [item["event_id"] for item in queued]
    assert len(set(event_ids)) == 20
    assert all(event_id.startswith("ST-KIOSK-1-") for event_id in event_ids)

    # Reloaded with the server still down: the service worker serves the shell, and the
    # outbox, in IndexedDB, still holds the same 20 scans with the same ids.
    reload(kiosk)
    says(kiosk, waiting(20))
    expect(page.locator("body")).to_have_attribute("data-outbox", "20")
    expect(page.locator("#instruction-text")).to_have_text("Pas de réseau. Tes scans sont gardés.")
    assert [pick(item) for item in outbox_items(kiosk)] == queued
    assert len(kiosk_scans()) == before

    page.evaluate(COUNT_DOWN)
    kiosk.server.start()
    drained(kiosk)
    # The page counted down one scan at a time as the server answered each (a value twice
    # in a row: a retry in between, which changes nothing).
    sizes = page.evaluate("() => window.outboxSizes")
    assert [n for i, n in enumerate(sizes) if i == 0 or sizes[i - 1] != n] == [
        str(n) for n in range(19, -1, -1)
    ]
    events = kiosk_scans()
    new = events[before:]
    assert len(events) == before + 20
    assert [code_of(event) for event in new] == OFFLINE
    assert [event.key for event in new] == event_ids
    refused = [(code_of(e), e.error_code, e.message) for e in new if e.status != "accepted"]
    assert refused == []
    assert {source_of(event) for event in new} == {"keyboard"}

    # The end state of these scans in this order: Lucas alone, the control of piece 3 running.
    expect(page.locator("#students li")).to_have_count(1, timeout=WITHIN_MS)
    expect(page.locator("#students")).to_contain_text("Lucas")
    expect(page.locator("#piece-code")).to_have_text("P-2026-000003")
    expect(page.locator("#run-state")).to_have_text("en cours")
    expect(page.locator("#instruction-text")).to_have_text(
        "Au travail ! Quand c'est fini, touche « Fin »."
    )
    assert [code_of(e) for e in new if e.message and e.message.startswith("Bravo !")] == [
        "A-FIN",
        "A-FIN",
    ]
    expect(page.locator("#refusals")).to_be_hidden()
    says(kiosk, new[-1].message or "")


def test_a_scan_refused_when_the_outbox_is_replayed_is_listed_with_its_message(
    kiosks: KioskBrowser,
) -> None:
    kiosk = kiosks.enrol()
    page = kiosk.page
    go_offline(kiosk)
    # Lucas, a new label with no work order in context, a work order that does not exist,
    # Lucas leaving: the middle two are refused once the server reads them.
    codes = ["B-0001", "P-2026-000009", "OF-2099-9999", "B-0001"]
    for code in codes:
        kiosk.scan(code)
    says(kiosk, waiting(4))

    kiosk.server.start()
    drained(kiosk)
    events = kiosk_scans()
    assert [code_of(event) for event in events] == codes
    assert [(event.status, event.error_code) for event in events] == [
        ("accepted", None),
        ("rejected", "no_work_order"),
        ("rejected", "unknown_code"),
        ("accepted", None),
    ]
    # The status region moved on to the last answer; the refusals stay listed, newest first.
    says(kiosk, events[-1].message or "")
    expect(page.locator("#refusals")).to_be_visible()
    refusals = page.locator("#refusal-list li")
    expect(refusals).to_have_count(2)
    for item, event in zip(refusals.all(), [events[2], events[1]], strict=True):
        expect(item.locator(".refusal-code")).to_have_text(code_of(event) or "")
        expect(item.locator(".refusal-message")).to_have_text(event.message or "")
    assert "fiche suiveuse" in (events[1].message or "")


def test_a_revoked_kiosk_shows_the_enrolment_screen_by_itself_and_no_student(
    kiosks: KioskBrowser, runner: FlaskCliRunner
) -> None:
    kiosk = kiosks.enrol()
    page = kiosk.page
    said(kiosk, "B-0001")
    expect(page.locator("#students")).to_contain_text("Lucas")

    listed = runner.invoke(args=["kiosk", "list"])
    assert listed.exit_code == 0, listed.output
    rows = [line.split("\t") for line in listed.stdout.strip().splitlines()]
    numbers = [row[0] for row in rows if row[1] == "ST-KIOSK-1" and row[-1] == "active"]
    assert len(numbers) == 1, listed.stdout
    revoked = runner.invoke(args=["kiosk", "revoke", numbers[0]])
    assert revoked.exit_code == 0, revoked.output

    # Nobody touches the page: its poll gets a 401, it reloads, the server answers the
    # enrolment page (the service worker does not hide it behind the cached shell).
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Cette borne n'est pas activée", timeout=WITHIN_MS
    )
    assert page.url == kiosk.server.url + "/borne"
    assert "Lucas" not in page.content()
    expect(page.locator("#students")).to_have_count(0)
    assert len(kiosk_scans()) == 1


def test_a_student_left_alone_is_warned_for_the_last_minute_then_badged_out(
    kiosks: KioskBrowser,
) -> None:
    kiosk = kiosks.enrol()
    page = kiosk.page
    countdown = page.locator("#countdown")
    said(kiosk, "B-0001")
    expect(page.locator("#students")).to_contain_text("Lucas")
    expect(countdown).to_be_hidden()
    idle = idle_seconds(kiosk)

    # Idle for all but 30 s: the countdown shows, with its words.
    idle_since(kiosk, idle - 30)
    expect(countdown).to_be_visible(timeout=WITHIN_MS)
    expect(page.locator("#countdown-text")).to_have_text(COUNTDOWN)
    # A touch anywhere on the screen resets it, and the page stores the new activity.
    touched_at = int(page.evaluate("() => Date.now()"))
    page.locator("#instruction").click()
    expect(countdown).to_be_hidden()
    assert stored_activity(kiosk) >= touched_at
    polled_again(kiosk)
    expect(countdown).to_be_hidden()

    # Idle again: a scan resets it too.
    idle_since(kiosk, idle - 30)
    expect(countdown).to_be_visible(timeout=WITHIN_MS)
    said(kiosk, "OF-2026-0001")
    expect(countdown).to_be_hidden()
    polled_again(kiosk)
    expect(countdown).to_be_hidden()
    assert [code_of(event) for event in kiosk_scans()] == ["B-0001", "OF-2026-0001"]

    # Left alone to the end: the page posts A-SORTIE (as a touch) and Lucas is badged out.
    idle_since(kiosk, idle - 2)
    exits = eventually(
        kiosk, lambda: [e for e in kiosk_scans() if code_of(e) == "A-SORTIE"], "an A-SORTIE posted"
    )
    assert len(exits) == 1
    (exit_scan,) = exits
    assert (exit_scan.status, source_of(exit_scan)) == ("accepted", "touch")
    assert exit_scan.message and exit_scan.message.startswith("À bientôt Lucas")
    says(kiosk, exit_scan.message)
    expect(page.locator("#students li")).to_have_count(0, timeout=WITHIN_MS)
    expect(page.locator("#nobody")).to_be_visible()
    expect(page.locator("#instruction-text")).to_have_text(IDLE_SENTENCE)
    expect(countdown).to_be_hidden()
    polled_again(kiosk)
    assert [code_of(event) for event in kiosk_scans()] == ["B-0001", "OF-2026-0001", "A-SORTIE"]


def test_no_countdown_and_no_badge_out_while_an_operation_runs(kiosks: KioskBrowser) -> None:
    kiosk = kiosks.enrol()
    page = kiosk.page
    for code in STARTED:
        said(kiosk, code)
    idle = idle_seconds(kiosk)

    # Idle for longer than the idle time by the stored activity, but the control runs.
    old = idle_since(kiosk, idle + 60)
    expect(page.locator("#run-state")).to_have_text("en cours", timeout=WITHIN_MS)
    polled_again(kiosk)
    expect(page.locator("#countdown")).to_be_hidden()
    # The running operation counted as activity: the page stored a new one.
    assert stored_activity(kiosk) > old + (idle + 30) * 1000
    assert [code_of(event) for event in kiosk_scans()] == STARTED
    expect(page.locator("#students")).to_contain_text("Lucas")


def test_the_days_close_shows_on_the_kiosk_without_a_reload(
    kiosks: KioskBrowser, runner: FlaskCliRunner
) -> None:
    kiosk = kiosks.enrol()
    page = kiosk.page
    for code in ["B-0001", "B-0002", "OF-2026-0001-30", "P-2026-000001"]:
        said(kiosk, code)
    expect(page.locator("#students li")).to_have_count(2)
    expect(page.locator("#run-state")).to_have_text("en cours")
    page.evaluate("() => { window.sameDocument = true; }")

    closed = runner.invoke(args=["day", "close"])
    assert closed.exit_code == 0, closed.output
    assert "1 opération mise en pause" in closed.output

    expect(page.locator("#students li")).to_have_count(0, timeout=WITHIN_MS)
    expect(page.locator("#nobody")).to_be_visible()
    expect(page.locator("#instruction-text")).to_have_text(IDLE_SENTENCE)
    expect(page.locator("#run-state")).to_have_text("en pause")
    assert page.evaluate("() => window.sameDocument === true")  # never reloaded

    db.session.commit()
    closes = db.session.execute(select(Event).where(Event.kind == "day.close")).scalars().all()
    assert [(event.status, event.station_id) for event in closes] == [("accepted", None)]
    assert len(kiosk_scans()) == 4  # the kiosk scanned nothing to show it


def test_a_scan_answered_503_is_sent_again_with_the_same_event_id(kiosks: KioskBrowser) -> None:
    # Requests a service worker makes are out of page.route's sight: none here.
    kiosk = kiosks.enrol(service_workers="block")
    page = kiosk.page
    busy = {"on": True}
    attempts: list[dict[str, Any]] = []

    def scans(route: Any) -> None:
        """Answer 503 as the scan API does while the database is busy; then let it through."""
        attempts.append(json.loads(route.request.post_data or "{}"))
        if busy["on"]:
            route.fulfill(
                status=503,
                headers={"Retry-After": "1"},
                content_type="application/json",
                body=json.dumps(BUSY),
            )
        else:
            route.continue_()

    page.route("**/api/v1/scans", scans)
    kiosk.scan("B-0001")
    says(kiosk, waiting(1))
    eventually(kiosk, lambda: len(attempts) >= 2, "the 503 retried")
    assert kiosk.outbox_size() == 1
    assert kiosk_scans() == []

    busy["on"] = False
    drained(kiosk)
    (event,) = kiosk_scans()
    assert (code_of(event), event.status) == ("B-0001", "accepted")
    says(kiosk, "Bonjour Lucas — badge accepté.")
    assert {attempt["event_id"] for attempt in attempts} == {event.key}
    assert {attempt["code"] for attempt in attempts} == {"B-0001"}


def test_a_kiosk_reloaded_while_the_proxy_answers_502_keeps_its_shell_and_its_scans(
    kiosks: KioskBrowser,
) -> None:
    kiosk = kiosks.enrol()
    page = kiosk.page
    said(kiosk, "B-0001")
    eventually(kiosk, lambda: page.evaluate(SHELL_CACHED), "the service worker caching /borne")

    kiosk.server.stop()
    with bad_gateway(kiosk.server.port):
        expect(kiosk.status).to_have_text(re.compile(r"^hors ligne — "), timeout=WITHIN_MS)
        for code in ["B-0002", "OF-2026-0001"]:
            kiosk.scan(code)
        says(kiosk, waiting(2))
        # A student's elbow on F5 now: nginx's error page must not replace the kiosk.
        page.reload()
        says(kiosk, waiting(2))
        expect(page.get_by_text("Bad Gateway")).to_have_count(0)
        expect(page.locator("#instruction-text")).to_have_text(
            "Pas de réseau. Tes scans sont gardés."
        )
    kiosk.server.start()
    drained(kiosk)
    events = kiosk_scans()
    assert [code_of(event) for event in events] == ["B-0001", "B-0002", "OF-2026-0001"]
    assert {event.status for event in events} == {"accepted"}
    expect(page.locator("#students li")).to_have_count(2, timeout=WITHIN_MS)
