"""The reader agent end to end: pty -> `python -m devices.agent` -> gunicorn -> database.

Everything is real: pyserial on a pty, the agent as a separate process started as in
production (token from the environment), the Atelier server under gunicorn (the
`live_server` fixture) on the test's database. What the server committed is read back
from that database and from the read API.
"""

from __future__ import annotations

import signal
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from app.extensions import db
from app.models.events import Event
from devices.framing import rdm6300_frame
from tests import factories
from tests.devices.conftest import AgentProcess, wait_until
from tests.support.server import GunicornServer

STATION = "ST-SOUD-01"
AGENT_NAME = "e2e"
# From tests/data/school_minimal.yaml.
LUCAS_RFID, INES_RFID = "0A00F1C2D3", "0A0012B45F"
LUCAS, INES, LEA = "E2026-001", "E2026-002", "E2026-003"


@dataclass
class Site:
    server: GunicornServer
    scan_token: str
    read_token: str


@pytest.fixture
def site(app, school, live_server) -> Site:
    """The live server with the minimal school, a token bound to a welding station."""
    return Site(
        server=live_server,
        scan_token=factories.make_token(STATION, name="reader-agent"),
        read_token=factories.make_token(None, read=True, name="e2e-reader"),
    )


@dataclass(frozen=True)
class Committed:
    key: str
    code: str | None
    status: str
    source: str | None
    error_code: str | None


def committed() -> list[Committed]:
    """Return the agent's events in the server's database, in commit order."""
    db.session.rollback()  # end any earlier snapshot: see what gunicorn committed since
    rows = db.session.execute(
        select(Event.key, Event.code, Event.status, Event.source, Event.error_code)
        .where(Event.key.like(f"{AGENT_NAME}-%"))
        .order_by(Event.id)
    ).all()
    db.session.rollback()
    return [Committed(*row) for row in rows]


def badged_in(site: Site, station: str = STATION) -> list[str]:
    """Return who is badged in at a station, from the read API."""
    response = requests.get(
        f"{site.server.url}/api/v1/stations",
        headers={"Authorization": f"Bearer {site.read_token}"},
        timeout=10,
    )
    response.raise_for_status()
    for summary in response.json()["stations"]:
        if summary["code"] == station:
            return sorted(student["id"] for student in summary["students"])
    raise AssertionError(f"station {station} not in the read API")


def spool_rows(path: Path) -> int:
    if not path.exists():
        return 0
    connection = sqlite3.connect(path)
    try:
        return int(connection.execute("SELECT count(*) FROM scan").fetchone()[0])
    finally:
        connection.close()


def start_agent(
    agent_process, serial_pty, site: Site, spool: Path, protocol: str = "lines"
) -> AgentProcess:
    agent = agent_process(
        [
            "--port",
            str(serial_pty.path),
            "--server",
            site.server.url,
            "--protocol",
            protocol,
            "--spool",
            str(spool),
            "--name",
            AGENT_NAME,
            "--retry-max-s",
            "1",
        ],
        env={"ATELIER_TOKEN": site.scan_token},
    )
    agent.wait_for_line(" ouvert (")
    return agent


def stop_agent(agent: AgentProcess) -> str:
    """Stop the agent with SIGTERM; return its final counters line."""
    agent.signal(signal.SIGTERM)
    assert agent.wait() == 0
    return agent.lines[agent.wait_for_line("compteurs :")]


def lines(*codes: str) -> bytes:
    return b"".join(code.encode() + b"\r\n" for code in codes)


def test_barcode_scans_from_the_reader_change_the_station_on_the_server(
    site, agent_process, serial_pty, tmp_path
):
    agent = start_agent(agent_process, serial_pty, site, tmp_path / "spool.db")
    serial_pty.write(b"]C0B-0001\r\n  B-0002\n")
    assert wait_until(lambda: len(committed()) == 2, timeout_s=20)
    events = committed()
    assert [event.code for event in events] == ["B-0001", "B-0002"]
    assert {(event.status, event.source) for event in events} == {("accepted", "barcode")}
    assert badged_in(site) == [LUCAS, INES]
    counters = stop_agent(agent)
    assert "delivered=2" in counters
    assert "pending=0" in counters


