"""The MQTT ingest worker against a real Mosquitto (the shipped configuration)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from paho.mqtt.enums import MQTTProtocolVersion
from sqlalchemy import select

from app.boundary import submit, web_origin
from app.extensions import db
from app.ingest.events import AssignWeld
from app.models import (
    DeviceStatus,
    Event,
    Evidence,
    OperationRun,
    SeqGap,
    Station,
    Student,
    Weld,
    WeldSamples,
)
from app.mqtt.worker import BrokerAddress, IngestWorker
from tests.api.test_read_api import validate
from tests.factories import Scanner, make_staff, make_token
from tests.mqtt.conftest import PASSWORDS, RunningWorker, count, wait_until
from tests.support.mosquitto import MosquittoBroker, MqttRecorder
from tests.support.services import free_port, require, wait_for_port
from tests.support.stations import ScriptedStation

Make = Callable[..., ScriptedStation]


def require_binary_in_venv(name: str, install: str) -> str:
    """Return a console script of this Python environment, or skip/fail when missing."""
    path = shutil.which(name, path=str(Path(sys.executable).parent))
    require(path is not None, f"the '{name}' program", install)
    assert path is not None
    return path


LUCAS, LEA = "B-0001", "B-0003"


def weld(key: str) -> Weld | None:
    return db.session.execute(select(Weld).where(Weld.weld_key == key)).scalar_one_or_none()


def start_run(client: FlaskClient, *badges: str, station: str = "ST-SOUD-01") -> Scanner:
    scanner = Scanner(client, make_token(station))
    for badge in badges:
        scanner.ok(badge)
    scanner.ok("OF-2026-0001-20")
    scanner.ok("P-2026-000001")
    return scanner


def evidence_codes(student_code: str) -> list[str]:
    rows = db.session.execute(
        select(Evidence)
        .join(Student, Student.id == Evidence.student_id)
        .where(Student.code == student_code)
    ).scalars()
    return sorted(e.competency.full_code for e in rows)


def test_weld_belongs_to_the_run_and_students_at_its_station_at_ts_start(
    client: FlaskClient, worker: RunningWorker, station: Make
) -> None:
    start_run(client, LUCAS, LEA)
    ws01 = station("ws01")
    weld_id = ws01.weld()
    found = wait_until(lambda: weld(weld_id), what="the weld")
    run = db.session.execute(select(OperationRun)).scalar_one()
    assert found.run_id == run.id
    assert sorted(link.student.code for link in found.students) == ["E2026-001", "E2026-003"]
    assert found.verdict == "in_range" and found.wps is not None and found.wps.code == "WPS-135-PB"
    assert found.process == "135" and found.arc_s == pytest.approx(12.4)
    assert evidence_codes("E2026-001") == ["cap-rics:C4"]
    assert evidence_codes("E2026-003") == ["cap-metallier:C3.6"]
    assert count(WeldSamples, WeldSamples.weld_key == weld_id) == 1
    reader = {"Authorization": f"Bearer {make_token(read=True)}"}
    piece = client.get("/api/v1/pieces/P-2026-000001", headers=reader).get_json()
    step = next(op for op in piece["operations"] if op["step"] == 20)
    assert [w["weld_id"] for w in step["welds"]] == [weld_id]
    assert step["welds"][0]["wps_verdict"] == "in_range"
    assert [s["id"] for s in step["welds"][0]["students"]] == ["E2026-001", "E2026-003"]
    document = client.get("/api/v1/openapi.json").get_json()
    validate(document, "Piece", piece)
    portfolio = client.get("/api/v1/students/E2026-001/portfolio", headers=reader).get_json()
    validate(document, "Portfolio", portfolio)
    assert portfolio["welding"] == [
        {
            "process": "135",
            "position": "PB",
            "arc_s": 12.4,
            "welds": 1,
            "last_weld_at": found.started_at.isoformat(timespec="milliseconds").replace(
                "+00:00", "Z"
            ),
        }
    ]


def test_redelivered_arc_end_and_reused_weld_id_make_one_weld(
    client: FlaskClient, worker: RunningWorker, station: Make
) -> None:
    start_run(client, LUCAS)
    ws01 = station("ws01")
    start = datetime.now(UTC)
    payload = ws01.arc_end_payload("ws01-X-0001", start)
    ws01.publish("evt/arc", payload)
    ws01.publish("evt/arc", payload)  # a QoS 1 redelivery: same seq
    ws01.publish("evt/arc", {**payload, "seq": ws01.next_seq()})  # the station resent it
    marker = ws01.weld()
    wait_until(lambda: weld(marker), what="the marker weld")
    assert count(Weld) == 2
    assert count(Event, Event.channel == "mqtt", Event.kind == "mqtt.arc_end") == 3
    assert evidence_codes("E2026-001") == ["cap-rics:C4"]


def test_weld_with_nobody_badged_in_is_unattributed_until_a_teacher_assigns_it(
    app: Flask, client: FlaskClient, worker: RunningWorker, station: Make
) -> None:
    ws02 = station("ws02")
    weld_id = ws02.weld(i_mean=230.0)
    found = wait_until(lambda: weld(weld_id), what="the weld")
    assert found.run_id is None and found.students == []
    assert found.verdict == "no_wps"
    reader = {"Authorization": f"Bearer {make_token(read=True)}"}
    start_run(client, LUCAS)
    run = db.session.execute(select(OperationRun)).scalar_one()
    teacher = make_staff()
    assignment = AssignWeld(weld_id, "P-2026-000001", 20, ("E2026-001",))
    assert submit(web_origin(teacher), assignment).accepted
    again = submit(web_origin(teacher), assignment)
    assert again.body["error"]["code"] == "already_attributed"
    db.session.commit()
    assigned = weld(weld_id)
    assert assigned is not None and assigned.run_id == run.id
    assert assigned.verdict == "out_of_range"
    assert assigned.deviations == [
        {"field": "i_a", "value": 230.0, "min": 160.0, "max": 200.0, "deviation": 30.0}
    ]
    assert evidence_codes("E2026-001") == ["cap-rics:C4"]
    piece = client.get("/api/v1/pieces/P-2026-000001", headers=reader).get_json()
    assert any(w["weld_id"] == weld_id for op in piece["operations"] for w in op["welds"])


def test_heat_input_is_computed_only_when_the_length_is_known(
    client: FlaskClient, worker: RunningWorker, station: Make
) -> None:
    start_run(client, LUCAS)
    ws01 = station("ws01")
    with_length = ws01.weld(energy_j=54210.0, length_mm=300.0)
    without = ws01.weld(energy_j=54210.0, length_mm=None)
    tig = ws01.weld(energy_j=20000.0, length_mm=100.0, process="141")
    wait_until(lambda: weld(tig), what="the last weld")
    first = weld(with_length)
    assert first is not None and first.k_factor == 0.8
    assert first.heat_input_kj_mm == pytest.approx(0.8 * 54210 / 300 / 1000)
    second = weld(without)
    assert second is not None and second.heat_input_kj_mm is None
    third = weld(tig)
    assert third is not None and third.heat_input_kj_mm == pytest.approx(0.6 * 20000 / 100 / 1000)
    # A TIG weld on a MAG WPS is out of the procedure, whatever its figures.
    assert third.verdict == "out_of_range"
    assert {"field": "process", "value": "141", "expected": "135"} in (third.deviations or [])


@pytest.mark.parametrize(
    ("i_mean", "u_mean", "verdict", "fields"),
    [
        (182.3, 23.9, "in_range", []),
        (212.5, 23.9, "out_of_range", [("i_a", 12.5)]),
        (150.0, 26.0, "out_of_range", [("i_a", -10.0), ("u_v", 1.0)]),
    ],
)
def test_wps_verdict_names_the_field_and_the_deviation(
    client: FlaskClient,
    worker: RunningWorker,
    station: Make,
    i_mean: float,
    u_mean: float,
    verdict: str,
    fields: list[tuple[str, float]],
) -> None:
    start_run(client, LUCAS)
    weld_id = station("ws01").weld(i_mean=i_mean, u_mean=u_mean)
    found = wait_until(lambda: weld(weld_id), what="the weld")
    assert found.verdict == verdict
    assert [(d["field"], d["deviation"]) for d in found.deviations or []] == fields


def device(code: str) -> DeviceStatus | None:
    return db.session.execute(
        select(DeviceStatus)
        .join(Station, Station.id == DeviceStatus.station_id)
        .where(Station.code == code)
    ).scalar_one_or_none()


def test_station_online_from_its_birth_and_offline_from_its_last_will(
    worker: RunningWorker, station: Make
) -> None:
    ws01 = station("ws01")
    ws01.online()
    wait_until(
        lambda: (d := device("ST-SOUD-01")) is not None and d.state == "online", what="online"
    )
    ws01.arc_start("ws01-A-0001", datetime.now(UTC))
    wait_until(lambda: device("ST-SOUD-01").arc_on, what="arc on")  # type: ignore[union-attr]
    ws01.vanish()
    status = wait_until(
        lambda: (d := device("ST-SOUD-01")) is not None and d.state == "offline" and d,
        what="offline",
    )
    assert status.boot_id == ws01.boot_id and not status.arc_on


def test_cfg_is_published_when_a_run_starts_and_cleared_when_it_ends(
    client: FlaskClient, broker: MosquittoBroker, worker: RunningWorker
) -> None:
    with MqttRecorder(
        broker.url, ["atelier/v1/belfort/ws01/cfg"], username="ws01", password=PASSWORDS["ws01"]
    ) as recorder:
        scanner = start_run(client, LUCAS)
        messages = recorder.wait_count(1, "/cfg", timeout_s=15)
        cfg = messages[0].json()
        # Delivered live, the message carries no retain flag (MQTT 3.1.1 §3.3.1.3)...
        assert messages[0].retain is False
        # ... but the broker kept it: a station that connects now gets it, flagged retained.
        with MqttRecorder(
            broker.url, ["atelier/v1/belfort/ws01/cfg"], username="ws01", password=PASSWORDS["ws01"]
        ) as reconnecting:
            kept = reconnecting.wait_count(1, "/cfg", timeout_s=15)
            assert kept[0].retain is True and kept[0].json() == cfg
        assert cfg["device"] == "ws01"
        assert cfg["run"] == {
            "operation": "OF-2026-0001-20",
            "name": "Soudage MAG (135)",
            "piece": "P-2026-000001",
            "status": "running",
        }
        assert cfg["wps"]["id"] == "WPS-135-PB"
        assert cfg["wps"]["i_a"] == [160.0, 200.0] and cfg["wps"]["u_v"] == [21.0, 25.0]
        scanner.ok("A-FIN")
        cleared = recorder.wait_for(lambda msgs: any(m.payload == b"" for m in msgs), timeout_s=15)
        assert cleared[-1].payload == b""
    # The broker keeps the last cfg for a station that reconnects: here, nothing.
    with (
        MqttRecorder(
            broker.url, ["atelier/v1/belfort/ws01/cfg"], username="ws01", password=PASSWORDS["ws01"]
        ) as late,
        pytest.raises(TimeoutError),
    ):
        late.wait_count(1, "/cfg", timeout_s=1.5)


def test_sequence_gaps_are_recorded_and_filled_by_late_messages(
    worker: RunningWorker, station: Make
) -> None:
    ws01 = station("ws01")
    start = datetime.now(UTC)
    ws01.publish("evt/arc", ws01.arc_end_payload("ws01-G-0001", start, seq=0))
    ws01.publish("evt/arc", ws01.arc_end_payload("ws01-G-0004", start, seq=3))
    wait_until(lambda: weld("ws01-G-0004"), what="the second weld")
    gaps = db.session.execute(select(SeqGap)).scalars().all()
    assert [(g.first_seq, g.last_seq) for g in gaps] == [(1, 2)]
    ws01.publish("evt/arc", ws01.arc_end_payload("ws01-G-0002", start, seq=1))
    wait_until(lambda: weld("ws01-G-0002"), what="the late weld")
    gaps = db.session.execute(select(SeqGap)).scalars().all()
    assert [(g.first_seq, g.last_seq) for g in gaps] == [(2, 2)]


@pytest.mark.parametrize(
    ("suffix", "payload", "reason"),
    [
        ("evt/arc", b"not json", "not JSON"),
        ("evt/arc", b"[1, 2]", "not a JSON object"),
        ("evt/arc", json.dumps({"v": 2, "type": "arc_end"}).encode(), "unknown payload version"),
        (
            "evt/arc",
            json.dumps({"v": 1, "type": "arc_end", "device": "ws01"}).encode(),
            "missing field 'boot_id'",
        ),
        (
            "evt/arc",
            json.dumps(
                {"v": 1, "type": "arc_end", "device": "ws02", "boot_id": "B", "seq": 1}
            ).encode(),
            "device 'ws02'",
        ),
        (
            "evt/arc",
            json.dumps(
                {
                    "v": 1,
                    "type": "spark",
                    "device": "ws01",
                    "boot_id": "B",
                    "seq": 1,
                    "weld_id": "w",
                }
            ).encode(),
            "unknown event type",
        ),
        (
            "data/samples",
            json.dumps(
                {"v": 1, "device": "ws01", "boot_id": "B", "seq": "x", "weld_id": "w"}
            ).encode(),
            "'seq'",
        ),
        (
            "status",
            json.dumps(
                {
                    "v": 1,
                    "state": "dancing",
                    "device": "ws01",
                    "boot_id": "B",
                    "ts": "2026-11-26T09:20:11Z",
                }
            ).encode(),
            "unknown state",
        ),
        ("evt/other", b"{}", "unknown topic"),
    ],
)
def test_bad_payloads_are_recorded_as_rejected_and_the_worker_carries_on(
    client: FlaskClient,
    worker: RunningWorker,
    station: Make,
    suffix: str,
    payload: bytes,
    reason: str,
) -> None:
    ws01 = station("ws01")
    ws01.publish(suffix, payload)
    marker = ws01.weld()
    wait_until(lambda: weld(marker), what="the weld after the bad message")
    rejected = (
        db.session.execute(select(Event).where(Event.channel == "mqtt", Event.status == "rejected"))
        .scalars()
        .all()
    )
    assert len(rejected) == 1
    assert reason in (rejected[0].reason or "")
    assert rejected[0].raw == payload.decode()
    assert worker.thread.is_alive()


def test_a_station_cannot_publish_as_another_station(
    broker: MosquittoBroker, worker: RunningWorker, station: Make
) -> None:
    ws01 = station("ws01", protocol=MQTTProtocolVersion.MQTTv5)
    spoof = ws01.client.publish(
        "atelier/v1/belfort/ws02/evt/arc",
        json.dumps(ScriptedStation.arc_end_payload(ws01, "ws02-FAKE-0001", datetime.now(UTC))),
        qos=1,
    )
    spoof.wait_for_publish(10)
    marker = ws01.weld()
    wait_until(lambda: weld(marker), what="the station's own weld")
    assert weld("ws02-FAKE-0001") is None
    assert count(Event, Event.code.like("%/ws02/%")) == 0


def test_worker_can_be_told_to_speak_mqtt_311(
    app: Flask, broker: MosquittoBroker, school: None, station: Make
) -> None:
    running = RunningWorker(app, broker, protocol="3.1.1")
    try:
        client = running.worker.client
        assert client is not None and client.protocol == MQTTProtocolVersion.MQTTv311
        marker = station("ws01").weld()
        wait_until(lambda: weld(marker), what="the weld")
    finally:
        running.close()


def test_worker_falls_back_to_mqtt_311_on_a_broker_without_mqtt_5(
    app: Flask, school: None, tmp_path: Path
) -> None:
    amqtt = require_binary_in_venv("amqtt", "pip install amqtt (the demo's embedded broker)")
    port = free_port()
    config = tmp_path / "amqtt.yaml"
    config.write_text(
        f"listeners:\n  default:\n    type: tcp\n    bind: 127.0.0.1:{port}\n"
        "plugins:\n  amqtt.plugins.authentication.AnonymousAuthPlugin:\n"
        "    allow_anonymous: true\n",
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [amqtt, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        assert wait_for_port(port, 15), "amqtt did not start"
        worker = IngestWorker(
            app,
            BrokerAddress.parse(f"mqtt://127.0.0.1:{port}"),
            "atelier/v1",
            "belfort",
            client_id="ing-amqtt",
        )
        stop = threading.Event()
        thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
        thread.start()
        try:
            assert worker.subscribed.wait(20), "the worker did not subscribe on amqtt"
            assert worker.client is not None
            assert worker.client.protocol == MQTTProtocolVersion.MQTTv311
            publisher = ScriptedStation(port, "ws01")
            marker = publisher.weld()
            wait_until(lambda: weld(marker), what="the weld through amqtt")
            publisher.disconnect()
        finally:
            stop.set()
            thread.join(20)
    finally:
        process.terminate()
        process.wait(10)


def test_late_message_of_a_previous_power_up_is_kept_without_a_false_gap(
    worker: RunningWorker, station: Make
) -> None:
    old = station("ws01")
    start = datetime.now(UTC) - timedelta(minutes=5)
    old.publish("evt/arc", old.arc_end_payload("ws01-OLD-0001", start, seq=0))
    wait_until(lambda: weld("ws01-OLD-0001"), what="the old weld")
    new = station("ws01")
    new.publish("evt/arc", new.arc_end_payload("ws01-NEW-0001", datetime.now(UTC), seq=0))
    old.publish("evt/arc", old.arc_end_payload("ws01-OLD-0002", start, seq=1))
    wait_until(lambda: weld("ws01-OLD-0002"), what="the late weld")
    assert count(SeqGap) == 0
