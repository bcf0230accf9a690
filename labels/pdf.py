"""PDF documents: label sheets, badges, a single label, the action board, the traveller.

Drawn with reportlab's canvas, in millimetres from the top-left corner of the page. Bars
are vector rectangles taken from ``labels.barcode.modules`` (never a bitmap), sized by the
rule of ``labels.barcode``. Text is set in DejaVu Sans, embedded as a subset, so that any
student's name prints and the text of the PDF can be extracted.

Laser and inkjet printers leave about 4 mm unprinted around the sheet: on stock whose
labels reach the edge of the page (3x8), every label keeps that much white inside it.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from reportlab.lib.colors import Color, black, white
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from labels.barcode import (
    EDGE_MM,
    MIN_BAR_HEIGHT_MM,
    MIN_MODULE_MM,
    PRINT_GRID_MM,
    InvalidCode,
    LayoutError,
    bar_height_mm,
    bars,
    check_code,
    format_mm,
    min_width_mm,
    module_mm,
    modules,
    parsed,
    symbol_width_mm,
)
from labels.codes import ACTION_HINTS, ACTION_WORDS, Action, CodeKind
from labels.content import Label
from labels.stock import A4_MM, Stock, get_stock
from labels.typeface import FONT_BOLD_PATH, FONT_REGULAR_PATH

REGULAR = "DejaVuSans"
BOLD = "DejaVuSans-Bold"
PRINTER_MARGIN_MM = 4.0
PAD_MM = 2.0
MAX_BAR_MM = 22.0
PT_MM = 25.4 / 72
GUIDE_GREY = Color(0.7, 0.7, 0.7)
RULE_GREY = Color(0.55, 0.55, 0.55)
DASH = "—"
SINGLE_LABEL_MM = (70.0, 37.0)
COMFORTABLE_MODULE_MM = 4 * PRINT_GRID_MM
EDGE_GRID_MM = 2 * PRINT_GRID_MM
CARD = "carte"


@lru_cache(maxsize=1)
def _register_fonts() -> None:
    pdfmetrics.registerFont(TTFont(REGULAR, str(FONT_REGULAR_PATH)))
    pdfmetrics.registerFont(TTFont(BOLD, str(FONT_BOLD_PATH)))


class _Page:
    """A reportlab canvas addressed in millimetres from the top-left corner."""

    def __init__(self, canvas: Canvas, height_mm: float) -> None:
        self.canvas = canvas
        self.height_mm = height_mm

    def y(self, top_mm: float) -> float:
        return (self.height_mm - top_mm) * mm

    def text(
        self,
        x_mm: float,
        baseline_mm: float,
        text: str,
        font: str,
        size_pt: float,
        *,
        align: str = "left",
    ) -> None:
        text = _one_line(text)
        self.canvas.setFont(font, size_pt)
        if align == "centre":
            self.canvas.drawCentredString(x_mm * mm, self.y(baseline_mm), text)
        elif align == "right":
            self.canvas.drawRightString(x_mm * mm, self.y(baseline_mm), text)
        else:
            self.canvas.drawString(x_mm * mm, self.y(baseline_mm), text)

    def box(self, x_mm: float, top_mm: float, w_mm: float, h_mm: float, width_pt: float) -> None:
        self.canvas.setLineWidth(width_pt)
        self.canvas.rect(x_mm * mm, self.y(top_mm + h_mm), w_mm * mm, h_mm * mm, stroke=1, fill=0)

    def line(self, x1_mm: float, y1_mm: float, x2_mm: float, y2_mm: float) -> None:
        self.canvas.line(x1_mm * mm, self.y(y1_mm), x2_mm * mm, self.y(y2_mm))

    def symbol(
        self,
        payload: str,
        centre_mm: float,
        top_mm: float,
        module: float,
        height_mm: float,
        *,
        human_pt: float = 8.0,
    ) -> float:
        """Draw the bars centred on ``centre_mm`` and the code under them; return the bottom."""
        pattern = modules(payload)
        # The bars' left edge on a 1/150 inch grid (every 150, 300 and 600 dpi device's
        # dots): with a module on the 1/300 inch grid, bar edges fall on whole dots.
        left = round((centre_mm - len(pattern) * module / 2) / EDGE_GRID_MM) * EDGE_GRID_MM
        path = self.canvas.beginPath()
        bottom = self.y(top_mm + height_mm)
        for start, width in bars(pattern):
            path.rect((left + start * module) * mm, bottom, width * module * mm, height_mm * mm)
        self.canvas.setFillColor(black)
        self.canvas.drawPath(path, stroke=0, fill=1)
        baseline = top_mm + height_mm + 1.0 + human_pt * PT_MM * 0.75
        self.text(centre_mm, baseline, payload, REGULAR, human_pt, align="centre")
        return baseline + human_pt * PT_MM * 0.25


def _one_line(text: str) -> str:
    """Return text as one printable line: a line break or a control character is a space."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


