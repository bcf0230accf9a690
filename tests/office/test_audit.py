"""The audit log (/bureau/journal): who did what and when, read only, for administrators.

Events are made through the real inputs (``submit`` with a page's or the command line's
origin): an office change, a teacher's review, an export; accounts made by ``make_staff``
come from the command line.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event as sa_event

from app.boundary import submit, web_origin
from app.extensions import db
from app.ingest.events import ExportRecord, ReviewPiece
from app.ingest.office_events import SaveCustomer
from app.models import StaffUser, utcnow
from app.read.audit import audit_page
from tests.board.conftest import HUGO, INES, finish_piece
from tests.factories import Scanner, make_token, site_id
from tests.office.conftest import Desk, text_of
from tests.support.backends import screen_only

PARIS = ZoneInfo("Europe/Paris")


def rows(html: str) -> list[str]:
    """Return the visible text of each row of the log's table."""
    body = html[html.index("<tbody>") : html.index("</tbody>")] if "<tbody>" in html else ""
    return [
        " ".join(re.sub(r"<[^>]+>", " ", row).replace("\u00a0", " ").split())
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def change(user: StaffUser, code: str, name: str = "Nouveau client") -> None:
    """Save a customer as the office does."""
    outcome = submit(web_origin(user), SaveCustomer(code, name))
    assert outcome.accepted, outcome.body


@pytest.fixture
def history(client: FlaskClient, admin: StaffUser, teacher: StaffUser) -> None:
    """An office change by the administrator, a review and an export by the teacher."""
    teacher.name = "Mme Prof"
    db.session.commit()
    change(admin, "C-NOUVEAU", "Chaudronnerie Martin")
    cutter = Scanner(client, make_token("ST-PLASMA", name="plasma"))
    bender = Scanner(client, make_token("ST-PLIEUSE", name="plieuse"))
    cutter.ok(HUGO)
    bender.ok(INES)
    finish_piece(cutter, bender, "P-2026-000010")
    assert submit(web_origin(teacher), ReviewPiece("P-2026-000010", "rebut")).accepted
    refused = submit(web_origin(teacher), ReviewPiece("P-2026-000099", "conforme"))
    assert not refused.accepted
    assert submit(web_origin(teacher), ExportRecord("E2026-001", "pdf")).accepted


def test_an_office_change_a_review_and_an_export_show_with_who_and_when(
    office: FlaskClient, history: None
) -> None:
    response = office.get("/bureau/journal")

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    lines = rows(text_of(response))
    today = utcnow().astimezone(PARIS).strftime("%d/%m/%Y")
    export, refused, review = lines[0], lines[1], lines[2]
    assert "Mme Prof" in export and "Livret ou données exportés" in export
    assert "élève E2026-001" in export and "PDF" in export and "Accepté" in export
    assert "Refusé" in refused and "P-2026-000099" in refused
    assert "Pièce évaluée" in review and "pièce P-2026-000010" in review and "rebut" in review
    assert all(line.startswith(today) for line in lines[:3])
    office_change = next(line for line in lines if "Client enregistré" in line)
    assert "M. Test" in office_change and "admin@example.org" in office_change
    assert "client C-NOUVEAU" in office_change
    # Accounts made on the command line, and the sign-ins, are there too.
    assert any("Ligne de commande" in line and "Compte créé" in line for line in lines)
    assert any("Connexion" in line for line in lines)
    # No scan nor station message: people's actions only.
    assert not any(line for line in lines if "Scan" in line.split())


def test_the_log_never_shows_a_password_or_its_hash(office: FlaskClient, history: None) -> None:
    html = text_of(office.get("/bureau/journal"))
    assert "scrypt:" not in html and "pbkdf2:" not in html
    assert "un-mot-de-passe-long" not in html


def test_the_log_filters_by_person_kind_and_dates(office: FlaskClient, history: None) -> None:
    by_teacher = rows(text_of(office.get("/bureau/journal?qui=prof@example.org")))
    assert by_teacher and all("prof@example.org" in line for line in by_teacher)
    assert not any("Client enregistré" in line for line in by_teacher)

    office_kind = rows(text_of(office.get("/bureau/journal?quoi=bureau")))
    assert len(office_kind) == 1 and "Client enregistré" in office_kind[0]
    reviews = rows(text_of(office.get("/bureau/journal?quoi=evaluations")))
    assert len(reviews) == 2 and all("Pièce évaluée" in line for line in reviews)
    exports = rows(text_of(office.get("/bureau/journal?quoi=exports")))
    assert len(exports) == 1 and "exportés" in exports[0]
    from_cli = rows(text_of(office.get("/bureau/journal?qui=cli&quoi=comptes")))
    assert from_cli and all("Ligne de commande" in line for line in from_cli)

    today = utcnow().astimezone(PARIS).date()
    assert rows(text_of(office.get(f"/bureau/journal?du={today}&au={today}")))
    tomorrow, yesterday = today + timedelta(days=1), today - timedelta(days=1)
    html = text_of(office.get(f"/bureau/journal?du={tomorrow}"))
    assert rows(html) == [] and "Aucune action pour ces filtres." in html
    assert rows(text_of(office.get(f"/bureau/journal?au={yesterday}"))) == []
    # What cannot be read is left out rather than refused.
    assert office.get("/bureau/journal?du=hier&quoi=tout&qui=x&avant=abc").status_code == 200


def test_the_log_is_paginated_fifty_at_a_time_newest_first(
    office: FlaskClient, admin: StaffUser
) -> None:
    for n in range(60):
        change(admin, f"C-{n:03d}", f"Client {n:03d}")

    first = text_of(office.get("/bureau/journal?quoi=bureau"))
    page_one = rows(first)
    assert len(page_one) == 50 and "C-059" in page_one[0] and "C-010" in page_one[-1]
    link = re.search(r'href="(/bureau/journal\?[^"]+)"[^>]*>Plus ancien', first)
    assert link is not None
    assert "quoi=bureau" in link.group(1)  # the filters are kept
    second = text_of(office.get(link.group(1).replace("&amp;", "&")))
    page_two = rows(second)
    assert len(page_two) == 10 and "C-009" in page_two[0] and "C-000" in page_two[-1]
    assert "Plus ancien" not in second

    log = audit_page(db.session(), site_id(), group="bureau", size=50)
    assert len(log["entries"]) == 50 and log["older"] == log["entries"][-1]["id"]


def test_a_teacher_may_not_read_the_log(teacher_office: FlaskClient) -> None:
    assert teacher_office.get("/bureau/journal").status_code == 403


def test_nothing_can_be_posted_to_the_log(office: FlaskClient, history: None) -> None:
    html = text_of(office.get("/bureau/journal"))
    posting = re.findall(r"<form[^>]*>", html)
    assert [
        form for form in posting if 'method="post"' in form and "/deconnexion" not in form
    ] == []
    for method in (office.post, office.put, office.delete, office.patch):
        assert method("/bureau/journal", data={"avant": "1"}).status_code == 405


def test_the_log_can_read_through_the_people_index(history: None) -> None:
    """The page's query matches the partial index's predicate (the literal channels).

    PostgreSQL is told not to scan the table, so that on a small test table the plan shows
    whether the index applies at all, as it does on a big one.
    """
    seen: list[tuple[str, Any]] = []

    def record(_conn: object, _cursor: object, statement: str, params: Any, *_: object) -> None:
        seen.append((statement, params))

    sa_event.listen(db.engine, "before_cursor_execute", record)
    try:
        audit_page(db.session(), site_id(), before=10**9, group="bureau")
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", record)
    statement, params = next(item for item in seen if "FROM events" in item[0])
    cursor = db.session.connection().connection.cursor()
    if db.engine.dialect.name == "sqlite":
        cursor.execute("EXPLAIN QUERY PLAN " + statement, params)
    else:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + statement, params)
    plan = " ".join(str(row) for row in cursor.fetchall())
    assert "ix_events_site_people" in plan, plan


@screen_only
def test_the_log_on_screen(desk: Desk, history: None) -> None:
    desk.open("/bureau/journal")
    desk.check("journal")
