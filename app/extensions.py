"""Flask extensions, created unbound and initialised by ``create_app``."""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from flask.json.provider import DefaultJSONProvider
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import Engine, event

from app.models.base import Base

logger = logging.getLogger(__name__)

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
        # Commits survive a process crash at once; the write path syncs the WAL after the
        # lock is released and before it answers (app.db.make_durable).
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(WRITE_OPTION):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


def _finite(value: Any) -> Any:
    """Return a JSON value with NaN and infinities replaced by null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, refusing to write NaN or Infinity: neither is JSON.

    Weld figures are bounded when they are decoded, so none should ever reach an answer;
    if one does, it is written as null (and logged) rather than as invalid JSON.
    """

    sort_keys = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        """Serialise ``obj``; a non-finite number becomes null."""
        kwargs.setdefault("default", self.default)
        kwargs.setdefault("ensure_ascii", self.ensure_ascii)
        kwargs.setdefault("sort_keys", self.sort_keys)
        try:
            return json.dumps(obj, allow_nan=False, **kwargs)
        except ValueError:
            logger.error("a non-finite number was about to be written as JSON: null instead")
            return json.dumps(_finite(obj), allow_nan=False, **kwargs)
