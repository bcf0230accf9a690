"""Welds waiting for a teacher: those no run was active for when their arc struck."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.models import Weld, WeldStudent
from app.read.pieces import weld_ref


def unattributed_welds(session: Session, site_id: int, limit: int = 200) -> list[dict[str, Any]]:
    """List a site's welds no run was active for, newest first: a teacher assigns them."""
    welds = session.execute(
        select(Weld)
        .where(Weld.site_id == site_id, Weld.run_id.is_(None))
        .order_by(Weld.started_at.desc(), Weld.id.desc())
        .limit(limit)
        .options(
            selectinload(Weld.students).selectinload(WeldStudent.student),
            selectinload(Weld.station),
            selectinload(Weld.wps),
        )
    ).scalars()
    return [weld_ref(weld) for weld in welds]
