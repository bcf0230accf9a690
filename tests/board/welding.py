"""Welding stations for the board's tests, through the real ingest path but without a broker.

Each message is built as CONTRACT.md §6 describes it and handed to the ingest core exactly
as the MQTT worker does (``ingest_batch`` in a write transaction), so the board reads
device status and welds that the real code wrote. The broker itself is tested elsewhere.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app

from app.extensions import db
from app.ingest import catalog as catalog_module
from app.ingest.service import run_in_transaction
from app.ingest.welding import BatchResult, MqttMessage, ingest_batch
from app.models import utcnow


def stamp(moment: datetime) -> str:
    """Format a time as a station does: RFC 3339 UTC with milliseconds."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class WeldingStation:
    """One station's device: its boot id, its sequence numbers, its welds."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.boot_id = secrets.token_hex(4).upper()
        self.seq = 0
        self.welds = 0

    def send(self, suffix: str, payload: dict[str, Any]) -> BatchResult:
        """Ingest one message as the worker would, committed; it must be accepted."""
        root = current_app.config["ATELIER_TOPIC_ROOT"]
        # The test's own session may hold an older read snapshot: end it first.
        db.session.commit()

        def work(conn: Any) -> BatchResult:
            catalog = catalog_module.current(conn)
            message = MqttMessage(
                topic=f"{root}/{catalog.site}/{self.device}/{suffix}",
                payload=json.dumps(payload).encode(),
                received_at=utcnow(),
                retain=suffix == "status",
            )
            return ingest_batch(conn, catalog, [message], root, utcnow())

        result = run_in_transaction(work)
        assert result.rejected == 0, result.rejections
        return result

    def _next_seq(self) -> int:
        # Sequence numbers start at 0 on each boot: a first message above 0 means a loss.
        value = self.seq
        self.seq += 1
        return value

    def status(self, state: str) -> None:
        """Say the station is online (its birth) or offline (its Last Will)."""
        self.send(
            "status",
            {
                "v": 1,
                "state": state,
                "device": self.device,
                "boot_id": self.boot_id,
                "fw": "test",
                "ts": stamp(utcnow()),
            },
        )

    def arc_start(self, start: datetime | None = None, process: str = "135") -> str:
        """Strike the arc; return the weld id."""
        self.welds += 1
        weld_id = f"{self.device}-{self.boot_id}-{self.welds:04d}"
        self.send(
            "evt/arc",
            {
                "v": 1,
                "type": "arc_start",
                "device": self.device,
                "boot_id": self.boot_id,
                "seq": self._next_seq(),
                "weld_id": weld_id,
                "ts": stamp(start or utcnow()),
                "process": process,
            },
        )
        return weld_id

    def arc_end(
        self,
        weld_id: str,
        start: datetime,
        *,
        arc_s: float = 12.4,
        i_mean: float = 182.3,
        u_mean: float = 23.9,
        process: str = "135",
    ) -> None:
        """Stop the arc and send the weld's record."""
        self.send(
            "evt/arc",
            {
                "v": 1,
                "type": "arc_end",
                "device": self.device,
                "boot_id": self.boot_id,
                "seq": self._next_seq(),
                "weld_id": weld_id,
                "ts_start": stamp(start),
                "ts_end": stamp(start + timedelta(seconds=arc_s)),
                "arc_s": arc_s,
                "process": process,
                "i_a": {"mean": i_mean, "min": i_mean - 25, "max": i_mean + 20},
                "u_v": {"mean": u_mean, "min": u_mean - 2, "max": u_mean + 2},
                "wfs_m_min": 8.1,
                "gas_l_min": 14.0,
                "energy_j": round(i_mean * u_mean * arc_s),
                "length_mm": None,
            },
        )

    def weld(self, start: datetime | None = None, **figures: Any) -> str:
        """Make a whole weld (arc on, then arc off with its record); return its weld id."""
        start = start or utcnow() - timedelta(seconds=figures.get("arc_s", 12.4))
        weld_id = self.arc_start(start, figures.get("process", "135"))
        self.arc_end(weld_id, start, **figures)
        return weld_id
