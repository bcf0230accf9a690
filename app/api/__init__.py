"""The JSON API under ``/api/v1``: scans from devices, the read API and its OpenAPI document."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
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


def http_error(exc: HTTPException) -> Any:
    """Answer HTTP errors under /api/ in JSON (pages keep Werkzeug's HTML)."""
    if not request.path.startswith("/api/"):
        return exc
    status = exc.code or 500
    code = exc.name.lower().replace(" ", "_")
    return error_response(status, code, HTTP_MESSAGES.get(status, exc.name))


@bp.get("/health")
def health() -> Any:
    """Answer that the web process is up (no database access: the benchmark's ceiling)."""
    return jsonify({"status": "ok"})


from app.api import read, scans  # noqa: E402,F401  (routes register on the blueprint)
