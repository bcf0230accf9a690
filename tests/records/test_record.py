"""A student's record (livret) as the read side builds it, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event, select

from app.boundary import submit
from app.extensions import db
from app.ingest.events import AttachPhoto, ConfirmContinuity, SelfAssess, SetLevel, SetMasteryRule
from app.models import (
    Competency,
    Operation,
    OperationRun,
    OperationType,
    Piece,
    RunInterval,
    RunParticipant,
    Student,
    months_after,
    utcnow,
)
from app.read.board import workshop_timezone
from app.read.records import (
    class_gaps,
    computed_level,
    current_levels,
    rule_label,
    self_assessments_for_piece,
    student_record,
)
from tests.factories import make_staff, site_id
from tests.ingest.test_records import _jpeg_with_gps
from tests.records.support import LUCAS, Workshop, kiosk_origin

PIECES = [f"P-2026-00000{n}" for n in range(1, 7)]


# -- the rule, as a function --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("newest_first", "kind", "n", "level"),
    [
        (["3", "3", "3", "1"], "recent", 3, "3"),  # an early failure does not drag it down
        (["3", "3", "3", "1"], "latest", 3, "3"),
        (["1", "3", "3", "3"], "latest", 3, "1"),
        (["1", "3", "3", "3"], "recent", 3, "2"),  # (3×1 + 2×3 + 1×3) / 6 = 2
        (["3", "1", "4"], "recent", 3, "3"),  # 15 / 6 = 2.5: half up, not to even
        (["2", "4", "1"], "recent", 3, "3"),  # 15 / 6 = 2.5
        (["3", "2"], "recent", 3, "3"),  # fewer than N: weights 2, 1 → 8 / 3
        (["2", "3"], "recent", 3, "2"),  # 7 / 3
        (["ABS", "NE", "2", "ABS", "4"], "latest", 3, "2"),  # NE, ABS are not levels
        (["ABS", "NE", "2", "ABS", "4"], "recent", 3, "3"),  # (2×2 + 1×4) / 3
        (["4", "1", "1", "1", "1"], "recent", 1, "4"),
        (["NE", "ABS"], "recent", 3, None),
        ([], "latest", 3, None),
    ],
)
def test_the_mastery_rule(newest_first: list[str], kind: str, n: int, level: str | None) -> None:
    assert computed_level(newest_first, kind, n) == level


def test_the_rule_is_worded_for_the_teacher() -> None:
    assert rule_label("latest", 3) == "Dernier niveau évalué."
    assert "3 derniers niveaux" in rule_label("recent", 3) and "3, 2, 1" in rule_label("recent", 3)


def test_six_months_after_keeps_the_day_or_the_months_last() -> None:
    assert months_after(datetime(2026, 8, 31, 9, tzinfo=UTC), 6) == datetime(
        2027, 2, 28, 9, tzinfo=UTC
    )
    assert months_after(datetime(2026, 6, 15, tzinfo=UTC), 6) == datetime(2026, 12, 15, tzinfo=UTC)


# -- a student's record -------------------------------------------------------------------------


@pytest.fixture
def shop(client: FlaskClient, school: None) -> Workshop:
    return Workshop(client, make_staff())


@pytest.fixture
def history(shop: Workshop) -> Workshop:
    """Lucas made five pieces, assessed on C4 at 1, 3, ABS, 3 and 2, oldest first.

    He also welded a sixth piece, out of the WPS range, not finished yet; he felt the
    welding of the first one « facile ».
    """
    shop.weld_piece(PIECES[0], LUCAS, welds=1)
    shop.station.weld(utcnow(), arc_s=1.0)  # badged out: unattributed, not his
    for piece in PIECES[1:5]:
        shop.weld_piece(piece, LUCAS)
    shop.welder.ok(LUCAS)
    shop.welder.ok("OF-2026-0001-20")
    shop.welder.ok(PIECES[5])
    shop.station.weld(utcnow(), arc_s=3.0, i_mean=250.0)
    shop.welder.ok("A-FIN")
    shop.welder.ok(LUCAS)
    base = utcnow() - timedelta(days=2)
    for hours, (piece, level) in enumerate(zip(PIECES, ["1", "3", "ABS", "3", "2"], strict=False)):
        outcome = shop.review(
            piece, {"E2026-001": level}, at=base + timedelta(hours=hours), comment=f"n°{hours}"
        )
        assert outcome.accepted, outcome.body
    assert submit(kiosk_origin(), SelfAssess(PIECES[0], 20, "E2026-001", "facile")).accepted
    return shop


def _record(**kwargs: Any) -> dict[str, Any]:
    db.session.rollback()
    record = student_record(db.session(), site_id(), "E2026-001", **kwargs)
    assert record is not None
    return record


def _c4(record: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in record["competencies"] if c["id"] == "cap-rics:C4")


def test_the_record_of_a_student(history: Workshop) -> None:
    record = _record()
    student = record["student"]
    assert (student["code"], student["first_name"], student["display_name"]) == (
        "E2026-001",
        "Lucas",
        "Lucas M.",
    )
    framework = student["framework"]
    assert (framework["code"], framework["provisional"]) == ("cap-rics", True)
    assert framework["name"].startswith("CAP Réalisations")
    assert "provisoire" in framework["note"] and "Arrêté du 3 janvier 2017" in framework["note"]
    assert record["rule"]["kind"] == "recent" and record["rule"]["n"] == 3
    assert [c["id"] for c in record["competencies"]] == [
        "cap-rics:C3",
        "cap-rics:C4",
        "cap-rics:C5",
    ]
    c4 = _c4(record)
    # Numeric levels newest first: 2, 3, 3 (ABS skipped) → (3×2 + 2×3 + 1×3) / 6 = 2.5 → 3.
    assert (c4["level"], c4["computed"], c4["override"]) == ("3", "3", None)
    assert c4["level_words"] == "maîtrisé" and c4["title"].startswith("Assembler")
    assert c4["evidence_count"] == 6 and c4["seen"]
    assert [h["level"] for h in c4["history"]] == ["1", "3", "ABS", "3", "2"]
    first = c4["history"][0]
    assert first["piece"] == PIECES[0] and first["work_order"] == "OF-2026-0001"
    assert first["operation"] == "Soudage MAG (135)" and first["by"] == "M. Test"
    assert first["comment"] == "n°0" and first["self"] == "facile"
    assert first["at"].endswith("Z")
    assert [h["self"] for h in c4["history"][1:]] == [None] * 4
    # C3 and C5 were evidenced (cutting, checking) but never assessed.
    others = [c for c in record["competencies"] if c["id"] != "cap-rics:C4"]
    assert [(c["level"], c["evidence_count"], c["history"]) for c in others] == [
        (None, 5, []),
        (None, 5, []),
    ]
    assert record["not_seen"] == []

    welding = record["welding"]
    assert [(w["process"], w["position"], w["welds"]) for w in welding] == [("135", "PB", 6)]
    assert welding[0]["arc_s"] == pytest.approx(13.0)
    assert welding[0]["in_range_share"] == pytest.approx(0.833)

    hours = {h["operation_type"]: h for h in record["hours"]}
    assert set(hours) == {"DEBIT", "SOUD-MAG", "CONTROLE"}
    assert hours["SOUD-MAG"]["runs"] == 6 and hours["DEBIT"]["runs"] == 5
    assert hours["SOUD-MAG"]["name"] == "Soudage MAG (135)"
    for code in hours:
        worked = _worked_seconds(code)
        assert worked > 0
        assert hours[code]["seconds"] == pytest.approx(worked, abs=0.1)
        assert hours[code]["hours"] == round(worked / 3600.0, 2)

    (qualification,) = record["qualification"]
    assert (qualification["process"], qualification["position"]) == ("135", "PB")
    assert qualification["last_weld_at"] == welding[0]["last_weld_at"]
    assert qualification["holds"] and qualification["to_confirm"]
    assert qualification["confirmations"] == []
    assert record["photos"] == []


def _worked_seconds(operation_type: str) -> float:
    """Sum the intervals of Lucas's runs of a type in Python, to check the SQL's sum."""
    rows = db.session.execute(
        select(RunInterval.started_at, RunInterval.ended_at)
        .join(OperationRun, OperationRun.id == RunInterval.run_id)
        .join(RunParticipant, RunParticipant.run_id == OperationRun.id)
        .join(Student, Student.id == RunParticipant.student_id)
        .join(Operation, Operation.id == OperationRun.operation_id)
        .join(OperationType, OperationType.id == Operation.operation_type_id)
        .where(Student.code == "E2026-001", OperationType.code == operation_type)
    ).all()
    spans = [(started, ended) for started, ended in rows if ended is not None]
    assert rows and len(spans) == len(rows)
    return sum((ended - started).total_seconds() for started, ended in spans)


def test_the_rule_the_site_chose_applies(history: Workshop) -> None:
    assert history.submit(SetMasteryRule("latest", 3)).accepted
    record = _record()
    assert record["rule"]["kind"] == "latest" and record["rule"]["label"]
    assert _c4(record)["level"] == "2"


def test_a_level_set_by_hand_stands_until_a_newer_assessment(history: Workshop) -> None:
    assert history.submit(SetLevel("E2026-001", "cap-rics:C4", "4", "Vu en autonomie")).accepted
    assert history.submit(SetLevel("E2026-001", "cap-rics:C5", "2", "Contrôle oral")).accepted
    record = _record()
    c4 = _c4(record)
    assert (c4["level"], c4["computed"]) == ("4", "3")
    assert c4["override"] is not None
    assert (c4["override"]["level"], c4["override"]["reason"], c4["override"]["by"]) == (
        "4",
        "Vu en autonomie",
        "M. Test",
    )
    c5 = next(c for c in record["competencies"] if c["id"] == "cap-rics:C5")
    assert (c5["level"], c5["computed"], c5["level_words"]) == (
        "2",
        None,
        "insuffisamment maîtrisé",
    )
    lucas = db.session.execute(select(Student.id).where(Student.code == "E2026-001")).scalar_one()
    ids = dict(db.session.execute(select(Competency.code, Competency.id)).all())
    assert current_levels(db.session(), lucas) == {ids["C4"]: "4", ids["C5"]: "2"}

    # The last piece is reviewed again, at 1 this time: newer than the level set by hand.
    assert history.review(PIECES[4], {"E2026-001": "1"}).accepted
    c4 = _c4(_record())
    assert c4["override"] is None
    # The new 1 supersedes that piece's 2: newest first 1, 3, 3 → (3 + 6 + 3) / 6 = 2.
    assert (c4["level"], c4["computed"]) == ("2", "2")
    assert [(h["level"], h["superseded"]) for h in c4["history"]][-2:] == [
        ("2", True),
        ("1", False),
    ]
    assert current_levels(db.session(), lucas)[ids["C4"]] == "2"


def test_continuity_holds_for_six_months_after_the_last_weld(history: Workshop) -> None:
    now = utcnow()
    (open_now,) = _record(now=now)["qualification"]
    last = datetime.fromisoformat(open_now["last_weld_at"].replace("Z", "+00:00"))
    expected = months_after(last.astimezone(workshop_timezone()), 6).date()
    assert open_now["valid_until"] == expected.isoformat()

    assert history.submit(ConfirmContinuity("E2026-001", "135", "PB")).accepted
    (signed,) = _record(now=now)["qualification"]
    assert signed["holds"] and not signed["to_confirm"]
    assert [c["by"] for c in signed["confirmations"]] == ["M. Test"]

    # Five months on, the confirmation is recent still; seven months on, it lapsed.
    (later,) = _record(now=now + timedelta(days=150))["qualification"]
    assert later["holds"] and not later["to_confirm"]
    (lapsed,) = _record(now=now + timedelta(days=215))["qualification"]
    assert not lapsed["holds"] and not lapsed["to_confirm"]
    assert lapsed["valid_until"] == signed["valid_until"]
    # The day it ends it still holds; the next day it does not.
    end = datetime.combine(expected, datetime.min.time(), workshop_timezone()) + timedelta(hours=12)
    assert _record(now=end)["qualification"][0]["holds"]
    assert not _record(now=end + timedelta(days=1))["qualification"][0]["holds"]


def test_a_photo_and_a_feeling_appear_beside_the_piece(history: Workshop) -> None:
    assert history.submit(AttachPhoto(PIECES[0], "image/jpeg", _jpeg_with_gps())).accepted
    record = _record()
    assert [p["piece"] for p in record["photos"]] == [PIECES[0]]
    assert isinstance(record["photos"][0]["id"], int)
    piece_id = db.session.execute(select(Piece.id).where(Piece.code == PIECES[0])).scalar_one()
    assert self_assessments_for_piece(db.session(), piece_id) == {("E2026-001", 20): "facile"}
    ines = student_record(db.session(), site_id(), "E2026-002")
    assert ines is not None and ines["photos"] == []


def test_who_has_not_seen_what(history: Workshop) -> None:
    db.session.rollback()
    gaps = {row["code"]: row for row in class_gaps(db.session(), site_id())}
    assert set(gaps) == {"E2026-001", "E2026-002", "E2026-003", "E2026-004"}
    assert gaps["E2026-001"]["not_seen"] == []
    assert gaps["E2026-002"]["not_seen"] == ["cap-rics:C3", "cap-rics:C4", "cap-rics:C5"]
    assert gaps["E2026-002"]["display_name"] == "Inès K."
    assert gaps["E2026-003"]["not_seen"] == [
        "cap-metallier:C3.3",
        "cap-metallier:C3.6",
        "cap-metallier:C3.8",
    ]
    assert gaps["E2026-003"]["framework"]["code"] == "cap-metallier"
    missing = {c["id"]: c["missing"] for c in gaps["E2026-002"]["competencies"]}
    assert missing == {"cap-rics:C3": 1, "cap-rics:C4": 1, "cap-rics:C5": 1}
    only = class_gaps(db.session(), site_id(), "cap-metallier")
    assert {row["code"] for row in only} == {"E2026-003", "E2026-004"}
    assert class_gaps(db.session(), site_id(), "no-such") == []
    ines = student_record(db.session(), site_id(), "E2026-002")
    assert ines is not None and ines["not_seen"] == ["cap-rics:C3", "cap-rics:C4", "cap-rics:C5"]
    assert [c["seen"] for c in ines["competencies"]] == [False, False, False]
    assert ines["hours"] == [] and ines["welding"] == [] and ines["qualification"] == []


def test_no_record_for_an_unknown_student(shop: Workshop) -> None:
    assert student_record(db.session(), site_id(), "E2099-999") is None


@pytest.fixture
def statements() -> Iterator[list[str]]:
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", note)
    yield seen
    event.remove(engine, "before_cursor_execute", note)


def test_the_record_costs_the_same_queries_whatever_its_history(
    shop: Workshop, statements: list[str]
) -> None:
    shop.weld_piece(PIECES[0], LUCAS)
    assert shop.review(PIECES[0], {"E2026-001": "2"}).accepted
    statements.clear()
    _record()
    few = len(statements)
    for piece in PIECES[1:4]:
        shop.weld_piece(piece, LUCAS, welds=2)
        assert shop.review(piece, {"E2026-001": "3"}).accepted
    statements.clear()
    record = _record()
    assert len(statements) == few
    assert _c4(record)["evidence_count"] == 4
