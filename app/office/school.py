"""The school's data in the office: customers, stations, operation types and their competency
grid, WPS (DMOS) and device tokens.

Administrators only (a teacher gets 403). Each form hands one input of
``app.ingest.office_events`` (or ``CreateToken`` / ``RevokeToken``) to the core; a refusal
re-renders the form with its French message (422) and the values typed.
"""

from __future__ import annotations

import math
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import login_required

from app.auth.tokens import clear_cache, hash_token, new_token
from app.extensions import db
from app.ingest.events import CreateToken, RevokeToken
from app.ingest.office_events import (
    SaveCustomer,
    SaveOperationType,
    SaveStation,
    SaveWps,
    SetGrid,
)
from app.models import StaffUser
from app.office import admin, bp, form_key, page, refusal, send
from app.read import office_school as read
from app.read.board import workshop_timezone


def _field(name: str, max_len: int = 300) -> str:
    """Return a form field's text, trimmed and bounded."""
    return (request.form.get(name) or "").strip()[:max_len]


def _render(template: str, status: int = 200, **context: Any) -> Any:
    """Render an office page of this slice, with a fresh event key for its forms."""
    context.setdefault("key", form_key())
    return page(render_template(f"office/{template}", **context), status)


def _after(user: StaffUser, event: Any, success: str) -> str | None:
    """Send an input; flash and return None when done, else return the French refusal."""
    outcome = send(user, event, _field("key", 80))
    if outcome is None:
        return "Le serveur est occupé : réessayez dans un instant."
    if not outcome.accepted:
        return refusal(outcome)
    flash(str(outcome.body.get("message") or success), "success")
    return None


# -- customers -----------------------------------------------------------------------------


def _customers_page(
    user: StaffUser, form: dict[str, Any], status: int = 200, error: str = ""
) -> Any:
    return _render(
        "school_customers.html",
        status,
        customers=read.customers(db.session(), user.site_id),
        form=form,
        error=error,
    )


@bp.get("/clients")
@login_required  # type: ignore[untyped-decorator]
def customers() -> Any:
    """List the site's customers, with the form to add one."""
    user = admin()
    return _customers_page(user, {"create": True})


@bp.get("/clients/<code>")
@login_required  # type: ignore[untyped-decorator]
def customer_edit(code: str) -> Any:
    """Show a customer's form filled in, to change its name."""
    user = admin()
    found = read.customer(db.session(), user.site_id, code)
    if found is None:
        abort(404)
    return _customers_page(user, {**found, "create": False})


@bp.post("/clients")
@login_required  # type: ignore[untyped-decorator]
def customer_save() -> Any:
    """Create or change a customer (``SaveCustomer``)."""
    user = admin()
    form: dict[str, Any] = {
        "code": _field("code", 40),
        "name": _field("name", 200),
        "create": request.form.get("create") == "1",
    }
    error = _after(user, SaveCustomer(form["code"], form["name"], form["create"]), "Enregistré.")
    if error is not None:
        return _customers_page(user, form, 422, error)
    return redirect(url_for("office.customers"), 303)


# -- stations -----------------------------------------------------------------------------


def _stations_page(
    user: StaffUser, form: dict[str, Any], status: int = 200, error: str = ""
) -> Any:
    session = db.session()
    return _render(
        "school_stations.html",
        status,
        stations=read.stations(session, user.site_id),
        habilitations=read.habilitations(session, user.site_id),
        kinds=read.station_kinds(),
        zone=workshop_timezone(),
        form=form,
        error=error,
    )


@bp.get("/postes")
@login_required  # type: ignore[untyped-decorator]
def stations() -> Any:
    """List the site's stations, with the form to add one."""
    user = admin()
    return _stations_page(user, {"create": True, "kind": "welding", "requires": []})


@bp.get("/postes/<code>")
@login_required  # type: ignore[untyped-decorator]
def station_edit(code: str) -> Any:
    """Show a station's form filled in."""
    user = admin()
    found = read.station(db.session(), user.site_id, code)
    if found is None:
        abort(404)
    return _stations_page(user, {**found, "create": False})


@bp.post("/postes")
@login_required  # type: ignore[untyped-decorator]
def station_save() -> Any:
    """Create or change a station (``SaveStation``)."""
    user = admin()
    form: dict[str, Any] = {
        "code": _field("code", 40).upper(),
        "name": _field("name", 200),
        "kind": _field("kind", 20),
        "mqtt_device": _field("mqtt_device", 60),
        "requires": [code[:40] for code in request.form.getlist("requires")][:50],
        "create": request.form.get("create") == "1",
    }
    event = SaveStation(
        form["code"],
        form["name"],
        form["kind"],
        form["mqtt_device"] or None,
        tuple(form["requires"]),
        form["create"],
    )
    error = _after(user, event, "Enregistré.")
    if error is not None:
        return _stations_page(user, form, 422, error)
    return redirect(url_for("office.stations"), 303)


