"""A student's erasure (RGPD art. 17), on request at the office and on the command line.

After it, a dump of the whole database names them nowhere (name, first name, code, badge
codes), what they made is still counted, the other students are untouched, and the log
keeps that an erasure happened (who, when, why) but not what was erased.
"""

from __future__ import annotations

import html
import re
from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskClient, FlaskCliRunner

from app.boundary import cli_origin, submit
from app.extensions import db
from app.ingest.office_events import EraseStudent
from app.models import (
    Assessment,
    Badge,
    Event,
    Evidence,
    LevelOverride,
    Student,
    StudentHabilitation,
)
from app.read.board import board_snapshot
from app.rgpd_commands import register
from tests.factories import site_id
from tests.records.support import Workshop
from tests.rgpd.conftest import dump, production, student_id, traces


def _student(code: str) -> Student | None:
    db.session.rollback()
    return db.session.execute(sa.select(Student).where(Student.code == code)).scalar()


def _board() -> dict[str, Any]:
    db.session.rollback()
    snapshot = board_snapshot(db.session(), site_id())
    return {
        "finished": len(snapshot["finished_today"]),
        "awaiting": snapshot["awaiting_review_count"],
        "welds": len(snapshot["welds"]),
    }


def _erase_form(office: FlaskClient, code: str) -> str:
    page = office.get(f"/bureau/eleves/{code}/effacer")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    match = re.search(r'name="key" value="([0-9a-f]+)"', html)
    assert match is not None
    return match.group(1)


def test_erasure_on_request_leaves_no_trace_and_keeps_the_production(
    office: FlaskClient, history: Workshop, database_url: str
) -> None:
    lucas = student_id("E2026-001")
    before = production(student_id=lucas)
    board = _board()
    assert before["their_runs"] == 6 and before["their_welds"] == 4, before
    assert traces(dump(database_url)), "the history names Lucas before"
    lea_before = dump(database_url).count("Léa C.") + dump(database_url).count("L\\u00e9a C.")

    page = office.get("/bureau/eleves/E2026-001/effacer").get_data(as_text=True)
    assert "Ce qui est effacé" in page and "Ce qui reste" in page
    key = _erase_form(office, "E2026-001")
    done = office.post(
        "/bureau/eleves/E2026-001/effacer", data={"key": key, "confirm": "E2026-001"}
    )
    assert done.status_code == 303 and done.headers["Location"].endswith("/bureau/eleves")
    erased = _student(f"EFF-{lucas:06d}")
    assert erased is not None and erased.id == lucas
    assert erased.name == "Élève effacé" and not erased.active and erased.erased_at is not None

    # Nothing of him is left anywhere, backups included.
    assert traces(dump(database_url)) == []
    # What he made is still counted, his runs and welds still his (anonymous) row's.
    assert production(student_id=lucas) == before
    assert _board() == board
    db.session.rollback()
    assert (
        db.session.execute(
            sa.select(sa.func.count()).select_from(Badge).where(Badge.student_id == lucas)
        ).scalar_one()
        == 0
    )
    assert (
        db.session.execute(
            sa.select(sa.func.count())
            .select_from(StudentHabilitation)
            .where(StudentHabilitation.student_id == lucas)
        ).scalar_one()
        == 0
    )
    own_comments = db.session.execute(
        sa.select(Assessment.comment, Assessment.level)
        .join(Evidence, Evidence.id == Assessment.evidence_id)
        .where(Evidence.student_id == lucas)
    ).all()
    assert [(row.comment, row.level) for row in own_comments] == [(None, "3")]
    assert db.session.execute(
        sa.select(LevelOverride.reason, LevelOverride.level).where(
            LevelOverride.student_id == lucas
        )
    ).one() == ("(effacé)", "2")

    # Léa is untouched, except where a comment about her named him.
    lea = _student("E2026-003")
    assert lea is not None and lea.name == "Léa C." and lea.erased_at is None
    assert sorted(badge.code for badge in lea.badges) == ["0B003E91A4", "B-0003"]
    lea_comments = (
        db.session.execute(
            sa.select(Assessment.comment)
            .join(Evidence, Evidence.id == Assessment.evidence_id)
            .where(Evidence.student_id == lea.id)
        )
        .scalars()
        .all()
    )
    assert lea_comments == ["A aidé [effacé] au pointage"]
    after = dump(database_url)
    assert after.count("Léa C.") + after.count("L\\u00e9a C.") == lea_before

    # The log says an erasure happened, by whom and why, and of whom only the new code.
    row = db.session.execute(sa.select(Event).where(Event.kind == "rgpd.erase")).scalar_one()
    assert row.status == "accepted" and row.actor_name == "admin@example.org"
    assert row.payload == {"student": erased.code, "reason": "request"}
    assert row.student_id == lucas and row.redacted_at is not None
    redacted = db.session.execute(
        sa.select(sa.func.count()).select_from(Event).where(Event.redacted_at.is_not(None))
    ).scalar_one()
    assert redacted > 10

    # Erasing twice refuses, by his new code or his old one.
    again = submit(cli_origin(site_id()), EraseStudent(erased.code, "request"))
    assert again.body["error"]["code"] == "already_erased"
    assert "déjà été effacé" in again.body["error"]["message"]
    unknown = submit(cli_origin(site_id()), EraseStudent("E2026-001", "request"))
    assert unknown.body["error"]["code"] == "not_found"
    assert unknown.body["error"]["message"] == "Élève E2026-001 inconnu."
    # The same form sent again records nothing more.
    replay = office.post(
        "/bureau/eleves/E2026-001/effacer", data={"key": key, "confirm": "E2026-001"}
    )
    assert replay.status_code == 404
    # (Those refusals are new inputs naming a code that designates nobody any more.)


