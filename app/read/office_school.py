"""The office's view of the school's data: customers, stations, operation types and their
competency grid, WPS and device tokens, as plain dicts (never writes)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import (
    TOKEN,
    Customer,
    DeviceStatus,
    DeviceToken,
    Framework,
    Habilitation,
    OperationType,
    Station,
    WorkOrder,
    Wps,
)
from app.models.production import STATION_KINDS

KIND_WORDS = {
    "kiosk": "borne",
    "welding": "soudage",
    "cutting": "découpe",
    "bending": "pliage",
    "machining": "usinage",
    "assembly": "assemblage",
    "finishing": "finition",
    "inspection": "contrôle",
    "other": "autre",
}
STATE_WORDS = {"online": "en ligne", "offline": "hors ligne", "unknown": "inconnu"}


def station_kinds() -> list[dict[str, str]]:
    """List the station kinds with their French words."""
    return [{"code": kind, "label": KIND_WORDS.get(kind, kind)} for kind in STATION_KINDS]


def customers(session: Session, site_id: int) -> list[dict[str, Any]]:
    """List the site's customers by code, each with its number of work orders."""
    counts = (
        select(WorkOrder.customer_id, func.count(WorkOrder.id).label("n"))
        .where(WorkOrder.site_id == site_id)
        .group_by(WorkOrder.customer_id)
        .subquery()
    )
    rows = session.execute(
        select(Customer.code, Customer.name, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.customer_id == Customer.id)
        .where(Customer.site_id == site_id)
        .order_by(Customer.code)
    ).all()
    return [{"code": code, "name": name, "work_orders": int(n)} for code, name, n in rows]


def customer(session: Session, site_id: int, code: str) -> dict[str, Any] | None:
    """Return one customer of the site, or None."""
    return next((c for c in customers(session, site_id) if c["code"] == code), None)


def habilitations(session: Session, site_id: int) -> list[dict[str, str]]:
    """List the site's kinds of habilitation (what a station or an operation may require)."""
    rows = session.execute(
        select(Habilitation.code, Habilitation.name)
        .where(Habilitation.site_id == site_id)
        .order_by(Habilitation.code)
    ).all()
    return [{"code": code, "name": name} for code, name in rows]


def stations(session: Session, site_id: int) -> list[dict[str, Any]]:
    """List the site's stations: kind, MQTT device, requirements and the device's last status."""
    statuses = {
        row.station_id: row
        for row in session.execute(
            select(DeviceStatus)
            .join(Station, Station.id == DeviceStatus.station_id)
            .where(Station.site_id == site_id)
        ).scalars()
    }
    result = []
    for station in session.execute(
        select(Station).where(Station.site_id == site_id).order_by(Station.code)
    ).scalars():
        status = statuses.get(station.id)
        result.append(
            {
                "code": station.code,
                "name": station.name,
                "kind": station.kind,
                "kind_label": KIND_WORDS.get(station.kind, station.kind),
                "mqtt_device": station.mqtt_device,
                "requires": [h.code for h in station.requires],
                "state": STATE_WORDS.get(status.state, status.state) if status else None,
                "seen_at": status.seen_at if status else None,
            }
        )
    return result


def station(session: Session, site_id: int, code: str) -> dict[str, Any] | None:
    """Return one station of the site, or None."""
    return next((s for s in stations(session, site_id) if s["code"] == code), None)


def frameworks(session: Session, site_id: int) -> list[dict[str, Any]]:
    """List the site's frameworks with their competencies (code, title) and provisional flag."""
    return [
        {
            "code": fw.code,
            "title": fw.title,
            "source": fw.source,
            "provisional": fw.provisional,
            "competencies": [{"code": c.code, "title": c.title} for c in fw.competencies],
        }
        for fw in session.execute(
            select(Framework).where(Framework.site_id == site_id).order_by(Framework.code)
        ).scalars()
    ]


def operation_types(session: Session, site_id: int) -> list[dict[str, Any]]:
    """List the site's operation types with their competencies and requirements."""
    return [
        {
            "code": op.code,
            "name": op.name,
            "process": op.process,
            "station_kind": op.station_kind,
            "kind_label": KIND_WORDS.get(op.station_kind, op.station_kind)
            if op.station_kind
            else None,
            "competencies": [c.full_code for c in op.competencies],
            "requires": [h.code for h in op.requires],
        }
        for op in session.execute(
            select(OperationType)
            .where(OperationType.site_id == site_id)
            .order_by(OperationType.code)
        ).scalars()
    ]


def operation_type(session: Session, site_id: int, code: str) -> dict[str, Any] | None:
    """Return one operation type of the site, or None."""
    return next((o for o in operation_types(session, site_id) if o["code"] == code), None)


def grid(session: Session, site_id: int, framework_code: str) -> dict[str, Any] | None:
    """Return one framework's grid: operation types (rows) × competencies, ticked cells."""
    framework = session.execute(
        select(Framework).where(Framework.site_id == site_id, Framework.code == framework_code)
    ).scalar_one_or_none()
    if framework is None:
        return None
    ours = {c.id for c in framework.competencies}
    rows = [
        {
            "code": op.code,
            "name": op.name,
            "ticked": sorted(c.code for c in op.competencies if c.id in ours),
        }
        for op in session.execute(
            select(OperationType)
            .where(OperationType.site_id == site_id)
            .order_by(OperationType.code)
        ).scalars()
    ]
    return {
        "code": framework.code,
        "title": framework.title,
        "provisional": framework.provisional,
        "source": framework.source,
        "competencies": [{"code": c.code, "title": c.title} for c in framework.competencies],
        "rows": rows,
    }


def wps_list(session: Session, site_id: int) -> list[dict[str, Any]]:
    """List the site's WPS (DMOS) and their ranges."""
    return [
        {
            "code": w.code,
            "process": w.process,
            "position": w.position,
            "i_min_a": w.i_min_a,
            "i_max_a": w.i_max_a,
            "u_min_v": w.u_min_v,
            "u_max_v": w.u_max_v,
            "q_min_kj_mm": w.q_min_kj_mm,
            "q_max_kj_mm": w.q_max_kj_mm,
        }
        for w in session.execute(
            select(Wps).where(Wps.site_id == site_id).order_by(Wps.code)
        ).scalars()
    ]


def wps(session: Session, site_id: int, code: str) -> dict[str, Any] | None:
    """Return one WPS of the site, or None."""
    return next((w for w in wps_list(session, site_id) if w["code"] == code), None)


def device_tokens(session: Session, site_id: int) -> list[dict[str, Any]]:
    """List the site's device tokens (never the tokens): name, prefix, station, rights, dates."""
    rows = session.execute(
        select(DeviceToken, Station.code)
        .outerjoin(Station, Station.id == DeviceToken.station_id)
        .where(DeviceToken.site_id == site_id, DeviceToken.kind == TOKEN)
        .order_by(DeviceToken.id.desc())
    ).all()
    return [
        {
            "id": token.id,
            "name": token.name,
            "prefix": token.prefix,
            "station": station_code,
            "can_scan": token.can_scan,
            "can_read": token.can_read,
            "created_at": token.created_at,
            "last_used_at": token.last_used_at,
            "revoked_at": token.revoked_at,
        }
        for token, station_code in rows
    ]