def _fit(text: str, font: str, size_pt: float, width_mm: float, min_pt: float = 5.0) -> float:
    """Return the largest size ≤ ``size_pt`` at which the text fits ``width_mm``."""
    size = size_pt
    while size > min_pt and pdfmetrics.stringWidth(text, font, size) > width_mm * mm:
        size -= 0.5
    return size


def _clip(text: str, font: str, size_pt: float, width_mm: float) -> str:
    """Shorten the text with an ellipsis until it fits ``width_mm`` at ``size_pt``."""
    if pdfmetrics.stringWidth(text, font, size_pt) <= width_mm * mm:
        return text
    while text and pdfmetrics.stringWidth(text + "…", font, size_pt) > width_mm * mm:
        text = text[:-1]
    return text.rstrip() + "…"


def _fitted(
    text: str, font: str, size_pt: float, width_mm: float, min_pt: float = 5.0
) -> tuple[str, float]:
    text = _one_line(text)
    size = _fit(text, font, size_pt, width_mm, min_pt)
    return _clip(text, font, size, width_mm), size


def _wrapped(text: str, font: str, width_mm: float, max_lines: int) -> tuple[float, list[str]]:
    """Return a size (10 to 8 pt) and the lines that hold the text in ``max_lines`` lines."""
    for size in (10.0, 9.0, 8.0):
        lines: list[str] = simpleSplit(text, font, size, width_mm * mm)
        if len(lines) <= max_lines:
            return size, lines
    kept = lines[:max_lines]
    kept[-1] = _clip(kept[-1] + "…", font, 8.0, width_mm)
    return 8.0, kept


def _new_canvas(size_mm: tuple[float, float], title: str) -> tuple[io.BytesIO, Canvas]:
    _register_fonts()
    out = io.BytesIO()
    canvas = Canvas(
        out, pagesize=(size_mm[0] * mm, size_mm[1] * mm), invariant=True, pageCompression=1
    )
    canvas.setTitle(title)
    canvas.setCreator("Atelier")
    canvas.setAuthor("")
    return out, canvas


# -- labels and badges -------------------------------------------------------------------


@dataclass(frozen=True)
class _Box:
    x: float
    y: float
    w: float
    h: float


def label_module_mm(payload: str, label_w_mm: float, printable_w_mm: float) -> float:
    """Return the module of a code on a label: quiet zones on the label, ``EDGE_MM`` from
    its cut, and the bars within the part of it the printer reaches."""
    module = module_mm(payload, label_w_mm)
    count = len(modules(payload))
    if count * module <= printable_w_mm + 1e-9:
        return module
    on_grid = math.floor(printable_w_mm / count / PRINT_GRID_MM + 1e-9) * PRINT_GRID_MM
    if on_grid >= MIN_MODULE_MM:
        return on_grid
    if count * MIN_MODULE_MM <= printable_w_mm + 1e-9:
        return MIN_MODULE_MM
    raise LayoutError(
        f"Le code « {payload} » est trop long pour une étiquette de {format_mm(label_w_mm)} mm "
        "de large sur ce support : l'imprimante n'atteint pas le bord de la feuille. "
        "Choisissez une étiquette plus large ou un code plus court.",
        f"{payload!r}: bars need {count * MIN_MODULE_MM:.1f} mm, {printable_w_mm:.1f} printable",
    )


