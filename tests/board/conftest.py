"""Fixtures and helpers of the workshop board's tests (school: tests/data/school_minimal.yaml)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from app.board.queries import BoardSnapshot, StationCard, board_snapshot
from app.extensions import begin_write, db
from app.models import (
    DeviceStatus,
    OperationRun,
    Piece,
    Station,
    Student,
    Weld,
    WeldStudent,
    utcnow,
)
from tests.factories import Scanner, make_token

LUCAS = "0A00F1C2D3"  # E2026-001 « Lucas M. », RFID badge
INES = "B-0002"  # E2026-002 « Inès K. »
LEA = "B-0003"  # E2026-003 « Léa C. »
HUGO = "B-0004"  # E2026-004 « Hugo L. »

_weld_numbers = itertools.count(1)


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


def snapshot(**kwargs: Any) -> BoardSnapshot:
    """Read the board as a new request would (after what other connections committed)."""
    db.session.commit()
    return board_snapshot(**kwargs)


def card(board: BoardSnapshot, code: str) -> StationCard:
    """Return one station's card from a snapshot."""
    matches = [item for item in board.stations if item.code == code]
    assert len(matches) == 1, [item.code for item in board.stations]
    return matches[0]


def station_id(code: str) -> int:
    """Return a station's database id."""
    db.session.commit()
    return db.session.execute(select(Station.id).where(Station.code == code)).scalar_one()


def set_device(
    code: str, state: str = "online", arc_on: bool = False, arc_started_at: datetime | None = None
) -> None:
    """Write a station device's status with the ORM (the MQTT worker's job in production)."""
    sid = station_id(code)
    begin_write()
    device = db.session.get(DeviceStatus, sid) or DeviceStatus(station_id=sid, device=code.lower())
    device.state = state
    device.arc_on = arc_on
    device.arc_started_at = arc_started_at
    device.seen_at = utcnow()
    db.session.add(device)
    db.session.commit()


def add_weld(
    code: str,
    started_at: datetime,
    *,
    verdict: str = "in_range",
    deviations: list[dict[str, Any]] | None = None,
    attributed: bool = True,
    students: Sequence[str] = (),
    process: str | None = "135",
    arc_s: float = 12.4,
    i_mean_a: float = 182.3,
    u_mean_v: float = 23.9,
) -> None:
    """Write a weld with the ORM, as the MQTT worker would have recorded it."""
    sid = station_id(code)
    run_id = None
    if attributed:
        # Any run will do: the board only tells attributed welds from the others.
        run_id = db.session.execute(select(OperationRun.id).limit(1)).scalar()
        assert run_id is not None, "an attributed weld needs a run: start one first"
    number = next(_weld_numbers)
    begin_write()
    weld = Weld(
        weld_key=f"test-{number:04d}",
        station_id=sid,
        device=code.lower(),
        boot_id="TEST",
        started_at=started_at,
        ended_at=started_at + timedelta(seconds=arc_s),
        received_at=started_at + timedelta(seconds=arc_s + 0.1),
        arc_s=arc_s,
        process=process,
        i_mean_a=i_mean_a,
        u_mean_v=u_mean_v,
        verdict=verdict,
        deviations=deviations,
        run_id=run_id,
    )
    db.session.add(weld)
    db.session.flush()
    for student_code in students:
        student = db.session.execute(
            select(Student.id).where(Student.code == student_code)
        ).scalar_one()
        db.session.add(WeldStudent(weld_id=weld.id, student_id=student))
    db.session.commit()


def set_completed_at(piece_code: str, moment: datetime) -> None:
    """Move a finished piece's completion time (to test the local day's boundaries)."""
    begin_write()
    db.session.execute(update(Piece).where(Piece.code == piece_code).values(completed_at=moment))
    db.session.commit()


def finish_piece(cutter: Scanner, bender: Scanner, piece: str) -> None:
    """Make a piece of OF-2026-0002 through its whole routing (débit, then pliage)."""
    cutter.ok("OF-2026-0002-10")
    cutter.ok(piece)
    cutter.ok("A-FIN")
    bender.ok("OF-2026-0002-20")
    bender.ok(piece)
    bender.ok("A-FIN")
