"""The office's students and badges: class lists, a student's page, give and replace a badge.

Through the Flask client on both databases; a badge given or replaced at the office is
then scanned at a station through the scan API (the path a kiosk's and a reader's scans
take), so the old badge's refusal is the scan path's own. The browser tests (screen_only:
their database behaviour is the client tests') give a badge with a simulated keyboard
wedge on the page and run axe-core on the pages.
"""

from __future__ import annotations

import html
from datetime import date
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.boundary import submit, web_origin
from app.extensions import db
from app.ingest.office_events import SaveStudent
from app.models import Event, StaffUser, Student, utcnow
from tests.factories import Scanner, make_token
from tests.office.conftest import Desk, text_of
from tests.support.backends import screen_only
from tests.support.browser import sync_api

LUCAS = "E2026-001"  # cap-rics, badges 0A00F1C2D3 and B-0001
INES_BADGE = "0A0012B45F"  # E2026-002's
TEACHER_BADGE = "B-9001"  # M. Perrin's


def shown(response: Any) -> str:
    """Return a page's text with its HTML entities read (« l'ancien » for « l&#39;ancien »)."""
    return html.unescape(text_of(response))


def students_count() -> int:
    """Count the site's students."""
    return int(db.session.execute(select(func.count()).select_from(Student)).scalar_one())


def student(code: str) -> Student:
    """Return a student as the database has it now."""
    db.session.expire_all()
    found = db.session.execute(select(Student).where(Student.code == code)).scalar_one()
    return found


def badges_of(code: str) -> list[str]:
    """Return a student's badge codes, sorted."""
    return sorted(badge.code for badge in student(code).badges)


def new_student(office: FlaskClient, **fields: str) -> Any:
    """Post the « Ajouter un élève » form."""
    data = {"code": "E2026-010", "name": "Nora B.", "framework": "cap-rics", "left_on": ""}
    data.update(fields)
    return office.post("/bureau/eleves/nouveau", data=data)


def give(office: FlaskClient, code: str, badge: str, replaces: str | None = None) -> Any:
    """Post the « Donner un badge » form (or « Remplacer »)."""
    data = {"code": badge, "key": ""}
    if replaces:
        data["replaces"] = replaces
    return office.post(f"/bureau/eleves/{code}/badge", data=data)


def test_the_class_lists_show_each_framework_with_its_students_and_print_links(
    office: FlaskClient,
) -> None:
    response = office.get("/bureau/eleves")
    page = shown(response)
    assert response.status_code == 200
    assert "CAP Métallier" in page and "Lucas M." in page and "Léa C." in page
    assert "0A00F1C2D3" in page and "B-0003" in page
    assert 'href="/impressions/badges/cap-rics.pdf"' in page
    assert 'href="/impressions/badges/cap-metallier.pdf"' in page
    assert 'href="/bureau/eleves/E2026-001"' in page
    assert 'href="/bureau/eleves/nouveau"' in page
    assert response.headers["Cache-Control"] == "no-store"


def test_an_admin_adds_a_student_who_shows_in_the_class_list(office: FlaskClient) -> None:
    form = office.get("/bureau/eleves/nouveau")
    assert form.status_code == 200 and 'name="key"' in shown(form)
    response = new_student(office, left_on="2028-06-30")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/bureau/eleves/E2026-010")
    added = student("E2026-010")
    assert (added.name, added.framework.code, str(added.left_on)) == (
        "Nora B.",
        "cap-rics",
        "2028-06-30",
    )
    page = shown(office.get("/bureau/eleves/E2026-010"))
    assert "Nora B." in page and "aucun badge" in page
    assert "Nora B." in shown(office.get("/bureau/eleves"))
    event = db.session.execute(select(Event).where(Event.kind == "office.student")).scalar_one()
    assert event.student_id == added.id and event.status == "accepted"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"code": LUCAS}, "existe déjà"),
        ({"code": "E 2026"}, "Code élève"),
        ({"code": ""}, "Code élève"),
        ({"name": "  "}, "Nom : à renseigner"),
        ({"name": "N" * 81}, "80 caractères au plus"),
        ({"name": "Nora\x07 B."}, "caractères invisibles"),
        ({"framework": "cap-inconnu"}, "Référentiel cap-inconnu inconnu"),
        ({"left_on": "30/06/2028"}, "date invalide"),
    ],
)
def test_adding_a_student_refuses_a_bad_field_in_french_and_changes_nothing(
    office: FlaskClient, fields: dict[str, str], message: str
) -> None:
    before = students_count()
    response = new_student(office, **fields)
    page = shown(response)
    assert response.status_code == 422
    assert message in page
    assert students_count() == before
    if "name" not in fields:
        assert 'value="Nora B."' in page  # the values typed are kept


def test_a_name_with_a_lone_surrogate_is_refused_by_the_core(admin: StaffUser) -> None:
    # A form cannot carry one (it is not UTF-8), JSON can: the core refuses it all the same.
    event = SaveStudent(code="E2026-010", name="Nora \ud800", framework="cap-rics", create=True)
    outcome = submit(web_origin(admin), event)
    assert outcome.body["status"] == "rejected"
    assert "caractères invisibles" in outcome.body["error"]["message"]
    assert students_count() == 4


