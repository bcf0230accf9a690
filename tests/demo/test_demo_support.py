"""The orchestration pieces of `python -m app.demo`, each against the real thing it drives."""

from __future__ import annotations

import json
import os
import socket
import stat
import sys
import textwrap
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import yaml
from amqtt.contexts import BrokerConfig
from flask import Flask
from flask.testing import FlaskCliRunner
from paho.mqtt.enums import CallbackAPIVersion

from app import demo
from app.demo_support import broker, children, credentials, database, network
from app.extensions import begin_write, db
from app.models import DeviceToken, Piece, StaffUser, WorkOrder, utcnow


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it runs nothing any more.
    status = Path(f"/proc/{pid}/stat")
    if status.exists():
        try:
            return status.read_text().split(") ", 1)[1][0] != "Z"
        except (OSError, IndexError):
            return False
    return True


def _wait_dead(pid: int, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


# -- ports -----------------------------------------------------------------------------------


def test_the_preferred_port_is_kept_when_nothing_listens_on_it():
    port = network.free_port()
    assert network.port_is_free(port)
    assert network.choose_port(port) == port


def test_a_taken_port_is_replaced_by_a_free_one():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        taken = listener.getsockname()[1]
        assert not network.port_is_free(taken)
        chosen = network.choose_port(taken)
        assert chosen != taken
        assert network.port_is_free(chosen)


def test_a_port_taken_on_every_interface_counts_as_taken_on_loopback():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("0.0.0.0", 0))
        listener.listen()
        assert not network.port_is_free(listener.getsockname()[1])


# -- private files ---------------------------------------------------------------------------


def test_a_private_file_is_written_0600_even_over_a_loose_older_copy(tmp_path):
    path = tmp_path / "secret"
    path.write_text("old")
    path.chmod(0o644)
    credentials.write_private(path, "new")
    assert path.read_text() == "new"
    assert _mode(path) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret"]


def test_the_secret_key_is_generated_once_then_reused(tmp_path):
    first = credentials.ensure_secret_key(tmp_path)
    second = credentials.ensure_secret_key(tmp_path)
    assert first == second
    assert len(first) == 64
    assert _mode(tmp_path / credentials.SECRET_KEY_FILE) == 0o600


def test_demo_credentials_are_saved_0600_and_read_back(tmp_path):
    saved = credentials.DemoCredentials(token="atl_abc", teacher_password="mot-de-passe")
    path = credentials.save_credentials(tmp_path, saved)
    assert path == tmp_path / "demo.json"
    assert _mode(path) == 0o600
    assert credentials.load_credentials(tmp_path) == saved
    assert json.loads(path.read_text())["teacher_email"] == "maitre.demo@example.org"


def test_reading_the_credentials_tightens_a_loosened_mode(tmp_path):
    path = credentials.save_credentials(tmp_path, credentials.DemoCredentials(token="atl_x"))
    path.chmod(0o644)
    assert credentials.load_credentials(tmp_path).token == "atl_x"
    assert _mode(path) == 0o600


def test_missing_or_damaged_credentials_start_over(tmp_path):
    assert credentials.load_credentials(tmp_path) == credentials.DemoCredentials()
    (tmp_path / "demo.json").write_text("{not json")
    assert credentials.load_credentials(tmp_path) == credentials.DemoCredentials()
    (tmp_path / "demo.json").write_text(json.dumps({"version": 1, "token": 42}))
    assert credentials.load_credentials(tmp_path) == credentials.DemoCredentials()


# -- the embedded broker ---------------------------------------------------------------------


def test_the_broker_config_listens_on_loopback_and_is_valid_for_amqtt(tmp_path):
    path = broker.write_amqtt_config(tmp_path, 18830)
    assert path == tmp_path / "amqtt.yaml"
    data = yaml.safe_load(path.read_text())
    assert data["listeners"]["default"]["bind"] == "127.0.0.1:18830"
    auth = data["plugins"]["amqtt.plugins.authentication.AnonymousAuthPlugin"]
    assert auth == {"allow_anonymous": True}
    parsed = BrokerConfig.from_dict(data)
    assert parsed.listeners["default"].bind == "127.0.0.1:18830"


