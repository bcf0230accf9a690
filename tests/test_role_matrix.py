"""Who may reach what: every route of the app, for each kind of caller, with its status.

The callers: nobody (``anon``), a kiosk's browser (its credential cookie, ``kiosk``), a
device token with read rights (``token``, bearer header), a teacher, an administrator.
``ROUTES`` holds the expected status of each (method, rule) for each caller, in that
order. The test fails when a route of ``app.url_map`` is missing from the table (a new
route must say who may use it) or when the table names a route that no longer exists.

Paths are built with the samples of ``PATHS`` (a route's real objects where the minimal
school has them, unknown codes elsewhere: 404 then says "let in, found nothing", which
is what tells access apart). Writes are sent with an empty form and CSRF off (CSRF is
tests/test_csrf.py's): what is checked here is who gets past the door.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule

from tests.auth.helpers import PASSWORD, browsers, sign_in
from tests.factories import make_staff, make_token
from tests.office.routes import board as office_board
from tests.office.routes import orders as office_orders
from tests.office.routes import people as office_people
from tests.office.routes import rgpd as office_rgpd
from tests.office.routes import school as office_school

CALLERS = ("anon", "kiosk", "token", "teacher", "admin")
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}

# The path each rule is requested at (rules without arguments: the rule itself).
PATHS: dict[str, str] = {
    "/api/v1/pieces/<code>": "/api/v1/pieces/P-INCONNUE",
    "/api/v1/pieces/<code>/review": "/api/v1/pieces/P-INCONNUE/review",
    "/api/v1/students/<code>/portfolio": "/api/v1/students/E2026-001/portfolio",
    "/api/v1/students/<code>/record.csv": "/api/v1/students/E2026-001/record.csv",
    "/api/v1/students/<code>/record.pdf": "/api/v1/students/E2026-001/record.pdf",
    "/api/v1/welds": "/api/v1/welds?unattributed=true",
    "/api/v1/welds/<code>/assign": "/api/v1/welds/W-INCONNUE/assign",
    "/borne/eleves/<student_code>": "/borne/eleves/E2026-001",
    "/borne/inscription/<code>": "/borne/inscription/lien-inconnu",
    "/borne/static/<path:filename>": "/borne/static/kiosk.css",
    "/bornes/<int:kiosk_id>/revoquer": "/bornes/999999/revoquer",
    "/comptes/<int:user_id>/deconnecter": "/comptes/999999/deconnecter",
    "/enseignant/eleves/<code>": "/enseignant/eleves/E2026-001",
    "/enseignant/eleves/<code>/continuite": "/enseignant/eleves/E-INCONNU/continuite",
    "/enseignant/eleves/<code>/livret.csv": "/enseignant/eleves/E2026-001/livret.csv",
    "/enseignant/eleves/<code>/livret.pdf": "/enseignant/eleves/E2026-001/livret.pdf",
    "/enseignant/eleves/<code>/niveau": "/enseignant/eleves/E-INCONNU/niveau",
    "/enseignant/of/<number>/lot": "/enseignant/of/OF-INCONNU/lot",
    "/enseignant/photos/<int:photo_id>.jpg": "/enseignant/photos/999999.jpg",
    "/enseignant/pieces/<code>": "/enseignant/pieces/P-INCONNUE",
    "/enseignant/pieces/<code>/evaluation": "/enseignant/pieces/P-INCONNUE/evaluation",
    "/enseignant/pieces/<code>/photo": "/enseignant/pieces/P-INCONNUE/photo",
    "/enseignant/soudures/<weld_id>/attribuer": "/enseignant/soudures/W-INCONNUE/attribuer",
    "/impressions/badges/<framework>.pdf": "/impressions/badges/cap-rics.pdf",
    "/impressions/etiquette/<code>.<fmt>": "/impressions/etiquette/ST-PLASMA.png",
    "/impressions/etiquettes/<number>": "/impressions/etiquettes/OF-2026-0001",
    "/impressions/fiche-suiveuse/<number>.pdf": "/impressions/fiche-suiveuse/OF-2026-0001.pdf",
    "/static/<path:filename>": "/static/atelier.css",
    "/tableau/<site>": "/tableau/belfort",
    "/tableau/<site>/direct": "/tableau/belfort/direct",
}

# (method, rule): statuses for anon, kiosk, token, teacher, admin.
# 302: to the sign-in page (a person's page); 401/403: the API's and the kiosk's answers.
ROUTES: dict[tuple[str, str], tuple[int, int, int, int, int]] = {
    ("GET", "/"): (200, 200, 200, 200, 200),
    ("GET", "/api/v1/health"): (200, 200, 200, 200, 200),
    ("GET", "/api/v1/openapi.json"): (200, 200, 200, 200, 200),
    ("GET", "/api/v1/pieces/<code>"): (401, 403, 404, 404, 404),
    ("POST", "/api/v1/pieces/<code>/review"): (401, 403, 403, 400, 400),
    ("GET", "/api/v1/reviews"): (401, 403, 403, 200, 200),
    ("POST", "/api/v1/scans"): (401, 403, 400, 401, 401),
    ("GET", "/api/v1/stations"): (401, 403, 200, 200, 200),
    ("GET", "/api/v1/students/<code>/portfolio"): (401, 403, 200, 200, 200),
    ("GET", "/api/v1/students/<code>/record.csv"): (401, 403, 403, 200, 200),
    ("GET", "/api/v1/students/<code>/record.pdf"): (401, 403, 403, 200, 200),
    ("GET", "/api/v1/welds"): (401, 403, 403, 200, 200),
    ("POST", "/api/v1/welds/<code>/assign"): (401, 403, 403, 400, 400),
    ("GET", "/borne"): (401, 200, 401, 401, 401),
    ("GET", "/borne/eleves/<student_code>"): (401, 403, 401, 401, 401),
    ("GET", "/borne/etat"): (401, 200, 401, 401, 401),
    ("POST", "/borne/ressenti"): (401, 403, 401, 401, 401),
    ("GET", "/borne/inscription/<code>"): (404, 404, 404, 404, 404),
    ("GET", "/borne/static/<path:filename>"): (200, 200, 200, 200, 200),
    ("GET", "/borne/sw.js"): (200, 200, 200, 200, 200),
    ("GET", "/bornes"): (302, 302, 302, 403, 200),
    ("POST", "/bornes/<int:kiosk_id>/revoquer"): (302, 302, 302, 403, 404),
    ("POST", "/bornes/activer"): (302, 302, 302, 403, 302),
    ("GET", "/comptes"): (302, 302, 302, 403, 200),
    ("POST", "/comptes/<int:user_id>/deconnecter"): (302, 302, 302, 403, 404),
    ("GET", "/connexion"): (200, 200, 200, 200, 200),
    ("POST", "/connexion"): (401, 401, 401, 401, 401),
    ("GET", "/enseignant/"): (302, 302, 302, 200, 200),
    ("GET", "/enseignant/eleves"): (302, 302, 302, 200, 200),
    ("GET", "/enseignant/eleves/<code>"): (302, 302, 302, 200, 200),
    ("POST", "/enseignant/eleves/<code>/continuite"): (302, 302, 302, 404, 404),
    ("GET", "/enseignant/eleves/<code>/livret.csv"): (302, 302, 302, 200, 200),
    ("GET", "/enseignant/eleves/<code>/livret.pdf"): (302, 302, 302, 200, 200),
    ("POST", "/enseignant/eleves/<code>/niveau"): (302, 302, 302, 404, 404),
    ("GET", "/enseignant/of/<number>/lot"): (302, 302, 302, 200, 200),
    ("POST", "/enseignant/of/<number>/lot"): (302, 302, 302, 409, 409),
    ("GET", "/enseignant/photos/<int:photo_id>.jpg"): (302, 302, 302, 404, 404),
    ("GET", "/enseignant/pieces/<code>"): (302, 302, 302, 404, 404),
    ("POST", "/enseignant/pieces/<code>/evaluation"): (302, 302, 302, 404, 404),
    ("POST", "/enseignant/pieces/<code>/photo"): (302, 302, 302, 400, 400),
    ("GET", "/enseignant/regle"): (302, 302, 302, 200, 200),
    ("POST", "/enseignant/regle"): (302, 302, 302, 422, 422),
    ("GET", "/enseignant/soudures"): (302, 302, 302, 200, 200),
    ("POST", "/enseignant/soudures/<weld_id>/attribuer"): (302, 302, 302, 422, 422),
    ("GET", "/impressions"): (302, 302, 302, 200, 200),
    ("GET", "/impressions/badges.pdf"): (302, 302, 302, 200, 200),
    ("GET", "/impressions/badges/<framework>.pdf"): (302, 302, 302, 200, 200),
    ("GET", "/impressions/etiquette"): (302, 302, 302, 400, 400),
    ("GET", "/impressions/etiquette/<code>.<fmt>"): (302, 302, 302, 200, 200),
    ("GET", "/impressions/etiquettes-postes.pdf"): (302, 302, 302, 200, 200),
    ("POST", "/impressions/etiquettes/<number>"): (302, 302, 302, 400, 400),
    ("GET", "/impressions/fiche-suiveuse/<number>.pdf"): (302, 302, 302, 200, 200),
    ("GET", "/impressions/planche-actions.pdf"): (302, 302, 302, 200, 200),
    ("GET", "/mot-de-passe"): (302, 302, 302, 200, 200),
    ("POST", "/mot-de-passe"): (302, 302, 302, 400, 400),
    ("GET", "/static/<path:filename>"): (200, 200, 200, 200, 200),
    ("GET", "/tableau/<site>"): (200, 200, 200, 200, 200),
    ("GET", "/tableau/<site>/direct"): (200, 200, 200, 200, 200),
    ("GET", "/tableau/direct"): (200, 200, 200, 200, 200),
    ("POST", "/deconnexion"): (302, 302, 302, 302, 302),
}

# The office's routes, said by each of its slices beside its tests.
for _slice in (office_people, office_school, office_orders, office_board, office_rgpd):
    PATHS.update(_slice.PATHS)
    ROUTES.update(_slice.ROUTES)


def rules_of(app: Flask) -> dict[tuple[str, str], Rule]:
    found = {}
    for rule in app.url_map.iter_rules():
        for method in (rule.methods or set()) & METHODS:
            found[(method, rule.rule)] = rule
    return found


@pytest.fixture
def callers(app: Flask, school: None) -> Iterator[dict[str, FlaskClient]]:
    browsers(app)
    make_staff("prof@example.org")
    make_staff("admin@example.org", role="admin")
    clients = {name: app.test_client() for name in CALLERS}
    token = make_token(read=True, name="lecture")
    clients["token"].environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    result = app.test_cli_runner().invoke(args=["kiosk", "enrol", "ST-KIOSK-1"])
    assert result.exit_code == 0, result.output
    link = result.stdout.strip().splitlines()[-1]
    clients["kiosk"].get(link[link.index("/borne/") :])
    assert clients["kiosk"].get_cookie("atelier_borne") is not None
    assert sign_in(clients["teacher"], "prof@example.org", PASSWORD).status_code == 302
    assert sign_in(clients["admin"], "admin@example.org", PASSWORD).status_code == 302
    yield clients


def status_of(clients: dict[str, FlaskClient], caller: str, method: str, path: str) -> int:
    client = clients[caller]
    response = client.open(path, method=method, data={} if method != "GET" else None)
    status = response.status_code
    response.close()  # a file's answer (static, PDF) holds the file open until closed
    if method == "POST" and path == "/deconnexion" and caller in {"teacher", "admin"}:
        # Signed out: sign in again for the next routes.
        email = "prof@example.org" if caller == "teacher" else "admin@example.org"
        assert sign_in(client, email, PASSWORD).status_code == 302
    return status


def test_every_route_is_in_the_table(app: Flask) -> None:
    routes = set(rules_of(app))
    missing = sorted(routes - set(ROUTES))
    stale = sorted(set(ROUTES) - routes)
    assert not missing, f"routes missing from ROUTES (say who may use them): {missing}"
    assert not stale, f"ROUTES names routes that no longer exist: {stale}"


def test_each_caller_gets_the_expected_status(app: Flask, callers: dict[str, FlaskClient]) -> None:
    wrong = []
    # Sign-out last, so that the sessions hold for the other routes.
    for method, rule in sorted(ROUTES, key=lambda key: (key[1] == "/deconnexion", key)):
        path = PATHS.get(rule, rule)
        for caller, expected in zip(CALLERS, ROUTES[(method, rule)], strict=True):
            got = status_of(callers, caller, method, path)
            if got != expected:
                wrong.append(f"{method} {path} as {caller}: {got}, expected {expected}")
    assert not wrong, "\n".join(wrong)
