"""Welding stations for the board's tests, through the real ingest path but without a broker.

Each message is built as docs/contract.md §6 describes it (tests/support/stations.py),
decoded by the MQTT transport's own decoder and handed to the ingest core exactly as the
worker does (``record_batch`` in a write transaction), so the board reads device status
and welds that the real code wrote. The broker itself is tested elsewhere.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from flask import current_app

from app.db import write_transaction
from app.extensions import db
from app.ingest.events import Actor, Origin
from app.ingest.welding import BatchResult, record_batch
from app.models import Site, utcnow
from app.mqtt.payloads import decode
from tests.support.stations import StationMessages


class WeldingStation:
    """One station's device: its boot id, its sequence numbers, its welds."""

    def __init__(self, device: str, site: str = "belfort") -> None:
        self.device = device
        self.site = site
        self.messages = StationMessages(device)
        self.boot_id = self.messages.boot_id

    def send(self, suffix: str, payload: dict[str, Any]) -> BatchResult:
        """Ingest one message as the worker would, committed; it must be accepted."""
        root = current_app.config["ATELIER_TOPIC_ROOT"]
        site_id = db.session.query(Site.id).filter(Site.code == self.site).scalar()
        prefix = f"{root}/{self.site}/"
        message = decode(
            f"{prefix}{self.device}/{suffix}", json.dumps(payload).encode(), utcnow(), prefix
        )
        origin = Origin(site_id, "mqtt", "", Actor("worker", "test"), utcnow(), "")
        result = write_transaction(
            lambda session: record_batch(session, origin, [message], utcnow())
        )
        assert result.rejected == 0, result.rejections
        return result

    def status(self, state: str) -> None:
        """Say the station is online (its birth) or offline (its Last Will)."""
        self.send("status", self.messages.status(state))

    def arc_start(self, start: datetime | None = None, process: str = "135") -> str:
        """Strike the arc; return the weld id."""
        weld_id = self.messages.next_weld_id()
        self.send("evt/arc", self.messages.arc_start(weld_id, start or utcnow(), process))
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
        """Stop the arc and send the weld's record (its energy from its mean figures)."""
        self.send(
            "evt/arc",
            self.messages.arc_end(
                weld_id,
                start,
                arc_s=arc_s,
                i_mean=i_mean,
                u_mean=u_mean,
                process=process,
                energy_j=round(i_mean * u_mean * arc_s),
            ),
        )

    def weld(self, start: datetime | None = None, **figures: Any) -> str:
        """Make a whole weld (arc on, then arc off with its record); return its weld id."""
        start = start or utcnow() - timedelta(seconds=figures.get("arc_s", 12.4))
        weld_id = self.arc_start(start, figures.get("process", "135"))
        self.arc_end(weld_id, start, **figures)
        return weld_id
