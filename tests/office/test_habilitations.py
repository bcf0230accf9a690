"""The office's habilitations: kinds and derogations, students' authorisations and their
history, those lapsing within the month, and the labour inspector's printable list.

Through the Flask client on both databases; the browser test (screen_only: its database
behaviour is the client tests') runs axe-core on the pages.
"""

from __future__ import annotations

import html
import re
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import Event, Habilitation, Student, StudentHabilitation
from app.read.office_people import workshop_today
from tests.office.conftest import Desk, text_of
from tests.support.backends import screen_only

LUCAS = "E2026-001"
LEA = "E2026-003"


def shown(response: Any) -> str:
    """Return a page's text with its HTML entities read."""
    return html.unescape(text_of(response))


def words(response: Any) -> str:
    """Return a page's text without its tags (« Échue le 30/11/2026 »)."""
    return re.sub(r"<[^>]+>", "", shown(response))


def fr(day: date) -> str:
    """Return a date as the pages print it."""
    return day.strftime("%d/%m/%Y")


def kind(
    office: FlaskClient, code: str = "PLIEUSE", name: str = "Presse plieuse", **more: str
) -> Any:
    """Post the form that adds or changes a habilitation."""
    return office.post(
        "/bureau/habilitations", data={"code": code, "name": name, "key": "", **more}
    )


def authorise(office: FlaskClient, student: str = LUCAS, **fields: str) -> Any:
    """Post a student's habilitation form."""
    data = {"habilitation": "PLIEUSE", "until": "", "medical_until": "", "trained_on": ""}
    data.update({"trainer": "", "key": ""})
    data.update(fields)
    return office.post(f"/bureau/eleves/{student}/habilitations", data=data)


def rows_of(code: str) -> list[StudentHabilitation]:
    """Return every authorisation row of a student, oldest first."""
    db.session.expire_all()
    student_id = db.session.execute(select(Student.id).where(Student.code == code)).scalar_one()
    return list(
        db.session.execute(
            select(StudentHabilitation)
            .where(StudentHabilitation.student_id == student_id)
            .order_by(StudentHabilitation.id)
        ).scalars()
    )


def between(page: str, start: str, end: str) -> str:
    """Return the part of a page between two headings."""
    return page.split(start, 1)[1].split(end, 1)[0]


@pytest.fixture
def today(app: Flask) -> date:
    """The workshop's date today."""
    return workshop_today()


def test_an_admin_adds_a_habilitation_then_changes_its_derogation(office: FlaskClient) -> None:
    response = kind(office, code="plieuse", derogation_until="2028-09-01")
    assert response.status_code == 303
    page = shown(office.get("/bureau/habilitations"))
    assert "Habilitation Presse plieuse ajoutée." in page
    assert "Presse plieuse" in page and "01/09/2028" in page
    assert kind(office, name="Presse plieuse CN", derogation_until="2029-01-31").status_code == 303
    db.session.expire_all()
    found = db.session.execute(select(Habilitation)).scalars().all()
    assert [(h.code, h.name, str(h.derogation_until)) for h in found] == [
        ("PLIEUSE", "Presse plieuse CN", "2029-01-31")
    ]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"code": "PLI EUSE"}, "Code d'habilitation"),
        ({"name": " "}, "Nom de l'habilitation : à renseigner"),
        ({"name": "P" * 121}, "120 caractères au plus"),
        ({"derogation_until": "demain"}, "date invalide"),
    ],
)
def test_a_bad_habilitation_is_refused_in_french_and_nothing_changes(
    office: FlaskClient, fields: dict[str, str], message: str
) -> None:
    response = kind(office, **fields)
    assert response.status_code == 422
    assert message in shown(response)
    assert db.session.execute(select(Habilitation)).first() is None


def test_changing_an_authorisation_ends_the_old_row_and_ending_it_keeps_the_history(
    office: FlaskClient,
) -> None:
    kind(office, derogation_until="2029-09-01")
    first = authorise(
        office,
        until="2027-06-30",
        medical_until="2027-03-01",
        trained_on="2026-09-15",
        trainer="M. Perrin",
    )
    assert first.status_code == 303
    assert first.headers["Location"].endswith(f"/bureau/eleves/{LUCAS}#habilitations")
    [row] = rows_of(LUCAS)
    assert (str(row.until), str(row.medical_until), row.trainer, row.ended_at) == (
        "2027-06-30",
        "2027-03-01",
        "M. Perrin",
        None,
    )
    # The same terms again: nothing new.
    assert (
        authorise(
            office,
            until="2027-06-30",
            medical_until="2027-03-01",
            trained_on="2026-09-15",
            trainer="M. Perrin",
        ).status_code
        == 303
    )
    assert len(rows_of(LUCAS)) == 1
    # New terms: the old row is ended, a new one written.
    assert authorise(office, until="2027-06-30", medical_until="2028-03-01").status_code == 303
    old, new = rows_of(LUCAS)
    assert old.ended_at is not None and old.ended_event_id == new.event_id
    assert new.ended_at is None and str(new.medical_until) == "2028-03-01"
    page = shown(office.get(f"/bureau/eleves/{LUCAS}"))
    assert "Historique" in page and "M. Perrin" in page
    # Ended: both rows stay, neither in force.
    assert authorise(office, end="1").status_code == 303
    rows = rows_of(LUCAS)
    assert len(rows) == 2 and all(r.ended_at is not None for r in rows)
    page = shown(office.get(f"/bureau/eleves/{LUCAS}"))
    assert "Habilitation « Presse plieuse » de Lucas M. terminée." in page
    assert "Aucune habilitation en cours." in page
    events = db.session.execute(
        select(Event.student_id).where(Event.kind == "office.student_habilitation")
    ).scalars()
    assert set(events) == {rows[0].student_id}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "Date de fin de l'habilitation : à renseigner"),
        ({"habilitation": "SCIE", "until": "2027-06-30"}, "Habilitation SCIE inconnue"),
        ({"until": "2027-06-30", "trained_on": "2027-09-01"}, "précède la date de la formation"),
        ({"until": "30-06-2027"}, "date invalide"),
        ({"until": "2027-06-30", "trainer": "M.\nPerrin"}, "caractères invisibles"),
        ({"end": "1"}, "n'a pas d'habilitation « Presse plieuse » en cours"),
    ],
)
def test_a_bad_authorisation_is_refused_in_french_and_nothing_changes(
    office: FlaskClient, fields: dict[str, str], message: str
) -> None:
    kind(office)
    response = authorise(office, **fields)
    assert response.status_code == 422
    assert message in shown(response)
    assert rows_of(LUCAS) == []


