"""The agent's spool: durable FIFO of captured scans."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from devices.spool import (
    MAX_EVENT_ID_CHARS,
    Scan,
    Spool,
    SpoolLockedError,
    new_event_id,
    new_scan,
    utc_timestamp,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def make_scan(code: str, station: str | None = None) -> Scan:
    return new_scan(code, "barcode", name="kiosk1", station=station)


def test_spool_returns_scans_oldest_first_until_removed(tmp_path):
    with Spool(tmp_path / "spool.db") as spool:
        first, second, third = (
            make_scan("B-0001"),
            make_scan("OF-2026-0042", "ST-KIOSK-1"),
            make_scan("A-FIN"),
        )
        for scan in (first, second, third):
            spool.add(scan)
        assert spool.count() == 3
        head = spool.head()
        assert head is not None
        assert head.scan == first
        assert head.attempts == 0
        assert head.last_error is None
        spool.remove(first.event_id)
        head = spool.head()
        assert head is not None
        assert head.scan == second
        assert [entry.scan for entry in spool.entries()] == [second, third]
        spool.remove(second.event_id)
        spool.remove(third.event_id)
        assert spool.head() is None
        assert spool.count() == 0


def test_spool_keeps_order_after_the_newest_row_was_removed(tmp_path):
    with Spool(tmp_path / "spool.db") as spool:
        old, newest = make_scan("B-0001"), make_scan("B-0002")
        spool.add(old)
        spool.add(newest)
        spool.remove(newest.event_id)
        later = make_scan("B-0003")
        spool.add(later)
        assert [entry.scan for entry in spool.entries()] == [old, later]


def test_spool_records_failed_attempts(tmp_path):
    with Spool(tmp_path / "spool.db") as spool:
        scan = make_scan("B-0001")
        spool.add(scan)
        spool.record_failure(scan.event_id, "HTTP 503")
        spool.record_failure(scan.event_id, "ConnectionError: refused")
        head = spool.head()
        assert head is not None
        assert (head.attempts, head.last_error) == (2, "ConnectionError: refused")


def test_spool_survives_reopening(tmp_path):
    path = tmp_path / "spool.db"
    scans = [make_scan(f"B-{index:04d}") for index in range(5)]
    with Spool(path) as spool:
        for scan in scans:
            spool.add(scan)
    with Spool(path) as spool:
        assert [entry.scan for entry in spool.entries()] == scans


def test_spool_refuses_a_second_event_with_the_same_id(tmp_path):
    with Spool(tmp_path / "spool.db") as spool:
        scan = make_scan("B-0001")
        spool.add(scan)
        with pytest.raises(sqlite3.IntegrityError):
            spool.add(scan)
        assert spool.count() == 1


def test_spool_is_private_in_wal_mode_with_full_sync_for_captures(tmp_path):
    path = tmp_path / "state" / "spool.db"
    with Spool(path) as spool:
        spool.add(make_scan("B-0001"))
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        # Private attribute on purpose: synchronous is per connection, invisible outside.
        assert spool._capture.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    probe = sqlite3.connect(path)
    try:
        assert probe.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        probe.close()


def test_spool_is_used_by_one_agent_at_a_time(tmp_path):
    path = tmp_path / "spool.db"
    with Spool(path), pytest.raises(SpoolLockedError, match="déjà utilisé"):
        Spool(path)
    with Spool(path) as again:
        assert again.count() == 0


def test_spool_is_safe_to_use_from_two_threads(tmp_path):

    with Spool(tmp_path / "spool.db") as spool:
        added = [make_scan(f"B-{index:04d}") for index in range(200)]
        removed: list[str] = []

        def drain():
            while len(removed) < len(added):
                head = spool.head()
                if head is not None:
                    spool.remove(head.scan.event_id)
                    removed.append(head.scan.event_id)

        consumer = threading.Thread(target=drain)
        consumer.start()
        for scan in added:
            spool.add(scan)
        consumer.join(30)
        assert removed == [scan.event_id for scan in added]


def test_spool_loses_no_committed_scan_when_killed(tmp_path):
    """kill -9 at an arbitrary instant: every scan whose add() returned is on disk."""
    path = tmp_path / "spool.db"
    writer = textwrap.dedent(
        f"""
        import sys
        from devices.spool import Spool, new_scan
        spool = Spool({str(path)!r})
        index = 0
        while True:
            scan = new_scan(f"B-{{index:04d}}", "rfid", name="k")
            spool.add(scan)
            print(scan.event_id, flush=True)
            index += 1
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", writer], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    committed = [process.stdout.readline().strip() for _ in range(50)]
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stdout.close()
    with Spool(path) as spool:
        on_disk = [entry.scan.event_id for entry in spool.entries()]
        integrity = spool._ack.execute("PRAGMA integrity_check").fetchone()[0]
    assert integrity == "ok"
    assert on_disk[: len(committed)] == committed


def test_event_ids_are_unique_prefixed_and_at_most_80_characters():
    ids = {new_event_id("kiosk1") for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"kiosk1-[0-9a-f]{32}", event_id) for event_id in ids)
    long_id = new_event_id("atelier-" * 30)
    assert len(long_id) == MAX_EVENT_ID_CHARS
    assert re.fullmatch(r"atelier-.*-[0-9a-f]{32}", long_id)
    assert re.fullmatch(r"poste-3-salle-b-[0-9a-f]{32}", new_event_id("poste 3/salle b"))
    assert re.fullmatch(r"agent-[0-9a-f]{32}", new_event_id("///"))


def test_utc_timestamp_has_milliseconds_and_z():
    paris = timezone(timedelta(hours=1))
    moment = datetime(2026, 11, 26, 10, 20, 11, 400_999, tzinfo=paris)
    assert utc_timestamp(moment) == "2026-11-26T09:20:11.400Z"
    now = utc_timestamp()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", now)
    parsed = datetime.fromisoformat(now.replace("Z", "+00:00"))
    assert abs(parsed - datetime.now(UTC)) < timedelta(seconds=5)


def test_new_scan_stamps_capture_data():
    scan = new_scan("0A00F1C2D3", "rfid", name="borne", station="ST-KIOSK-1")
    assert scan.code == "0A00F1C2D3"
    assert scan.source == "rfid"
    assert scan.station == "ST-KIOSK-1"
    assert scan.event_id.startswith("borne-")


def test_spool_lock_is_released_when_the_holder_is_killed(tmp_path):
    path = tmp_path / "spool.db"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from devices.spool import Spool; s = Spool({str(path)!r}); print('ok', flush=True);"
            " import time; time.sleep(60)",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "ok"
    with pytest.raises(SpoolLockedError):
        Spool(path)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    holder.stdout.close()
    with Spool(path) as spool:
        assert spool.count() == 0
