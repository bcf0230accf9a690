"""The office's production board: the open work orders' progress, and this month's figures.

Administrators only. ``/bureau/production`` is the page; ``/bureau/production.csv`` the
work orders' table for a spreadsheet (French Excel: UTF-8 with a BOM, ``;`` between cells,
and no cell a spreadsheet would take for a formula).
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from flask import Response, render_template
from flask_login import login_required

from app.extensions import db
from app.office import admin, bp, page, today, zone
from app.read.office_board import open_orders, production_board
from app.read.wording import fr_number, french_day

CSV_COLUMNS = (
    "OF",
    "Client",
    "Produit",
    "Commandées",
    "Fabriquées",
    "Conformes",
    "À reprendre",
    "Rebut",
    "Échéance",
    "État",
)
# A cell starting with one of these is a formula to a spreadsheet (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def duration(seconds: float | None) -> str:
    """Write a duration in the workshop's words (« 45 min », « 2 h 05 », « 3 j 4 h »)."""
    if seconds is None:
        return "–"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes}\u00a0min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}\u00a0h\u00a0{minutes:02d}"
    days, hours = divmod(hours, 24)
    return f"{days}\u00a0j\u00a0{hours}\u00a0h"


def state_of(order: dict[str, Any]) -> str:
    """Return the French word for where a work order stands (« en retard »…)."""
    if order["late"]:
        return "en retard"
    if order["done"]:
        return "terminé"
    if order["this_week"]:
        return "cette semaine"
    return "en cours"


def safe_cell(value: Any) -> str:
    """Return a CSV cell a spreadsheet shows as text, never runs as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


@bp.get("/production")
@login_required  # type: ignore[untyped-decorator]
def production() -> Response:
    """Show the production board: the open work orders, late ones first in sight."""
    user = admin()
    board = production_board(db.session(), user.site_id, zone=zone())
    html = render_template(
        "office/board_production.html",
        board=board,
        state_of=state_of,
        duration=duration,
        day=lambda value: french_day(value) if isinstance(value, date) else "–",
        num=fr_number,
    )
    return page(html)


@bp.get("/production.csv")
@login_required  # type: ignore[untyped-decorator]
def production_csv() -> Response:
    """Download the open work orders' progress as a spreadsheet (CSV for French Excel)."""
    user = admin()
    day = today()
    orders = open_orders(db.session(), user.site_id, day)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for order in orders:
        writer.writerow(
            safe_cell(value)
            for value in (
                order["number"],
                order["customer"],
                order["product"],
                order["quantity"],
                order["made"],
                order["conforme"],
                order["to_redo"],
                order["scrapped"],
                order["due_on"].isoformat() if order["due_on"] else "",
                state_of(order),
            )
        )
    response = Response("\ufeff" + out.getvalue(), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    name = f"production-{day.isoformat()}.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response
