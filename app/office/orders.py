"""The office's work orders, routing templates and « Qui fait quoi » (teachers and admins).

Each form hands an input of ``app.ingest.office_events`` to the core; a refusal re-renders
the form with its French message (422) and the values typed. A routing is a small table of
steps (number, operation type, WPS): without a script the page offers empty rows, the
page's script (``static/office/orders.js``) adds more. Closing, cancelling or reopening an
order asks for a confirmation first (a page, no script needed).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_login import login_required

from app.extensions import db
from app.ingest.office_events import (
    AssignOperation,
    CreateWorkOrder,
    EditWorkOrder,
    SaveRoutingTemplate,
    SetWorkOrderStatus,
    StepInput,
)
from app.models import StaffUser
from app.office import bp, form_key, page, refusal, send, staff, today
from app.read import assignments as assignment_reads
from app.read import office_orders
from labels.stock import STOCKS

EMPTY_ROWS = 6
MAX_ROWS = 40
STATUS_FILTERS = {
    "": "En cours et récents",
    "open": "Ouverts",
    "closed": "Clôturés",
    "cancelled": "Annulés",
}
STATUS_ACTIONS = {
    "closed": ("Clôturer", "L'OF est livré : plus aucune pièce ne se fabrique pour lui."),
    "cancelled": ("Annuler", "L'OF est abandonné : plus aucune pièce ne se fabrique pour lui."),
    "open": ("Rouvrir", "L'OF redevient ouvert : on peut de nouveau y fabriquer des pièces."),
}
PRINTERS = (
    ("a4", "Planche A4 (imprimante de bureau, PDF)"),
    ("zpl-203", "Rouleau, imprimante thermique 203 dpi (ZPL)"),
    ("zpl-300", "Rouleau, imprimante thermique 300 dpi (ZPL)"),
)
PIECE_STOCK = "3x8"


class BadForm(Exception):
    """A form field the page cannot read (a number, a date): its French message."""


def field(name: str, max_length: int = 200) -> str:
    """Return a text field of the posted form, trimmed and cut to a sane length."""
    return (request.form.get(name) or "").strip()[:max_length]


def form_int(name: str, label: str) -> int:
    """Return an integer field of the posted form, or raise BadForm."""
    text = field(name, 20)
    try:
        return int(text)
    except ValueError:
        raise BadForm(f"{label} : nombre entier attendu.") from None


def form_day(name: str, label: str) -> date | None:
    """Return a date field of the posted form (empty: None), or raise BadForm."""
    text = field(name, 20)
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadForm(f"{label} : date invalide (jj/mm/aaaa).") from None


def form_rows() -> list[dict[str, str]]:
    """Return the routing table's rows as posted (step, type, wps), empty rows included."""
    rows = []
    for index in range(MAX_ROWS):
        if f"type_{index}" not in request.form and f"step_{index}" not in request.form:
            continue
        rows.append(
            {
                "step": field(f"step_{index}", 5),
                "type": field(f"type_{index}", 40),
                "wps": field(f"wps_{index}", 40),
            }
        )
    return rows


