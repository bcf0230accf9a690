"""Fault tests: every weld lands exactly once whatever dies (docs/contract.md §6).

The worker runs as its own process, as in production, and is killed with SIGKILL; the
broker runs the shipped configuration (persistence on) and is restarted.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.models import Event, SeqGap, Weld
from tests.mqtt.conftest import PASSWORDS, count, wait_until, worker_url
from tests.support.mosquitto import MosquittoBroker
from tests.support.stations import ScriptedStation
from tests.support.worker import WorkerProcess

pytestmark = pytest.mark.slow


@pytest.fixture
def worker_process(
    app: Flask, database_url: str, broker: MosquittoBroker, school: None, tmp_path: Path
) -> Iterator[WorkerProcess]:
    """The ingest worker as a separate process (not started yet)."""
    process = WorkerProcess(database_url, worker_url(broker), tmp_path)
    try:
        yield process
    finally:
        code = process.stop()
        assert code in (0, -9, 137), process.log_text()[-3000:]


def welds_recorded() -> int:
    return count(Weld)


def publish_welds(station: ScriptedStation, n: int, start: datetime) -> list[str]:
    """Publish n arc_end messages as fast as the broker acknowledges them."""
    infos = []
    keys = []
    for number in range(n):
        weld_id = f"{station.device}-{station.boot_id}-{number:05d}"
        keys.append(weld_id)
        payload = station.arc_end_payload(weld_id, start + timedelta(seconds=number))
        infos.append(station.client.publish(station.topic("evt/arc"), json.dumps(payload), qos=1))
    for info in infos:
        info.wait_for_publish(60)
    return keys


def assert_exactly_once(keys: list[str]) -> None:
    db.session.commit()
    stored = sorted(db.session.execute(select(Weld.weld_key)).scalars())
    assert stored == sorted(keys)
    arc_ends = db.session.execute(
        select(func.count())
        .select_from(Event)
        .where(Event.channel == "mqtt", Event.kind == "mqtt.arc_end")
    ).scalar_one()
    assert arc_ends == len(keys)
    assert count(SeqGap) == 0


def started(worker: WorkerProcess) -> None:
    """Start the worker and wait until its subscriptions are in place."""
    worker.start()
    worker.wait_subscribed()


def test_killing_the_worker_mid_stream_loses_and_doubles_no_weld(
    broker: MosquittoBroker, worker_process: WorkerProcess
) -> None:
    started(worker_process)
    station = ScriptedStation(broker.port, "ws01", password=PASSWORDS["ws01"], max_inflight=200)
    keys: list[str] = []
    publisher = threading.Thread(
        target=lambda: keys.extend(publish_welds(station, 1500, datetime.now(UTC)))
    )
    publisher.start()
    wait_until(lambda: welds_recorded() >= 100, timeout_s=60, what="a first part of the stream")
    assert worker_process.kill() in (-9, 137)
    killed_at = welds_recorded()
    time.sleep(0.5)
    worker_process.start()
    publisher.join(120)
    wait_until(lambda: welds_recorded() >= 1500, timeout_s=120, what="the whole stream")
    assert killed_at < 1500, "the kill came after the end of the stream: the test proved nothing"
    assert_exactly_once(keys)
    station.disconnect()


def test_messages_queued_for_the_worker_survive_a_broker_restart(
    broker: MosquittoBroker, worker_process: WorkerProcess
) -> None:
    started(worker_process)
    assert worker_process.stop() == 0
    station = ScriptedStation(broker.port, "ws01", password=PASSWORDS["ws01"], max_inflight=200)
    keys = publish_welds(station, 300, datetime.now(UTC))
    station.disconnect()
    time.sleep(1.5)  # past one autosave: the queue is on disk too
    broker.restart()
    broker.assert_log_clean()
    worker_process.start()
    wait_until(lambda: welds_recorded() >= 300, timeout_s=60, what="the queued welds")
    assert_exactly_once(keys)
    assert "session present: True" in worker_process.log_text()


def test_twenty_thousand_messages_sent_while_the_worker_is_down_all_arrive(
    broker: MosquittoBroker, worker_process: WorkerProcess
) -> None:
    started(worker_process)
    assert worker_process.stop() == 0
    stations = [
        ScriptedStation(broker.port, device, password=PASSWORDS[device], max_inflight=200)
        for device in ("ws01", "ws02")
    ]
    keys: list[str] = []
    start = datetime.now(UTC) - timedelta(days=1)
    threads = [
        threading.Thread(target=lambda s=station: keys.extend(publish_welds(s, 10000, start)))
        for station in stations
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert len(keys) == 20000
    worker_process.start()
    wait_until(lambda: welds_recorded() >= 20000, timeout_s=240, what="20,000 welds")
    assert_exactly_once(keys)
    for station in stations:
        station.disconnect()
    broker.assert_log_clean()
