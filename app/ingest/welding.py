"""The welding side of the ingest core: station messages become welds on students' work.

The MQTT worker hands over a batch of raw messages; this module parses each one (a
message that is not JSON, has an unknown ``v`` or a missing or ill-typed field is
recorded as rejected with its reason), records every message under its id —
``(device, boot_id, seq)`` — so that a redelivery changes nothing, and applies the new
ones in order: device status, arc on/off, sample batches, and for ``arc_end`` the weld,
attributed to the operation run and the students at the station at ``ts_start``, with
its heat input and its verdict against the WPS. Sequence gaps are recorded as possible
loss. Everything happens in the caller's transaction; the caller acknowledges the
messages only after the commit.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    Connection,
    String,
    Table,
    and_,
    any_,
    bindparam,
    delete,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import insert_for
from app.ingest.catalog import Catalog, StationInfo, WpsInfo
from app.ingest.station import evidence_rows
from app.models import (
    DeviceBoot,
    DeviceStatus,
    Event,
    Evidence,
    OperationRun,
    Presence,
    RunInterval,
    SeqGap,
    Weld,
    WeldSamples,
    WeldStudent,
)
from app.models.types import parse_timestamp, table_of

logger = logging.getLogger(__name__)

EVENTS = table_of(Event)
DEVICES = table_of(DeviceStatus)
BOOTS = table_of(DeviceBoot)
WELDS = table_of(Weld)
WELD_STUDENTS = table_of(WeldStudent)
SAMPLES = table_of(WeldSamples)
GAPS = table_of(SeqGap)
EVIDENCE = table_of(Evidence)
RUNS = table_of(OperationRun)
INTERVALS = table_of(RunInterval)
PRESENCES = table_of(Presence)

# EN 1011-1 thermal efficiency factors k by ISO 4063 process (CONTRACT.md §6).
K_FACTORS = {
    "111": 0.8,
    "114": 0.8,
    "131": 0.8,
    "135": 0.8,
    "136": 0.8,
    "141": 0.6,
    "15": 0.6,
    "121": 1.0,
}
MAX_SAMPLES_PER_BATCH = 1000
MAX_TEXT = 80
PAYLOAD_KEPT = 2000


@dataclass(frozen=True)
class MqttMessage:
    """A message as the worker received it: topic, raw payload, and when."""

    topic: str
    payload: bytes
    received_at: datetime
    retain: bool = False


class BadMessage(ValueError):
    """A payload the contract does not allow; the reason is for the logs (English)."""


@dataclass(frozen=True)
class StatusMsg:
    """A station's retained birth, or its Last Will."""

    device: str
    boot_id: str
    state: str
    ts: datetime
    fw: str | None


@dataclass(frozen=True)
class ArcStartMsg:
    """The arc struck."""

    device: str
    boot_id: str
    seq: int
    weld_id: str
    ts: datetime
    process: str | None


@dataclass(frozen=True)
class ArcEndMsg:
    """The record of a weld."""

    device: str
    boot_id: str
    seq: int
    weld_id: str
    ts_start: datetime
    ts_end: datetime
    arc_s: float
    process: str | None
    i_mean: float
    i_min: float | None
    i_max: float | None
    u_mean: float
    u_min: float | None
    u_max: float | None
    wfs_m_min: float | None
    gas_l_min: float | None
    energy_j: float | None
    length_mm: float | None


@dataclass(frozen=True)
class SamplesMsg:
    """A batch of 10 Hz samples of a weld in progress."""

    device: str
    boot_id: str
    seq: int
    weld_id: str
    t0: datetime
    dt_ms: float
    i_a: list[float]
    u_v: list[float]


Parsed = StatusMsg | ArcStartMsg | ArcEndMsg | SamplesMsg

TOPIC_KINDS = {"status": "status", "evt/arc": "arc", "data/samples": "samples"}


# -- parsing -------------------------------------------------------------------------------


