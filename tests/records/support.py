"""Building blocks of the records' tests: finished pieces, reviews, kiosk and staff inputs.

Everything goes through the paths the application uses: scans to the API, welds through
the ingest core as the MQTT worker hands them over, reviews and records through
``app.boundary.submit``. An input can be stamped at a chosen instant (``at``): that is when
the core says it took effect, so the history's order is the test's, not the clock's.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.boundary import submit, web_origin
from app.extensions import db
from app.ingest import Outcome
from app.ingest.events import Actor, AssessmentInput, Origin, ReviewPiece
from app.models import Event, StaffUser, utcnow
from tests.board.welding import WeldingStation
from tests.factories import Scanner, make_token, site_id

LUCAS = "0A00F1C2D3"  # E2026-001, cap-rics
INES = "0A0012B45F"  # E2026-002, cap-rics
LEA = "B-0003"  # E2026-003, cap-metallier
CODES = {LUCAS: "E2026-001", INES: "E2026-002", LEA: "E2026-003"}


class Workshop:
    """The minimal school's welding station and its teacher, making and reviewing pieces."""

    def __init__(self, client: FlaskClient, teacher: StaffUser) -> None:
        self.client = client
        self.teacher = teacher
        self.welder = Scanner(client, make_token("ST-SOUD-01"))
        self.cutter = Scanner(client, make_token("ST-PLASMA"))
        self.station = WeldingStation("ws01")
        self.station.status("online")

    def weld_piece(
        self, piece: str, *badges: str, welds: int = 1, finish: bool = True, **figures: Any
    ) -> None:
        """Make a piece of OF-2026-0001: weld its step 20, then (``finish``) cut and check it.

        The students badge in, do each step (A-FIN) and badge out; a finished piece
        awaits its review.
        """
        for badge in badges:
            self.welder.ok(badge)
        self.welder.ok("OF-2026-0001-20")
        self.welder.ok(piece)
        for _ in range(welds):
            # The arc strikes now, while the run is active: the weld is the students'.
            self.station.weld(utcnow(), **{"arc_s": 2.0, **figures})
        self.welder.ok("A-FIN")
        for badge in badges:
            self.welder.ok(badge)  # badge out
        if not finish:
            return
        for badge in badges:
            self.cutter.ok(badge)
        for step in ("OF-2026-0001-10", "OF-2026-0001-30"):
            self.cutter.ok(step)
            self.cutter.ok(piece)
            self.cutter.ok("A-FIN")
        for badge in badges:
            self.cutter.ok(badge)

    def review(
        self,
        piece: str,
        levels: dict[str, str],
        *,
        competency: str = "cap-rics:C4",
        verdict: str = "conforme",
        at: datetime | None = None,
        comment: str | None = None,
    ) -> Outcome:
        """Review a finished piece: one level per student code of the given competency."""
        assessments = tuple(
            AssessmentInput(student, competency, level, comment)
            for student, level in levels.items()
        )
        return self.submit(ReviewPiece(piece, verdict, assessments), at=at)

    def submit(self, event: Any, *, at: datetime | None = None) -> Outcome:
        """Submit an input as the teacher, on a page, taking effect at ``at``."""
        origin = web_origin(self.teacher)
        if at is not None:
            origin = replace(origin, received_at=at)
        return submit(origin, event)


def kiosk_origin(at: datetime | None = None) -> Origin:
    """Return the origin of an input a kiosk's page sent (as kiosk scans carry theirs)."""
    return Origin(
        site_id=site_id(),
        channel="http",
        key=uuid.uuid4().hex,
        actor=Actor("kiosk", "borne"),
        received_at=at or utcnow(),
        body_sha256="",
    )


def rejected(outcome: Outcome, code: str) -> None:
    """Check an outcome is a refusal with this code, and that it is in the event log."""
    assert outcome.status == "rejected", outcome.body
    assert outcome.body["error"]["code"] == code, outcome.body
    assert outcome.body["error"]["message"]
    row = db.session.get(Event, outcome.event_id)
    assert row is not None and row.status == "rejected" and row.error_code == code
    db.session.rollback()


def count(model: Any) -> int:
    """Count a table's rows (a fresh read)."""
    db.session.rollback()
    return int(db.session.execute(select(func.count()).select_from(model)).scalar_one())
