"""The Impressions page and its downloads: who may print, of which site, and what comes back."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app import create_app
from app.config import TestingConfig
from app.extensions import db
from app.models import LabelBatch
from app.printing.documents import workshop_year
from tests.factories import MINIMAL_SCHOOL, load_school, make_staff
from tests.printing.barcodes import pdf_codes, pdf_text, png_codes

PASSWORD = "un-mot-de-passe-long"


def signed_in(client: FlaskClient, email: str = "prof@example.org", site: str | None = None):
    make_staff(email, password=PASSWORD, site=site)
    response = client.post("/connexion", data={"email": email, "password": PASSWORD})
    assert response.status_code == 302
    return client


def attachment(response, filename: str) -> bytes:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.headers["Content-Disposition"] == f'attachment; filename="{filename}"'
    assert response.headers["Cache-Control"] == "no-store"
    return response.get_data()


def french_error(response, status: int, words: str) -> None:
    page = response.get_data(as_text=True)
    assert response.status_code == status, page[:500]
    assert response.mimetype == "text/html"
    assert words in page, page[:2000]


def test_the_page_needs_a_signed_in_teacher(client: FlaskClient, school: None) -> None:
    for path in (
        "/impressions",
        "/impressions/fiche-suiveuse/OF-2026-0001.pdf",
        "/impressions/badges/cap-rics.pdf",
        "/impressions/etiquette/ST-PLASMA.svg",
    ):
        response = client.get(path)
        assert response.status_code == 302 and "/connexion" in response.headers["Location"]
    response = client.post("/impressions/etiquettes/OF-2026-0001", data={"count": "3"})
    assert response.status_code == 302
    assert db.session.execute(select(LabelBatch)).first() is None


def test_the_page_lists_the_work_orders_and_what_can_be_printed(
    client: FlaskClient, school: None
) -> None:
    page = signed_in(client).get("/impressions")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    for words in (
        "OF-2026-0001",
        "Client industriel (fictif)",
        "Console pliée",
        "15/12/2026",
        "Fiche suiveuse",
        "Étiquettes de pièces",
        "CAP Métallier",
        "Planche d'actions",
        "Borne atelier (ST-KIOSK-1)",
        "Étiquettes des postes",
        'href="/impressions/fiche-suiveuse/OF-2026-0001.pdf"',
        'href="/impressions/badges/cap-rics.pdf"',
    ):
        assert words in html, words
    top_bar = client.get("/").get_data(as_text=True)
    assert 'href="/impressions"' in top_bar


def test_a_teacher_downloads_a_traveller_and_a_sheet_of_new_labels(
    client: FlaskClient, school: None
) -> None:
    signed_in(client)
    pdf = attachment(
        client.get("/impressions/fiche-suiveuse/OF-2026-0001.pdf"),
        "fiche-suiveuse-OF-2026-0001.pdf",
    )
    assert pdf.startswith(b"%PDF") and "OF-2026-0001-20" in pdf_codes(pdf)
    year = workshop_year()
    sheet = client.post(
        "/impressions/etiquettes/OF-2026-0001", data={"count": "3", "stock": "3x7", "start": "2"}
    )
    pdf = attachment(sheet, f"etiquettes-OF-2026-0001-P-{year}-000001-a-000003.pdf")
    assert pdf_codes(pdf) == [f"P-{year}-00000{n}" for n in (1, 2, 3)]
    one = client.post("/impressions/etiquettes/OF-2026-0001", data={"count": "1"})
    attachment(one, f"etiquettes-OF-2026-0001-P-{year}-000004.pdf")
    html = client.get("/impressions").get_data(as_text=True)
    assert "4 étiquettes imprimées" in html


@pytest.mark.parametrize(
    ("form", "words"),
    [
        ({"count": "0"}, "Nombre d&#39;étiquettes invalide : 0"),
        ({"count": "trois"}, "Nombre attendu"),
        ({"count": "2", "stock": "9x9"}, "Support d&#39;étiquettes inconnu"),
        ({"count": "2", "start": "30"}, "Début de planche impossible : 30"),
    ],
)
def test_a_bad_sheet_form_answers_400_in_french_and_allocates_nothing(
    client: FlaskClient, school: None, form: dict[str, str], words: str
) -> None:
    response = signed_in(client).post("/impressions/etiquettes/OF-2026-0001", data=form)
    french_error(response, 400, words)
    assert 'role="status"' in response.get_data(as_text=True)
    assert db.session.execute(select(LabelBatch)).first() is None


def test_the_sheet_form_is_protected_against_csrf(database_url: str) -> None:
    app = create_app(TestingConfig(database_url, WTF_CSRF_ENABLED=True))
    with app.app_context():
        load_school()
        make_staff(password=PASSWORD)
        client = app.test_client()
        page = client.get("/connexion").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        client.post(
            "/connexion",
            data={"email": "prof@example.org", "password": PASSWORD, "csrf_token": token[1]},
        )
        refused = client.post("/impressions/etiquettes/OF-2026-0001", data={"count": "2"})
        french_error(refused, 400, "Formulaire expiré")
        assert db.session.execute(select(LabelBatch)).first() is None
        page = client.get("/impressions").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        accepted = client.post(
            "/impressions/etiquettes/OF-2026-0001", data={"count": "2", "csrf_token": token[1]}
        )
        assert accepted.status_code == 200 and accepted.get_data().startswith(b"%PDF")
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


def test_badges_boards_and_station_labels_download_with_useful_names(
    client: FlaskClient, school: None
) -> None:
    signed_in(client)
    pdf = attachment(client.get("/impressions/badges/cap-rics.pdf"), "badges-cap-rics.pdf")
    assert sorted(pdf_codes(pdf)) == ["B-0001", "B-0002"]
    assert "Lucas M." in pdf_text(pdf) and "E2026-001" not in pdf_text(pdf)
    attachment(client.get("/impressions/badges.pdf"), "badges.pdf")
    pdf = attachment(client.get("/impressions/planche-actions.pdf"), "planche-actions.pdf")
    assert "A-AIDE" in pdf_codes(pdf)
    attachment(
        client.get("/impressions/planche-actions.pdf?poste=ST-KIOSK-1"),
        "planche-actions-ST-KIOSK-1.pdf",
    )
    pdf = attachment(
        client.get("/impressions/etiquettes-postes.pdf?support=3x7"), "etiquettes-postes.pdf"
    )
    assert "ST-PLASMA" in pdf_codes(pdf)


def test_one_label_downloads_in_each_format(client: FlaskClient, school: None) -> None:
    signed_in(client)
    svg = attachment(client.get("/impressions/etiquette/ST-PLASMA.svg"), "etiquette-ST-PLASMA.svg")
    assert b"<svg" in svg
    png = attachment(
        client.get("/impressions/etiquette/ST-PLASMA.png?dpi=300"), "etiquette-ST-PLASMA.png"
    )
    assert png_codes(png) == ["ST-PLASMA"]
    pdf = attachment(client.get("/impressions/etiquette/B-0003.pdf"), "etiquette-B-0003.pdf")
    assert pdf_codes(pdf) == ["B-0003"] and "Léa C." in pdf_text(pdf)
    zpl = attachment(client.get("/impressions/etiquette/A-FIN.zpl"), "etiquette-A-FIN.zpl")
    assert zpl.startswith(b"^XA") and b"Terminer" in zpl


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/impressions/etiquette/ST-PLASMA.gif", 400, "Format inconnu : gif"),
        ("/impressions/etiquette/ST-PLASMA.png?dpi=600", 400, "Résolution invalide : 600"),
        ("/impressions/etiquette/ST-PLASMA.png?dpi=beaucoup", 400, "Nombre attendu"),
        ("/impressions/etiquette/P-26-1.svg", 400, "n&#39;est pas un code de l&#39;atelier"),
        ("/impressions/fiche-suiveuse/OF-2026-9999.pdf", 404, "OF inconnu : OF-2026-9999."),
        ("/impressions/badges/cap-inconnu.pdf", 404, "Référentiel inconnu : cap-inconnu."),
        ("/impressions/planche-actions.pdf?poste=ST-NULLE", 404, "Poste inconnu : ST-NULLE."),
        ("/impressions/etiquettes-postes.pdf?support=A5", 400, "Support d&#39;étiquettes"),
    ],
)
def test_a_bad_download_answers_in_french_never_a_500(
    client: FlaskClient, school: None, path: str, status: int, words: str
) -> None:
    french_error(signed_in(client).get(path), status, words)


def test_a_teacher_of_another_school_gets_404_for_this_schools_documents(
    client: FlaskClient, app: Flask
) -> None:
    load_school()
    load_school(
        MINIMAL_SCHOOL,
        text=MINIMAL_SCHOOL.read_text("utf-8")
        .replace("site: belfort", "site: mulhouse")
        .replace("mqtt_device: ws0", "mqtt_device: mws0")
        .replace("number: OF-2026-0001", "number: OF-2026-0101")
        .replace("id: cap-rics", "id: cap-rics-68")
        .replace("cap-rics:", "cap-rics-68:")
        .replace("framework: cap-rics,", "framework: cap-rics-68,")
        .replace("m.perrin@example.org", "m.klein@example.org"),
    )
    signed_in(client, "prof@mulhouse.example.org", site="mulhouse")
    french_error(client.get("/impressions/fiche-suiveuse/OF-2026-0001.pdf"), 404, "OF inconnu")
    french_error(client.get("/impressions/badges/cap-rics.pdf"), 404, "Référentiel inconnu")
    response = client.post("/impressions/etiquettes/OF-2026-0001", data={"count": "2"})
    french_error(response, 404, "OF inconnu")
    assert db.session.execute(select(LabelBatch)).first() is None
    html = client.get("/impressions").get_data(as_text=True)
    assert "OF-2026-0101" in html and "OF-2026-0001" not in html
    ok = client.get("/impressions/fiche-suiveuse/OF-2026-0101.pdf")
    assert ok.status_code == 200


def test_the_one_label_form_leads_to_the_labels_address(client: FlaskClient, school: None) -> None:
    signed_in(client)
    response = client.get("/impressions/etiquette?code=st-plasma&format=png&dpi=300")
    assert response.status_code == 302
    assert response.headers["Location"] == "/impressions/etiquette/ST-PLASMA.png?dpi=300"
    french_error(client.get("/impressions/etiquette?code=%C3%A9%22&format=png"), 400, "clavier")


def test_the_page_names_the_students_of_a_class_without_a_printed_badge(
    client: FlaskClient, app: Flask
) -> None:
    load_school(
        MINIMAL_SCHOOL,
        text=MINIMAL_SCHOOL.read_text("utf-8").replace(
            'badges: ["0B0051E6F2", "B-0004"]', 'badges: ["0B0051E6F2"]'
        ),
    )
    html = signed_in(client).get("/impressions").get_data(as_text=True)
    assert "Sans badge imprimé : Hugo L." in html
    pdf = attachment(
        client.get("/impressions/badges/cap-metallier.pdf"), "badges-cap-metallier.pdf"
    )
    assert pdf_codes(pdf) == ["B-0003"]


def test_a_sheet_for_a_thermal_printer_downloads_as_a_zpl_roll(
    client: FlaskClient, school: None
) -> None:
    signed_in(client)
    year = workshop_year()
    response = client.post(
        "/impressions/etiquettes/OF-2026-0001",
        data={"count": "2", "stock": "3x8", "start": "5", "printer": "zpl-203"},
    )
    zpl = attachment(response, f"etiquettes-OF-2026-0001-P-{year}-000001-a-000002.zpl")
    assert response.mimetype == "application/x-zpl"
    text = zpl.decode("utf-8")
    assert text.count("^XA") == 2 and "^PW559" in text  # 70 mm at 203 dpi
    assert f"^FDP-{year}-000002^FS" in text
    french_error(
        client.post(
            "/impressions/etiquettes/OF-2026-0001", data={"count": "2", "printer": "laser"}
        ),
        400,
        "Imprimante inconnue",
    )
