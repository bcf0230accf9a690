"""« Qui fait quoi » : who is offered which operation, and giving one to a student.

Through the Flask client on both databases. Evidence comes from a run finished through
the scan API, habilitations from the school file (a bending station that requires one),
so the ranking and the filter read what the shop itself wrote.
"""

from __future__ import annotations

import html
from datetime import date
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import event as sa_event
from sqlalchemy import func, select

from app.extensions import db
from app.models import Assignment, Event
from app.read.assignments import who_makes_what
from tests.factories import MINIMAL_SCHOOL, Scanner, load_school, make_token, site_id
from tests.office.conftest import text_of

LUCAS, INES, LEA = "E2026-001", "E2026-002", "E2026-003"
LUCAS_BADGE = "0A00F1C2D3"
TODAY = date(2026, 12, 1)

# The press brake needs its habilitation: Lucas holds it, Inès's has lapsed.
HABILITATED_SCHOOL = (
    MINIMAL_SCHOOL.read_text("utf-8")
    .replace(
        "stations:\n",
        'habilitations:\n  - {id: PLIEUSE, name: "Presse plieuse"}\n\nstations:\n',
        1,
    )
    .replace(
        '{code: ST-PLIEUSE, name: "Presse plieuse", kind: bending}',
        '{code: ST-PLIEUSE, name: "Presse plieuse", kind: bending, requires: [PLIEUSE]}',
    )
    .replace(
        'badges: ["0A00F1C2D3", "B-0001"]}',
        'badges: ["0A00F1C2D3", "B-0001"],\n'
        "     habilitations: [{id: PLIEUSE, until: 2030-06-30}]}",
    )
    .replace(
        'badges: ["0A0012B45F", "B-0002"]}',
        'badges: ["0A0012B45F", "B-0002"],\n'
        "     habilitations: [{id: PLIEUSE, until: 2020-06-30}]}",
    )
)


def shown(response: Any) -> str:
    """Return a page's text with its HTML entities read."""
    return html.unescape(text_of(response))


def give(client: FlaskClient, operation: str, student: str, **more: str) -> Any:
    """Post the « Confier » button."""
    return client.post(
        "/bureau/affectations", data={"operation": operation, "student": student, **more}
    )


def open_assignments() -> list[tuple[int, int]]:
    """Return the assignments in force as (operation id, student id)."""
    db.session.expire_all()
    return [
        (row.operation_id, row.student_id)
        for row in db.session.execute(
            select(Assignment).where(Assignment.ended_at.is_(None))
        ).scalars()
    ]


def operation_of(listing: list[dict[str, Any]], code: str) -> dict[str, Any]:
    """Return one operation of « Qui fait quoi »."""
    return next(op for op in listing if op["code"] == code)


def test_the_student_with_more_not_seen_comes_first(
    client: FlaskClient, office: FlaskClient
) -> None:
    # Lucas cuts a piece: he has seen C3 (cap-rics), Inès has not.
    scanner = Scanner(client, make_token("ST-PLASMA"))
    scanner.ok(LUCAS_BADGE)
    scanner.ok("OF-2026-0001-10")
    scanner.ok("P-2026-000001")
    scanner.ok("A-FIN")
    listing = who_makes_what(db.session(), site_id(), TODAY)
    debit = operation_of(listing, "OF-2026-0002-10")
    names = [c["code"] for c in debit["candidates"]]
    assert names.index(INES) < names.index(LUCAS)
    lucas = next(c for c in debit["candidates"] if c["code"] == LUCAS)
    ines = next(c for c in debit["candidates"] if c["code"] == INES)
    assert (lucas["not_seen"], lucas["evidence"]) == (0, 1)
    assert ines["not_seen"] == 1 and [b["code"] for b in ines["brings"]] == ["C3"]
    # The page says it, with the count and the competency it brings.
    page = shown(office.get("/bureau/affectations?of=OF-2026-0002"))
    assert "OF-2026-0002-10 — Débit" in page
    assert "OF-2026-0001-10" not in page
    assert "Confier OF-2026-0002-10 à Inès K." in page


