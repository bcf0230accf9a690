"""The school's data in the office: customers, stations, operation types and their grid, WPS,
device tokens, and the Bornes and Comptes pages in the office's frame (the minimal school).

Each input is checked through the pages with the Flask client on both databases; the few
browser checks (axe-core, both sizes, the kiosk's enrolment by its link) run on one
database only (``screen_only``): their database side is covered here on both.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.auth.tokens import clear_cache
from app.extensions import db
from app.models import Customer, DeviceToken, Event, OperationType, StaffUser, Station, Wps
from tests.office.conftest import Desk
from tests.office.conftest import text_of as raw_text
from tests.support.backends import screen_only


def text_of(response: Any) -> str:
    """Return a page's text with its HTML entities decoded (« n'est » rather than &#39;)."""
    return html.unescape(raw_text(response))


def fresh() -> None:
    """End the test's read snapshot: the pages commit on their own sessions."""
    db.session.rollback()


def count(model: Any) -> int:
    fresh()
    return int(db.session.execute(select(func.count()).select_from(model)).scalar_one())


def station(code: str) -> Station:
    fresh()
    return db.session.execute(select(Station).where(Station.code == code)).scalar_one()


def wps(code: str) -> Wps | None:
    fresh()
    return db.session.execute(select(Wps).where(Wps.code == code)).scalar_one_or_none()


def grid_of(code: str, framework: str) -> list[str]:
    fresh()
    op = db.session.execute(select(OperationType).where(OperationType.code == code)).scalar_one()
    return sorted(c.code for c in op.competencies if c.framework.code == framework)


# -- customers --------------------------------------------------------------------------------


def test_a_customer_is_added_then_renamed_and_listed_with_its_orders(office: FlaskClient) -> None:
    page = office.get("/bureau/clients")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "C-TEST" in text_of(page) and 'for="code"' in text_of(page)
    made = office.post(
        "/bureau/clients", data={"code": "C-ALS", "name": "Alsace Métal", "create": "1"}
    )
    assert made.status_code == 303 and made.headers["Location"] == "/bureau/clients"
    listed = text_of(office.get("/bureau/clients"))
    assert "Client C-ALS créé." in listed and "Alsace Métal" in listed
    edit = office.get("/bureau/clients/C-ALS")
    assert edit.status_code == 200 and "Modifier le client C-ALS" in text_of(edit)
    renamed = office.post("/bureau/clients", data={"code": "C-ALS", "name": "Alsace Métal SA"})
    assert renamed.status_code == 303
    assert "Client C-ALS modifié." in text_of(office.get("/bureau/clients"))
    fresh()
    names = dict(db.session.execute(select(Customer.code, Customer.name)).all())
    assert names == {"C-TEST": "Client industriel (fictif)", "C-ALS": "Alsace Métal SA"}
    assert office.get("/bureau/clients/C-INCONNU").status_code == 404


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"code": "C TEST!", "name": "X", "create": "1"}, "n'est pas un identifiant"),
        ({"code": "C-NEW", "name": "  ", "create": "1"}, "Nom : ne peut pas être vide"),
        ({"code": "C-TEST", "name": "Doublon", "create": "1"}, "existe déjà"),
    ],
)
def test_a_refused_customer_keeps_the_form_and_changes_nothing(
    office: FlaskClient, form: dict[str, str], message: str
) -> None:
    before = count(Customer)
    answer = office.post("/bureau/clients", data=form)
    assert answer.status_code == 422
    html = text_of(answer)
    assert message in html and 'role="alert"' in html
    assert f'value="{form["code"]}"' in html
    assert count(Customer) == before


# -- stations ---------------------------------------------------------------------------------


def test_a_station_is_created_with_its_device_and_edited(office: FlaskClient) -> None:
    page = text_of(office.get("/bureau/postes"))
    assert "ST-SOUD-01" in page and "ws01" in page
    made = office.post(
        "/bureau/postes",
        data={
            "code": "st-soud-03",
            "name": "Poste MAG 3",
            "kind": "welding",
            "mqtt_device": "ws03",
            "create": "1",
        },
    )
    assert made.status_code == 303, text_of(made)
    assert (station("ST-SOUD-03").mqtt_device, station("ST-SOUD-03").kind) == ("ws03", "welding")
    edited = office.post(
        "/bureau/postes",
        data={"code": "ST-SOUD-03", "name": "Poste MAG 3 (atelier B)", "kind": "welding"},
    )
    assert edited.status_code == 303
    assert station("ST-SOUD-03").mqtt_device is None
    assert station("ST-SOUD-03").name == "Poste MAG 3 (atelier B)"
    assert "Modifier le poste ST-SOUD-01" in text_of(office.get("/bureau/postes/ST-SOUD-01"))


