"""The event log is the audit log: every input, who sent it, what came of it; append-only."""

from __future__ import annotations

import re

import pytest
import requests
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from app.extensions import db
from app.models import Event, StaffUser
from tests.factories import Scanner, make_staff, make_token
from tests.support.server import GunicornServer

PASSWORD = "un-mot-de-passe-long"


def test_a_committed_event_can_be_neither_changed_nor_deleted(
    client: FlaskClient, scanner: Scanner
) -> None:
    scanner.ok("B-0001", event_id="kept")
    db.session.commit()
    for statement in (
        update(Event).where(Event.key == "kept").values(message="autre chose"),
        delete(Event).where(Event.key == "kept"),
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(statement)
        db.session.rollback()
    event = db.session.execute(select(Event).where(Event.key == "kept")).scalar_one()
    assert event.message == "Bonjour Lucas — badge accepté."


def test_every_kind_of_input_is_recorded_with_its_actor_and_outcome(
    client: FlaskClient, runner: FlaskCliRunner, school: None
) -> None:
    token = make_token("ST-SOUD-01", name="lecteur soudure")
    Scanner(client, token).ok("B-0001", event_id="scan-1")
    Scanner(client, token).refused("HELLO", "unknown_code", event_id="scan-2")
    make_staff()
    client.post("/connexion", data={"email": "prof@example.org", "password": PASSWORD})
    new = "une-autre-phrase-solide"
    client.post("/mot-de-passe", data={"current": PASSWORD, "new": new, "confirm": new})
    runner.invoke(args=["token", "revoke", "1"])
    db.session.commit()
    log = [
        (e.kind, e.channel, e.actor_kind, e.status)
        for e in db.session.execute(select(Event).order_by(Event.id)).scalars()
    ]
    assert log == [
        ("data.import", "cli", "cli", "accepted"),
        ("token.create", "cli", "cli", "accepted"),
        ("scan", "http", "device", "accepted"),
        ("scan", "http", "device", "rejected"),
        ("staff.create", "cli", "cli", "accepted"),
        ("staff.password", "cli", "cli", "accepted"),
        ("staff.sign_in", "web", "staff", "accepted"),
        ("staff.password", "web", "staff", "accepted"),
        ("staff.revoke_sessions", "web", "staff", "accepted"),
        ("staff.sign_in", "web", "staff", "accepted"),
        ("token.revoke", "cli", "cli", "accepted"),
    ]
    scan = db.session.execute(select(Event).where(Event.key == "scan-1")).scalar_one()
    assert scan.actor_name == "lecteur soudure" and scan.device_token_id == 1
    assert scan.payload == {
        "code": "B-0001",
        "station": None,
        "source": "barcode",
        "scanned_at": "2026-11-26T09:20:11.400Z",
    }
    change = db.session.execute(
        select(Event).where(Event.kind == "staff.password", Event.channel == "web")
    ).scalar_one()
    user = db.session.execute(
        select(StaffUser).where(StaffUser.email == "prof@example.org")
    ).scalar_one()
    assert change.user_id == user.id and change.actor_name == "prof@example.org"
    # No secret in the log: neither the token, nor a password, nor their hashes.
    dump = " ".join(
        str(value)
        for row in db.session.execute(text("SELECT * FROM events")).all()
        for value in row
    )
    assert token not in dump and new not in dump and PASSWORD not in dump
    assert (user.password_hash or "") not in dump and "scrypt" not in dump


def _form_token(browser: requests.Session, url: str) -> str:
    page = browser.get(url, timeout=30).text
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match is not None, page[:500]
    return match.group(1)


def test_a_password_change_ends_the_accounts_other_sessions(
    live_server: GunicornServer, school: None
) -> None:
    make_staff()
    base = live_server.url
    browsers = [requests.Session(), requests.Session()]
    for browser in browsers:
        signed_in = browser.post(
            f"{base}/connexion",
            data={
                "email": "prof@example.org",
                "password": PASSWORD,
                "csrf_token": _form_token(browser, f"{base}/connexion"),
            },
            allow_redirects=False,
            timeout=30,
        )
        assert signed_in.status_code == 302, signed_in.text[:300]
        assert browser.get(f"{base}/api/v1/stations", timeout=30).status_code == 200
    new = "une-autre-phrase-solide"
    changed = browsers[0].post(
        f"{base}/mot-de-passe",
        data={
            "current": PASSWORD,
            "new": new,
            "confirm": new,
            "csrf_token": _form_token(browsers[0], f"{base}/mot-de-passe"),
        },
        allow_redirects=False,
        timeout=30,
    )
    assert changed.status_code == 302, changed.text[:300]
    assert browsers[0].get(f"{base}/api/v1/stations", timeout=30).status_code == 200
    assert browsers[1].get(f"{base}/api/v1/stations", timeout=30).status_code == 401
