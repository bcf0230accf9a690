"""Flask extensions, created unbound and initialised by ``create_app``."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import Engine, MetaData, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every model, with a constraint naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()

# Set on a connection by the write path: the SQLite transaction takes the write lock at
# BEGIN, so two writers never deadlock upgrading a read lock (SQLITE_BUSY despite the
# busy timeout).
WRITE_OPTION = "atelier_write"


def configure_sqlite(engine: Engine) -> None:
    """Give every SQLite connection WAL, a busy timeout, foreign keys and explicit BEGINs."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling would BEGIN lazily and too late; we emit BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Commits survive a process crash at once; write paths that acknowledge something
        # then call make_durable(), which syncs the WAL after the lock is released.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(WRITE_OPTION):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


def begin_write() -> None:
    """Open the session's transaction as a writer (``BEGIN IMMEDIATE`` on SQLite).

    A read transaction already open (say, from the token lookup) is ended first: on SQLite
    a deferred transaction that later writes can fail at once with SQLITE_BUSY_SNAPSHOT.
    """
    session = db.session()
    if session.in_transaction():
        if session.new or session.dirty or session.deleted:
            raise RuntimeError("begin_write() called with unsaved changes in the session")
        session.commit()
    session.connection(execution_options={WRITE_OPTION: True})


_lock_files = threading.local()


def insert_for(dialect: str) -> Any:
    """Return the dialect's ``insert``, which has ``on_conflict_do_nothing``/``_do_update``."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


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
