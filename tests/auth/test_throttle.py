"""Failed sign-ins are throttled per account and per address, counted in the database (so
every gunicorn worker sees the same count), with a French message saying how long to wait."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from app.auth import sessions, staff, throttle
from app.extensions import db
from app.models import SignInFailure, utcnow
from tests.auth.helpers import PASSWORD, sign_in, signed_in
from tests.factories import make_staff

WRONG = "pas-le-bon-mot-de-passe"


def from_address(app: Flask, address: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_thirty_wrong_passwords_are_not_all_answered_401(client: FlaskClient, school: None) -> None:
    make_staff()
    statuses = [sign_in(client, password=WRONG).status_code for _ in range(30)]
    assert statuses[:5] == [401] * 5
    assert statuses[5:] == [429] * 25
    # Past the limit, even the right password waits: guessing goes no faster.
    answer = sign_in(client)
    assert answer.status_code == 429
    html = answer.get_data(as_text=True)
    assert "Trop d&#39;essais : réessayez dans 15 minutes." in html
    assert answer.headers["Retry-After"] == "900"
    assert not signed_in(client)


def test_the_account_can_sign_in_again_once_the_window_is_over(
    client: FlaskClient, school: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_staff()
    for _ in range(5):
        sign_in(client, password=WRONG)
    base = utcnow()
    monkeypatch.setattr(sessions, "now", lambda: base + timedelta(minutes=11))
    answer = sign_in(client)
    assert answer.status_code == 429
    assert "réessayez dans 4 minutes" in answer.get_data(as_text=True)
    monkeypatch.setattr(sessions, "now", lambda: base + timedelta(minutes=15, seconds=1))
    assert sign_in(client).status_code == 302


def test_the_account_limit_holds_from_every_address(app: Flask, school: None) -> None:
    make_staff()
    make_staff("autre@example.org")
    for number in range(5):
        assert sign_in(from_address(app, f"10.0.0.{number}"), password=WRONG).status_code == 401
    assert sign_in(from_address(app, "10.0.0.99")).status_code == 429
    # Another account is not held back by it.
    assert sign_in(from_address(app, "10.0.0.99"), "autre@example.org").status_code == 302


def test_unknown_emails_are_throttled_alike(client: FlaskClient, school: None) -> None:
    make_staff()
    statuses = [sign_in(client, "personne@example.org", WRONG).status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]


def test_an_address_trying_many_accounts_is_throttled(app: Flask, school: None) -> None:
    make_staff()
    attacker = from_address(app, "192.0.2.7")
    statuses = [
        sign_in(attacker, f"compte{number}@example.org", WRONG).status_code for number in range(21)
    ]
    assert statuses == [401] * 20 + [429]
    refused = sign_in(attacker)
    assert refused.status_code == 429 and "Trop d&#39;essais" in refused.get_data(as_text=True)
    # The teacher on the workshop's tablet is another address: not held back.
    assert sign_in(from_address(app, "192.0.2.50")).status_code == 302


def test_a_successful_sign_in_clears_the_accounts_failures(
    client: FlaskClient, school: None
) -> None:
    make_staff()
    for _ in range(4):
        sign_in(client, password=WRONG)
    assert sign_in(client).status_code == 302
    client.post("/deconnexion")
    for _ in range(4):
        assert sign_in(client, password=WRONG).status_code == 401
    assert sign_in(client).status_code == 302


def test_old_failures_are_pruned_and_no_email_is_kept(
    client: FlaskClient, school: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_staff()
    for _ in range(3):
        sign_in(client, password=WRONG)
    base = utcnow()
    monkeypatch.setattr(sessions, "now", lambda: base + timedelta(minutes=16))
    sign_in(client, "autre@example.org", WRONG)
    db.session.rollback()
    rows = db.session.scalars(select(SignInFailure)).all()
    assert len(rows) == 1
    assert rows[0].email_sha256 == throttle.email_digest("autre@example.org")
    assert db.session.scalar(select(func.count()).select_from(SignInFailure)) == 1


def test_behind_the_proxy_the_address_nginx_appended_counts(app: Flask) -> None:
    cases = [
        ("127.0.0.1", "203.0.113.9", "203.0.113.9"),
        ("127.0.0.1", "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # a forged first entry
        ("127.0.0.1", "n'importe quoi", "127.0.0.1"),
        ("10.1.2.3", "203.0.113.9", "10.1.2.3"),  # not through the local proxy: ignored
        ("::1", "2001:db8::1", "2001:db8::1"),
    ]
    for peer, forwarded, expected in cases:
        with app.test_request_context(
            "/connexion",
            environ_base={"REMOTE_ADDR": peer},
            headers={"X-Forwarded-For": forwarded},
        ):
            assert throttle.client_address() == expected, (peer, forwarded)


def test_unknown_and_known_emails_take_the_same_work(
    client: FlaskClient, school: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_staff()
    checks: list[str] = []
    real = throttle.note_failure

    def spy(email: str, address: str, now: object) -> None:
        checks.append(email)
        real(email, address, now)  # type: ignore[arg-type]

    hashed: list[str] = []

    def check(stored: str, password: str) -> bool:
        hashed.append(stored)
        return check_password_hash(stored, password)

    monkeypatch.setattr(staff, "check_password_hash", check)
    monkeypatch.setattr(throttle, "note_failure", spy)
    sign_in(client, "personne@example.org", PASSWORD)
    sign_in(client, "prof@example.org", WRONG)
    # A password hash was checked both times, and both failures were counted.
    assert len(hashed) == 2 and all(h.startswith("scrypt:") for h in hashed)
    assert checks == ["personne@example.org", "prof@example.org"]
