"""The demo's private files in instance/: the secret key and the demo's credentials.

A device token and a one-time password are shown once by the CLI and stored only as
hashes, and Mosquitto keeps only hashes of the MQTT passwords: the demo keeps the clear
values in `instance/demo.json` to print them again at the next `make demo`. Both files
are readable by their owner only; instance/ is never committed.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

PRIVATE_MODE = 0o600
SECRET_KEY_FILE = "secret_key"  # noqa: S105  (a file name, not a secret)
CREDENTIALS_FILE = "demo.json"
CREDENTIALS_VERSION = 2


def write_private(path: Path, text: str) -> None:
    """Write a file atomically with mode 0600, whatever mode an older copy had."""
    # mkstemp creates the file 0600 from the start: never readable by others, not even
    # for the instant between creating and chmod-ing it.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def read_private(path: Path) -> str | None:
    """Read a private file, tightening its mode to 0600 if someone loosened it."""
    try:
        if path.stat().st_mode & 0o077:
            os.chmod(path, PRIVATE_MODE)
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def ensure_secret_key(instance: Path) -> str:
    """Return the Flask secret key of instance/, generating it the first time."""
    path = instance / SECRET_KEY_FILE
    stored = read_private(path)
    if stored and stored.strip():
        return stored.strip()
    key = secrets.token_hex(32)
    write_private(path, key + "\n")
    logger.info("generated a new secret key in %s", path)
    return key


@dataclass
class Credentials:
    """What the demo prints again at each start; None until created."""

    token: str | None = None
    try_token: str | None = None
    teacher_email: str = "maitre.demo@example.org"
    teacher_password: str | None = None
    # The office's administrator (/bureau/); a file from before it gets one at the next start.
    admin_email: str = "direction.demo@example.org"
    admin_password: str | None = None
    mqtt_passwords: dict[str, str] = field(default_factory=dict)

    def mqtt_password(self, user: str) -> str:
        """Return a user's MQTT password, choosing a random one the first time."""
        if user not in self.mqtt_passwords:
            # URL-safe characters: the password goes into mqtt:// URLs and ws01=… lists.
            self.mqtt_passwords[user] = secrets.token_urlsafe(18).replace("_", "x")
        return self.mqtt_passwords[user]


def load_credentials(instance: Path) -> Credentials:
    """Read instance/demo.json; a missing or damaged file gives empty credentials."""
    path = instance / CREDENTIALS_FILE
    text = read_private(path)
    if text is None:
        return Credentials()
    try:
        data: Any = json.loads(text)
        if not isinstance(data, dict) or data.get("version") != CREDENTIALS_VERSION:
            raise ValueError("unexpected content")
        passwords = data.get("mqtt_passwords") or {}
        if not isinstance(passwords, dict) or not all(
            isinstance(v, str) for v in passwords.values()
        ):
            raise ValueError("unexpected MQTT passwords")
        return Credentials(
            token=_optional_str(data.get("token")),
            try_token=_optional_str(data.get("try_token")),
            teacher_email=_optional_str(data.get("teacher_email")) or Credentials.teacher_email,
            teacher_password=_optional_str(data.get("teacher_password")),
            admin_email=_optional_str(data.get("admin_email")) or Credentials.admin_email,
            admin_password=_optional_str(data.get("admin_password")),
            mqtt_passwords={str(k): v for k, v in passwords.items()},
        )
    except ValueError as exc:
        # Starting over costs new tokens and passwords, which the demo then prints.
        logger.warning("ignoring %s: %s", path, exc)
        return Credentials()


def save_credentials(instance: Path, credentials: Credentials) -> Path:
    """Write instance/demo.json (mode 0600) and return its path."""
    path = instance / CREDENTIALS_FILE
    payload = {"version": CREDENTIALS_VERSION, **asdict(credentials)}
    write_private(path, json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    return path


def _optional_str(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    return value or None
