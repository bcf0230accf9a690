"""Every state-changing route of the app refuses a cookie-authenticated request without
its CSRF token.

The test walks ``app.url_map``: a new POST/PUT/PATCH/DELETE route is checked as soon as it
exists. Each is sent with a signed-in administrator's session cookie (the cookie that
opens the most), first without the token — it must be
refused with 400 (Flask-WTF's « Formulaire expiré ») or 403 (the API's ``csrf_failed``),
before anything else is looked at — then with the token, which must get past the CSRF
check (so that the test would fail if the check were the wrong one).

Excluded, each for its reason:

- ``POST /api/v1/scans`` and ``POST /borne/ressenti``: no session cookie opens them
  (devices only: a bearer token, or a kiosk's cookie). The kiosk cookie is SameSite=Strict
  and these routes want the kiosk's own ``X-Atelier-Borne`` header, which a form of
  another site cannot send: checked below by
  ``test_a_kiosk_cookie_without_the_kiosk_header_is_refused``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import IntegerConverter, PathConverter, Rule
from werkzeug.test import TestResponse

from app import create_app
from app.config import TestingConfig
from app.extensions import db
from tests.auth.helpers import PASSWORD, browsers
from tests.factories import load_school, make_staff

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
NO_SESSION_COOKIE = {"api.post_scan", "kiosk.feeling"}
# Routes that check the token themselves and refuse with a plain 400 (not the « Formulaire
# expiré » page). Each is also required to answer something else once the token is there.
PLAIN_400: set[str] = set()
SAMPLE: dict[type, Any] = {IntegerConverter: 999999, PathConverter: "x"}


@pytest.fixture
def csrf_app(database_url: str) -> Iterator[Flask]:
    """The application with Flask-WTF's CSRF protection on, as in production."""
    application = create_app(TestingConfig(database_url, WTF_CSRF_ENABLED=True))
    browsers(application)
    with application.app_context():
        load_school()
        yield application
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


def form_token(client: FlaskClient, path: str = "/connexion") -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(True))
    assert match is not None, path
    return match.group(1)


def signed_in_admin(app: Flask) -> tuple[FlaskClient, str]:
    make_staff("admin@example.org", role="admin")
    client = app.test_client()
    token = form_token(client)
    answer = client.post(
        "/connexion",
        data={"email": "admin@example.org", "password": PASSWORD, "csrf_token": token},
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return client, form_token(client, "/mot-de-passe")


def sample_path(rule: Rule) -> str:
    values = {
        name: SAMPLE.get(type(converter), "X-INCONNU")
        for name, converter in rule._converters.items()
    }
    built = rule.build(values, append_unknown=False)
    assert built is not None, rule.rule
    return built[1]


def state_changing_rules(app: Flask) -> list[tuple[Rule, str]]:
    found = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        for method in sorted((rule.methods or set()) & STATE_CHANGING):
            found.append((rule, method))
    return found


def csrf_refused(response: TestResponse, plain: bool = False) -> bool:
    """Tell whether an answer is the CSRF refusal (the form's page, or the API's code)."""
    text = response.get_data(as_text=True)
    if plain:
        return response.status_code == 400
    if response.status_code == 400:
        return "Formulaire expiré" in text
    if response.status_code == 403:
        return "csrf_failed" in text or "Formulaire expiré" in text
    return False


def test_every_state_changing_route_refuses_a_cookie_request_without_its_token(
    csrf_app: Flask,
) -> None:
    client, token = signed_in_admin(csrf_app)
    rules = [
        (r, m) for r, m in state_changing_rules(csrf_app) if r.endpoint not in NO_SESSION_COOKIE
    ]
    assert len(rules) >= 10, "the app's state-changing routes were not found"
    # Signing out last: the positive checks need the session.
    rules.sort(key=lambda pair: pair[0].endpoint == "auth.logout")
    for rule, method in rules:
        path = sample_path(rule)
        for body in ({"data": {"x": "1"}}, {"json": {"x": "1"}}):
            refused = client.open(path, method=method, **body)  # type: ignore[arg-type]
            plain = rule.endpoint in PLAIN_400
            assert csrf_refused(refused, plain), (method, rule.rule, refused.status_code)
    for rule, method in rules:
        path = sample_path(rule)
        accepted = client.open(
            path, method=method, data={"csrf_token": token}, headers={"X-CSRFToken": token}
        )
        plain = rule.endpoint in PLAIN_400
        assert not csrf_refused(accepted, plain), (method, rule.rule, "refused with its token")


def test_an_expired_or_foreign_token_is_refused_too(csrf_app: Flask) -> None:
    client, _token = signed_in_admin(csrf_app)
    other = csrf_app.test_client()
    foreign = form_token(other)  # another browser's session: not this one's token
    for token in (foreign, "x" * 40, ""):
        answer = client.post("/deconnexion", data={"csrf_token": token})
        assert csrf_refused(answer), token
    assert client.get("/comptes").status_code == 200  # still signed in


def test_a_kiosk_cookie_without_the_kiosk_header_is_refused(csrf_app: Flask) -> None:
    runner = csrf_app.test_cli_runner()
    result = runner.invoke(args=["kiosk", "enrol", "ST-KIOSK-1"])
    assert result.exit_code == 0, result.output
    link = result.stdout.strip().splitlines()[-1]
    kiosk = csrf_app.test_client()
    kiosk.get(re.sub(r"^https?://[^/]+", "", link))
    assert kiosk.get_cookie("atelier_borne") is not None
    bodies: dict[str, dict[str, Any]] = {
        "/api/v1/scans": {"event_id": "csrf-1", "code": "B-0001", "source": "keyboard"},
        "/borne/ressenti": {
            "event_id": "csrf-2",
            "piece": "P-2026-000001",
            "step": 20,
            "student": "E2026-001",
            "feeling": "facile",
        },
    }
    exempt = {
        rule.rule
        for rule, _method in state_changing_rules(csrf_app)
        if rule.endpoint in NO_SESSION_COOKIE
    }
    assert exempt == set(bodies), "a new cookie-less route: say how it is protected"
    for path, body in bodies.items():
        forged = kiosk.post(path, json=body)
        assert forged.status_code == 403, path
        assert forged.get_json()["error"]["code"] == "forbidden", path
        sent = kiosk.post(path, json=body, headers={"X-Atelier-Borne": "1"})
        error = (sent.get_json() or {}).get("error") or {}
        assert error.get("code") != "forbidden", (path, sent.get_data(as_text=True))
