"""The Impressions page: what a teacher prints for the workshop, from the site's data.

For a signed-in teacher or administrator, of their own site only (a work order, a class
or a station of another site is « introuvable »): each work order's traveller and a sheet
of new piece labels (a POST, with its CSRF token, since it allocates serials for good),
each class's badges, the kiosks' action boards and the stations' labels. Every download
is an attachment with a useful file name and is never cached (badges carry names).
The page reads through ``app.read.documents`` and allocates through the core.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from app.boundary import web_origin
from app.errors import ErrorText
from app.extensions import db
from app.models import ROLES, StaffUser
from app.printing import documents
from app.printing.documents import Document, PrintingError
from app.read import documents as reading
from labels.stock import STOCKS

bp = Blueprint("printing", __name__, url_prefix="/impressions")

# Stocks offered for piece and station labels (the card stock is for badges).
LABEL_STOCKS = tuple(stock for name, stock in STOCKS.items() if name != "carte")
# Where a sheet of piece labels goes: (format, dpi, what the form says). A roll for a
# thermal printer has no stock and no start position: one label after the other.
PRINTERS = {
    "a4": ("pdf", 203, "Planche A4 (imprimante de bureau, PDF)"),
    "zpl-203": ("zpl", 203, "Rouleau, imprimante thermique 203 dpi (ZPL)"),
    "zpl-300": ("zpl", 300, "Rouleau, imprimante thermique 300 dpi (ZPL)"),
}


def _staff() -> StaffUser:
    """Return the signed-in teacher or administrator, or refuse."""
    user: StaffUser = current_user._get_current_object()
    if user.role not in ROLES:
        abort(403)
    return user


def _download(document: Document) -> Response:
    response = Response(document.content, mimetype=document.media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{document.filename}"'
    # Badges carry students' names, sheets spend serials: no copy kept anywhere.
    response.headers["Cache-Control"] = "no-store"
    return response


def _problem(error: PrintingError) -> Response:
    """Answer a refused print with the site's error page, in French, and its status."""
    title = "Introuvable" if error.status == 404 else "Impression impossible"
    html = render_template(
        "errors/error.html",
        status=error.status,
        text=ErrorText(title, error.message),
        actions=[("Retour aux impressions", url_for("printing.index"))],
    )
    response = Response(html, status=error.status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def _page(user: StaffUser, status: int = 200) -> Response:
    session = db.session()
    html = render_template(
        "printing/index.html",
        school=reading.school_name(session, user.site_id),
        work_orders=reading.work_orders(session, user.site_id),
        frameworks=reading.frameworks(session, user.site_id),
        kiosks=reading.kiosks(session, user.site_id),
        stocks=LABEL_STOCKS,
        printers=[(value, title) for value, (_, _, title) in PRINTERS.items()],
        piece_stock=documents.PIECE_STOCK,
        station_stock=documents.STATION_STOCK,
    )
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def _int_field(name: str, default: int | None = None) -> int:
    """Return an integer of the request (form or query), or refuse in French."""
    raw = request.values.get(name, "").strip()
    if not raw and default is not None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise PrintingError(f"Nombre attendu pour « {name} » : {raw[:20] or 'vide'}.") from None


@bp.get("")
@login_required  # type: ignore[untyped-decorator]
def index() -> Any:
    """List what can be printed for the site: work orders, classes, kiosks, stations."""
    return _page(_staff())


@bp.get("/fiche-suiveuse/<number>.pdf")
@login_required  # type: ignore[untyped-decorator]
def traveller(number: str) -> Any:
    """Download the traveller sheet of a work order."""
    user = _staff()
    try:
        return _download(documents.render_traveller(user.site_id, number))
    except PrintingError as error:
        return _problem(error)


@bp.post("/etiquettes/<number>")
@login_required  # type: ignore[untyped-decorator]
def piece_labels(number: str) -> Any:
    """Allocate the next piece serials of a work order and download their sheet."""
    user = _staff()
    try:
        if reading.work_order_id(db.session(), user.site_id, number) is None:
            raise PrintingError(f"OF inconnu : {number}.", status=404)
        count = _int_field("count")
        start = _int_field("start", 0)
        stock_name = request.form.get("stock", documents.PIECE_STOCK)
        printer = PRINTERS.get(request.form.get("printer") or "a4")
        if printer is None:
            raise PrintingError("Imprimante inconnue : choisissez-en une de la liste.")
        fmt, dpi, _ = printer
        document = documents.allocate_and_render_sheet(
            web_origin(user),
            number,
            count,
            stock_name,
            start if fmt == "pdf" else 0,
            fmt=fmt,
            dpi=dpi,
        )
    except PrintingError as error:
        if error.status == 404:
            return _problem(error)
        flash(f"{number} : {error.message}", "error")
        return _page(user, status=error.status)
    return _download(document)


@bp.get("/badges.pdf")
@bp.get("/badges/<framework>.pdf")
@login_required  # type: ignore[untyped-decorator]
def badges(framework: str | None = None) -> Any:
    """Download the printed badges of a class (or of every active student)."""
    user = _staff()
    try:
        start = _int_field("start", 0)
        return _download(documents.render_badges(user.site_id, framework, start))
    except PrintingError as error:
        return _problem(error)


@bp.get("/planche-actions.pdf")
@login_required  # type: ignore[untyped-decorator]
def action_board() -> Any:
    """Download the kiosk's action board (``?poste=ST-…`` for one kiosk station)."""
    user = _staff()
    station = request.args.get("poste") or None
    try:
        return _download(documents.render_action_board(user.site_id, station))
    except PrintingError as error:
        return _problem(error)


@bp.get("/etiquettes-postes.pdf")
@login_required  # type: ignore[untyped-decorator]
def station_labels() -> Any:
    """Download a label per station, with its name (``?support=2x7``)."""
    user = _staff()
    stock_name = request.args.get("support") or documents.STATION_STOCK
    try:
        return _download(documents.render_station_labels(user.site_id, stock_name))
    except PrintingError as error:
        return _problem(error)


@bp.get("/etiquette")
@login_required  # type: ignore[untyped-decorator]
def one_label() -> Any:
    """Send the page's one-label form to the label's own address."""
    _staff()
    fmt = request.args.get("format", "pdf")
    dpi = request.args.get("dpi", "203")
    try:
        payload = documents.code(request.args.get("code", ""))
    except PrintingError as error:
        return _problem(error)
    return redirect(url_for("printing.label", code=payload, fmt=fmt, dpi=dpi))


@bp.get("/etiquette/<code>.<fmt>")
@login_required  # type: ignore[untyped-decorator]
def label(code: str, fmt: str) -> Any:
    """Download the label of one code (svg, png, pdf or zpl; ``?dpi=203|300``)."""
    user = _staff()
    try:
        dpi = _int_field("dpi", 203)
        return _download(documents.render_label(user.site_id, code, fmt, dpi))
    except PrintingError as error:
        return _problem(error)
