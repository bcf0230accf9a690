"""The office's work orders and routing templates: create, edit, close, print.

Through the Flask client on both databases; a piece is started through the scan API (the
path a kiosk's scans take), so « a piece has started » is the shop's own. The browser test
(screen_only: its database behaviour is the client tests') creates an order from a
template, fetches its traveller and runs axe-core on the pages.
"""

from __future__ import annotations

import html
from typing import Any

import pypdfium2
import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.models import Assignment, Event, Operation, RoutingTemplate, Student, WorkOrder
from tests.factories import Scanner, make_token
from tests.office.conftest import Desk, text_of
from tests.support.backends import screen_only
from tests.support.browser import sync_api

LUCAS_BADGE = "0A00F1C2D3"  # E2026-001, cap-rics


def shown(response: Any) -> str:
    """Return a page's text with its HTML entities read."""
    return html.unescape(text_of(response))


def steps_form(*steps: tuple[str, str, str]) -> dict[str, str]:
    """Return the routing table's fields for these (step, type, wps) rows, and empty rows."""
    data: dict[str, str] = {}
    rows = [*steps, ("", "", ""), ("", "", "")]
    for index, (step, kind, wps) in enumerate(rows):
        data[f"step_{index}"] = step
        data[f"type_{index}"] = kind
        data[f"wps_{index}"] = wps
    return data


def order_form(**fields: str) -> dict[str, str]:
    """Return the « Nouvel OF » form, routing left empty, with these fields changed."""
    data = {
        "customer": "C-TEST",
        "product": "Garde-corps",
        "quantity": "3",
        "due_on": "2027-02-01",
        "drawing": "PL-12",
        "number": "",
        "template": "",
        "copy_of": "",
    }
    data.update(steps_form())
    data.update(fields)
    return data


def order(number: str) -> WorkOrder | None:
    """Return a work order as the database has it now."""
    db.session.expire_all()
    return db.session.execute(
        select(WorkOrder).where(WorkOrder.number == number)
    ).scalar_one_or_none()


def routing(number: str) -> list[tuple[int, str, str | None]]:
    """Return an order's routing as (step, type code, WPS code)."""
    found = order(number)
    assert found is not None
    return [
        (op.step, op.operation_type.code, op.wps.code if op.wps else None)
        for op in found.operations
    ]


def orders_count() -> int:
    """Count the site's work orders."""
    return int(db.session.execute(select(func.count()).select_from(WorkOrder)).scalar_one())


def save_template(client: FlaskClient, code: str = "SUPPORT-3") -> Any:
    """Post the « Nouvelle gamme » form for a three-step template."""
    data = {"code": code, "name": "Support soudé, 3 étapes", "product": "Support soudé"}
    data.update(
        steps_form(("10", "DEBIT", ""), ("20", "SOUD-MAG", "WPS-135-PB"), ("30", "CONTROLE", ""))
    )
    return client.post("/bureau/gammes/nouvelle", data=data)


def test_a_template_is_saved_then_an_order_made_from_it_copies_its_steps(
    office: FlaskClient,
) -> None:
    response = save_template(office)
    assert response.status_code == 303, shown(response)
    assert "SUPPORT-3" in shown(office.get("/bureau/gammes"))
    response = office.post("/bureau/of/nouveau", data=order_form(product="", template="SUPPORT-3"))
    assert response.status_code == 303, shown(response)
    assert response.headers["Location"].endswith("/bureau/of/OF-2026-0003")
    made = order("OF-2026-0003")
    assert made is not None
    assert made.product == "Support soudé"
    assert made.made_from == "SUPPORT-3"
    assert made.status == "open" and made.created_at is not None
    assert routing("OF-2026-0003") == [
        (10, "DEBIT", None),
        (20, "SOUD-MAG", "WPS-135-PB"),
        (30, "CONTROLE", None),
    ]
    # Changing the template later changes no order made from it.
    data = {"name": "Support", "product": "Support", "active": "1"}
    data.update(steps_form(("10", "DEBIT", "")))
    assert office.post("/bureau/gammes/SUPPORT-3", data=data).status_code == 303
    assert len(routing("OF-2026-0003")) == 3
    page = shown(office.get("/bureau/of/OF-2026-0003"))
    assert "/impressions/fiche-suiveuse/OF-2026-0003.pdf" in page
    assert "/impressions/etiquettes/OF-2026-0003" in page