def test_a_held_badge_is_one_scan_and_broken_frames_are_counted_never_sent(
    site, agent_process, serial_pty, tmp_path
):
    agent = start_agent(agent_process, serial_pty, site, tmp_path / "spool.db", "rdm6300")
    held = rdm6300_frame(LUCAS_RFID) * 20  # a tag held on the reader: the frame repeats
    bad_checksum = b"\x02" + INES_RFID.encode() + b"00\x03"
    broken = b"\x020A0012B4\x03"
    serial_pty.write(held + bad_checksum + b"\r\nbruit" + broken + rdm6300_frame(INES_RFID))
    assert wait_until(lambda: len(committed()) == 2, timeout_s=20)
    time.sleep(1.0)  # anything else would have arrived by now
    events = committed()
    assert [event.code for event in events] == [LUCAS_RFID, INES_RFID]
    assert {(event.status, event.source) for event in events} == {("accepted", "rfid")}
    assert badged_in(site) == [LUCAS, INES]
    counters = stop_agent(agent)
    for expected in (
        "delivered=2",
        "suppressed_repeats=19",
        "dropped_bad_checksum=1",
        "dropped_broken=1",
        "dropped_noise_bytes=7",
    ):
        assert expected in counters


def test_over_long_and_non_ascii_lines_are_counted_and_never_sent(
    site, agent_process, serial_pty, tmp_path
):
    agent = start_agent(agent_process, serial_pty, site, tmp_path / "spool.db")
    serial_pty.write(
        lines("B-0001")
        + b"P-2026-" + b"0" * 60 + b"\r\n"
        + "B-0002é".encode() + b"\r\n"
        + b"B-\x00003\r\n"
        + b"Z" * 10_000 + b"\r\n"
        + lines("B-0003")
    )  # fmt: skip
    assert wait_until(lambda: len(committed()) == 2, timeout_s=20)
    time.sleep(1.0)
    assert [event.code for event in committed()] == ["B-0001", "B-0003"]
    counters = stop_agent(agent)
    assert "dropped_too_long=2" in counters
    assert "dropped_non_ascii=2" in counters


def test_a_rejected_scan_is_recorded_once_and_does_not_block_the_next(
    site, agent_process, serial_pty, tmp_path
):
    agent = start_agent(agent_process, serial_pty, site, tmp_path / "spool.db")
    serial_pty.write(lines("XX-INCONNU", "B-0003"))
    assert wait_until(lambda: len(committed()) == 2, timeout_s=20)
    events = committed()
    assert [(event.code, event.status) for event in events] == [
        ("XX-INCONNU", "rejected"),
        ("B-0003", "accepted"),
    ]
    assert events[0].error_code is not None  # the reason is recorded for the audit log
    assert badged_in(site) == [LEA]
    counters = stop_agent(agent)
    assert "rejected=1" in counters
    assert "refusé par le serveur (HTTP 422)" in agent.output()


