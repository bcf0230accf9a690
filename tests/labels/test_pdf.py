"""PDF sheets, badges and a single label, rasterised with pdfium and decoded with zxing-cpp."""

from __future__ import annotations

import pypdfium2 as pdfium
import pytest

from labels import pdf
from labels.barcode import InvalidCode, LayoutError
from labels.content import Label
from labels.stock import STOCKS, InvalidStock, Stock, get_stock
from tests.labels.support import cell, decode, pages, texts

SCHOOL = "École de Production de Belfort"
FIRST_NAMES = [
    "Lucas",
    "Émile",
    "Zoé",
    "Maëlys",
    "Noé",
    "Inès",
    "Loïc",
    "Anaïs",
    "Çağan",
    "Łukasz",
    "Ödön",
    "Şule",
    "Chloé",
    "Léa",
    "Jérôme",
    "Cœlio",
    "Hélène",
    "Gaëtan",
    "Rémi",
    "Bérénice",
    "Théo",
    "Inaya",
    "Ewa",
    "Joël",
    "Aurélien",
    "Océane",
    "Adèle",
    "Mathéo",
    "Zélie",
    "Ibrahim",
]
CLASS = [
    Label(f"B-{index + 1:04d}", f"{name} {'MDŁÇEŐ'[index % 6]}.", (SCHOOL,))
    for index, name in enumerate(FIRST_NAMES)
]


def piece_labels(count: int, first: int = 1) -> list[Label]:
    return [
        Label(f"P-2026-{number:06d}", None, ("OF-2026-0042", "Support soudé"))
        for number in range(first, first + count)
    ]


def decoded_positions(data: bytes, stock: Stock, dpi: int, used: int) -> list[list[str]]:
    """Decode each label cell of every page, from the first used position to the last."""
    found = []
    for page_index, image in enumerate(pages(data, dpi)):
        for position in range(stock.per_page):
            if page_index == 0 and position < used:
                assert decode(cell(image, dpi, stock, position)) == [], "a used place was printed"
                continue
            found.append(decode(cell(image, dpi, stock, position)))
    return found


@pytest.mark.parametrize("dpi", [300, 150])
@pytest.mark.parametrize("name", sorted(STOCKS))
def test_every_label_of_a_full_sheet_decodes_at_its_place(name: str, dpi: int) -> None:
    stock = get_stock(name)
    labels = piece_labels(stock.per_page)
    data = pdf.label_sheet(labels, stock)
    assert len(pages(data, 72)) == 1
    assert decoded_positions(data, stock, dpi, 0) == [[label.code] for label in labels]


@pytest.mark.parametrize(("name", "start"), [("3x8", 5), ("3x7", 20), ("2x7", 1)])
def test_a_sheet_started_after_used_places_continues_on_new_pages(name: str, start: int) -> None:
    stock = get_stock(name)
    labels = piece_labels(stock.per_page + 3)
    data = pdf.label_sheet(labels, name, start=start)
    found = decoded_positions(data, stock, 150, start)
    printed = [codes[0] for codes in found if codes]
    assert printed == [label.code for label in labels]
    assert all(codes for codes in found[: len(labels)])


def test_a_ten_page_sheet_holds_240_labels_in_order() -> None:
    labels = piece_labels(240)
    data = pdf.label_sheet(labels, "3x8")
    rendered = pages(data, 72)
    assert len(rendered) == 10
    page_texts = texts(data)
    assert "P-2026-000001" in page_texts[0] and "P-2026-000240" in page_texts[9]
    stock = get_stock("3x8")
    last = pages(data, 150)[9]
    assert decode(cell(last, 150, stock, 23)) == ["P-2026-000240"]


def test_sheet_text_is_extracted_exactly_with_its_accents() -> None:
    data = pdf.label_sheet([Label("ST-SOUD-03", "Poste soudure — MAG", ("Cabine n° 3 : œuvre",))])
    # DejaVu Sans is embedded, as a subset: the whole font alone weighs 740 KiB.
    assert b"/FontFile2" in data and len(data) < 100_000
    lines = texts(data)[0].splitlines()
    assert lines == ["Poste soudure — MAG", "Cabine n° 3 : œuvre", "ST-SOUD-03"]


def test_a_class_of_thirty_badges_decodes_badge_by_badge() -> None:
    data = pdf.badge_sheet(CLASS)
    stock = get_stock("carte")
    for dpi in (300, 150):
        assert decoded_positions(data, stock, dpi, 0) == [[badge.code] for badge in CLASS]