def test_an_order_copied_from_another_takes_its_steps_product_and_drawing(
    office: FlaskClient,
) -> None:
    response = office.post(
        "/bureau/of/nouveau",
        data=order_form(product="", drawing="", copy_of="OF-2026-0001", number="OF-2026-0042"),
    )
    assert response.status_code == 303, shown(response)
    made = order("OF-2026-0042")
    assert made is not None
    assert (made.product, made.made_from) == ("Support soudé", "OF-2026-0001")
    assert routing("OF-2026-0042") == routing("OF-2026-0001")
    # The next number follows the highest of the year.
    response = office.post("/bureau/of/nouveau", data=order_form(copy_of="OF-2026-0002"))
    assert response.headers["Location"].endswith("/bureau/of/OF-2026-0043")


def test_an_order_with_its_steps_typed_is_created(office: FlaskClient) -> None:
    data = order_form()
    data.update(steps_form(("10", "DEBIT", ""), ("", "PLIAGE", "")))
    response = office.post("/bureau/of/nouveau", data=data)
    assert response.status_code == 303, shown(response)
    assert routing("OF-2026-0003") == [(10, "DEBIT", None), (20, "PLIAGE", None)]
    listing = shown(office.get("/bureau/of"))
    assert listing.index("OF-2026-0001") < listing.index("OF-2026-0002")
    assert "Garde-corps" in listing


@pytest.mark.parametrize(
    ("fields", "steps", "message"),
    [
        ({"customer": "NOBODY"}, [("10", "DEBIT", "")], "Client « NOBODY » inconnu"),
        ({"quantity": "0"}, [("10", "DEBIT", "")], "Quantité : de 1 à 10000"),
        ({"quantity": "beaucoup"}, [("10", "DEBIT", "")], "nombre entier attendu"),
        ({"due_on": "2099-01-01"}, [("10", "DEBIT", "")], "Date de livraison"),
        ({}, [], "au moins une étape"),
        ({}, [("10", "DEBIT", ""), ("10", "PLIAGE", "")], "L'étape 10 apparaît deux fois"),
        ({}, [("10", "SOUDER", "")], "type d'opération « SOUDER » inconnu"),
        ({}, [("10", "SOUD-MAG", "WPS-X")], "DMOS « WPS-X » inconnu"),
        ({"number": "OF-2026-0001"}, [("10", "DEBIT", "")], "déjà pris"),
        ({"number": "42"}, [("10", "DEBIT", "")], "attendu OF-AAAA-NNNN"),
        ({"template": "NOPE"}, [], "Gamme « NOPE » inconnue"),
    ],
)
def test_a_bad_order_is_refused_in_french_and_nothing_is_created(
    office: FlaskClient, fields: dict[str, str], steps: list[tuple[str, str, str]], message: str
) -> None:
    before = orders_count()
    data = order_form(**fields)
    data.update(steps_form(*steps))
    response = office.post("/bureau/of/nouveau", data=data)
    assert response.status_code == 422
    assert message in shown(response)
    assert 'value="Garde-corps"' in text_of(response)  # the values typed are kept
    assert orders_count() == before


def test_a_template_code_is_taken_once(office: FlaskClient) -> None:
    data = {"code": "T1", "name": "T1", "product": ""}
    data.update(steps_form(("10", "DEBIT", ""), ("20", "DEBIT", "WPS-135-PB")))
    response = office.post("/bureau/gammes/nouvelle", data=data)
    # DEBIT has no process: a WPS is accepted there as the school file accepts it.
    assert response.status_code == 303
    before = db.session.execute(select(func.count()).select_from(RoutingTemplate)).scalar()
    response = save_template(office, code="T1")
    assert response.status_code == 422
    assert "existe déjà" in shown(response)
    assert db.session.execute(select(func.count()).select_from(RoutingTemplate)).scalar() == before


