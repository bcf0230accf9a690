"""The audit log: what people did on the office's pages, the tablet and the command line.

Administrators only, read only: a filter form (GET) by person, kind and dates, fifty
events a page, newest first, « Plus ancien » for the next fifty. There is no way to edit
or delete anything here: the event log is append-only.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response, current_app, render_template, request
from flask_login import login_required

from app.extensions import db
from app.office import admin, bp, page
from app.read.audit import CLI, KIND_GROUPS, audit_page, staff_of_site
from app.read.board import workshop_timezone


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _before(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


@bp.get("/journal")
@login_required  # type: ignore[untyped-decorator]
def audit() -> Response:
    """Show the audit log, newest first, filtered by person, kind and dates."""
    user = admin()
    zone = workshop_timezone(current_app.config.get("ATELIER_TIMEZONE"))
    groups = dict(KIND_GROUPS)
    person = request.args.get("qui", "").strip() or None
    group = request.args.get("quoi", "").strip() or None
    if group not in groups:
        group = None
    first, last = _day(request.args.get("du")), _day(request.args.get("au"))
    people = staff_of_site(db.session(), user.site_id)
    if person not in {p["email"] for p in people} | {CLI}:
        person = None
    log = audit_page(
        db.session(),
        user.site_id,
        before=_before(request.args.get("avant")),
        person=person,
        group=group,
        first=first,
        last=last,
        zone=zone,
    )
    filters: dict[str, Any] = {
        "qui": person or "",
        "quoi": group or "",
        "du": first.isoformat() if first else "",
        "au": last.isoformat() if last else "",
    }
    older = None
    if log["older"] is not None:
        older = {key: value for key, value in filters.items() if value}
        older["avant"] = log["older"]
    html = render_template(
        "office/audit_log.html",
        entries=log["entries"],
        older=older,
        filters=filters,
        people=people,
        cli=CLI,
        groups=KIND_GROUPS,
        filtered=any(filters.values()) or request.args.get("avant"),
        stamp=lambda moment: moment.astimezone(zone).strftime("%d/%m/%Y %H:%M:%S"),
    )
    return page(html)