def test_an_admin_edits_a_student(office: FlaskClient) -> None:
    response = office.post(
        f"/bureau/eleves/{LUCAS}",
        data={"name": "Lucas Ma.", "framework": "cap-metallier", "left_on": "2027-07-01"},
    )
    assert response.status_code == 303
    lucas = student(LUCAS)
    assert (lucas.name, lucas.framework.code, str(lucas.left_on)) == (
        "Lucas Ma.",
        "cap-metallier",
        "2027-07-01",
    )


def test_an_edit_refused_keeps_the_values_typed_and_changes_nothing(office: FlaskClient) -> None:
    response = office.post(
        f"/bureau/eleves/{LUCAS}", data={"name": "", "framework": "cap-rics", "left_on": ""}
    )
    assert response.status_code == 422
    assert "Nom : à renseigner" in shown(response)
    assert student(LUCAS).name == "Lucas M."
    unknown = office.post(
        "/bureau/eleves/E2099-999", data={"name": "X", "framework": "cap-rics", "left_on": ""}
    )
    assert unknown.status_code == 404
    assert office.get("/bureau/eleves/E2099-999").status_code == 404
    assert students_count() == 4


def test_an_erased_student_can_be_neither_edited_nor_given_a_badge(office: FlaskClient) -> None:
    lucas = student(LUCAS)
    lucas.erased_at = utcnow()
    db.session.commit()
    edit = office.post(
        f"/bureau/eleves/{LUCAS}", data={"name": "Lucas", "framework": "cap-rics", "left_on": ""}
    )
    assert edit.status_code == 422 and "effacées" in shown(edit)
    badge = give(office, LUCAS, "0A00FFEE11")
    assert badge.status_code == 422
    assert student(LUCAS).name == "Lucas M."
    assert "0A00FFEE11" not in badges_of(LUCAS)
    listing = shown(office.get("/bureau/eleves"))
    assert "Lucas M." not in listing and "1 élève effacé" in listing
    page = shown(office.get(f"/bureau/eleves/{LUCAS}"))
    assert "effacé" in page and "Lucas M." not in page


def test_a_badge_given_at_the_office_is_read_as_a_scan_reads_it_and_works_at_a_station(
    office: FlaskClient, client: FlaskClient
) -> None:
    response = give(office, LUCAS, " 0a00ffee11 ")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/bureau/eleves/{LUCAS}#badges")
    assert badges_of(LUCAS) == ["0A00F1C2D3", "0A00FFEE11", "B-0001"]
    flashed = shown(office.get(f"/bureau/eleves/{LUCAS}"))
    assert "Badge 0A00FFEE11 donné à Lucas M." in flashed
    answer = Scanner(client, make_token("ST-PLASMA")).ok("0A00FFEE11")
    assert "Bonjour Lucas" in answer["message"]
    event = db.session.execute(select(Event).where(Event.kind == "office.badge")).scalar_one()
    assert event.student_id == student(LUCAS).id


def test_a_double_submit_of_the_badge_form_records_once(office: FlaskClient) -> None:
    data = {"code": "B-0042", "key": "une-seule-fois"}
    assert office.post(f"/bureau/eleves/{LUCAS}/badge", data=data).status_code == 303
    assert office.post(f"/bureau/eleves/{LUCAS}/badge", data=data).status_code == 303
    assert badges_of(LUCAS).count("B-0042") == 1
    count = db.session.execute(
        select(func.count()).select_from(Event).where(Event.kind == "office.badge")
    ).scalar_one()
    assert count == 1


@pytest.mark.parametrize(
    ("badge", "message"),
    [
        (INES_BADGE, "déjà attribué à une autre personne"),
        (TEACHER_BADGE, "déjà attribué à une autre personne"),
        ("B-0001", "déjà celui de cet élève"),
        ("OF-2026-0001", "Ce n'est pas un code de badge"),
        ("0A00ÉÉ", "Ce n'est pas un code de badge"),
        ("", "Ce n'est pas un code de badge"),
    ],
)
def test_a_badge_that_is_not_free_or_not_a_badge_is_refused(
    office: FlaskClient, badge: str, message: str
) -> None:
    response = give(office, LUCAS, badge)
    page = shown(response)
    assert response.status_code == 422
    assert message in page
    # The other holder is not named.
    assert "Inès" not in page and "Perrin" not in page
    assert badges_of(LUCAS) == ["0A00F1C2D3", "B-0001"]
    assert badges_of("E2026-002") == ["0A0012B45F", "B-0002"]


def test_a_lost_badge_replaced_stops_working_at_once_and_the_new_one_works(
    office: FlaskClient, client: FlaskClient
) -> None:
    station = Scanner(client, make_token("ST-PLASMA"))
    station.ok("B-0001")  # Lucas in
    station.ok("B-0001")  # and out: the badge worked
    response = give(office, LUCAS, "B-0077", replaces="B-0001")
    assert response.status_code == 303
    assert badges_of(LUCAS) == ["0A00F1C2D3", "B-0077"]
    page = shown(office.get(f"/bureau/eleves/{LUCAS}"))
    assert "l'ancien badge B-0001 ne fonctionne plus" in page
    refused = station.refused("B-0001", "unknown_code")
    assert "Badge inconnu" in refused["error"]["message"]
    assert "Bonjour Lucas" in station.ok("B-0077")["message"]


