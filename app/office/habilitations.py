"""The office's habilitations (administrators only).

The kinds of habilitation with the place's derogation dates, the students' authorisations
in force, those that lapse within the month, and the printable list for the labour
inspector. A student's own authorisations are set on the student's page
(``app.office.people``).
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_login import login_required

from app.extensions import db
from app.ingest.office_events import SaveHabilitation
from app.models import StaffUser, utcnow
from app.office import admin, bp, form_key, page, refusal, send, today, zone
from app.office.people import BadForm, field, form_day
from app.read import office_people
from app.read.documents import school_name


def _page(
    user: StaffUser, *, status: int = 200, error: str | None = None, values: Any = None
) -> Any:
    session = db.session()
    day = today()
    rows = office_people.authorisations(session, user.site_id, day)
    html = render_template(
        "office/habilitations_index.html",
        kinds=office_people.habilitation_kinds(session, user.site_id, day),
        rows=rows,
        expiring=office_people.expiring(rows),
        today=day,
        error=error,
        values=values or {},
        key=form_key(),
    )
    return page(html, status)


@bp.get("/habilitations")
@login_required  # type: ignore[untyped-decorator]
def habilitations() -> Any:
    """Show the habilitations, the students' authorisations and those lapsing soon."""
    return _page(admin())


@bp.post("/habilitations")
@login_required  # type: ignore[untyped-decorator]
def habilitation_save() -> Any:
    """Add or change a kind of habilitation and its derogation date."""
    user = admin()
    values = {name: field(name) for name in ("code", "name", "derogation_until")}
    try:
        derogation = form_day("derogation_until", "Dérogation jusqu'au")
    except BadForm as bad:
        return _page(user, status=422, error=str(bad), values=values)
    event = SaveHabilitation(
        code=values["code"].strip(), name=values["name"], derogation_until=derogation
    )
    outcome = send(user, event, request.form.get("key"))
    if outcome is None:
        return _page(user, status=503, values=values)
    if not outcome.accepted:
        return _page(user, status=422, error=refusal(outcome), values=values)
    flash(outcome.body["message"], "success")
    return redirect(url_for("office.habilitations"), 303)


@bp.get("/habilitations/inspection")
@login_required  # type: ignore[untyped-decorator]
def habilitation_inspection() -> Any:
    """Show the printable list of authorised students for the labour inspector."""
    user = admin()
    session = db.session()
    day = today()
    printed = utcnow().astimezone(zone())
    html = render_template(
        "office/habilitations_inspection.html",
        site=school_name(session, user.site_id),
        listing=office_people.inspection(session, user.site_id, day),
        today=day,
        printed=printed,
    )
    return page(html)
