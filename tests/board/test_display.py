"""How the board words things: short names, processes, verdicts, French numbers and times."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from app.read.board import local_day_bounds, workshop_timezone
from app.read.wording import (
    MINUS,
    NBSP,
    fr_number,
    french_order,
    local_date,
    local_hhmm,
    local_when,
    process_label,
    short_name,
    verdict_label,
)

PARIS = workshop_timezone()


def test_short_names_keep_a_first_name_and_an_initial() -> None:
    assert short_name("Lucas M.") == "Lucas M."
    assert short_name("Lucas Martin") == "Lucas M."
    assert short_name("Jean-Baptiste de la Tour") == "Jean-Baptiste D."
    assert short_name("  Inès   kaddour ") == "Inès K."
    assert short_name("Maël") == "Maël"
    assert short_name("Théo 2") == "Théo"
    assert short_name("") == ""


words = st.text(
    alphabet=st.characters(categories=["L"], exclude_characters="ıİ"), min_size=1, max_size=12
)


@given(first=words, others=st.lists(words, min_size=1, max_size=4))
def test_a_short_name_never_shows_more_than_the_first_word_and_one_letter(
    first: str, others: list[str]
) -> None:
    shown = short_name(" ".join([first, *others]))
    assert shown.startswith(first)
    rest = shown[len(first) :]
    assert rest in {"", f" {others[0][0].upper()}."}


def test_processes_are_named_by_number_and_workshop_name() -> None:
    assert process_label("135") == "135 MAG"
    assert process_label("141") == "141 TIG"
    assert process_label("111") == "111 électrode enrobée"
    assert process_label("999") == "999"
    assert process_label(None) is None


def test_verdicts_are_worded_with_the_field_and_the_signed_deviation() -> None:
    assert verdict_label("in_range") == "Dans le DMOS"
    assert verdict_label("no_wps") == "Sans DMOS"
    over = {"field": "i_a", "value": 212.3, "min": 160, "max": 200, "deviation": 12.3}
    under = {"field": "u_v", "value": 20.1, "min": 21, "max": 25, "deviation": -0.9}
    heat = {"field": "q_kj_mm", "value": 1.84, "min": 0.8, "max": 1.6, "deviation": 0.24}
    assert verdict_label("out_of_range", [over]) == f"Hors DMOS{NBSP}: intensité +12{NBSP}A"
    assert verdict_label("out_of_range", [under, heat]) == (
        f"Hors DMOS{NBSP}: tension {MINUS}0,9{NBSP}V, apport de chaleur +0,24{NBSP}kJ/mm"
    )


def test_a_deviation_without_its_amount_is_computed_from_the_range() -> None:
    below = {"field": "i_a", "value": 148.0, "min": 160, "max": 200}
    assert verdict_label("out_of_range", [below]) == f"Hors DMOS{NBSP}: intensité {MINUS}12{NBSP}A"


def test_a_tiny_deviation_is_never_shown_as_zero() -> None:
    just_over = {"field": "i_a", "value": 200.3, "min": 160, "max": 200, "deviation": 0.3}
    assert verdict_label("out_of_range", [just_over]) == f"Hors DMOS{NBSP}: intensité +0,3{NBSP}A"


def test_a_wrong_process_is_said_and_unknown_deviations_are_not_invented() -> None:
    process = {"field": "process", "value": "141", "expected": "135"}
    assert verdict_label("out_of_range", [process]) == (
        f"Hors DMOS{NBSP}: procédé 141 au lieu de 135"
    )
    assert verdict_label("out_of_range", [{"field": "wire"}, "junk"]) == "Hors DMOS"
    assert verdict_label("out_of_range", None) == "Hors DMOS"


def test_numbers_are_written_the_french_way() -> None:
    assert fr_number(23.94, 1) == "23,9"
    assert fr_number(182.3) == "182"
    assert fr_number(-0.04, 1) == "0,0"
    assert fr_number(-2.5, 1) == f"{MINUS}2,5"
    assert fr_number(None) == "–"


def test_times_are_the_workshops_local_time_in_winter_and_summer() -> None:
    winter = datetime(2026, 11, 26, 8, 41, tzinfo=UTC)
    summer = datetime(2026, 6, 15, 8, 41, tzinfo=UTC)
    assert local_hhmm(winter, PARIS) == "09:41"
    assert local_hhmm(summer, PARIS) == "10:41"
    assert local_date(winter, PARIS) == "jeudi 26 novembre"


def test_a_time_from_another_day_carries_its_date() -> None:
    now = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    assert local_when(datetime(2026, 11, 25, 23, 30, tzinfo=UTC), now, PARIS) == "00:30"
    assert local_when(datetime(2026, 11, 25, 15, 5, tzinfo=UTC), now, PARIS) == "25/11 16:05"


def test_the_local_day_starts_at_midnight_in_paris() -> None:
    start, end = local_day_bounds(datetime(2026, 3, 29, 12, 0, tzinfo=UTC), PARIS)
    # The night the clocks go forward, the day is 23 hours long.
    assert start == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    assert end == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)


def test_names_sort_as_a_french_reader_expects() -> None:
    assert sorted(["Lucas M.", "Léa C.", "Émile B.", "enzo B."], key=french_order) == [
        "Émile B.",
        "enzo B.",
        "Léa C.",
        "Lucas M.",
    ]