def test_replacing_a_badge_that_is_not_the_students_changes_nothing(office: FlaskClient) -> None:
    response = give(office, LUCAS, "B-0077", replaces="B-0002")
    assert response.status_code == 422
    assert "n'est pas un badge de cet élève" in shown(response)
    assert badges_of(LUCAS) == ["0A00F1C2D3", "B-0001"]
    assert badges_of("E2026-002") == ["0A0012B45F", "B-0002"]


def test_a_badge_can_be_taken_back_without_another(office: FlaskClient) -> None:
    assert give(office, LUCAS, "", replaces="B-0001").status_code == 303
    assert badges_of(LUCAS) == ["0A00F1C2D3"]


def test_the_student_page_links_to_the_exports_and_erasure_and_carries_keys(
    office: FlaskClient,
) -> None:
    page = shown(office.get(f"/bureau/eleves/{LUCAS}"))
    assert f'href="/bureau/eleves/{LUCAS}/export"' in page
    assert f'href="/bureau/eleves/{LUCAS}/effacer"' in page
    assert "Passez le badge devant le lecteur" in page
    assert "Remplacer (badge perdu)" in page
    assert 'name="replaces" value="B-0001"' in page
    assert "<script>" not in page and "onclick" not in page


def test_a_teacher_gets_403_and_changes_nothing(teacher_office: FlaskClient) -> None:
    for path in ("/bureau/eleves", "/bureau/eleves/nouveau", f"/bureau/eleves/{LUCAS}"):
        assert teacher_office.get(path).status_code == 403, path
    assert give(teacher_office, LUCAS, "B-0077").status_code == 403
    assert new_student(teacher_office).status_code == 403
    assert badges_of(LUCAS) == ["0A00F1C2D3", "B-0001"]
    assert students_count() == 4


# -- in the browser ------------------------------------------------------------------------


def wedge(desk: Desk, code: str, focused: Any = None) -> None:
    """Type a code as the office's reader does (a few ms a key, then Enter), nothing focused
    (or this field)."""
    page = desk.page
    if focused is None:
        page.evaluate("() => document.activeElement && document.activeElement.blur()")
    else:
        focused.focus()
    with page.expect_navigation():
        page.keyboard.type(code, delay=5)
        page.keyboard.press("Enter")


@screen_only
def test_a_badge_passed_at_the_desk_reader_is_given_then_a_lost_one_replaced(
    desk: Desk, client: FlaskClient
) -> None:
    page = desk.page
    desk.open(f"/bureau/eleves/{LUCAS}")
    desk.check("people-student")
    wedge(desk, "0A00FFEE11")
    sync_api.expect(page.get_by_text("Badge 0A00FFEE11 donné à Lucas M.")).to_be_visible()
    station = Scanner(client, make_token("ST-PLASMA"))
    assert "Bonjour Lucas" in station.ok("0A00FFEE11")["message"]
    station.ok("0A00FFEE11")  # out again
    # Passed while the name field has the focus: given all the same, the name untouched.
    wedge(desk, "B-0055", focused=page.get_by_label("Nom"))
    sync_api.expect(page.get_by_text("Badge B-0055 donné à Lucas M.")).to_be_visible()
    assert student(LUCAS).name == "Lucas M."
    page.get_by_text("Remplacer (badge perdu)").nth(2).click()  # B-0001 (after the 2 RFID)
    wedge(desk, "B-0077")
    sync_api.expect(page.get_by_text("l'ancien badge B-0001 ne fonctionne plus")).to_be_visible()
    station.refused("B-0001", "unknown_code")
    assert "Bonjour Lucas" in station.ok("B-0077")["message"]
    assert badges_of(LUCAS) == ["0A00F1C2D3", "0A00FFEE11", "B-0055", "B-0077"]
    assert desk.problems == []


@screen_only
def test_the_students_list_passes_axe(desk: Desk) -> None:
    desk.open("/bureau/eleves")
    desk.check("people-list")
    desk.open("/bureau/eleves/nouveau")
    desk.check("people-new")


def test_the_class_lists_show_who_is_at_school_and_those_who_left_on_request(
    office: FlaskClient, admin: StaffUser
) -> None:
    """Ten years of a school are not a class: a student who left is listed only on request."""
    left = submit(
        web_origin(admin),
        SaveStudent(
            code="E2020-009",
            name="Jade R.",
            framework="cap-rics",
            left_on=date(2021, 6, 30),
            create=True,
        ),
    )
    assert left.accepted, left.body
    shown = text_of(office.get("/bureau/eleves"))
    assert "Lucas M." in shown and "Jade R." not in shown
    assert "1 élève sorti de l'école" in shown
    former = text_of(office.get("/bureau/eleves?sortis=1"))
    assert "Sortis de l'école" in former and "Jade R." in former and "30/06/2021" in former
