"""ZPL for thermal printers: structure, sizes in dots, UTF-8 text, no injected command."""

from __future__ import annotations

import re

import pytest

from labels.barcode import InvalidCode, LayoutError
from labels.content import Label
from labels.zpl import DPIS, badge_zpl, field_text, label_zpl

PIECE = Label("P-2026-000123", "Émile D.", ("OF-2026-0042", "Support soudé"))


def commands(zpl: str) -> list[str]:
    """Return the commands of a ZPL text, each with its parameters (``^FO16,16``)."""
    return re.findall(r"[\^~][A-Z@][A-Z0-9]?[^\^~]*", zpl)


def field_data(zpl: str) -> list[str]:
    return re.findall(r"\^FD(.*?)\^FS", zpl)


@pytest.mark.parametrize("dpi", DPIS)
def test_a_label_is_one_format_in_utf8_with_the_exact_payload(dpi: int) -> None:
    zpl = label_zpl(PIECE, dpi)
    lines = zpl.strip().splitlines()
    assert lines[0] == "^XA" and lines[-1] == "^XZ"
    assert zpl.count("^XA") == 1 and zpl.count("^XZ") == 1
    assert "^CI28" in lines[:3]
    (barcode,) = [line for line in lines if "^BC" in line]
    assert barcode.endswith("^FDP-2026-000123^FS")
    assert re.search(r"\^BY\d+,", barcode)
    assert "Émile D.".encode() in zpl.encode("utf-8")
    assert "Support soudé".encode() in zpl.encode("utf-8")


def test_sizes_are_in_dots_and_scale_with_the_resolution() -> None:
    low, high = label_zpl(PIECE, 203), label_zpl(PIECE, 300)

    def size(zpl: str, command: str) -> int:
        match = re.search(rf"\^{command}(\d+)", zpl)
        assert match
        return int(match.group(1))

    assert (size(low, "PW"), size(low, "LL")) == (559, 296)  # 70 × 37 mm at 203 dpi
    assert (size(high, "PW"), size(high, "LL")) == (827, 437)
    assert size(high, "PW") / size(low, "PW") == pytest.approx(300 / 203, rel=0.01)
    assert size(high, "LL") / size(low, "LL") == pytest.approx(300 / 203, rel=0.01)
    assert size(low, "BY") >= 2 and size(low, "BY") * 25.4 / 203 <= 0.5
    assert size(high, "BY") >= 3 and size(high, "BY") * 25.4 / 300 <= 0.5


def test_the_narrowest_module_is_two_dots_at_203_and_three_at_300_dpi() -> None:
    station = Label("ST-SOUD-CABINE-1")  # 211 modules: fits 70 mm only at the narrowest
    assert "^BY2," in label_zpl(station, 203)
    assert "^BY3," in label_zpl(station, 300)


def test_caret_and_tilde_in_text_cannot_inject_commands() -> None:
    hostile = Label("B-0001", "^XZ~JA^XA^FDx", ("~PS^FS^IDR:*.*", "a_b"))
    zpl = label_zpl(hostile)
    assert "~" not in zpl
    assert zpl.count("^XA") == 1 and zpl.count("^XZ") == 1
    assert [c[:3] for c in commands(zpl)].count("^FD") == 4  # title, two lines, barcode
    texts = field_data(zpl)
    assert "_5EXZ_7EJA_5EXA_5EFDx" in texts
    assert "a_5Fb" in texts
    assert all("^" not in text and "~" not in text for text in texts)
    assert field_text("ligne\nsuivante\r^") == "ligne suivante _5E"


def test_a_badge_is_a_credit_card_with_name_code_and_school() -> None:
    badge = Label("B-0042", "Łukasz Ő.", ("École de Production de Belfort",))
    zpl = badge_zpl(badge, 300)
    assert "^PW1011" in zpl and "^LL638" in zpl  # 85.6 × 54 mm at 300 dpi
    assert field_data(zpl) == ["Łukasz Ő.", "B-0042", "École de Production de Belfort"]
    with pytest.raises(ValueError, match="nom de l'école"):
        badge_zpl(Label("B-0042", "Lucas M.", ("École", "2nde année")))


def test_unknown_resolution_bad_code_and_overlong_code_are_refused_in_french() -> None:
    with pytest.raises(ValueError, match="Résolution d'imprimante non prise en charge : 600"):
        label_zpl(PIECE, 600)
    with pytest.raises(InvalidCode, match="n'est pas un code de l'atelier"):
        label_zpl(Label("p-2026-0001é"))
    with pytest.raises(LayoutError, match="trop long pour une étiquette de 70 mm"):
        label_zpl(Label("ST-" + "-".join(["SOUDAGE"] * 6)))
