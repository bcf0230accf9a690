"""Staff sign-in: teachers and administrators, with hashed passwords and CSRF-protected forms.

A sign-in opens a session kept on the server (``app.auth.sessions``): the cookie names it
by a random secret, and the session ends at once on « Déconnexion », when the account's
password changes (its other sessions), when an administrator signs the account out
everywhere, after half an hour idle and at the end of the day. Failed sign-ins are counted
per account and per address (``app.auth.throttle``). Every sign-in, sign-out and
revocation is an input of the core, so the event log is their audit log.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.routing import BuildError
from werkzeug.security import check_password_hash, generate_password_hash

from app.auth import sessions, throttle
from app.boundary import digest, settings_from, submit, web_origin
from app.db import DatabaseBusy
from app.extensions import db, login_manager
from app.ingest import Outcome, record
from app.ingest.events import ChangePassword
from app.ingest.session_events import RevokeSessions, SignIn, SignOut
from app.models import StaffUser
from app.models.sessions import PASSWORD_CHANGED

logger = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)

MIN_PASSWORD_LENGTH = 12
# Checked even for unknown e-mails, so that the answer time does not reveal accounts.
_DUMMY_HASH = generate_password_hash(secrets.token_hex(16))
BUSY = "Le serveur est occupé : réessayez dans un instant."
REFUSED = "E-mail ou mot de passe incorrect."


@login_manager.user_loader  # type: ignore[untyped-decorator]
def _load_user(session_secret: str) -> StaffUser | None:
    """Return the account of the session the cookie names, if that session is still open."""
    found = sessions.find(session_secret)
    if found is None:
        return None
    sessions.touch(found)
    user = db.session.get(StaffUser, found.user_id)
    if user is None or not user.active:
        return None
    sessions.remember(found.id)
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


def landing() -> str:
    """Return where a signed-in staff member lands: an administrator the office, a teacher
    the review queue (or the board)."""
    try:
        if getattr(current_user, "role", None) == "admin":
            return url_for("office.index")
        return url_for("teacher.queue")
    except BuildError:
        return url_for("board.index")


def _safe_next(target: str | None) -> str:
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and not urlsplit(target).netloc
    ):
        return target
    return landing()


def _login_page(email: str, status: int = 200) -> Any:
    return render_template("auth/login.html", email=email), status


def _sign_in_event(user: StaffUser, secret: str) -> SignIn:
    return SignIn(
        user_id=user.id,
        expires_at=sessions.end_of_day(sessions.now()),
        user_agent=sessions.browser_label(request.headers.get("User-Agent")),
        secret_sha256=sessions.secret_digest(secret),
    )


def _open_session(user: StaffUser, email: str) -> Outcome:
    """Open a server-side session for the account and sign this browser in with it."""
    secret = sessions.new_secret()
    event = _sign_in_event(user, secret)

    def forget(db_session: Session, outcome: Outcome) -> None:
        if outcome.accepted:
            throttle.forget_failures(db_session, email)

    outcome = submit(web_origin(user), event, extra=forget)
    if outcome.accepted:
        login_user(user)
        # Flask-Login keeps what names the signed-in user: here, the session's secret.
        session["_user_id"] = secret
        sessions.remember(int(outcome.body["session"]))
    return outcome


@bp.route("/connexion", methods=["GET", "POST"])
def login() -> Any:
    """Sign a staff member in with e-mail and password."""
    if request.method != "POST":
        return _login_page("")
    email = request.form.get("email", "").strip().lower()[:200]
    password = request.form.get("password", "")[:200]
    address = throttle.client_address()
    now = sessions.now()
    wait = throttle.wait_minutes(email, address, now)
    if wait:
        logger.warning("staff sign-in throttled (%d min)", wait)
        flash(f"Trop d'essais : réessayez dans {wait} minute{'s' if wait > 1 else ''}.", "error")
        page, _status = _login_page(email, 429)
        return page, 429, {"Retry-After": str(wait * 60)}
    user = db.session.execute(
        select(StaffUser).where(StaffUser.email == email)
    ).scalar_one_or_none()
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    valid = check_password_hash(stored, password)
    if user is not None and user.password_hash and valid and user.active:
        try:
            outcome = _open_session(user, email)
        except DatabaseBusy:
            flash(BUSY, "error")
            return _login_page(email, 503)
        if not outcome.accepted:
            logger.error("sign-in of user %s refused by the core: %s", user.id, outcome.body)
            flash(REFUSED, "error")
            return _login_page(email, 401)
        logger.info("staff sign-in: user %s", user.id)
        if user.must_change_password:
            return redirect(url_for("auth.change_password"))
        return redirect(_safe_next(request.args.get("next")))
    throttle.note_failure(email, address, now)
    logger.warning("failed staff sign-in for an e-mail of %d characters", len(email))
    flash(REFUSED, "error")
    return _login_page(email, 401)


@bp.post("/deconnexion")
def logout() -> Any:
    """Sign the current staff member out: the session ends on the server at once."""
    session_id = sessions.current_session_id() if current_user.is_authenticated else None
    if current_user.is_authenticated and session_id is not None:
        user: StaffUser = current_user._get_current_object()
        try:
            submit(web_origin(user), SignOut(user.id, session_id))
        except DatabaseBusy:
            # Signed out here but not on the server would leave copies of the cookie
            # working: the person stays signed in and tries again.
            flash(BUSY + " Vous êtes toujours connecté.", "error")
            return redirect(request.referrer or landing())
        logger.info("staff sign-out: user %s", user.id)
    logout_user()
    flash("Vous êtes déconnecté.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/mot-de-passe", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
def change_password() -> Any:
    """Let a signed-in staff member choose a new password; their other sessions end."""
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
        # Every session of the account ends, this one included (a copy of its cookie may
        # be what made the change needed): this browser goes on with a new session.
        secret = sessions.new_secret()
        revoke = RevokeSessions(user.id, PASSWORD_CHANGED)
        reopen = _sign_in_event(user, secret)
        settings = settings_from(current_app.config)
        opened: dict[str, Any] = {}

        def renew_sessions(db_session: Session, outcome: Outcome) -> None:
            # In the password's own transaction: no moment with the new password and the
            # old sessions still open.
            if outcome.accepted:
                for event in (revoke, reopen):
                    origin = replace(web_origin(user), body_sha256=digest(event.payload()))
                    done = record(db_session, origin, event, settings)
                    if not done.accepted:
                        raise RuntimeError(f"{event.KIND} refused: {done.body}")
                    opened.update(done.body)

        try:
            outcome = submit(
                web_origin(user),
                ChangePassword(user.id, hash_password(new)),
                extra=renew_sessions,
            )
        except DatabaseBusy:
            flash(BUSY, "error")
            return render_template("auth/change_password.html"), 503
        if not outcome.accepted:
            flash(str(outcome.body.get("error", {}).get("message", BUSY)), "error")
            return render_template("auth/change_password.html"), 500
        session["_user_id"] = secret
        sessions.remember(int(opened["session"]))
        db.session.expire(user)
        logger.info("staff password changed: user %s", user.id)
        flash(
            "Mot de passe enregistré. Vos sessions sur les autres appareils sont fermées.", "info"
        )
        return redirect(landing())
    return render_template("auth/change_password.html")
