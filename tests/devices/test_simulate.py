"""The simulator speaks the MQTT and HTTP contracts, buffers offline, and plans valid shifts."""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

from app.cli import mosquitto_acl
from app.extensions import db
from app.models import Weld
from devices.sim.clock import ScaledClock, VirtualClock, format_ts, parse_ts
from devices.sim.outbox import MemoryOutbox, SqliteOutbox
from devices.sim.readers import ScanClient, source_for
from devices.sim.school import School, load_school, parse_school
from devices.sim.shift import (
    ShiftPlan,
    ShiftRunner,
    ShiftSettings,
    piece_label,
    plan_shift,
)
from devices.sim.station import MqttTarget, WeldingStation, new_boot_id
from devices.sim.weld import (
    EXCURSIONS,
    SAMPLE_PERIOD_S,
    WeldBehaviour,
    WeldLimits,
    arc_end_message,
    generate_weld,
)
from tests import factories
from tests.support.mosquitto import MosquittoBroker, MqttRecorder, ReceivedMessage
from tests.support.services import free_port
from tests.support.worker import WorkerProcess

REPO_ROOT = Path(__file__).resolve().parents[2]
MINIMAL_SCHOOL = REPO_ROOT / "tests" / "data" / "school_minimal.yaml"
DEMO_SCHOOL = REPO_ROOT / "app" / "data" / "demo" / "belfort.yaml"
TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
BOOT_ID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{8}$")
SITE = "belfort"
ROOT = "atelier/v1"
WPS_135 = WeldLimits(i_a=(160.0, 200.0), u_v=(21.0, 25.0))


# -- contract checks shared by the tests ----------------------------------------------


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_status(payload: dict[str, Any], device: str) -> None:
    assert payload["v"] == 1
    assert payload["state"] in {"online", "offline"}
    assert payload["device"] == device
    assert BOOT_ID.match(payload["boot_id"])
    assert TS.match(payload["ts"])
    assert "seq" not in payload
    if payload["state"] == "online":
        assert isinstance(payload["fw"], str)


def check_event(payload: dict[str, Any], device: str) -> None:
    """Check the fields and types CONTRACT section 6 requires of a station event."""
    assert payload["v"] == 1
    assert payload["device"] == device
    assert BOOT_ID.match(payload["boot_id"])
    assert isinstance(payload["seq"], int) and payload["seq"] >= 0
    assert re.match(rf"^{device}-{payload['boot_id']}-\d{{4,}}$", payload["weld_id"])
    kind = payload.get("type")
    if kind == "arc_start":
        assert TS.match(payload["ts"])
        assert payload["process"] in {"135", "141", "111"}
    elif kind == "arc_end":
        assert TS.match(payload["ts_start"]) and TS.match(payload["ts_end"])
        assert is_number(payload["arc_s"]) and payload["arc_s"] > 0
        for field in ("i_a", "u_v"):
            stats = payload[field]
            assert set(stats) == {"mean", "min", "max"}
            assert all(is_number(v) for v in stats.values())
            assert stats["min"] <= stats["mean"] <= stats["max"]
        assert is_number(payload["energy_j"]) and payload["energy_j"] > 0
        for optional in ("wfs_m_min", "gas_l_min", "length_mm"):
            assert payload[optional] is None or is_number(payload[optional])
        duration_s = (parse_ts(payload["ts_end"]) - parse_ts(payload["ts_start"])).total_seconds()
        assert duration_s == pytest.approx(payload["arc_s"], abs=0.0015)
    else:
        assert kind is None, f"unknown event type {kind!r}"
        assert TS.match(payload["t0"])
        assert payload["dt_ms"] == 100
        assert 1 <= len(payload["i_a"]) == len(payload["u_v"]) <= 10
        assert all(is_number(v) for v in payload["i_a"] + payload["u_v"])


def check_weld_consistency(arc_end: dict[str, Any], samples: list[dict[str, Any]]) -> None:
    """Check that arc_end's statistics and energy are those of the published samples."""
    i_a = [v for batch in samples for v in batch["i_a"]]
    u_v = [v for batch in samples for v in batch["u_v"]]
    assert len(i_a) == round(arc_end["arc_s"] / SAMPLE_PERIOD_S)
    assert arc_end["i_a"]["min"] == min(i_a) and arc_end["i_a"]["max"] == max(i_a)
    assert arc_end["u_v"]["min"] == min(u_v) and arc_end["u_v"]["max"] == max(u_v)
    assert arc_end["i_a"]["mean"] == pytest.approx(sum(i_a) / len(i_a), abs=0.051)
    assert arc_end["u_v"]["mean"] == pytest.approx(sum(u_v) / len(u_v), abs=0.051)
    energy_j = sum(u * i * 0.1 for u, i in zip(u_v, i_a, strict=True))
    assert arc_end["energy_j"] == pytest.approx(energy_j, abs=0.051)
    start = parse_ts(arc_end["ts_start"])
    for index, batch in enumerate(sorted(samples, key=lambda b: b["seq"])):
        assert parse_ts(batch["t0"]) == start + timedelta(seconds=index)


def events_of(messages: list[ReceivedMessage]) -> list[dict[str, Any]]:
    return [m.json() for m in messages if not m.topic.endswith("/status")]


# -- fixtures -------------------------------------------------------------------------


@pytest.fixture
def broker():
    with MosquittoBroker() as running:
        yield running
        running.assert_log_clean()


def make_station(broker: MosquittoBroker, device: str = "ws01", **kwargs: Any) -> WeldingStation:
    kwargs.setdefault("site", SITE)
    kwargs.setdefault("seed", 7)
    return WeldingStation(device, MqttTarget.parse(broker.url), **kwargs)


