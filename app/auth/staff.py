"""Staff sign-in: teachers and administrators, with hashed passwords and CSRF-protected forms.

A session names the account and its ``session_version``: changing the password bumps it,
so every other session of the account stops working at once (sessions are revocable).
"""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from app.boundary import submit, web_origin
from app.extensions import db, login_manager
from app.ingest.events import ChangePassword
from app.models import StaffUser

logger = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)

MIN_PASSWORD_LENGTH = 12
# Checked even for unknown e-mails, so that the answer time does not reveal accounts.
_DUMMY_HASH = generate_password_hash(secrets.token_hex(16))


@login_manager.user_loader  # type: ignore[untyped-decorator]
def _load_user(session_id: str) -> StaffUser | None:
    user_id, _, version = session_id.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    user = db.session.get(StaffUser, int(user_id))
    if user is None or user.session_version != int(version):
        return None
    return user


def hash_password(password: str) -> str:
    """Hash a password (scrypt, Werkzeug's default): slow on purpose, done before any lock."""
    return generate_password_hash(password)


def one_time_password() -> str:
    """Return a random password to hand over once; it must be changed at first sign-in."""
    return secrets.token_urlsafe(12)


def password_problem(password: str) -> str | None:
    """Say what is wrong with a new password, in French, or None if it is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Le mot de passe doit faire au moins {MIN_PASSWORD_LENGTH} caractères."
    if len(password) > 200:
        return "Le mot de passe est trop long (200 caractères au plus)."
    if len(set(password)) < 5:
        return "Le mot de passe est trop simple."
    return None


def _safe_next(target: str | None) -> str:
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and not urlsplit(target).netloc
    ):
        return target
    return url_for("board.index")


@bp.route("/connexion", methods=["GET", "POST"])
def login() -> Any:
    """Sign a staff member in with e-mail and password."""
    if request.method == "POST":
        email = request.form.get("email", "").strip().lower()[:200]
        password = request.form.get("password", "")[:200]
        user = db.session.execute(
            select(StaffUser).where(StaffUser.email == email)
        ).scalar_one_or_none()
        stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
        valid = check_password_hash(stored, password)
        if user is not None and user.password_hash and valid and user.active:
            login_user(user)
            logger.info("staff sign-in: user %s", user.id)
            if user.must_change_password:
                return redirect(url_for("auth.change_password"))
            return redirect(_safe_next(request.args.get("next")))
        logger.warning("failed staff sign-in for an e-mail of %d characters", len(email))
        flash("E-mail ou mot de passe incorrect.", "error")
        return render_template("auth/login.html", email=email), 401
    return render_template("auth/login.html", email="")


@bp.post("/deconnexion")
def logout() -> Any:
    """Sign the current staff member out."""
    logout_user()
    flash("Vous êtes déconnecté.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/mot-de-passe", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
def change_password() -> Any:
    """Let a signed-in staff member choose a new password."""
    if request.method == "POST":
        current = request.form.get("current", "")[:200]
        new = request.form.get("new", "")[:200]
        confirm = request.form.get("confirm", "")[:200]
        user: StaffUser = current_user._get_current_object()
        problem = None
        if not user.password_hash or not check_password_hash(user.password_hash, current):
            problem = "Le mot de passe actuel est incorrect."
        elif new != confirm:
            problem = "Les deux nouveaux mots de passe ne sont pas identiques."
        elif new == current:
            problem = "Le nouveau mot de passe doit être différent de l'ancien."
        else:
            problem = password_problem(new)
        if problem:
            flash(problem, "error")
            return render_template("auth/change_password.html"), 400
        event = ChangePassword(user.id, hash_password(new))
        submit(web_origin(user), event)
        # The session moves to the account's new version; the others stop working.
        db.session.expire(user)
        login_user(user)
        logger.info("staff password changed: user %s", user.id)
        flash("Mot de passe enregistré.", "info")
        return redirect(url_for("board.index"))
    return render_template("auth/change_password.html")