def test_the_erasure_page_wants_the_code_typed(office: FlaskClient, history: Workshop) -> None:
    key = _erase_form(office, "E2026-001")
    for typed in ("", "E2026-002", "e2026-001 x"):
        refused = office.post(
            "/bureau/eleves/E2026-001/effacer", data={"key": key, "confirm": typed}
        )
        assert refused.status_code == 422
        said = html.unescape(refused.get_data(as_text=True))
        assert "Tapez exactement le code de l'élève (E2026-001)" in said
    lucas = _student("E2026-001")
    assert lucas is not None and lucas.name == "Lucas M." and lucas.erased_at is None
    assert office.get("/bureau/eleves/E2099-999/effacer").status_code == 404


def test_teachers_may_not_erase_nor_export(teacher_office: FlaskClient, history: Workshop) -> None:
    for path in ("effacer", "export", "donnees.json", "livret.pdf"):
        assert teacher_office.get(f"/bureau/eleves/E2026-001/{path}").status_code == 403
    refused = teacher_office.post("/bureau/eleves/E2026-001/effacer", data={"confirm": "E2026-001"})
    assert refused.status_code == 403
    assert _student("E2026-001") is not None


def test_retention_lists_then_erases_those_past_their_time(
    app: Any, runner: FlaskCliRunner, history: Workshop, database_url: str
) -> None:
    register(app)
    lucas = student_id("E2026-001")
    before = production(student_id=lucas)
    snapshot = dump(database_url)

    listed = runner.invoke(args=["data", "retention"])
    assert listed.exit_code == 0, listed.output
    assert "E2026-001 — sorti·e le 30/06/2024, à conserver jusqu'au 30/06/2025" in listed.output
    assert "E2026-002" not in listed.output  # left in November: kept a year
    assert "(simulation : rien n'a été effacé ; --apply pour effacer)" in listed.output
    assert "Lucas" not in listed.output  # the list gives codes, not names
    assert dump(database_url) == snapshot  # a dry run changes nothing

    applied = runner.invoke(args=["data", "retention", "--apply"])
    assert applied.exit_code == 0, applied.output
    assert f"E2026-001 : Élève effacé·e : désormais EFF-{lucas:06d}" in applied.output
    assert "1 élève(s) effacé(s)." in applied.output
    assert traces(dump(database_url)) == []
    assert production(student_id=lucas) == before
    row = db.session.execute(sa.select(Event).where(Event.kind == "rgpd.erase")).scalar_one()
    assert row.payload == {"student": f"EFF-{lucas:06d}", "reason": "retention"}
    assert row.channel == "cli"
    ines = _student("E2026-002")
    assert ines is not None and ines.name == "Inès K." and ines.erased_at is None

    again = runner.invoke(args=["data", "retention", "--apply"])
    assert again.exit_code == 0 and "Aucun élève à effacer" in again.output


def test_retention_days_come_from_the_configuration(
    app: Any, runner: FlaskCliRunner, history: Workshop
) -> None:
    register(app)
    app.config["ATELIER_RETENTION_DAYS"] = 20000
    listed = runner.invoke(args=["data", "retention"])
    assert listed.exit_code == 0 and "Aucun élève à effacer" in listed.output
    assert "20000 jours" in listed.output


def test_erase_on_the_command_line_asks_for_the_code(
    app: Any, runner: FlaskCliRunner, history: Workshop, database_url: str
) -> None:
    register(app)
    lucas = student_id("E2026-001")
    wrong = runner.invoke(args=["student", "erase", "E2026-001"], input="E2026-002\n")
    assert wrong.exit_code == 1 and "Code différent : rien n'a été effacé." in wrong.output
    assert _student("E2026-001") is not None
    unknown = runner.invoke(args=["student", "erase", "E2099-999", "--yes"])
    assert unknown.exit_code == 1 and "Élève inconnu : E2099-999" in unknown.output
    done = runner.invoke(args=["student", "erase", "E2026-001"], input="E2026-001\n")
    assert done.exit_code == 0, done.output
    assert "désormais EFF-" in done.output
    assert traces(dump(database_url)) == []
    twice = runner.invoke(args=["student", "erase", f"EFF-{lucas:06d}", "--yes"])
    assert twice.exit_code == 1 and "déjà été effacé" in twice.output


def test_an_accented_name_is_found_in_its_json_escaped_forms_too(
    history: Workshop, database_url: str
) -> None:
    lea = ("Léa C.", "Léa", "E2026-003", "0B003E91A4", "B-0003")
    assert traces(dump(database_url), lea)
    outcome = submit(cli_origin(site_id()), EraseStudent("E2026-003", "retention"))
    assert outcome.accepted, outcome.body
    assert traces(dump(database_url), lea) == []
    lucas = _student("E2026-001")
    assert lucas is not None and lucas.name == "Lucas M." and len(lucas.badges) == 2
