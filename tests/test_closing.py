"""The closing time: its setting (ATELIER_CLOSING_TIME) and which instant closes which day."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from app import create_app
from app.closing import closing_instant, day_to_close, next_closing
from app.config import Config, ConfigError, parse_closing_time
from app.read.board import workshop_timezone

PARIS = workshop_timezone()


def paris(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """Return a Paris wall-clock time as a UTC instant."""
    return datetime.combine(day, time(hour, minute, second), PARIS).astimezone(UTC)


WINTER = date(2026, 11, 26)
SUMMER = date(2026, 6, 30)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, time(18, 0)),
        ("", time(18, 0)),
        ("  ", time(18, 0)),
        ("17:30", time(17, 30)),
        (" 7:05 ", time(7, 5)),
        ("00:00", time(0, 0)),
        ("23:59", time(23, 59)),
    ],
)
def test_a_closing_time_is_read_as_hh_mm_with_18_00_by_default(
    text: str | None, expected: time
) -> None:
    assert parse_closing_time(text) == expected


@pytest.mark.parametrize("text", ["18h00", "25:00", "18:60", "18", "18:00:00", "6pm", "-1:00"])
def test_a_closing_time_that_is_not_hh_mm_is_refused_in_french(text: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_closing_time(text)
    message = str(refused.value)
    assert message.startswith("ATELIER_CLOSING_TIME doit être une heure au format HH:MM")
    assert repr(text) in message


def test_the_closing_time_comes_from_the_environment_into_the_app_config() -> None:
    config = Config.from_env("/tmp", environ={"ATELIER_CLOSING_TIME": "16:45"})
    assert time(16, 45) == config.CLOSING_TIME
    assert time(18, 0) == Config.from_env("/tmp", environ={}).CLOSING_TIME
    config.SECRET_KEY = "x"
    assert config.flask_mapping()["ATELIER_CLOSING_TIME"] == time(16, 45)


def test_an_invalid_closing_time_stops_the_app_with_the_french_sentence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ATELIER_CLOSING_TIME", "dix-huit heures")
    with pytest.raises(SystemExit) as stopped:
        create_app()
    assert str(stopped.value).startswith("Erreur : ATELIER_CLOSING_TIME doit être")


def test_the_closing_instant_follows_the_workshop_clock_through_summer_time() -> None:
    assert closing_instant(WINTER, time(18, 0), PARIS) == datetime(2026, 11, 26, 17, tzinfo=UTC)
    assert closing_instant(SUMMER, time(18, 0), PARIS) == datetime(2026, 6, 30, 16, tzinfo=UTC)


def test_a_close_run_late_takes_effect_at_the_closing_time() -> None:
    day, closes_at = day_to_close(paris(WINTER, 18, 0, 3), time(18, 0), PARIS)
    assert (day, closes_at) == (WINTER, paris(WINTER, 18))
    day, closes_at = day_to_close(paris(WINTER, 23, 50), time(18, 0), PARIS)
    assert (day, closes_at) == (WINTER, paris(WINTER, 18))


def test_a_close_run_before_the_closing_time_takes_effect_at_once() -> None:
    early = paris(WINTER, 15, 12)
    assert day_to_close(early, time(18, 0), PARIS) == (WINTER, early)


def test_a_close_run_after_local_midnight_is_the_new_day_s() -> None:
    # 00:30 in Paris is still the 26th in UTC: the local date decides.
    just_after_midnight = paris(date(2026, 11, 27), 0, 30)
    assert just_after_midnight.date() == WINTER
    day, _ = day_to_close(just_after_midnight, time(18, 0), PARIS)
    assert day == date(2026, 11, 27)


def test_the_next_closing_is_today_s_until_it_passes_then_tomorrow_s() -> None:
    assert next_closing(paris(WINTER, 9), time(18, 0), PARIS) == paris(WINTER, 18)
    assert next_closing(paris(WINTER, 18), time(18, 0), PARIS) == paris(date(2026, 11, 27), 18)
    assert next_closing(paris(WINTER, 21), time(18, 0), PARIS) == paris(date(2026, 11, 27), 18)
