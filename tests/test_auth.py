"""Staff sign-in: passwords, the one-time password change, CSRF and security headers."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.config import Config, ConfigError, TestingConfig
from app.extensions import db
from tests.factories import load_school, make_staff

PASSWORD = "un-mot-de-passe-long"


def sign_in(
    client: FlaskClient, email: str = "prof@example.org", password: str = PASSWORD
) -> object:
    return client.post("/connexion", data={"email": email, "password": password})


def test_teacher_signs_in_and_out(client: FlaskClient, school: None) -> None:
    make_staff()
    assert sign_in(client).status_code == 302  # type: ignore[attr-defined]
    assert client.get("/api/v1/stations").status_code == 200
    client.post("/deconnexion")
    assert client.get("/api/v1/stations").status_code == 401


def test_wrong_password_or_unknown_email_is_refused_in_french(
    client: FlaskClient, school: None
) -> None:
    make_staff()
    for email, password in [("prof@example.org", "faux"), ("nobody@example.org", PASSWORD)]:
        response = sign_in(client, email, password)
        assert response.status_code == 401  # type: ignore[attr-defined]
        assert "E-mail ou mot de passe incorrect." in response.get_data(as_text=True)  # type: ignore[attr-defined]


def test_one_time_password_must_be_changed_before_anything_else(
    client: FlaskClient, school: None
) -> None:
    make_staff(must_change=True)
    response = sign_in(client)
    assert response.headers["Location"].endswith("/mot-de-passe")  # type: ignore[attr-defined]
    assert client.get("/api/v1/stations").status_code == 403
    weak = client.post(
        "/mot-de-passe", data={"current": PASSWORD, "new": "court", "confirm": "court"}
    )
    assert weak.status_code == 400 and "12 caractères" in weak.get_data(as_text=True)
    new = "une-phrase-de-passe-solide"
    done = client.post("/mot-de-passe", data={"current": PASSWORD, "new": new, "confirm": new})
    assert done.status_code == 302
    assert client.get("/api/v1/stations").status_code == 200


def test_forms_are_protected_against_csrf(database_url: str) -> None:
    app = create_app(TestingConfig(database_url, WTF_CSRF_ENABLED=True))
    with app.app_context():
        load_school()
        make_staff()
        client = app.test_client()
        assert (
            client.post(
                "/connexion", data={"email": "prof@example.org", "password": PASSWORD}
            ).status_code
            == 400
        )
        page = client.get("/connexion").get_data(as_text=True)
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match is not None
        response = client.post(
            "/connexion",
            data={"email": "prof@example.org", "password": PASSWORD, "csrf_token": match.group(1)},
        )
        assert response.status_code == 302
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


def test_pages_send_security_headers(client: FlaskClient, app: Flask) -> None:
    response = client.get("/connexion")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_missing_secret_key_outside_debug_is_a_clear_error() -> None:
    config = Config.from_env("/tmp", environ={})
    try:
        config.flask_mapping()
    except ConfigError as exc:
        assert "ATELIER_SECRET_KEY" in str(exc)
    else:
        raise AssertionError("a missing secret key must be refused")
