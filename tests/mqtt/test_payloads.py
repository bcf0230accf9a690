"""Parsing station payloads and analysing welds: properties and worked examples."""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.extensions import db
from app.ingest.events import ArcEnd, Samples, StationStatus
from app.ingest.welds import heat_input, wps_verdict
from app.models import WELD_BOUNDS, Event, Weld, Wps
from app.mqtt.payloads import BadMessage, parse_message
from tests.mqtt.conftest import RunningWorker, wait_until
from tests.support.hostile import DEEP, EXTREME_FLOATS, EXTREME_TIMESTAMPS, JSON_VALUES, dumps
from tests.support.stations import ScriptedStation

VALID_ARC_END = {
    "v": 1,
    "type": "arc_end",
    "device": "ws03",
    "boot_id": "7Q2M",
    "seq": 55,
    "weld_id": "ws03-7Q2M-0012",
    "ts_start": "2026-11-26T09:20:11.400Z",
    "ts_end": "2026-11-26T09:20:23.820Z",
    "arc_s": 12.42,
    "process": "135",
    "i_a": {"mean": 182.3, "min": 150.1, "max": 205.7},
    "u_v": {"mean": 23.9, "min": 21.0, "max": 26.2},
    "wfs_m_min": 8.1,
    "gas_l_min": 14.0,
    "energy_j": 54210,
    "length_mm": None,
}


def test_the_contract_examples_parse() -> None:
    end = parse_message("arc", "ws03", json.dumps(VALID_ARC_END).encode())
    assert isinstance(end, ArcEnd)
    assert (end.seq, end.weld_id, end.i_mean, end.u_mean, end.length_mm) == (
        55,
        "ws03-7Q2M-0012",
        182.3,
        23.9,
        None,
    )
    samples = parse_message(
        "samples",
        "ws03",
        json.dumps(
            {
                "v": 1,
                "device": "ws03",
                "boot_id": "7Q2M",
                "seq": 46,
                "weld_id": "ws03-7Q2M-0012",
                "t0": "2026-11-26T09:20:14.400Z",
                "dt_ms": 100,
                "i_a": [181.2, 183.0],
                "u_v": [23.8, 24.0],
            }
        ).encode(),
    )
    assert isinstance(samples, Samples) and samples.i_a == (181.2, 183.0)
    status = parse_message(
        "status",
        "ws03",
        b'{"v":1,"state":"online","device":"ws03","boot_id":"7Q2M","fw":"1.2","ts":"2026-11-26T09:00:00Z"}',
    )
    assert isinstance(status, StationStatus) and status.state == "online"


@pytest.mark.parametrize(
    "change",
    [
        {"v": 2},
        {"v": True},
        {"seq": -1},
        {"seq": 1.5},
        {"arc_s": "12"},
        {"i_a": {"min": 1}},
        {"u_v": 23.9},
        {"ts_start": "hier"},
        {"ts_end": "2026-11-26T09:20:11"},
        {"ts_end": "2026-11-26T09:00:00.000Z"},
        {"energy_j": float("inf")},
        {"device": "ws04"},
        {"weld_id": ""},
        {"weld_id": "x" * 81},
        {"boot_id": None},
    ],
)
def test_an_invalid_field_is_refused_with_its_reason(change: dict[str, Any]) -> None:
    payload = {**VALID_ARC_END, **change}
    with pytest.raises(BadMessage):
        parse_message("arc", "ws03", json.dumps(payload, allow_nan=True).encode())


KINDS = st.sampled_from(["status", "arc", "samples"])


@given(kind=KINDS, payload=st.binary(max_size=400))
def test_random_bytes_are_refused_never_crash(kind: str, payload: bytes) -> None:
    with contextlib.suppress(BadMessage):
        parse_message(kind, "ws03", payload)


FIGURES = st.fixed_dictionaries(
    {},
    optional={"mean": EXTREME_FLOATS, "min": EXTREME_FLOATS, "max": EXTREME_FLOATS},
)