@pytest.mark.parametrize(
    ("form", "message"),
    [
        (
            {"code": "ST-SOUD-02", "name": "Poste MAG 2", "kind": "welding", "mqtt_device": "ws01"},
            "« ws01 » est déjà celui du poste ST-SOUD-01",
        ),
        ({"code": "POSTE-9", "name": "X", "kind": "welding", "create": "1"}, "code de poste"),
        (
            {"code": "ST-X", "name": "X", "kind": "fusée", "create": "1"},
            "type de poste « fusée » inconnu",
        ),
        (
            {"code": "ST-X", "name": "X", "kind": "welding", "mqtt_device": "ws 9", "create": "1"},
            "identifiant MQTT",
        ),
        (
            {"code": "ST-X", "name": "X", "kind": "bending", "requires": "PLIEUSE", "create": "1"},
            "habilitation « PLIEUSE » inconnue",
        ),
        ({"code": "ST-PLASMA", "name": "X", "kind": "cutting", "create": "1"}, "existe déjà"),
    ],
)
def test_a_refused_station_answers_in_french_and_changes_nothing(
    office: FlaskClient, form: dict[str, str], message: str
) -> None:
    fresh()
    before = sorted(
        db.session.execute(select(Station.code, Station.name, Station.mqtt_device)).all()
    )
    answer = office.post("/bureau/postes", data=form)
    assert answer.status_code == 422
    assert message in text_of(answer)
    fresh()
    assert (
        sorted(db.session.execute(select(Station.code, Station.name, Station.mqtt_device)).all())
        == before
    )


def test_a_refused_input_is_in_the_event_log_as_rejected(office: FlaskClient) -> None:
    office.post(
        "/bureau/postes",
        data={"code": "ST-SOUD-02", "name": "Poste", "kind": "welding", "mqtt_device": "ws01"},
    )
    fresh()
    event = (
        db.session.execute(
            select(Event).where(Event.kind == "office.station").order_by(Event.id.desc())
        )
        .scalars()
        .first()
    )
    assert event is not None
    assert (event.status, event.error_code) == ("rejected", "mqtt_device_taken")


# -- operation types and the grid --------------------------------------------------------------


def test_an_operation_type_is_created_and_edited_without_touching_its_grid(
    office: FlaskClient,
) -> None:
    page = text_of(office.get("/bureau/operations"))
    assert "/bureau/operations/grille/cap-rics" in page and "provisoire" in page
    made = office.post(
        "/bureau/operations",
        data={
            "code": "SOUD-TIG",
            "name": "Soudage TIG",
            "process": "141",
            "station_kind": "welding",
            "create": "1",
        },
    )
    assert made.status_code == 303, text_of(made)
    assert grid_of("SOUD-TIG", "cap-rics") == []
    edited = office.post(
        "/bureau/operations",
        data={
            "code": "SOUD-MAG",
            "name": "Soudage MAG",
            "process": "135",
            "station_kind": "welding",
        },
    )
    assert edited.status_code == 303
    assert grid_of("SOUD-MAG", "cap-rics") == ["C4"]
    refused = office.post(
        "/bureau/operations", data={"code": "SOUD-X", "name": "X", "process": "13a", "create": "1"}
    )
    assert refused.status_code == 422 and "procédé ISO 4063" in text_of(refused)


def test_the_grid_round_trips_one_framework_only(office: FlaskClient) -> None:
    page = office.get("/bureau/operations/grille/cap-rics")
    html = text_of(page)
    assert page.status_code == 200 and "Enregistrer la grille" in html
    assert '<abbr title="Assembler tout ou partie' in html
    ticked = set(
        re.findall(r'value="([^"|]+\|[^"]+)"\s+id="[^"]+"\s+aria-label="[^"]+"\s+checked', html)
    )
    assert ticked == {"DEBIT|C3", "PLIAGE|C3", "SOUD-MAG|C4", "CONTROLE|C5"}
    cells = ["DEBIT|C3", "SOUD-MAG|C4", "SOUD-MAG|C5", "CONTROLE|C5"]
    saved = office.post("/bureau/operations/grille/cap-rics", data={"cell": cells})
    assert saved.status_code == 303
    assert "1 case(s) cochée(s), 1 décochée(s)" in text_of(office.get(saved.headers["Location"]))
    assert grid_of("PLIAGE", "cap-rics") == []
    assert grid_of("SOUD-MAG", "cap-rics") == ["C4", "C5"]
    # The other framework's links stay.
    assert grid_of("SOUD-MAG", "cap-metallier") == ["C3.6"]
    again = office.get("/bureau/operations/grille/cap-rics")
    html = text_of(again)
    assert 'value="SOUD-MAG|C5"' in html
    refused = office.post("/bureau/operations/grille/cap-rics", data={"cell": ["DEBIT|C3.6"]})
    assert refused.status_code == 422 and "compétence « cap-rics:C3.6 » inconnue" in text_of(
        refused
    )
    assert grid_of("DEBIT", "cap-rics") == ["C3"]
    assert office.get("/bureau/operations/grille/cap-inconnu").status_code == 404