def publish_retained(broker: MosquittoBroker, topic: str, payload: bytes) -> None:
    """Publish one retained QoS 1 message and wait for the broker's PUBACK."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1, retain=True).wait_for_publish(timeout=5)
    finally:
        client.disconnect()
        client.loop_stop()


def simulator(*args: str, stderr_path: Path) -> subprocess.Popen[bytes]:
    """Start `python -m devices.simulate` as a separate process."""
    with stderr_path.open("wb") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "devices.simulate", *args],
            cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        )


# -- clocks and timestamps ------------------------------------------------------------


def test_timestamps_are_rfc3339_utc_with_milliseconds_and_z():
    moment = datetime(2026, 11, 26, 9, 20, 11, 400_999, tzinfo=UTC)
    assert format_ts(moment) == "2026-11-26T09:20:11.400Z"
    assert parse_ts("2026-11-26T09:20:11.400Z") == moment.replace(microsecond=400_000)
    with pytest.raises(ValueError, match="naive"):
        format_ts(datetime(2026, 1, 1))


def test_scaled_clock_runs_faster_and_sleeps_shorter():
    clock = ScaledClock(100.0)
    start_real = time.monotonic()
    start_sim = clock.now()
    assert clock.sleep(20.0)
    real_s = time.monotonic() - start_real
    sim_s = (clock.now() - start_sim).total_seconds()
    assert 0.19 <= real_s < 1.0
    assert sim_s == pytest.approx(real_s * 100, rel=0.05)
    stop = threading.Event()
    stop.set()
    assert clock.sleep(1000.0, stop) is False


def test_virtual_clock_moves_only_when_slept_on():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    clock = VirtualClock(start)
    assert clock.now() == start
    clock.sleep(3600.0)
    assert clock.now() == start + timedelta(hours=1)


def test_mqtt_urls_are_parsed_like_atelier_mqtt_url():
    assert MqttTarget.parse("mqtt://127.0.0.1:1884") == MqttTarget("127.0.0.1", 1884)
    secure = MqttTarget.parse("mqtts://user:p%40ss@broker.lan")
    assert (secure.port, secure.tls, secure.username, secure.password) == (
        8883,
        True,
        "user",
        "p@ss",
    )
    with pytest.raises(ValueError):
        MqttTarget.parse("http://broker:1883")


def test_boot_ids_are_random_crockford_base32():
    ids = {new_boot_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(BOOT_ID.match(i) for i in ids)


# -- weld generation (pure) -----------------------------------------------------------


limits_strategy = st.builds(
    lambda i_low, i_width, u_low, u_width: WeldLimits(
        i_a=(i_low, i_low + i_width), u_v=(u_low, u_low + u_width)
    ),
    st.floats(30, 250),
    st.floats(10, 80),
    st.floats(8, 26),
    st.floats(2, 6),
)


@settings(max_examples=150)
@given(
    seed=st.integers(0, 2**32),
    process=st.sampled_from(["135", "141", "111", "136"]),
    limits=limits_strategy,
    excursion=st.sampled_from([None, *EXCURSIONS]),
    tack=st.booleans(),
)
def test_generated_weld_statistics_match_its_samples_and_its_planned_verdict(
    seed, process, limits, excursion, tack
):
    rng = random.Random(seed)
    recording = generate_weld(rng, process, limits, WeldBehaviour(), tack=tack, excursion=excursion)
    assert recording.tack is tack
    assert (recording.arc_s < 2.0) is tack
    assert recording.n == len(recording.u_v) >= 3
    i_mean = recording.i_stats.mean
    u_mean = recording.u_stats.mean
    # The server's WPS verdict reads the means: they land where the weld was meant to.
    assert limits.excursion_of(i_mean, u_mean) == excursion
    assert all(v > 0 for v in recording.i_a + recording.u_v)
    assert recording.energy_j == pytest.approx(
        sum(u * i * 0.1 for u, i in zip(recording.u_v, recording.i_a, strict=True)), abs=0.051
    )
    samples: list[dict[str, Any]] = [
        {"i_a": list(i_a), "u_v": list(u_v), "t0": "", "seq": k}
        for k, (_first, i_a, u_v) in enumerate(recording.batches())
    ]
    assert sum(len(b["i_a"]) for b in samples) == recording.n
    start = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    arc_end = arc_end_message(
        "ws01",
        "ABCDEFGH",
        seq=3,
        weld_id="ws01-ABCDEFGH-0001",
        started_at=start,
        recording=recording,
        batches_sent=len(samples),
    )
    check_event(arc_end, "ws01")
    for k, batch in enumerate(samples):
        batch["t0"] = format_ts(start + timedelta(seconds=k))
    check_weld_consistency(arc_end, samples)


def test_tack_and_out_of_range_welds_appear_at_the_configured_rates():
    rng = random.Random(2026)
    behaviour = WeldBehaviour(out_of_range_rate=0.2, tack_rate=0.15)
    runs = [generate_weld(rng, "135", WPS_135, behaviour) for _ in range(2000)]
    tacks = sum(r.tack for r in runs)
    out = sum(WPS_135.excursion_of(r.i_stats.mean, r.u_stats.mean) is not None for r in runs)
    # Four standard deviations of a binomial around the configured rate.
    assert abs(tacks - 300) < 4 * math.sqrt(2000 * 0.15 * 0.85)
    assert abs(out - 400) < 4 * math.sqrt(2000 * 0.2 * 0.8)
    kinds = Counter(r.planned_excursion for r in runs if r.planned_excursion)
    assert set(kinds) == set(EXCURSIONS)

    calm = WeldBehaviour(out_of_range_rate=0.0, tack_rate=0.0)
    quiet = [generate_weld(rng, "141", WeldLimits.for_process("141"), calm) for _ in range(300)]
    assert not any(r.tack or r.planned_excursion for r in quiet)


def test_process_profiles_give_realistic_currents_and_consumables():
    rng = random.Random(5)
    calm = WeldBehaviour(out_of_range_rate=0.0, tack_rate=0.0, known_length_rate=1.0)
    mag = generate_weld(rng, "135", WeldLimits.for_process("135"), calm)
    tig = generate_weld(rng, "141", WeldLimits.for_process("141"), calm)
    mma = generate_weld(rng, "111", WeldLimits.for_process("111"), calm)
    assert 150 <= mag.i_stats.mean <= 220 and 19 <= mag.u_stats.mean <= 27
    assert 50 <= tig.i_stats.mean <= 140 and 9 <= tig.u_stats.mean <= 14
    assert 70 <= mma.i_stats.mean <= 150 and 20 <= mma.u_stats.mean <= 28
    assert mag.wfs_m_min is not None and 5 < mag.wfs_m_min < 12
    assert tig.wfs_m_min is None and mma.wfs_m_min is None and mma.gas_l_min is None
    assert all(r.length_mm is not None and r.length_mm % 5 == 0 for r in (mag, tig, mma))


def test_same_seed_gives_the_same_welds():
    def welds(seed: int) -> list[tuple[float, ...]]:
        rng = random.Random(seed)
        return [generate_weld(rng, "135", WPS_135, WeldBehaviour()).i_a for _ in range(5)]

    assert welds(1) == welds(1)
    assert welds(1) != welds(2)


# -- outbox ---------------------------------------------------------------------------


@settings(max_examples=50)
@given(
    payloads=st.lists(st.binary(max_size=20), min_size=1, max_size=40),
    removed=st.sets(st.integers(0, 39)),
)
def test_outbox_returns_what_is_left_in_order(payloads, removed):
    outbox = MemoryOutbox()
    ids = [outbox.append("t", p) for p in payloads]
    outbox.remove(ids[i] for i in removed if i < len(ids))
    left = [p for i, p in enumerate(payloads) if i not in removed]
    assert len(outbox) == len(left)
    assert [e.payload for e in outbox.after(0, 1000)] == left
    if len(left) > 2:
        second = outbox.after(0, 2)[-1]
        assert [e.payload for e in outbox.after(second.id, 1000)] == left[2:]


def test_sqlite_outbox_keeps_messages_and_order_across_reopening(tmp_path):
    path = tmp_path / "outbox" / "ws01.sqlite"
    first = SqliteOutbox(path)
    ids = [first.append("a/b", f"m{i}".encode(), retain=i == 0) for i in range(5)]
    first.remove([ids[1]])
    first.close()
    again = SqliteOutbox(path)
    entries = again.after(0, 10)
    assert [e.payload for e in entries] == [b"m0", b"m2", b"m3", b"m4"]
    assert entries[0].retain and not entries[1].retain
    new_id = again.append("a/b", b"m5")
    assert new_id > ids[-1]
    again.close()


# -- stations against a real broker ---------------------------------------------------


def test_station_messages_follow_the_mqtt_contract(broker):
    device = "ws01"
    with MqttRecorder(broker.url, [f"{ROOT}/#"]) as recorder:
        station = make_station(
            broker,
            device,
            clock=ScaledClock(20.0),
            limits=WPS_135,
            behaviour=WeldBehaviour(tack_rate=0.3, out_of_range_rate=0.3, known_length_rate=0.5),
        )
        station.power_on()
        try:
            assert station.wait_connected()
            live = station.weld(arc_s=3.4)
            burst = station.publish_welds(40, with_samples=True)
            assert burst.acknowledged
        finally:
            station.close()
        expected = 1 + len(live.messages()) + burst.messages + 1
        received = recorder.wait_count(expected, timeout_s=20)

    assert all(m.qos == 1 for m in received)
    statuses = [m for m in received if m.topic == f"{ROOT}/{SITE}/{device}/status"]
    assert [m.json()["state"] for m in statuses] == ["online", "offline"]
    for message in statuses:
        check_status(message.json(), device)
    assert statuses[-1].json()["reason"] == "shutdown"

    events = [m for m in received if not m.topic.endswith("/status")]
    topics = Counter(m.topic.removeprefix(f"{ROOT}/{SITE}/{device}/") for m in events)
    assert set(topics) == {"evt/arc", "data/samples"}
    assert topics["evt/arc"] == 2 * 41
    payloads = [m.json() for m in events]
    for payload in payloads:
        check_event(payload, device)
    boot_ids = {p["boot_id"] for p in payloads}
    assert boot_ids == {statuses[0].json()["boot_id"]}
    # seq counts every event of the boot from 0, without gaps, in publishing order.
    assert [p["seq"] for p in payloads] == list(range(len(payloads)))

    by_weld: dict[str, dict[str, Any]] = defaultdict(lambda: {"samples": []})
    for payload in payloads:
        slot = by_weld[payload["weld_id"]]
        if payload.get("type") in {"arc_start", "arc_end"}:
            slot[payload["type"]] = payload
        else:
            slot["samples"].append(payload)
    assert len(by_weld) == 41
    numbers = sorted(int(w.rsplit("-", 1)[1]) for w in by_weld)
    assert numbers == list(range(1, 42))
    previous_end: datetime | None = None
    for weld in sorted(by_weld.values(), key=lambda w: w["arc_start"]["seq"]):
        start, end = weld["arc_start"], weld["arc_end"]
        assert start["seq"] < min(s["seq"] for s in weld["samples"]) <= end["seq"]
        assert start["ts"] == end["ts_start"]
        assert end["batches"] == len(weld["samples"])
        check_weld_consistency(end, weld["samples"])
        if previous_end is not None:
            assert parse_ts(end["ts_start"]) >= previous_end
        previous_end = parse_ts(end["ts_end"])
    assert by_weld[live.weld_id]["arc_end"]["arc_s"] == 3.4
    ends = [w["arc_end"] for w in by_weld.values()]
    assert any(e["tack"] and e["arc_s"] < 2 for e in ends)
    assert any(WPS_135.excursion_of(e["i_a"]["mean"], e["u_v"]["mean"]) for e in ends)
    assert any(e["length_mm"] is not None for e in ends)


def test_birth_status_is_retained_for_late_subscribers(broker):
    with make_station(broker, "ws02") as station:
        assert station.wait_connected()
        time.sleep(0.2)
        with MqttRecorder(broker.url, [f"{ROOT}/+/+/status"]) as late:
            (status,) = late.wait_count(1)
    assert status.retain
    assert status.json()["state"] == "online"
    assert status.json()["boot_id"] == station.boot_id


def test_live_weld_timestamps_follow_the_accelerated_clock(broker):
    with make_station(broker, clock=ScaledClock(50.0)) as station:
        assert station.wait_connected()
        began = time.monotonic()
        report = station.weld(arc_s=10.0)
        real_s = time.monotonic() - began
    # 10 s of arc at ×50 takes 0.2 s of real time and still reads 10 s in the payloads.
    assert 0.18 <= real_s < 2.0
    assert report.arc_end["arc_s"] == 10.0
    assert len(report.samples) == 10


def test_a_stopped_arc_ends_early_with_consistent_statistics(broker):
    stop = threading.Event()
    with make_station(broker, clock=ScaledClock(10.0)) as station:
        assert station.wait_connected()
        timer = threading.Timer(0.45, stop.set)
        timer.start()
        report = station.weld(arc_s=30.0, stop=stop)
        timer.join()
    assert 3.0 <= report.arc_end["arc_s"] < 8.0
    check_weld_consistency(report.arc_end, report.samples)


def test_station_follows_wps_limits_from_its_retained_cfg_topic(broker):
    wps = {"process": "141", "i_a": [60, 90], "u_v": [10, 13]}
    cfg = {"v": 1, "device": "ws03", "rev": 1, "wps": wps}
    publish_retained(broker, f"{ROOT}/{SITE}/ws03/cfg", json.dumps(cfg).encode())
    station = make_station(
        broker, "ws03", behaviour=WeldBehaviour(out_of_range_rate=0.0, tack_rate=0.0)
    )
    with station:
        assert station.wait_connected()
        deadline = time.monotonic() + 5
        while station.limits.i_a != (60.0, 90.0) and time.monotonic() < deadline:
            time.sleep(0.02)
        burst = station.publish_welds(20, with_samples=False)
    assert station.process == "141"
    for weld in burst.welds:
        end = weld.arc_end
        assert end["process"] == "141"
        assert 60 <= end["i_a"]["mean"] <= 90 and 10 <= end["u_v"]["mean"] <= 13


def test_offline_buffer_delivers_everything_in_order_after_a_broker_restart(broker):
    device = "ws04"
    subscriber = MqttRecorder(
        broker.url,
        [f"{ROOT}/+/+/evt/#", f"{ROOT}/+/+/data/#"],
        client_id="ingest-test",
        persistent=True,
    )
    subscriber.connect()
    station = make_station(broker, device, clock=ScaledClock(100.0))
    station.power_on()
    try:
        assert station.wait_connected()
        before = station.publish_welds(3, with_samples=True)
        assert before.acknowledged
        # A burst still flowing when the broker goes down: some messages are in flight,
        # sent but not acknowledged, and must be sent again after the restart.
        bursts: list[Any] = []
        flowing = threading.Thread(
            target=lambda: bursts.append(station.publish_welds(150, flush_timeout_s=60))
        )
        flowing.start()
        deadline = time.monotonic() + 10
        while not (0 < station.pending < 1200) and time.monotonic() < deadline:
            time.sleep(0.002)
        broker.stop()
        cut_at_pending = station.pending
        deadline = time.monotonic() + 5
        while station.connected and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not station.connected
        during = [station.weld(arc_s=2.5) for _ in range(3)]
        broker.start()
        flowing.join(timeout=60)
        assert bursts and bursts[0].acknowledged
        assert station.flush(timeout_s=20)
        assert station.pending == 0
    finally:
        station.close()
    assert cut_at_pending > 0
    total = before.messages + bursts[0].messages + sum(len(w.messages()) for w in during)
    received = subscriber.wait_for(
        lambda ms: len({m.json()["seq"] for m in ms}) >= total, timeout_s=20
    )
    subscriber.disconnect()
    seqs = [m.json()["seq"] for m in received]
    # Duplicates (a PUBACK lost in the restart) are allowed; loss and reordering are not.
    deduplicated = list(dict.fromkeys(seqs))
    assert deduplicated == list(range(total))
    broker.assert_log_clean()


def test_sqlite_outbox_survives_a_simulator_restart(broker, tmp_path):
    device = "ws05"
    path = tmp_path / f"{device}.sqlite"
    broker.stop()
    first = make_station(broker, device, outbox_path=path, clock=ScaledClock(100.0))
    first.power_on()
    first_burst = first.publish_welds(4, with_samples=True, flush_timeout_s=0.3)
    left = first.power_off(drain_timeout_s=0.1)
    first.close()
    assert left == first_burst.messages
    old_boot = first.boot_id

    broker.start()
    with MqttRecorder(broker.url, [f"{ROOT}/+/+/evt/#", f"{ROOT}/+/+/data/#"]) as recorder:
        second = make_station(broker, device, outbox_path=path, clock=ScaledClock(100.0))
        with second:
            assert second.wait_connected()
            second_burst = second.publish_welds(2, with_samples=False)
            assert second_burst.acknowledged
        received = recorder.wait_count(first_burst.messages + second_burst.messages)
    payloads = [m.json() for m in received]
    assert second.boot_id != old_boot
    old = [p for p in payloads if p["boot_id"] == old_boot]
    new = [p for p in payloads if p["boot_id"] == second.boot_id]
    assert [p["seq"] for p in old] == list(range(first_burst.messages))
    assert [p["seq"] for p in new] == list(range(second_burst.messages))
    # What the previous power-up buffered goes out before what this one produced.
    assert payloads[: len(old)] == old


def test_last_will_offline_is_delivered_when_the_simulator_is_killed(broker, tmp_path):
    device = "ws09"
    topic = f"{ROOT}/{SITE}/{device}/status"
    with MqttRecorder(broker.url, [topic]) as recorder:
        process = simulator(
            "stations",
            "--mqtt-url",
            broker.url,
            "--site",
            SITE,
            "--stations",
            device,
            "--idle-s",
            "300,400",
            stderr_path=tmp_path / "sim.log",
        )
        try:
            (online,) = recorder.wait_count(1, timeout_s=20)
            assert online.json()["state"] == "online"
            process.send_signal(signal.SIGKILL)
            assert process.wait(timeout=10) == -signal.SIGKILL
            received = recorder.wait_count(2, timeout_s=10)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    will = received[1].json()
    check_status(will, device)
    assert will["state"] == "offline"
    assert will["reason"] == "lwt"
    assert will["boot_id"] == online.json()["boot_id"]
    with MqttRecorder(broker.url, [topic]) as late:
        (retained,) = late.wait_count(1)
    assert retained.retain and retained.json()["state"] == "offline"


def test_sigterm_publishes_a_retained_offline_and_exits_cleanly(broker, tmp_path):
    device = "ws08"
    topic = f"{ROOT}/{SITE}/{device}/status"
    with MqttRecorder(broker.url, [topic]) as recorder:
        process = simulator(
            "stations",
            "--mqtt-url",
            broker.url,
            "--site",
            SITE,
            "--stations",
            device,
            "--idle-s",
            "300,400",
            stderr_path=tmp_path / "sim.log",
        )
        recorder.wait_count(1, timeout_s=20)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        (_online, offline) = recorder.wait_count(2, timeout_s=10)
    assert offline.json()["state"] == "offline"
    assert offline.json()["reason"] == "shutdown"


def test_station_authenticates_with_its_device_name_and_password():
    acl = (
        f"user ws01\ntopic write {ROOT}/+/ws01/#\ntopic read {ROOT}/+/ws01/cfg\n\n"
        f"user ingest\ntopic read {ROOT}/#\n"
    )
    users = {"ws01": "pw-ws01", "ingest": "pw-ingest"}
    with MosquittoBroker(users=users, acl_text=acl, allow_anonymous=False) as broker:
        with MqttRecorder(
            broker.url, [f"{ROOT}/#"], username="ingest", password="pw-ingest"
        ) as recorder:
            with make_station(broker, "ws01", password="pw-ws01") as good:
                assert good.wait_connected()
                good.publish_welds(2, with_samples=False)
            recorder.wait_count(1 + 4 + 1)
            with make_station(broker, "ws01", password="wrong") as bad:
                assert not bad.wait_connected(timeout_s=1.5)
        broker.assert_log_clean()


def test_burst_command_publishes_every_weld_and_prints_figures(broker, tmp_path):
    with MqttRecorder(broker.url, [f"{ROOT}/+/+/evt/#", f"{ROOT}/+/+/data/#"]) as recorder:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "devices.simulate",
                "-q",
                "burst",
                "--mqtt-url",
                broker.url,
                "--site",
                SITE,
                "--devices",
                "ws01,ws02",
                "--welds",
                "50",
                "--samples",
                "--json",
            ],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        )
        figures = json.loads(result.stdout.strip().splitlines()[-1])
        received = recorder.wait_count(figures["messages"], timeout_s=20)
    assert figures["welds"] == 100
    assert figures["acknowledged"] is True
    assert figures["msg_per_s"] > 0
    ends = [m.json() for m in received if m.json().get("type") == "arc_end"]
    assert len(ends) == 100
    assert len({e["weld_id"] for e in ends}) == 100
    assert Counter(e["device"] for e in ends) == {"ws01": 50, "ws02": 50}


def test_stations_command_welds_the_school_stations(broker, tmp_path):
    with MqttRecorder(broker.url, [f"{ROOT}/#"]) as recorder:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "devices.simulate",
                "stations",
                "--mqtt-url",
                broker.url,
                "--school",
                str(MINIMAL_SCHOOL),
                "--speed",
                "50",
                "--idle-s",
                "1,2",
                "--arc-s",
                "2,4",
                "--max-welds",
                "2",
                "--seed",
                "4",
            ],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        )
        assert "Postes simulés : ws01, ws02" in result.stdout
        messages = recorder.wait_for(
            lambda ms: sum(m.topic.endswith("/status") for m in ms) >= 4, timeout_s=10
        )
    ends = [m.json() for m in messages if b'"arc_end"' in m.payload]
    assert Counter(e["device"] for e in ends) == {"ws01": 2, "ws02": 2}
    assert all(e["process"] == "135" for e in ends)


# -- HTTP scan client -----------------------------------------------------------------


class ScanServer:
    """A small real HTTP server answering the scan API from a script of responses."""

    def __init__(self, script: list[tuple[int, dict[str, Any]]] | None = None) -> None:
        self.script = list(script or [])
        self.requests: list[tuple[str | None, dict[str, Any]]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                with outer.lock:
                    outer.requests.append((self.headers.get("Authorization"), body))
                    status, answer = outer.script.pop(0) if outer.script else outer.accept(body)
                raw = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @staticmethod
    def accept(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 201, {
            "event_id": body["event_id"],
            "status": "accepted",
            "kind": "badge",
            "message": "Bonjour — badge accepté",
            "station": {"code": body.get("station")},
        }

    def __enter__(self) -> ScanServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def test_scan_is_retried_with_the_same_event_id_and_body_after_a_5xx():
    script = [(503, {"status": "unavailable"}), (502, {})]
    with ScanServer(script) as server, ScanClient(server.url, "tok", retry_delay_s=0.01) as client:
        outcome = client.scan("B-0001", station="ST-SOUD-01")
    assert outcome.status == "accepted" and outcome.accepted
    assert outcome.attempts == 3
    assert outcome.message == "Bonjour — badge accepté"
    bodies = [body for _auth, body in server.requests]
    assert len(bodies) == 3 and bodies[0] == bodies[1] == bodies[2]
    assert all(auth == "Bearer tok" for auth, _body in server.requests)
    body = bodies[0]
    assert set(body) == {"event_id", "station", "code", "source", "scanned_at"}
    assert body["source"] == "barcode" and TS.match(body["scanned_at"])
    assert 1 <= len(body["event_id"]) <= 80


def test_a_422_is_final_and_its_french_message_is_logged(caplog):
    refusal = {
        "status": "rejected",
        "error": {"code": "no_work_order", "message": "Scanne d'abord l'ordre de fabrication"},
    }
    with (
        ScanServer([(422, refusal)]) as server,
        ScanClient(server.url, "tok") as client,
        caplog.at_level(logging.INFO, logger="devices.sim.readers"),
    ):
        outcome = client.scan("P-2026-000001", station="ST-SOUD-01")
    assert outcome.status == "rejected" and not outcome.accepted
    assert outcome.error_code == "no_work_order"
    assert outcome.message == "Scanne d'abord l'ordre de fabrication"
    assert len(server.requests) == 1
    assert "Scanne d'abord l'ordre de fabrication" in caplog.text


def test_duplicate_answers_count_as_accepted_and_event_ids_are_unique():
    duplicate = {"event_id": "x", "status": "accepted", "duplicate": True, "kind": "piece"}
    with ScanServer([(200, duplicate)]) as server, ScanClient(server.url, "tok") as client:
        first = client.scan("P-2026-000001", station="ST-KIOSK-1")
        others = [client.scan("0A00F1C2D3", station="ST-KIOSK-1") for _ in range(20)]
    assert first.status == "duplicate" and first.accepted
    ids = [body["event_id"] for _auth, body in server.requests]
    assert len(set(ids)) == len(ids) == 21
    assert all(o.status == "accepted" for o in others)
    assert server.requests[-1][1]["source"] == "rfid"


def test_an_unreachable_server_gives_a_failed_outcome_not_an_exception():
    url = f"http://127.0.0.1:{free_port()}"
    with ScanClient(url, "tok", max_attempts=3, retry_delay_s=0.01, timeout_s=1) as client:
        outcome = client.scan("A-FIN", station="ST-SOUD-01")
    assert outcome.status == "failed"
    assert outcome.attempts == 3
    assert outcome.error_code == "unreachable"


def test_codes_get_the_source_a_reader_would_report():
    assert source_for("0A00F1C2D3") == "rfid"
    assert source_for("B-0001") == "barcode"
    assert source_for("OF-2026-0001") == "barcode"


# -- school file and shift planning (pure) --------------------------------------------


def test_school_file_gives_stations_wps_and_routings():
    school = load_school(MINIMAL_SCHOOL)
    assert school.site == "belfort"
    assert [s.mqtt_device for s in school.welding_stations] == ["ws01", "ws02"]
    assert school.welding_stations[0].process_hint == "135"
    assert school.wps["WPS-135-PB"].limits == WPS_135
    order = school.work_orders[0]
    assert order.number == "OF-2026-0001" and order.quantity == 4
    assert [s.step for s in order.steps] == [10, 20, 30]
    assert order.steps[1].is_welding and order.steps[1].wps is not None
    assert order.operation_code(order.steps[1]) == "OF-2026-0001-20"
    # CONTROLE has no station_kind: any station but a kiosk or a welding booth will do.
    assert [s.code for s in school.stations_for(order.steps[2].type.station_kind)] == [
        "ST-PLASMA",
        "ST-PLIEUSE",
    ]
    demo = load_school(DEMO_SCHOOL)
    assert {s.kind for s in demo.stations_for(None)} == {"inspection", "assembly", "finishing"}


def test_a_school_file_without_what_the_simulator_needs_is_refused():
    with pytest.raises(ValueError, match="missing or invalid"):
        parse_school({"site": "x", "stations": [{"code": "ST-A"}]})


CODE_PATTERNS = {
    "work_order": re.compile(r"^OF-\d{4}-\d{4}$"),
    "operation": re.compile(r"^OF-\d{4}-\d{4}-\d{2}$"),
    "piece": re.compile(r"^P-\d{4}-\d{6}$"),
    "finish": re.compile(r"^A-FIN$"),
    "pause": re.compile(r"^A-PAUSE$"),
}


def plan_violations(school: School, plan: ShiftPlan) -> list[str]:
    """Replay a plan as the server would see it and list everything that breaks the rules."""
    problems: list[str] = []
    stations = {s.code: s for s in school.stations}
    orders = {w.number: w for w in school.work_orders}
    finished: dict[tuple[str, int], float] = {}
    started: dict[tuple[str, int], float] = {}
    occupancy: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    day_end_s = plan.settings.day_s + plan.settings.min_real_gap_s * plan.settings.speed

    for student in plan.students:
        actions = plan.for_student(student.id)
        at_station: str | None = None
        badge_in_at = 0.0
        work_order: str | None = None
        operation: tuple[str, int] | None = None
        piece: tuple[str, str, int] | None = None
        last_at = -1.0
        for action in actions:
            where = f"{student.id} at {action.at_s:.0f}s {action.note} {action.code}"
            if action.at_s < last_at:
                problems.append(f"{where}: goes back in time")
            last_at = action.at_s
            if action.at_s > day_end_s:
                problems.append(f"{where}: after the end of the day")
            pattern = CODE_PATTERNS.get(action.note)
            if pattern is not None and not (action.code and pattern.match(action.code)):
                problems.append(f"{where}: malformed code")
            if action.note == "badge_in":
                if at_station is not None:
                    problems.append(f"{where}: already badged in at {at_station}")
                if action.code not in student.badges:
                    problems.append(f"{where}: not this student's badge")
                at_station, badge_in_at = action.station, action.at_s
                continue
            if at_station != action.station:
                problems.append(f"{where}: not badged in at {action.station}")
            if action.note == "badge_out":
                if action.code not in (*student.badges, "A-SORTIE"):
                    problems.append(f"{where}: badge out with a foreign code")
                occupancy[action.station].append((badge_in_at, action.at_s, student.id))
                at_station, work_order, operation = None, None, None
            elif action.note == "work_order":
                work_order = action.code
            elif action.note == "operation":
                assert action.code is not None
                number, step_number = action.code[:12], int(action.code[13:])
                if number != work_order:
                    problems.append(f"{where}: operation of another work order")
                operation = (number, step_number)
            elif action.note == "piece":
                if operation is None or (action.work_order, action.step) != operation:
                    problems.append(f"{where}: piece without its operation in context")
                if action.code not in plan.pieces.get(action.work_order or "", ()):
                    problems.append(f"{where}: label not allocated to {action.work_order}")
                assert action.code is not None and action.step is not None
                key = (action.code, action.step)
                started.setdefault(key, action.at_s)
                piece = (action.work_order or "", action.code, action.step)
                order = orders[action.work_order or ""]
                step = next(s for s in order.steps if s.step == action.step)
                kind = step.type.station_kind
                actual = stations[action.station].kind
                if actual != kind and (kind is not None or actual in {"kiosk", "welding"}):
                    problems.append(f"{where}: step needs a {kind} station, not {actual}")
            elif action.note == "weld":
                weld = action.weld
                if piece is None or weld is None:
                    problems.append(f"{where}: weld without an active piece")
                    continue
                station = stations[action.station]
                if station.kind != "welding" or station.mqtt_device != weld.device:
                    problems.append(f"{where}: weld away from a welding station")
                step = next(s for s in orders[piece[0]].steps if s.step == piece[2])
                if step.wps is not None and (weld.process, weld.limits) != (
                    step.wps.process,
                    step.wps.limits,
                ):
                    problems.append(f"{where}: weld not under the step's WPS")
            elif action.note in {"pause", "finish"}:
                if piece is None:
                    problems.append(f"{where}: nothing to {action.note}")
                    continue
                if action.note == "finish":
                    key = (piece[1], piece[2])
                    if key in finished:
                        problems.append(f"{where}: step finished twice")
                    finished[key] = action.at_s
                    piece = None
        if at_station is not None:
            problems.append(f"{student.id}: still badged in at the end of the day")

    for order in school.work_orders:
        for label in plan.pieces[order.number]:
            done = [s.step for s in order.steps if (label, s.step) in finished]
            if done != [s.step for s in order.steps][: len(done)]:
                problems.append(f"{label}: steps {done} skip part of the routing")
            for before, after in zip(order.steps, order.steps[1:], strict=False):
                if (label, after.step) in started and not (
                    finished.get((label, before.step), math.inf) < started[(label, after.step)]
                ):
                    problems.append(f"{label}: step {after.step} began before {before.step} ended")
    for code, spans in occupancy.items():
        spans.sort()
        for (_s1, end1, who1), (start2, _e2, who2) in itertools.pairwise(spans):
            if start2 < end1 and who1 != who2:
                problems.append(f"{code}: {who1} and {who2} at the same time")
    return problems


def test_shift_plan_on_the_minimal_school_is_valid_and_does_the_work():
    school = load_school(MINIMAL_SCHOOL)
    plan = plan_shift(school, ShiftSettings(seed=1))
    assert plan_violations(school, plan) == []
    counts = plan.counts()
    assert counts["weld"] >= 4
    assert counts["finish"] >= 10
    assert counts["badge_in"] >= len(plan.students) == 4
    assert counts["pause"] >= 1
    # Students really work in parallel, not one after the other.
    spans = [
        (plan.for_student(s.id)[0].at_s, plan.for_student(s.id)[-1].at_s) for s in plan.students
    ]
    assert max(start for start, _ in spans) < min(end for _, end in spans)
    assert plan.pieces["OF-2026-0001"] == tuple(piece_label("2026", n) for n in range(1, 5))
    assert plan.pieces["OF-2026-0002"][0] == "P-2026-000005"


def test_shift_plan_on_the_demo_school_is_valid_and_welds():
    school = load_school(DEMO_SCHOOL)
    plan = plan_shift(school, ShiftSettings(seed=3, students=6))
    assert plan_violations(school, plan) == []
    welds = [a.weld for a in plan.actions if a.weld is not None]
    assert len(welds) >= 5
    assert {w.device for w in welds} <= {"ws01", "ws02", "ws03", "ws04"}


def test_only_habilitated_students_are_planned_at_the_demos_press_brake():
    school = load_school(DEMO_SCHOOL)
    held = {s.id for s in school.students if "PLIEUSE" in s.habilitations}
    assert held and held != {s.id for s in school.students}
    plan = plan_shift(school, ShiftSettings(seed=5, students=12))
    at_press = {a.student_id for a in plan.actions if a.station == "ST-PLIEUSE"}
    assert at_press and at_press <= held


@settings(max_examples=40)
@given(
    path=st.sampled_from([MINIMAL_SCHOOL, DEMO_SCHOOL]),
    seed=st.integers(0, 10**6),
    students=st.integers(1, 6),
    speed=st.sampled_from([5.0, 30.0, 120.0]),
    day_hours=st.floats(0.5, 8.0),
    pause_rate=st.floats(0.0, 1.0),
    first_piece=st.integers(1, 900_000),
)
def test_any_shift_plan_respects_routings_stations_and_badges(
    path, seed, students, speed, day_hours, pause_rate, first_piece
):
    school = load_school(path)
    settings_ = ShiftSettings(
        seed=seed,
        students=students,
        speed=speed,
        day_s=day_hours * 3600,
        pause_rate=pause_rate,
        first_piece=first_piece,
    )
    plan = plan_shift(school, settings_)
    assert plan_violations(school, plan) == []
    assert len(plan.students) == min(students, len(school.students))


def test_plan_validator_catches_a_broken_plan():
    school = load_school(MINIMAL_SCHOOL)
    plan = plan_shift(school, ShiftSettings(seed=1, students=2))
    actions = list(plan.actions)
    first_badge_in = next(i for i, a in enumerate(actions) if a.note == "badge_in")
    del actions[first_badge_in]
    broken = ShiftPlan(plan.settings, plan.students, tuple(actions), plan.pieces)
    assert any("not badged in" in p for p in plan_violations(school, broken))


def test_the_same_seed_plans_the_same_day():
    school = load_school(MINIMAL_SCHOOL)
    assert plan_shift(school, ShiftSettings(seed=9)) == plan_shift(school, ShiftSettings(seed=9))
    assert plan_shift(school, ShiftSettings(seed=9)) != plan_shift(school, ShiftSettings(seed=10))


def test_the_morning_setup_weld_ends_before_anyone_badges_in_at_its_station():
    school = load_school(MINIMAL_SCHOOL)
    plan = plan_shift(school, ShiftSettings(seed=3))
    assert plan.setup_welds, "a welding station is free at the start of the day"
    for setup in plan.setup_welds:
        assert setup.weld is not None and setup.student_id == ""
        first_in = min(
            (a.at_s for a in plan.actions if a.note == "badge_in" and a.station == setup.station),
            default=float("inf"),
        )
        assert setup.at_s + setup.weld.arc_s * plan.settings.speed < first_in
    assert not plan_shift(school, ShiftSettings(seed=3, setup_welds=0)).setup_welds


def test_arcs_take_real_time_in_the_compressed_day():
    school = load_school(MINIMAL_SCHOOL)
    plan = plan_shift(school, ShiftSettings(seed=2, speed=40.0))
    for student in plan.students:
        actions = plan.for_student(student.id)
        for action, following in itertools.pairwise(actions):
            if action.weld is not None:
                assert following.at_s - action.at_s >= action.weld.arc_s * 40.0


# -- shift runner against a real HTTP server and broker -------------------------------


def test_shift_runner_plays_the_scans_in_order_and_welds_on_the_stations(broker):
    school = load_school(MINIMAL_SCHOOL)
    settings_ = ShiftSettings(
        seed=4,
        students=2,
        speed=600.0,
        day_s=3600.0,
        arc_real_s=(2.0, 2.5),
        tack_real_s=(0.3, 0.5),
        work_s=(120.0, 240.0),
        weld_gap_s=(10.0, 20.0),
        min_real_gap_s=0.05,
        handover_real_s=0.5,
    )
    plan = plan_shift(school, settings_)
    refusal = (422, {"status": "rejected", "error": {"code": "not_allowed", "message": "Refusé"}})
    with ScanServer([refusal]) as server, MqttRecorder(broker.url, [f"{ROOT}/+/+/evt/arc"]) as rec:
        stations = {
            s.mqtt_device: make_station(broker, s.mqtt_device)
            for s in school.welding_stations
            if s.mqtt_device
        }
        for station in stations.values():
            station.power_on()
        try:
            with ScanClient(server.url, "tok") as client:
                report = ShiftRunner(plan, client, stations).run(duration_real_s=60)
        finally:
            for station in stations.values():
                station.close()
        planned_welds = sum(1 for a in plan.actions if a.weld is not None)
        planned_welds += len(plan.setup_welds)
        ends = rec.wait_for(
            lambda ms: sum(b'"arc_end"' in m.payload for m in ms) >= planned_welds, 10
        )
    assert not report.interrupted
    assert report.welds == planned_welds > 0
    assert len(report.refusals) == 1 and report.refusals[0].message == "Refusé"
    sent = [(body["station"], body["code"]) for _auth, body in server.requests]
    planned = [(a.station, a.code) for a in plan.actions if a.code is not None]
    assert sorted(sent) == sorted(planned)
    for student in plan.students:
        # Each student's scans reach the server in the order of the plan.
        mine = [(a.station, a.code) for a in plan.for_student(student.id) if a.code]
        assert is_subsequence(mine, sent), student.id
    arc_starts = [m.json() for m in ends if b'"arc_start"' in m.payload]
    assert {a["device"] for a in arc_starts} <= {"ws01", "ws02"}


def test_a_cut_short_shift_badges_everyone_out():
    school = load_school(MINIMAL_SCHOOL)
    plan = plan_shift(school, ShiftSettings(seed=5, students=3, speed=60.0))
    with ScanServer() as server, ScanClient(server.url, "tok") as client:
        report = ShiftRunner(plan, client, {}).run(duration_real_s=1.5)
    assert report.interrupted
    sent = [(body["station"], body["code"]) for _auth, body in server.requests]
    for student in plan.students:
        at: str | None = None
        for station, code in sent:
            if code in student.badges or code == "A-SORTIE":
                if at is None and code in student.badges:
                    at = station
                elif at == station:
                    at = None
        assert at is None, f"{student.id} left badged in at {at}"
    assert report.welds == 0


def is_subsequence(needle: list[Any], haystack: list[Any]) -> bool:
    remaining = iter(haystack)
    return all(any(item == candidate for candidate in remaining) for item in needle)


# -- end to end against the real server (gunicorn on the test's database) -------------


def read_api(live_server: Any, token: str, path: str) -> Any:
    response = requests.get(
        f"{live_server.url}/api/v1/{path}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()


@pytest.mark.slow
def test_a_planned_shift_is_accepted_scan_by_scan_by_the_real_server(app, school, live_server):
    scan_token = factories.make_token(None, name="shift-sim")
    read_token = factories.make_token(None, read=True, name="shift-reader")
    school_file = load_school(MINIMAL_SCHOOL)
    settings_ = ShiftSettings(
        seed=11,
        students=3,
        speed=900.0,
        day_s=3 * 3600.0,
        min_real_gap_s=0.15,
        handover_real_s=1.0,
    )
    plan = plan_shift(school_file, settings_)
    assert plan_violations(school_file, plan) == []
    with ScanClient(live_server.url, scan_token, event_prefix="e2e") as client:
        report = ShiftRunner(plan, client, {}).run(duration_real_s=120)

    assert not report.interrupted
    planned_scans = [a for a in plan.actions if a.code is not None]
    assert len(report.outcomes) == len(planned_scans)
    refused = [
        (o.station, o.code, o.error_code, o.message) for o in report.outcomes if not o.accepted
    ]
    # The plan follows the server's rules, so every scan of a fresh day is accepted.
    assert refused == []
    assert all(o.message for o in report.outcomes)

    finished = [a for a in plan.actions if a.note == "finish"]
    assert finished
    for action in finished:
        piece = read_api(live_server, read_token, f"pieces/{action.piece}")
        (operation,) = [op for op in piece["operations"] if op["step"] == action.step]
        assert operation["status"] == "finished", (action.piece, action.step)
        assert operation["station"] == action.station
        assert action.student_id in {s["id"] for s in operation["students"]}
    done = Counter(a.piece for a in finished)
    for order in school_file.work_orders:
        for label in plan.pieces[order.number]:
            if done[label] == len(order.steps):
                piece = read_api(live_server, read_token, f"pieces/{label}")
                assert piece["status"] == "awaiting_review"
    stations = read_api(live_server, read_token, "stations")["stations"]
    assert all(s["students"] == [] for s in stations), "somebody is still badged in"


@pytest.mark.slow
def test_shift_command_keeps_going_when_the_server_refuses_scans(app, school, live_server):
    scan_token = factories.make_token(None, name="shift-cli")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "ATELIER_TOKEN": scan_token}
    env.pop("ATELIER_MQTT_URL", None)
    command = [
        sys.executable,
        "-m",
        "devices.simulate",
        "shift",
        "--server",
        live_server.url,
        "--school",
        str(MINIMAL_SCHOOL),
        "--speed",
        "900",
        "--students",
        "2",
        "--day-hours",
        "0.5",
        "--seed",
        "3",
    ]
    first = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    assert "Fin de journée" in first.stdout
    assert " 0 refusé(s)" in first.stdout
    # Replaying the same day: finished operations are refused (422) with a French message,
    # and the simulator carries on to the end of the day.
    again = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    assert "Fin de journée" in again.stdout
    assert " 0 refusé(s)" not in again.stdout
    assert "est déjà terminée" in again.stderr


SHIPPED_CONFIG = REPO_ROOT / "deploy" / "mosquitto" / "atelier.conf"
STATION_PASSWORDS = {"atelier-ingest": "ingest-pw", "ws01": "ws01-pw", "ws02": "ws02-pw"}


@pytest.mark.slow
def test_shift_welds_reach_their_pieces_and_students_through_the_ingest_worker(
    app, school, database_url, live_server, tmp_path
):
    scan_token = factories.make_token(None, name="shift-mqtt")
    read_token = factories.make_token(None, read=True, name="shift-mqtt-reader")
    school_file = load_school(MINIMAL_SCHOOL)
    plan = plan_shift(
        school_file,
        ShiftSettings(
            seed=3,
            students=2,
            speed=300.0,
            day_s=1.5 * 3600.0,
            arc_real_s=(2.0, 2.6),
            tack_real_s=(0.5, 1.0),
            min_real_gap_s=0.15,
            handover_real_s=1.0,
        ),
    )
    planned_welds = [a for a in plan.actions if a.weld is not None]
    assert len(planned_welds) >= 3
    with MosquittoBroker(
        SHIPPED_CONFIG.read_text(encoding="utf-8"),
        workdir=tmp_path / "broker",
        users=STATION_PASSWORDS,
        acl_text=mosquitto_acl("atelier/v1", "atelier-ingest", [("belfort", ["ws01", "ws02"])]),
    ) as broker:
        worker = WorkerProcess(
            database_url,
            f"mqtt://atelier-ingest:ingest-pw@127.0.0.1:{broker.port}",
            tmp_path,
            client_id="atelier-ingest-shift",
        )
        worker.start()
        worker.wait_subscribed()
        stations = {
            device: WeldingStation(
                device,
                MqttTarget.parse(broker.url),
                site=school_file.site,
                seed=3,
                password=STATION_PASSWORDS[device],
                behaviour=WeldBehaviour(out_of_range_rate=0.3),
            )
            for device in ("ws01", "ws02")
        }
        try:
            for station in stations.values():
                station.power_on()
                assert station.wait_connected()
            with ScanClient(live_server.url, scan_token, event_prefix="mqtt-e2e") as client:
                report = ShiftRunner(plan, client, stations).run(duration_real_s=120)
            for station in stations.values():
                assert station.flush(timeout_s=20)

            def ingested() -> list[dict[str, Any]]:
                welds: list[dict[str, Any]] = []
                for label in {a.piece for a in planned_welds}:
                    piece = read_api(live_server, read_token, f"pieces/{label}")
                    welds += [w for op in piece["operations"] for w in op["welds"]]
                return welds

            deadline = time.monotonic() + 30
            while len(ingested()) < len(planned_welds) and time.monotonic() < deadline:
                time.sleep(0.3)
        finally:
            for station in stations.values():
                station.close()
            worker.stop()
        broker.assert_log_clean()

    assert not report.interrupted
    assert [o for o in report.outcomes if not o.accepted] == []
    assert len(report.welded) == len(planned_welds) + len(plan.setup_welds)
    # The morning's setup weld, made with nobody badged in, waits for a teacher.
    setup_ids = [weld.weld_id for action, weld in report.welded if not action.student_id]
    assert len(setup_ids) == len(plan.setup_welds) == 1
    db.session.rollback()
    stored_setup = db.session.execute(select(Weld).where(Weld.weld_key.in_(setup_ids))).scalar_one()
    assert stored_setup.run_id is None and stored_setup.students == []
    for action, weld in report.welded:
        if not action.student_id:
            continue
        piece = read_api(live_server, read_token, f"pieces/{action.piece}")
        (operation,) = [op for op in piece["operations"] if op["step"] == action.step]
        by_id = {w["weld_id"]: w for w in operation["welds"]}
        assert weld.weld_id in by_id, (weld.weld_id, worker.log_text()[-2000:])
        stored = by_id[weld.weld_id]
        # Attributed to the student badged in at the station, on the planned piece.
        assert [s["id"] for s in stored["students"]] == [action.student_id]
        assert stored["station"] == action.station
        end = weld.arc_end
        assert stored["arc_s"] == pytest.approx(end["arc_s"])
        assert stored["i_mean_a"] == pytest.approx(end["i_a"]["mean"])
        assert stored["u_mean_v"] == pytest.approx(end["u_v"]["mean"])
        assert stored["energy_j"] == pytest.approx(end["energy_j"])
        assert stored["wps"] == "WPS-135-PB"
        out_of_range = WPS_135.excursion_of(end["i_a"]["mean"], end["u_v"]["mean"])
        assert stored["wps_verdict"] == ("out_of_range" if out_of_range else "in_range")
