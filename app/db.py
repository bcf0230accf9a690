"""The one way to write: ``write_transaction(work)``.

Every write of the application — a scan, an MQTT batch, a password change, an import, a
token stamp — runs inside this helper, called once by the boundary (request, MQTT batch,
CLI command). It

1. ends the session's read transaction (on SQLite, a read snapshot that later writes can
   fail at once with SQLITE_BUSY_SNAPSHOT),
2. queues the process behind other SQLite writers in the kernel (``flock``) and opens the
   transaction as a writer (``BEGIN IMMEDIATE``), so that "database is locked" cannot
   happen between writers,
3. runs ``work(session)``, flushes and commits,
4. retries the whole work on transient conflicts (lock timeouts, deadlocks, serialisation
   failures, a unique key taken by a concurrent transaction),
5. makes the commit durable (fsync of the SQLite WAL) before returning, so that whatever
   the caller acknowledges survives a power cut.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from app.extensions import WRITE_OPTION, db

logger = logging.getLogger(__name__)

T = TypeVar("T")

MAX_ATTEMPTS = 5
RETRY_PAUSE_S = 0.02
_WRITING = "atelier_writing"
# PostgreSQL: serialization_failure, deadlock_detected, lock_not_available.
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01", "55P03"})


class DatabaseBusy(Exception):
    """The database could not take the write now; the sender should retry later."""


def _is_retryable(exc: DBAPIError) -> bool:
    if isinstance(exc, OperationalError | IntegrityError):
        return True
    return getattr(exc.orig, "sqlstate", None) in _RETRYABLE_SQLSTATES


def write_transaction(work: Callable[[Session], T]) -> T:
    """Run ``work(session)`` in one durable write transaction, retrying transient conflicts."""
    session = db.session()
    if session.info.get(_WRITING):
        raise RuntimeError("write_transaction() inside another write transaction")
    for attempt in range(1, MAX_ATTEMPTS + 1):
        _end_read(session)
        session.info[_WRITING] = True
        try:
            with serialized_writes():
                session.connection(execution_options={WRITE_OPTION: True})
                result = work(session)
                session.flush()
                session.commit()
        except DBAPIError as exc:
            session.rollback()
            if not _is_retryable(exc) or attempt == MAX_ATTEMPTS:
                logger.error("write transaction failed after %d attempt(s): %s", attempt, exc)
                raise DatabaseBusy(str(exc.orig)) from exc
            logger.warning("write transaction conflict (attempt %d), retrying: %s", attempt, exc)
            time.sleep(RETRY_PAUSE_S * attempt)
            continue
        except BaseException:
            session.rollback()
            raise
        finally:
            session.info.pop(_WRITING, None)
        make_durable()
        return result
    raise AssertionError("unreachable")


def _end_read(session: Session) -> None:
    """End the session's read transaction before writing; refuse stray unsaved changes."""
    if not session.in_transaction():
        return
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("changes made outside write_transaction()")
    session.rollback()


_lock_files = threading.local()


def _sqlite_file() -> str | None:
    """Return the path of the app's SQLite database file, or None for any other database."""
    engine = db.engine
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return None
    return database


@contextmanager
def serialized_writes() -> Iterator[None]:
    """Queue this process's SQLite write transaction behind the others, in the kernel.

    SQLite lets one writer in at a time and makes the others poll with growing sleeps
    (the busy timeout): under load most of the time goes into those sleeps. An exclusive
    ``flock`` on a file beside the database makes a waiting writer sleep until the lock is
    free, then go at once. PostgreSQL needs nothing of the kind.
    """
    database = _sqlite_file()
    if database is None:
        yield
        return
    path = database + ".writelock"
    files: dict[str, int] = getattr(_lock_files, "files", None) or {}
    _lock_files.files = files
    fd = files.get(path)
    if fd is None:
        fd = files[path] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def make_durable() -> None:
    """Flush the SQLite WAL to disk, so that what was just committed survives a power cut.

    ``fdatasync`` as SQLite itself uses on Linux: the data and what is needed to read it
    back (the file size) reach the disk; timestamps need not.

    ``synchronous=FULL`` would fsync inside the commit, holding every other writer behind
    the disk. With ``synchronous=NORMAL`` the commit only writes the WAL, and this fsync,
    done after the write lock is released and before the caller acknowledges anything,
    gives the same guarantee; concurrent fsyncs of several writers coalesce in the kernel.
    A checkpoint that recycled the WAL in between has already synced the database file.
    PostgreSQL flushes its own WAL at commit: nothing to do there.
    """
    database = _sqlite_file()
    if database is None:
        return
    try:
        fd = os.open(database + "-wal", os.O_RDONLY)
    except FileNotFoundError:
        return  # no WAL: the last checkpoint wrote and synced everything
    try:
        os.fdatasync(fd)
    finally:
        os.close(fd)
