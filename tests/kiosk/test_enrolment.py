"""Enrolling a kiosk, its cookie credential, its guard against forged requests, revoking it.

Through the real CLI command and the Flask test client on both databases; the browser
side (the page, the service worker, the outbox) is in test_browser.py.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select

from app.auth.tokens import KIOSK_COOKIE, clear_cache
from app.boundary import submit
from app.extensions import db
from app.ingest.events import ActivateKiosk, Actor, Origin
from app.models import DeviceToken, Event, KioskEnrolment, utcnow
from tests.factories import make_staff, make_token, next_event_id, site_id

PASSWORD = "un-mot-de-passe-long"


def enrol(runner: FlaskCliRunner, station: str = "ST-KIOSK-1") -> str:
    """Run ``kiosk enrol`` and return the path of the link it printed last."""
    result = runner.invoke(args=["kiosk", "enrol", station])
    assert result.exit_code == 0, result.output
    link = result.stdout.strip().splitlines()[-1]
    assert link.startswith("http://localhost:8000/borne/inscription/"), link
    return link.removeprefix("http://localhost:8000")


def enrolled(client: FlaskClient, runner: FlaskCliRunner, station: str = "ST-KIOSK-1") -> str:
    """Enrol the test client's browser as the station's kiosk; return its credential."""
    response = client.get(enrol(runner, station))
    assert response.status_code == 303, response.data
    assert response.headers["Location"] == "/borne"
    cookie = client.get_cookie(KIOSK_COOKIE)
    assert cookie is not None
    return cookie.value


def scan(client: FlaskClient, code: str, headers: dict[str, str] | None = None) -> Any:
    """Post a scan as the kiosk page does (its header unless other headers are given)."""
    return client.post(
        "/api/v1/scans",
        json={"event_id": next_event_id("borne"), "code": code, "source": "keyboard"},
        headers={"X-Atelier-Borne": "1"} if headers is None else headers,
    )


def test_enrolment_link_gives_an_httponly_strict_cookie_and_lands_on_the_kiosk(
    client: FlaskClient, runner: FlaskCliRunner, school: None
) -> None:
    response = client.get(enrol(runner))
    assert response.status_code == 303
    assert response.headers["Location"] == "/borne"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    header = response.headers["Set-Cookie"]
    assert header.startswith(f"{KIOSK_COOKIE}=atl_")
    assert "HttpOnly" in header and "SameSite=Strict" in header and "Path=/" in header
    state = client.get("/borne/etat")
    assert state.status_code == 200
    body = state.get_json()
    assert body["kiosk"]["code"] == "ST-KIOSK-1"
    assert body["station"]["next"] == {"kind": "badge", "message": "Badge-toi pour commencer."}
    # The credential never shows in a URL, and only its hash is stored.
    token = client.get_cookie(KIOSK_COOKIE)
    assert token is not None
    digest = hashlib.sha256(token.value.encode()).hexdigest()
    row = db.session.execute(
        select(DeviceToken).where(DeviceToken.token_sha256 == digest)
    ).scalar_one()
    assert row.station is not None
    assert (row.kind, row.station.code, row.can_read) == ("kiosk", "ST-KIOSK-1", False)


def test_an_enrolment_link_works_once(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, school: None
) -> None:
    path = enrol(runner)
    assert client.get(path).status_code == 303
    other = app.test_client()
    again = other.get(path)
    assert again.status_code == 410
    assert "déjà servi" in again.get_data(as_text=True)
    assert other.get_cookie(KIOSK_COOKIE) is None
    assert other.get("/borne/etat").status_code == 401


def test_an_unknown_link_gets_the_enrolment_screen(client: FlaskClient, school: None) -> None:
    response = client.get("/borne/inscription/nimporte-quoi")
    assert response.status_code == 404
    assert "existe pas" in response.get_data(as_text=True)
    assert client.get_cookie(KIOSK_COOKIE) is None


def test_a_link_expires_after_15_minutes(
    client: FlaskClient, runner: FlaskCliRunner, school: None
) -> None:
    code = enrol(runner).rsplit("/", 1)[1]
    digest = hashlib.sha256(code.encode()).hexdigest()
    late = Origin(
        site_id=site_id(),
        channel="web",
        key=f"kiosk-activate:{digest}",
        actor=Actor("kiosk", "borne"),
        received_at=utcnow() + timedelta(minutes=15, seconds=1),
        body_sha256="x",
    )
    outcome = submit(late, ActivateKiosk(code_sha256=digest, token_sha256="y" * 64, prefix="atl_"))
    assert outcome.status == "rejected"
    assert outcome.body["error"]["code"] == "enrolment_expired"
    link = db.session.execute(select(KioskEnrolment)).scalar_one()
    assert link.used_at is None and link.device_token_id is None


def test_an_unknown_station_cannot_be_enrolled(runner: FlaskCliRunner, school: None) -> None:
    result = runner.invoke(args=["kiosk", "enrol", "ST-NULLE-PART"])
    assert result.exit_code != 0
    assert "Poste inconnu : ST-NULLE-PART" in result.output


def test_a_browser_without_credential_gets_the_enrolment_screen_and_no_data(
    client: FlaskClient, school: None
) -> None:
    page = client.get("/borne")
    assert page.status_code == 401
    text = page.get_data(as_text=True)
    assert "pas activée" in text
    assert "Lucas" not in text
    for path in ("/borne/etat", "/borne/eleves/E2026-001"):
        response = client.get(path)
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "kiosk_unknown"


def test_kiosk_scans_go_through_the_scan_api_under_the_cookie(
    client: FlaskClient, runner: FlaskCliRunner, school: None
) -> None:
    enrolled(client, runner)
    answer = scan(client, "B-0001")
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["message"] == "Bonjour Lucas — badge accepté."
    event = db.session.execute(select(Event).order_by(Event.id.desc()).limit(1)).scalar_one()
    assert (event.kind, event.actor_kind, event.actor_name) == (
        "scan",
        "kiosk",
        "Borne ST-KIOSK-1",
    )
    state = client.get("/borne/etat").get_json()
    assert state["station"]["students"] == [{"id": "E2026-001", "name": "Lucas", "assigned": []}]
    assert state["station"]["next"]["kind"] == "work_order"


def test_a_kiosk_scan_without_its_header_or_from_another_site_is_refused(
    client: FlaskClient, runner: FlaskCliRunner, school: None
) -> None:
    enrolled(client, runner)
    before = db.session.execute(select(func.count(Event.id))).scalar()
    forged = [
        {},  # a plain cross-site form or fetch cannot add the kiosk's header
        {"X-Atelier-Borne": "1", "Sec-Fetch-Site": "cross-site"},
        {"X-Atelier-Borne": "1", "Sec-Fetch-Site": "same-site"},
        {"X-Atelier-Borne": "1", "Origin": "http://evil.example"},
    ]
    for headers in forged:
        response = scan(client, "B-0001", headers=headers)
        assert response.status_code == 403, headers
        assert response.get_json()["error"]["code"] == "forbidden"
    db.session.commit()
    assert db.session.execute(select(func.count(Event.id))).scalar() == before
    same = scan(
        client,
        "B-0001",
        headers={
            "X-Atelier-Borne": "1",
            "Origin": "http://localhost",
            "Sec-Fetch-Site": "same-origin",
        },
    )
    assert same.status_code == 201, same.get_json()


def test_a_bearer_token_cannot_ride_in_the_kiosk_cookie(client: FlaskClient, school: None) -> None:
    token = make_token("ST-KIOSK-1")
    client.set_cookie(KIOSK_COOKIE, token)
    assert client.get("/borne/etat").status_code == 401
    assert scan(client, "B-0001").status_code == 401


def test_a_kiosk_credential_does_not_open_the_read_api(
    client: FlaskClient, runner: FlaskCliRunner, school: None
) -> None:
    enrolled(client, runner)
    assert client.get("/api/v1/stations").status_code == 403
    assert client.get("/api/v1/students/E2026-001/portfolio").status_code == 403


def test_a_revoked_kiosk_falls_back_to_the_enrolment_screen(
    client: FlaskClient, runner: FlaskCliRunner, school: None
) -> None:
    enrolled(client, runner)
    listed = runner.invoke(args=["kiosk", "list"])
    assert listed.exit_code == 0
    number, station = listed.stdout.split("\t")[:2]
    assert station == "ST-KIOSK-1"
    assert "active" in listed.stdout
    revoked = runner.invoke(args=["kiosk", "revoke", number])
    assert revoked.exit_code == 0, revoked.output
    assert "révoquée" in revoked.stdout
    assert client.get("/borne").status_code == 401
    assert client.get("/borne/etat").status_code == 401
    assert scan(client, "B-0001").status_code == 401
    assert "révoquée" in runner.invoke(args=["kiosk", "list"]).stdout


def test_kiosk_revoke_refuses_what_is_not_a_kiosk(runner: FlaskCliRunner, school: None) -> None:
    make_token("ST-SOUD-01")
    result = runner.invoke(args=["kiosk", "revoke", "1"])
    assert result.exit_code != 0
    assert "Aucune borne n° 1" in result.output


def test_a_student_page_opens_only_while_that_student_is_badged_in_here(
    client: FlaskClient, runner: FlaskCliRunner, school: None
) -> None:
    enrolled(client, runner)
    assert client.get("/borne/eleves/E2026-001").status_code == 403
    scan(client, "B-0001")
    page = client.get("/borne/eleves/E2026-001")
    assert page.status_code == 200
    body = page.get_json()
    assert body["student"] == {"id": "E2026-001", "name": "Lucas"}
    assert body["framework"]["id"] == "cap-rics"
    assert {item["code"] for item in body["competencies"]} >= {"C4"}
    assert all(item["evidence"] == 0 and item["level"] is None for item in body["competencies"])
    assert client.get("/borne/eleves/E2026-002").status_code == 403


def test_the_bornes_page_enrols_with_a_qr_code_for_administrators_only(
    app: Flask, client: FlaskClient, school: None
) -> None:
    make_staff("prof@example.org", PASSWORD)
    make_staff("admin@example.org", PASSWORD, role="admin")
    teacher = app.test_client()
    teacher.post("/connexion", data={"email": "prof@example.org", "password": PASSWORD})
    assert teacher.get("/bornes").status_code == 403
    assert teacher.post("/bornes/activer", data={"station": "ST-KIOSK-1"}).status_code == 403
    client.post("/connexion", data={"email": "admin@example.org", "password": PASSWORD})
    page = client.get("/bornes")
    assert page.status_code == 200
    assert "Aucune borne activée" in page.get_data(as_text=True)
    made = client.post("/bornes/activer", data={"station": "ST-KIOSK-1"})
    assert made.status_code == 200
    assert made.headers["Cache-Control"] == "no-store"
    html = made.get_data(as_text=True)
    assert "http://localhost:8000/borne/inscription/" in html
    assert "<svg" in html
    path = html.split("http://localhost:8000", 1)[1].split("<", 1)[0]
    kiosk = app.test_client()
    assert kiosk.get(path).status_code == 303
    listed = client.get("/bornes").get_data(as_text=True)
    assert "ST-KIOSK-1 — Borne atelier" in listed and "active" in listed
    number = db.session.execute(
        select(DeviceToken.id).where(DeviceToken.kind == "kiosk")
    ).scalar_one()
    gone = client.post(f"/bornes/{number}/revoquer")
    assert gone.status_code == 302
    clear_cache()
    assert kiosk.get("/borne/etat").status_code == 401


def test_hostile_student_codes_get_a_french_refusal_not_an_error(
    client: FlaskClient, runner: FlaskCliRunner, school: None
) -> None:
    enrolled(client, runner)
    scan(client, "B-0001")
    for code in ("%00", "E2026-001%00", "x" * 300, "%ED%A0%80", "%C3%A9%0A"):
        response = client.get(f"/borne/eleves/{code}")
        assert response.status_code == 403, code
        assert response.get_json()["error"]["code"] == "not_here"
    for code in ("%00", "%ED%A0%80", "a" * 500):
        response = client.get(f"/borne/inscription/{code}")
        assert response.status_code == 404, code
