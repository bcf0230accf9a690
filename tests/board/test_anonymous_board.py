"""The wall board is public on the school's network: no name beside any quality data.

Anonymous viewers read a weld's WPS verdict without who welded it, and a welding station's
card (which shows its last weld's verdict) counts its students instead of naming them —
on the page and on its live feed (``/tableau/direct``) alike. The site's signed-in staff
read the names beside the verdicts.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.models import utcnow
from tests.auth.helpers import PASSWORD, browsers, sign_in
from tests.board.conftest import LEA, LUCAS, welding_station
from tests.factories import Scanner, make_staff

PATHS = ("/", "/tableau/direct", "/tableau/belfort", "/tableau/belfort/direct")
NAMES = ("Lucas M.", "Léa C.", "Lucas", "Léa")


@pytest.fixture
def out_of_range(welder: Scanner) -> None:
    """Lucas and Léa at ST-SOUD-01 on OF-2026-0001-20; their weld went 90 A over its WPS."""
    welder.ok(LUCAS)
    welder.ok(LEA)
    welder.ok("OF-2026-0001-20")
    welder.ok("P-2026-000001")
    station = welding_station("ST-SOUD-01")
    station.status("online")
    station.weld(utcnow() + timedelta(seconds=1), i_mean=290.0)


@pytest.fixture
def staff(app: Flask, school: None) -> FlaskClient:
    """A teacher of the site, signed in."""
    make_staff("prof@example.org", PASSWORD)
    browsers(app)
    client = app.test_client()
    assert sign_in(client, "prof@example.org").status_code == 302
    return client


def welds_panel(html: str) -> str:
    """Return the « Dernières soudures » panel of a page or fragment."""
    start = html.index('data-unit="welds"')
    return html[start : html.index("</section>", start)]


def welding_card(html: str) -> str:
    """Return ST-SOUD-01's card."""
    start = html.rindex("<article", 0, html.index('data-key="ST-SOUD-01"'))
    return html[start : html.index("</article>", start)]


def visible(html: str) -> str:
    """Return the text of some HTML, tags removed and blanks collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).replace("\u00a0", " ").split())


@pytest.mark.parametrize("path", PATHS)
def test_an_anonymous_viewer_reads_the_verdict_without_any_name(
    client: FlaskClient, out_of_range: None, path: str
) -> None:
    response = client.get(path)

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    weld = visible(welds_panel(html))
    assert "Hors DMOS : intensité +90 A" in weld
    card = visible(welding_card(html))
    assert "Hors DMOS" in card and "2 élèves au poste" in card
    shown = [name for name in NAMES if name in html]
    assert shown == [], (path, shown)


@pytest.mark.parametrize("path", PATHS)
def test_the_sites_signed_in_staff_read_the_names_beside_the_verdicts(
    staff: FlaskClient, out_of_range: None, path: str
) -> None:
    html = staff.get(path).get_data(as_text=True)

    weld = visible(welds_panel(html))
    assert "Hors DMOS : intensité +90 A" in weld and "Léa C., Lucas M." in weld
    assert "Lucas M., Léa C." in visible(welding_card(html))


def test_a_station_without_welds_still_shows_its_students_to_anyone(
    client: FlaskClient, cutter: Scanner
) -> None:
    cutter.ok(LUCAS)

    html = client.get("/tableau/direct").get_data(as_text=True)
    start = html.rindex("<article", 0, html.index('data-key="ST-PLASMA"'))
    card = visible(html[start : html.index("</article>", start)])
    assert "Lucas M." in card  # who works where: no judgement of anyone's work
    assert "DMOS" not in card


def test_signing_out_takes_the_names_off_the_live_feed(
    staff: FlaskClient, out_of_range: None
) -> None:
    assert "Lucas M." in staff.get("/tableau/direct").get_data(as_text=True)

    staff.post("/deconnexion")

    html = staff.get("/tableau/direct").get_data(as_text=True)
    assert "Lucas" not in html and "Hors DMOS" in html