def _draw_label(
    page: _Page, label: Label, box: _Box, label_w_mm: float, *, badge: bool = False
) -> None:
    """Draw a label in its box (the part the printer reaches, less a margin): texts, then
    bars and code; a badge's line (the school) goes under the bars."""
    payload = check_code(label.code)
    module = label_module_mm(payload, label_w_mm, box.w)
    pattern_count = len(modules(payload))
    centre = box.x + box.w / 2
    y = box.y
    title_pt, line_pt, human_pt = (16.0, 8.0, 9.0) if badge else (12.0, 8.0, 8.0)
    if label.title:
        title, size = _fitted(label.title, BOLD, title_pt, box.w)
        y += size * PT_MM * 0.95
        page.text(centre, y, title, BOLD, size, align="centre")
        y += size * PT_MM * 0.35
    below: list[str] = []
    for line in label.lines:
        if badge:
            below.append(line)
            continue
        text, size = _fitted(line, REGULAR, line_pt, box.w)
        y += size * PT_MM * 1.15
        page.text(centre, y, text, REGULAR, size, align="centre")
    y += 1.5 if (label.title or label.lines) else 0.5
    human_mm = human_pt * PT_MM * 1.0 + 1.0
    below_mm = sum(line_pt * PT_MM * 1.3 for _ in below) + (1.0 if below else 0.0)
    room = box.y + box.h - y - human_mm - below_mm
    wanted = bar_height_mm(pattern_count, module)
    if room < MIN_BAR_HEIGHT_MM - 1e-6:
        raise LayoutError(
            f"Trop de texte sur l'étiquette de « {payload} » : il ne reste pas les 10 mm "
            "de hauteur que demandent les barres. Raccourcissez le titre ou les lignes.",
            f"{payload!r}: {room:.1f} mm left for the bars",
        )
    # As tall as the label allows, up to MAX_BAR_MM (taller than the rule's minimum: the
    # scan line of a handheld reader has more room to cross every bar).
    height = min(room, max(wanted, MAX_BAR_MM))
    if badge:
        y += (room - height) / 2
    page.symbol(payload, centre, y, module, height, human_pt=human_pt)
    if below:
        y = box.y + box.h - below_mm + 1.0
        for line in below:
            text, size = _fitted(line, REGULAR, line_pt, box.w)
            y += size * PT_MM * 1.1
            page.text(centre, y, text, REGULAR, size, align="centre")


def _insets(stock: Stock) -> tuple[float, float]:
    """Return the white kept inside each label, across and down, for the printer's margin."""
    page_w, page_h = A4_MM
    right = page_w - (stock.left_mm + (stock.columns - 1) * stock.pitch_x_mm + stock.label_w_mm)
    bottom = page_h - (stock.top_mm + (stock.rows - 1) * stock.pitch_y_mm + stock.label_h_mm)
    across = max(PAD_MM, PRINTER_MARGIN_MM - min(stock.left_mm, right))
    down = max(PAD_MM, PRINTER_MARGIN_MM - min(stock.top_mm, bottom))
    return across, down


def _check_start(stock: Stock, start: int) -> None:
    if not 0 <= start < stock.per_page:
        raise ValueError(
            f"Début de planche impossible : {start}. Une planche « {stock.name} » a "
            f"{stock.per_page} places ; indiquez combien sont déjà utilisées (0 à "
            f"{stock.per_page - 1})."
        )


def _sheet(labels: Sequence[Label], stock: Stock, start: int, title: str, badge: bool) -> bytes:
    _check_start(stock, start)
    if not labels:
        raise ValueError("Aucune étiquette à imprimer.")
    across, down = _insets(stock)
    for label in labels:  # every code is checked before anything is drawn
        check_code(label.code)
    out, canvas = _new_canvas(A4_MM, title)
    page = _Page(canvas, A4_MM[1])
    for index, label in enumerate(labels):
        position = start + index
        if index and position % stock.per_page == 0:
            canvas.showPage()
        x, y = stock.cell(position)
        if stock.cut_guides:
            canvas.setStrokeColor(GUIDE_GREY)
            page.box(x, y, stock.label_w_mm, stock.label_h_mm, 0.3)
            canvas.setStrokeColor(black)
        box = _Box(x + across, y + down, stock.label_w_mm - 2 * across, stock.label_h_mm - 2 * down)
        _draw_label(page, label, box, stock.label_w_mm, badge=badge)
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def label_sheet(labels: Sequence[Label], stock: str | Stock = "3x8", start: int = 0) -> bytes:
    """Render labels on A4 label stock, ``start`` places of the first sheet already used."""
    chosen = get_stock(stock) if isinstance(stock, str) else stock
    return _sheet(labels, chosen, start, "Étiquettes", badge=False)


