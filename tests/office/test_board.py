"""The office's production board (/bureau/production) and its CSV, from a small history.

Pieces are made through the scan API (tests/board/conftest.py ``finish_piece``: débit at
ST-PLASMA, then pliage at ST-PLIEUSE, on OF-2026-0002) and reviewed through the core
(``ReviewPiece``), as a teacher does on the tablet.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient

from app.boundary import submit, web_origin
from app.extensions import db
from app.ingest.events import ReviewPiece
from app.ingest.office_events import SetWorkOrderStatus
from app.models import StaffUser, utcnow
from app.office.board import safe_cell
from app.read.office_board import help_waits, production_board
from tests.board.conftest import HUGO, INES, LUCAS, finish_piece
from tests.factories import MINIMAL_SCHOOL, Scanner, load_school, make_token, site_id
from tests.office.conftest import Desk, text_of
from tests.support.backends import screen_only

PARIS = ZoneInfo("Europe/Paris")


def review(staff: StaffUser, piece: str, verdict: str) -> None:
    """Give a finished piece a teacher's verdict, through the core."""
    outcome = submit(web_origin(staff), ReviewPiece(piece, verdict))
    assert outcome.accepted, outcome.body


@pytest.fixture
def made(client: FlaskClient, teacher: StaffUser) -> dict[str, Scanner]:
    """Four pieces of OF-2026-0002: one conforme, one to redo, one scrapped, one awaiting."""
    cutter = Scanner(client, make_token("ST-PLASMA", name="plasma"))
    bender = Scanner(client, make_token("ST-PLIEUSE", name="plieuse"))
    cutter.ok(HUGO)
    bender.ok(INES)
    for serial in (10, 11, 12, 13):
        finish_piece(cutter, bender, f"P-2026-{serial:06d}")
    review(teacher, "P-2026-000010", "conforme")
    review(teacher, "P-2026-000011", "a_reprendre")
    review(teacher, "P-2026-000012", "rebut")
    return {"cutter": cutter, "bender": bender}


def board(now: datetime | None = None) -> dict:
    """Read the board as a new request would."""
    db.session.commit()
    return production_board(db.session(), site_id(), now=now, zone=PARIS)


def order(figures: dict, number: str) -> dict:
    """Return one work order's line of the board."""
    (line,) = [line for line in figures["orders"] if line["number"] == number]
    return line


def test_each_open_order_shows_made_conforme_to_redo_and_scrapped(made: dict) -> None:
    figures = board()

    line = order(figures, "OF-2026-0002")
    assert (line["quantity"], line["conforme"], line["to_redo"], line["scrapped"]) == (10, 1, 1, 1)
    # Made: completed pieces (awaiting review or reviewed); the one to redo is back at work.
    assert line["made"] == 3
    assert line["customer"] == "Client industriel (fictif)"
    untouched = order(figures, "OF-2026-0001")
    assert (untouched["made"], untouched["conforme"], untouched["to_redo"]) == (0, 0, 0)
    # Soonest due first.
    assert [o["number"] for o in figures["orders"]] == ["OF-2026-0001", "OF-2026-0002"]


def test_the_newest_verdict_of_a_piece_is_the_one_that_counts(
    made: dict, teacher: StaffUser
) -> None:
    finish_piece(made["cutter"], made["bender"], "P-2026-000011")  # reworked
    review(teacher, "P-2026-000011", "conforme")

    line = order(board(), "OF-2026-0002")
    assert (line["conforme"], line["to_redo"], line["scrapped"], line["made"]) == (2, 0, 1, 4)


def test_an_order_is_late_once_due_and_not_all_conforme_and_due_this_week_before(
    school: None,
) -> None:
    # OF-2026-0001 is due on Tuesday 15 December 2026 (Monday the 14th starts its week).
    monday = datetime(2026, 12, 14, 9, 0, tzinfo=PARIS)
    line = order(board(monday), "OF-2026-0001")
    assert line["this_week"] and not line["late"]
    assert not order(board(monday - timedelta(days=7)), "OF-2026-0001")["this_week"]
    # Late from the 16th in Paris, though it is still the 15th in UTC at 00:30 Paris time.
    just_after = datetime(2026, 12, 16, 0, 30, tzinfo=PARIS)
    assert order(board(just_after), "OF-2026-0001")["late"]
    assert not order(board(just_after - timedelta(hours=1)), "OF-2026-0001")["late"]


