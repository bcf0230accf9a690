"""Code 128 of the workshop's codes: validation, patterns, PNG and SVG decoded back."""

from __future__ import annotations

import io
import re
import xml.dom.minidom
from typing import cast

import barcode as python_barcode
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from labels import codes
from labels.barcode import (
    MAX_MODULE_MM,
    MIN_MODULE_MM,
    InvalidCode,
    LayoutError,
    bars,
    check_code,
    module_dots,
    module_mm,
    modules,
    png,
    svg,
)
from labels.codes import ACTION_HINTS, ACTION_WORDS, Action, CodeError, parse_code
from labels.content import Label
from tests.labels.support import decode_png

EXAMPLES = [
    "OF-2026-0042",
    "OF-2026-0042-20",
    "P-2026-000123",
    "ST-SOUD-03",
    "B-0001",
    "04A1B2C3D4",
    *[action.value for action in Action],
]


def _bounded(pattern: re.Pattern[str]) -> st.SearchStrategy[str]:
    # The grammar refuses non-ASCII text before its patterns run: generate ASCII digits only.
    ascii_pattern = re.compile(pattern.pattern, re.ASCII)
    return st.from_regex(ascii_pattern, fullmatch=True).filter(
        lambda text: len(text) <= codes.MAX_CODE_LENGTH
    )


VALID_CODES = st.one_of(
    _bounded(codes.WORK_ORDER_PATTERN),
    _bounded(codes.OPERATION_PATTERN),
    _bounded(codes.PIECE_PATTERN),
    _bounded(codes.STATION_PATTERN).filter(lambda text: len(text) <= 24),
    _bounded(codes.PRINTED_BADGE_PATTERN),
    _bounded(codes.RFID_BADGE_PATTERN),
    st.sampled_from([action.value for action in Action]),
)
FAST = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.mark.parametrize("code", EXAMPLES)
def test_every_example_code_of_the_contract_is_its_own_payload(code: str) -> None:
    assert check_code(code) == code


def test_lowercase_and_blanks_give_the_canonical_payload() -> None:
    assert check_code("  of-2026-0042-20\r\n") == "OF-2026-0042-20"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('P)éàé-)àààà&é"', "mauvais clavier"),
        ("", "vide"),
        ("hello world", "codes sont ceux de l'atelier"),
        ("OF-26-42", "codes sont ceux de l'atelier"),
        ("A-DANSE", "action inconnue : A-DANSE"),
    ],
)
def test_text_that_is_not_a_code_is_refused_in_french(text: str, words: str) -> None:
    with pytest.raises(InvalidCode) as refused:
        check_code(text)
    assert "n'est pas un code de l'atelier" in refused.value.message
    assert words in refused.value.message
    assert str(refused.value) == refused.value.message


def test_the_pattern_is_python_barcodes_own() -> None:
    for code in EXAMPLES:
        assert modules(code) == python_barcode.Code128(code).build()[0]
        assert set(modules(code)) == {"0", "1"}
        assert modules(code).startswith("1") and modules(code).endswith("1")


def test_bars_are_the_dark_runs_of_the_pattern() -> None:
    assert bars("1101000111") == [(0, 2), (3, 1), (7, 3)]


def test_help_is_an_action_and_every_action_has_its_french_words() -> None:
    parsed = parse_code("A-AIDE")
    assert not isinstance(parsed, CodeError) and parsed.action is Action.HELP
    assert set(ACTION_WORDS) == set(Action) == set(ACTION_HINTS)
    assert ACTION_WORDS[Action.HELP] == "Appeler"
    assert "60 s" in ACTION_HINTS[Action.UNDO]


@pytest.mark.parametrize("dpi", [203, 300])
@pytest.mark.parametrize("code", EXAMPLES)
def test_png_decodes_to_its_payload(code: str, dpi: int) -> None:
    data = png(Label(code, "Poste soudure", ("OF-2026-0042", "Support soudé")), dpi)
    assert decode_png(data) == [code]
    with Image.open(io.BytesIO(data)) as image:
        assert round(image.info["dpi"][0]) == dpi


