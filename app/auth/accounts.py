"""The Comptes page: an administrator sees the site's staff accounts and their open sessions,
can sign an account out everywhere (« Déconnecter partout ») and create an account
(« Créer un compte »: its provisional password shown once, as ``flask user create`` prints it).
It is an office page (``office/base.html``: the office's nav).

For a signed-in administrator of the site only (a teacher gets 403, another site's
account is 404). The revocation is an input of the core (``RevokeSessions``), so it is in
the event log; it takes effect at the next request of every browser of the account.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from app.auth import sessions
from app.auth.staff import BUSY, bp, hash_password, one_time_password
from app.boundary import submit, web_origin
from app.db import DatabaseBusy
from app.extensions import db
from app.ingest.events import CreateStaff
from app.ingest.session_events import RevokeSessions
from app.models import ROLES, StaffSession, StaffUser
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


def _accounts_page(
    user: StaffUser,
    status: int = 200,
    form: dict[str, str] | None = None,
    error: str = "",
    created: dict[str, str] | None = None,
) -> Response:
    html = render_template(
        "auth/accounts.html",
        accounts=accounts_of_site(user.site_id),
        zone=sessions.zone(),
        this_session=sessions.current_session_id(),
        roles=[(role, ROLE_WORDS.get(role, role)) for role in ROLES],
        form=form or {"role": "teacher"},
        error=error,
        created=created,
        key=uuid.uuid4().hex,
        # The office's nav (office/base.html) shows its administrator's groups.
        office_admin=True,
    )
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/comptes")
@login_required  # type: ignore[untyped-decorator]
def accounts() -> Any:
    """List the site's staff accounts and their open sessions."""
    return _accounts_page(_admin())


@bp.post("/comptes/nouveau")
@login_required  # type: ignore[untyped-decorator]
def account_create() -> Any:
    """Create a staff account and show its provisional password once (``CreateStaff``)."""
    admin = _admin()
    form = {
        "email": (request.form.get("email") or "").strip().lower()[:200],
        "name": (request.form.get("name") or "").strip()[:80],
        "role": (request.form.get("role") or "").strip(),
    }
    if "@" not in form["email"] or "." not in form["email"].rpartition("@")[2]:
        return _accounts_page(admin, 422, form, f"Adresse e-mail invalide : {form['email']}")
    if form["role"] not in ROLES:
        return _accounts_page(admin, 422, form, "Choisissez le rôle du compte.")
    password = one_time_password()
    key = (request.form.get("key") or "")[:80] or None
    try:
        outcome = submit(
            web_origin(admin, key=key),
            CreateStaff(
                email=form["email"],
                role=form["role"],
                name=form["name"] or None,
                password_hash=hash_password(password),
            ),
        )
    except DatabaseBusy:
        return _accounts_page(admin, 503, form, BUSY)
    if not outcome.accepted:
        return _accounts_page(admin, 422, form, str(outcome.body["error"]["message"]))
    if outcome.status == "duplicate":
        flash("Ce compte a déjà été créé ; son mot de passe ne peut plus être affiché.", "error")
        return redirect(url_for("auth.accounts"), 303)
    created = {**form, "password": password, "role_word": ROLE_WORDS.get(form["role"], "")}
    return _accounts_page(admin, created=created)


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
