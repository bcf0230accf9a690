"""Every error a person or a device can meet is answered in French, with its status kept."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask import Flask, abort
from flask.testing import FlaskClient
from werkzeug.exceptions import TooManyRequests, default_exceptions

from app import create_app
from app.config import TestingConfig
from app.errors import ERROR_TEXTS, EXPIRED_FORM, error_text

# What Werkzeug writes on its own pages: none of it may reach a person.
WERKZEUG_WORDS = [
    "Not Found",
    "Method Not Allowed",
    "Internal Server Error",
    "Bad Request",
    "The requested URL",
    "CSRF",
    "Redirecting",
]


def _page(response: Any) -> str:
    """Return a French HTML error page's text, after checking it is one."""
    assert response.mimetype == "text/html"
    html: str = response.get_data(as_text=True)
    assert '<html lang="fr">' in html
    assert "atelier.css" in html
    assert 'href="/"' in html and "Retour au tableau de l&#39;atelier" in html
    for word in WERKZEUG_WORDS:
        assert word not in html, word
    return html


def _api_error(response: Any, status: int, code: str) -> str:
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["status"] == "error" and body["error"]["code"] == code
    message: str = body["error"]["message"]
    assert message == error_text(status).message
    assert message != default_exceptions[status]().name
    return message


def test_a_missing_page_answers_the_french_404_page(client: FlaskClient) -> None:
    response = client.get("/cette-page-n-existe-pas")
    assert response.status_code == 404
    html = _page(response)
    assert "Page introuvable" in html and "Erreur 404" in html
    assert "<title>Page introuvable — Atelier</title>" in html


def test_a_wrong_method_on_a_page_answers_a_french_405_with_its_allow_header(
    client: FlaskClient,
) -> None:
    response = client.delete("/")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert "Action impossible ici" in _page(response)


def test_a_form_posted_with_an_expired_token_says_so_and_offers_to_reload_it(
    database_url: str,
) -> None:
    app = create_app(TestingConfig(database_url, WTF_CSRF_ENABLED=True))
    client = app.test_client()
    form = client.get("/connexion")
    assert form.status_code == 200 and 'name="csrf_token"' in form.get_data(as_text=True)
    response = client.post(
        "/connexion",
        data={"csrf_token": "expired", "email": "chef@example.org", "password": "x" * 12},
        headers={"Referer": "http://localhost/connexion?next=%2F"},
    )
    assert response.status_code == 400
    html = _page(response)
    assert EXPIRED_FORM.title in html and "Rechargez la page, puis recommencez." in html
    assert 'href="/connexion?next=%2F"' in html and "Recharger le formulaire" in html


def test_a_form_posted_without_its_token_gets_no_link_to_another_site(
    database_url: str,
) -> None:
    app = create_app(TestingConfig(database_url, WTF_CSRF_ENABLED=True))
    response = app.test_client().post(
        "/connexion", data={"email": "x"}, headers={"Referer": "https://ailleurs.example/piege"}
    )
    assert response.status_code == 400
    html = _page(response)
    assert EXPIRED_FORM.title in html and "ailleurs.example" not in html


def test_an_exception_in_a_page_answers_the_french_500_page_and_logs_its_traceback(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> str:
        raise RuntimeError("the welding table fell over")

    app.add_url_rule("/panne", view_func=broken)
    with caplog.at_level(logging.ERROR, logger="app.errors"):
        response = client.get("/panne")
    assert response.status_code == 500
    html = _page(response)
    assert "Erreur du serveur" in html and "Erreur 500" in html
    record = next(r for r in caplog.records if r.name == "app.errors")
    assert record.getMessage() == "unexpected error on GET /panne"
    assert record.exc_info is not None and "the welding table fell over" in caplog.text


def test_the_500_page_is_still_french_when_the_page_itself_cannot_render(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> str:
        raise RuntimeError("database down")

    def no_template(*_args: Any, **_kwargs: Any) -> str:
        raise RuntimeError("the template needs the database too")

    app.add_url_rule("/panne", view_func=broken)
    monkeypatch.setattr("app.errors.render_template", no_template)
    response = client.get("/panne")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert '<html lang="fr">' in html and "Erreur du serveur" in html
    assert "Internal Server Error" not in html


def test_a_request_too_large_for_a_form_answers_the_french_413_page(
    client: FlaskClient,
) -> None:
    response = client.post("/connexion", data={"email": "x" * (100 * 1024)})
    assert response.status_code == 413
    assert "Envoi trop volumineux" in _page(response)


@pytest.mark.parametrize("status", sorted(default_exceptions))
def test_every_http_error_werkzeug_knows_has_a_french_page_and_keeps_its_status(
    app: Flask, client: FlaskClient, status: int
) -> None:
    app.add_url_rule("/erreur/<int:code>", view_func=abort)
    response = client.get(f"/erreur/{status}")
    assert response.status_code == status
    text = ERROR_TEXTS[status]
    assert text.title != default_exceptions[status]().name
    html = _page(response)
    assert text.title in html.replace("&#39;", "'") and f"Erreur {status}" in html
    assert default_exceptions[status]().name not in html


def test_an_unknown_status_still_gets_french_words() -> None:
    assert error_text(499).title == "La demande n'a pas abouti"
    assert error_text(599) is ERROR_TEXTS[500]


def test_an_unauthorised_page_offers_to_sign_in_and_comes_back(
    app: Flask, client: FlaskClient
) -> None:
    app.add_url_rule("/reserve", view_func=lambda: abort(401))
    response = client.get("/reserve?onglet=2")
    assert response.status_code == 401
    html = _page(response)
    assert "Connexion nécessaire" in html and 'href="/connexion?next=/reserve?onglet%3D2"' in html


def test_an_error_page_keeps_the_headers_its_exception_carries(
    app: Flask, client: FlaskClient
) -> None:
    def busy() -> str:
        raise TooManyRequests(retry_after=30)

    app.add_url_rule("/trop", view_func=busy)
    response = client.get("/trop")
    assert response.status_code == 429 and response.headers["Retry-After"] == "30"
    assert "Trop de demandes" in _page(response)


def test_the_api_answers_a_wrong_method_in_json_with_its_allow_header(
    client: FlaskClient,
) -> None:
    response = client.delete("/api/v1/health")
    assert _api_error(response, 405, "method_not_allowed") == "Méthode non autorisée."
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "HEAD", "OPTIONS"}


def test_the_api_answers_a_missing_route_in_french_json(client: FlaskClient) -> None:
    response = client.get("/api/v1/nulle-part")
    assert _api_error(response, 404, "not_found") == "Introuvable."


def test_the_api_answers_an_unexpected_exception_with_a_french_json_500(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> str:
        raise RuntimeError("the broker ate the scan")

    app.add_url_rule("/api/v1/panne", view_func=broken)
    with caplog.at_level(logging.ERROR, logger="app.errors"):
        response = client.get("/api/v1/panne")
    message = _api_error(response, 500, "internal_server_error")
    assert message == "Erreur interne du serveur."
    assert "the broker ate the scan" in caplog.text


def test_the_api_keeps_the_headers_of_a_status_it_did_not_build_itself(
    app: Flask, client: FlaskClient
) -> None:
    def busy() -> str:
        raise TooManyRequests(retry_after=5)

    app.add_url_rule("/api/v1/trop", view_func=busy)
    response = client.get("/api/v1/trop")
    _api_error(response, 429, "too_many_requests")
    assert response.headers["Retry-After"] == "5"