def form_steps(rows: list[dict[str, str]]) -> tuple[StepInput, ...]:
    """Return the steps of the routing table; a row without a type is left out.

    A row with a type and no number takes the next ten after the row above (10, 20, 30).
    """
    steps = []
    last = 0
    for row in rows:
        if not row["type"]:
            if row["step"] or row["wps"]:
                raise BadForm(f"Étape {row['step'] or '?'} : choisissez son type d'opération.")
            continue
        if row["step"]:
            try:
                number = int(row["step"])
            except ValueError:
                raise BadForm(f"Étape « {row['step']} » : nombre entier attendu.") from None
        else:
            number = (last // 10 + 1) * 10
        last = number
        steps.append(StepInput(step=number, type=row["type"], wps=row["wps"] or None))
    return tuple(steps)


def padded(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return a routing table's rows with empty ones added for new steps."""
    shown = [
        {
            "step": str(row.get("step") or ""),
            "type": row.get("type") or "",
            "wps": row.get("wps") or "",
        }
        for row in rows
    ]
    extra = max(2, EMPTY_ROWS - len(shown)) if shown else EMPTY_ROWS
    return shown + [{"step": "", "type": "", "wps": ""} for _ in range(extra)]


# -- the list --------------------------------------------------------------------------------


@bp.get("/of")
@login_required  # type: ignore[untyped-decorator]
def orders() -> Any:
    """List the work orders (open first, then by due date), filtered by status."""
    user = staff()
    wanted = request.args.get("statut", "")
    if wanted not in STATUS_FILTERS:
        wanted = ""
    listing = office_orders.work_orders(db.session(), user.site_id, today(), wanted or None)
    html = render_template(
        "office/orders_list.html",
        orders=listing["orders"],
        hidden=listing["hidden"],
        filters=STATUS_FILTERS,
        wanted=wanted,
    )
    return page(html)


# -- a new order -----------------------------------------------------------------------------


def _new_page(user: StaffUser, values: dict[str, Any], error: str | None, status: int) -> Any:
    html = render_template(
        "office/orders_new.html",
        choices=office_orders.choices(db.session(), user.site_id),
        values=values,
        rows=padded(values.get("rows", [])),
        error=error,
        key=form_key(),
    )
    return page(html, status)


@bp.route("/of/nouveau", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
def order_new() -> Any:
    """Show the form that creates a work order, and create it."""
    user = staff()
    if request.method == "GET":
        values: dict[str, Any] = {
            "template": request.args.get("gamme", ""),
            "copy_of": request.args.get("copie", ""),
            "quantity": "1",
        }
        return _new_page(user, values, None, 200)
    names = (
        "customer",
        "product",
        "quantity",
        "due_on",
        "drawing",
        "number",
        "template",
        "copy_of",
    )
    values = {name: field(name) for name in names}
    values["rows"] = form_rows()
    try:
        event = CreateWorkOrder(
            customer=values["customer"],
            product=values["product"],
            quantity=form_int("quantity", "Quantité"),
            due_on=form_day("due_on", "Date de livraison"),
            drawing=values["drawing"] or None,
            number=values["number"] or None,
            template=values["template"] or None,
            copy_of=values["copy_of"] or None,
            steps=form_steps(values["rows"]),
        )
    except BadForm as bad:
        return _new_page(user, values, str(bad), 422)
    outcome = send(user, event, request.form.get("key"))
    if outcome is None:
        return _new_page(user, values, None, 503)
    if not outcome.accepted:
        return _new_page(user, values, refusal(outcome), 422)
    flash(outcome.body["message"], "success")
    return redirect(url_for("office.order", number=outcome.body["number"]), 303)


# -- one order -------------------------------------------------------------------------------


def _order_page(
    user: StaffUser,
    number: str,
    *,
    status: int = 200,
    error: str | None = None,
    values: dict[str, Any] | None = None,
) -> Any:
    session = db.session()
    order = office_orders.work_order(session, user.site_id, number, today())
    if order is None:
        return page(render_template("office/orders_unknown.html", number=number), 404)
    values = values or {
        "customer": order["customer_code"],
        "product": order["product"],
        "quantity": str(order["quantity"]),
        "due_on": order["due_on"].isoformat() if order["due_on"] else "",
        "drawing": order["drawing"] or "",
        "rows": order["steps"],
    }
    html = render_template(
        "office/orders_order.html",
        order=order,
        choices=office_orders.choices(session, user.site_id),
        values=values,
        rows=padded(values.get("rows", [])),
        error=error,
        key=form_key(),
        actions=STATUS_ACTIONS,
        stocks=list(STOCKS.values()),
        piece_stock=PIECE_STOCK,
        printers=PRINTERS,
    )
    return page(html, status)


@bp.get("/of/<number>")
@login_required  # type: ignore[untyped-decorator]
def order(number: str) -> Any:
    """Show a work order: its header, routing, pieces and print links."""
    return _order_page(staff(), number)


@bp.post("/of/<number>")
@login_required  # type: ignore[untyped-decorator]
def order_edit(number: str) -> Any:
    """Change a work order's header and, until a piece has started, its routing."""
    user = staff()
    values: dict[str, Any] = {
        name: field(name) for name in ("customer", "product", "quantity", "due_on", "drawing")
    }
    values["rows"] = form_rows()
    routing = request.form.get("routing") == "1"
    try:
        event = EditWorkOrder(
            number=number,
            customer=values["customer"],
            product=values["product"],
            quantity=form_int("quantity", "Quantité"),
            due_on=form_day("due_on", "Date de livraison"),
            drawing=values["drawing"] or None,
            steps=form_steps(values["rows"]) if routing else None,
        )
    except BadForm as bad:
        return _order_page(user, number, status=422, error=str(bad), values=values)
    outcome = send(user, event, request.form.get("key"))
    if outcome is None:
        return _order_page(user, number, status=503, values=values)
    if not outcome.accepted:
        code = (outcome.body.get("error") or {}).get("code")
        return _order_page(
            user,
            number,
            status=404 if code == "not_found" else 422,
            error=refusal(outcome),
            values=values,
        )
    flash(outcome.body["message"], "success")
    return redirect(url_for("office.order", number=number), 303)


@bp.post("/of/<number>/statut")
@login_required  # type: ignore[untyped-decorator]
def order_status(number: str) -> Any:
    """Close, cancel or reopen a work order, once confirmed."""
    user = staff()
    wanted = field("status", 20)
    if wanted not in STATUS_ACTIONS:
        return _order_page(
            user, number, status=422, error="Choisissez Clôturer, Annuler ou Rouvrir."
        )
    if request.form.get("confirm") != "1":
        order = office_orders.work_order(db.session(), user.site_id, number, today())
        if order is None:
            return page(render_template("office/orders_unknown.html", number=number), 404)
        html = render_template(
            "office/orders_status.html",
            order=order,
            wanted=wanted,
            action=STATUS_ACTIONS[wanted],
            key=form_key(),
        )
        return page(html)
    outcome = send(user, SetWorkOrderStatus(number=number, status=wanted), request.form.get("key"))
    if outcome is None:
        return _order_page(user, number, status=503)
    if not outcome.accepted:
        code = (outcome.body.get("error") or {}).get("code")
        return _order_page(
            user, number, status=404 if code == "not_found" else 422, error=refusal(outcome)
        )
    flash(outcome.body["message"], "success")
    return redirect(url_for("office.order", number=number), 303)


# -- routing templates -----------------------------------------------------------------------


@bp.get("/gammes")
@login_required  # type: ignore[untyped-decorator]
def templates() -> Any:
    """List the routing templates a work order can be made from."""
    user = staff()
    html = render_template(
        "office/orders_templates.html",
        templates=office_orders.templates(db.session(), user.site_id),
    )
    return page(html)


def _template_page(
    user: StaffUser,
    values: dict[str, Any],
    *,
    creating: bool,
    error: str | None = None,
    status: int = 200,
) -> Any:
    html = render_template(
        "office/orders_template.html",
        choices=office_orders.choices(db.session(), user.site_id),
        values=values,
        rows=padded(values.get("rows", [])),
        creating=creating,
        error=error,
        key=form_key(),
    )
    return page(html, status)


def _save_template(user: StaffUser, code: str, *, creating: bool) -> Any:
    values: dict[str, Any] = {
        "code": code,
        "name": field("name", 150),
        "product": field("product", 150),
    }
    values["active"] = creating or request.form.get("active") == "1"
    values["rows"] = form_rows()
    try:
        event = SaveRoutingTemplate(
            code=code,
            name=values["name"],
            product=values["product"] or None,
            steps=form_steps(values["rows"]),
            active=values["active"],
        )
    except BadForm as bad:
        return _template_page(user, values, creating=creating, error=str(bad), status=422)
    outcome = send(user, event, request.form.get("key"))
    if outcome is None:
        return _template_page(user, values, creating=creating, status=503)
    if not outcome.accepted:
        return _template_page(user, values, creating=creating, error=refusal(outcome), status=422)
    flash(outcome.body["message"], "success")
    return redirect(url_for("office.templates"), 303)


@bp.route("/gammes/nouvelle", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
def template_new() -> Any:
    """Show the form that creates a routing template, and create it."""
    user = staff()
    if request.method == "GET":
        return _template_page(user, {"active": True}, creating=True)
    code = field("code", 40)
    session = db.session()
    if code and office_orders.template(session, user.site_id, code) is not None:
        values = {
            "code": code,
            "name": field("name"),
            "product": field("product"),
            "rows": form_rows(),
        }
        return _template_page(
            user,
            values,
            creating=True,
            error=f"La gamme {code} existe déjà : modifiez-la depuis la liste.",
            status=422,
        )
    return _save_template(user, code, creating=True)


@bp.route("/gammes/<code>", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
def template_edit(code: str) -> Any:
    """Show a routing template's form, and save it."""
    user = staff()
    found = office_orders.template(db.session(), user.site_id, code)
    if found is None:
        return page(render_template("office/orders_unknown.html", template=code), 404)
    if request.method == "GET":
        return _template_page(user, {**found, "rows": found["steps"]}, creating=False)
    return _save_template(user, code, creating=False)


# -- « Qui fait quoi » -----------------------------------------------------------------------


def _assign_page(
    user: StaffUser, wanted: str, *, error: str | None = None, status: int = 200
) -> Any:
    session = db.session()
    day = today()
    open_orders = office_orders.work_orders(session, user.site_id, day, "open")["orders"]
    html = render_template(
        "office/assign_index.html",
        operations=assignment_reads.who_makes_what(session, user.site_id, day, wanted or None),
        orders=open_orders,
        wanted=wanted,
        error=error,
        key=form_key,
    )
    return page(html, status)


@bp.get("/affectations")
@login_required  # type: ignore[untyped-decorator]
def assignments() -> Any:
    """Show, for each operation of the open orders, who it would teach most, and who has it."""
    return _assign_page(staff(), request.args.get("of", "")[:20])


@bp.post("/affectations")
@login_required  # type: ignore[untyped-decorator]
def assign() -> Any:
    """Give an operation to a student, or take it back (« Retirer »)."""
    user = staff()
    wanted = field("of", 20)
    event = AssignOperation(
        operation_code=field("operation", 20),
        student_code=field("student", 40),
        remove=request.form.get("remove") == "1",
    )
    outcome = send(user, event, request.form.get("key"))
    if outcome is None:
        return _assign_page(user, wanted, status=503)
    if not outcome.accepted:
        return _assign_page(user, wanted, error=refusal(outcome), status=422)
    flash(outcome.body["message"], "success")
    target = url_for("office.assignments", of=wanted) if wanted else url_for("office.assignments")
    return redirect(f"{target}#op-{event.operation_code}", 303)
