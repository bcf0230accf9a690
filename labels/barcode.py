"""Code 128 symbols of the workshop's codes: validation, bar patterns, SVG and PNG.

Sizing rule, for a cheap handheld CCD or laser scanner reading a label printed at 203 dpi
(the same rule serves the PDF sheets and ZPL, which import it from here):

- X-dimension (the width of one module) at least 0.25 mm: 2 dots at 203 dpi (0.250 mm),
  3 dots at 300 dpi (0.254 mm); at most 0.5 mm. Within that range the largest width that
  fits the label is chosen, since a wider module reads from further and through a worn
  or badly printed label.
- On paper (PDF, SVG) the module and the bars' edges sit on a grid of 1/300 inch, so
  that 300 and 600 dpi printers draw every module with the same number of dots (a
  0.352 mm module at 600 dpi would be 8 or 9 dots, bar by bar): the modules used are
  0.254, 0.339 and 0.423 mm (3, 4 and 5 three-hundredths of an inch), or exactly 0.25 mm
  when nothing wider fits.
- Quiet zone of 10 modules on each side (2.5 mm at 0.25 mm, 5 mm at 0.5 mm), plus
  ``EDGE_MM`` between the quiet zone and the edge of the label.
- Bar height at least 10 mm or 15 % of the symbol's length, whichever is larger (a 50 mm
  symbol: 10 mm; a 90 mm one: 13.5 mm), limited by the label.
- The code itself printed in plain text under the bars.

A symbol that would need modules narrower than 0.25 mm on its label is refused with
``LayoutError`` (a long station code on a small label) rather than printed unreadable.
PNG images are drawn in whole pixels: the module is an integer number of pixels at the
image's resolution, so that no bar is a pixel wider than its neighbour.
"""

from __future__ import annotations

import io
import math
from functools import lru_cache
from typing import Any

import barcode as python_barcode
from barcode.writer import ImageWriter, SVGWriter
from PIL import Image, ImageDraw, ImageFont

from labels.codes import CodeError, ParsedCode, parse_code
from labels.content import Label
from labels.typeface import FONT_BOLD_PATH, FONT_REGULAR_PATH

MIN_MODULE_MM = 0.25
MAX_MODULE_MM = 0.5
QUIET_ZONE_MODULES = 10
MIN_BAR_HEIGHT_MM = 10.0
BAR_HEIGHT_RATIO = 0.15
EDGE_MM = 1.5  # white between the quiet zone and the cut of the label
MM_PER_INCH = 25.4
PRINT_GRID_MM = MM_PER_INCH / 300
DEFAULT_WIDTH_MM = 70.0  # the piece label of the default 3x8 stock
HUMAN_TEXT_PT = 9.0
TITLE_PT = 12.0
LINE_PT = 8.0
SHOWN_MAX = 40