def test_the_written_config_runs_a_broker_that_takes_mqtt_311_publishes(tmp_path):
    port = network.free_port()
    config = broker.write_amqtt_config(tmp_path, port)
    child = children.Child(
        "broker",
        "courtier",
        [sys.executable, *broker.broker_args(config)],
        tmp_path / "broker.log",
    )
    child.start()
    try:
        assert network.wait_for_port(port, 15.0, lambda: not child.has_exited())
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="demo-test", protocol=mqtt.MQTTv311
        )
        client.connect("127.0.0.1", port)
        client.loop_start()
        try:
            info = client.publish("atelier/v1/belfort/ws01/status", b"{}", qos=1)
            info.wait_for_publish(timeout=10)
            assert info.is_published()
        finally:
            client.disconnect()
            client.loop_stop()
    finally:
        outcomes = children.stop_children([child], 5.0)
    assert not outcomes[0].forced
    assert not _alive(child.pid)


def test_broker_urls_are_shown_without_their_password():
    assert (
        broker.mask_url("mqtt://ingest:s3cret@10.0.0.5:1883") == "mqtt://ingest:***@10.0.0.5:1883"
    )
    assert broker.mask_url("mqtt://127.0.0.1:1883") == "mqtt://127.0.0.1:1883"
    assert broker.broker_address("mqtts://h.example") == ("h.example", 8883)
    assert broker.broker_address("mqtt://h:1999") == ("h", 1999)
    with pytest.raises(ValueError):
        broker.broker_address("http://h:1883")


# -- child processes -------------------------------------------------------------------------

STUBBORN = textwrap.dedent(
    """
    import signal, subprocess, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    print(helper.pid, flush=True)
    time.sleep(120)
    """
)


def _child(tmp_path: Path, code: str, name: str = "stubborn") -> children.Child:
    return children.Child(name, name, [sys.executable, "-c", code], tmp_path / f"{name}.log")


