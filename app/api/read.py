"""The read API: pieces, student portfolios and stations (for teachers and read tokens)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import jsonify
from flask_login import current_user

from app.api import bp, error_response
from app.api.auth import device_from_request
from app.api.openapi import openapi_document
from app.queries import piece_detail, stations_overview, student_portfolio

F = TypeVar("F", bound=Callable[..., Any])


def read_access(view: F) -> F:
    """Allow a signed-in staff member or a device token with read rights; answer 401 else."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not (current_user.is_authenticated and current_user.is_active):
            device = device_from_request()
            if device is None:
                return error_response(
                    401, "unauthorized", "Connexion enseignant ou jeton de lecture requis."
                )
            if not device.can_read:
                return error_response(403, "forbidden", "Ce jeton ne donne pas accès à la lecture.")
        response = view(*args, **kwargs)
        return response

    return wrapper  # type: ignore[return-value]


def _no_store(payload: Any) -> Any:
    response = jsonify(payload)
    # Students' data: never kept by a shared tablet's cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/pieces/<code>")
@read_access
def get_piece(code: str) -> Any:
    """Return a piece with its operations, students, welds and evidence."""
    detail = piece_detail(code.upper())
    if detail is None:
        return error_response(404, "not_found", f"Pièce {code} inconnue.")
    return _no_store(detail)


@bp.get("/students/<code>/portfolio")
@read_access
def get_portfolio(code: str) -> Any:
    """Return a student's evidence per competency of their framework."""
    portfolio = student_portfolio(code)
    if portfolio is None:
        return error_response(404, "not_found", f"Élève {code} inconnu.")
    return _no_store(portfolio)


@bp.get("/stations")
@read_access
def get_stations() -> Any:
    """Return every station with who is badged in and what is in progress."""
    return _no_store({"stations": stations_overview()})


@bp.get("/openapi.json")
def get_openapi() -> Any:
    """Return the OpenAPI document of this API."""
    return jsonify(openapi_document())
