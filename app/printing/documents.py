"""What the printing commands and pages share: checks, allocation, rendering, file names.

The CLI (``flask --app app labels …``) and the Impressions page are two boundaries over the
same steps: read the document's data through ``app.read.documents``, allocate piece
serials through the core (``AllocatePieceLabels``), and hand the dataclasses to the pure
renderers of ``labels``. A bad input raises ``PrintingError`` with a French message, which
the CLI prints and the page shows; nothing here answers a request or exits.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from flask import current_app

from app.boundary import submit
from app.extensions import db
from app.ingest.events import AllocatePieceLabels, Origin
from app.ingest.labels import MAX_LABELS
from app.models import utcnow
from app.read import documents
from app.read.board import workshop_timezone
from labels.barcode import InvalidCode, check_code, png, svg
from labels.codes import piece_code, piece_serial
from labels.pdf import action_board, badge_sheet, label_sheet, single_label_pdf
from labels.pdf import traveller as traveller_pdf
from labels.stock import InvalidStock, Stock, get_stock
from labels.zpl import DPIS, badge_zpl, label_zpl

FORMATS = ("svg", "png", "pdf", "zpl")
# Many labels at once: an A4 sheet (PDF), or a thermal printer's roll (ZPL, one per label).
SHEET_FORMATS = ("pdf", "zpl")
MEDIA_TYPES = {
    "svg": "image/svg+xml",
    "png": "image/png",
    "pdf": "application/pdf",
    "zpl": "application/x-zpl",
}
PIECE_STOCK = "3x8"
STATION_STOCK = "2x7"


class PrintingError(Exception):
    """An input the printing refuses; ``message`` is French, ``status`` the HTTP answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Document:
    """A rendered document: its bytes, its media type and the file name to save it as."""

    content: bytes
    media_type: str
    filename: str
    message: str | None = None


def workshop_year(now: datetime | None = None) -> int:
    """Return the current year in the workshop's time zone (the year of new serials)."""
    zone = workshop_timezone(current_app.config.get("ATELIER_TIMEZONE"))
    return (now or utcnow()).astimezone(zone).year


def stock(name: str) -> Stock:
    """Return a label stock by name, or refuse with the known ones."""
    try:
        return get_stock(name)
    except InvalidStock as exc:
        raise PrintingError(exc.message) from exc


def check_start(start: int, on: Stock) -> int:
    """Check how many labels of a started sheet are used already (0 to its size minus 1)."""
    if not 0 <= start < on.per_page:
        raise PrintingError(
            f"Début de planche impossible : {start}. Une planche « {on.name} » a "
            f"{on.per_page} places ; indiquez combien sont déjà utilisées "
            f"(0 à {on.per_page - 1})."
        )
    return start


def check_count(count: int) -> int:
    """Refuse a number of labels outside 1 to 1000."""
    if not 1 <= count <= MAX_LABELS:
        raise PrintingError(f"Nombre d'étiquettes invalide : {count} (de 1 à {MAX_LABELS}).")
    return count


def code(text: str) -> str:
    """Return the canonical code to print, or refuse with the renderer's French words."""
    try:
        return check_code(text)
    except InvalidCode as exc:
        raise PrintingError(exc.message) from exc


def check_dpi(dpi: int) -> None:
    """Refuse a resolution thermal printers do not have (PNG and ZPL)."""
    if dpi not in DPIS:
        raise PrintingError(f"Résolution invalide : {dpi} (203 ou 300 points par pouce).")


def _unknown_order(number: str) -> PrintingError:
    return PrintingError(f"OF inconnu : {number}.", status=404)


def render_label(site_id: int, text: str, fmt: str, dpi: int = 203) -> Document:
    """Render the label of one code, captioned with what the site knows of it."""
    if fmt not in FORMATS:
        raise PrintingError(f"Format inconnu : {fmt} (formats : {', '.join(FORMATS)}).")
    check_dpi(dpi)
    payload = code(text)
    label = documents.caption(db.session(), site_id, payload)
    content: bytes
    try:
        if fmt == "svg":
            content = svg(label)
        elif fmt == "png":
            content = png(label, dpi=dpi)
        elif fmt == "pdf":
            content = single_label_pdf(label)
        else:
            content = label_zpl(label, dpi=dpi).encode("utf-8")
    except InvalidCode as exc:  # a code too long for the label (LayoutError)
        raise PrintingError(exc.message) from exc
    return Document(content, MEDIA_TYPES[fmt], f"etiquette-{payload}.{fmt}")


def render_traveller(site_id: int, number: str) -> Document:
    """Render the traveller sheet (fiche suiveuse) of a work order."""
    sheet = documents.traveller(db.session(), site_id, number)
    if sheet is None:
        raise _unknown_order(number)
    return Document(traveller_pdf(sheet), MEDIA_TYPES["pdf"], f"fiche-suiveuse-{number}.pdf")


