"""The embedded amqtt broker: a client gets the retained messages of its own filters only.

Stock amqtt (0.11, 0.12) sends a connecting client the retained messages matching every
other client's subscriptions (see demo/amqtt_broker.py). The first test shows it on the
stock broker, so that the day amqtt fixes it, it fails and says the workaround can go.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from demo.broker import write_amqtt_config
from tests.support.mosquitto import MqttRecorder
from tests.support.services import free_port, wait_for_port

REPO = Path(__file__).resolve().parents[2]
T = "atelier/v1/belfort"
STOCK = ["-m", "amqtt.scripts.broker_script", "-c"]
FIXED = ["-m", "demo.amqtt_broker"]


def _broker(tmp_path: Path, command: list[str]) -> Iterator[str]:
    port = free_port()
    config = write_amqtt_config(tmp_path / "amqtt.yaml", port)
    with (tmp_path / "broker.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, *command, str(config)], cwd=REPO, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        assert wait_for_port(port, 15.0), (tmp_path / "broker.log").read_text()
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        process.terminate()
        assert process.wait(timeout=10) is not None


@pytest.fixture
def stock_amqtt(tmp_path: Path) -> Iterator[str]:
    """amqtt's own broker script."""
    yield from _broker(tmp_path, STOCK)


@pytest.fixture
def demo_amqtt(tmp_path: Path) -> Iterator[str]:
    """The demo's broker: amqtt with the retained-message fix."""
    yield from _broker(tmp_path, FIXED)


def _retain(url: str, topic: str, payload: str) -> None:
    port = int(url.rsplit(":", 1)[1])
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="", protocol=mqtt.MQTTv311)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1, retain=True).wait_for_publish(timeout=5)
    finally:
        client.disconnect()
        client.loop_stop()


def _what_ws01_gets(url: str) -> list[tuple[str, bytes]]:
    """Let ws02 and a worker subscribe, retain their topics, then connect ws01."""
    with (
        MqttRecorder(url, [f"{T}/ws02/cfg"], client_id="ws02"),
        MqttRecorder(url, [f"{T}/+/status"], client_id="atelier-ingest-belfort"),
    ):
        _retain(url, f"{T}/ws02/cfg", "limites de ws02")
        _retain(url, f"{T}/ws02/status", "ws02 en ligne")
        with MqttRecorder(url, [f"{T}/ws01/cfg"], client_id="ws01") as ws01:
            time.sleep(1.0)
            _retain(url, f"{T}/ws01/cfg", "limites de ws01")
            ws01.wait_for(lambda got: any(m.topic.endswith("ws01/cfg") for m in got))
            time.sleep(0.3)
            return [(m.topic, m.payload) for m in ws01.messages()]


@pytest.mark.slow
def test_stock_amqtt_sends_a_new_client_what_other_clients_subscribed_to(stock_amqtt: str):
    received = _what_ws01_gets(stock_amqtt)
    assert (f"{T}/ws02/cfg", b"limites de ws02") in received
    assert (f"{T}/ws02/status", b"ws02 en ligne") in received


@pytest.mark.slow
def test_the_demo_broker_sends_a_station_its_own_cfg_and_nothing_else(demo_amqtt: str):
    assert _what_ws01_gets(demo_amqtt) == [(f"{T}/ws01/cfg", b"limites de ws01")]


@pytest.mark.slow
def test_the_demo_broker_still_sends_retained_messages_on_subscribe(demo_amqtt: str):
    _retain(demo_amqtt, f"{T}/ws01/status", "ws01 en ligne")
    _retain(demo_amqtt, f"{T}/ws01/cfg", "limites de ws01")
    with MqttRecorder(demo_amqtt, [f"{T}/+/status"], client_id="atelier-ingest-belfort") as w:
        messages = w.wait_count(1, "/status")
        time.sleep(0.3)
        assert [(m.topic, m.payload, m.retain) for m in w.messages()] == [
            (f"{T}/ws01/status", b"ws01 en ligne", True)
        ]
    assert len(messages) == 1
