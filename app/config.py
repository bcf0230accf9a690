"""Configuration read from ``ATELIER_*`` environment variables."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any

DEFAULT_TOPIC_ROOT = "atelier/v1"
# When the school closes, in the workshop's local time: `flask --app app day close` pauses
# what still runs then (deploy/systemd/atelier-day-close.timer, and `make demo`).
DEFAULT_CLOSING_TIME = time(18, 0)
_HH_MM = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")
# Where ``make demo`` keeps the secret key it generated (mode 0600), in the instance folder:
# read when ATELIER_SECRET_KEY is not set, so the README's commands work after the demo.
SECRET_KEY_FILE = "secret_key"  # noqa: S105  (a file name, not a secret)
# How long a student's data is kept after their end of schooling (``left_on``), in days,
# before `flask --app app data retention --apply` erases it (deploy/systemd/atelier-retention.*).
# 365 (a year): the CNIL's school-file yardstick keeps identity data until the pupil leaves and
# acquired competencies for the cycle; one year more lets the school answer for the
# diploma session (results, appeals, a livret asked again) and is the « cycle + 1 year »
# proposed for production events and evidence (docs/data-inventory.md). The head of
# establishment decides it with the academy's DPO; 0 erases as soon as the student left.
DEFAULT_RETENTION_DAYS = 365


class ConfigError(RuntimeError):
    """The environment does not describe a usable configuration."""


def parse_closing_time(text: str | None, name: str = "ATELIER_CLOSING_TIME") -> time:
    """Read a closing time written HH:MM (workshop local time); empty means the default."""
    value = (text or "").strip()
    if not value:
        return DEFAULT_CLOSING_TIME
    matched = _HH_MM.fullmatch(value)
    if matched is None:
        raise ConfigError(
            f"{name} doit être une heure au format HH:MM, à l'heure locale de l'atelier "
            f"(par exemple 18:00) ; reçu : {value!r}."
        )
    return time(int(matched.group(1)), int(matched.group(2)))


def _normalise_database_url(url: str) -> str:
    """Make plain ``postgresql://`` URLs use psycopg 3, the driver we ship."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@dataclass
