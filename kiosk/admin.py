"""The Bornes page: an administrator enrols a kiosk (its link and QR code, shown once),
sees the site's kiosks (when each was last seen) and revokes one. It is an office page
(``office/base.html``: the office's nav).

For a signed-in administrator of the site only (a teacher gets 403). The enrolment link is
shown once, on the answer to the POST that made it, and never stored in clear; the page is
never cached. Writes go through the core (``EnrolKiosk``, ``RevokeToken``).
"""

from __future__ import annotations

import io
from typing import Any

import segno
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup

from app.auth.tokens import clear_cache
from app.boundary import submit, web_origin
from app.db import DatabaseBusy
from app.extensions import db
from app.ingest.events import EnrolKiosk, RevokeToken
from app.models import StaffUser
from app.read.board import workshop_timezone
from app.read.kiosk import kiosks_of_site, stations_of_site
from kiosk.links import enrolment_url, new_enrolment_code

bp = Blueprint("kiosks", __name__, url_prefix="/bornes", template_folder="templates")

BUSY = "Le serveur est occupé : réessayez dans un instant."


def _admin() -> StaffUser:
    """Return the signed-in administrator, or refuse."""
    user: StaffUser = current_user._get_current_object()
    if user.role != "admin":
        abort(403)
    return user


def qr_svg(url: str) -> Markup:
    """Draw the QR code of a link as inline SVG (dark on white, with its quiet zone)."""
    out = io.BytesIO()
    segno.make(url, error="m").save(
        out, kind="svg", scale=6, border=4, xmldecl=False, svgns=True, title="Code QR du lien"
    )
    return Markup(out.getvalue().decode("utf-8"))  # noqa: S704  (segno's own SVG, no user text)


def _page(user: StaffUser, link: str | None = None, station: str | None = None) -> Response:
    session = db.session()
    html = render_template(
        "kiosks/index.html",
        kiosks=kiosks_of_site(session, user.site_id),
        stations=stations_of_site(session, user.site_id),
        link=link,
        qr=qr_svg(link) if link else None,
        station=station,
        zone=workshop_timezone(),
        # The office's nav (office/base.html) shows its administrator's groups.
        office_admin=True,
    )
    response = Response(html, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("")
@login_required  # type: ignore[untyped-decorator]
def index() -> Any:
    """List the site's kiosks, with the form to enrol one."""
    return _page(_admin())


@bp.post("/activer")
@login_required  # type: ignore[untyped-decorator]
def enrol() -> Any:
    """Make a one-time enrolment link for a station and show it once, with its QR code."""
    user = _admin()
    station = (request.form.get("station") or "").strip().upper()[:80]
    code, code_sha256 = new_enrolment_code()
    try:
        outcome = submit(
            web_origin(user), EnrolKiosk(station_code=station, code_sha256=code_sha256)
        )
    except DatabaseBusy:
        flash(BUSY, "error")
        return redirect(url_for("kiosks.index"))
    if not outcome.accepted:
        flash(str(outcome.body["error"]["message"]), "error")
        return redirect(url_for("kiosks.index"))
    return _page(user, link=enrolment_url(code), station=station)


@bp.post("/<int:kiosk_id>/revoquer")
@login_required  # type: ignore[untyped-decorator]
def revoke(kiosk_id: int) -> Any:
    """Revoke a kiosk of the site: it shows the enrolment screen again."""
    user = _admin()
    if kiosk_id not in {row["id"] for row in kiosks_of_site(db.session(), user.site_id)}:
        abort(404)
    try:
        outcome = submit(web_origin(user), RevokeToken(kiosk_id))
    except DatabaseBusy:
        flash(BUSY, "error")
        return redirect(url_for("kiosks.index"))
    clear_cache()
    flash(
        f"Borne n° {kiosk_id} révoquée." if outcome.accepted else BUSY,
        "success" if outcome.accepted else "error",
    )
    return redirect(url_for("kiosks.index"))
