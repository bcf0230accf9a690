"""The JSON API under ``/api/v1``: scans from devices, the read API and its OpenAPI document."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def error_response(status: int, code: str, message: str, **extra: Any) -> tuple[Any, int]:
    """Build the API's error body: ``{"status": "error", "error": {"code", "message"}}``."""
    return jsonify(
        {"status": "error", "error": {"code": code, "message": message, **extra}}
    ), status


@bp.get("/health")
def health() -> Any:
    """Answer that the web process is up (no database access: the benchmark's ceiling)."""
    return jsonify({"status": "ok"})


from app.api import read, reviews, scans  # noqa: E402,F401  (routes register on the blueprint)
