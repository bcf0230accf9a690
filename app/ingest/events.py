"""Inputs as the core sees them: frozen dataclasses built by each transport."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

SOURCES = ("rfid", "barcode", "keyboard", "touch")


@dataclass(frozen=True)
class ScanInput:
    """A scan as received from a device: the code, where and how it was read."""

    event_id: str
    code: str
    station_code: str | None
    source: str | None
    scanned_at: datetime | None
    body_sha256: str
    device_token_id: int | None = None
    # The station a device token is bound to, when it is.
    bound_station_id: int | None = None
    channel: str = "http"


@dataclass(frozen=True)
class Outcome:
    """What the core answers to an input: an HTTP-like status and the response body."""

    http_status: int
    body: dict[str, Any]
    duplicate: bool = False
    event_db_id: int | None = None
