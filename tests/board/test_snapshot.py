"""``board_snapshot()``: what the wall screen shows, from scans made through the real API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select

from app.extensions import db
from app.models import Event, StationContext, utcnow
from app.read.board import AWAITING_SHOWN, LATEST_WELDS, board_snapshot, workshop_timezone
from app.read.wording import NBSP
from tests.board.conftest import (
    HUGO,
    INES,
    LEA,
    LUCAS,
    card,
    finish_piece,
    review,
    set_completed_at,
    set_device,
    snapshot,
    welding_station,
)
from tests.board.welding import WeldingStation
from tests.factories import MINIMAL_SCHOOL, Scanner, load_school, make_token, site_id

PARIS = workshop_timezone()


def to_ms(moment: datetime) -> datetime:
    """Cut an instant to the millisecond, as stations write their timestamps."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


# -- stations --------------------------------------------------------------------------------


def test_a_student_badged_in_shows_on_the_station_with_the_run_in_progress(
    welder: Scanner,
) -> None:
    welder.ok(LUCAS)
    welder.ok(LEA)
    welder.ok("OF-2026-0001-20")
    welder.ok("P-2026-000001")

    station = card(snapshot(), "ST-SOUD-01")

    assert station.name == "Poste MAG 1 (135)"
    assert station.students == ("Lucas M.", "Léa C.")
    assert station.work_order is not None
    assert (station.work_order.number, station.work_order.product) == (
        "OF-2026-0001",
        "Support soudé",
    )
    assert station.operation is not None
    assert (station.operation.step, station.operation.name) == (20, "Soudage MAG (135)")
    assert station.piece == "P-2026-000001"
    assert station.run_status == "running"
    assert not station.idle


def test_a_paused_run_is_shown_paused(welder: Scanner) -> None:
    welder.ok(LUCAS)
    welder.ok("OF-2026-0001-20")
    welder.ok("P-2026-000001")
    welder.ok("A-PAUSE")

    assert card(snapshot(), "ST-SOUD-01").run_status == "paused"


def test_a_run_paused_because_everyone_left_keeps_its_operation_and_piece(
    welder: Scanner,
) -> None:
    welder.ok(LUCAS)
    welder.ok("OF-2026-0001-20")
    welder.ok("P-2026-000001")
    welder.ok(LUCAS)  # badged out: the run pauses until someone comes back

    station = card(snapshot(), "ST-SOUD-01")
    assert station.students == ()
    assert station.run_status == "paused"
    assert station.piece == "P-2026-000001"
    assert not station.idle


def test_a_work_order_selected_without_a_run_shows_without_a_status(cutter: Scanner) -> None:
    cutter.ok(HUGO)
    cutter.ok("OF-2026-0002")

    station = card(snapshot(), "ST-PLASMA")
    assert station.students == ("Hugo L.",)
    assert station.work_order is not None and station.work_order.number == "OF-2026-0002"
    assert station.operation is None and station.piece is None
    assert station.run_status is None


def test_a_station_everyone_left_is_idle_whatever_was_left_selected(cutter: Scanner) -> None:
    cutter.ok(HUGO)
    cutter.ok("OF-2026-0002-10")
    cutter.ok("P-2026-000010")
    cutter.ok("A-FIN")
    cutter.ok("OF-2026-0002")
    cutter.ok(HUGO)  # badged out

    plasma = card(snapshot(), "ST-PLASMA")
    assert plasma.idle
    assert (plasma.work_order, plasma.operation, plasma.piece) == (None, None, None)


def test_a_finished_run_leaves_the_station_without_a_run(cutter: Scanner) -> None:
    cutter.ok(HUGO)
    cutter.ok("OF-2026-0002-10")
    cutter.ok("P-2026-000010")
    cutter.ok("A-FIN")

    assert card(snapshot(), "ST-PLASMA").run_status is None


def test_stations_are_listed_welding_first_and_kiosks_are_left_out(school: None) -> None:
    codes = [station.code for station in snapshot().stations]
    assert codes == ["ST-SOUD-01", "ST-SOUD-02", "ST-PLASMA", "ST-PLIEUSE"]


def test_an_untouched_station_is_idle(school: None) -> None:
    plasma = card(snapshot(), "ST-PLASMA")
    assert plasma.idle and plasma.students == () and plasma.welding is None


def test_full_names_typed_into_the_school_file_are_shortened_on_the_board(
    welder: Scanner,
) -> None:
    load_school(text=MINIMAL_SCHOOL.read_text("utf-8").replace("Lucas M.", "Lucas Martin-Dubois"))
    welder.ok(LUCAS)

    assert card(snapshot(), "ST-SOUD-01").students == ("Lucas M.",)


# -- welding stations ---------------------------------------------------------------------


def test_a_welding_station_never_heard_from_is_unknown_with_the_arc_off(school: None) -> None:
    welding = card(snapshot(), "ST-SOUD-02").welding
    assert welding is not None
    assert (welding.state, welding.arc_on, welding.last_weld) == ("unknown", False, None)


