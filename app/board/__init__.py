"""The workshop board: the read-only wall screen of the workshop (the home page)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from app.queries import stations_overview

bp = Blueprint("board", __name__)


@bp.get("/")
def index() -> Any:
    """Show every station's live state, readable from across the room."""
    return render_template("board/index.html", stations=stations_overview())