def badge_sheet(badges: Sequence[Label], start: int = 0) -> bytes:
    """Render badges on credit-card stock: name, barcode and code, the school's name only."""
    for badge in badges:
        if len(badge.lines) > 1:
            raise ValueError(
                "Un badge ne porte que le prénom et l'initiale, le code et le nom de l'école "
                f"(badge « {badge.code} » : {len(badge.lines)} lignes au lieu d'une)."
            )
    return _sheet(badges, get_stock(CARD), start, "Badges", badge=True)


def single_label_pdf(label: Label) -> bytes:
    """Render one label on a page of its own size: 70 × 37 mm, wider if the code needs it."""
    payload = check_code(label.code)
    width = SINGLE_LABEL_MM[0]
    if min_width_mm(payload) > width:
        # Too long for 70 mm: the page is made as wide as the code needs at 0.339 mm
        # modules (4/300 inch), a comfortable width, since it is chosen here anyway.
        count = len(modules(payload))
        width = math.ceil(symbol_width_mm(count, COMFORTABLE_MODULE_MM) + 2 * EDGE_MM)
    out, canvas = _new_canvas((width, SINGLE_LABEL_MM[1]), payload)
    page = _Page(canvas, SINGLE_LABEL_MM[1])
    box = _Box(PAD_MM, PAD_MM, width - 2 * PAD_MM, SINGLE_LABEL_MM[1] - 2 * PAD_MM)
    _draw_label(page, label, box, width)
    canvas.showPage()
    canvas.save()
    return out.getvalue()


# -- the action board ---------------------------------------------------------------------

ACTION_COLOURS: dict[Action, Color] = {
    Action.FINISH: Color(0.11, 0.50, 0.18),
    Action.PAUSE: Color(0.80, 0.45, 0.0),
    Action.UNDO: Color(0.10, 0.33, 0.70),
    Action.LEAVE: Color(0.72, 0.13, 0.10),
    Action.HELP: Color(0.42, 0.20, 0.62),
}


def _check_mark(canvas: Canvas) -> None:
    canvas.setLineWidth(13)
    path = canvas.beginPath()
    path.moveTo(-27, 0)
    path.lineTo(-8, -20)
    path.lineTo(28, 22)
    canvas.drawPath(path, stroke=1, fill=0)


def _pause_bars(canvas: Canvas) -> None:
    canvas.roundRect(-26, -32, 18, 64, 4, stroke=0, fill=1)
    canvas.roundRect(8, -32, 18, 64, 4, stroke=0, fill=1)


def _undo_arrow(canvas: Canvas) -> None:
    canvas.setLineWidth(11)
    canvas.setLineCap(0)
    path = canvas.beginPath()
    path.arc(-27, -30, 27, 24, startAng=0, extent=180)
    canvas.drawPath(path, stroke=1, fill=0)
    head = canvas.beginPath()
    head.moveTo(-43, -3)
    head.lineTo(-11, -3)
    head.lineTo(-27, -25)
    head.close()
    canvas.drawPath(head, stroke=0, fill=1)
    canvas.setLineWidth(11)
    canvas.line(27, -3, 27, -22)


def _exit_door(canvas: Canvas) -> None:
    canvas.setLineWidth(7)
    canvas.setLineJoin(1)
    canvas.rect(-30, -31, 32, 62, stroke=1, fill=0)
    canvas.circle(-7, 0, 3.5, stroke=0, fill=1)
    canvas.setLineWidth(10)
    canvas.line(8, 0, 24, 0)
    head = canvas.beginPath()
    head.moveTo(22, 14)
    head.lineTo(40, 0)
    head.lineTo(22, -14)
    head.close()
    canvas.drawPath(head, stroke=0, fill=1)


def _bell(canvas: Canvas) -> None:
    body = canvas.beginPath()
    body.moveTo(-30, -18)
    body.curveTo(-22, -8, -24, 4, -22, 12)
    body.curveTo(-18, 28, -8, 32, 0, 32)
    body.curveTo(8, 32, 18, 28, 22, 12)
    body.curveTo(24, 4, 22, -8, 30, -18)
    body.close()
    canvas.drawPath(body, stroke=0, fill=1)
    canvas.roundRect(-36, -26, 72, 9, 3, stroke=0, fill=1)
    canvas.circle(0, -32, 7, stroke=0, fill=1)
    canvas.circle(0, 36, 5, stroke=0, fill=1)


