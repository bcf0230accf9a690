"""`flask --app app mqtt acl`: each station pinned to its own site and topics, in Mosquitto."""

from __future__ import annotations

import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from flask.testing import FlaskCliRunner
from paho.mqtt.enums import CallbackAPIVersion

from tests.factories import DEMO_SCHOOL, load_school
from tests.support.mosquitto import MosquittoBroker, MqttRecorder

SHIPPED_CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "atelier.conf"
USERS = {"atelier-ingest": "ingest-pw", "ws01": "ws01-pw", "ws02": "ws02-pw", "spy": "spy-pw"}
# A test-only user who reads everything, to see what a station managed to publish.
SPY_ACL = "\nuser spy\ntopic read #\n"


def _acl(runner: FlaskCliRunner, *args: str) -> str:
    result = runner.invoke(args=["mqtt", "acl", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_acl_has_one_block_per_station_on_its_own_site_then_the_worker(
    runner: FlaskCliRunner, school: None
) -> None:
    text = _acl(runner)
    blocks = [b for b in text.split("\n\n") if "\nuser " in f"\n{b}"]
    users = [line for line in text.splitlines() if line.startswith("user ")]
    assert users == ["user ws01", "user ws02", "user atelier-ingest"]
    assert "\n".join(blocks[0].splitlines()[-5:]) == (
        "user ws01\n"
        "topic write atelier/v1/belfort/ws01/status\n"
        "topic write atelier/v1/belfort/ws01/evt/#\n"
        "topic write atelier/v1/belfort/ws01/data/#\n"
        "topic read atelier/v1/belfort/ws01/cfg"
    )
    assert text.endswith(
        "user atelier-ingest\n"
        "topic read atelier/v1/belfort/+/status\n"
        "topic read atelier/v1/belfort/+/evt/#\n"
        "topic read atelier/v1/belfort/+/data/#\n"
        "topic write atelier/v1/belfort/+/cfg\n"
    )
    assert "pattern" not in text
    assert _acl(runner, "--site", "belfort") == text


def test_the_acl_goes_to_a_file_with_o_and_refuses_another_site(
    runner: FlaskCliRunner, school: None, tmp_path: Path
) -> None:
    target = tmp_path / "atelier.acl"
    result = runner.invoke(args=["mqtt", "acl", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_text() == _acl(runner)
    refused = runner.invoke(args=["mqtt", "acl", "--site", "mulhouse"])
    assert refused.exit_code != 0
    assert "Site inconnu : mulhouse" in refused.output


def test_an_empty_database_gets_a_clear_message(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["mqtt", "acl"])
    assert result.exit_code != 0
    assert "importez d'abord" in result.output


def _publish(port: int, user: str, topic: str) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{user}-acl-test")
    client.username_pw_set(user, USERS[user])
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        # Mosquitto acknowledges a denied QoS 1 publish too, and drops it.
        client.publish(topic, b"{}", qos=1).wait_for_publish(timeout=5)
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.mark.slow
def test_in_mosquitto_a_station_writes_only_its_own_topics_on_its_own_site(
    runner: FlaskCliRunner, school: None, tmp_path: Path
) -> None:
    with (
        MosquittoBroker(
            SHIPPED_CONFIG.read_text(encoding="utf-8"),
            workdir=tmp_path / "broker",
            users=USERS,
            acl_text=_acl(runner) + SPY_ACL,
        ) as broker,
        MqttRecorder(broker.url, ["#"], username="spy", password=USERS["spy"]) as spy,
    ):
        _publish(broker.port, "ws01", "atelier/v1/belfort/ws02/status")
        _publish(broker.port, "ws01", "atelier/v1/mulhouse/ws01/status")
        _publish(broker.port, "ws01", "atelier/v1/belfort/ws01/status")
        spy.wait_count(1, "/status")
        time.sleep(0.3)
        assert [m.topic for m in spy.messages()] == ["atelier/v1/belfort/ws01/status"]


def test_the_shipped_acl_is_the_one_the_command_writes_for_the_demo_school(
    runner: FlaskCliRunner, app: object
) -> None:
    """deploy/mosquitto/atelier.acl is an example: the demo school's, written by the command."""
    load_school(DEMO_SCHOOL)
    shipped = SHIPPED_CONFIG.with_name("atelier.acl").read_text(encoding="utf-8")
    assert _acl(runner) == shipped
    assert "+/%u" not in shipped and "pattern" not in shipped