# -- WPS --------------------------------------------------------------------------------------


def test_a_wps_is_created_and_edited_with_french_decimals(office: FlaskClient) -> None:
    data = {
        "code": "WPS-141-PA",
        "process": "141",
        "position": "PA",
        "i_min_a": "60",
        "i_max_a": "90,5",
        "u_min_v": "10",
        "u_max_v": "13",
        "create": "1",
    }
    made = office.post("/bureau/dmos", data=data)
    assert made.status_code == 303, text_of(made)
    row = wps("WPS-141-PA")
    assert row is not None and (row.i_max_a, row.q_min_kj_mm) == (90.5, None)
    edit = text_of(office.get("/bureau/dmos/WPS-141-PA"))
    assert 'value="90.5"' in edit and 'value="60"' in edit
    changed = office.post(
        "/bureau/dmos", data={**data, "create": "0", "q_min_kj_mm": "0.5", "q_max_kj_mm": "1.2"}
    )
    assert changed.status_code == 303
    row = wps("WPS-141-PA")
    assert row is not None and (row.q_min_kj_mm, row.q_max_kj_mm) == (0.5, 1.2)


@pytest.mark.parametrize(
    ("numbers", "message"),
    [
        ({"i_min_a": "nan"}, "nombres finis"),
        ({"i_max_a": "inf"}, "nombres finis"),
        ({"u_max_v": "-inf"}, "nombres finis"),
        ({"i_max_a": "1e308"}, "sous 2000"),
        ({"u_max_v": "1e400"}, "nombres finis"),
        ({"i_min_a": "200", "i_max_a": "160"}, "min < max"),
        ({"u_min_v": "21", "u_max_v": "21"}, "min < max"),
        ({"i_min_a": "-5"}, "positive"),
        ({"i_min_a": "cent"}, "« cent » n'est pas un nombre"),
        ({"q_min_kj_mm": "0.5"}, "donnez le minimum et le maximum"),
        ({"process": "13a"}, "procédé ISO 4063"),
    ],
)
def test_a_wps_with_impossible_numbers_is_refused_in_french(
    office: FlaskClient, numbers: dict[str, str], message: str
) -> None:
    data = {
        "code": "WPS-NEW",
        "process": "135",
        "i_min_a": "160",
        "i_max_a": "200",
        "u_min_v": "21",
        "u_max_v": "25",
        "create": "1",
        **numbers,
    }
    answer = office.post("/bureau/dmos", data=data)
    assert answer.status_code == 422, text_of(answer)
    assert message in text_of(answer)
    assert wps("WPS-NEW") is None


# -- device tokens ----------------------------------------------------------------------------


def test_a_token_is_shown_once_then_revoked_and_refused(office: FlaskClient, app: Any) -> None:
    made = office.post(
        "/bureau/jetons",
        data={"name": "Lecteur poste 3", "station": "ST-SOUD-01", "read": "1", "key": "k1"},
    )
    assert made.status_code == 200 and made.headers["Cache-Control"] == "no-store"
    token = re.search(r'id="jeton" class="token-value" value="(atl_[^"]+)"', text_of(made))
    assert token is not None
    secret = token[1]
    listed = text_of(office.get("/bureau/jetons"))
    assert secret not in listed and secret[:12] in listed and "jamais" in listed
    again = office.post("/bureau/jetons", data={"name": "Lecteur poste 3", "key": "k1"})
    assert secret not in text_of(again) and count(DeviceToken) == 1
    device = app.test_client()
    auth = {"Authorization": f"Bearer {secret}"}
    assert device.get("/api/v1/stations", headers=auth).status_code == 200
    fresh()
    number = db.session.execute(select(DeviceToken.id)).scalar_one()
    revoked = office.post(f"/bureau/jetons/{number}/revoquer")
    assert revoked.status_code == 303
    assert "révoqué" in text_of(office.get("/bureau/jetons"))
    clear_cache()
    scan = device.post(
        "/api/v1/scans",
        json={"event_id": "lecteur-1", "code": "B-0001", "source": "keyboard"},
        headers=auth,
    )
    assert scan.status_code == 401
    assert office.post("/bureau/jetons/999999/revoquer").status_code == 404
    refused = office.post("/bureau/jetons", data={"name": "X", "station": "ST-NULLE-PART"})
    assert refused.status_code == 422 and "Poste inconnu" in text_of(refused)


