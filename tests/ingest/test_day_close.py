"""The end of the school's day (`day close`): no run's clock and no presence stay open overnight."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select

from app.boundary import day_close_origin, submit
from app.closing import closing_instant
from app.extensions import db
from app.ingest import Outcome
from app.ingest.day import summary
from app.ingest.events import DayClose
from app.models import (
    Event,
    OperationRun,
    Presence,
    RunInterval,
    Station,
    StationContext,
    utcnow,
)
from app.read.board import workshop_timezone
from tests.factories import Scanner, make_token, site_id
from tests.ingest.test_station_rules import HUGO, INES, LEA, LUCAS, present_at, start_weld

PARIS = workshop_timezone()
TODAY = date(2026, 11, 26)


@pytest.fixture
def second(client: FlaskClient, scanner: Scanner) -> Scanner:
    """A reader bound to the other welding station, ST-SOUD-02."""
    return Scanner(client, make_token("ST-SOUD-02"))


@pytest.fixture
def kiosk(client: FlaskClient, scanner: Scanner) -> Scanner:
    """The kiosk ST-KIOSK-1's reader."""
    return Scanner(client, make_token("ST-KIOSK-1"))


def busy_workshop(scanner: Scanner, second: Scanner, kiosk: Scanner) -> None:
    """Lucas and Inès weld at ST-SOUD-01, Léa calls for help at ST-SOUD-02, Hugo is at ST-PLASMA."""
    start_weld(scanner, LUCAS, INES)
    second.ok(LEA)
    second.ok("A-AIDE")
    kiosk.ok("ST-PLASMA")
    kiosk.ok(HUGO)


def close_day(closes_at: datetime, *, ran_at: datetime | None = None, day: date = TODAY) -> Outcome:
    """Submit the site's day close, effective at ``closes_at``, run at ``ran_at``."""
    origin = day_close_origin(site_id(), day)
    if ran_at is not None:
        origin = replace(origin, received_at=ran_at)
    outcome = submit(origin, DayClose(day, closes_at))
    db.session.commit()  # see what the close committed on its own connection
    return outcome