class InvalidCode(ValueError):
    """A text that cannot be printed as a code of the workshop; ``message`` is French."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or message


class LayoutError(InvalidCode):
    """A valid code that does not fit where it should be printed."""


def _shown(text: str) -> str:
    """Return the text as a user may see it in a message: printable and not too long."""
    clean = "".join(ch if ch.isprintable() else "·" for ch in text.strip())
    return clean if len(clean) <= SHOWN_MAX else clean[: SHOWN_MAX - 1] + "…"


def _refusal(text: str, error: CodeError) -> InvalidCode:
    shown = _shown(text)
    if error.code == "keyboard_layout":
        why = (
            "on dirait un code tapé avec le mauvais clavier (AZERTY ou QWERTY) ; "
            "seuls A à Z, 0 à 9 et « - » sont permis."
        )
    elif error.code == "unknown_code" and shown.upper().startswith("A-"):
        why = error.message[0].lower() + error.message[1:]
    elif not shown:
        why = "le code est vide."
    else:
        why = (
            "les codes sont ceux de l'atelier (OF-2026-0042, OF-2026-0042-20, P-2026-000123, "
            "ST-…, B-…, A-FIN…), en lettres A à Z, chiffres et « - » seulement."
        )
    return InvalidCode(f"« {shown} » n'est pas un code de l'atelier : {why}", error.reason)


def parsed(text: str) -> ParsedCode:
    """Parse a code to print, or raise ``InvalidCode`` with a French message."""
    result = parse_code(text)
    if isinstance(result, CodeError):
        raise _refusal(text, result)
    return result


def check_code(text: str) -> str:
    """Return the canonical payload of a code of the workshop, or raise ``InvalidCode``."""
    return parsed(text).text


@lru_cache(maxsize=4096)
def _modules(payload: str) -> str:
    code = python_barcode.Code128(payload)
    lines: list[str] = code.build()
    return lines[0]


def modules(payload: str) -> str:
    """Return the Code 128 pattern of a code, ``1`` for a dark module, without quiet zone."""
    return _modules(check_code(payload))


def bars(pattern: str) -> list[tuple[int, int]]:
    """Return the dark bars of a pattern as (first module, width in modules) pairs."""
    runs: list[tuple[int, int]] = []
    start = -1
    for index, module in enumerate(pattern + "0"):
        if module == "1" and start < 0:
            start = index
        elif module != "1" and start >= 0:
            runs.append((start, index - start))
            start = -1
    return runs


def symbol_width_mm(module_count: int, module_mm: float) -> float:
    """Return the width of a symbol with its quiet zones."""
    return (module_count + 2 * QUIET_ZONE_MODULES) * module_mm


def bar_height_mm(module_count: int, module_mm: float) -> float:
    """Return the smallest bar height of the sizing rule for a symbol."""
    return max(MIN_BAR_HEIGHT_MM, BAR_HEIGHT_RATIO * module_count * module_mm)


def _too_long(payload: str, width_mm: float, need_mm: float) -> LayoutError:
    return LayoutError(
        f"Le code « {payload} » est trop long pour une étiquette de {format_mm(width_mm)} mm de "
        f"large : pour rester lisible, il lui faut {format_mm(need_mm)} mm. Choisissez une "
        "étiquette plus large ou un code plus court.",
        f"{payload!r} needs {need_mm:.1f} mm, label is {width_mm:.1f} mm wide",
    )


def format_mm(value: float) -> str:
    """Format a length in millimetres the French way (``37``, ``85,6``)."""
    return f"{value:.1f}".rstrip("0").rstrip(".").replace(".", ",")


def module_mm(
    payload: str, width_mm: float, *, step_mm: float = PRINT_GRID_MM, edge_mm: float = EDGE_MM
) -> float:
    """Return the widest module (≤ 0.5 mm) for which the symbol fits ``width_mm``.

    ``width_mm`` is the room across the label, ``edge_mm`` on each side included;
    ``step_mm`` rounds the result down. Raises ``LayoutError`` when even 0.25 mm is too wide.
    """
    count = len(modules(payload))
    room = width_mm - 2 * edge_mm
    widest = room / (count + 2 * QUIET_ZONE_MODULES)
    if widest < MIN_MODULE_MM - 1e-9:
        raise _too_long(payload, width_mm, symbol_width_mm(count, MIN_MODULE_MM) + 2 * edge_mm)
    on_grid = math.floor(min(widest, MAX_MODULE_MM) / step_mm + 1e-9) * step_mm
    return on_grid if on_grid >= MIN_MODULE_MM else MIN_MODULE_MM


def module_dots(payload: str, width_mm: float | None, dpi: int) -> int:
    """Return the module width in whole dots at ``dpi`` for a label ``width_mm`` wide.

    With ``width_mm`` None, or when the code needs more room than that, the narrowest
    readable module is used and the image grows instead.
    """
    fewest = math.ceil(MIN_MODULE_MM * dpi / MM_PER_INCH - 1e-6)
    most = max(fewest, math.floor(MAX_MODULE_MM * dpi / MM_PER_INCH + 1e-6))
    if width_mm is None:
        return fewest
    count = len(modules(payload))
    for dots in range(most, fewest, -1):
        if symbol_width_mm(count, dots * MM_PER_INCH / dpi) + 2 * EDGE_MM <= width_mm:
            return dots
    return fewest


def min_width_mm(payload: str) -> float:
    """Return the narrowest label width that holds the code at 0.25 mm modules."""
    return symbol_width_mm(len(modules(payload)), MIN_MODULE_MM) + 2 * EDGE_MM


def _pt_mm(points: float) -> float:
    return points * MM_PER_INCH / 72


def _text_lines(label: Label) -> list[tuple[str, bool, float]]:
    """Return the label's own texts (title bold, then its lines) with their sizes in pt."""
    texts: list[tuple[str, bool, float]] = []
    if label.title:
        texts.append((label.title, True, TITLE_PT))
    texts.extend((line, False, LINE_PT) for line in label.lines if line)
    return texts