def test_a_teacher_reaches_none_of_these_pages(teacher_office: FlaskClient) -> None:
    for path in (
        "/bureau/clients",
        "/bureau/postes",
        "/bureau/operations",
        "/bureau/dmos",
        "/bureau/jetons",
        "/bureau/operations/grille/cap-rics",
        "/comptes",
        "/bornes",
    ):
        assert teacher_office.get(path).status_code == 403, path
    assert (
        teacher_office.post("/bureau/clients", data={"code": "C-X", "name": "X"}).status_code == 403
    )
    assert count(Customer) == 1


# -- Bornes and Comptes in the office's frame ---------------------------------------------------


def test_bornes_and_comptes_show_the_office_nav(office: FlaskClient, app: Any) -> None:
    for path in ("/bornes", "/comptes"):
        html = text_of(office.get(path))
        assert 'aria-label="Bureau"' in html and 'href="/bureau/jetons"' in html, path
    made = text_of(office.post("/bornes/activer", data={"station": "ST-KIOSK-1"}))
    path = made.split("http://localhost:8000", 1)[1].split("<", 1)[0]
    assert app.test_client().get(path).status_code == 303
    listed = text_of(office.get("/bornes"))
    assert "Vue pour la dernière fois" in listed and "pas encore de scan" in listed


def test_an_account_is_created_with_a_password_shown_once(office: FlaskClient, app: Any) -> None:
    made = office.post(
        "/comptes/nouveau",
        data={
            "email": "Nouvelle.Prof@Example.org",
            "name": "Mme Roux",
            "role": "teacher",
            "key": "c1",
        },
    )
    assert made.status_code == 200 and made.headers["Cache-Control"] == "no-store"
    found = re.search(r'id="provisoire" class="token-value" value="([^"]+)"', text_of(made))
    assert found is not None
    fresh()
    user = db.session.execute(
        select(StaffUser).where(StaffUser.email == "nouvelle.prof@example.org")
    ).scalar_one()
    assert (user.name, user.role, user.must_change_password) == ("Mme Roux", "teacher", True)
    listed = text_of(office.get("/comptes"))
    assert found[1] not in listed and "Mme Roux" in listed
    browser = app.test_client()
    signed = browser.post(
        "/connexion", data={"email": "nouvelle.prof@example.org", "password": found[1]}
    )
    assert signed.status_code == 302
    twice = office.post(
        "/comptes/nouveau", data={"email": "nouvelle.prof@example.org", "role": "admin"}
    )
    assert twice.status_code == 422 and "existe déjà" in text_of(twice)
    bad = office.post("/comptes/nouveau", data={"email": "pas-une-adresse", "role": "teacher"})
    assert bad.status_code == 422 and "Adresse e-mail invalide" in text_of(bad)


# -- the screen -------------------------------------------------------------------------------


@screen_only
def test_the_school_pages_pass_axe_at_both_sizes(desk: Desk) -> None:
    for path, name in (
        ("/bureau/clients", "school-customers"),
        ("/bureau/postes", "school-stations"),
        ("/bureau/operations", "school-operations"),
        ("/bureau/operations/grille/cap-rics", "school-grid"),
        ("/bureau/dmos", "school-wps"),
        ("/bureau/jetons", "school-tokens"),
        ("/comptes", "school-accounts"),
    ):
        desk.open(path)
        desk.check(name)


@screen_only
def test_a_kiosk_enrolled_at_bornes_is_activated_by_its_link(desk: Desk) -> None:
    desk.open("/bornes")
    desk.page.get_by_label("Poste").select_option("ST-KIOSK-1")
    desk.page.get_by_role("button", name="Créer le lien d'activation").click()
    desk.page.wait_for_load_state()
    link = desk.page.locator(".enrol-url code").inner_text().strip()
    assert "/borne/inscription/" in link
    assert desk.page.locator(".qr svg").count() == 1
    desk.check("school-bornes-link")
    path = link[link.index("/borne/inscription/") :]
    kiosk = desk.page.context.browser.new_context(locale="fr-FR")
    try:
        screen = kiosk.new_page()
        screen.goto(desk.server.url + path)
        screen.wait_for_load_state()
        assert screen.url.endswith("/borne")
        assert "pas activée" not in screen.content()
    finally:
        kiosk.close()
    desk.open("/bornes")
    listed = desk.page.locator("table.list").inner_text()
    assert "ST-KIOSK-1 — Borne atelier" in listed and "active" in listed