# -- operation types and the grid -----------------------------------------------------------


def _types_page(user: StaffUser, form: dict[str, Any], status: int = 200, error: str = "") -> Any:
    session = db.session()
    return _render(
        "school_operations.html",
        status,
        types=read.operation_types(session, user.site_id),
        frameworks=read.frameworks(session, user.site_id),
        habilitations=read.habilitations(session, user.site_id),
        kinds=read.station_kinds(),
        form=form,
        error=error,
    )


@bp.get("/operations")
@login_required  # type: ignore[untyped-decorator]
def operation_types() -> Any:
    """List the operation types and their competencies, with the form to add one."""
    user = admin()
    return _types_page(user, {"create": True, "requires": []})


@bp.get("/operations/<code>")
@login_required  # type: ignore[untyped-decorator]
def operation_type_edit(code: str) -> Any:
    """Show an operation type's form filled in."""
    user = admin()
    found = read.operation_type(db.session(), user.site_id, code)
    if found is None:
        abort(404)
    return _types_page(user, {**found, "create": False})


@bp.post("/operations")
@login_required  # type: ignore[untyped-decorator]
def operation_type_save() -> Any:
    """Create or change an operation type (``SaveOperationType``)."""
    user = admin()
    form: dict[str, Any] = {
        "code": _field("code", 40).upper(),
        "name": _field("name", 200),
        "process": _field("process", 10),
        "station_kind": _field("station_kind", 20),
        "requires": [code[:40] for code in request.form.getlist("requires")][:50],
        "create": request.form.get("create") == "1",
    }
    event = SaveOperationType(
        form["code"],
        form["name"],
        form["process"] or None,
        form["station_kind"] or None,
        tuple(form["requires"]),
        form["create"],
    )
    error = _after(user, event, "Enregistré.")
    if error is not None:
        return _types_page(user, form, 422, error)
    return redirect(url_for("office.operation_types"), 303)


def _grid_page(
    user: StaffUser, framework: str, status: int = 200, error: str = "", ticked: Any = None
) -> Any:
    grid = read.grid(db.session(), user.site_id, framework)
    if grid is None:
        abort(404)
    if ticked is not None:  # a refused grid shows the boxes as they were sent
        for row in grid["rows"]:
            row["ticked"] = sorted(comp for code, comp in ticked if code == row["code"])
    return _render("school_grid.html", status, grid=grid, error=error)


@bp.get("/operations/grille/<framework>")
@login_required  # type: ignore[untyped-decorator]
def operation_grid(framework: str) -> Any:
    """Show one framework's grid: operation types × competencies, one box per link."""
    user = admin()
    return _grid_page(user, framework)


@bp.post("/operations/grille/<framework>")
@login_required  # type: ignore[untyped-decorator]
def operation_grid_save(framework: str) -> Any:
    """Save one framework's grid (``SetGrid``)."""
    user = admin()
    if read.grid(db.session(), user.site_id, framework) is None:
        abort(404)
    cells = []
    for value in request.form.getlist("cell")[:5000]:
        type_code, sep, comp_code = value.partition("|")
        if sep:
            cells.append((type_code[:40], comp_code[:20]))
    error = _after(user, SetGrid(framework, tuple(sorted(set(cells)))), "Enregistré.")
    if error is not None:
        return _grid_page(user, framework, 422, error, ticked=cells)
    return redirect(url_for("office.operation_grid", framework=framework), 303)


# -- WPS ------------------------------------------------------------------------------------

WPS_NUMBERS = ("i_min_a", "i_max_a", "u_min_v", "u_max_v", "q_min_kj_mm", "q_max_kj_mm")
WPS_WORDS = {
    "i_min_a": "Intensité minimale (A)",
    "i_max_a": "Intensité maximale (A)",
    "u_min_v": "Tension minimale (V)",
    "u_max_v": "Tension maximale (V)",
    "q_min_kj_mm": "Énergie minimale (kJ/mm)",
    "q_max_kj_mm": "Énergie maximale (kJ/mm)",
}


def _wps_page(user: StaffUser, form: dict[str, Any], status: int = 200, error: str = "") -> Any:
    return _render(
        "school_wps.html",
        status,
        wps=read.wps_list(db.session(), user.site_id),
        form=form,
        error=error,
    )


def number_text(value: float | None) -> str:
    """Write a number as a form shows it (no trailing « .0 »)."""
    if value is None:
        return ""
    if math.isfinite(value) and float(value).is_integer():
        return str(int(value))
    return str(value)


