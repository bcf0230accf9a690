"""Atelier: the shop-floor production tracker of the écoles de production."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, jsonify, redirect, request, url_for
from flask_login import current_user

from app import cli, errors, i18n, ingest, models  # noqa: F401  (tables and handlers)
from app.api import bp as api_bp
from app.auth import bp as auth_bp
from app.board import bp as board_bp
from app.config import Config, ConfigError
from app.extensions import (
    StrictJSONProvider,
    configure_sqlite,
    csrf,
    db,
    login_manager,
    migrate,
)
from app.office import bp as office_bp
from app.printing import bp as printing_bp
from app.printing.commands import register as register_label_commands
from app.printing.record_commands import register as register_record_commands
from app.rgpd_commands import register as register_rgpd_commands
from app.teacher import bp as teacher_bp
from kiosk.pages import register as register_kiosk

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def create_app(config: Config | None = None) -> Flask:
    """Build the Flask application: config, extensions, blueprints, CLI."""
    app = Flask(__name__, instance_relative_config=True)
    app.json = StrictJSONProvider(app)
    try:
        if config is None:
            config = Config.from_env(app.instance_path)
        app.config.update(config.flask_mapping())
    except ConfigError as exc:
        # A person reads this (the CLI, gunicorn's log): the French sentence, no traceback.
        raise SystemExit(f"Erreur : {exc}") from None
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            if engine.dialect.name == "sqlite":
                configure_sqlite(engine)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Connectez-vous pour voir cette page."
    login_manager.session_protection = "strong"
    csrf.init_app(app)

    csrf.exempt(api_bp)  # bearer tokens, no cookies: nothing for CSRF to protect
    app.register_blueprint(api_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(board_bp)
    app.register_blueprint(printing_bp)
    app.register_blueprint(teacher_bp)
    app.register_blueprint(office_bp)
    register_kiosk(app)
    errors.register(app)

    cli.register(app)
    register_label_commands(app)
    register_record_commands(app)
    register_rgpd_commands(app)
    i18n.register(app)  # after every command is registered: French help for them all
    _register_hooks(app)
    return app


def _register_hooks(app: Flask) -> None:
    @app.before_request
    def _require_new_password() -> Any:
        # Only a signed-in session can owe a new password: a request without the session
        # cookie (a device's scan with its bearer token) need not load a user at all.
        if app.config["SESSION_COOKIE_NAME"] not in request.cookies:
            return None
        if (
            current_user.is_authenticated
            and getattr(current_user, "must_change_password", False)
            and request.endpoint not in {"auth.change_password", "auth.logout", "static"}
        ):
            if request.path.startswith("/api/"):
                return jsonify(
                    {
                        "status": "error",
                        "error": {
                            "code": "password_change_required",
                            "message": "Choisissez d'abord votre mot de passe.",
                        },
                    }
                ), 403
            return redirect(url_for("auth.change_password"))
        return None

    @app.after_request
    def _security_headers(response: Any) -> Any:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'self'",
        )
        return response
