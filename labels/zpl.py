"""ZPL II for Zebra-style thermal label printers (203 or 300 dpi).

Sizes are in dots: mm × dpi / 25.4, rounded (a 70 mm label is 559 dots wide at 203 dpi).
``^CI28`` makes the printer read field data as UTF-8, so accents are sent as they are.
Text comes from people (a student's name, a product): every text field goes through
``^FH`` with ``^``, ``~`` and the escape character itself sent as hexadecimal, so that no
text can start a command. The bars follow the sizing rule of ``labels.barcode``, with the
module a whole number of dots (2 at 203 dpi = 0.25 mm, 3 at 300 dpi = 0.254 mm, wider
when the label leaves room); the printer draws the code under the bars itself.
"""

from __future__ import annotations

from labels.barcode import (
    EDGE_MM,
    MIN_BAR_HEIGHT_MM,
    MM_PER_INCH,
    QUIET_ZONE_MODULES,
    LayoutError,
    bar_height_mm,
    check_code,
    format_mm,
    module_dots,
    modules,
    symbol_width_mm,
)
from labels.content import Label

DPIS = (203, 300)
CARD_MM = (85.6, 54.0)
PAD_MM = 2.0
HEX_ESCAPE = "_"
_ESCAPED = {"^": "_5E", "~": "_7E", "_": "_5F"}


def _check_dpi(dpi: int) -> None:
    if dpi not in DPIS:
        known = " ou ".join(str(value) for value in DPIS)
        raise ValueError(
            f"Résolution d'imprimante non prise en charge : {dpi} dpi (possibles : {known} dpi)."
        )


def dots(length_mm: float, dpi: int) -> int:
    """Return a length in printer dots, rounded."""
    return round(length_mm * dpi / MM_PER_INCH)


def field_text(text: str) -> str:
    """Return text safe inside ``^FH^FD…^FS``: no command character, no line break."""
    flat = " ".join(text.split())
    return "".join(_ESCAPED.get(ch, ch) for ch in flat if ch.isprintable())


def _text_field(x: int, y: int, width: int, height: int, text: str, *, bold: bool = False) -> str:
    # Font 0 is the printer's scalable font; ^FB centres one line and clips what overflows.
    char_width = round(height * (0.95 if bold else 0.8))
    return (
        f"^FO{x},{y}^A0N,{height},{char_width}^FB{width},1,0,C,0"
        f"^FH{HEX_ESCAPE}^FD{field_text(text)}^FS"
    )


def _render(
    label: Label, dpi: int, width_mm: float, height_mm: float, *, badge: bool = False
) -> str:
    _check_dpi(dpi)
    payload = check_code(label.code)
    module = module_dots(payload, width_mm, dpi)
    count = len(modules(payload))
    need_mm = symbol_width_mm(count, module * MM_PER_INCH / dpi) + 2 * EDGE_MM
    if need_mm > width_mm + 1e-6:
        raise LayoutError(
            f"Le code « {payload} » est trop long pour une étiquette de "
            f"{format_mm(width_mm)} mm de large : pour rester lisible, il lui faut "
            f"{format_mm(need_mm)} mm.",
            f"{payload!r} needs {need_mm:.1f} mm at {dpi} dpi, label is {width_mm} mm wide",
        )
    width, height = dots(width_mm, dpi), dots(height_mm, dpi)
    pad = dots(PAD_MM, dpi)
    inner = width - 2 * pad
    title_h = dots(6.0 if badge else 4.5, dpi)
    line_h = dots(3.0, dpi)
    human_h = dots(3.0, dpi)
    fields: list[str] = []
    y = pad
    if label.title:
        fields.append(_text_field(pad, y, inner, title_h, label.title, bold=True))
        y += title_h + dots(1.0, dpi)
    below = list(label.lines) if badge else []
    for line in [] if badge else label.lines:
        fields.append(_text_field(pad, y, inner, line_h, line))
        y += line_h + dots(0.5, dpi)
    y += dots(1.0, dpi)
    bottom = height - pad - human_h - dots(1.0, dpi) - len(below) * (line_h + dots(1.0, dpi))
    room = bottom - y
    wanted = dots(bar_height_mm(count, module * MM_PER_INCH / dpi), dpi)
    if room < dots(MIN_BAR_HEIGHT_MM, dpi):
        raise LayoutError(
            f"Trop de texte sur l'étiquette de « {payload} » : il ne reste pas les 10 mm "
            "de hauteur que demandent les barres.",
            f"{payload!r}: {room} dots left for the bars",
        )
    bar_h = min(room, max(wanted, dots(22.0 if not badge else 16.0, dpi)))
    if badge:
        y += (room - bar_h) // 2
    symbol_w = count * module
    quiet = QUIET_ZONE_MODULES * module
    x = max((width - symbol_w) // 2, quiet + dots(EDGE_MM, dpi))
    # ^BC mode A: the printer picks Code 128 subsets itself; the interpretation line (Y)
    # under the bars is printed by the printer from the same data.
    fields.append(f"^FO{x},{y}^BY{module},3,{bar_h}^BCN,{bar_h},Y,N,N,A^FD{payload}^FS")
    y = height - pad - len(below) * (line_h + dots(1.0, dpi))
    for line in below:
        y += dots(1.0, dpi)
        fields.append(_text_field(pad, y, inner, line_h, line))
        y += line_h
    head = ["^XA", "^CI28", f"^PW{width}", f"^LL{height}", "^LH0,0"]
    return "\n".join([*head, *fields, "^XZ"]) + "\n"


def label_zpl(label: Label, dpi: int = 203, width_mm: float = 70, height_mm: float = 37) -> str:
    """Return the ZPL of one label: title and lines above, the bars and the code under them."""
    return _render(label, dpi, width_mm, height_mm)


def badge_zpl(badge: Label, dpi: int = 203) -> str:
    """Return the ZPL of a credit-card badge: name, bars and code, the school's name under."""
    if len(badge.lines) > 1:
        raise ValueError(
            "Un badge ne porte que le prénom et l'initiale, le code et le nom de l'école."
        )
    return _render(badge, dpi, *CARD_MM, badge=True)