def test_only_students_holding_the_habilitation_today_are_offered_and_given(
    office: FlaskClient,
) -> None:
    load_school(text=HABILITATED_SCHOOL)
    listing = who_makes_what(db.session(), site_id(), TODAY)
    bending = operation_of(listing, "OF-2026-0002-20")
    assert [c["code"] for c in bending["candidates"]] == [LUCAS]
    assert bending["not_habilitated"] == 3
    refused = give(office, "OF-2026-0002-20", INES)
    assert refused.status_code == 422
    assert "Inès K. n'a pas l'habilitation « Presse plieuse » valide aujourd'hui" in shown(refused)
    assert open_assignments() == []
    assert give(office, "OF-2026-0002-20", LUCAS).status_code == 303
    assert len(open_assignments()) == 1


def test_giving_twice_is_one_assignment_and_retirer_ends_it(office: FlaskClient) -> None:
    assert give(office, "OF-2026-0001-20", LEA).status_code == 303
    again = give(office, "OF-2026-0001-20", LEA)
    assert again.status_code == 303
    assert len(open_assignments()) == 1
    listing = who_makes_what(db.session(), site_id(), TODAY)
    welding = operation_of(listing, "OF-2026-0001-20")
    assert [a["code"] for a in welding["assigned"]] == [LEA]
    assert LEA not in [c["code"] for c in welding["candidates"]]
    page = shown(office.get("/bureau/affectations"))
    assert "Retirer OF-2026-0001-20 à Léa C." in page
    assert give(office, "OF-2026-0001-20", LEA, remove="1").status_code == 303
    assert open_assignments() == []
    ended = db.session.execute(select(func.count()).select_from(Assignment)).scalar()
    assert ended == 1  # the row stays, ended: the log of who was given what


def test_a_bad_assignment_is_refused_in_french(office: FlaskClient) -> None:
    for operation, student, message in [
        ("OF-2026-0001-99", LUCAS, "Opération OF-2026-0001-99 inconnue"),
        ("OF-2026-0001-10", "E2099-999", "Élève E2099-999 inconnu"),
        ("n'importe", LUCAS, "attendu OF-AAAA-NNNN-SS"),
    ]:
        response = give(office, operation, student)
        assert response.status_code == 422
        assert message in shown(response)
    office.post("/bureau/of/OF-2026-0001/statut", data={"status": "closed", "confirm": "1"})
    response = give(office, "OF-2026-0001-10", LUCAS)
    assert response.status_code == 422
    assert "L'OF OF-2026-0001 est clôturé" in shown(response)
    assert open_assignments() == []
    # A closed order's operations are no longer offered.
    listing = who_makes_what(db.session(), site_id(), TODAY)
    assert all(op["work_order"] != "OF-2026-0001" for op in listing)


def test_a_teacher_gives_an_operation(teacher_office: FlaskClient) -> None:
    assert teacher_office.get("/bureau/affectations").status_code == 200
    assert give(teacher_office, "OF-2026-0001-10", LUCAS).status_code == 303
    event = db.session.execute(
        select(Event).where(Event.kind == "office.assign").order_by(Event.id.desc())
    ).scalar_one()
    assert event.status == "accepted" and event.student_id is not None


def test_the_page_is_a_fixed_number_of_statements(office: FlaskClient) -> None:
    statements: list[str] = []

    def count(*args: Any) -> None:
        if str(args[2]).lstrip().upper().startswith("SELECT"):
            statements.append(str(args[2]))

    engine = db.engine
    site = site_id()
    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        who_makes_what(db.session(), site, TODAY)
        first = len(statements)
        for _ in range(3):
            give(office, "OF-2026-0001-10", LUCAS)
        statements.clear()
        who_makes_what(db.session(), site, TODAY)
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)
    # One statement per kind of row, whatever the number of students and operations.
    assert len(statements) == first <= 10
