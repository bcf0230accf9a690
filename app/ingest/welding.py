"""Welding stations' messages, a batch at a time: the core side of the MQTT worker.

The worker hands over a batch of decoded messages (``StationMessage``: the transport has
turned each payload into a frozen dataclass, or said why it could not). This records every
message under its id — ``(device, boot_id, seq)``, or the content of a status — so that a
redelivery changes nothing, then applies the new ones in order: device status, arc on and
off, sample batches, and for ``arc_end`` the weld (``app.ingest.welds``). Sequence gaps are
recorded as possible loss. Everything happens in the caller's transaction; the caller
acknowledges the messages only after the commit.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select, tuple_, update
from sqlalchemy.orm import Session

from app.ingest.core import EVENTS, MAX_RAW, MAX_REASON, insert_for
from app.ingest.events import (
    ArcEnd,
    ArcStart,
    Origin,
    Samples,
    StationMessage,
    StationStatus,
)
from app.ingest.welds import WeldReport, insert_new, record_welds
from app.models import (
    DeviceBoot,
    DeviceStatus,
    SeqGap,
    Station,
    WeldSamples,
    safe_text,
    table_of,
)

# A row of a Core statement, read by its columns' names.
Record = Any

logger = logging.getLogger(__name__)

STATIONS = table_of(Station)
DEVICES = table_of(DeviceStatus)
BOOTS = table_of(DeviceBoot)
SAMPLES = table_of(WeldSamples)
GAPS = table_of(SeqGap)


@dataclass
class BatchResult:
    """What a batch did, for the worker's log and the tests."""

    received: int = 0
    duplicates: int = 0
    rejected: int = 0
    welds: int = 0
    attributed: int = 0
    gaps: int = 0
    rejections: list[tuple[str, str]] = field(default_factory=list)

    def add(self, other: BatchResult) -> None:
        """Add another batch's counts to this one."""
        for name in ("received", "duplicates", "rejected", "welds", "attributed", "gaps"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.rejections += other.rejections


def event_key(message: StationMessage) -> str:
    """Return the id a station message carries from where it happened."""
    payload = message.payload
    if payload is None:
        return "bad/" + message.body_sha256[:40]
    if isinstance(payload, StationStatus):
        return f"{payload.device}/status/{payload.boot_id}/{payload.state}/{payload.ts.isoformat()}"
    return f"{payload.device}/{payload.boot_id}/{payload.seq}"


@dataclass
class _Row:
    message: StationMessage
    key: str
    station: Record | None
    reason: str | None


def record_batch(
    session: Session, origin: Origin, messages: list[StationMessage], now: datetime
) -> BatchResult:
    """Record a batch of station messages and apply the new ones, in the caller's transaction.

    ``origin`` gives the site and the worker (its key and body hash are per message).
    """
    conn = session.connection()
    result = BatchResult()
    devices = {message.device for message in messages if message.device}
    stations = {
        row.mqtt_device: row
        for row in conn.execute(
            select(STATIONS.c.id, STATIONS.c.code, STATIONS.c.mqtt_device).where(
                STATIONS.c.site_id == origin.site_id, STATIONS.c.mqtt_device.in_(sorted(devices))
            )
        )
    }
    rows: list[_Row] = []
    seen: set[str] = set()
    for message in messages:
        result.received += 1
        key = event_key(message)
        if key in seen:
            result.duplicates += 1
            continue
        seen.add(key)
        station = stations.get(message.device) if message.device else None
        reason = message.reason
        if reason is None and station is None:
            reason = f"unknown device {message.device!r}"
        rows.append(_Row(message, key, station, reason))
    if not rows:
        return result
    actor = origin.actor
    new_ids = insert_new(
        conn,
        EVENTS,
        "key",
        [
            {
                "site_id": origin.site_id,
                "channel": "mqtt",
                "key": row.key,
                "kind": row.message.kind,
                "received_at": row.message.received_at,
                "body_sha256": row.message.body_sha256,
                "actor_kind": actor.kind,
                "actor_name": actor.name,
                "device_token_id": None,
                "user_id": None,
                "payload": None,
                "raw": (
                    safe_text(row.message.raw or "", MAX_RAW) if row.reason is not None else None
                ),
                "status": "rejected" if row.reason else "accepted",
                "error_code": "bad_message" if row.reason else None,
                "message": None,
                "reason": safe_text(row.reason, MAX_REASON) if row.reason else None,
                "response": None,
                "station_id": row.station.id if row.station else None,
                "target_station_id": row.station.id if row.station else None,
                "code": safe_text(row.message.topic, 200),
                "source": "mqtt",
            }
            for row in rows
        ],
        ["site_id", "channel", "key"],
        scope=(EVENTS.c.site_id == origin.site_id) & (EVENTS.c.channel == "mqtt"),
    )
    result.duplicates += len(rows) - len(new_ids)
    fresh = [row for row in rows if row.key in new_ids]
    for row in fresh:
        if row.reason:
            result.rejected += 1
            result.rejections.append((row.message.topic, row.reason))
            logger.warning("rejected MQTT message on %s: %s", row.message.topic, row.reason)
    assert origin.site_id is not None
    applier = _Applier(conn, origin.site_id, now, result)
    applier.apply([(row, new_ids[row.key]) for row in fresh if row.reason is None])
    return result


class _Applier:
    """Apply the decoded new messages of a batch to devices, samples and welds."""

    def __init__(self, conn: Connection, site_id: int, now: datetime, result: BatchResult) -> None:
        self.conn = conn
        self.site_id = site_id
        self.now = now
        self.result = result
        self.devices: dict[int, dict[str, Any]] = {}
        self.changed: set[int] = set()
        self.boots: dict[tuple[str, str], int] = {}
        self.new_boots: dict[tuple[str, str], int] = {}
        self.changed_boots: set[tuple[str, str]] = set()

    def apply(self, rows: list[tuple[_Row, int]]) -> None:
        """Apply the rows, in the order they came."""
        if not rows:
            return
        self._load_devices({row.station.id: row.station for row, _ in rows if row.station})
        self._load_boots(rows)
        welds: list[WeldReport] = []
        samples: list[dict[str, Any]] = []
        for row, event_id in rows:
            assert row.station is not None and row.message.payload is not None
            payload = row.message.payload
            device = self.devices[row.station.id]
            device["seen_at"] = self.now
            self.changed.add(row.station.id)
            if isinstance(payload, StationStatus):
                self._status(device, payload)
                continue
            self._track_seq(row.station.id, payload.device, payload.boot_id, payload.seq)
            if isinstance(payload, ArcStart):
                if device["arc_started_at"] is None or payload.ts >= device["arc_started_at"]:
                    device.update(
                        arc_on=True, arc_weld_id=payload.weld_id, arc_started_at=payload.ts
                    )
            elif isinstance(payload, ArcEnd):
                welds.append(WeldReport(row.station.id, event_id, payload))
                if device["arc_weld_id"] == payload.weld_id or (
                    device["arc_started_at"] is not None
                    and device["arc_started_at"] <= payload.ts_start
                ):
                    device.update(arc_on=False, arc_weld_id=None)
            elif isinstance(payload, Samples):
                samples.append(
                    {
                        "site_id": self.site_id,
                        "weld_key": payload.weld_id,
                        "device": payload.device,
                        "boot_id": payload.boot_id,
                        "seq": payload.seq,
                        "t0": payload.t0,
                        "dt_ms": payload.dt_ms,
                        "i_a": list(payload.i_a),
                        "u_v": list(payload.u_v),
                    }
                )
        if samples:
            self.conn.execute(
                insert_for(self.conn.dialect.name)(SAMPLES).on_conflict_do_nothing(
                    index_elements=["site_id", "device", "boot_id", "seq"]
                ),
                samples,
            )
        if welds:
            made, attributed = record_welds(self.conn, self.site_id, welds, self.now)
            self.result.welds += made
            self.result.attributed += attributed
        self._save_devices()
        self._save_boots()

    # -- devices and sequence numbers ------------------------------------------------------

    def _load_devices(self, stations: dict[int, Record]) -> None:
        for row in self.conn.execute(
            select(DEVICES).where(DEVICES.c.station_id.in_(sorted(stations)))
        ):
            self.devices[row.station_id] = dict(row._mapping)
        for station_id, station in stations.items():
            if station_id in self.devices:
                continue
            values = {
                "station_id": station_id,
                "device": station.mqtt_device or "",
                "state": "unknown",
                "boot_id": None,
                "fw": None,
                "status_at": None,
                "seen_at": self.now,
                "arc_on": False,
                "arc_weld_id": None,
                "arc_started_at": None,
            }
            self.conn.execute(DEVICES.insert(), values)
            self.devices[station_id] = values

    def _save_devices(self) -> None:
        for station_id in self.changed:
            values = {k: v for k, v in self.devices[station_id].items() if k != "station_id"}
            self.conn.execute(
                update(DEVICES).where(DEVICES.c.station_id == station_id).values(**values)
            )

    def _status(self, device: dict[str, Any], msg: StationStatus) -> None:
        # One topic, so the broker keeps the order; a Will's ts is its connection's start,
        # older than the birth it follows: the order decides, not ts. Only the Will of an
        # earlier power-up, delivered late, must not hide the new power-up's birth.
        if (
            msg.boot_id != device["boot_id"]
            and device["status_at"] is not None
            and msg.ts < device["status_at"]
        ):
            return
        device.update(state=msg.state, boot_id=msg.boot_id, status_at=msg.ts)
        if msg.fw:
            device["fw"] = msg.fw
        if msg.state == "offline":
            device.update(arc_on=False, arc_weld_id=None)

    def _load_boots(self, rows: list[tuple[_Row, int]]) -> None:
        pairs = {
            (row.message.payload.device, row.message.payload.boot_id)
            for row, _ in rows
            if row.message.payload is not None
            and not isinstance(row.message.payload, StationStatus)
        }
        if not pairs:
            return
        for row in self.conn.execute(
            select(BOOTS.c.device, BOOTS.c.boot_id, BOOTS.c.last_seq).where(
                BOOTS.c.site_id == self.site_id,
                tuple_(BOOTS.c.device, BOOTS.c.boot_id).in_(sorted(pairs)),
            )
        ):
            self.boots[(row.device, row.boot_id)] = row.last_seq

    def _save_boots(self) -> None:
        for (device, boot_id), last_seq in self.boots.items():
            if (device, boot_id) in self.new_boots:
                self.conn.execute(
                    BOOTS.insert(),
                    {
                        "site_id": self.site_id,
                        "device": device,
                        "boot_id": boot_id,
                        "station_id": self.new_boots[(device, boot_id)],
                        "first_seen_at": self.now,
                        "last_seq": last_seq,
                    },
                )
            elif (device, boot_id) in self.changed_boots:
                self.conn.execute(
                    update(BOOTS)
                    .where(
                        BOOTS.c.site_id == self.site_id,
                        BOOTS.c.device == device,
                        BOOTS.c.boot_id == boot_id,
                    )
                    .values(last_seq=last_seq)
                )

    def _track_seq(self, station_id: int, device: str, boot_id: str, seq: int) -> None:
        """Record skipped sequence numbers of a power-up; fill them when they come late."""
        key = (device, boot_id)
        last = self.boots.get(key)
        if last is None:
            self.boots[key] = seq
            self.new_boots[key] = station_id
            if seq > 0:
                self._gap(station_id, device, boot_id, 0, seq - 1)
            return
        if seq > last + 1:
            self._gap(station_id, device, boot_id, last + 1, seq - 1)
        if seq > last:
            self.boots[key] = seq
            self.changed_boots.add(key)
        elif seq < last:
            self._fill(device, boot_id, seq)

    def _gap(self, station_id: int, device: str, boot_id: str, first: int, last: int) -> None:
        self.result.gaps += 1
        logger.warning(
            "possible data loss: %s boot %s skipped seq %d..%d", device, boot_id, first, last
        )
        self.conn.execute(
            GAPS.insert(),
            {
                "site_id": self.site_id,
                "station_id": station_id,
                "device": device,
                "boot_id": boot_id,
                "first_seq": first,
                "last_seq": last,
                "detected_at": self.now,
            },
        )

    def _fill(self, device: str, boot_id: str, seq: int) -> None:
        """A late message arrived: it is no longer missing."""
        gap = self.conn.execute(
            select(GAPS).where(
                GAPS.c.site_id == self.site_id,
                GAPS.c.device == device,
                GAPS.c.boot_id == boot_id,
                GAPS.c.first_seq <= seq,
                GAPS.c.last_seq >= seq,
            )
        ).first()
        if gap is None:
            return
        self.conn.execute(delete(GAPS).where(GAPS.c.id == gap.id))
        for first, last in ((gap.first_seq, seq - 1), (seq + 1, gap.last_seq)):
            if first <= last:
                self.conn.execute(
                    GAPS.insert(),
                    {
                        "site_id": self.site_id,
                        "station_id": gap.station_id,
                        "device": device,
                        "boot_id": boot_id,
                        "first_seq": first,
                        "last_seq": last,
                        "detected_at": gap.detected_at,
                    },
                )


def record_unapplied(
    session: Session, origin: Origin, message: StationMessage, error: BaseException
) -> BatchResult:
    """Record a message the core failed to apply, as rejected, so the worker goes on.

    Its key is new each time: a message that keeps failing is recorded at each delivery.
    """
    conn = session.connection()
    actor = origin.actor
    conn.execute(
        EVENTS.insert(),
        {
            "site_id": origin.site_id,
            "channel": "mqtt",
            "key": f"failed/{message.body_sha256[:40]}/{time.time_ns()}",
            "kind": message.kind,
            "received_at": message.received_at,
            "body_sha256": message.body_sha256,
            "actor_kind": actor.kind,
            "actor_name": actor.name,
            "status": "rejected",
            "error_code": "internal_error",
            "reason": safe_text(f"unexpected error: {type(error).__name__}: {error}", MAX_REASON),
            "code": safe_text(message.topic, 200),
            "source": "mqtt",
            "raw": safe_text(message.raw or "", MAX_RAW) or None,
        },
    )
    return BatchResult(received=1, rejected=1)