class _LabelSVGWriter(SVGWriter):  # type: ignore[misc]
    """python-barcode's SVGWriter in DejaVu Sans, with the label's texts above the bars."""

    def __init__(self, texts: list[tuple[str, bool, float]], centre_mm: float) -> None:
        super().__init__()
        self.with_doctype = False
        self.label_texts = texts
        self.centre_mm = centre_mm

    def _create_text(self, xpos: float, ypos: float) -> None:
        super()._create_text(xpos, ypos)
        for element in self._group.getElementsByTagName("text"):
            element.setAttribute("style", _SVG_FAMILY + element.getAttribute("style"))

    def _finish(self) -> bytes:
        y = 1.0
        for content, bold, size in self.label_texts:
            y += _pt_mm(size) * 1.25
            element = self._document.createElement("text")
            element.setAttribute("x", f"{self.centre_mm:.3f}mm")
            element.setAttribute("y", f"{y - _pt_mm(size) * 0.25:.3f}mm")
            weight = "font-weight:bold;" if bold else ""
            element.setAttribute(
                "style",
                f"{_SVG_FAMILY}{weight}fill:black;font-size:{size}pt;text-anchor:middle;",
            )
            element.appendChild(self._document.createTextNode(content))
            self._group.appendChild(element)
        result: bytes = self._document.toxml(encoding="UTF-8")
        return result


_SVG_FAMILY = "font-family:'DejaVu Sans',sans-serif;"


def svg(label: Label, *, width_mm: float | None = DEFAULT_WIDTH_MM) -> bytes:
    """Render a label as SVG: title and lines above, the bars, the code under them."""
    payload = check_code(label.code)
    count = len(modules(payload))
    module = MIN_MODULE_MM
    if width_mm is not None and width_mm >= min_width_mm(payload):
        module = module_mm(payload, width_mm)
    texts = _text_lines(label)
    head_mm = sum(_pt_mm(size) * 1.25 for _, _, size in texts) + (1.5 if texts else 1.0)
    writer = _LabelSVGWriter(texts, symbol_width_mm(count, module) / 2 + EDGE_MM)
    options: dict[str, Any] = {
        "module_width": module,
        "module_height": bar_height_mm(count, module),
        "quiet_zone": QUIET_ZONE_MODULES * module + EDGE_MM,
        "font_size": HUMAN_TEXT_PT,
        "text_distance": _pt_mm(HUMAN_TEXT_PT) * 1.1,
        "margin_top": head_mm,
        "margin_bottom": 1.0,
    }
    result: bytes = python_barcode.Code128(payload, writer=writer).render(options, payload)
    return result


class _WholePixelWriter(ImageWriter):  # type: ignore[misc]
    """python-barcode's ImageWriter with each bar's edges rounded to whole pixels."""

    def _paint_module(self, xpos: float, ypos: float, width: float, color: str) -> None:
        scale = self.dpi / MM_PER_INCH
        left = round(xpos * scale)
        right = round((xpos + width) * scale) - 1
        top = round(ypos * scale)
        bottom = round((ypos + self.module_height) * scale)
        self._draw.rectangle([(left, top), (right, bottom)], outline=color, fill=color)


@lru_cache(maxsize=16)
def _pil_font(bold: bool, size_px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_BOLD_PATH if bold else FONT_REGULAR_PATH), size_px)


def png(label: Label, dpi: int = 203, *, width_mm: float | None = DEFAULT_WIDTH_MM) -> bytes:
    """Render a label as a PNG at ``dpi``: title and lines above, bars, the code under them."""
    payload = check_code(label.code)
    count = len(modules(payload))
    dots = module_dots(payload, width_mm, dpi)
    module = dots * MM_PER_INCH / dpi
    writer = _WholePixelWriter(format="PNG", mode="L", dpi=dpi)
    options: dict[str, Any] = {
        "module_width": module,
        "module_height": bar_height_mm(count, module),
        "quiet_zone": QUIET_ZONE_MODULES * module + EDGE_MM,
        "font_path": str(FONT_REGULAR_PATH),
        "font_size": HUMAN_TEXT_PT,
        "text_distance": _pt_mm(HUMAN_TEXT_PT) * 1.1,
        "margin_top": 1.0,
        "margin_bottom": 1.0,
    }
    symbol: Image.Image = python_barcode.Code128(payload, writer=writer).render(options, payload)
    texts = _text_lines(label)
    px_per_mm = dpi / MM_PER_INCH
    heights = [round(_pt_mm(size) * 1.25 * px_per_mm) for _, _, size in texts]
    head = sum(heights) + (round(1.5 * px_per_mm) if texts else 0)
    fonts = [_pil_font(bold, round(_pt_mm(size) * px_per_mm)) for _, bold, size in texts]
    width = max(
        [symbol.width]
        + [
            round(font.getlength(t)) + 2 * round(EDGE_MM * px_per_mm)
            for (t, _, _), font in zip(texts, fonts, strict=True)
        ]
    )
    image = Image.new("L", (width, symbol.height + head), "white")
    image.paste(symbol, ((width - symbol.width) // 2, head))
    draw = ImageDraw.Draw(image)
    y = round(1.0 * px_per_mm)
    for (content, _, _), font, height in zip(texts, fonts, heights, strict=True):
        y += height
        draw.text((width / 2, y), content, font=font, fill="black", anchor="md")
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(dpi, dpi))
    return out.getvalue()