def test_closed_and_cancelled_orders_leave_the_board(admin: StaffUser) -> None:
    for number, status in (("OF-2026-0001", "cancelled"), ("OF-2026-0002", "closed")):
        outcome = submit(web_origin(admin), SetWorkOrderStatus(number, status))
        assert outcome.accepted, outcome.body

    assert board()["orders"] == []


def test_pieces_per_customer_lead_time_and_help_waits_of_this_month(
    made: dict, client: FlaskClient
) -> None:
    welder = Scanner(client, make_token("ST-SOUD-01", name="soudure 1"))
    welder.ok(LUCAS)
    welder.ok("A-AIDE")
    welder.ok("B-9001")  # the teacher comes
    welder.ok("A-AIDE")  # and is called again, still waiting

    figures = board()
    assert figures["customers"] == [
        {"code": "C-TEST", "name": "Client industriel (fictif)", "pieces": 3}
    ]
    (lead,) = figures["lead_times"]
    assert lead["product"] == "Console pliée" and lead["pieces"] == 3
    assert 0 <= lead["median_s"] < 120
    (help_line,) = figures["help"]
    assert help_line["code"] == "ST-SOUD-01" and help_line["calls"] == 2
    assert 0 <= help_line["median_s"] <= help_line["total_s"] < 120
    # Ten minutes on, the first call (answered) still lasted seconds; the second goes on.
    later = utcnow() + timedelta(minutes=10)
    (waits,) = help_waits(db.session(), site_id(), later - timedelta(days=1), later)
    assert 600 <= waits["total_s"] < 700
    assert 300 <= waits["median_s"] < 350

    next_month = board(utcnow() + timedelta(days=40))
    assert next_month["customers"] == [] and next_month["help"] == []


def test_the_page_shows_the_orders_and_flags_late_ones_in_words(
    office: FlaskClient, school: None
) -> None:
    load_school(
        text=MINIMAL_SCHOOL.read_text("utf-8").replace("due: 2026-12-15", "due: 2020-12-15")
    )

    response = office.get("/bureau/production")

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = text_of(response)
    start = html.rindex("<tr", 0, html.index("OF-2026-0001</a>"))
    row = html[start : html.index("</tr>", start)]
    assert 'class="is-late"' in row and "en retard" in row
    assert "1 ordre en retard" in html
    assert "Console pliée" in html and "Aucun appel à l'aide ce mois-ci." in html


def test_a_teacher_may_not_see_the_production_board(teacher_office: FlaskClient) -> None:
    assert teacher_office.get("/bureau/production").status_code == 403
    assert teacher_office.get("/bureau/production.csv").status_code == 403


def test_the_csv_is_for_french_excel_and_never_a_formula(office: FlaskClient, made: dict) -> None:
    response = office.get("/bureau/production.csv")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="production-')
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:4] == ["OF", "Client", "Produit", "Commandées"]
    line = next(row for row in rows if row[0] == "OF-2026-0002")
    assert line[3:8] == ["10", "3", "1", "1", "1"]
    assert line[8] == "2027-01-20"


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(
    office: FlaskClient, school: None
) -> None:
    load_school(
        text=MINIMAL_SCHOOL.read_text("utf-8")
        .replace('"Client industriel (fictif)"', '"=HYPERLINK(\\"http://x\\";\\"clic\\")"')
        .replace('"Console pliée"', '"@SUM(1+1)"')
        .replace('"Support soudé"', '"-2+3"')
    )

    body = office.get("/bureau/production.csv").get_data().decode("utf-8-sig")

    rows = list(csv.reader(io.StringIO(body), delimiter=";"))
    cells = [cell for row in rows[1:] for cell in row]
    assert '\'=HYPERLINK("http://x";"clic")' in cells
    assert "'@SUM(1+1)" in cells and "'-2+3" in cells
    assert not [cell for cell in cells if cell[:1] in {"=", "+", "-", "@"}]
    assert safe_cell("+33 1 23") == "'+33 1 23" and safe_cell("OF-1") == "OF-1"


@screen_only
def test_the_production_board_on_screen(desk: Desk, made: dict) -> None:
    desk.open("/bureau/production")
    desk.check("production")