class Config:
    """Settings of one Atelier process, from the environment or given by tests."""

    DATABASE_URL: str = ""
    SECRET_KEY: str | None = None
    MQTT_URL: str | None = None
    TOPIC_ROOT: str = DEFAULT_TOPIC_ROOT
    DEBUG: bool = False
    TESTING: bool = False
    # Session cookies only over HTTPS; a plain-HTTP demo on the loopback turns it off.
    COOKIE_SECURE: bool = True
    # The wall-screen board is public on the school LAN unless this is set.
    BOARD_LOGIN_REQUIRED: bool = False
    # How long an A-ANNULE can reach back to the scan it undoes.
    UNDO_WINDOW_S: float = 60.0
    # How long a kiosk keeps acting for the station scanned on it, after its last scan.
    KIOSK_STATION_TIMEOUT_S: float = 300.0
    # Piece labels a work order may take beyond its quantity (scrap, rework).
    EXTRA_PIECES: int = 2
    # The address staff and kiosks reach the server at (enrolment links, QR codes).
    PUBLIC_URL: str = "http://localhost:8000"
    # Students badged in at a kiosk with no operation running are badged out after this
    # many minutes without a scan or a touch (0: never).
    KIOSK_IDLE_MINUTES: int = 10
    # A staff session on a shared tablet ends after this many minutes without a request.
    STAFF_IDLE_MINUTES: int = 30
    # Whether a kiosk reads its instructions aloud until someone switches it there.
    KIOSK_SPEECH: bool = False
    # The school's closing time (local): every run still open is paused then.
    CLOSING_TIME: time = DEFAULT_CLOSING_TIME
    # Months a student's data is kept after their end of schooling (then erased).
    RETENTION_DAYS: int = DEFAULT_RETENTION_DAYS
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, instance_path: str | Path, environ: dict[str, str] | None = None) -> Config:
        """Read the configuration from ``ATELIER_*`` variables."""
        env = os.environ if environ is None else environ
        default_db = f"sqlite:///{Path(instance_path) / 'atelier.db'}"

        def flag(name: str, default: bool) -> bool:
            value = env.get(name)
            if value is None or not value.strip():
                return default
            return value.strip().lower() in {"1", "true", "yes", "on"}

        def number(name: str, default: int) -> int:
            value = (env.get(name) or "").strip()
            if not value:
                return default
            if not value.isdigit():
                raise ConfigError(f"{name} doit être un nombre entier positif (reçu : {value!r}).")
            return int(value)

        debug = flag("ATELIER_DEBUG", False)
        return cls(
            DATABASE_URL=_normalise_database_url(env.get("ATELIER_DATABASE_URL") or default_db),
            SECRET_KEY=env.get("ATELIER_SECRET_KEY") or _secret_from_file(Path(instance_path)),
            MQTT_URL=env.get("ATELIER_MQTT_URL") or None,
            TOPIC_ROOT=(env.get("ATELIER_TOPIC_ROOT") or DEFAULT_TOPIC_ROOT).strip("/"),
            DEBUG=debug,
            COOKIE_SECURE=flag("ATELIER_COOKIE_SECURE", not debug),
            BOARD_LOGIN_REQUIRED=flag("ATELIER_BOARD_LOGIN_REQUIRED", False),
            EXTRA_PIECES=number("ATELIER_EXTRA_PIECES", 2),
            PUBLIC_URL=(env.get("ATELIER_PUBLIC_URL") or "http://localhost:8000").rstrip("/"),
            KIOSK_IDLE_MINUTES=number("ATELIER_KIOSK_IDLE_MINUTES", 10),
            STAFF_IDLE_MINUTES=number("ATELIER_STAFF_IDLE_MINUTES", 30),
            KIOSK_SPEECH=flag("ATELIER_KIOSK_SPEECH", False),
            CLOSING_TIME=parse_closing_time(env.get("ATELIER_CLOSING_TIME")),
            RETENTION_DAYS=number("ATELIER_RETENTION_DAYS", DEFAULT_RETENTION_DAYS),
        )

    def flask_mapping(self) -> dict[str, Any]:
        """Return the Flask config keys this configuration sets."""
        if not self.SECRET_KEY:
            if not (self.DEBUG or self.TESTING):
                raise ConfigError(
                    "ATELIER_SECRET_KEY n'est pas défini. Générez une clé avec "
                    "`python3 -c 'import secrets; print(secrets.token_hex(32))'` et exportez-la "
                    "(ou ajoutez-la au fichier d'environnement du service, ou écrivez-la dans "
                    f"instance/{SECRET_KEY_FILE})."
                )
            self.SECRET_KEY = "insecure-debug-key"  # noqa: S105  (debug/testing only)
        mapping: dict[str, Any] = {
            "SECRET_KEY": self.SECRET_KEY,
            "SQLALCHEMY_DATABASE_URI": _normalise_database_url(self.DATABASE_URL),
            "SQLALCHEMY_ENGINE_OPTIONS": engine_options(self.DATABASE_URL),
            "ATELIER_MQTT_URL": self.MQTT_URL,
            "ATELIER_TOPIC_ROOT": self.TOPIC_ROOT,
            "ATELIER_UNDO_WINDOW_S": self.UNDO_WINDOW_S,
            "ATELIER_KIOSK_STATION_TIMEOUT_S": self.KIOSK_STATION_TIMEOUT_S,
            "ATELIER_EXTRA_PIECES": self.EXTRA_PIECES,
            "ATELIER_PUBLIC_URL": self.PUBLIC_URL,
            "ATELIER_KIOSK_IDLE_MINUTES": self.KIOSK_IDLE_MINUTES,
            "ATELIER_STAFF_IDLE_MINUTES": self.STAFF_IDLE_MINUTES,
            "ATELIER_KIOSK_SPEECH": self.KIOSK_SPEECH,
            "ATELIER_CLOSING_TIME": self.CLOSING_TIME,
            "ATELIER_RETENTION_DAYS": self.RETENTION_DAYS,
            "DEBUG": self.DEBUG,
            "TESTING": self.TESTING,
            "JSON_SORT_KEYS": False,
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_SECURE": self.COOKIE_SECURE and not (self.DEBUG or self.TESTING),
            "REMEMBER_COOKIE_SECURE": self.COOKIE_SECURE and not (self.DEBUG or self.TESTING),
            "ATELIER_BOARD_LOGIN_REQUIRED": self.BOARD_LOGIN_REQUIRED,
            "REMEMBER_COOKIE_HTTPONLY": True,
            "PERMANENT_SESSION_LIFETIME": 8 * 3600,
            "MAX_CONTENT_LENGTH": 64 * 1024,
        }
        if self.TESTING:
            mapping["WTF_CSRF_ENABLED"] = self.extra.get("WTF_CSRF_ENABLED", False)
        mapping.update(self.extra)
        return mapping


def _secret_from_file(instance: Path) -> str | None:
    """Return the secret key kept in the instance folder, if there is one."""
    try:
        text = (instance / SECRET_KEY_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text or None


def engine_options(url: str) -> dict[str, Any]:
    """Return engine options suited to the database behind the URL."""
    if url.startswith("sqlite"):
        # One connection per thread is enough; the busy timeout does the waiting.
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    return {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 5}


class TestingConfig(Config):
    """Configuration for the test suite: a given database, no real secret needed."""

    __test__ = False  # not a pytest test class, despite its name

    def __init__(self, database_url: str, **extra: Any) -> None:
        super().__init__(
            DATABASE_URL=database_url,
            SECRET_KEY="test-secret",  # noqa: S106  (tests only)
            TESTING=True,
        )
        self.extra = dict(extra)