def test_the_habilitations_page_lists_those_lapsing_within_the_month(
    office: FlaskClient, today: date
) -> None:
    kind(office, derogation_until=(today + timedelta(days=400)).isoformat())
    kind(
        office,
        code="SCIE",
        name="Scie à ruban",
        derogation_until=(today + timedelta(days=12)).isoformat(),
    )
    authorise(office, LUCAS, until=(today + timedelta(days=10)).isoformat())
    authorise(
        office,
        LEA,
        until=(today + timedelta(days=200)).isoformat(),
        medical_until=(today + timedelta(days=5)).isoformat(),
    )
    authorise(office, "E2026-002", until=(today + timedelta(days=200)).isoformat())
    authorise(
        office, "E2026-004", habilitation="SCIE", until=(today + timedelta(days=200)).isoformat()
    )
    page = shown(office.get("/bureau/habilitations"))
    soon = between(page, "Expirent dans le mois", "Habilitations et dérogations du lieu")
    assert "Lucas M." in soon and fr(today + timedelta(days=10)) in soon
    assert "Léa C." in soon and "aptitude médicale" in soon
    assert "Hugo L." in soon and "dérogation du lieu" in soon
    assert "Inès K." not in soon
    held = page.split("Élèves habilités", 1)[1]
    assert all(name in held for name in ("Lucas M.", "Léa C.", "Inès K.", "Hugo L."))


def test_a_lapsed_authorisation_shows_as_lapsed_and_is_not_on_the_inspection_list(
    office: FlaskClient, today: date
) -> None:
    kind(office, derogation_until=(today + timedelta(days=400)).isoformat())
    authorise(
        office,
        LUCAS,
        until=(today + timedelta(days=100)).isoformat(),
        medical_until=(today - timedelta(days=1)).isoformat(),
    )
    page = words(office.get(f"/bureau/eleves/{LUCAS}"))
    assert f"Échue le {fr(today - timedelta(days=1))}" in page
    inspection = shown(office.get("/bureau/habilitations/inspection"))
    assert "Lucas M." not in inspection and "Aucun élève habilité ce jour." in inspection


def test_the_inspection_page_gives_each_authorised_student_with_the_grounds(
    office: FlaskClient, today: date
) -> None:
    kind(office, derogation_until="2029-09-01")
    authorise(
        office,
        LEA,
        until="2027-06-30",
        medical_until="2027-05-01",
        trained_on="2026-09-15",
        trainer="M. Perrin",
    )
    authorise(office, LUCAS, until="2027-06-30")
    authorise(office, LUCAS, end="1")
    office.get("/bureau/habilitations")  # shows the flashed messages, which name Lucas
    response = office.get("/bureau/habilitations/inspection")
    page = shown(response)
    assert response.status_code == 200
    assert "belfort" in page  # the site's name (its code, the minimal school has no name)
    assert f'Situation au</dt><dd><time datetime="{today.isoformat()}">{fr(today)}' in page
    assert "Imprimé le" in page
    assert "Presse plieuse" in page and "jusqu'au 01/09/2029" in words(response)
    assert "Léa C." in page and "01/05/2027" in page and "15/09/2026" in page
    assert "M. Perrin" in page
    assert "Lucas M." not in page  # ended
    assert "data-print" in page and "office/people.js" in page
    assert "<script>" not in page and "onclick" not in page


def test_a_teacher_gets_403_on_the_habilitations(teacher_office: FlaskClient) -> None:
    for path in ("/bureau/habilitations", "/bureau/habilitations/inspection"):
        assert teacher_office.get(path).status_code == 403, path
    assert kind(teacher_office).status_code == 403
    assert authorise(teacher_office, until="2027-06-30").status_code == 403
    assert db.session.execute(select(Habilitation)).first() is None


@screen_only
def test_the_habilitations_pages_pass_axe(desk: Desk, office: FlaskClient, today: date) -> None:
    kind(office, derogation_until=(today + timedelta(days=20)).isoformat())
    authorise(
        office,
        LEA,
        until="2027-06-30",
        medical_until=(today + timedelta(days=300)).isoformat(),
        trained_on="2026-09-15",
        trainer="M. Perrin",
    )
    authorise(office, LUCAS, until=(today + timedelta(days=300)).isoformat())
    desk.open("/bureau/habilitations")
    desk.check("habilitations")
    desk.open(f"/bureau/eleves/{LEA}")
    desk.check("people-student-habilitations")
    desk.open("/bureau/habilitations/inspection")
    desk.page.get_by_role("button", name="Imprimer").wait_for()
    desk.check("habilitations-inspection")
    desk.page.emulate_media(media="print")
    desk.screenshots("habilitations-inspection-print")
