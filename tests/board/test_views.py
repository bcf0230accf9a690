"""The board's page and its live fragment over HTTP: content, headers, privacy and access."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient

from app.models import utcnow
from tests.auth.helpers import PASSWORD, browsers, sign_in
from tests.board.conftest import LEA, LUCAS, welding_station
from tests.factories import MINIMAL_SCHOOL, Scanner, load_school, make_staff

LIVE = "/tableau/direct"


@pytest.fixture
def busy(welder: Scanner) -> None:
    """Lucas and Léa welding a piece at ST-SOUD-01, the arc on, one weld out of its WPS."""
    welder.ok(LUCAS)
    welder.ok(LEA)
    welder.ok("OF-2026-0001-20")
    welder.ok("P-2026-000001")
    station = welding_station("ST-SOUD-01")
    station.status("online")
    station.weld(utcnow() + timedelta(seconds=1), i_mean=212.3)
    station.arc_start(utcnow() + timedelta(seconds=20))


def text_of(html: str) -> str:
    """Return the visible text of a page, tags removed and blanks collapsed."""
    without_tags = re.sub(r"<[^>]+>", " ", html)
    return " ".join(without_tags.replace("\u00a0", " ").split())


def test_the_home_page_is_the_board_with_the_live_state(client: FlaskClient, busy: None) -> None:
    response = client.get("/")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    start = html.rindex("<article", 0, html.index('data-key="ST-SOUD-01"'))
    card = html[start : html.index("</article>", start)]
    visible = text_of(card)
    assert "Poste MAG 1 (135)" in visible
    # Anonymous: the card shows its last weld's verdict, so it counts its welders instead.
    assert "2 élèves au poste" in visible and "Lucas" not in visible
    assert "OF-2026-0001 Support soudé" in visible
    assert "20 Soudage MAG (135)" in visible and "En cours" in visible
    assert "P-2026-000001" in visible
    assert "ARC" in visible and "arc-on" in card
    assert "Hors DMOS : intensité +12 A" in visible
    page = text_of(html)
    assert "Dernières soudures" in page and "Finies aujourd'hui" in page and "À valider" in page
    assert "Postes libres" in page and "Table de découpe plasma" in page


def test_a_station_whose_students_called_the_teacher_says_so_until_he_comes(
    client: FlaskClient, welder: Scanner
) -> None:
    welder.ok(LUCAS)
    welder.ok("A-AIDE")

    html = client.get(LIVE).get_data(as_text=True)
    start = html.rindex("<article", 0, html.index('data-key="ST-SOUD-01"'))
    card = html[start : html.index("</article>", start)]
    assert "needs-help" in card
    assert re.search(r"Aide demandée depuis \d\d:\d\d", text_of(card))

    welder.ok("B-9001")  # the teacher's badge at the station
    assert "Aide demandée" not in client.get(LIVE).get_data(as_text=True)


def test_the_page_loads_its_script_from_the_server_and_falls_back_to_a_meta_refresh(
    client: FlaskClient, school: None
) -> None:
    response = client.get("/")
    html = response.get_data(as_text=True)

    scripts = re.findall(r"<script[^>]*>", html)
    assert scripts == ['<script src="/static/board.js" defer>']
    assert "</script>" in html and re.search(r"<script[^>]*>\s*</script>", html)
    assert re.search(r'<noscript><meta http-equiv="refresh" content="\d+"></noscript>', html)
    assert "style=" not in html  # the CSP forbids inline styles
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing from elsewhere
    assert response.headers["Cache-Control"] == "no-store"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    script = client.get("/static/board.js")
    script.close()  # a static file answer holds the file open until closed
    assert script.status_code == 200


def test_the_live_fragment_is_the_same_board_without_the_page_and_never_cached(
    client: FlaskClient, busy: None
) -> None:
    response = client.get(LIVE)

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.headers["Cache-Control"] == "no-store"
    fragment = response.get_data(as_text=True)
    assert '<div id="board-live"' in fragment and "<html" not in fragment
    assert "2 élèves au poste" in fragment
    page = client.get("/").get_data(as_text=True)
    assert text_of(fragment) in text_of(page)


def test_the_board_shows_no_student_id_badge_email_or_full_name(
    app: Flask, client: FlaskClient, busy: None
) -> None:
    load_school(text=MINIMAL_SCHOOL.read_text("utf-8").replace("Lucas M.", "Lucas Martinez"))
    school = yaml.safe_load(MINIMAL_SCHOOL.read_text(encoding="utf-8"))
    private = [s["id"] for s in school["students"]]
    private += [badge for s in school["students"] for badge in s["badges"]]
    private += [t["email"] for t in school["teachers"]] + ["Martinez"]

    make_staff("prof@example.org", PASSWORD)
    browsers(app)
    staff = app.test_client()
    assert sign_in(staff, "prof@example.org").status_code == 302
    for viewer, shown in ((client, False), (staff, True)):
        for path in ("/", LIVE):
            html = viewer.get(path).get_data(as_text=True)
            assert ("Lucas M." in html) is shown, (path, shown)
            leaked = [item for item in private if item in html]
            assert leaked == [], (path, leaked)


def test_text_from_the_school_file_is_escaped(client: FlaskClient, busy: None) -> None:
    load_school(
        text=MINIMAL_SCHOOL.read_text("utf-8").replace(
            '"Support soudé"', """'<img src=x onerror="alert(1)">'"""
        )
    )

    for path in ("/", LIVE):
        html = client.get(path).get_data(as_text=True)
        assert "<img" not in html
        assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html


def test_an_empty_workshop_still_shows_a_calm_board(client: FlaskClient, school: None) -> None:
    html = client.get("/").get_data(as_text=True)
    # Nothing busy besides the welding stations: no empty grid row (CSS :empty) either.
    assert '<div class="station-grid other-grid" data-list="stations"></div>' in html
    visible = text_of(html)
    assert "Aucune soudure pour l'instant." in visible
    assert "Jamais connecté" in visible
    assert "Finies aujourd'hui 0 pièce" in visible and "À valider 0 pièce" in visible


def test_a_board_without_any_station_says_how_to_add_them(client: FlaskClient) -> None:
    visible = text_of(client.get("/").get_data(as_text=True))
    assert "Aucun poste pour l'instant." in visible
    assert "flask --app app data import" in visible


# -- access ----------------------------------------------------------------------------------


@pytest.mark.parametrize("setting", [None, False, "false", "0", ""])
def test_the_board_is_public_unless_the_school_asks_for_a_login(
    app: Flask, client: FlaskClient, school: None, setting: Any
) -> None:
    app.config["ATELIER_BOARD_LOGIN_REQUIRED"] = setting
    assert client.get("/").status_code == 200
    assert client.get(LIVE).status_code == 200


@pytest.mark.parametrize("setting", [True, "true", "1", "oui"])
def test_with_login_required_the_board_needs_a_signed_in_staff_member(
    app: Flask, client: FlaskClient, school: None, setting: Any
) -> None:
    app.config["ATELIER_BOARD_LOGIN_REQUIRED"] = setting

    page = client.get("/")
    assert page.status_code == 302 and page.headers["Location"].startswith("/connexion")
    live = client.get(LIVE)
    assert live.status_code == 401 and "Lucas" not in live.get_data(as_text=True)
    assert live.headers["Cache-Control"] == "no-store"

    make_staff("prof@example.org", "un-mot-de-passe-long")
    signed_in = client.post(
        "/connexion", data={"email": "prof@example.org", "password": "un-mot-de-passe-long"}
    )
    assert signed_in.status_code == 302
    assert client.get("/").status_code == 200
    assert client.get(LIVE).status_code == 200
