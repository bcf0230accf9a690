"""What is left of the demo runner besides honcho: broker files, credentials, ports, options."""

from __future__ import annotations

import datetime
import json
import os
import socket
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from demo import broker, files, office, run
from tests.support.mosquitto import MosquittoBroker, MqttRecorder
from tests.support.services import free_port, require_binary

SHIPPED = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "atelier.conf"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _directives(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


# -- Mosquitto -------------------------------------------------------------------------------


def test_the_shipped_mosquitto_config_changes_only_its_places(tmp_path):
    shipped = SHIPPED.read_text(encoding="utf-8")
    rendered = broker.mosquitto_config(
        shipped,
        port=18841,
        persistence_dir=tmp_path / "data",
        password_file=tmp_path / "atelier.passwd",
        acl_file=tmp_path / "atelier.acl",
    )
    moved = {"listener", "persistence_location", "password_file", "acl_file"}
    kept = [d for d in _directives(shipped) if d.split()[0] not in moved]
    assert [d for d in _directives(rendered) if d.split()[0] not in moved | {"log_dest"}] == kept
    assert "listener 18841 127.0.0.1" in rendered.splitlines()
    assert f"persistence_location {tmp_path / 'data'}/" in rendered.splitlines()
    assert f"password_file {tmp_path / 'atelier.passwd'}" in rendered.splitlines()
    assert f"acl_file {tmp_path / 'atelier.acl'}" in rendered.splitlines()
    assert "allow_anonymous false" in rendered.splitlines()
    assert "user root" not in rendered
    as_root = broker.mosquitto_config(
        shipped,
        port=1,
        persistence_dir=tmp_path,
        password_file=tmp_path,
        acl_file=tmp_path,
        as_root=True,
    )
    assert as_root.splitlines()[-1] == "user root"


def test_the_users_of_an_acl_are_read_from_its_user_lines():
    acl = "# c\nuser ws01\ntopic write a/b\n\nuser atelier-ingest\ntopic read a/+\n"
    assert broker.acl_users(acl) == ["ws01", "atelier-ingest"]


def test_the_rendered_config_runs_mosquitto_with_the_password_file_it_makes(tmp_path):
    tool = require_binary("mosquitto_passwd", "apt-get install mosquitto")
    passwords = {"atelier-ingest": "pw-ingest", "ws05": "pw-ws05"}
    password_file = tmp_path / "atelier.passwd"
    broker.write_password_file(tool, password_file, passwords)
    assert _mode(password_file) == 0o600
    assert [line.split(":")[0] for line in password_file.read_text().splitlines()] == list(
        passwords
    )
    acl = "user ws05\ntopic write t/ws05\nuser atelier-ingest\ntopic read t/#\n"
    with (
        MosquittoBroker(
            SHIPPED.read_text(encoding="utf-8"),
            workdir=tmp_path / "broker",
            users=passwords,
            acl_text=acl,
        ) as mosquitto,
        MqttRecorder(mosquitto.url, ["t/#"], username="atelier-ingest", password="pw-ingest") as w,
    ):
        publish = [
            require_binary("mosquitto_pub", "apt-get install mosquitto-clients"),
            *("-h", "127.0.0.1", "-p", str(mosquitto.port), "-q", "1", "-t", "t/ws05"),
        ]
        subprocess.run([*publish, "-u", "ws05", "-P", "pw-ws05", "-m", "ok"], check=True)
        refused = subprocess.run(
            [*publish, "-u", "ws05", "-P", "wrong", "-m", "no"], capture_output=True, check=False
        )
        assert refused.returncode != 0
        assert [m.payload for m in w.wait_count(1)] == [b"ok"]


def test_mosquitto_is_found_on_path_or_in_sbin(tmp_path, monkeypatch):
    program = tmp_path / "bin" / "mosquitto"
    program.parent.mkdir()
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    assert broker.find_program("mosquitto", path=str(program.parent)) == str(program)
    monkeypatch.setattr(broker, "SBIN_DIRS", ())
    assert broker.find_program("mosquitto", path=str(tmp_path)) is None


def test_the_amqtt_config_listens_on_the_loopback_only(tmp_path):
    path = broker.write_amqtt_config(tmp_path / "amqtt.yaml", 18830)
    data = yaml.safe_load(path.read_text())
    assert data["listeners"]["default"] == {"type": "tcp", "bind": "127.0.0.1:18830"}
    assert _mode(path) == 0o600


# -- private files ---------------------------------------------------------------------------


def test_a_private_file_is_written_0600_even_over_a_loose_older_copy(tmp_path):
    path = tmp_path / "secret"
    path.write_text("old")
    path.chmod(0o644)
    files.write_private(path, "new")
    assert (path.read_text(), _mode(path)) == ("new", 0o600)
    assert [p.name for p in tmp_path.iterdir()] == ["secret"]


def test_the_secret_key_is_generated_once_then_reused(tmp_path):
    first = files.ensure_secret_key(tmp_path)
    assert files.ensure_secret_key(tmp_path) == first
    assert len(first) == 64
    assert _mode(tmp_path / "secret_key") == 0o600


def test_credentials_and_mqtt_passwords_are_kept_0600_and_read_back(tmp_path):
    saved = files.Credentials(token="atl_a", try_token="atl_b", teacher_password="mdp")
    ws05 = saved.mqtt_password("ws05")
    assert saved.mqtt_password("ws05") == ws05
    assert saved.mqtt_password("atelier-ingest") != ws05
    assert all(c not in ws05 for c in ",=:@/_")
    path = files.save_credentials(tmp_path, saved)
    assert _mode(path) == 0o600
    assert files.load_credentials(tmp_path) == saved
    path.chmod(0o644)
    assert files.load_credentials(tmp_path).mqtt_passwords == saved.mqtt_passwords
    assert _mode(path) == 0o600


def test_missing_damaged_or_older_credentials_start_over(tmp_path):
    assert files.load_credentials(tmp_path) == files.Credentials()
    for text in ("{not json", json.dumps({"version": 1, "token": "atl_old"})):
        (tmp_path / "demo.json").write_text(text)
        assert files.load_credentials(tmp_path) == files.Credentials()


# -- ports and options -----------------------------------------------------------------------


def test_a_taken_port_gives_way_to_the_next_free_one():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        taken = listener.getsockname()[1]
        chosen = run.choose_port(taken)
        assert chosen != taken
        assert run.port_is_free(chosen)
    free = free_port()
    assert run.choose_port(free) == free


def test_ports_and_broker_come_from_atelier_demo_variables_unless_given(monkeypatch):
    monkeypatch.setenv("ATELIER_DEMO_PORT", "8765")
    monkeypatch.setenv("ATELIER_DEMO_MQTT_PORT", "1999")
    monkeypatch.setenv("ATELIER_DEMO_BROKER", "amqtt")
    settings = run.parse([])
    assert (settings.port, settings.mqtt_port, settings.broker) == (8765, 1999, "amqtt")
    assert run.parse(["--port", "9000", "--broker", "auto"]).port == 9000
    for name in ("ATELIER_DEMO_PORT", "ATELIER_DEMO_MQTT_PORT", "ATELIER_DEMO_BROKER"):
        monkeypatch.delenv(name)
    settings = run.parse([])
    assert (settings.port, settings.mqtt_port, settings.broker) == (8000, 1883, "auto")
    assert (settings.speed, settings.students) == (150.0, 6)


def test_a_bad_port_variable_is_refused_in_french(monkeypatch, capsys):
    monkeypatch.setenv("ATELIER_DEMO_PORT", "quatre-vingts")
    with pytest.raises(SystemExit) as exit_info:
        run.parse([])
    assert exit_info.value.code == 2
    assert "numéro de port attendu" in capsys.readouterr().err


def test_the_reserved_codes_exist_in_the_demo_school():
    school = yaml.safe_load(run.DEMO_SCHOOL.read_text(encoding="utf-8"))
    names = {s["id"] for s in school["students"]} | {
        b for s in school["students"] for b in s.get("badges", [])
    }
    names |= {s["code"] for s in school["stations"]} | {
        s["mqtt_device"] for s in school["stations"] if s.get("mqtt_device")
    }
    names |= {w["number"] for w in school["work_orders"]}
    assert {r for r in run.RESERVED if not r.startswith("P-")} <= names
    try_order = next(w for w in school["work_orders"] if w["number"] == "OF-2026-0090")
    assert any(op["type"] == "SOUD-MAG" and op.get("wps") for op in try_order["operations"])
    assert os.path.basename(run.SHIPPED_MOSQUITTO) == "atelier.conf"


def test_the_demo_gives_the_office_templates_and_a_student_who_left():
    school = yaml.safe_load(run.DEMO_SCHOOL.read_text(encoding="utf-8"))
    templates = office.template_inputs(school)
    assert [t.code for t in templates] == [code for code, _, _ in office.TEMPLATES]
    types = {t["id"] for t in school["operation_types"]}
    assert all(step.type in types for t in templates for step in t.steps)
    left = next(s for s in school["students"] if s["id"] == run.LEFT_STUDENT)
    assert left["left_on"] < datetime.date.today() and not left.get("badges")
    assert run.LEFT_STUDENT in run.RESERVED