def test_a_badge_prints_its_holder_code_and_school_and_nothing_else() -> None:
    data = pdf.badge_sheet(CLASS, start=3)
    printed = "\n".join(texts(data)).split()
    expected = [
        word
        for badge in CLASS
        for text in (badge.title, badge.code, SCHOOL)
        for word in (text or "").split()
    ]
    assert sorted(printed) == sorted(expected)
    assert "Zoé" in printed and "Łukasz" in printed and "Şule" in printed


def test_a_badge_refuses_more_than_the_school_line() -> None:
    with pytest.raises(ValueError, match="nom de l'école"):
        pdf.badge_sheet([Label("B-0001", "Lucas M.", (SCHOOL, "né le 01/02/2010"))])


@pytest.mark.parametrize(
    ("code", "wider"),
    [
        ("P-2026-000123", False),
        ("OF-2026-0042-20", False),  # fits 70 mm at the narrowest module only
        ("ST-" + "-".join(["SOUDAGE"] * 6), True),
    ],
)
def test_a_single_label_page_is_70_by_37_mm_and_wider_for_a_long_code(
    code: str, wider: bool
) -> None:
    data = pdf.single_label_pdf(Label(code, "Soudage MAG", ("OF-2026-0042",)))
    assert decode(pages(data, 300)[0]) == [code]
    assert decode(pages(data, 150)[0]) == [code]
    document = pdfium.PdfDocument(data)
    width, height = (round(value / 72 * 25.4) for value in document[0].get_size())
    document.close()
    assert height == 37
    assert width > 70 if wider else width == 70
    assert texts(data)[0].splitlines() == ["Soudage MAG", "OF-2026-0042", code]


def test_a_long_station_code_on_small_stock_is_refused_before_anything_is_drawn() -> None:
    code = "ST-" + "-".join(["SOUDAGE"] * 6)
    with pytest.raises(LayoutError, match="trop long pour une étiquette"):
        pdf.label_sheet([*piece_labels(3), Label(code)], "3x8")
    assert pdf.label_sheet([Label("ST-SOUD-03")], "2x7")


def test_too_much_text_for_the_bars_is_refused_in_french() -> None:
    crowded = Label("P-2026-000001", "Titre", tuple(f"ligne {n}" for n in range(6)))
    with pytest.raises(LayoutError, match="10 mm"):
        pdf.label_sheet([crowded])


def test_bad_codes_stock_and_start_are_refused_in_french() -> None:
    with pytest.raises(InvalidCode, match="n'est pas un code de l'atelier"):
        pdf.label_sheet([Label("of-2026-é")])
    with pytest.raises(InvalidStock) as unknown:
        pdf.label_sheet(piece_labels(1), "4x10")
    assert "« 4x10 »" in unknown.value.message and "« 3x8 »" in unknown.value.message
    with pytest.raises(ValueError, match="24 places"):
        pdf.label_sheet(piece_labels(1), "3x8", start=24)
    with pytest.raises(ValueError, match="Aucune étiquette"):
        pdf.label_sheet([])


def test_stock_geometry_fits_an_a4_page() -> None:
    for stock in STOCKS.values():
        right = stock.left_mm + (stock.columns - 1) * stock.pitch_x_mm + stock.label_w_mm
        bottom = stock.top_mm + (stock.rows - 1) * stock.pitch_y_mm + stock.label_h_mm
        assert right <= 210 + 0.05 and bottom <= 297 + 0.05
        assert stock.pitch_x_mm >= stock.label_w_mm and stock.pitch_y_mm >= stock.label_h_mm
    assert get_stock("3x8").per_page == 24 and get_stock("carte").per_page == 10


def test_line_breaks_and_control_characters_in_texts_print_as_spaces() -> None:
    label = Label("P-2026-000001", "Support\nsoudé\t\x00", ("ligne\r\nsuivante",))
    lines = texts(pdf.label_sheet([label]))[0].splitlines()
    assert lines == ["Support soudé", "ligne suivante", "P-2026-000001"]


def test_an_empty_routing_still_prints_one_page() -> None:
    sheet = pdf.Traveller("OF-2026-0001", "Client", "Produit", 1, None, None, ())
    (text,) = texts(pdf.traveller(sheet))
    assert "page 1/1" in text and "Plan : —" in text