@pytest.mark.parametrize(("dpi", "fewest"), [(203, 2), (300, 3)])
def test_png_modules_are_whole_pixels_no_narrower_than_a_quarter_millimetre(
    dpi: int, fewest: int
) -> None:
    code = "ST-SOUDURE-ATELIER-NORD-12"  # long enough to need the narrowest module
    dots = module_dots(code, 70, dpi)
    assert dots == fewest
    with Image.open(io.BytesIO(png(Label(code), dpi))) as image:
        grey = image.convert("L")
        middle = grey.height // 3
        row = grey.tobytes()[middle * grey.width : (middle + 1) * grey.width]
    dark = "".join("1" if value < 128 else "0" for value in row).strip("0")
    runs = [len(run) for run in re.findall(r"1+|0+", dark)]
    assert all(run % dots == 0 for run in runs)
    assert "".join(("1" if i % 2 == 0 else "0") * (run // dots) for i, run in enumerate(runs)) == (
        modules(code)
    )


def test_the_widest_module_that_fits_is_chosen_within_the_limits() -> None:
    assert module_mm("B-0001", 200) == pytest.approx(5 * 25.4 / 300)  # 0.423 mm ≤ 0.5
    width = module_mm("P-2026-000123", 70)
    assert MIN_MODULE_MM <= width < MAX_MODULE_MM
    assert round(width / (25.4 / 300), 6) == 4  # 0.339 mm: on the 1/300 inch grid
    assert (len(modules("P-2026-000123")) + 20) * width <= 70 - 3


def test_a_long_station_code_on_a_small_label_is_refused_in_french() -> None:
    code = "ST-" + "-".join(["SOUDAGE"] * 7)
    with pytest.raises(LayoutError) as refused:
        module_mm(code, 70)
    assert "trop long pour une étiquette de 70 mm" in refused.value.message
    assert isinstance(refused.value, InvalidCode)


@FAST
@given(VALID_CODES)
def test_any_valid_code_renders_and_decodes_to_itself(code: str) -> None:
    assert check_code(code) == code
    assert decode_png(png(Label(code), 203)) == [code]


INVALID_TEXT = st.one_of(
    st.text(max_size=30),
    st.text(alphabet="&é\"'(-è_çà)", min_size=1, max_size=14),  # digits on the wrong layout
    st.from_regex(r"[a-zàâçéèêëîïôûùüÿœ-]*[àâçéèêëîïôûùüÿœ][a-z0-9-]*", fullmatch=True),
).filter(lambda text: isinstance(parse_code(text), CodeError))


@FAST
@given(INVALID_TEXT)
def test_any_text_that_is_not_a_code_raises_invalid_code_in_french(text: str) -> None:
    with pytest.raises(InvalidCode) as refused:
        check_code(text)
    assert "n'est pas un code de l'atelier" in refused.value.message


def test_svg_has_one_rect_per_bar_and_the_texts() -> None:
    label = Label("OF-2026-0042-20", "Soudage MAG", ("OF-2026-0042", "Émile ç œ"))
    document = xml.dom.minidom.parseString(svg(label))
    rects = document.getElementsByTagName("rect")
    background = [rect for rect in rects if rect.getAttribute("width") == "100%"]
    assert len(rects) - len(background) == len(bars(modules(label.code)))
    shown = [
        cast(xml.dom.minidom.Text, node.firstChild).data
        for node in document.getElementsByTagName("text")
    ]
    assert sorted(shown) == sorted(["OF-2026-0042-20", "Soudage MAG", "OF-2026-0042", "Émile ç œ"])
    widths = {rect.getAttribute("width") for rect in rects if rect not in background}
    narrowest = min(float(width.removesuffix("mm")) for width in widths)
    assert MIN_MODULE_MM <= narrowest <= MAX_MODULE_MM


def test_svg_refuses_what_is_not_a_code() -> None:
    with pytest.raises(InvalidCode):
        svg(Label("&é\"'("))