@bp.get("/dmos")
@login_required  # type: ignore[untyped-decorator]
def wps_list() -> Any:
    """List the site's WPS (DMOS), with the form to add one."""
    user = admin()
    return _wps_page(user, {"create": True})


@bp.get("/dmos/<code>")
@login_required  # type: ignore[untyped-decorator]
def wps_edit(code: str) -> Any:
    """Show a WPS's form filled in."""
    user = admin()
    found = read.wps(db.session(), user.site_id, code)
    if found is None:
        abort(404)
    form = {**found, "create": False}
    for name in WPS_NUMBERS:
        form[name] = number_text(found[name])
    return _wps_page(user, form)


@bp.post("/dmos")
@login_required  # type: ignore[untyped-decorator]
def wps_save() -> Any:
    """Create or change a WPS (``SaveWps``)."""
    user = admin()
    form: dict[str, Any] = {
        "code": _field("code", 40).upper(),
        "process": _field("process", 10),
        "position": _field("position", 20),
        "create": request.form.get("create") == "1",
    }
    numbers: dict[str, float | None] = {}
    for name in WPS_NUMBERS:
        form[name] = _field(name, 40)
        try:
            numbers[name] = float(form[name].replace(",", ".")) if form[name] else None
        except ValueError:
            problem = f"{WPS_WORDS[name]} : « {form[name]} » n'est pas un nombre"
            return _wps_page(user, form, 422, problem)
    for name in WPS_NUMBERS[:4]:
        if numbers[name] is None:
            return _wps_page(user, form, 422, f"{WPS_WORDS[name]} : ne peut pas être vide")
    event = SaveWps(
        form["code"],
        form["process"],
        form["position"] or None,
        numbers["i_min_a"] or 0.0,
        numbers["i_max_a"] or 0.0,
        numbers["u_min_v"] or 0.0,
        numbers["u_max_v"] or 0.0,
        numbers["q_min_kj_mm"],
        numbers["q_max_kj_mm"],
        form["create"],
    )
    error = _after(user, event, "Enregistré.")
    if error is not None:
        return _wps_page(user, form, 422, error)
    return redirect(url_for("office.wps_list"), 303)


# -- device tokens -------------------------------------------------------------------------


def _tokens_page(
    user: StaffUser,
    form: dict[str, Any],
    status: int = 200,
    error: str = "",
    created: dict[str, Any] | None = None,
) -> Any:
    session = db.session()
    return _render(
        "school_tokens.html",
        status,
        tokens=read.device_tokens(session, user.site_id),
        stations=read.stations(session, user.site_id),
        zone=workshop_timezone(),
        form=form,
        error=error,
        created=created,
    )


@bp.get("/jetons")
@login_required  # type: ignore[untyped-decorator]
def tokens() -> Any:
    """List the site's device tokens (never the tokens), with the form to create one."""
    user = admin()
    return _tokens_page(user, {})


@bp.post("/jetons")
@login_required  # type: ignore[untyped-decorator]
def token_create() -> Any:
    """Create a device token and show it once, on this answer only (``CreateToken``)."""
    user = admin()
    form: dict[str, Any] = {
        "name": _field("name", 80),
        "station": _field("station", 40).upper(),
        "read": request.form.get("read") == "1",
    }
    if not form["name"]:
        return _tokens_page(user, form, 422, "Nom : ne peut pas être vide")
    token = new_token()
    outcome = send(
        user,
        CreateToken(
            name=form["name"],
            station_code=form["station"] or None,
            read=form["read"],
            token_sha256=hash_token(token),
            prefix=token[:12],
        ),
        _field("key", 80),
    )
    if outcome is None:
        return _tokens_page(user, form, 503, "Le serveur est occupé : réessayez dans un instant.")
    if not outcome.accepted:
        return _tokens_page(user, form, 422, refusal(outcome))
    if outcome.status == "duplicate":
        # A second submit of the same form: the token was shown the first time only.
        flash("Ce jeton a déjà été créé ; il ne peut plus être affiché.", "error")
        return redirect(url_for("office.tokens"), 303)
    return _tokens_page(user, {}, created={**form, "token": token, "id": outcome.body["token"]})


@bp.post("/jetons/<int:token_id>/revoquer")
@login_required  # type: ignore[untyped-decorator]
def token_revoke(token_id: int) -> Any:
    """Revoke a device token of the site (``RevokeToken``): it stops working at once here."""
    user = admin()
    if token_id not in {row["id"] for row in read.device_tokens(db.session(), user.site_id)}:
        abort(404)
    outcome = send(user, RevokeToken(token_id), _field("key", 80))
    clear_cache()
    if outcome is not None:
        if outcome.accepted:
            flash(str(outcome.body.get("message") or "Jeton révoqué."), "success")
        else:
            flash(refusal(outcome), "error")
    return redirect(url_for("office.tokens"), 303)
