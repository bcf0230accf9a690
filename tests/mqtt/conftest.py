"""Fixtures of the MQTT tests: the shipped broker configuration and the ingest worker."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.cli import mosquitto_acl
from app.extensions import db
from app.mqtt.worker import BrokerAddress, IngestWorker
from tests.support.mosquitto import MosquittoBroker
from tests.support.stations import ScriptedStation

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_CONFIG = ROOT / "deploy" / "mosquitto" / "atelier.conf"
PASSWORDS = {"atelier-ingest": "ingest-secret", "ws01": "ws01-secret", "ws02": "ws02-secret"}


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A real Mosquitto running the configuration shipped in deploy/mosquitto/."""
    with MosquittoBroker(
        SHIPPED_CONFIG.read_text(encoding="utf-8"),
        workdir=tmp_path / "broker",
        users=PASSWORDS,
        # What `flask --app app mqtt acl` writes for the minimal school.
        acl_text=mosquitto_acl("atelier/v1", "atelier-ingest", [("belfort", ["ws01", "ws02"])]),
    ) as running:
        yield running
        running.assert_log_clean()


def worker_url(broker: MosquittoBroker, password: str = PASSWORDS["atelier-ingest"]) -> str:
    """Return ATELIER_MQTT_URL for the ingest worker of this broker."""
    return f"mqtt://atelier-ingest:{password}@127.0.0.1:{broker.port}"


class RunningWorker:
    """An ingest worker running in a thread of the test process."""

    def __init__(
        self,
        app: Flask,
        broker: MosquittoBroker,
        protocol: str = "auto",
        *,
        site: str = "belfort",
        passwords: dict[str, str] = PASSWORDS,
    ) -> None:
        self.stop = threading.Event()
        self.worker = IngestWorker(
            app,
            BrokerAddress.parse(worker_url(broker, passwords["atelier-ingest"])),
            "atelier/v1",
            site,
            client_id=f"atelier-ingest-test-{uuid.uuid4().hex[:6]}",
            protocol=protocol,
        )
        self.thread = threading.Thread(target=self.worker.run, args=(self.stop,), daemon=True)
        self.thread.start()
        # Wait for the SUBACK: a station publishing before it would not reach this new session.
        if not self.worker.subscribed.wait(15):
            raise TimeoutError("the ingest worker did not connect and subscribe")

    def close(self) -> None:
        """Stop the worker and wait for it."""
        self.stop.set()
        self.thread.join(20)


@pytest.fixture
def worker(app: Flask, broker: MosquittoBroker, school: None) -> Iterator[RunningWorker]:
    """The ingest worker, connected to the broker, with the minimal school loaded."""
    running = RunningWorker(app, broker)
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def station(broker: MosquittoBroker) -> Iterator[Callable[..., ScriptedStation]]:
    """Make scripted stations that sign in with their own credentials."""
    made: list[ScriptedStation] = []

    def make(device: str = "ws01", **kwargs: Any) -> ScriptedStation:
        scripted = ScriptedStation(broker.port, device, password=PASSWORDS.get(device), **kwargs)
        made.append(scripted)
        return scripted

    yield make
    for scripted in made:
        scripted.disconnect()


def wait_until(predicate: Callable[[], Any], timeout_s: float = 15.0, what: str = "") -> Any:
    """Poll the database until the predicate is true (the worker commits in its thread)."""
    deadline = time.monotonic() + timeout_s
    while True:
        db.session.commit()  # a fresh snapshot each time
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"not true after {timeout_s} s: {what or predicate}")
        time.sleep(0.05)


def count(model: Any, *conditions: Any) -> int:
    """Count rows of a model."""
    return int(
        db.session.execute(select(func.count()).select_from(model).where(*conditions)).scalar_one()
    )
