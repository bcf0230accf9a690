"""The agent's on-disk spool: every scan is committed here before it is sent.

A scan is *captured* once its row is committed with `synchronous=FULL` (the WAL is
fsynced): from then on a crash, `kill -9` or power cut cannot lose it. The sender
removes a row only after the server gave a final answer, so a scan sent but not yet
removed when the agent dies is sent again after the restart with the same event id,
which the server recognises as a duplicate.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from devices.framing import Source

logger = logging.getLogger(__name__)

MAX_EVENT_ID_CHARS: Final = 80
BUSY_TIMEOUT_MS: Final = 10_000
_UUID_HEX_CHARS: Final = 32
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS scan (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    code TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('rfid', 'barcode')),
    scanned_at TEXT NOT NULL,
    station TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
)
"""


class SpoolLockedError(RuntimeError):
    """Another agent process already uses this spool file."""


@dataclass(frozen=True)
class Scan:
    """One code read by the reader, as captured: what the server will receive."""

    event_id: str
    code: str
    source: Source
    scanned_at: str
    station: str | None = None


@dataclass(frozen=True)
class SpoolEntry:
    """A spooled scan with its delivery history."""

    scan: Scan
    attempts: int
    last_error: str | None


def new_event_id(name: str) -> str:
    """Mint a unique event id `{name}-{uuid4 hex}` of at most 80 characters."""
    safe_name = _NAME_UNSAFE.sub("-", name).strip("-") or "agent"
    # Shorten the name, never the UUID: the UUID is what makes the id unique.
    safe_name = safe_name[: MAX_EVENT_ID_CHARS - _UUID_HEX_CHARS - 1]
    return f"{safe_name}-{uuid.uuid4().hex}"


def utc_timestamp(moment: datetime | None = None) -> str:
    """Format a moment (default now) as UTC ISO-8601 with milliseconds and a Z."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def new_scan(code: str, source: Source, *, name: str, station: str | None = None) -> Scan:
    """Capture a code read now: mint its event id and stamp its time."""
    return Scan(
        event_id=new_event_id(name),
        code=code,
        source=source,
        scanned_at=utc_timestamp(),
        station=station,
    )


class _LockFile:
    """An exclusive advisory lock held for the life of the process (released on kill)."""

    def __init__(self, path: Path, spool_path: Path) -> None:
        self.path = path
        self._spool_path = spool_path
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SpoolLockedError(
                f"le spool {self._spool_path} est déjà utilisé par un autre agent"
            ) from None
        self._fd = fd

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class Spool:
    """A FIFO of scans in a local SQLite file, safe to use from two threads.

    Two connections on purpose: captures commit with `synchronous=FULL` because a
    capture that is not on disk is a lost scan; removals and failure notes commit with
    `synchronous=NORMAL` because losing one in a power cut only makes the agent send
    that scan again, which its event id makes harmless. This keeps a replay after an
    outage from paying one fsync per delivered scan.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_file = self._take_process_lock()
        try:
            if not self.path.exists():
                # Badge ids are personal data: keep the spool private to its user.
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            self._capture = self._connect(synchronous="FULL")
            self._capture.execute(_SCHEMA)
            self._ack = self._connect(synchronous="NORMAL")
        except BaseException:
            self._lock_file.close()
            raise
        self._capture_lock = threading.Lock()
        self._ack_lock = threading.Lock()
        self._closed = False

    def _take_process_lock(self) -> _LockFile:
        # A separate lock file: closing any descriptor of the database file itself would
        # drop SQLite's own POSIX locks held by this process.
        lock = _LockFile(self.path.with_name(self.path.name + ".lock"), self.path)
        lock.acquire()
        return lock

    def _connect(self, *, synchronous: str) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.path,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(f"PRAGMA synchronous={synchronous}")
        connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        return connection

    def add(self, scan: Scan) -> None:
        """Commit a captured scan to disk; return only once it is durable."""
        with self._capture_lock:
            self._capture.execute(
                "INSERT INTO scan (event_id, code, source, scanned_at, station)"
                " VALUES (?, ?, ?, ?, ?)",
                (scan.event_id, scan.code, scan.source, scan.scanned_at, scan.station),
            )

    def head(self) -> SpoolEntry | None:
        """Return the oldest scan not yet delivered, or None when the spool is empty."""
        with self._ack_lock:
            row = self._ack.execute(
                "SELECT event_id, code, source, scanned_at, station, attempts, last_error"
                " FROM scan ORDER BY seq LIMIT 1"
            ).fetchone()
        if row is None:
            return None
        return SpoolEntry(
            scan=Scan(
                event_id=row[0], code=row[1], source=row[2], scanned_at=row[3], station=row[4]
            ),
            attempts=row[5],
            last_error=row[6],
        )

    def remove(self, event_id: str) -> None:
        """Forget a scan the server gave a final answer for."""
        with self._ack_lock:
            self._ack.execute("DELETE FROM scan WHERE event_id = ?", (event_id,))

    def record_failure(self, event_id: str, error: str) -> None:
        """Note a failed delivery attempt of a scan, for the IT person's diagnosis."""
        with self._ack_lock:
            self._ack.execute(
                "UPDATE scan SET attempts = attempts + 1, last_error = ? WHERE event_id = ?",
                (error[:500], event_id),
            )

    def count(self) -> int:
        """Return how many scans wait for delivery."""
        with self._ack_lock:
            row = self._ack.execute("SELECT count(*) FROM scan").fetchone()
        return int(row[0])

    def entries(self) -> list[SpoolEntry]:
        """Return every waiting scan, oldest first (for diagnosis and tests)."""
        with self._ack_lock:
            rows = self._ack.execute(
                "SELECT event_id, code, source, scanned_at, station, attempts, last_error"
                " FROM scan ORDER BY seq"
            ).fetchall()
        return [
            SpoolEntry(
                scan=Scan(
                    event_id=row[0], code=row[1], source=row[2], scanned_at=row[3], station=row[4]
                ),
                attempts=row[5],
                last_error=row[6],
            )
            for row in rows
        ]

    def close(self) -> None:
        """Close the database connections and release the spool to other processes."""
        if self._closed:
            return
        self._closed = True
        with self._capture_lock, self._ack_lock:
            self._ack.close()
            self._capture.close()
        self._lock_file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
