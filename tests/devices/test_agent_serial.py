"""The reader agent with real pyserial on a pty and a real HTTP server speaking the contract.

These tests use `ScanServer` (tests/devices/conftest.py); test_agent_e2e.py runs the same
kind of scenarios against the Atelier server itself.
"""

from __future__ import annotations

import logging
import re
import signal
import sqlite3
import threading
import time

import pytest

from devices.agent import (
    Agent,
    Backoff,
    ScanClient,
    SerialReader,
    Verdict,
    classify_response,
    default_spool_path,
    scan_payload,
)
from devices.framing import rdm6300_frame
from devices.spool import Scan
from tests.devices.conftest import wait_until

BADGE = "0A00F1C2D3"
OTHER_BADGE = "0B003E91A4"


@pytest.fixture
def make_agent(tmp_path, serial_pty, scan_server):
    """Start in-process agents reading the pty and sending to the scan server."""
    agents: list[Agent] = []

    def make(protocol="lines", station=None, token=None, timeout_s=(2.0, 5.0)):
        agent = Agent(
            port_url=str(serial_pty.path),
            spool_path=tmp_path / "spool.db",
            client=ScanClient(scan_server.url, token or scan_server.token, timeout_s=timeout_s),
            protocol=protocol,
            name="kiosk-t",
            station=station,
            retry_max_delay_s=0.3,
        )
        agents.append(agent)
        agent.start()
        assert agent.reader.connected.wait(5), "the agent did not open the pty"
        return agent

    yield make
    for agent in agents:
        agent.shutdown()


def spool_rows(path) -> int:
    connection = sqlite3.connect(path)
    try:
        return int(connection.execute("SELECT count(*) FROM scan").fetchone()[0])
    finally:
        connection.close()


# --- pure pieces -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "verdict"),
    [
        (201, {"status": "accepted", "message": "Bonjour"}, Verdict.ACCEPTED),
        (200, {"duplicate": True, "status": "accepted"}, Verdict.DUPLICATE),
        (200, None, Verdict.ACCEPTED),
        (422, {"status": "rejected", "error": {"code": "x", "message": "m"}}, Verdict.REJECTED),
        (409, {}, Verdict.REJECTED),
        (400, None, Verdict.REJECTED),
        (401, {}, Verdict.UNAUTHORIZED),
        (403, {}, Verdict.UNAUTHORIZED),
        (404, {}, Verdict.RETRY),
        (429, {}, Verdict.RETRY),
        (500, None, Verdict.RETRY),
        (503, "down", Verdict.RETRY),
    ],
)
def test_classify_response_follows_the_contract(status, body, verdict):
    assert classify_response(status, body).verdict is verdict


def test_classify_response_keeps_the_french_message_of_a_rejection():
    body = {"status": "rejected", "error": {"code": "keyboard_layout", "message": "Clavier"}}
    assert classify_response(422, body).detail == "keyboard_layout : Clavier"


def test_scan_payload_omits_the_station_when_the_token_is_bound():
    scan = Scan("k-1", "B-0001", "barcode", "2026-11-26T09:20:11.400Z")
    assert scan_payload(scan) == {
        "event_id": "k-1",
        "code": "B-0001",
        "source": "barcode",
        "scanned_at": "2026-11-26T09:20:11.400Z",
    }
    with_station = Scan("k-1", "B-0001", "barcode", "2026-11-26T09:20:11.400Z", "ST-KIOSK-1")
    assert scan_payload(with_station)["station"] == "ST-KIOSK-1"


