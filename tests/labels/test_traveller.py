"""The traveller sheet (fiche suiveuse): pages, barcodes and French texts."""

from __future__ import annotations

from datetime import date

import pytest

from labels import pdf
from labels.barcode import InvalidCode
from labels.pdf import (
    COLUMNS,
    HEADER_MM,
    MARGIN_MM,
    ROW_MM,
    TABLE_HEAD_MM,
    Traveller,
    TravellerStep,
    WpsRange,
)
from tests.labels.support import crop_mm, decode, pages, texts

MAG = WpsRange("WPS-135-PB", "135", "PB", (160, 200), (21, 25), (0.8, 1.2))
TIG = WpsRange("WPS-141-PA", "141", None, (90.5, 120), (10, 14))
OPERATIONS = [
    "Débit scie à ruban",
    "Soudage MAG des montants et de la traverse",
    "Meulage",
    "Contrôle visuel et dimensionnel",
]


def sheet(count: int, **changes: object) -> Traveller:
    steps = tuple(
        TravellerStep(
            4 * (index + 1),
            f"OF-2026-0042-{4 * (index + 1):02d}",
            OPERATIONS[index % 4],
            MAG if index % 4 == 1 else (TIG if index % 8 == 3 else None),
        )
        for index in range(count)
    )
    fields: dict[str, object] = {
        "number": "OF-2026-0042",
        "customer": "Mairie de Belfort",
        "product": "Support soudé pour jardinière",
        "quantity": 12,
        "due_on": date(2026, 12, 15),
        "drawing": None,
        "steps": steps,
        "school": "École de Production de Belfort",
    }
    fields.update(changes)
    return Traveller(**fields)  # type: ignore[arg-type]


def row_box(index: int) -> tuple[float, float, float, float]:
    per_page = int((297 - MARGIN_MM - 8 - MARGIN_MM - HEADER_MM - TABLE_HEAD_MM) // ROW_MM)
    code_x = MARGIN_MM + COLUMNS[0][1] + COLUMNS[1][1]
    top = MARGIN_MM + HEADER_MM + TABLE_HEAD_MM + (index % per_page) * ROW_MM
    return code_x, top, COLUMNS[2][1], ROW_MM


def test_a_long_routing_spills_over_pages_each_with_the_of_barcode_and_its_number() -> None:
    traveller = sheet(14)
    data = pdf.traveller(traveller)
    page_texts = texts(data)
    assert len(page_texts) == 2
    for dpi in (300, 150):
        images = pages(data, dpi)
        for page_no, image in enumerate(images, start=1):
            header = crop_mm(image, dpi, 110, 0, 100, MARGIN_MM + 24)
            assert decode(header) == ["OF-2026-0042"], (dpi, page_no)
            assert f"page {page_no}/2" in page_texts[page_no - 1]
        per_page = 8
        for index, step in enumerate(traveller.steps):
            image = images[index // per_page]
            assert decode(crop_mm(image, dpi, *row_box(index))) == [step.code], (dpi, step.code)


def test_a_very_long_routing_numbers_its_pages_out_of_three() -> None:
    data = pdf.traveller(sheet(20))
    page_texts = texts(data)
    assert len(page_texts) == 3
    assert [f"page {n}/3" in text for n, text in enumerate(page_texts, start=1)] == [True] * 3
    found = [code for image in pages(data, 150) for code in decode(image)]
    assert sorted(set(found)) == sorted({"OF-2026-0042"} | {s.code for s in sheet(20).steps})
    assert found.count("OF-2026-0042") == 3


def test_the_header_and_the_routing_are_in_french_with_their_accents() -> None:
    text = texts(pdf.traveller(sheet(3)))[0]
    lines = text.splitlines()
    for expected in (
        "Fiche suiveuse",
        "OF-2026-0042",
        "École de Production de Belfort",
        "Client : Mairie de Belfort",
        "Produit : Support soudé pour jardinière",
        "Quantité : 12",
        "Échéance : 15/12/2026",
        "Plan : —",
        "Débit scie à ruban",
        "DMOS WPS-135-PB · procédé 135 · PB",
        "160–200 A · 21–25 V",
        "0,8–1,2 kJ/mm",
        "Étape Opération Code à scanner Élève · date Fait Notes",
        "Remarques, contrôles, retouches :",
        "OF-2026-0042 · Support soudé pour jardinière page 1/1",
    ):
        assert expected in lines, expected


def test_a_drawing_reference_a_missing_due_date_and_decimal_ranges_are_shown() -> None:
    text = texts(pdf.traveller(sheet(4, drawing="PL-0042 ind. B", due_on=None)))[0]
    lines = text.splitlines()
    assert "Plan : PL-0042 ind. B" in lines
    assert "Échéance : —" in lines
    assert "DMOS WPS-141-PA · procédé 141" in lines
    assert "90,5–120 A · 10–14 V" in lines


def test_a_step_of_another_work_order_is_refused() -> None:
    wrong = sheet(2, steps=(TravellerStep(10, "OF-2026-0043-10", "Débit"),))
    with pytest.raises(InvalidCode, match="n'est pas une opération de l'OF OF-2026-0042"):
        pdf.traveller(wrong)
    with pytest.raises(InvalidCode, match="numéro d'OF"):
        pdf.traveller(sheet(1, number="P-2026-000001"))
