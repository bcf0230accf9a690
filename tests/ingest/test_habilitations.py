"""Habilitations: a student without a valid one cannot start or join a run that needs it.

The school is the minimal one plus habilitations (docs/contract.md §2): the press brake
ST-PLIEUSE requires « Presse plieuse », the operation type SOUD-MAG requires « Soudage
MAG ». Dates are written relative to the workshop's local day, the one the rule reads.
"""

from __future__ import annotations

import copy
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select

from app.extensions import db
from app.models import Event, RunParticipant, Student
from app.read.wording import french_day
from tests.factories import MINIMAL_SCHOOL, Scanner, load_school, make_token, next_event_id
from tests.ingest.test_station_rules import present_at, run_of

LUCAS = "B-0001"  # E2026-001: both habilitations, until today
INES = "B-0002"  # E2026-002: « Presse plieuse » until yesterday
LEA = "B-0003"  # E2026-003: none
HUGO = "B-0004"  # E2026-004: « Presse plieuse » until next year, medical opinion lapsed
BEND = "OF-2026-0002-20"  # PLIAGE, on a bending station
WELD = "OF-2026-0001-20"  # SOUD-MAG, on a welding station


def workshop_today() -> date:
    """Return the workshop's local date (Europe/Paris), as the core computes it."""
    return datetime.now(ZoneInfo("Europe/Paris")).date()


def habilitated_school(derogation_until: date | None = None) -> dict[str, Any]:
    """Return the minimal school with habilitations required and held (or not)."""
    today = workshop_today()
    yesterday = today - timedelta(days=1)
    data: dict[str, Any] = copy.deepcopy(yaml.safe_load(MINIMAL_SCHOOL.read_text("utf-8")))
    press: dict[str, Any] = {"id": "PLIEUSE", "name": "Presse plieuse"}
    if derogation_until is not None:
        press["derogation_until"] = derogation_until.isoformat()
    data["habilitations"] = [press, {"id": "MAG", "name": "Soudage MAG"}]
    station = next(s for s in data["stations"] if s["code"] == "ST-PLIEUSE")
    station["requires"] = ["PLIEUSE"]
    op_type = next(t for t in data["operation_types"] if t["id"] == "SOUD-MAG")
    op_type["requires"] = ["MAG"]
    held = {
        "E2026-001": [
            {"id": "PLIEUSE", "until": today.isoformat(), "trainer": "M. Perrin"},
            {"id": "MAG", "until": today.isoformat()},
        ],
        "E2026-002": [{"id": "PLIEUSE", "until": yesterday.isoformat()}],
        "E2026-004": [
            {
                "id": "PLIEUSE",
                "until": (today + timedelta(days=365)).isoformat(),
                "medical_until": yesterday.isoformat(),
            }
        ],
    }
    for student in data["students"]:
        if student["id"] in held:
            student["habilitations"] = held[student["id"]]
    return data


