"""Helpers of the staff-session tests: sign in, copy a cookie to another browser.

The ``app`` fixture keeps one application context for the whole test, and Flask's test
client reuses it for every request: ``g`` (where Flask-Login caches the signed-in user)
would then carry one request's user into the next, even into another client's request.
``FreshClient`` gives each request an application context of its own, as in production.
"""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.clients import FreshClient

PASSWORD = "un-mot-de-passe-long"
COOKIE = "session"


def browsers(app: Flask) -> None:
    """Make ``app.test_client()`` give fresh-context clients."""
    app.test_client_class = FreshClient


def sign_in(
    client: FlaskClient, email: str = "prof@example.org", password: str = PASSWORD
) -> TestResponse:
    """Post the sign-in form (CSRF is off in the tests' configuration)."""
    return client.post("/connexion", data={"email": email, "password": password})


def copy_of(app: Flask, client: FlaskClient) -> FlaskClient:
    """Return another browser holding a copy of the client's session cookie."""
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None, "the client has no session cookie"
    other = app.test_client()
    other.set_cookie(COOKIE, cookie.value)
    return other


def signed_in(client: FlaskClient) -> bool:
    """Tell whether a staff session of the client is accepted (the read API answers it)."""
    status = client.get("/api/v1/stations").status_code
    assert status in {200, 401}, status
    return status == 200
