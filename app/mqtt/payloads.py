"""Decode welding stations' MQTT messages into the core's frozen dataclasses.

A payload that is not JSON, has an unknown ``v``, a missing or ill-typed required field,
or a figure outside physical bounds (``WELD_BOUNDS``, documented in docs/contract.md §6)
becomes a ``StationMessage`` with the reason, which the core records as rejected: nothing a
station sends can crash the worker, store an infinite figure or put one on a page.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import datetime
from typing import Any

from app.ingest.events import (
    ArcEnd,
    ArcStart,
    Samples,
    StationMessage,
    StationPayload,
    StationStatus,
)
from app.models import WELD_BOUNDS, parse_timestamp, safe_text

MAX_SAMPLES_PER_BATCH = 1000
MAX_TEXT = 80
PAYLOAD_KEPT = 2000
TOPIC_KINDS = {"status": "status", "evt/arc": "arc", "data/samples": "samples"}


class BadMessage(ValueError):
    """A payload the contract does not allow; the reason is for the logs (English)."""


def _obj(payload: bytes) -> dict[str, Any]:
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadMessage(f"payload is not JSON: {exc}") from None
    except RecursionError:
        raise BadMessage("payload is nested too deeply") from None
    if not isinstance(data, dict):
        raise BadMessage("payload is not a JSON object")
    if data.get("v") != 1 or isinstance(data.get("v"), bool):
        raise BadMessage(f"unknown payload version v={safe_text(repr(data.get('v')), 40)}")
    return data


def _str(data: dict[str, Any], key: str, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise BadMessage(f"missing field {key!r}")
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
        raise BadMessage(f"field {key!r} must be a non-empty string of at most {MAX_TEXT}")
    if safe_text(value) != value or not value.isprintable():
        raise BadMessage(f"field {key!r} contains characters that are not printable")
    return value


def _req_str(data: dict[str, Any], key: str) -> str:
    value = _str(data, key)
    assert value is not None
    return value


def _number(value: Any, key: str, bounds: str | None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadMessage(f"field {key!r} must be a number")
    try:
        number = float(value)
    except OverflowError:
        raise BadMessage(f"field {key!r} is out of range") from None
    if not math.isfinite(number):
        raise BadMessage(f"field {key!r} must be a finite number")
    if bounds is not None:
        low, high = WELD_BOUNDS[bounds]
        if not low <= number <= high:
            raise BadMessage(f"field {key!r} must be between {low:g} and {high:g}")
    return number


def _num(data: Any, key: str, bounds: str | None, required: bool = True) -> float | None:
    value = data.get(key) if isinstance(data, dict) else None
    if value is None:
        if required:
            raise BadMessage(f"missing field {key!r}")
        return None
    return _number(value, key, bounds)


def _req_num(data: Any, key: str, bounds: str | None) -> float:
    value = _num(data, key, bounds, True)
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
        raise BadMessage(f"field {key!r} is not an RFC 3339 timestamp (1970-2999)") from None


def _stats(data: dict[str, Any], key: str) -> tuple[float, float | None, float | None]:
    block = data.get(key)
    if not isinstance(block, dict):
        raise BadMessage(f"field {key!r} must be an object with mean, min, max")
    return (
        _req_num(block, "mean", key),
        _num(block, "min", key, False),
        _num(block, "max", key, False),
    )


def _series(data: dict[str, Any], key: str, bounds: str) -> tuple[float, ...]:
    values = data.get(key)
    if not isinstance(values, list) or len(values) > MAX_SAMPLES_PER_BATCH:
        raise BadMessage(f"field {key!r} must be a list of at most {MAX_SAMPLES_PER_BATCH}")
    return tuple(_number(value, key, bounds) for value in values)


def parse_message(kind: str, topic_device: str, payload: bytes) -> StationPayload:
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
        return StationStatus(device, boot_id, state, _ts(data, "ts"), _str(data, "fw", False))
    seq = _seq(data)
    weld_id = _req_str(data, "weld_id")
    if kind == "samples":
        i_a, u_v = _series(data, "i_a", "i_a"), _series(data, "u_v", "u_v")
        if len(i_a) != len(u_v):
            raise BadMessage("i_a and u_v have different lengths")
        return Samples(
            device,
            boot_id,
            seq,
            weld_id,
            _ts(data, "t0"),
            _req_num(data, "dt_ms", "dt_ms"),
            i_a,
            u_v,
        )
    message_type = data.get("type")
    if message_type == "arc_start":
        return ArcStart(
            device, boot_id, seq, weld_id, _ts(data, "ts"), _str(data, "process", False)
        )
    if message_type == "arc_end":
        i_mean, i_min, i_max = _stats(data, "i_a")
        u_mean, u_min, u_max = _stats(data, "u_v")
        ts_start, ts_end = _ts(data, "ts_start"), _ts(data, "ts_end")
        if ts_end < ts_start:
            raise BadMessage("ts_end is before ts_start")
        return ArcEnd(
            device=device,
            boot_id=boot_id,
            seq=seq,
            weld_id=weld_id,
            ts_start=ts_start,
            ts_end=ts_end,
            arc_s=_req_num(data, "arc_s", "arc_s"),
            process=_str(data, "process", False),
            i_mean=i_mean,
            i_min=i_min,
            i_max=i_max,
            u_mean=u_mean,
            u_min=u_min,
            u_max=u_max,
            wfs_m_min=_num(data, "wfs_m_min", "wfs_m_min", False),
            gas_l_min=_num(data, "gas_l_min", "gas_l_min", False),
            energy_j=_num(data, "energy_j", "energy_j", False),
            length_mm=_num(data, "length_mm", "length_mm", False),
        )
    raise BadMessage(f"unknown event type {safe_text(repr(message_type), 40)}")


def decode(topic: str, payload: bytes, received_at: datetime, prefix: str) -> StationMessage:
    """Read a message's topic (under ``prefix``, the site's ``root/site/``) and payload."""
    digest = hashlib.sha256(topic.encode("utf-8", "replace") + b"\0" + payload).hexdigest()
    raw = payload[:PAYLOAD_KEPT].decode("utf-8", "replace")

    def refused(device: str | None, reason: str) -> StationMessage:
        return StationMessage(topic, device, received_at, digest, None, reason, raw)

    if not topic.startswith(prefix):
        return refused(None, f"topic outside {prefix}#")
    device, _, suffix = topic[len(prefix) :].partition("/")
    kind = TOPIC_KINDS.get(suffix)
    if kind is None:
        return refused(device or None, f"unknown topic {suffix!r}")
    try:
        parsed = parse_message(kind, device, payload)
    except BadMessage as exc:
        return refused(device, str(exc))
    if isinstance(parsed, ArcStart | ArcEnd) and kind != "arc":
        return refused(device, "arc event on a data topic")
    return StationMessage(topic, device, received_at, digest, parsed, None, raw)