def load(data: dict[str, Any]) -> None:
    load_school(text=yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


@pytest.fixture
def habilitated(app: Flask) -> None:
    load(habilitated_school())


@pytest.fixture
def press(client: FlaskClient, habilitated: None) -> Scanner:
    """The reader of the press brake ST-PLIEUSE, which requires « Presse plieuse »."""
    return Scanner(client, make_token("ST-PLIEUSE"))


@pytest.fixture
def welder(client: FlaskClient, habilitated: None) -> Scanner:
    """The reader of ST-SOUD-01, where SOUD-MAG requires « Soudage MAG »."""
    return Scanner(client, make_token("ST-SOUD-01"))


def participants(piece: str, step: int) -> list[str]:
    run = run_of(piece, step)
    assert run is not None
    return sorted(
        db.session.execute(
            select(Student.code)
            .join(RunParticipant, RunParticipant.student_id == Student.id)
            .where(RunParticipant.run_id == run.id)
        ).scalars()
    )


# -- starting ----------------------------------------------------------------------------


def test_a_student_without_the_stations_habilitation_cannot_start_there(press: Scanner) -> None:
    press.ok(LEA)
    press.ok(BEND)
    body = press.refused("P-2026-000001", "not_habilitated")
    assert body["error"]["message"] == (
        "Léa n'a pas l'habilitation « Presse plieuse » : demande à ton maître pro."
    )
    assert run_of("P-2026-000001", 20) is None  # nor the piece: nothing was written


def test_a_habilitation_that_ended_yesterday_refuses_and_says_when(press: Scanner) -> None:
    yesterday = workshop_today() - timedelta(days=1)
    press.ok(INES)
    press.ok("OF-2026-0002")
    press.ok("P-2026-000001")  # piece first, then the operation: the same rule
    body = press.refused(BEND, "not_habilitated")
    assert body["error"]["message"] == (
        f"L'habilitation « Presse plieuse » d'Inès a expiré le {french_day(yesterday)} : "
        "demande à ton maître pro."
    )


def test_a_habilitation_holds_through_its_last_day(press: Scanner) -> None:
    press.ok(LUCAS)
    press.ok(BEND)
    body = press.ok("P-2026-000001")
    assert body["message"].startswith("Nouvelle pièce P-2026-000001")
    assert "C'est parti : Pliage" in body["message"]
    assert participants("P-2026-000001", 20) == ["E2026-001"]


def test_a_lapsed_medical_opinion_refuses_even_before_until(press: Scanner) -> None:
    press.ok(HUGO)
    press.ok(BEND)
    body = press.refused("P-2026-000001", "not_habilitated")
    assert "de Hugo a expiré le" in body["error"]["message"]


def test_the_places_lapsed_derogation_refuses_everyone(client: FlaskClient, app: Flask) -> None:
    load(habilitated_school(derogation_until=workshop_today() - timedelta(days=1)))
    press = Scanner(client, make_token("ST-PLIEUSE"))
    press.ok(LUCAS)
    press.ok(BEND)
    press.refused("P-2026-000001", "not_habilitated")


def test_an_operation_types_requirement_applies_at_any_station(welder: Scanner) -> None:
    welder.ok(LEA)
    welder.ok(WELD)
    body = welder.refused("P-2026-000001", "not_habilitated")
    assert body["error"]["message"] == (
        "Léa n'a pas l'habilitation « Soudage MAG » : demande à ton maître pro."
    )
    welder.ok(LEA)  # out
    welder.ok(LUCAS)
    assert "C'est parti" in welder.ok("P-2026-000001")["message"]


def test_a_team_starts_only_when_every_student_present_is_habilitated(press: Scanner) -> None:
    press.ok(LUCAS)
    press.ok(LEA)
    press.ok(INES)
    press.ok(BEND)
    body = press.refused("P-2026-000001", "not_habilitated")
    assert body["error"]["message"].startswith("Léa et Inès n'ont pas l'habilitation")
    assert "Lucas" not in body["error"]["message"]
    press.ok(LEA)  # out
    press.ok(INES)  # out
    press.ok("P-2026-000001")
    assert participants("P-2026-000001", 20) == ["E2026-001"]


def test_a_station_that_requires_nothing_is_open_to_everyone(
    client: FlaskClient, habilitated: None
) -> None:
    cutter = Scanner(client, make_token("ST-PLASMA"))
    cutter.ok(LEA)
    cutter.ok("OF-2026-0002-10")
    assert "C'est parti" in cutter.ok("P-2026-000001")["message"]


# -- joining -----------------------------------------------------------------------------


def test_badging_in_at_a_running_run_without_the_habilitation_is_refused(
    press: Scanner,
) -> None:
    press.ok(LUCAS)
    press.ok(BEND)
    press.ok("P-2026-000001")
    body = press.refused(LEA, "not_habilitated")
    assert "Léa n'a pas l'habilitation « Presse plieuse »" in body["error"]["message"]
    assert present_at("ST-PLIEUSE") == ["E2026-001"]
    assert participants("P-2026-000001", 20) == ["E2026-001"]


def test_a_student_moving_from_another_station_stays_there_when_refused(
    client: FlaskClient, press: Scanner
) -> None:
    cutter = Scanner(client, make_token("ST-PLASMA"))
    cutter.ok(LEA)
    press.ok(LUCAS)
    press.ok(BEND)
    press.ok("P-2026-000001")
    press.refused(LEA, "not_habilitated")
    assert present_at("ST-PLASMA") == ["E2026-003"]


def test_resuming_or_finishing_waits_for_who_is_not_habilitated(press: Scanner) -> None:
    press.ok(LUCAS)
    press.ok(BEND)
    press.ok("P-2026-000001")
    press.ok("A-PAUSE")
    press.ok(LEA)  # the run is paused: she badges in, but cannot make it go on
    press.refused("A-PAUSE", "not_habilitated")
    press.refused("A-FIN", "not_habilitated")
    press.ok(LEA)  # out
    press.ok("A-PAUSE")
    press.ok("A-FIN")
    assert participants("P-2026-000001", 20) == ["E2026-001"]


def test_a_kiosk_cannot_move_an_unhabilitated_student_to_a_running_run(
    client: FlaskClient, press: Scanner
) -> None:
    press.ok(LUCAS)
    press.ok(BEND)
    press.ok("P-2026-000001")
    kiosk = Scanner(client, make_token("ST-KIOSK-1"))
    kiosk.ok(LEA)
    kiosk.refused("ST-PLIEUSE", "not_habilitated")
    assert present_at("ST-KIOSK-1") == ["E2026-003"]
    assert present_at("ST-PLIEUSE") == ["E2026-001"]


def test_a_refusal_is_in_the_event_log(press: Scanner) -> None:
    press.ok(LEA)
    press.ok(BEND)
    key = next_event_id("hab")
    press.refused("P-2026-000001", "not_habilitated", event_id=key)
    db.session.commit()
    logged = db.session.execute(select(Event).where(Event.key == key)).scalar_one()
    assert (logged.status, logged.error_code) == ("rejected", "not_habilitated")
    assert logged.reason is not None and "lacks PLIEUSE at ST-PLIEUSE" in logged.reason


# -- the hot path ------------------------------------------------------------------------


def test_a_scan_where_nothing_is_required_reads_no_habilitation(
    client: FlaskClient, habilitated: None
) -> None:
    cutter = Scanner(client, make_token("ST-PLASMA"))
    cutter.ok(LEA)
    cutter.ok("OF-2026-0002-10")
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        cutter.ok("P-2026-000001")
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert not [s for s in statements if "student_habilitations" in s]
