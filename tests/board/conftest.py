"""Fixtures and helpers of the workshop board's tests (school: tests/data/school_minimal.yaml)."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from app.boundary import submit, web_origin
from app.extensions import db
from app.ingest.events import Actor, Origin, ReviewPiece, Scan
from app.models import StaffUser, utcnow
from app.read.board import board_snapshot
from tests.board.welding import WeldingStation
from tests.factories import Scanner, make_staff, make_token, next_event_id, site_id

LUCAS = "0A00F1C2D3"  # E2026-001 « Lucas M. », RFID badge
INES = "B-0002"  # E2026-002 « Inès K. »
LEA = "B-0003"  # E2026-003 « Léa C. »
HUGO = "B-0004"  # E2026-004 « Hugo L. »


@pytest.fixture
def welder(client: FlaskClient, school: None) -> Scanner:
    """The reader of welding station ST-SOUD-01."""
    return Scanner(client, make_token("ST-SOUD-01", name="soudure 1"))


@pytest.fixture
def cutter(client: FlaskClient, school: None) -> Scanner:
    """The reader of the plasma cutting table ST-PLASMA."""
    return Scanner(client, make_token("ST-PLASMA", name="plasma"))


@pytest.fixture
def bender(client: FlaskClient, school: None) -> Scanner:
    """The reader of the press brake ST-PLIEUSE."""
    return Scanner(client, make_token("ST-PLIEUSE", name="plieuse"))


def attrs(value: Any) -> Any:
    """Give the board's plain values attribute access (``card.welding.state``), for reading."""
    if isinstance(value, dict):
        return SimpleNamespace(**{key: attrs(item) for key, item in value.items()})
    if isinstance(value, list):
        return tuple(attrs(item) for item in value)
    return value


def snapshot(staff: bool = True, **kwargs: Any) -> Any:
    """Read the board as a new request would (after what other connections committed).

    As the site's signed-in staff see it (names beside verdicts) unless ``staff=False``.
    """
    db.session.commit()
    return attrs(board_snapshot(db.session(), site_id(), staff=staff, **kwargs))


def card(board: Any, code: str) -> Any:
    """Return one station's card from a snapshot."""
    matches = [item for item in board.stations if item.code == code]
    assert len(matches) == 1, [item.code for item in board.stations]
    return matches[0]


DEVICES = {"ST-SOUD-01": "ws01", "ST-SOUD-02": "ws02"}
_stations: dict[str, WeldingStation] = {}


def welding_station(code: str) -> WeldingStation:
    """Return the (simulated) device of a welding station of the minimal school."""
    device = DEVICES[code]
    station = _stations.get(device)
    if station is None or station.site != "belfort":
        station = _stations[device] = WeldingStation(device)
    return station


def set_device(
    code: str, state: str = "online", arc_on: bool = False, arc_started_at: datetime | None = None
) -> None:
    """Make a station's device say it is online or offline, its arc struck or not.

    Through the real path: its birth or Will, and an ``arc_start`` when the arc is on.
    """
    station = WeldingStation(DEVICES[code])
    _stations[DEVICES[code]] = station
    station.status("online")
    if arc_on:
        station.arc_start(arc_started_at or utcnow())
    if state != "online":
        station.status(state)


def set_completed_at(piece_code: str, moment: datetime) -> None:
    """Make a piece of OF-2026-0002 through its whole routing at a given time (the core's clock)."""
    for station, codes in (
        ("ST-PLASMA", [HUGO, "OF-2026-0002-10", piece_code, "A-FIN", HUGO]),
        ("ST-PLIEUSE", [INES, "OF-2026-0002-20", piece_code, "A-FIN", INES]),
    ):
        for offset, code in enumerate(codes):
            scan_at(station, code, moment - timedelta(seconds=10 - offset))


def scan_at(station: str, code: str, moment: datetime) -> dict[str, Any]:
    """Hand a scan to the core as the scan API does, received at a given time."""
    origin = Origin(
        site_id(),
        "http",
        next_event_id("at"),
        Actor("device", "test"),
        moment,
        "",
    )
    outcome = submit(origin, Scan(code, station, "barcode", None))
    assert outcome.accepted, outcome.body
    return outcome.body


def review(piece_code: str, verdict: str = "conforme") -> None:
    """Give a finished piece a teacher's verdict, through the core."""
    teacher = db.session.execute(select(StaffUser).limit(1)).scalar_one_or_none() or make_staff()
    outcome = submit(web_origin(teacher), ReviewPiece(piece_code, verdict))
    assert outcome.accepted, outcome.body


def finish_piece(cutter: Scanner, bender: Scanner, piece: str) -> None:
    """Make a piece of OF-2026-0002 through its whole routing (débit, then pliage)."""
    cutter.ok("OF-2026-0002-10")
    cutter.ok(piece)
    cutter.ok("A-FIN")
    bender.ok("OF-2026-0002-20")
    bender.ok(piece)
    bender.ok("A-FIN")