def stations_api(client: FlaskClient) -> dict[str, dict[str, Any]]:
    """Return GET /api/v1/stations by station code."""
    token = make_token(read=True, name="lecture")
    answer = client.get("/api/v1/stations", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    return {s["code"]: s for s in answer.get_json()["stations"]}


def run_at(station_code: str) -> OperationRun:
    """Return the one run started at a station."""
    return db.session.execute(
        select(OperationRun).join(Station).where(Station.code == station_code)
    ).scalar_one()


def open_rows() -> tuple[int, int]:
    """Return how many presences and run intervals are still open."""
    presences = db.session.execute(
        select(func.count()).select_from(Presence).where(Presence.ended_at.is_(None))
    ).scalar_one()
    intervals = db.session.execute(
        select(func.count()).select_from(RunInterval).where(RunInterval.ended_at.is_(None))
    ).scalar_one()
    return presences, intervals


def test_a_day_close_pauses_runs_badges_everyone_out_and_ends_calls_at_the_closing_instant(
    client: FlaskClient, scanner: Scanner, second: Scanner, kiosk: Scanner
) -> None:
    busy_workshop(scanner, second, kiosk)
    assert stations_api(client)["ST-SOUD-02"]["help_since"] is not None
    closes_at = utcnow()
    ran_at = closes_at + timedelta(seconds=3)  # the timer started a little late

    outcome = close_day(closes_at, ran_at=ran_at)

    assert outcome.status == "accepted", outcome.body
    assert outcome.body["message"] == (
        "Fin de journée : 1 opération mise en pause, 4 élèves badgés sortis, 1 appel à l'aide clos."
    )
    assert outcome.body["paused"] == 1
    assert outcome.body["badged_out"] == 4
    assert outcome.body["kiosks_released"] == 1
    assert open_rows() == (0, 0)
    run = run_at("ST-SOUD-01")
    assert run.status == "paused"
    assert [i.ended_at for i in run.intervals] == [closes_at]
    ended = db.session.execute(select(Presence.ended_at).distinct()).scalars().all()
    assert ended == [closes_at]
    for code in ("ST-SOUD-01", "ST-SOUD-02", "ST-PLASMA"):
        assert present_at(code) == []
    event = db.session.get(Event, outcome.event_id)
    assert event is not None
    assert (event.kind, event.channel, event.status) == ("day.close", "cli", "accepted")
    assert event.received_at == ran_at
    assert event.payload == {"day": "2026-11-26", "closes_at": outcome.body["closes_at"]}
    assert event.undoable is False and event.station_id is None


def test_the_stations_read_side_shows_paused_runs_and_empty_stations_after_a_close(
    client: FlaskClient, scanner: Scanner, second: Scanner, kiosk: Scanner
) -> None:
    busy_workshop(scanner, second, kiosk)
    close_day(utcnow())

    stations = stations_api(client)
    for station in stations.values():
        assert station["students"] == []
        assert station["help_since"] is None
    assert stations["ST-SOUD-01"]["run"]["status"] == "paused"
    assert stations["ST-KIOSK-1"]["acting_for"] is None


def test_closing_the_same_day_twice_is_a_duplicate_that_changes_nothing(
    scanner: Scanner, second: Scanner, kiosk: Scanner
) -> None:
    busy_workshop(scanner, second, kiosk)
    first = close_day(utcnow())
    contexts = db.session.execute(select(func.count()).select_from(StationContext)).scalar_one()
    scanner.ok(LUCAS)  # someone comes back after the close: the second close leaves them

    again = close_day(utcnow() + timedelta(hours=1))

    assert again.status == "duplicate"
    assert again.event_id == first.event_id
    assert again.body["message"] == first.body["message"]
    assert present_at("ST-SOUD-01") == ["E2026-001"]
    after = db.session.execute(select(func.count()).select_from(StationContext)).scalar_one()
    assert after == contexts + 1  # Lucas's scan only
    closes = db.session.execute(
        select(func.count()).select_from(Event).where(Event.kind == "day.close")
    ).scalar_one()
    assert closes == 1


def test_the_next_day_closes_again(scanner: Scanner) -> None:
    start_weld(scanner, LUCAS)
    close_day(utcnow(), day=TODAY)
    scanner.ok(LUCAS)  # the next morning: the run resumes, as after a last student's exit

    outcome = close_day(utcnow(), day=TODAY + timedelta(days=1))

    assert outcome.status == "accepted"
    assert outcome.body["paused"] == 1 and outcome.body["badged_out"] == 1
    assert open_rows() == (0, 0)


def test_what_began_after_the_closing_instant_ends_when_it_began_never_before(
    scanner: Scanner,
) -> None:
    start_weld(scanner, LUCAS)
    run = run_at("ST-SOUD-01")
    began = run.intervals[0].started_at

    close_day(began - timedelta(minutes=10))  # a scan came after the closing instant

    db.session.expire_all()
    interval = run_at("ST-SOUD-01").intervals[0]
    assert interval.ended_at == began
    presence = db.session.execute(select(Presence)).scalar_one()
    assert presence.ended_at is not None and presence.ended_at >= presence.started_at


def test_an_empty_workshop_closes_with_nothing_to_do(scanner: Scanner) -> None:
    outcome = close_day(utcnow())
    assert outcome.status == "accepted"
    assert outcome.body["message"] == (
        "Fin de journée : aucune opération en cours, aucun élève encore badgé."
    )


def test_a_scan_made_before_the_close_cannot_be_undone_after_it(scanner: Scanner) -> None:
    start_weld(scanner, LUCAS)
    scanner.ok("A-SORTIE")  # the last one out: the run pauses
    close_day(utcnow())

    scanner.refused("A-ANNULE", "nothing_to_undo")

    assert present_at("ST-SOUD-01") == []
    assert run_at("ST-SOUD-01").status == "paused"


def test_the_close_itself_is_never_what_a_undo_takes_back(scanner: Scanner) -> None:
    start_weld(scanner, LUCAS)
    close_day(utcnow())
    scanner.ok(LUCAS)  # the run resumes with Lucas

    body = scanner.ok("A-ANNULE")

    assert LUCAS in body["message"]  # Lucas's badge-in after the close, not the close
    assert present_at("ST-SOUD-01") == []
    assert run_at("ST-SOUD-01").status == "paused"


def test_the_summary_speaks_french_in_the_singular_and_the_plural() -> None:
    assert summary({"paused": 3, "badged_out": 5}) == (
        "Fin de journée : 3 opérations mises en pause, 5 élèves badgés sortis."
    )
    assert summary({"paused": 1, "badged_out": 1, "help_cleared": 2}) == (
        "Fin de journée : 1 opération mise en pause, 1 élève badgé sorti, 2 appels à l'aide clos."
    )


# -- the command ------------------------------------------------------------------------------


def test_day_close_prints_the_french_summary_then_says_it_was_done(
    app: Flask,
    runner: FlaskCliRunner,
    scanner: Scanner,
    second: Scanner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tomorrow = datetime.now(PARIS).date() + timedelta(days=1)
    late = datetime.combine(tomorrow, time(18, 0, 3), PARIS).astimezone(UTC)
    monkeypatch.setattr("app.cli.utcnow", lambda: late)
    start_weld(scanner, LUCAS, INES)
    second.ok(LEA)

    first = runner.invoke(args=["day", "close"])

    assert first.exit_code == 0, first.output
    assert first.output == ("Fin de journée : 1 opération mise en pause, 3 élèves badgés sortis.\n")
    db.session.commit()
    interval = run_at("ST-SOUD-01").intervals[0]
    assert interval.ended_at == closing_instant(tomorrow, time(18, 0), PARIS)

    again = runner.invoke(args=["day", "close"])

    assert again.exit_code == 0, again.output
    assert again.output == f"Fin de journée du {tomorrow:%d/%m/%Y} déjà faite : rien n'a changé.\n"


def test_day_close_before_the_closing_time_closes_now(
    app: Flask, runner: FlaskCliRunner, scanner: Scanner, monkeypatch: pytest.MonkeyPatch
) -> None:
    app.config["ATELIER_CLOSING_TIME"] = time(23, 59)
    start_weld(scanner, LUCAS)
    now = utcnow() + timedelta(seconds=1)
    monkeypatch.setattr("app.cli.utcnow", lambda: now)
    if now.astimezone(PARIS).time() >= time(23, 59):
        pytest.skip("the last minute of the day: no earlier closing time to test against")

    result = runner.invoke(args=["day", "close"])

    assert result.exit_code == 0, result.output
    db.session.commit()
    assert run_at("ST-SOUD-01").intervals[0].ended_at == now


def test_day_close_refuses_an_unknown_site_in_french(runner: FlaskCliRunner, school: None) -> None:
    result = runner.invoke(args=["day", "close", "--site", "nowhere"])
    assert result.exit_code != 0
    assert "Site inconnu : nowhere" in result.output


def test_a_close_that_failed_says_so_and_is_not_reported_as_done(
    runner: FlaskCliRunner, scanner: Scanner, monkeypatch: pytest.MonkeyPatch
) -> None:
    start_weld(scanner, LUCAS)

    def broken(*_args: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("app.ingest.day._close_station", broken)

    for _attempt in range(2):
        result = runner.invoke(args=["day", "close"])
        assert result.exit_code == 1
        assert "Erreur du serveur : rien n'a été pris en compte" in result.output
        assert "déjà faite" not in result.output
    assert present_at("ST-SOUD-01") == ["E2026-001"]