def _obj(payload: bytes) -> dict[str, Any]:
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadMessage(f"payload is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadMessage("payload is not a JSON object")
    if data.get("v") != 1 or isinstance(data.get("v"), bool):
        raise BadMessage(f"unknown payload version v={data.get('v')!r}")
    return data


def _str(data: dict[str, Any], key: str, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise BadMessage(f"missing field {key!r}")
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
        raise BadMessage(f"field {key!r} must be a non-empty string of at most {MAX_TEXT}")
    if "\x00" in value:
        raise BadMessage(f"field {key!r} contains a NUL character")
    return value


def _req_str(data: dict[str, Any], key: str) -> str:
    value = _str(data, key)
    assert value is not None
    return value


def _num(data: Any, key: str, required: bool = True, minimum: float | None = None) -> float | None:
    value = data.get(key) if isinstance(data, dict) else None
    if value is None:
        if required:
            raise BadMessage(f"missing field {key!r}")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadMessage(f"field {key!r} must be a finite number")
    if minimum is not None and value < minimum:
        raise BadMessage(f"field {key!r} must be at least {minimum}")
    return float(value)


def _req_num(data: Any, key: str, minimum: float | None = None) -> float:
    value = _num(data, key, True, minimum)
    assert value is not None
    return value


def _seq(data: dict[str, Any]) -> int:
    value = data.get("seq")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**62:
        raise BadMessage("field 'seq' must be a non-negative integer")
    return value


def _ts(data: dict[str, Any], key: str) -> datetime:
    text = _req_str(data, key)
    try:
        return parse_timestamp(text)
    except ValueError:
        raise BadMessage(f"field {key!r} is not an RFC 3339 timestamp") from None


def _stats(data: dict[str, Any], key: str) -> tuple[float, float | None, float | None]:
    block = data.get(key)
    if not isinstance(block, dict):
        raise BadMessage(f"field {key!r} must be an object with mean, min, max")
    return _req_num(block, "mean", 0.0), _num(block, "min", False), _num(block, "max", False)


def _series(data: dict[str, Any], key: str) -> list[float]:
    values = data.get(key)
    if not isinstance(values, list) or len(values) > MAX_SAMPLES_PER_BATCH:
        raise BadMessage(f"field {key!r} must be a list of at most {MAX_SAMPLES_PER_BATCH}")
    result = []
    for value in values:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise BadMessage(f"field {key!r} must hold finite numbers")
        result.append(float(value))
    return result


def parse_message(kind: str, topic_device: str, payload: bytes) -> Parsed:
    """Parse a station message of a topic kind; raise BadMessage with the reason."""
    data = _obj(payload)
    device = _req_str(data, "device")
    if device != topic_device:
        raise BadMessage(f"device {device!r} in a message on the topic of {topic_device!r}")
    boot_id = _req_str(data, "boot_id")
    if kind == "status":
        state = _req_str(data, "state")
        if state not in {"online", "offline"}:
            raise BadMessage(f"unknown state {state!r}")
        return StatusMsg(device, boot_id, state, _ts(data, "ts"), _str(data, "fw", False))
    seq = _seq(data)
    weld_id = _req_str(data, "weld_id")
    if kind == "samples":
        i_a, u_v = _series(data, "i_a"), _series(data, "u_v")
        if len(i_a) != len(u_v):
            raise BadMessage("i_a and u_v have different lengths")
        return SamplesMsg(
            device, boot_id, seq, weld_id, _ts(data, "t0"), _req_num(data, "dt_ms", 1.0), i_a, u_v
        )
    message_type = data.get("type")
    if message_type == "arc_start":
        return ArcStartMsg(
            device, boot_id, seq, weld_id, _ts(data, "ts"), _str(data, "process", False)
        )
    if message_type == "arc_end":
        i_mean, i_min, i_max = _stats(data, "i_a")
        u_mean, u_min, u_max = _stats(data, "u_v")
        ts_start, ts_end = _ts(data, "ts_start"), _ts(data, "ts_end")
        if ts_end < ts_start:
            raise BadMessage("ts_end is before ts_start")
        return ArcEndMsg(
            device=device,
            boot_id=boot_id,
            seq=seq,
            weld_id=weld_id,
            ts_start=ts_start,
            ts_end=ts_end,
            arc_s=_req_num(data, "arc_s", 0.0),
            process=_str(data, "process", False),
            i_mean=i_mean,
            i_min=i_min,
            i_max=i_max,
            u_mean=u_mean,
            u_min=u_min,
            u_max=u_max,
            wfs_m_min=_num(data, "wfs_m_min", False, 0.0),
            gas_l_min=_num(data, "gas_l_min", False, 0.0),
            energy_j=_num(data, "energy_j", False, 0.0),
            length_mm=_num(data, "length_mm", False, 0.0),
        )
    raise BadMessage(f"unknown event type {message_type!r}")


# -- analysis ------------------------------------------------------------------------------


def heat_input(
    process: str | None, energy_j: float | None, length_mm: float | None
) -> tuple[float | None, float | None]:
    """Return (heat input in kJ/mm, k) by EN 1011-1, or Nones when it cannot be known."""
    k = K_FACTORS.get(process or "")
    if k is None or energy_j is None or not length_mm:
        return None, k
    return k * energy_j / length_mm / 1000.0, k


def wps_verdict(
    wps: WpsInfo | None,
    process: str | None,
    i_mean: float,
    u_mean: float,
    q_kj_mm: float | None,
) -> tuple[str, list[dict[str, Any]]]:
    """Compare a weld's means (and heat input when known) with the WPS ranges."""
    if wps is None:
        return "no_wps", []
    deviations: list[dict[str, Any]] = []
    if process is not None and process != wps.process:
        deviations.append({"field": "process", "value": process, "expected": wps.process})
    checks: list[tuple[str, float | None, tuple[float, float] | None]] = [
        ("i_a", i_mean, wps.i_a),
        ("u_v", u_mean, wps.u_v),
        ("q_kj_mm", q_kj_mm, wps.q_kj_mm),
    ]
    for name, value, bounds in checks:
        if value is None or bounds is None:
            continue
        low, high = bounds
        if value < low or value > high:
            off = value - low if value < low else value - high
            deviations.append(
                {
                    "field": name,
                    "value": round(value, 3),
                    "min": low,
                    "max": high,
                    "deviation": round(off, 3),
                }
            )
    return ("out_of_range" if deviations else "in_range"), deviations


# -- the batch -----------------------------------------------------------------------------


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


@dataclass
class _Row:
    key: str
    message: MqttMessage
    station: StationInfo | None
    parsed: Parsed | None
    kind: str
    reason: str | None = None


def _event_key(parsed: Parsed) -> str:
    if isinstance(parsed, StatusMsg):
        return f"{parsed.device}/status/{parsed.boot_id}/{parsed.state}/{parsed.ts.isoformat()}"
    return f"{parsed.device}/{parsed.boot_id}/{parsed.seq}"


def _classify(message: MqttMessage, catalog: Catalog, topic_root: str) -> _Row:
    """Read a message's topic and payload into a row to record (accepted or rejected)."""
    digest = hashlib.sha256(message.topic.encode("utf-8", "replace") + b"\0" + message.payload)
    bad_key = "bad/" + digest.hexdigest()[:40]
    prefix = f"{topic_root}/{catalog.site}/"
    if not message.topic.startswith(prefix):
        return _Row(bad_key, message, None, None, "unknown", f"topic outside {prefix}#")
    device, _, suffix = message.topic[len(prefix) :].partition("/")
    kind = TOPIC_KINDS.get(suffix)
    station = catalog.station_by_device(device)
    if kind is None:
        return _Row(bad_key, message, station, None, "unknown", f"unknown topic {suffix!r}")
    if station is None:
        return _Row(bad_key, message, None, None, kind, f"unknown device {device!r}")
    try:
        parsed = parse_message(kind, device, message.payload)
    except BadMessage as exc:
        return _Row(bad_key, message, station, None, kind, str(exc))
    if isinstance(parsed, ArcStartMsg | ArcEndMsg) and kind != "arc":
        return _Row(bad_key, message, station, None, kind, "arc event on a data topic")
    event_kind = {
        StatusMsg: "status",
        ArcStartMsg: "arc_start",
        ArcEndMsg: "arc_end",
        SamplesMsg: "samples",
    }[type(parsed)]
    return _Row(_event_key(parsed), message, station, parsed, event_kind)


def insert_new(
    conn: Connection,
    table: Table,
    key: str,
    rows: list[dict[str, Any]],
    conflict: list[str],
    *,
    scope: Any = None,
) -> dict[str, int]:
    """Insert the rows whose unique key is new; return {key: id} of those inserted.

    ``INSERT … ON CONFLICT DO NOTHING`` keeps the database the judge of uniqueness. On
    SQLite one multi-row statement with RETURNING does it all. On PostgreSQL that same
    statement is rebuilt (and reparsed by the driver) for every batch size, which costs
    more than the insert: there, the known keys are read with one array parameter, the
    new rows go through the driver's pipelined executemany, and their ids are read back.
    """
    if conn.dialect.name != "postgresql":
        returned = conn.execute(
            sqlite.insert(table)
            .on_conflict_do_nothing(index_elements=conflict)
            .returning(table.c[key], table.c.id),
            rows,
        ).all()
        return {row[0]: row[1] for row in returned}
    keys = sorted({row[key] for row in rows})
    wanted = table.c[key] == any_(bindparam("keys", type_=ARRAY(String)))
    if scope is not None:
        wanted = and_(scope, wanted)
    known = {value for (value,) in conn.execute(select(table.c[key]).where(wanted), {"keys": keys})}
    fresh = [row for row in rows if row[key] not in known]
    if not fresh:
        return {}
    conn.execute(postgresql.insert(table).on_conflict_do_nothing(index_elements=conflict), fresh)
    fresh_keys = sorted({row[key] for row in fresh})
    return dict(
        conn.execute(select(table.c[key], table.c.id).where(wanted), {"keys": fresh_keys}).all()
    )


def ingest_batch(
    conn: Connection,
    catalog: Catalog,
    messages: Iterable[MqttMessage],
    topic_root: str,
    now: datetime,
) -> BatchResult:
    """Record a batch of station messages and apply the new ones, in the caller's transaction."""
    result = BatchResult()
    rows: list[_Row] = []
    seen: set[str] = set()
    for message in messages:
        result.received += 1
        row = _classify(message, catalog, topic_root)
        if row.key in seen:
            result.duplicates += 1
            continue
        seen.add(row.key)
        rows.append(row)
    if not rows:
        return result
    new_ids = insert_new(
        conn,
        EVENTS,
        "key",
        [
            {
                "channel": "mqtt",
                "key": row.key,
                "received_at": row.message.received_at,
                "body_sha256": hashlib.sha256(row.message.payload).hexdigest(),
                "status": "rejected" if row.reason else "accepted",
                "kind": row.kind,
                "error_code": "bad_message" if row.reason else None,
                "reason": row.reason[:400] if row.reason else None,
                "station_id": row.station.id if row.station else None,
                "target_station_id": row.station.id if row.station else None,
                "station_code": row.station.code if row.station else None,
                "code": row.message.topic[:200],
                "source": "mqtt",
                "payload": (
                    row.message.payload[:PAYLOAD_KEPT]
                    .decode("utf-8", "replace")
                    .replace("\x00", "\ufffd")
                    if row.reason
                    else None
                ),
            }
            for row in rows
        ],
        ["channel", "key"],
        scope=EVENTS.c.channel == "mqtt",
    )
    result.duplicates += len(rows) - len(new_ids)
    fresh = [row for row in rows if row.key in new_ids]
    for row in fresh:
        if row.reason:
            result.rejected += 1
            result.rejections.append((row.message.topic, row.reason))
            logger.warning("rejected MQTT message on %s: %s", row.message.topic, row.reason)
    applier = _Applier(conn, catalog, now, result)
    applier.apply(
        [(row, new_ids[row.key]) for row in fresh if row.parsed is not None and row.station]
    )
    return result


class _Applier:
    """Apply the parsed new messages of a batch to devices, welds and evidence."""

    def __init__(
        self, conn: Connection, catalog: Catalog, now: datetime, result: BatchResult
    ) -> None:
        self.conn = conn
        self.catalog = catalog
        self.now = now
        self.result = result
        self.devices: dict[int, dict[str, Any]] = {}
        self.changed: set[int] = set()
        self.boots: dict[tuple[str, str], int] = {}
        self.new_boots: dict[tuple[str, str], int] = {}
        self.changed_boots: set[tuple[str, str]] = set()

    def apply(self, rows: list[tuple[_Row, int]]) -> None:
        if not rows:
            return
        station_ids = {row.station.id for row, _ in rows if row.station}
        self._load_devices(station_ids)
        self._load_boots(rows)
        welds: list[tuple[StationInfo, ArcEndMsg, int]] = []
        samples: list[dict[str, Any]] = []
        for row, event_id in rows:
            assert row.station is not None and row.parsed is not None
            parsed = row.parsed
            device = self.devices[row.station.id]
            device["seen_at"] = self.now
            self.changed.add(row.station.id)
            if isinstance(parsed, StatusMsg):
                self._status(device, parsed)
                continue
            self._track_seq(row.station, parsed.device, parsed.boot_id, parsed.seq)
            if isinstance(parsed, ArcStartMsg):
                if device["arc_started_at"] is None or parsed.ts >= device["arc_started_at"]:
                    device.update(arc_on=True, arc_weld_id=parsed.weld_id, arc_started_at=parsed.ts)
            elif isinstance(parsed, ArcEndMsg):
                welds.append((row.station, parsed, event_id))
                if device["arc_weld_id"] == parsed.weld_id or (
                    device["arc_started_at"] is not None
                    and device["arc_started_at"] <= parsed.ts_start
                ):
                    device.update(arc_on=False, arc_weld_id=None)
            else:
                samples.append(
                    {
                        "weld_key": parsed.weld_id,
                        "device": parsed.device,
                        "boot_id": parsed.boot_id,
                        "seq": parsed.seq,
                        "t0": parsed.t0,
                        "dt_ms": parsed.dt_ms,
                        "i_a": parsed.i_a,
                        "u_v": parsed.u_v,
                    }
                )
        if samples:
            self.conn.execute(
                insert_for(self.conn.dialect.name)(SAMPLES).on_conflict_do_nothing(
                    index_elements=["device", "boot_id", "seq"]
                ),
                samples,
            )
        if welds:
            self._welds(welds)
        self._save_devices()
        self._save_boots()

    # -- devices and sequence numbers ------------------------------------------------------

    def _load_devices(self, station_ids: set[int]) -> None:
        for row in self.conn.execute(select(DEVICES).where(DEVICES.c.station_id.in_(station_ids))):
            self.devices[row.station_id] = dict(row._mapping)
        for station_id in station_ids - set(self.devices):
            station = self.catalog.stations[station_id]
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

    def _status(self, device: dict[str, Any], msg: StatusMsg) -> None:
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
            (row.parsed.device, row.parsed.boot_id)
            for row, _ in rows
            if row.parsed is not None and not isinstance(row.parsed, StatusMsg)
        }
        if not pairs:
            return
        for row in self.conn.execute(
            select(BOOTS.c.device, BOOTS.c.boot_id, BOOTS.c.last_seq).where(
                tuple_(BOOTS.c.device, BOOTS.c.boot_id).in_(sorted(pairs))
            )
        ):
            self.boots[(row.device, row.boot_id)] = row.last_seq

    def _save_boots(self) -> None:
        for (device, boot_id), last_seq in self.boots.items():
            if (device, boot_id) in self.new_boots:
                self.conn.execute(
                    BOOTS.insert(),
                    {
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
                    .where(BOOTS.c.device == device, BOOTS.c.boot_id == boot_id)
                    .values(last_seq=last_seq)
                )

    def _track_seq(self, station: StationInfo, device: str, boot_id: str, seq: int) -> None:
        """Record skipped sequence numbers of a power-up; fill them when they come late."""
        key = (device, boot_id)
        last = self.boots.get(key)
        if last is None:
            self.boots[key] = seq
            self.new_boots[key] = station.id
            if seq > 0:
                self._gap(station, device, boot_id, 0, seq - 1)
            return
        if seq > last + 1:
            self._gap(station, device, boot_id, last + 1, seq - 1)
        if seq > last:
            self.boots[key] = seq
            self.changed_boots.add(key)
        elif seq < last:
            self._fill(device, boot_id, seq)

    def _gap(self, station: StationInfo, device: str, boot_id: str, first: int, last: int) -> None:
        self.result.gaps += 1
        logger.warning(
            "possible data loss: %s boot %s skipped seq %d..%d", device, boot_id, first, last
        )
        self.conn.execute(
            GAPS.insert(),
            {
                "station_id": station.id,
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
                        "station_id": gap.station_id,
                        "device": device,
                        "boot_id": boot_id,
                        "first_seq": first,
                        "last_seq": last,
                        "detected_at": gap.detected_at,
                    },
                )

    # -- welds -----------------------------------------------------------------------------

    def _welds(self, welds: list[tuple[StationInfo, ArcEndMsg, int]]) -> None:
        context = _AttributionContext.load(self.conn, welds)
        records = []
        for station, msg, event_id in welds:
            run, students = context.at(station.id, msg.ts_start)
            operation = self.catalog.operations.get(run.operation_id) if run is not None else None
            process = msg.process or (operation.process if operation else None)
            wps = self.catalog.wps.get(operation.wps_id) if operation and operation.wps_id else None
            q, k = heat_input(process, msg.energy_j, msg.length_mm)
            verdict, deviations = wps_verdict(wps, process, msg.i_mean, msg.u_mean, q)
            attributed = run is not None and bool(students)
            records.append(
                (
                    {
                        "weld_key": msg.weld_id,
                        "station_id": station.id,
                        "device": msg.device,
                        "boot_id": msg.boot_id,
                        "started_at": msg.ts_start,
                        "ended_at": msg.ts_end,
                        "received_at": self.now,
                        "arc_s": msg.arc_s,
                        "process": process,
                        "i_mean_a": msg.i_mean,
                        "i_min_a": msg.i_min,
                        "i_max_a": msg.i_max,
                        "u_mean_v": msg.u_mean,
                        "u_min_v": msg.u_min,
                        "u_max_v": msg.u_max,
                        "wfs_m_min": msg.wfs_m_min,
                        "gas_l_min": msg.gas_l_min,
                        "energy_j": msg.energy_j,
                        "length_mm": msg.length_mm,
                        "heat_input_kj_mm": q,
                        "k_factor": k,
                        "wps_id": wps.id if wps else None,
                        "verdict": verdict,
                        "deviations": deviations or None,
                        "run_id": run.id if attributed and run else None,
                        "attributed_at": self.now if attributed else None,
                        "attributed_by_id": None,
                        "event_id": event_id,
                    },
                    students if attributed else [],
                    run if attributed else None,
                )
            )
        inserted = insert_new(
            self.conn, WELDS, "weld_key", [record for record, _, _ in records], ["weld_key"]
        )
        weld_students = []
        evidence: list[dict[str, Any]] = []
        event_id_of = {msg.weld_id: event_id for _, msg, event_id in welds}
        for record, students, run in records:
            weld_db_id = inserted.get(str(record["weld_key"]))
            if weld_db_id is None:
                continue  # the same weld_id came before under another seq: one weld
            self.result.welds += 1
            if run is None:
                continue
            self.result.attributed += 1
            weld_students += [{"weld_id": weld_db_id, "student_id": s} for s in students]
            evidence += evidence_rows(
                catalog=self.catalog,
                run_id=run.id,
                operation_id=run.operation_id,
                student_ids=students,
                event_id=event_id_of[str(record["weld_key"])],
                now=self.now,
            )
        if weld_students:
            self.conn.execute(
                insert_for(self.conn.dialect.name)(WELD_STUDENTS).on_conflict_do_nothing(
                    index_elements=["weld_id", "student_id"]
                ),
                weld_students,
            )
        if evidence:
            self.conn.execute(
                insert_for(self.conn.dialect.name)(EVIDENCE).on_conflict_do_nothing(
                    index_elements=["student_id", "competency_id", "run_id"]
                ),
                evidence,
            )


class AssignmentError(ValueError):
    """A weld cannot be assigned as asked (the message is French, for the teacher)."""


def assign_weld(
    conn: Connection,
    catalog: Catalog,
    *,
    weld_key: str,
    run_id: int,
    student_ids: list[int],
    user_id: int | None,
    now: datetime,
) -> None:
    """Attribute an unattributed weld to a run and its students: a teacher's decision.

    The weld then gets the verdict against that run's WPS, and the students the evidence
    of the run's operation, exactly as if the station had been badged in.
    """
    weld = conn.execute(select(WELDS).where(WELDS.c.weld_key == weld_key)).first()
    if weld is None:
        raise AssignmentError(f"Soudure {weld_key} inconnue.")
    if weld.run_id is not None:
        raise AssignmentError(f"La soudure {weld_key} est déjà attribuée.")
    run = conn.execute(select(RUNS.c.id, RUNS.c.operation_id).where(RUNS.c.id == run_id)).first()
    if run is None:
        raise AssignmentError("Opération inconnue.")
    students = sorted(set(student_ids))
    if not students or any(s not in catalog.students for s in students):
        raise AssignmentError("Choisissez au moins un élève connu.")
    operation = catalog.operations[run.operation_id]
    process = weld.process or operation.process
    wps = catalog.wps.get(operation.wps_id) if operation.wps_id else None
    q, k = heat_input(process, weld.energy_j, weld.length_mm)
    verdict, deviations = wps_verdict(wps, process, weld.i_mean_a, weld.u_mean_v, q)
    conn.execute(
        update(WELDS)
        .where(WELDS.c.id == weld.id, WELDS.c.run_id.is_(None))
        .values(
            run_id=run.id,
            attributed_at=now,
            attributed_by_id=user_id,
            process=process,
            wps_id=wps.id if wps else None,
            verdict=verdict,
            deviations=deviations or None,
            heat_input_kj_mm=q,
            k_factor=k,
        )
    )
    conn.execute(
        insert_for(conn.dialect.name)(WELD_STUDENTS).on_conflict_do_nothing(
            index_elements=["weld_id", "student_id"]
        ),
        [{"weld_id": weld.id, "student_id": student} for student in students],
    )
    rows = evidence_rows(
        catalog=catalog,
        run_id=run.id,
        operation_id=run.operation_id,
        student_ids=students,
        event_id=weld.event_id,
        now=now,
    )
    if rows:
        conn.execute(
            insert_for(conn.dialect.name)(EVIDENCE).on_conflict_do_nothing(
                index_elements=["student_id", "competency_id", "run_id"]
            ),
            rows,
        )


@dataclass(frozen=True)
class _Run:
    id: int
    operation_id: int


class _AttributionContext:
    """Who worked on what at the stations of a batch, over the batch's time span."""

    def __init__(self) -> None:
        self.intervals: dict[int, list[tuple[datetime, datetime | None, _Run]]] = defaultdict(list)
        self.presences: dict[int, list[tuple[datetime, datetime | None, int]]] = defaultdict(list)

    @classmethod
    def load(
        cls, conn: Connection, welds: list[tuple[StationInfo, ArcEndMsg, int]]
    ) -> _AttributionContext:
        context = cls()
        station_ids = sorted({station.id for station, _, _ in welds})
        first = min(msg.ts_start for _, msg, _ in welds)
        last = max(msg.ts_start for _, msg, _ in welds)
        for row in conn.execute(
            select(
                INTERVALS.c.station_id,
                INTERVALS.c.started_at,
                INTERVALS.c.ended_at,
                RUNS.c.id,
                RUNS.c.operation_id,
            )
            .join(RUNS, RUNS.c.id == INTERVALS.c.run_id)
            .where(
                INTERVALS.c.station_id.in_(station_ids),
                INTERVALS.c.started_at <= last,
                (INTERVALS.c.ended_at.is_(None)) | (INTERVALS.c.ended_at > first),
            )
            .order_by(INTERVALS.c.started_at)
        ):
            context.intervals[row.station_id].append(
                (row.started_at, row.ended_at, _Run(row.id, row.operation_id))
            )
        for presence in conn.execute(
            select(
                PRESENCES.c.station_id,
                PRESENCES.c.started_at,
                PRESENCES.c.ended_at,
                PRESENCES.c.student_id,
            )
            .where(
                PRESENCES.c.station_id.in_(station_ids),
                PRESENCES.c.started_at <= last,
                (PRESENCES.c.ended_at.is_(None)) | (PRESENCES.c.ended_at > first),
            )
            .order_by(PRESENCES.c.started_at)
        ):
            context.presences[presence.station_id].append(
                (presence.started_at, presence.ended_at, presence.student_id)
            )
        return context

    def at(self, station_id: int, moment: datetime) -> tuple[_Run | None, list[int]]:
        """Return the run active and the students present at a station at a moment."""
        run = None
        for started, ended, candidate in self.intervals.get(station_id, []):
            if started <= moment and (ended is None or moment < ended):
                run = candidate
        students = sorted(
            {
                student
                for started, ended, student in self.presences.get(station_id, [])
                if started <= moment and (ended is None or moment < ended)
            }
        )
        return run, students


__all__ = [
    "K_FACTORS",
    "AssignmentError",
    "BadMessage",
    "BatchResult",
    "MqttMessage",
    "assign_weld",
    "heat_input",
    "ingest_batch",
    "parse_message",
    "wps_verdict",
]
