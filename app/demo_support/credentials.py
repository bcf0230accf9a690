"""The demo's private files in instance/: the Flask secret key and the demo credentials.

A device token and a one-time password are shown once by the CLI and stored only as hashes,
so the demo keeps the clear values in ``instance/demo.json`` to print them again on the next
``make demo``. Both files are readable by their owner only; instance/ is never committed.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

PRIVATE_MODE = 0o600
SECRET_KEY_FILE = "secret_key"  # noqa: S105  (a file name, not a secret)
CREDENTIALS_FILE = "demo.json"
CREDENTIALS_VERSION = 1
DEMO_TEACHER_EMAIL = "maitre.demo@example.org"
DEMO_TEACHER_NAME = "Maître de démo"
DEMO_TOKEN_NAME = "simulateur-demo"  # noqa: S105  (the token's label, not the token)


def ensure_private_dir(path: Path) -> None:
    """Create a directory readable by its owner only, if it does not exist yet."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def write_private(path: Path, text: str) -> None:
    """Write a file atomically with mode 0600, whatever mode an older copy had."""
    # mkstemp creates the file 0600 from the start: the secret is never readable by others,
    # not even for the instant between creating and chmod-ing it.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, PRIVATE_MODE)
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
    """Return the demo's Flask secret key, generating it into instance/ the first time."""
    path = instance / SECRET_KEY_FILE
    stored = read_private(path)
    if stored and stored.strip():
        return stored.strip()
    key = secrets.token_hex(32)
    write_private(path, key + "\n")
    logger.info("generated a new secret key in %s", path)
    return key


@dataclass
class DemoCredentials:
    """What the demo needs to print its logins again: the token and the teacher's password."""

    token: str | None = None
    teacher_email: str = DEMO_TEACHER_EMAIL
    teacher_password: str | None = None


def load_credentials(instance: Path) -> DemoCredentials:
    """Read instance/demo.json; a missing or unreadable file gives empty credentials."""
    path = instance / CREDENTIALS_FILE
    text = read_private(path)
    if text is None:
        return DemoCredentials()
    try:
        data: Any = json.loads(text)
        if not isinstance(data, dict) or data.get("version") != CREDENTIALS_VERSION:
            raise ValueError("unexpected content")
        return DemoCredentials(
            token=_optional_str(data.get("token")),
            teacher_email=_optional_str(data.get("teacher_email")) or DEMO_TEACHER_EMAIL,
            teacher_password=_optional_str(data.get("teacher_password")),
        )
    except ValueError as exc:
        # Starting over costs a new token and password, which the demo then prints.
        logger.warning("ignoring %s: %s", path, exc)
        return DemoCredentials()


def save_credentials(instance: Path, credentials: DemoCredentials) -> Path:
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
