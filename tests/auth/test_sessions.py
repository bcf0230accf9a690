"""Staff sessions are kept on the server: sign-out, a password change, an administrator's
« Déconnecter partout », half an hour idle and the end of the day end them at once, copies
of the cookie included; every step is in the event log, never a secret."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from app.auth import sessions
from app.db import DatabaseBusy, write_transaction
from app.extensions import db
from app.models import Event, StaffSession, StaffUser, utcnow
from tests.auth.helpers import PASSWORD, copy_of, sign_in, signed_in
from tests.factories import MINIMAL_SCHOOL, load_school, make_staff

NEW_PASSWORD = "une-phrase-de-passe-solide"


def session_rows() -> list[StaffSession]:
    db.session.rollback()
    return list(db.session.scalars(select(StaffSession).order_by(StaffSession.id)))


def midday_zone(app: Flask) -> None:
    """Make the workshop's time zone one where it is about noon now.

    A test that moves the clock by an hour or more would otherwise cross the local
    midnight (which ends every session) when the suite runs late in the evening.
    """
    offset = 12 - utcnow().hour  # from +12 to -11 hours: every one is an Etc/GMT zone
    app.config["ATELIER_TIMEZONE"] = f"Etc/GMT{-offset:+d}" if offset else "UTC"


def move_clock(monkeypatch: pytest.MonkeyPatch, by: timedelta) -> None:
    """Make the session checks see a later time."""
    base = utcnow()
    monkeypatch.setattr(sessions, "now", lambda: base + by)


def test_a_cookie_copied_before_sign_out_stops_working(
    app: Flask, client: FlaskClient, school: None
) -> None:
    make_staff()
    assert sign_in(client).status_code == 302
    thief = copy_of(app, client)
    assert signed_in(thief)
    client.post("/deconnexion")
    assert not signed_in(client)
    assert not signed_in(thief)
    [row] = session_rows()
    assert row.revoked_at is not None and row.revoked_reason == "sign_out"


def test_a_password_change_ends_every_other_session(
    app: Flask, client: FlaskClient, school: None
) -> None:
    make_staff()
    sign_in(client)
    copied = copy_of(app, client)
    tablet = app.test_client()
    sign_in(tablet)
    done = client.post(
        "/mot-de-passe", data={"current": PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert done.status_code == 302
    assert not signed_in(tablet)
    # A copy of the changer's own cookie stops working too: the browser that changed the
    # password goes on with a new session.
    assert not signed_in(copied)
    assert signed_in(client)
    rows = session_rows()
    assert [row.revoked_reason for row in rows] == ["password", "password", None]
    assert sign_in(tablet, password=PASSWORD).status_code == 401
    assert sign_in(tablet, password=NEW_PASSWORD).status_code == 302


def test_an_administrator_signs_an_account_out_everywhere(
    app: Flask, client: FlaskClient, school: None
) -> None:
    teacher = make_staff()
    make_staff("admin@example.org", role="admin")
    laptop, tablet = app.test_client(), app.test_client()
    sign_in(laptop)
    sign_in(tablet)
    assert sign_in(client, "admin@example.org").status_code == 302

    page = client.get("/comptes")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    assert "M. Test" in html and html.count("Déconnecter partout") >= 2
    # A teacher may neither see the page nor use its button.
    assert laptop.get("/comptes").status_code == 403
    assert laptop.post(f"/comptes/{teacher.id}/deconnecter").status_code == 403

    answer = client.post(f"/comptes/{teacher.id}/deconnecter")
    assert answer.status_code == 302
    assert not signed_in(laptop) and not signed_in(tablet)
    assert signed_in(client)  # the administrator's own session is another account's
    assert "Aucune session ouverte." in client.get("/comptes").get_data(as_text=True)
    assert client.post("/comptes/999999/deconnecter").status_code == 404


def test_another_sites_account_is_not_found(app: Flask, client: FlaskClient, school: None) -> None:
    load_school(
        text=MINIMAL_SCHOOL.read_text("utf-8")
        .replace("site: belfort", "site: mulhouse")
        .replace("m.perrin@example.org", "m.klein@example.org")
        .replace("mqtt_device: ws0", "mqtt_device: mws0")
    )
    other = make_staff("prof@mulhouse.example.org", site="mulhouse")
    make_staff("admin@example.org", role="admin", site="belfort")
    sign_in(client, "admin@example.org")
    assert "prof@mulhouse" not in client.get("/comptes").get_data(as_text=True)
    assert client.post(f"/comptes/{other.id}/deconnecter").status_code == 404


def test_a_session_ends_after_thirty_minutes_idle(
    app: Flask, client: FlaskClient, school: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    midday_zone(app)
    make_staff()
    sign_in(client)
    move_clock(monkeypatch, timedelta(minutes=29))
    assert signed_in(client)  # and the session is seen now: the idle time starts again
    [row] = session_rows()
    assert utcnow() + timedelta(minutes=28) < row.last_seen_at
    move_clock(monkeypatch, timedelta(minutes=29 + 29))
    assert signed_in(client)
    move_clock(monkeypatch, timedelta(minutes=29 + 29 + 31))
    assert not signed_in(client)
    page = client.get("/mot-de-passe")
    assert page.status_code == 302 and "/connexion" in page.headers["Location"]


def test_the_idle_limit_is_a_setting(app: Flask, client: FlaskClient, school: None) -> None:
    app.config["ATELIER_STAFF_IDLE_MINUTES"] = 5
    make_staff()
    sign_in(client)
    assert signed_in(client)
    stale = utcnow() - timedelta(minutes=6)
    write_transaction(lambda s: s.execute(update(StaffSession).values(last_seen_at=stale)))
    assert not signed_in(client)


def test_a_session_ends_at_the_end_of_the_workshops_day(
    app: Flask, client: FlaskClient, school: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_staff()
    sign_in(client)
    [row] = session_rows()
    local = row.created_at.astimezone(ZoneInfo("Europe/Paris"))
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time())
    assert row.expires_at == midnight.replace(tzinfo=ZoneInfo("Europe/Paris"))
    # Seen a minute before midnight, refused a second after it, idle or not.
    monkeypatch.setattr(sessions, "now", lambda: row.expires_at - timedelta(minutes=1))
    write_transaction(
        lambda s: s.execute(
            update(StaffSession).values(last_seen_at=row.expires_at - timedelta(minutes=2))
        )
    )
    assert signed_in(client)
    monkeypatch.setattr(sessions, "now", lambda: row.expires_at + timedelta(seconds=1))
    assert not signed_in(client)


def test_the_end_of_day_follows_the_configured_time_zone(app: Flask) -> None:
    app.config["ATELIER_TIMEZONE"] = "America/Cayenne"  # UTC-3, no summer time
    at = datetime(2026, 12, 1, 23, 30, tzinfo=ZoneInfo("UTC"))  # 20:30 in Cayenne
    assert sessions.end_of_day(at) == datetime(2026, 12, 2, 3, 0, tzinfo=ZoneInfo("UTC"))


def test_a_cookie_of_the_old_scheme_or_a_forged_secret_is_refused(
    app: Flask, client: FlaskClient, school: None
) -> None:
    user = make_staff()
    for value in (f"{user.id}:{user.session_version}", "s1.forged", "s1." + "x" * 500, ""):
        with client.session_transaction() as state:
            state["_user_id"] = value
            state["_fresh"] = True
        assert not signed_in(client), value


def test_a_deactivated_account_loses_its_sessions(
    app: Flask, client: FlaskClient, school: None
) -> None:
    user = make_staff()
    sign_in(client)
    write_transaction(
        lambda s: s.execute(update(StaffUser).where(StaffUser.id == user.id).values(active=False))
    )
    assert not signed_in(client)


def test_the_event_log_tells_every_sign_in_out_and_revocation_never_a_secret(
    app: Flask, client: FlaskClient, school: None
) -> None:
    teacher = make_staff()
    make_staff("admin@example.org", role="admin")
    sign_in(client)
    with client.session_transaction() as state:
        secret = str(state["_user_id"])
    assert secret.startswith("s1.")
    other = app.test_client()
    sign_in(other)
    client.post(
        "/mot-de-passe", data={"current": PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    client.post("/deconnexion")
    admin = app.test_client()
    sign_in(admin, "admin@example.org")
    admin.post(f"/comptes/{teacher.id}/deconnecter")

    db.session.rollback()
    events = db.session.scalars(
        select(Event).where(Event.kind.like("staff.%")).order_by(Event.id)
    ).all()
    kinds = [e.kind for e in events if e.channel == "web"]
    assert kinds == [
        "staff.sign_in",
        "staff.sign_in",
        "staff.password",
        "staff.revoke_sessions",
        "staff.sign_in",
        "staff.sign_out",
        "staff.sign_in",
        "staff.revoke_sessions",
    ]
    assert all(e.status == "accepted" for e in events if e.channel == "web")
    revocations = [e.payload or {} for e in events if e.kind == "staff.revoke_sessions"]
    assert [p["reason"] for p in revocations] == ["password", "admin"]
    sign_ins = [e for e in events if e.kind == "staff.sign_in"]
    first = sign_ins[0].payload or {}
    assert sign_ins[0].user_id == teacher.id and first["user"] == teacher.id
    assert first["expires_at"]
    logged = json.dumps([[e.payload, e.response, e.message, e.reason] for e in events])
    for hidden in (secret, sessions.secret_digest(secret), PASSWORD, NEW_PASSWORD):
        assert hidden not in logged


def test_the_last_seen_stamp_is_written_at_most_once_a_minute(
    app: Flask, client: FlaskClient, school: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_staff()
    sign_in(client)
    [row] = session_rows()
    first_seen = row.last_seen_at
    writes: list[object] = []

    def counted(work: Any) -> Any:
        writes.append(work)
        return write_transaction(work)

    monkeypatch.setattr(sessions, "write_transaction", counted)
    for _ in range(5):
        assert signed_in(client)
    assert writes == []
    move_clock(monkeypatch, timedelta(minutes=2))
    for _ in range(3):
        assert signed_in(client)
    assert len(writes) == 1
    assert session_rows()[0].last_seen_at > first_seen


def test_a_busy_database_skips_the_stamp_rather_than_fail_the_request(
    app: Flask, client: FlaskClient, school: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_staff()
    sign_in(client)

    def busy(work: object) -> None:
        raise DatabaseBusy("locked")

    monkeypatch.setattr(sessions, "write_transaction", busy)
    move_clock(monkeypatch, timedelta(minutes=5))
    assert signed_in(client)


def test_the_browser_is_labelled_shortly(app: Flask) -> None:
    tablet = (
        "Mozilla/5.0 (Linux; Android 14; SM-X210) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36"
    )
    assert sessions.browser_label(tablet) == "Chrome, Android"
    ipad = (
        "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 "
        "Safari/604.1"
    )
    assert sessions.browser_label(ipad) == "Safari, iPad"
    assert sessions.browser_label(None) is None
    assert sessions.browser_label("curl/8.0") == "Autre navigateur"


def test_a_signed_in_teacher_lands_on_the_review_queue(client: FlaskClient, school: None) -> None:
    make_staff()
    answer = sign_in(client)
    assert answer.headers["Location"] == "/enseignant/"
    again = client.post(
        "/connexion?next=/impressions", data={"email": "prof@example.org", "password": PASSWORD}
    )
    assert again.headers["Location"] == "/impressions"
    for hostile in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        away = app_client_sign_in(client, hostile)
        assert away == "/enseignant/", hostile


def app_client_sign_in(client: FlaskClient, target: str) -> str:
    answer = client.post(
        "/connexion",
        query_string={"next": target},
        data={"email": "prof@example.org", "password": PASSWORD},
    )
    return str(answer.headers["Location"])


def test_who_is_signed_in_is_always_visible(client: FlaskClient, school: None) -> None:
    make_staff()
    make_staff("admin@example.org", role="admin")
    sign_in(client)
    for path in ("/", "/impressions", "/enseignant/", "/mot-de-passe"):
        html = client.get(path).get_data(as_text=True)
        assert 'class="who-name">M. Test<' in html and ">enseignant<" in html, path
        assert 'href="/comptes"' not in html
    admin = client.application.test_client()
    sign_in(admin, "admin@example.org")
    html = admin.get("/impressions").get_data(as_text=True)
    assert ">administrateur<" in html and 'href="/comptes"' in html
