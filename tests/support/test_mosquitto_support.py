"""The test broker helper really persists, authenticates and reports its own errors."""

from __future__ import annotations

import gc
import os
import stat
import tempfile
import threading

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from tests.support.mosquitto import MosquittoBroker, MqttRecorder
from tests.support.services import wait_for_port

SHIPPED_LIKE_CONFIG = """\
# a production-style configuration, as deploy/ would ship it
listener 1883 0.0.0.0
allow_anonymous false
password_file /etc/mosquitto/passwd
acl_file /etc/mosquitto/acl
persistence true
persistence_location /var/lib/mosquitto/
autosave_interval 1
log_dest file /var/log/mosquitto/mosquitto.log
pid_file /run/mosquitto/mosquitto.pid
max_queued_messages 0
"""

ACL = """\
user ws01
topic write atelier/v1/+/ws01/#
topic read atelier/v1/+/ws01/cfg

user ingest
topic read atelier/v1/#
"""


def publish_once(
    broker: MosquittoBroker,
    topic: str,
    payload: bytes,
    *,
    retain: bool = False,
    username: str | None = None,
    password: str | None = None,
) -> ReasonCode:
    """Connect; if accepted, publish one QoS 1 message and wait for its PUBACK.

    Return the CONNACK reason code.
    """
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="")
    if username is not None:
        client.username_pw_set(username, password)
    codes: list[ReasonCode] = []
    answered = threading.Event()

    def on_connect(c: mqtt.Client, u: object, f: object, rc: ReasonCode, p: object) -> None:
        codes.append(rc)
        answered.set()

    client.on_connect = on_connect
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        assert answered.wait(5), "no CONNACK"
        if not codes[0].is_failure:
            client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(timeout=5)
        return codes[0]
    finally:
        client.disconnect()
        client.loop_stop()


def test_default_broker_keeps_retained_messages_across_a_sigterm_restart():
    with MosquittoBroker() as broker:
        assert broker.url == f"mqtt://127.0.0.1:{broker.port}"
        publish_once(broker, "atelier/v1/t/ws01/status", b'{"state":"online"}', retain=True)
        broker.restart()
        with MqttRecorder(broker.url, ["atelier/v1/#"]) as recorder:
            (message,) = recorder.wait_count(1)
        assert message.retain
        assert message.json() == {"state": "online"}
        broker.assert_log_clean()


def test_persistent_session_queue_survives_a_broker_restart():
    with MosquittoBroker() as broker:
        recorder = MqttRecorder(broker.url, ["q/#"], client_id="sub-1", persistent=True)
        recorder.connect()
        recorder.disconnect()
        for index in range(5):
            publish_once(broker, "q/x", str(index).encode())
        broker.restart()
        with MqttRecorder(broker.url, ["q/#"], client_id="sub-1", persistent=True) as again:
            received = again.wait_count(5)
            assert again.session_present is True
        assert [m.payload for m in received] == [b"0", b"1", b"2", b"3", b"4"]
        broker.assert_log_clean()


def test_shipped_config_is_rewritten_to_the_test_port_and_files():
    users = {"ws01": "pw-ws01", "ingest": "pw-ingest"}
    with MosquittoBroker(SHIPPED_LIKE_CONFIG, users=users, acl_text=ACL) as broker:
        text = broker.config_text()
        assert f"listener {broker.port} 127.0.0.1" in text
        assert "/var/" not in text
        assert "/etc/" not in text
        assert "/run/" not in text
        assert f"persistence_location {broker.persistence_dir}/" in text
        assert f"password_file {broker.password_file}" in text
        assert f"acl_file {broker.acl_file}" in text

        refused = publish_once(broker, "atelier/v1/t/ws01/evt/arc", b"{}")
        assert refused.is_failure

        with MqttRecorder(
            broker.url, ["atelier/v1/#"], username="ingest", password="pw-ingest"
        ) as ingest:
            ok = publish_once(
                broker, "atelier/v1/t/ws01/evt/arc", b"mine", username="ws01", password="pw-ws01"
            )
            assert not ok.is_failure
            # The ACL lets ws01 write only under its own device.
            publish_once(
                broker, "atelier/v1/t/ws02/evt/arc", b"theirs", username="ws01", password="pw-ws01"
            )
            publish_once(
                broker, "atelier/v1/t/ws01/evt/arc", b"last", username="ws01", password="pw-ws01"
            )
            received = ingest.wait_count(2)
        assert [m.payload for m in received] == [b"mine", b"last"]
        broker.assert_log_clean()


def test_placeholders_in_a_template_are_substituted():
    template = "listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
    with MosquittoBroker(template) as broker:
        assert "${port}" not in broker.config_text()
        publish_once(broker, "a/b", b"x")


def test_a_config_naming_a_password_file_needs_users():
    with pytest.raises(ValueError, match="password_file"):
        MosquittoBroker(SHIPPED_LIKE_CONFIG)


def test_kill_then_start_reuses_the_same_port():
    with MosquittoBroker() as broker:
        port = broker.port
        broker.kill()
        assert not broker.running
        broker.start()
        assert broker.port == port
        publish_once(broker, "a/b", b"x")


def test_assert_log_clean_catches_an_unwritable_persistence_directory():
    broker = MosquittoBroker()
    try:
        # Reproduce mqtt-measured.md point 4: the directory belongs to someone else.
        if os.geteuid() == 0:
            if "user root" in broker.config_text():
                pytest.skip("the broker runs as root here, so every directory is writable")
            os.chown(broker.persistence_dir, 0, 0)
        broker.persistence_dir.chmod(stat.S_IRUSR | stat.S_IXUSR)
        broker.start()
        publish_once(broker, "a/b", b"x", retain=True)
        broker.stop()
        with pytest.raises(AssertionError, match="Error saving"):
            broker.assert_log_clean()
    finally:
        broker.persistence_dir.chmod(stat.S_IRWXU)
        broker.close()


def test_a_refused_configuration_leaves_no_directory_behind(monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(ValueError, match="acl_file"):
        MosquittoBroker("listener 1883\nacl_file /etc/mosquitto/acl\n")
    assert list(tmp_path.iterdir()) == []


def test_a_forgotten_broker_is_stopped_and_removed_when_collected():
    broker = MosquittoBroker().start()
    port, workdir = broker.port, broker.workdir
    del broker
    gc.collect()
    assert not wait_for_port(port, timeout_s=1.0)
    assert not workdir.exists()