def test_the_arc_on_shows_with_its_start(school: None) -> None:
    struck = to_ms(utcnow() - timedelta(seconds=4))  # stations send milliseconds
    set_device("ST-SOUD-01", "online", arc_on=True, arc_started_at=struck)
    set_device("ST-SOUD-02", "online", arc_on=False)

    board = snapshot()
    mag1, mag2 = card(board, "ST-SOUD-01"), card(board, "ST-SOUD-02")
    assert mag1.arc_on and mag1.welding is not None
    assert mag1.welding.arc_started_at == struck
    assert not mag1.idle  # the arc burns even with nobody badged in
    assert mag2.welding is not None and mag2.welding.online and not mag2.arc_on


def test_an_offline_station_never_shows_its_arc_on(school: None) -> None:
    set_device("ST-SOUD-01", "offline", arc_on=True, arc_started_at=utcnow())

    mag1 = card(snapshot(), "ST-SOUD-01")
    assert mag1.welding is not None and mag1.welding.state == "offline"
    assert not mag1.arc_on


def test_each_welding_station_shows_the_verdict_of_its_own_last_weld(welder: Scanner) -> None:
    welder.ok(LUCAS)
    welder.ok("OF-2026-0001-20")
    welder.ok("P-2026-000001")
    now = to_ms(utcnow())  # stations send milliseconds
    mag1 = welding_station("ST-SOUD-01")
    mag1.weld(now + timedelta(seconds=1), i_mean=182.3)  # in range
    mag1.weld(now + timedelta(seconds=30), i_mean=212.3)  # 12.3 A above the WPS
    # Nobody at ST-SOUD-02: its weld has no run, so no WPS to compare with.
    welding_station("ST-SOUD-02").weld(now - timedelta(minutes=3))

    board = snapshot()
    mag1, mag2 = card(board, "ST-SOUD-01").welding, card(board, "ST-SOUD-02").welding
    assert mag1 is not None and mag1.last_weld is not None
    assert mag1.last_weld.verdict.kind == "out_of_range"
    assert mag1.last_weld.verdict.label == f"Hors DMOS{NBSP}: intensité +12{NBSP}A"
    assert mag2 is not None and mag2.last_weld is not None
    assert mag2.last_weld.verdict.label == "Sans DMOS"
    assert mag2.last_weld.started_at == now - timedelta(minutes=3)


# -- latest welds ---------------------------------------------------------------------------


def test_latest_welds_are_the_newest_first_with_who_what_and_verdict(
    client: Any, welder: Scanner
) -> None:
    welder.ok(LUCAS)
    welder.ok("OF-2026-0001-20")
    welder.ok("P-2026-000001")
    start = utcnow() + timedelta(seconds=1)
    mag1, mag2 = welding_station("ST-SOUD-01"), welding_station("ST-SOUD-02")
    for minute in range(LATEST_WELDS + 2):
        mag1.weld(start + timedelta(minutes=minute), arc_s=10 + minute)
    # Nobody at ST-SOUD-02 yet: a TIG weld there waits for a teacher, with no WPS verdict.
    mag2.weld(start + timedelta(minutes=20), process="141", arc_s=31.25, i_mean=150.0, u_mean=20.1)
    other = Scanner(client, make_token("ST-SOUD-02"))
    other.ok(LEA)
    other.ok(INES)
    other.ok("OF-2026-0001-20")
    other.ok("P-2026-000002")
    mag2.weld(start + timedelta(minutes=30), arc_s=22.5, i_mean=180.0, u_mean=20.1)

    welds = snapshot().welds

    assert len(welds) == LATEST_WELDS
    assert [w.started_at for w in welds] == sorted((w.started_at for w in welds), reverse=True)
    newest = welds[0]
    assert newest.station == "Poste MAG 2 (135)"
    assert newest.students == ("Inès K.", "Léa C.")
    assert newest.process == "135 MAG"
    assert (newest.arc_s, newest.i_mean_a, newest.u_mean_v) == (22.5, 180.0, 20.1)
    assert newest.verdict.kind == "out_of_range"
    assert newest.verdict.label == f"Hors DMOS{NBSP}: tension \u22120,9{NBSP}V"
    assert newest.attributed
    waiting = welds[1]
    assert not waiting.attributed and waiting.students == ()
    assert waiting.process == "141 TIG" and waiting.verdict.label == "Sans DMOS"
    assert welds[2].attributed and welds[2].verdict.label == "Dans le DMOS"
    assert welds[2].arc_s == 10 + LATEST_WELDS + 1


def test_a_weld_ingested_through_the_core_shows_its_verdict_in_french(welder: Scanner) -> None:
    welder.ok(LUCAS)
    welder.ok("OF-2026-0001-20")
    welder.ok("P-2026-000001")
    station = WeldingStation("ws01")
    station.status("online")
    station.weld(utcnow(), i_mean=212.4, u_mean=23.9)

    board = snapshot()
    weld = board.welds[0]
    assert weld.attributed and weld.students == ("Lucas M.",)
    assert weld.verdict.label == f"Hors DMOS{NBSP}: intensité +12{NBSP}A"
    mag1 = card(board, "ST-SOUD-01")
    assert mag1.welding is not None and mag1.welding.online and not mag1.arc_on


