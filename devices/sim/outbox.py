"""A station's offline buffer: messages wait here, in order, until the broker acknowledges them.

Retrofit boxes keep weld runs on an SD card while the network is down (Kemppi: months,
welding reference §1). `MemoryOutbox` keeps them for the life of the process;
`SqliteOutbox` keeps them in a small file so they survive a restart of the simulator.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class OutboxEntry:
    """One message waiting to be published; `id` grows in publishing order."""

    id: int
    topic: str
    payload: bytes
    retain: bool = False


class Outbox(Protocol):
    """Ordered storage of messages not yet acknowledged by the broker."""

    def append(self, topic: str, payload: bytes, *, retain: bool = False) -> int:
        """Store a message at the end and return its id."""
        ...

    def after(self, after_id: int, limit: int) -> list[OutboxEntry]:
        """Return up to `limit` entries with an id greater than `after_id`, oldest first."""
        ...

    def remove(self, ids: Iterable[int]) -> None:
        """Forget acknowledged entries."""
        ...

    def __len__(self) -> int: ...

    def close(self) -> None:
        """Release the storage."""
        ...


class MemoryOutbox:
    """An outbox in memory: lost when the process ends."""

    def __init__(self) -> None:
        self._entries: OrderedDict[int, OutboxEntry] = OrderedDict()
        self._next_id = 1
        self._lock = threading.Lock()

    def append(self, topic: str, payload: bytes, *, retain: bool = False) -> int:
        """Store a message at the end and return its id."""
        with self._lock:
            entry = OutboxEntry(self._next_id, topic, payload, retain)
            self._entries[entry.id] = entry
            self._next_id += 1
            return entry.id

    def after(self, after_id: int, limit: int) -> list[OutboxEntry]:
        """Return up to `limit` entries with an id greater than `after_id`, oldest first."""
        found: list[OutboxEntry] = []
        with self._lock:
            for entry_id, entry in self._entries.items():
                if entry_id <= after_id:
                    continue
                found.append(entry)
                if len(found) >= limit:
                    break
        return found

    def remove(self, ids: Iterable[int]) -> None:
        """Forget acknowledged entries."""
        with self._lock:
            for entry_id in ids:
                self._entries.pop(entry_id, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def close(self) -> None:
        """Nothing to release."""


class SqliteOutbox:
    """An outbox in a SQLite file: what was not acknowledged is sent after a restart."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL survives a killed process (what the simulator must survive), not a power cut.
        self._db.execute("PRAGMA synchronous=NORMAL")
        # AUTOINCREMENT never reuses an id, so the order holds across restarts.
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS outbox ("
            " id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " topic TEXT NOT NULL,"
            " payload BLOB NOT NULL,"
            " retain INTEGER NOT NULL DEFAULT 0)"
        )

    def append(self, topic: str, payload: bytes, *, retain: bool = False) -> int:
        """Store a message at the end and return its id."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO outbox (topic, payload, retain) VALUES (?, ?, ?)",
                (topic, payload, int(retain)),
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

    def after(self, after_id: int, limit: int) -> list[OutboxEntry]:
        """Return up to `limit` entries with an id greater than `after_id`, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, topic, payload, retain FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
                (after_id, limit),
            ).fetchall()
        return [OutboxEntry(int(r[0]), str(r[1]), bytes(r[2]), bool(r[3])) for r in rows]

    def remove(self, ids: Iterable[int]) -> None:
        """Forget acknowledged entries."""
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])
            self._db.execute("COMMIT")

    def __len__(self) -> int:
        with self._lock:
            (count,) = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()
        return int(count)

    def close(self) -> None:
        """Close the database file."""
        with self._lock:
            self._db.close()