@settings(max_examples=300)
@given(
    kind=KINDS,
    edits=st.dictionaries(
        st.sampled_from([*sorted(VALID_ARC_END), "t0", "dt_ms", "state", "ts"]),
        JSON_VALUES | DEEP | FIGURES | EXTREME_TIMESTAMPS,
        max_size=4,
    ),
)
def test_any_edit_of_a_valid_payload_parses_within_bounds_or_is_refused(
    kind: str, edits: dict[str, Any]
) -> None:
    payload = dumps({**VALID_ARC_END, **edits})
    try:
        parsed = parse_message(kind, "ws03", payload)
    except BadMessage:
        return
    # Whatever is accepted is finite and within the documented bounds: nothing derived
    # from it (a heat input, a chart, an answer) can be infinite or absurd.
    if isinstance(parsed, ArcEnd):
        for name, value in (
            ("arc_s", parsed.arc_s),
            ("i_a", parsed.i_mean),
            ("u_v", parsed.u_mean),
        ):
            low, high = WELD_BOUNDS[name]
            assert math.isfinite(value) and low <= value <= high
        q, _k = heat_input(parsed.process, parsed.energy_j, parsed.length_mm)
        assert q is None or math.isfinite(q)


WPS = Wps(
    code="WPS-135-PB",
    process="135",
    position="PB",
    i_min_a=160.0,
    i_max_a=200.0,
    u_min_v=21.0,
    u_max_v=25.0,
    q_min_kj_mm=0.5,
    q_max_kj_mm=1.2,
)


def test_heat_input_follows_en_1011_1() -> None:
    # The reference's worked example: 135, 24 V, 180 A, 5 mm/s -> 0.69 kJ/mm.
    energy_j = 24 * 180 * 10.0  # 10 s of arc
    q, k = heat_input("135", energy_j, 50.0)  # 50 mm in 10 s = 5 mm/s
    assert k == 0.8 and q == pytest.approx(0.6912)
    assert heat_input("141", 1000.0, 10.0) == pytest.approx((0.06, 0.6))
    assert heat_input("121", 1000.0, 10.0) == pytest.approx((0.1, 1.0))
    assert heat_input("135", 1000.0, None) == (None, 0.8)
    assert heat_input("135", None, 10.0) == (None, 0.8)
    assert heat_input("311", 1000.0, 10.0) == (None, None)


def test_wps_verdict_checks_means_and_heat_input() -> None:
    assert wps_verdict(None, "135", 180, 23, None) == ("no_wps", [])
    assert wps_verdict(WPS, "135", 180, 23, None) == ("in_range", [])
    verdict, deviations = wps_verdict(WPS, "135", 180, 23, 1.5)
    assert verdict == "out_of_range"
    assert deviations == [
        {"field": "q_kj_mm", "value": 1.5, "min": 0.5, "max": 1.2, "deviation": 0.3}
    ]


@settings(max_examples=15)
@given(
    messages=st.lists(
        st.tuples(
            st.sampled_from(["status", "evt/arc", "data/samples", "evt/other", "cfg"]),
            st.binary(max_size=200),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_random_payloads_on_every_topic_never_stop_the_worker(
    worker: RunningWorker,
    station: Callable[..., ScriptedStation],
    messages: list[tuple[str, bytes]],
) -> None:
    ws01 = station("ws01")
    for suffix, payload in messages:
        if suffix != "cfg":  # a station may not write its cfg: the broker drops it
            ws01.publish(suffix, payload)
        else:
            ws01.client.publish(ws01.topic("cfg"), payload, qos=1).wait_for_publish(10)
    marker = ws01.weld()
    wait_until(
        lambda: db.session.execute(
            select(Weld).where(Weld.weld_key == marker)
        ).scalar_one_or_none(),
        what="the weld after random payloads",
    )
    assert worker.thread.is_alive()
    bad = (
        db.session.execute(select(Event).where(Event.status == "rejected", Event.channel == "mqtt"))
        .scalars()
        .all()
    )
    assert all(event.reason for event in bad)
    assert not any(event.error_code == "internal_error" for event in bad)