# -- pieces ---------------------------------------------------------------------------------


def test_a_piece_through_its_whole_routing_is_finished_today_and_awaits_review(
    cutter: Scanner, bender: Scanner
) -> None:
    cutter.ok(HUGO)
    bender.ok(INES)
    finish_piece(cutter, bender, "P-2026-000010")

    board = snapshot()
    assert [(p.code, p.product) for p in board.finished_today] == [
        ("P-2026-000010", "Console pliée")
    ]
    assert [p.code for p in board.awaiting_review] == ["P-2026-000010"]
    assert board.awaiting_review_count == 1


def test_finished_today_follows_the_workshops_local_day(school: None) -> None:
    # 26 November in Paris (UTC+1) runs from 25 November 23:00 UTC to 26 November 23:00 UTC.
    set_completed_at("P-2026-000011", datetime(2026, 11, 25, 22, 59, tzinfo=UTC))
    set_completed_at("P-2026-000012", datetime(2026, 11, 25, 23, 30, tzinfo=UTC))
    set_completed_at("P-2026-000013", datetime(2026, 11, 26, 22, 59, tzinfo=UTC))
    morning = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)

    board = snapshot(now=morning, zone=PARIS)

    assert [p.code for p in board.finished_today] == ["P-2026-000013", "P-2026-000012"]
    # Waiting for review has nothing to do with the day: all three wait, the oldest first.
    assert [p.code for p in board.awaiting_review] == [
        "P-2026-000011",
        "P-2026-000012",
        "P-2026-000013",
    ]


def test_awaiting_review_shows_the_oldest_few_and_counts_them_all(school: None) -> None:
    codes = [f"P-2026-0000{20 + n}" for n in range(AWAITING_SHOWN + 2)]
    base = utcnow() - timedelta(hours=3)  # completion order: the reverse of the codes' order
    for minutes, code in enumerate(reversed(codes)):
        set_completed_at(code, base + timedelta(minutes=minutes))

    board = snapshot()

    assert board.awaiting_review_count == AWAITING_SHOWN + 2
    assert [p.code for p in board.awaiting_review] == list(reversed(codes))[:AWAITING_SHOWN]


def test_a_reviewed_piece_still_counts_as_finished_today_but_no_longer_awaits(
    cutter: Scanner, bender: Scanner
) -> None:
    cutter.ok(HUGO)
    bender.ok(INES)
    finish_piece(cutter, bender, "P-2026-000030")
    review("P-2026-000030", "conforme")

    board = snapshot()
    assert [p.code for p in board.finished_today] == ["P-2026-000030"]
    assert board.awaiting_review == () and board.awaiting_review_count == 0


# -- cost and side effects --------------------------------------------------------------------


@pytest.fixture
def statements(app: Any) -> Iterator[list[str]]:
    """Record every SQL statement the app's engine runs."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement.strip().split()[0].upper())

    event.listen(db.engine, "before_cursor_execute", record)
    yield seen
    event.remove(db.engine, "before_cursor_execute", record)


def _measure(statements: list[str], staff: bool = True) -> list[str]:
    db.session.commit()
    site = site_id()
    db.session.commit()
    statements.clear()
    board_snapshot(db.session(), site, staff=staff)
    return [s for s in statements if s not in {"BEGIN", "COMMIT", "ROLLBACK"}]


def test_the_snapshot_costs_the_same_few_selects_however_busy_the_workshop(
    welder: Scanner, cutter: Scanner, bender: Scanner, statements: list[str]
) -> None:
    welder.ok(LUCAS)
    welder.ok("OF-2026-0001-20")
    welder.ok("P-2026-000001")
    welding_station("ST-SOUD-01").weld(utcnow() + timedelta(seconds=1))
    quiet = _measure(statements)

    welder.ok(LEA)
    cutter.ok(HUGO)
    bender.ok(INES)
    finish_piece(cutter, bender, "P-2026-000040")
    finish_piece(cutter, bender, "P-2026-000041")
    for minute in range(12):
        code = "ST-SOUD-02" if minute % 2 else "ST-SOUD-01"
        welding_station(code).weld(utcnow() + timedelta(minutes=minute))
    set_device("ST-SOUD-01", "online", arc_on=True, arc_started_at=utcnow())
    set_device("ST-SOUD-02", "online")
    busy = _measure(statements)
    anonymous = _measure(statements, staff=False)

    assert quiet == busy == ["SELECT"] * 6
    assert anonymous == ["SELECT"] * 5  # who welded is not even read


def test_reading_the_board_writes_nothing(school: None, statements: list[str]) -> None:
    db.session.commit()
    states_before = db.session.execute(select(func.count()).select_from(StationContext)).scalar()
    events_before = db.session.execute(select(func.count()).select_from(Event)).scalar()

    board_snapshot(db.session(), site_id())
    board_snapshot(db.session(), site_id())
    db.session.commit()

    assert not {"INSERT", "UPDATE", "DELETE"} & set(statements)
    assert db.session.execute(select(func.count()).select_from(StationContext)).scalar() == (
        states_before
    )
    assert db.session.execute(select(func.count()).select_from(Event)).scalar() == events_before