PICTOGRAMS: dict[Action, Callable[[Canvas], None]] = {
    Action.FINISH: _check_mark,
    Action.PAUSE: _pause_bars,
    Action.UNDO: _undo_arrow,
    Action.LEAVE: _exit_door,
    Action.HELP: _bell,
}


def _pictogram(page: _Page, action: Action, centre_x: float, centre_y: float, size: float) -> None:
    """Draw an action's pictogram: white drawing on a disc of the action's colour."""
    canvas = page.canvas
    canvas.saveState()
    canvas.translate(centre_x * mm, page.y(centre_y))
    canvas.scale(size * mm / 100, size * mm / 100)
    canvas.setFillColor(ACTION_COLOURS.get(action, black))
    canvas.circle(0, 0, 50, stroke=0, fill=1)
    canvas.setFillColor(white)
    canvas.setStrokeColor(white)
    canvas.setLineCap(1)
    canvas.setLineJoin(1)
    drawing = PICTOGRAMS.get(action)
    if drawing is not None:
        drawing(canvas)
    canvas.restoreState()


def action_board(school: str | None = None, station: str | None = None) -> bytes:
    """Render the A4 board of every action code: pictogram, word, hint and a big barcode."""
    out, canvas = _new_canvas(A4_MM, "Codes d'action")
    page = _Page(canvas, A4_MM[1])
    margin = 12.0
    width = A4_MM[0] - 2 * margin
    page.text(margin, margin + 8, "Codes d'action", BOLD, 22)
    subtitle = " · ".join(part for part in (school, station) if part)
    if subtitle:
        text, size = _fitted(subtitle, REGULAR, 12, width)
        page.text(margin, margin + 15, text, REGULAR, size)
    top = margin + 21
    actions = list(Action)
    row_h = (A4_MM[1] - margin - top) / len(actions)
    picture_w = 52.0
    for index, action in enumerate(actions):
        y = top + index * row_h
        canvas.setStrokeColor(RULE_GREY)
        canvas.setLineWidth(0.5)
        page.line(margin, y, margin + width, y)
        canvas.setStrokeColor(black)
        size = min(row_h - 17, 34.0)
        _pictogram(page, action, margin + picture_w / 2, y + 3 + size / 2, size)
        word = ACTION_WORDS.get(action, action.value)
        page.text(margin + picture_w / 2, y + size + 10, word, BOLD, 17, align="centre")
        right_x = margin + picture_w + 6
        right_w = width - picture_w - 6
        hint, hint_size = _fitted(ACTION_HINTS.get(action, ""), REGULAR, 13, right_w)
        page.text(right_x + right_w / 2, y + 8, hint, REGULAR, hint_size, align="centre")
        module = module_mm(action.value, right_w, edge_mm=0)
        height = min(row_h - 21, MAX_BAR_MM)
        page.symbol(action.value, right_x + right_w / 2, y + 12, module, height, human_pt=11)
    canvas.showPage()
    canvas.save()
    return out.getvalue()


# -- the traveller (fiche suiveuse) ---------------------------------------------------------


@dataclass(frozen=True)
class WpsRange:
    """The welding procedure of a step and the ranges it allows."""

    code: str
    process: str
    position: str | None
    i_a: tuple[float, float]
    u_v: tuple[float, float]
    q_kj_mm: tuple[float, float] | None = None


@dataclass(frozen=True)
class TravellerStep:
    """One step of the routing: its number, its code ``OF-YYYY-NNNN-SS``, its operation."""

    step: int
    code: str
    operation: str
    wps: WpsRange | None = None


@dataclass(frozen=True)
class Traveller:
    """A work order's traveller sheet: what to make, for whom, and its routing."""

    number: str
    customer: str
    product: str
    quantity: int
    due_on: date | None
    drawing: str | None
    steps: tuple[TravellerStep, ...]
    school: str | None = None