def _first_line(path: Path, timeout_s: float = 10.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        lines = [line for line in path.read_text().splitlines() if line and line[0].isdigit()]
        if lines:
            return lines[0]
        time.sleep(0.05)
    raise AssertionError(f"nothing printed in {path}")


def test_a_child_ignoring_sigterm_is_killed_with_everything_it_started(tmp_path):
    child = _child(tmp_path, STUBBORN)
    child.start()
    helper_pid = int(_first_line(child.log_path))
    assert os.getpgid(helper_pid) == child.pid

    began = time.monotonic()
    [outcome] = children.stop_children([child], 1.0)
    assert outcome.forced
    assert time.monotonic() - began < 5
    assert not _alive(child.pid)
    assert _wait_dead(helper_pid)


def test_a_second_stop_request_skips_the_wait(tmp_path):
    child = _child(tmp_path, STUBBORN)
    child.start()
    _first_line(child.log_path)
    began = time.monotonic()
    [outcome] = children.stop_children([child], 30.0, hurry=lambda: True)
    assert outcome.forced
    assert time.monotonic() - began < 5


def test_a_child_that_exits_by_itself_is_seen_and_what_it_left_is_killed(tmp_path):
    code = textwrap.dedent(
        """
        import subprocess, sys
        helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        print(helper.pid, flush=True)
        sys.exit(3)
        """
    )
    child = _child(tmp_path, code, "quitter")
    child.start()
    helper_pid = int(_first_line(child.log_path))
    deadline = time.monotonic() + 10
    while not child.has_exited() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert child.has_exited()
    assert child.finish() == 3
    assert _wait_dead(helper_pid)
    assert any("starting quitter" in line for line in child.log_tail())


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux only")
def test_children_get_sigterm_when_the_orchestrator_is_killed(tmp_path):
    # A stand-in orchestrator starts a child the way the demo does, then dies by SIGKILL.
    code = textwrap.dedent(
        f"""
        import os, signal, sys, time
        from pathlib import Path
        from app.demo_support.children import Child
        child = Child("sleeper", "sleeper", [sys.executable, "-c", "import time; time.sleep(120)"],
                      Path({str(tmp_path / "sleeper.log")!r}))
        child.start()
        print(child.pid, flush=True)
        time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    orchestrator = children.Child(
        "orchestrator",
        "orchestrator",
        [sys.executable, "-c", code],
        tmp_path / "orchestrator.log",
        env={**os.environ, "PYTHONPATH": str(demo.ROOT)},
        cwd=demo.ROOT,
    )
    orchestrator.start()
    sleeper_pid = int(_first_line(orchestrator.log_path))
    assert orchestrator.finish() == -9
    assert _wait_dead(sleeper_pid)


def test_a_command_run_to_its_end_gives_its_output_and_keeps_secrets_out_of_the_log(tmp_path):
    log = tmp_path / "setup.log"
    result = children.run_to_end(
        [
            sys.executable,
            "-c",
            # The secret is built at run time, so that the logged command line does not hold it.
            "import sys; print('bonjour'); print('atl_' + 'z' * 6); "
            "print('on stderr', file=sys.stderr)",
        ],
        log_path=log,
        env=os.environ,
        cwd=tmp_path,
        secret_output=True,
    )
    assert result.returncode == 0
    assert result.stdout.splitlines() == ["bonjour", "atl_zzzzzz"]
    text = log.read_text()
    assert "on stderr" in text
    assert "atl_zzzzzz" not in text
    assert "withheld" in text


# -- what the demo reads from the database ---------------------------------------------------


def test_a_token_is_active_until_revoked(app: Flask, runner: FlaskCliRunner, school: None):
    result = runner.invoke(args=["token", "create", "simulateur-demo", "--read"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    assert database.token_is_active(token)
    assert not database.token_is_active("atl_" + "x" * 43)
    begin_write()
    row = db.session.execute(db.select(DeviceToken)).scalar_one()
    row.revoked_at = utcnow()
    db.session.commit()
    assert not database.token_is_active(token)


def test_the_teacher_account_goes_from_missing_to_provisional_to_chosen(
    app: Flask, runner: FlaskCliRunner
):
    email = credentials.DEMO_TEACHER_EMAIL
    assert database.teacher_state(email) is database.TeacherState.MISSING
    result = runner.invoke(args=["user", "create", email, "--role", "teacher"])
    assert result.exit_code == 0, result.output
    assert database.teacher_state(email) is database.TeacherState.PROVISIONAL
    begin_write()
    user = db.session.execute(db.select(StaffUser)).scalar_one()
    user.must_change_password = False
    db.session.commit()
    assert database.teacher_state(email.upper()) is database.TeacherState.CHOSEN


def test_the_next_piece_number_follows_the_highest_label_of_any_year(app: Flask, school: None):
    assert database.next_piece_number() == 1
    begin_write()
    work_order = db.session.execute(db.select(WorkOrder)).scalars().first()
    assert work_order is not None
    for code in ("P-2026-000007", "P-2025-000041", "P-2026-000012"):
        db.session.add(Piece(code=code, work_order_id=work_order.id, created_at=utcnow()))
    db.session.commit()
    assert database.next_piece_number() == 42


# -- command line ----------------------------------------------------------------------------


def test_the_web_port_comes_from_atelier_demo_port_unless_given(monkeypatch):
    monkeypatch.setenv("ATELIER_DEMO_PORT", "8765")
    assert demo._parse([]).port == 8765
    assert demo._parse(["--port", "9000"]).port == 9000
    monkeypatch.delenv("ATELIER_DEMO_PORT")
    settings = demo._parse([])
    assert (settings.port, settings.speed, settings.students) == (8000, 150.0, 6)


def test_a_bad_atelier_demo_port_is_refused_in_french(monkeypatch, capsys):
    monkeypatch.setenv("ATELIER_DEMO_PORT", "quatre-vingts")
    with pytest.raises(SystemExit) as exit_info:
        demo._parse([])
    assert exit_info.value.code == 2
    assert "numéro de port attendu" in capsys.readouterr().err
