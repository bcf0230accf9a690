"""The demo's closing bell (demo/closing.py), on a clock the test turns by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from app.read.board import workshop_timezone
from demo.closing import TICK_S, ClosingBell, ring
from demo.run import LABELS

PARIS = workshop_timezone()
SIX_PM = time(18, 0)
DAY = date(2026, 11, 26)


def paris(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """Return a Paris wall-clock time as a UTC instant."""
    return datetime.combine(day, time(hour, minute, second), PARIS).astimezone(UTC)


def test_the_bell_rings_once_when_the_closing_time_passes_then_again_the_next_day() -> None:
    bell = ClosingBell.starting(paris(DAY, 8), SIX_PM, PARIS)
    assert not bell.due(paris(DAY, 17, 59, 59))
    assert bell.due(paris(DAY, 18, 0, 10))
    assert not bell.due(paris(DAY, 18, 0, 25))
    assert not bell.due(paris(DAY, 23, 59))
    next_day = DAY + timedelta(days=1)
    assert not bell.due(paris(next_day, 9))
    assert bell.due(paris(next_day, 18, 0, 5))


def test_a_demo_started_after_the_closing_time_waits_for_tomorrow_s() -> None:
    bell = ClosingBell.starting(paris(DAY, 19, 30), SIX_PM, PARIS)
    assert not bell.due(paris(DAY, 19, 30, 15))
    assert bell.next_at == paris(DAY + timedelta(days=1), 18)


def test_a_machine_asleep_over_the_closing_time_rings_that_evening_not_the_next_morning() -> None:
    evening = ClosingBell.starting(paris(DAY, 17), SIX_PM, PARIS)
    assert evening.due(paris(DAY, 21, 40))  # woken the same evening: close (at 18:00)

    morning = ClosingBell.starting(paris(DAY, 17), SIX_PM, PARIS)
    next_day = DAY + timedelta(days=1)
    assert not morning.due(paris(next_day, 7, 45))  # the students are arriving: no
    assert morning.due(paris(next_day, 18, 0, 1))


def test_the_closing_time_is_the_workshop_s_across_a_change_to_summer_time() -> None:
    before = date(2026, 3, 28)  # clocks go forward in the night of the 28th to the 29th
    bell = ClosingBell.starting(paris(before, 19), SIX_PM, PARIS)
    assert bell.next_at == datetime(2026, 3, 29, 16, tzinfo=UTC)  # 18:00 CEST


def test_the_loop_closes_when_due_and_only_then_on_an_injected_clock() -> None:
    times = iter(
        [
            paris(DAY, 17, 59, 50),  # due?
            paris(DAY, 17, 59, 50),  # how long to wait
            paris(DAY, 18, 0, 1),
            paris(DAY, 18, 0, 1),
            paris(DAY, 18, 0, 16),
            paris(DAY, 18, 0, 16),
        ]
    )
    slept: list[float] = []
    closes: list[str] = []
    bell = ClosingBell.starting(paris(DAY, 17), SIX_PM, PARIS)
    rounds = iter([True, True, True, False])

    def close() -> bool:
        closes.append("day close")
        return True

    ring(
        bell,
        now=lambda: next(times),
        sleep=slept.append,
        close=close,
        running=lambda: next(rounds),
    )

    assert closes == ["day close"]
    assert slept == [10.0, TICK_S, TICK_S]


def test_a_failed_close_does_not_stop_the_bell() -> None:
    clock = [paris(DAY, 18, 0, 1)]
    attempts: list[datetime] = []
    bell = ClosingBell.starting(paris(DAY, 17), SIX_PM, PARIS)
    rounds = iter([True, True, False])

    def fail() -> bool:
        attempts.append(clock[0])
        return False

    def sleep(seconds: float) -> None:
        clock[0] += timedelta(days=1)

    ring(bell, now=lambda: clock[0], sleep=sleep, close=fail, running=lambda: next(rounds))

    assert attempts == [paris(DAY, 18, 0, 1), paris(DAY + timedelta(days=1), 18, 0, 1)]


def test_the_demo_names_the_bell_in_french_when_it_stops() -> None:
    assert LABELS["closing"] == "horloge de fin de journée"