def edit_form(**fields: str) -> dict[str, str]:
    """Return the order page's form for OF-2026-0001 with a routing, fields changed."""
    data = {
        "customer": "C-TEST",
        "product": "Support soudé v2",
        "quantity": "5",
        "due_on": "2026-12-20",
        "drawing": "",
        "routing": "1",
    }
    data.update(steps_form(("10", "DEBIT", ""), ("20", "SOUD-MAG", "WPS-135-PB")))
    data.update(fields)
    return data


def test_the_routing_changes_until_a_piece_starts_then_only_the_header(
    client: FlaskClient, office: FlaskClient
) -> None:
    response = office.post("/bureau/of/OF-2026-0001", data=edit_form())
    assert response.status_code == 303, shown(response)
    assert routing("OF-2026-0001") == [(10, "DEBIT", None), (20, "SOUD-MAG", "WPS-135-PB")]
    found = order("OF-2026-0001")
    assert found is not None and (found.product, found.quantity) == ("Support soudé v2", 5)
    scanner = Scanner(client, make_token("ST-PLASMA"))
    scanner.ok(LUCAS_BADGE)
    scanner.ok("OF-2026-0001-10")
    scanner.ok("P-2026-000001")
    data = edit_form(product="Support soudé v3")
    data.update(steps_form(("10", "DEBIT", "")))
    response = office.post("/bureau/of/OF-2026-0001", data=data)
    assert response.status_code == 422
    assert "Une pièce de cet OF est déjà commencée : la gamme ne change plus" in shown(response)
    found = order("OF-2026-0001")
    assert found is not None and found.product == "Support soudé v2"
    assert len(routing("OF-2026-0001")) == 2
    # The page says why the routing is locked, and the header still changes.
    page = shown(office.get("/bureau/of/OF-2026-0001"))
    assert "la gamme ne change plus" in page
    assert "P-2026-000001" in page
    data = edit_form(product="Support soudé v3")
    del data["routing"]
    assert office.post("/bureau/of/OF-2026-0001", data=data).status_code == 303
    found = order("OF-2026-0001")
    assert found is not None and found.product == "Support soudé v3"


def open_assignments() -> int:
    """Count the assignments in force."""
    db.session.expire_all()
    return int(
        db.session.execute(
            select(func.count()).select_from(Assignment).where(Assignment.ended_at.is_(None))
        ).scalar_one()
    )


def test_closing_an_order_asks_first_ends_its_assignments_and_the_kiosk_refuses_it(
    client: FlaskClient, office: FlaskClient
) -> None:
    given = office.post(
        "/bureau/affectations", data={"operation": "OF-2026-0001-10", "student": "E2026-001"}
    )
    assert given.status_code == 303, shown(given)
    assert open_assignments() == 1
    asked = office.post("/bureau/of/OF-2026-0001/statut", data={"status": "closed"})
    assert asked.status_code == 200
    assert "Clôturer l'OF OF-2026-0001 ?" in shown(asked)
    assert order("OF-2026-0001").status == "open"  # type: ignore[union-attr]
    done = office.post("/bureau/of/OF-2026-0001/statut", data={"status": "closed", "confirm": "1"})
    assert done.status_code == 303
    closed = order("OF-2026-0001")
    assert closed is not None and closed.status == "closed" and closed.closed_at is not None
    assert open_assignments() == 0
    scanner = Scanner(client, make_token("ST-PLASMA"))
    scanner.ok(LUCAS_BADGE)
    refused = scanner.refused("OF-2026-0001-10", "not_allowed")
    assert "OF clôturé" in refused["error"]["message"]
    refused = scanner.refused("OF-2026-0001", "not_allowed")
    assert "OF clôturé" in refused["error"]["message"]
    # A closed order's header no longer changes; reopened, it does.
    response = office.post("/bureau/of/OF-2026-0001", data=edit_form())
    assert response.status_code == 422
    assert "rouvrez-le" in shown(response)
    office.post("/bureau/of/OF-2026-0001/statut", data={"status": "open", "confirm": "1"})
    assert order("OF-2026-0001").status == "open"  # type: ignore[union-attr]
    scanner.ok("OF-2026-0001-10")


