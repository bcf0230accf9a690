"""The JSON API under ``/api/v1``: scans from devices, the read API and its OpenAPI document."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from werkzeug.exceptions import HTTPException

bp = Blueprint("api", __name__, url_prefix="/api/v1")

HTTP_MESSAGES = {
    400: "Requête invalide.",
    401: "Authentification requise.",
    403: "Accès refusé.",
    404: "Introuvable.",
    405: "Méthode non autorisée.",
    413: "Requête trop volumineuse.",
}


def error_response(status: int, code: str, message: str, **extra: Any) -> tuple[Any, int]:
    """Build the API's error body: ``{"status": "error", "error": {"code", "message"}}``."""
    return jsonify(
        {"status": "error", "error": {"code": code, "message": message, **extra}}
    ), status


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> tuple[Any, int]:
    status = exc.code or 500
    return error_response(
        status, exc.name.lower().replace(" ", "_"), HTTP_MESSAGES.get(status, exc.name)
    )


@bp.get("/health")
def health() -> Any:
    """Answer that the web process is up (no database access: the benchmark's ceiling)."""
    return jsonify({"status": "ok"})


from app.api import read, scans  # noqa: E402,F401  (routes register on the blueprint)
