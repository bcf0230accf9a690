"""The sites (schools) in the database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Site


def all_sites(session: Session) -> list[dict[str, Any]]:
    """List every site by code: ``{"id", "code", "name"}``."""
    return [
        {"id": row.id, "code": row.code, "name": row.name}
        for row in session.execute(select(Site.id, Site.code, Site.name).order_by(Site.code))
    ]


def site_by_code(session: Session, code: str) -> dict[str, Any] | None:
    """Return the site with this code, or None."""
    row = session.execute(select(Site.id, Site.code, Site.name).where(Site.code == code)).first()
    return {"id": row.id, "code": row.code, "name": row.name} if row is not None else None
