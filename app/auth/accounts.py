"""The Comptes page: an administrator sees the site's staff accounts and their open sessions,
and can sign an account out everywhere (« Déconnecter partout »).

For a signed-in administrator of the site only (a teacher gets 403, another site's
account is 404). The revocation is an input of the core (``RevokeSessions``), so it is in
the event log; it takes effect at the next request of every browser of the account.
"""

from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from app.auth import sessions
from app.auth.staff import BUSY, bp
from app.boundary import submit, web_origin
from app.db import DatabaseBusy
from app.extensions import db
from app.ingest.session_events import RevokeSessions
from app.models import StaffSession, StaffUser
from app.models.sessions import BY_ADMIN

ROLE_WORDS = {"admin": "administrateur", "teacher": "enseignant"}


def _admin() -> StaffUser:
    """Return the signed-in administrator, or refuse."""
    user: StaffUser = current_user._get_current_object()
    if user.role != "admin":
        abort(403)
    return user


def accounts_of_site(site_id: int) -> list[dict[str, Any]]:
    """Return the site's staff accounts, each with its open sessions (newest first)."""
    at = sessions.now()
    limit = sessions.idle_limit()
    users = db.session.scalars(
        select(StaffUser).where(StaffUser.site_id == site_id).order_by(StaffUser.name)
    ).all()
    rows = db.session.scalars(
        select(StaffSession)
        .join(StaffUser, StaffUser.id == StaffSession.user_id)
        .where(
            StaffUser.site_id == site_id,
            StaffSession.revoked_at.is_(None),
            StaffSession.expires_at > at,
        )
        .order_by(StaffSession.created_at.desc())
    ).all()
    open_by_user: dict[int, list[StaffSession]] = {}
    for row in rows:
        if limit is not None and at - row.last_seen_at > limit:
            continue
        open_by_user.setdefault(row.user_id, []).append(row)
    return [
        {
            "id": user.id,
            "name": user.name,
            "email": user.email,
            "role": ROLE_WORDS.get(user.role, user.role),
            "active": user.active,
            "sessions": open_by_user.get(user.id, []),
        }
        for user in users
    ]


@bp.get("/comptes")
@login_required  # type: ignore[untyped-decorator]
def accounts() -> Any:
    """List the site's staff accounts and their open sessions."""
    user = _admin()
    html = render_template(
        "auth/accounts.html",
        accounts=accounts_of_site(user.site_id),
        zone=sessions.zone(),
        this_session=sessions.current_session_id(),
    )
    response = Response(html, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/comptes/<int:user_id>/deconnecter")
@login_required  # type: ignore[untyped-decorator]
def sign_out_everywhere(user_id: int) -> Any:
    """End every open session of an account of the site."""
    admin = _admin()
    target = db.session.get(StaffUser, user_id)
    if target is None or target.site_id != admin.site_id:
        abort(404)
    try:
        outcome = submit(web_origin(admin), RevokeSessions(target.id, BY_ADMIN))
    except DatabaseBusy:
        flash(BUSY, "error")
        return redirect(url_for("auth.accounts"))
    if not outcome.accepted:
        flash(str(outcome.body["error"]["message"]), "error")
        return redirect(url_for("auth.accounts"))
    flash(f"{target.name} est déconnecté partout ({outcome.body['message']})", "success")
    if target.id == admin.id:
        return redirect(url_for("auth.login"))
    return redirect(url_for("auth.accounts"))