def check_output(fmt: str, dpi: int, start: int) -> None:
    """Refuse a format other than an A4 sheet (PDF) or a thermal roll (ZPL), a bad dpi."""
    if fmt not in SHEET_FORMATS:
        raise PrintingError(
            f"Format inconnu : {fmt} (pdf pour une planche A4, zpl pour un rouleau)."
        )
    check_dpi(dpi)
    if fmt == "zpl" and start:
        raise PrintingError("Un rouleau d'étiquettes (zpl) n'a pas de position de départ.")


def allocate_and_render_sheet(
    origin: Origin,
    number: str,
    count: int,
    stock_name: str = PIECE_STOCK,
    start: int = 0,
    *,
    fmt: str = "pdf",
    dpi: int = 203,
) -> Document:
    """Allocate the next piece serials of a work order, then render them on label stock.

    ``fmt`` ``zpl`` writes them for a thermal printer's roll instead, one label each.
    Everything is checked before the allocation: a refused sheet spends no serial.
    """
    assert origin.site_id is not None
    check_output(fmt, dpi, start)
    on = stock(stock_name)
    first_position = check_start(start, on)
    check_count(count)
    if documents.work_order_id(db.session(), origin.site_id, number) is None:
        raise _unknown_order(number)
    year = workshop_year()
    outcome = submit(origin, AllocatePieceLabels(number, count, on.name, year))
    if not outcome.accepted:
        raise PrintingError(str(outcome.body["error"]["message"]))
    first_code, last_code = str(outcome.body["first"]), str(outcome.body["last"])
    first = piece_serial(first_code)[1]
    codes = [piece_code(year, serial) for serial in range(first, first + count)]
    labels = documents.piece_labels(db.session(), origin.site_id, number, codes)
    if fmt == "zpl":
        content = "".join(label_zpl(label, dpi=dpi) for label in labels).encode("utf-8")
    else:
        content = label_sheet(labels, stock=on.name, start=first_position)
    span = f"{first_code}-a-{piece_serial(last_code)[1]:06d}" if count > 1 else first_code
    return Document(
        content,
        MEDIA_TYPES[fmt],
        f"etiquettes-{number}-{span}.{fmt}",
        message=str(outcome.body["message"]),
    )


def render_badges(
    site_id: int,
    framework: str | None = None,
    start: int = 0,
    *,
    fmt: str = "pdf",
    dpi: int = 203,
) -> Document:
    """Render the printed badges of the site's active students (one class, or all).

    Each card: the holder's first name and initial, the badge's code, the school's name.
    ``fmt`` ``zpl`` writes them for a thermal printer's card-size labels instead.
    """
    check_output(fmt, dpi, start)
    session = db.session()
    if framework is not None and not documents.framework_exists(session, site_id, framework):
        raise PrintingError(f"Référentiel inconnu : {framework}.", status=404)
    first_position = check_start(start, stock("carte"))
    found = documents.student_badges(session, site_id, framework)
    if not found.badges:
        raise PrintingError("Aucun badge imprimé (B-…) à imprimer pour ces élèves.", status=404)
    school = documents.school_name(session, site_id)
    cards = [replace(badge, lines=(school,)) for badge in found.badges]
    name = f"badges-{framework}.{fmt}" if framework else f"badges.{fmt}"
    message = None
    if found.without_badge:
        message = "Sans badge imprimé : " + ", ".join(found.without_badge) + "."
    if fmt == "zpl":
        content = "".join(badge_zpl(card, dpi=dpi) for card in cards).encode("utf-8")
    else:
        content = badge_sheet(cards, start=first_position)
    return Document(content, MEDIA_TYPES[fmt], name, message=message)


def render_action_board(site_id: int, station: str | None = None) -> Document:
    """Render the kiosk's action board (for one kiosk station, or any)."""
    session = db.session()
    payload = None
    if station is not None:
        payload = code(station)
        if documents.station_name(session, site_id, payload) is None:
            raise PrintingError(f"Poste inconnu : {payload}.", status=404)
    content = action_board(school=documents.school_name(session, site_id), station=payload)
    filename = f"planche-actions-{payload}.pdf" if payload is not None else "planche-actions.pdf"
    return Document(content, MEDIA_TYPES["pdf"], filename)


def render_station_labels(site_id: int, stock_name: str = STATION_STOCK) -> Document:
    """Render a label per station of the site, with its name."""
    on = stock(stock_name)
    labels = documents.station_labels(db.session(), site_id)
    if not labels:
        raise PrintingError("Aucun poste à imprimer : importez d'abord les postes.", status=404)
    try:
        content = label_sheet(labels, stock=on.name)
    except InvalidCode as exc:  # a station code too long for this stock (LayoutError)
        raise PrintingError(exc.message) from exc
    return Document(content, MEDIA_TYPES["pdf"], "etiquettes-postes.pdf")
