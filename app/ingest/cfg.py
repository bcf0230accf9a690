"""The retained ``cfg`` a welding station receives: the WPS limits in force there.

When a run starts, pauses, resumes or ends at a welding station, the scan's transaction
queues the station's new ``cfg`` in the MQTT outbox; the MQTT worker publishes it
(retained, QoS 1), so that the station can show the range and beep. An empty retained
payload clears it when no run is active.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from app.ingest.catalog import Catalog, StationInfo
from app.ingest.station import load_state
from app.models import MqttOutbox
from app.models.types import iso, table_of

OUTBOX = table_of(MqttOutbox)


def cfg_topic(topic_root: str, site: str, device: str) -> str:
    """Return the topic of a station's cfg."""
    return f"{topic_root}/{site}/{device}/cfg"


def cfg_content(conn: Connection, catalog: Catalog, station: StationInfo) -> dict[str, Any] | None:
    """Describe the run and WPS in force at a station, or None when no run is active."""
    state = load_state(conn, station.id, lock=False)
    run = state.run
    if run is None:
        return None
    operation = catalog.operations[run.operation_id]
    wps = catalog.wps.get(operation.wps_id) if operation.wps_id else None
    return {
        "run": {
            "operation": operation.code,
            "name": operation.name,
            "piece": run.piece_code,
            "status": run.status,
        },
        "wps": (
            {
                "id": wps.code,
                "process": wps.process,
                "position": wps.position,
                "i_a": list(wps.i_a),
                "u_v": list(wps.u_v),
                "q_kj_mm": list(wps.q_kj_mm) if wps.q_kj_mm else None,
            }
            if wps is not None
            else None
        ),
    }


def queue_cfg(
    conn: Connection, catalog: Catalog, station_ids: set[int], topic_root: str, now: datetime
) -> None:
    """Queue the new cfg of the welding stations among these, when it changed."""
    for station_id in sorted(station_ids):
        station = catalog.stations.get(station_id)
        if station is None or station.kind != "welding" or not station.mqtt_device:
            continue
        topic = cfg_topic(topic_root, catalog.site, station.mqtt_device)
        content = cfg_content(conn, catalog, station)
        last = conn.execute(
            select(OUTBOX.c.payload)
            .where(OUTBOX.c.topic == topic)
            .order_by(OUTBOX.c.id.desc())
            .limit(1)
        ).scalar()
        previous = _content_of(last)
        if last is not None and previous == content:
            continue
        if last is None and content is None:
            continue
        payload = ""
        if content is not None:
            payload = json.dumps(
                {
                    "v": 1,
                    "device": station.mqtt_device,
                    "rev": int(now.timestamp() * 1000),
                    "ts": iso(now),
                    **content,
                },
                ensure_ascii=False,
                sort_keys=True,
            )
        conn.execute(
            OUTBOX.insert(),
            {"topic": topic, "payload": payload, "retain": True, "created_at": now},
        )


def _content_of(payload: str | None) -> dict[str, Any] | None:
    if not payload:
        return None
    data: dict[str, Any] = json.loads(payload)
    return {"run": data.get("run"), "wps": data.get("wps")}
