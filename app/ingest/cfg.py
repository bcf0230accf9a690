"""The retained ``cfg`` a welding station receives: the WPS limits in force there.

When a run starts, pauses, resumes or ends at a welding station, the event's transaction
queues the station's new ``cfg`` in the MQTT outbox; the MQTT worker publishes it
(retained, QoS 1), so that the station can show the range and beep. An empty retained
payload clears it when no run is active.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, bindparam, select

from app.ingest.core import Scope
from app.models import (
    WELDING,
    MqttOutbox,
    Operation,
    OperationRun,
    OperationType,
    Piece,
    Site,
    Station,
    StationContext,
    WorkOrder,
    Wps,
    current_context_id,
    iso,
    operation_code,
    table_of,
)

OUTBOX = table_of(MqttOutbox)
STATIONS = table_of(Station)
CONTEXTS = table_of(StationContext)
RUNS = table_of(OperationRun)
PIECES = table_of(Piece)
OPERATIONS = table_of(Operation)
TYPES = table_of(OperationType)
WORK_ORDERS = table_of(WorkOrder)
WPS = table_of(Wps)
SITES = table_of(Site)

_LAST_QUEUED = (
    select(OUTBOX.c.payload)
    .where(OUTBOX.c.station_id == STATIONS.c.id)
    .order_by(OUTBOX.c.id.desc())
    .limit(1)
    .correlate(STATIONS)
    .scalar_subquery()
)
_IN_FORCE = (
    select(
        STATIONS.c.id,
        _LAST_QUEUED.label("last_queued"),
        STATIONS.c.mqtt_device,
        SITES.c.code.label("site"),
        RUNS.c.status,
        PIECES.c.code.label("piece"),
        WORK_ORDERS.c.number,
        OPERATIONS.c.step,
        TYPES.c.name,
        WPS.c.code.label("wps"),
        WPS.c.process,
        WPS.c.position,
        WPS.c.i_min_a,
        WPS.c.i_max_a,
        WPS.c.u_min_v,
        WPS.c.u_max_v,
        WPS.c.q_min_kj_mm,
        WPS.c.q_max_kj_mm,
    )
    .select_from(
        STATIONS.join(SITES, SITES.c.id == STATIONS.c.site_id)
        .outerjoin(
            CONTEXTS,
            CONTEXTS.c.id == current_context_id(STATIONS.c.id),
        )
        .outerjoin(RUNS, RUNS.c.id == CONTEXTS.c.active_run_id)
        .outerjoin(PIECES, PIECES.c.id == RUNS.c.piece_id)
        .outerjoin(OPERATIONS, OPERATIONS.c.id == RUNS.c.operation_id)
        .outerjoin(TYPES, TYPES.c.id == OPERATIONS.c.operation_type_id)
        .outerjoin(WORK_ORDERS, WORK_ORDERS.c.id == OPERATIONS.c.work_order_id)
        .outerjoin(WPS, WPS.c.id == OPERATIONS.c.wps_id)
    )
    .where(
        STATIONS.c.id.in_(bindparam("station_ids", expanding=True)),
        STATIONS.c.kind == WELDING,
        STATIONS.c.mqtt_device.is_not(None),
    )
    .order_by(STATIONS.c.id)
)


def cfg_topic(topic_root: str, site: str, device: str) -> str:
    """Return the topic of a station's cfg."""
    return f"{topic_root}/{site}/{device}/cfg"


def _content(row: Any) -> dict[str, Any] | None:
    """Describe the run and WPS in force at a station, or None when no run is active."""
    if row.status is None:
        return None
    wps = None
    if row.wps is not None:
        q = (
            [row.q_min_kj_mm, row.q_max_kj_mm]
            if row.q_min_kj_mm is not None and row.q_max_kj_mm is not None
            else None
        )
        wps = {
            "id": row.wps,
            "process": row.process,
            "position": row.position,
            "i_a": [row.i_min_a, row.i_max_a],
            "u_v": [row.u_min_v, row.u_max_v],
            "q_kj_mm": q,
        }
    return {
        "run": {
            "operation": operation_code(row.number, row.step),
            "name": row.name,
            "piece": row.piece,
            "status": row.status,
        },
        "wps": wps,
    }


def queue(scope: Scope, station_ids: Iterable[int]) -> None:
    """Queue the new cfg of the welding stations among these, when it changed."""
    ids = sorted(set(station_ids))
    if not ids:
        return
    conn: Connection = scope.conn
    for row in conn.execute(_IN_FORCE, {"station_ids": ids}):
        topic = cfg_topic(scope.settings.topic_root, row.site, row.mqtt_device)
        content = _content(row)
        last = row.last_queued
        if last is None and content is None:
            continue
        if last is not None and _content_of(last) == content:
            continue
        payload = ""
        if content is not None:
            payload = json.dumps(
                {
                    "v": 1,
                    "device": row.mqtt_device,
                    "rev": int(scope.now.timestamp() * 1000),
                    "ts": iso(scope.now),
                    **content,
                },
                ensure_ascii=False,
                sort_keys=True,
            )
        scope.write(
            OUTBOX.insert(),
            {
                "site_id": scope.site_id,
                "station_id": row.id,
                "topic": topic,
                "payload": payload,
                "retain": True,
                "created_at": scope.now,
                "sent_at": None,
            },
        )


def _content_of(payload: str) -> dict[str, Any] | None:
    if not payload:
        return None
    data: dict[str, Any] = json.loads(payload)
    return {"run": data.get("run"), "wps": data.get("wps")}