@pytest.mark.slow
def test_scans_made_while_the_server_is_down_for_30_s_arrive_in_order_exactly_once(
    site, agent_process, serial_pty, tmp_path
):
    spool = tmp_path / "spool.db"
    agent = start_agent(agent_process, serial_pty, site, spool)
    serial_pty.write(lines("B-0001"))
    assert wait_until(lambda: len(committed()) == 1, timeout_s=20)
    site.server.stop()
    down_at = time.monotonic()
    # Inès in, Lucas out, Léa in, an unknown code (rejected), Inès out: only the
    # capture order leaves Léa alone at the station.
    during = ["B-0002", "B-0001", "B-0003", "XX-INCONNU", "B-0002"]
    serial_pty.write(lines(*during[:3]))
    assert wait_until(lambda: spool_rows(spool) == 3, timeout_s=10)
    time.sleep(15)
    serial_pty.write(lines(*during[3:]))
    assert wait_until(lambda: spool_rows(spool) == 5, timeout_s=10)
    time.sleep(max(0.0, 30 - (time.monotonic() - down_at)))
    assert len(committed()) == 1
    site.server.start()
    assert wait_until(lambda: spool_rows(spool) == 0, timeout_s=30)
    events = committed()
    assert [event.code for event in events] == ["B-0001", *during]
    assert len({event.key for event in events}) == 6
    assert [event.status for event in events].count("rejected") == 1
    assert badged_in(site) == [LEA]
    output = agent.output()
    # The outage is logged when it starts and when it ends, not at every retry.
    assert output.count("indisponible") == 1
    assert output.count("joignable à nouveau") == 1


def test_agent_killed_with_scans_in_the_spool_delivers_them_once_after_restart(
    site, agent_process, serial_pty, tmp_path
):
    spool = tmp_path / "spool.db"
    site.server.stop()
    agent = start_agent(agent_process, serial_pty, site, spool)
    codes = ["B-0001", "B-0002", "B-0003", "B-0001", "B-0004"]
    serial_pty.write(lines(*codes))
    assert wait_until(lambda: spool_rows(spool) == 5, timeout_s=10)
    agent.signal(signal.SIGKILL)
    agent.wait()
    site.server.start()
    restarted = start_agent(agent_process, serial_pty, site, spool)
    assert wait_until(lambda: spool_rows(spool) == 0, timeout_s=30)
    events = committed()
    assert [event.code for event in events] == codes
    assert badged_in(site) == [INES, LEA, "E2026-004"]
    assert "delivered=5" in stop_agent(restarted)


def test_agent_killed_while_sending_delivers_every_scan_exactly_once(
    site, agent_process, serial_pty, tmp_path
):
    spool = tmp_path / "spool.db"
    agent = start_agent(agent_process, serial_pty, site, spool)
    badges = ["B-0001", "B-0002", "B-0003", "B-0004"]
    codes = [badges[index % 4] for index in range(80)]
    serial_pty.write(lines(*codes))
    assert wait_until(lambda: len(committed()) >= 10, timeout_s=30)
    agent.signal(signal.SIGKILL)  # in the middle of the stream, probably mid-request
    agent.wait()
    in_flight = len(committed())
    assert in_flight < 80, "the agent finished before it was killed: nothing was tested"
    start_agent(agent_process, serial_pty, site, spool)
    assert wait_until(lambda: len(committed()) == 80 and spool_rows(spool) == 0, timeout_s=60)
    events = committed()
    assert [event.code for event in events] == codes
    assert len({event.key for event in events}) == 80
    assert badged_in(site) == []  # 80 scans = 10 in/out pairs per badge


def test_agent_reconnects_by_itself_when_the_reader_is_plugged_back(
    site, agent_process, serial_pty, tmp_path
):
    agent = start_agent(agent_process, serial_pty, site, tmp_path / "spool.db", "rdm6300")
    serial_pty.write(rdm6300_frame(LUCAS_RFID))
    assert wait_until(lambda: len(committed()) == 1, timeout_s=20)
    serial_pty.unplug()
    agent.wait_for_line("déconnecté")
    time.sleep(3)  # unplugged for a while: several reconnection attempts
    serial_pty.plug()
    agent.wait_for_line("reconnecté", timeout_s=15)
    serial_pty.write(rdm6300_frame(INES_RFID))
    assert wait_until(lambda: len(committed()) == 2, timeout_s=20)
    assert [event.code for event in committed()] == [LUCAS_RFID, INES_RFID]
    assert badged_in(site) == [LUCAS, INES]
    output = agent.output()
    assert output.count("déconnecté") == 1
    assert output.count("indisponible") == 0  # the retries themselves stay quiet
    stop_agent(agent)
