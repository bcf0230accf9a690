"""A simulated reader: posts scans to the HTTP scan API (CONTRACT section 5).

Each scan gets an event id minted here; a retry after a connection error, a timeout or a
5xx sends the same id and the same body, so the server records the scan once. A 422 is a
final refusal whose French message is what the kiosk would show: it is logged, never
raised, so a refused scan does not stop a simulation.
"""

from __future__ import annotations

import itertools
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Literal

import requests

from devices.sim.clock import format_ts, utc_now

logger = logging.getLogger(__name__)

ScanSource = Literal["rfid", "barcode", "keyboard", "touch"]
SCAN_PATH = "/api/v1/scans"
TIMEOUT_S = 5.0
MAX_ATTEMPTS = 5
RETRY_DELAY_S = 0.5
RETRY_DELAY_MAX_S = 5.0
EVENT_ID_MAX_LENGTH = 80


@dataclass(frozen=True)
class ScanOutcome:
    """What became of one scan."""

    event_id: str
    station: str | None
    code: str
    status: Literal["accepted", "duplicate", "rejected", "failed"]
    http_status: int | None
    kind: str | None = None
    message: str | None = None
    error_code: str | None = None
    attempts: int = 1

    @property
    def accepted(self) -> bool:
        """Tell whether the server took the scan (now or on an earlier attempt)."""
        return self.status in {"accepted", "duplicate"}


def source_for(code: str) -> ScanSource:
    """Return how a code is read: RFID for hexadecimal tag ids, barcode otherwise."""
    if 8 <= len(code) <= 14 and all(c in "0123456789ABCDEF" for c in code):
        return "rfid"
    return "barcode"


class ScanClient:
    """Posts scans with bearer-token auth, retrying transient failures with the same id."""

    def __init__(
        self,
        server_url: str,
        token: str,
        *,
        event_prefix: str = "sim",
        timeout_s: float = TIMEOUT_S,
        max_attempts: int = MAX_ATTEMPTS,
        retry_delay_s: float = RETRY_DELAY_S,
        clock: Callable[[], datetime] = utc_now,
        session: requests.Session | None = None,
    ) -> None:
        self.scan_url = server_url.rstrip("/") + SCAN_PATH
        self._token = token
        # Random per client and never seeded: re-running a seeded shift must not collide
        # with event ids the server has already recorded.
        self._prefix = f"{event_prefix}-{secrets.token_hex(4)}"
        self._counter = itertools.count(1)
        self._counter_lock = threading.Lock()
        self._timeout_s = timeout_s
        self._max_attempts = max(1, max_attempts)
        self._retry_delay_s = retry_delay_s
        self._clock = clock
        self._session = session or requests.Session()
        self._owns_session = session is None

    def new_event_id(self) -> str:
        """Mint a unique event id (at most 80 characters)."""
        with self._counter_lock:
            number = next(self._counter)
        event_id = f"{self._prefix}-{number:06d}"
        return event_id[-EVENT_ID_MAX_LENGTH:]

    def scan(
        self,
        code: str,
        *,
        station: str | None = None,
        source: ScanSource | None = None,
        stop: threading.Event | None = None,
    ) -> ScanOutcome:
        """Send one scan; retry transient failures; return the outcome without raising."""
        event_id = self.new_event_id()
        body: dict[str, Any] = {
            "event_id": event_id,
            "code": code,
            "source": source or source_for(code),
            "scanned_at": format_ts(self._clock()),
        }
        if station is not None:
            body["station"] = station
        headers = {"Authorization": f"Bearer {self._token}"}
        delay_s = self._retry_delay_s
        last_error = ""
        last_status: int | None = None
        for attempt in range(1, self._max_attempts + 1):
            try:
                response = self._session.post(
                    self.scan_url, json=body, headers=headers, timeout=self._timeout_s
                )
            except requests.RequestException as exc:
                last_error = type(exc).__name__
                last_status = None
            else:
                if response.status_code < 500:
                    return self._outcome(body, response, attempt)
                last_status = response.status_code
                last_error = f"HTTP {response.status_code}"
            if attempt < self._max_attempts:
                logger.info(
                    "scan %s (%s) attempt %d failed (%s); retrying in %.1f s",
                    event_id,
                    code,
                    attempt,
                    last_error,
                    delay_s,
                )
                if stop is not None:
                    if stop.wait(delay_s):
                        break
                else:
                    time.sleep(delay_s)
                delay_s = min(delay_s * 2, RETRY_DELAY_MAX_S)
        logger.warning("scan %s (%s) not delivered: %s", event_id, code, last_error)
        return ScanOutcome(
            event_id=event_id,
            station=station,
            code=code,
            status="failed",
            http_status=last_status,
            error_code="unreachable" if last_status is None else "server_error",
            message=last_error,
            attempts=attempt,
        )

    def close(self) -> None:
        """Close the HTTP session if this client created it."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> ScanClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _outcome(
        self, body: dict[str, Any], response: requests.Response, attempts: int
    ) -> ScanOutcome:
        data = _json_object(response)
        event_id = str(body["event_id"])
        code = str(body["code"])
        station = body.get("station")
        status = response.status_code
        if status in {200, 201}:
            message = _text(data.get("message"))
            logger.info("scan %s at %s accepted: %s", code, station, message)
            return ScanOutcome(
                event_id=event_id,
                station=station,
                code=code,
                status="duplicate" if data.get("duplicate") is True else "accepted",
                http_status=status,
                kind=_text(data.get("kind")),
                message=message,
                attempts=attempts,
            )
        error = data.get("error")
        error_data = error if isinstance(error, dict) else {}
        message = _text(error_data.get("message")) or response.text[:200]
        error_code = _text(error_data.get("code"))
        if status == 422:
            # The French feedback a student would read at the kiosk.
            logger.info("scan %s at %s refused (%s): %s", code, station, error_code, message)
        else:
            logger.warning(
                "scan %s at %s failed with HTTP %d (%s): %s",
                code,
                station,
                status,
                error_code,
                message,
            )
        return ScanOutcome(
            event_id=event_id,
            station=station,
            code=code,
            status="rejected",
            http_status=status,
            message=message,
            error_code=error_code,
            attempts=attempts,
        )


def _json_object(response: requests.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