def test_backoff_doubles_up_to_the_cap_and_restarts_after_a_success():
    class Top:
        def uniform(self, low, high):
            return high

    backoff = Backoff(0.5, 30.0, rng=Top())  # type: ignore[arg-type]
    delays = [backoff.next_delay_s() for _ in range(9)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    backoff.reset()
    assert backoff.next_delay_s() == 0.5


def test_default_spool_path_is_one_file_per_port(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert default_spool_path("/dev/ttyUSB0") == tmp_path / "atelier-agent" / "dev-ttyUSB0.db"
    assert default_spool_path("hwgrep://0403:6001") != default_spool_path("/dev/ttyUSB0")


# --- in-process agent: pty -> spool -> HTTP ----------------------------------------------


def test_agent_delivers_barcode_lines_in_order_with_the_contract_body(
    make_agent, serial_pty, scan_server
):
    make_agent(station="ST-KIOSK-1")
    serial_pty.write(b"]C0OF-2026-0042\r\nB-0001\r\n")
    serial_pty.write(b"P-2026-000123\r")
    assert wait_until(lambda: len(scan_server.applied) == 3)
    assert scan_server.applied_codes() == ["OF-2026-0042", "B-0001", "P-2026-000123"]
    body = scan_server.requests[0]
    assert set(body) == {"event_id", "station", "code", "source", "scanned_at"}
    assert body["source"] == "barcode"
    assert body["station"] == "ST-KIOSK-1"
    assert re.fullmatch(r"kiosk-t-[0-9a-f]{32}", body["event_id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body["scanned_at"])
    assert set(scan_server.authorizations) == {f"Bearer {scan_server.token}"}


def test_agent_sends_one_scan_for_a_held_badge_and_never_sends_broken_frames(
    make_agent, serial_pty, scan_server
):
    agent = make_agent(protocol="rdm6300")
    held = rdm6300_frame(BADGE) * 15
    bad_checksum = b"\x02" + BADGE.encode() + b"00\x03"
    broken = b"\x020A00F1C2\x03"
    serial_pty.write(held + bad_checksum + b"noise\r\n" + broken + rdm6300_frame(OTHER_BADGE))
    assert wait_until(lambda: len(scan_server.applied) == 2)
    time.sleep(0.3)
    assert scan_server.applied_codes() == [BADGE, OTHER_BADGE]
    assert {body["source"] for body in scan_server.requests} == {"rfid"}
    assert "station" not in scan_server.requests[0]
    stats = agent.stats()
    assert stats["suppressed_repeats"] == 14
    assert stats["dropped_bad_checksum"] == 1
    assert stats["dropped_broken"] == 1
    assert stats["dropped_noise_bytes"] == 7
    assert stats["delivered"] == 2


def test_agent_never_sends_over_long_or_non_ascii_lines(make_agent, serial_pty, scan_server):
    agent = make_agent()
    serial_pty.write(b"X" * 65 + b"\r\n" + b"P-2026-\xe9\r\n" + b"Y" * 5000 + b"\nB-0002\n")
    assert wait_until(lambda: len(scan_server.applied) == 1)
    time.sleep(0.3)
    assert scan_server.applied_codes() == ["B-0002"]
    assert agent.stats()["dropped_too_long"] == 2
    assert agent.stats()["dropped_non_ascii"] == 1


def test_agent_retries_server_errors_without_letting_a_later_scan_overtake(
    make_agent, serial_pty, scan_server
):
    scan_server.script = [503, 500, 502]
    agent = make_agent()
    serial_pty.write(b"B-0001\nB-0002\nB-0003\n")
    assert wait_until(lambda: len(scan_server.applied) == 3)
    sent_ids = [body["event_id"] for body in scan_server.requests]
    assert sent_ids[:4] == [sent_ids[0]] * 4
    assert scan_server.applied_codes() == ["B-0001", "B-0002", "B-0003"]
    assert agent.counters.retries == 3
    assert wait_until(lambda: agent.spool.count() == 0)


def test_agent_removes_scans_the_server_refused_for_good(make_agent, serial_pty, scan_server):
    scan_server.reject = {"XX-UNKNOWN"}
    scan_server.script = [201, 400, 409]  # 201 from the script is not recorded: fine here
    agent = make_agent()
    serial_pty.write(b"A-FIN\nMALFORMED\nCONFLICT\nXX-UNKNOWN\nB-0001\n")
    assert wait_until(lambda: agent.counters.delivered == 2 and agent.counters.rejected == 3)
    assert agent.spool.count() == 0
    assert [body["code"] for body in scan_server.requests] == [
        "A-FIN",
        "MALFORMED",
        "CONFLICT",
        "XX-UNKNOWN",
        "B-0001",
    ]


def test_agent_keeps_scans_while_its_token_is_refused(make_agent, serial_pty, scan_server):
    agent = make_agent(token="wrong-token")
    serial_pty.write(b"B-0001\nB-0002\n")
    assert wait_until(lambda: agent.counters.unauthorized >= 3)
    assert agent.spool.count() == 2
    assert scan_server.applied == []
    head = agent.spool.head()
    assert head is not None
    assert head.attempts >= 3
    assert "401" in (head.last_error or "") or "bad_token" in (head.last_error or "")
    scan_server.token = "wrong-token"  # the IT person fixes the token on the server side
    assert wait_until(lambda: len(scan_server.applied) == 2)
    assert scan_server.applied_codes() == ["B-0001", "B-0002"]


def test_agent_treats_a_lost_acknowledgement_as_delivered_once(make_agent, serial_pty, scan_server):
    scan_server.delays_s = [1.0]  # the scan is recorded, the answer comes too late
    agent = make_agent(timeout_s=(2.0, 0.3))
    serial_pty.write(b"B-0001\nB-0002\n")
    assert wait_until(lambda: agent.counters.delivered == 2)
    assert scan_server.applied_codes() == ["B-0001", "B-0002"]
    assert agent.counters.duplicates == 1
    assert agent.counters.retries == 1
    assert agent.spool.count() == 0


def test_agent_spools_while_the_server_is_down_and_delivers_in_order_once_back(
    make_agent, serial_pty, scan_server
):
    scan_server.stop()
    agent = make_agent()
    codes = [f"P-2026-{index:06d}" for index in range(20)]
    for code in codes:
        serial_pty.write(code.encode() + b"\r\n")
    assert wait_until(lambda: agent.counters.captured == 20)
    assert wait_until(lambda: agent.counters.retries >= 2)
    assert agent.spool.count() == 20
    scan_server.start()
    assert wait_until(lambda: agent.spool.count() == 0)
    assert scan_server.applied_codes() == codes
    assert agent.counters.delivered == 20


def test_agent_reconnects_after_the_reader_is_unplugged(
    make_agent, serial_pty, scan_server, caplog
):
    caplog.set_level(logging.INFO, logger="devices.agent")
    agent = make_agent()
    serial_pty.write(b"B-0001\n")
    assert wait_until(lambda: len(scan_server.applied) == 1)
    serial_pty.write(b"HALF-A-LI")
    serial_pty.unplug()
    assert wait_until(lambda: not agent.reader.connected.is_set())
    time.sleep(1.5)  # a few reconnection attempts against a missing path
    serial_pty.plug()
    assert agent.reader.connected.wait(10)
    serial_pty.write(b"NE\nB-0002\n")
    assert wait_until(lambda: len(scan_server.applied) == 3)
    # The half line from before the unplug is not glued to the new input.
    assert scan_server.applied_codes() == ["B-0001", "NE", "B-0002"]
    assert agent.reader.connections == 2
    # One line for the outage and one for the return, not one per reconnection attempt.
    outage = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert sum("déconnecté" in line or "indisponible" in line for line in outage) == 1
    assert sum("reconnecté" in line for line in outage) == 1


def test_agent_finishes_the_request_in_flight_on_shutdown(make_agent, serial_pty, scan_server):
    scan_server.delays_s = [1.0]
    agent = make_agent()
    serial_pty.write(b"B-0001\n")
    assert wait_until(lambda: len(scan_server.requests) == 1)
    agent.shutdown()
    assert agent.counters.delivered == 1
    assert spool_rows(agent.spool.path) == 0


# --- the command, as a separate process --------------------------------------------------


def test_agent_command_requires_a_token(agent_process, serial_pty, scan_server, tmp_path):
    agent = agent_process(["--port", str(serial_pty.path), "--server", scan_server.url])
    assert agent.wait() == 2
    assert "jeton manquant" in agent.output()
    assert "ATELIER_TOKEN" in agent.output()


def test_agent_command_refuses_a_server_url_without_scheme(agent_process, serial_pty):
    agent = agent_process(
        ["--port", str(serial_pty.path), "--server", "atelier.local", "--token", "t"]
    )
    assert agent.wait() == 2
    assert "http://" in agent.output()


def test_agent_command_takes_the_token_from_the_environment_and_stops_on_sigterm(
    agent_process, serial_pty, scan_server, tmp_path
):
    spool = tmp_path / "agent.db"
    agent = agent_process(
        [
            "--port",
            str(serial_pty.path),
            "--server",
            scan_server.url,
            "--spool",
            str(spool),
            "--name",
            "borne-1",
            "--protocol",
            "rdm6300",
        ],
        env={"ATELIER_TOKEN": scan_server.token},
    )
    agent.wait_for_line("ouvert")
    serial_pty.write(rdm6300_frame(BADGE) * 3)
    assert wait_until(lambda: len(scan_server.applied) == 1)
    assert scan_server.requests[0]["event_id"].startswith("borne-1-")
    agent.signal(signal.SIGTERM)
    assert agent.wait() == 0
    output = agent.output()
    assert "agent arrêté" in output
    assert "delivered=1" in output
    assert "suppressed_repeats=2" in output
    assert spool_rows(spool) == 0


def test_agent_command_refuses_a_spool_in_use(agent_process, serial_pty, scan_server, tmp_path):
    args = ["--port", str(serial_pty.path), "--server", scan_server.url, "--token", "t"]
    args += ["--spool", str(tmp_path / "agent.db")]
    first = agent_process(args)
    first.wait_for_line("démarré")
    second = agent_process(args)
    assert second.wait() == 1
    assert "déjà utilisé par un autre agent" in second.output()


def _start_agent(agent_process, serial_pty, scan_server, spool):
    agent = agent_process(
        [
            "--port",
            str(serial_pty.path),
            "--server",
            scan_server.url,
            "--spool",
            str(spool),
            "--retry-max-s",
            "0.5",
            "-v",
        ],
        env={"ATELIER_TOKEN": scan_server.token},
    )
    agent.wait_for_line("ouvert")
    return agent


def test_agent_killed_with_a_full_spool_delivers_every_scan_once_after_restart(
    agent_process, serial_pty, scan_server, tmp_path
):
    spool = tmp_path / "agent.db"
    scan_server.stop()
    agent = _start_agent(agent_process, serial_pty, scan_server, spool)
    codes = [f"B-{index:04d}" for index in range(25)]
    serial_pty.write(b"".join(code.encode() + b"\n" for code in codes))
    assert wait_until(lambda: spool_rows(spool) == 25)
    agent.signal(signal.SIGKILL)
    agent.wait()
    scan_server.start()
    _start_agent(agent_process, serial_pty, scan_server, spool)
    assert wait_until(lambda: spool_rows(spool) == 0, timeout_s=20)
    assert scan_server.applied_codes() == codes


def test_agent_killed_while_sending_delivers_every_scan_exactly_once(
    agent_process, serial_pty, scan_server, tmp_path
):
    spool = tmp_path / "agent.db"
    scan_server.delays_s = [0.05] * 200
    agent = _start_agent(agent_process, serial_pty, scan_server, spool)
    codes = [f"B-{index:04d}" for index in range(40)]
    serial_pty.write(b"".join(code.encode() + b"\n" for code in codes))
    assert wait_until(lambda: len(scan_server.applied) >= 8)
    assert wait_until(lambda: len(scan_server.applied) + spool_rows(spool) >= 40)
    agent.signal(signal.SIGKILL)  # most likely with a request in flight
    agent.wait()
    _start_agent(agent_process, serial_pty, scan_server, spool)
    assert wait_until(lambda: spool_rows(spool) == 0, timeout_s=30)
    assert scan_server.applied_codes() == codes
    assert len(scan_server.applied) == len(set(scan_server.applied)) == 40


def test_check_mode_shows_bytes_codes_and_drops_and_sends_nothing(agent_process, serial_pty):
    check = agent_process(["--port", str(serial_pty.path), "--protocol", "rdm6300", "--check"])
    check.wait_for_line("Lecteur ouvert")
    serial_pty.write(rdm6300_frame(BADGE))
    check.wait_for_line(f"code lu : {BADGE}")
    serial_pty.write(rdm6300_frame(BADGE))
    check.wait_for_line("répétition du même badge, ignorée")
    serial_pty.write(b"\x02" + BADGE.encode() + b"00\x03")
    check.wait_for_line("trames à somme de contrôle fausse 1")
    check.signal(signal.SIGINT)
    assert check.wait() == 0
    output = check.output()
    # The port delivers a frame in whatever chunks it likes: glue the chunks back.
    chunks = re.findall(r"reçu \d+ octet\(s\) : ([0-9a-f ]+)  \|(.*)\|$", output, re.M)
    received = bytes.fromhex(" ".join(hex_part for hex_part, _ in chunks))
    assert received == rdm6300_frame(BADGE) * 2 + b"\x02" + BADGE.encode() + b"00\x03"
    shown = "".join(printable for _, printable in chunks)
    assert shown == ".0A00F1C2D3EA." * 2 + ".0A00F1C2D300."
    assert "Fin de l'essai" in output
    assert "http" not in output.lower()


def test_reader_survives_a_failing_consumer_and_keeps_reading(serial_pty):
    received: list[bytes] = []

    def consume(data: bytes) -> None:
        if not received:
            received.append(b"boom")
            raise RuntimeError("a bug downstream")
        received.append(data)

    reader = SerialReader(str(serial_pty.path), baudrate=9600, on_data=consume)
    stop = threading.Event()
    thread = threading.Thread(target=reader.run, args=(stop,))
    thread.start()
    try:
        assert reader.connected.wait(5)
        serial_pty.write(b"x")
        assert wait_until(lambda: reader.connections == 2, timeout_s=10)
        assert reader.connected.wait(5)
        serial_pty.write(b"after")
        assert wait_until(lambda: b"".join(received[1:]) == b"after")
    finally:
        stop.set()
        thread.join(5)