def test_a_piece_label_of_a_cancelled_order_is_refused_at_the_kiosk(
    client: FlaskClient, office: FlaskClient
) -> None:
    scanner = Scanner(client, make_token("ST-PLASMA"))
    scanner.ok(LUCAS_BADGE)
    scanner.ok("OF-2026-0002-10")
    scanner.ok("P-2026-000001")
    scanner.ok("A-FIN")
    done = office.post(
        "/bureau/of/OF-2026-0002/statut", data={"status": "cancelled", "confirm": "1"}
    )
    assert done.status_code == 303
    refused = scanner.refused("P-2026-000001", "not_allowed")
    assert "OF annulé" in refused["error"]["message"]
    listing = shown(office.get("/bureau/of?statut=cancelled"))
    assert "OF-2026-0002" in listing and "OF-2026-0001" not in listing


def test_a_teacher_makes_an_order_and_a_template(teacher_office: FlaskClient) -> None:
    assert teacher_office.get("/bureau/of").status_code == 200
    assert teacher_office.get("/bureau/gammes").status_code == 200
    assert save_template(teacher_office).status_code == 303
    response = teacher_office.post("/bureau/of/nouveau", data=order_form(template="SUPPORT-3"))
    assert response.status_code == 303
    event = db.session.execute(
        select(Event).where(Event.kind == "office.work_order").order_by(Event.id.desc())
    ).scalar_one()
    assert event.status == "accepted" and event.user_id is not None


def test_an_unknown_order_or_template_is_404(office: FlaskClient) -> None:
    assert office.get("/bureau/of/OF-2026-0999").status_code == 404
    assert office.get("/bureau/gammes/NOPE").status_code == 404
    assert (
        office.post("/bureau/of/OF-2026-0999/statut", data={"status": "closed"}).status_code == 404
    )


def pdf_text(data: bytes) -> str:
    """Return the text of a PDF's pages."""
    document = pypdfium2.PdfDocument(data)
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in document)
    finally:
        document.close()


@screen_only
def test_an_order_is_made_from_a_template_at_the_desk_and_its_traveller_printed(
    desk: Desk,
) -> None:
    page = desk.page
    desk.open("/bureau/gammes/nouvelle")
    desk.check("orders-template-new")
    page.get_by_label("Code").fill("SUPPORT-3")
    page.get_by_label("Nom", exact=True).fill("Support soudé, 3 étapes")
    page.get_by_label("Produit").fill("Support soudé")
    page.get_by_label("Type d'opération de l'étape 1").select_option("DEBIT")
    page.get_by_label("Type d'opération de l'étape 2").select_option("SOUD-MAG")
    page.get_by_label("DMOS de l'étape 2").select_option("WPS-135-PB")
    page.get_by_role("button", name="Ajouter une étape").click()
    page.get_by_role("button", name="Enregistrer la gamme").click()
    sync_api.expect(page.get_by_text("Gamme SUPPORT-3 créée.")).to_be_visible()
    desk.check("orders-templates")
    desk.open("/bureau/of/nouveau")
    desk.check("orders-new")
    page.get_by_label("Gamme type").select_option("SUPPORT-3")
    page.get_by_label("Quantité").fill("2")
    page.get_by_role("button", name="Créer l'OF").click()
    sync_api.expect(page.get_by_text("OF-2026-0003 créé (2 étapes).")).to_be_visible()
    desk.check("orders-order")
    link = page.get_by_role("link", name="Fiche suiveuse (PDF)")
    response = page.request.get(desk.server.url + str(link.get_attribute("href")))
    assert response.status == 200
    body = response.body()
    assert body.startswith(b"%PDF")
    assert "OF-2026-0003" in pdf_text(body)
    desk.open("/bureau/of")
    desk.check("orders-list")
    desk.open("/bureau/affectations")
    desk.check("assign-index")
    assert desk.problems == []


def test_the_students_are_untouched_by_the_orders_pages(office: FlaskClient) -> None:
    before = db.session.execute(select(func.count()).select_from(Student)).scalar()
    office.get("/bureau/of")
    office.get("/bureau/affectations")
    assert db.session.execute(select(func.count()).select_from(Student)).scalar() == before
    assert db.session.execute(select(func.count()).select_from(Operation)).scalar() == 5