def _number(value: float) -> str:
    """Format a number the French way, without useless decimals (``160``, ``0,8``)."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text.replace(".", ",")


def _span(low_high: tuple[float, float], unit: str) -> str:
    return f"{_number(low_high[0])}–{_number(low_high[1])} {unit}"


def wps_lines(wps: WpsRange) -> list[str]:
    """Return the lines that describe a WPS on the traveller, in French."""
    head = f"DMOS {wps.code} · procédé {wps.process}"
    if wps.position:
        head += f" · {wps.position}"
    lines = [head, f"{_span(wps.i_a, 'A')} · {_span(wps.u_v, 'V')}"]
    if wps.q_kj_mm is not None:
        lines.append(_span(wps.q_kj_mm, "kJ/mm"))
    return lines


MARGIN_MM = 10.0
HEADER_MM = 52.0
TABLE_HEAD_MM = 7.0
ROW_MM = 24.0
FOOTER_MM = 8.0
NOTES_ROWS = 2  # the box for remarks takes the height of two steps, on the last page
# (title, width in mm) of each column of the routing table.
# The code column holds an operation code (200 modules) at 0.339 mm with its quiet zones.
COLUMNS = (
    ("Étape", 10.0),
    ("Opération", 46.0),
    ("Code à scanner", 76.0),
    ("Élève · date", 26.0),
    ("Fait", 10.0),
    ("Notes", 22.0),
)


def _check_traveller(sheet: Traveller) -> None:
    number = parsed(sheet.number)
    if number.kind is not CodeKind.WORK_ORDER:
        raise InvalidCode(
            f"« {sheet.number} » n'est pas un numéro d'OF (OF-AAAA-NNNN).",
            f"traveller number {sheet.number!r} is not a work order",
        )
    for step in sheet.steps:
        code = parsed(step.code)
        if code.kind is not CodeKind.OPERATION or code.work_order != number.text:
            raise InvalidCode(
                f"« {step.code} » n'est pas une opération de l'OF {number.text} "
                f"({number.text}-SS attendu).",
                f"step code {step.code!r} is not an operation of {number.text}",
            )


def _traveller_header(page: _Page, sheet: Traveller, number: str, page_no: int, pages: int) -> None:
    left = MARGIN_MM
    width = A4_MM[0] - 2 * MARGIN_MM
    code_w = 78.0
    text_w = width - code_w - 4
    page.text(left, MARGIN_MM + 7, "Fiche suiveuse", BOLD, 20)
    page.text(left, MARGIN_MM + 15, number, BOLD, 15)
    if sheet.school:
        school, size = _fitted(sheet.school, REGULAR, 9, text_w)
        page.text(left, MARGIN_MM + 21, school, REGULAR, size)
    module = module_mm(number, code_w, edge_mm=0)
    page.symbol(number, left + width - code_w / 2, MARGIN_MM, module, 14.0, human_pt=10)
    rows = (
        ("Client", sheet.customer),
        ("Produit", sheet.product),
        ("Quantité", str(sheet.quantity)),
        ("Échéance", sheet.due_on.strftime("%d/%m/%Y") if sheet.due_on else DASH),
        ("Plan", sheet.drawing or DASH),
    )
    y = MARGIN_MM + 27
    label_w = 24.0
    # Customers and products have long names, dates and drawing references short ones:
    # the left column gets the room. Never smaller than 8 pt: past that, an ellipsis.
    column_w = (width * 0.62, width * 0.38)
    for index, (name, value) in enumerate(rows):
        column, row = divmod(index, 3)
        x = left + (column_w[0] if column else 0)
        baseline = y + row * 6.5 + 4.5
        page.text(x, baseline, f"{name} :", REGULAR, 10)
        shown, size = _fitted(value, BOLD, 11, column_w[column] - label_w - 3, min_pt=8)
        page.text(x + label_w, baseline, shown, BOLD, size)
    footer = A4_MM[1] - MARGIN_MM + 2
    page.text(left + width, footer, f"page {page_no}/{pages}", REGULAR, 9, align="right")
    page.text(left, footer, f"{number} · {sheet.product}", REGULAR, 8)


def _traveller_row(page: _Page, step: TravellerStep, top: float) -> None:
    left = MARGIN_MM
    x_positions = []
    x = left
    for _, width in COLUMNS:
        x_positions.append(x)
        x += width
    page.canvas.setLineWidth(0.6)
    page.line(left, top + ROW_MM, x, top + ROW_MM)
    for column_x in [*x_positions[1:]]:
        page.line(column_x, top, column_x, top + ROW_MM)
    step_x, name_x, code_x, who_x, done_x, _notes_x = x_positions
    number_pt = _fit(str(step.step), BOLD, 13, COLUMNS[0][1] - 1.5)
    page.text(step_x + COLUMNS[0][1] / 2, top + 8, str(step.step), BOLD, number_pt, align="centre")
    name_w = COLUMNS[1][1] - 3
    wps = wps_lines(step.wps) if step.wps is not None else []
    y = top + 4.5
    name_pt, name_lines = _wrapped(step.operation, BOLD, name_w, 3 - min(1, len(wps)))
    for line in name_lines:
        page.text(name_x + 1.5, y, line, BOLD, name_pt)
        y += name_pt * PT_MM * 1.15
    if wps:
        y += 0.6
        wps_pt = min(_fit(line, REGULAR, 7.5, name_w) for line in wps)
        for line in wps:
            page.text(name_x + 1.5, y, _clip(line, REGULAR, wps_pt, name_w), REGULAR, wps_pt)
            y += wps_pt * PT_MM * 1.2
    code_w = COLUMNS[2][1]
    module = module_mm(step.code, code_w, edge_mm=0)
    page.symbol(step.code, code_x + code_w / 2, top + 2.5, module, ROW_MM - 8.5, human_pt=8)
    page.text(who_x + 1.5, top + 3.5, "Élève", REGULAR, 6)
    page.text(who_x + 1.5, top + ROW_MM / 2 + 3.5, "Date", REGULAR, 6)
    page.canvas.setLineWidth(0.3)
    page.canvas.setStrokeColor(RULE_GREY)
    page.line(who_x + 1.5, top + ROW_MM / 2, who_x + COLUMNS[3][1] - 1.5, top + ROW_MM / 2)
    page.canvas.setStrokeColor(black)
    square = 7.0
    page.box(done_x + (COLUMNS[4][1] - square) / 2, top + (ROW_MM - square) / 2, square, square, 1)


def traveller(sheet: Traveller) -> bytes:
    """Render a work order's traveller on A4, over as many pages as its routing needs."""
    _check_traveller(sheet)
    number = check_code(sheet.number)
    table_top = MARGIN_MM + HEADER_MM
    room = A4_MM[1] - MARGIN_MM - FOOTER_MM - table_top - TABLE_HEAD_MM
    per_page = int(room // ROW_MM)
    pages = max(1, math.ceil((len(sheet.steps) + NOTES_ROWS) / per_page))
    out, canvas = _new_canvas(A4_MM, f"Fiche suiveuse {number}")
    page = _Page(canvas, A4_MM[1])
    width = A4_MM[0] - 2 * MARGIN_MM
    for page_no in range(1, pages + 1):
        _traveller_header(page, sheet, number, page_no, pages)
        canvas.setFillColor(Color(0.9, 0.9, 0.9))
        canvas.rect(
            MARGIN_MM * mm,
            page.y(table_top + TABLE_HEAD_MM),
            width * mm,
            TABLE_HEAD_MM * mm,
            stroke=0,
            fill=1,
        )
        canvas.setFillColor(black)
        x = MARGIN_MM
        for title, column_w in COLUMNS:
            page.text(x + column_w / 2, table_top + 4.8, title, BOLD, 8, align="centre")
            x += column_w
        steps = sheet.steps[(page_no - 1) * per_page : page_no * per_page]
        top = table_top + TABLE_HEAD_MM
        for step in steps:
            _traveller_row(page, step, top)
            top += ROW_MM
        canvas.setLineWidth(0.8)
        page.box(MARGIN_MM, table_top, width, top - table_top, 0.8)
        if page_no == pages:
            notes_h = min(NOTES_ROWS * ROW_MM, A4_MM[1] - MARGIN_MM - FOOTER_MM - top - 4)
            page.box(MARGIN_MM, top + 4, width, notes_h, 0.8)
            page.text(MARGIN_MM + 2, top + 8.5, "Remarques, contrôles, retouches :", BOLD, 9)
        canvas.showPage()
    canvas.save()
    return out.getvalue()
