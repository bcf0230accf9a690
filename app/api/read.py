"""The read API: pieces, student portfolios and stations (for teachers and read tokens).

Every answer is the caller's site's: a teacher sees their school, a read token its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, jsonify
from flask_login import current_user

from app.api import bp, error_response
from app.api.openapi import openapi_document
from app.auth.tokens import device_from_request, stamp_used
from app.db import DatabaseBusy, write_transaction
from app.extensions import db
from app.models import utcnow
from app.read.pieces import piece_detail
from app.read.portfolio import student_portfolio
from app.read.stations import station_statuses

F = TypeVar("F", bound=Callable[..., Any])


def read_access(view: F) -> F:
    """Allow a signed-in staff member or a device token with read rights; answer 401 else."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_user.is_authenticated and current_user.is_active:
            g.site_id = current_user.site_id
        else:
            device = device_from_request()
            if device is None:
                return error_response(
                    401, "unauthorized", "Connexion enseignant ou jeton de lecture requis."
                )
            if not device.can_read:
                return error_response(403, "forbidden", "Ce jeton ne donne pas accès à la lecture.")
            if device.needs_stamp(utcnow()):
                # Busy: only the "last used" column waits for the next request.
                with contextlib.suppress(DatabaseBusy):
                    write_transaction(lambda session: stamp_used(session, device))
            g.site_id = device.site_id
        return view(*args, **kwargs)

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
    detail = piece_detail(db.session(), g.site_id, code.upper())
    if detail is None:
        return error_response(404, "not_found", f"Pièce {code} inconnue.")
    return _no_store(detail)


@bp.get("/students/<code>/portfolio")
@read_access
def get_portfolio(code: str) -> Any:
    """Return a student's evidence per competency of their framework."""
    portfolio = student_portfolio(db.session(), g.site_id, code)
    if portfolio is None:
        return error_response(404, "not_found", f"Élève {code} inconnu.")
    return _no_store(portfolio)


@bp.get("/stations")
@read_access
def get_stations() -> Any:
    """Return every station with who is badged in and what is in progress."""
    return _no_store({"stations": station_statuses(db.session(), g.site_id)})


@bp.get("/openapi.json")
def get_openapi() -> Any:
    """Return the OpenAPI document of this API."""
    return jsonify(openapi_document())
