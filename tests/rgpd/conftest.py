"""Fixtures of the erasure, retention and export tests (school: tests/data/school_minimal.yaml).

- ``history``: Lucas (E2026-001, badges 0A00F1C2D3 and B-0001) really worked: habilitations
  on the bending press (with his medical fitness date), an end of schooling long past; he
  welded pieces with Léa, a teacher reviewed them with comments naming him, he gave his
  feeling at the kiosk, a level was set by hand with a reason naming him and his welder's
  continuity signed. Everything goes through the paths the application uses.
- ``dump()``: the whole database as text (sqlite3's iterdump, or pg_dump).
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from flask.testing import FlaskClient

from app.boundary import submit
from app.extensions import db
from app.ingest.events import AssessmentInput, ConfirmContinuity, ReviewPiece, SelfAssess, SetLevel
from app.models import (
    Evidence,
    OperationRun,
    Piece,
    Presence,
    RunParticipant,
    Student,
    Weld,
    WeldStudent,
)
from tests.factories import MINIMAL_SCHOOL, load_school, make_staff
from tests.office.conftest import admin, office, teacher, teacher_office  # noqa: F401
from tests.records.support import LEA, LUCAS, Workshop, kiosk_origin

PIECES = ["P-2026-000001", "P-2026-000002"]
# What must be gone from the database once Lucas is erased.
LUCAS_TRACES = ("Lucas M.", "Lucas", "E2026-001", "0A00F1C2D3", "B-0001")
LEFT_ON = "2024-06-30"


def school_text() -> str:
    """The minimal school with a habilitation, Lucas holding it and an end of schooling."""
    data: dict[str, Any] = yaml.safe_load(MINIMAL_SCHOOL.read_text(encoding="utf-8"))
    data["habilitations"] = [{"id": "PLIEUSE", "name": "Presse plieuse"}]
    for student in data["students"]:
        if student["id"] == "E2026-001":
            student["left_on"] = LEFT_ON
            student["habilitations"] = [
                {
                    "id": "PLIEUSE",
                    "until": "2027-06-30",
                    "medical_until": "2027-03-31",
                    "trained_on": "2026-09-15",
                    "trainer": "M. Perrin",
                }
            ]
        if student["id"] == "E2026-002":
            student["left_on"] = "2026-11-30"  # left, but kept for a while yet
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


@pytest.fixture
def history(client: FlaskClient, school: None) -> Workshop:
    """Lucas's year in the workshop, made through the real inputs."""
    load_school(text=school_text())
    shop = Workshop(client, make_staff("chef@example.org", role="teacher"))
    for piece in PIECES:
        shop.weld_piece(piece, LUCAS, LEA, welds=2)
    outcome = shop.submit(
        ReviewPiece(
            PIECES[0],
            "conforme",
            (
                AssessmentInput("E2026-001", "cap-rics:C4", "3", "Lucas M. soude proprement"),
                AssessmentInput("E2026-003", "cap-metallier:C3.6", "2", "A aidé Lucas au pointage"),
            ),
        )
    )
    assert outcome.accepted, outcome.body
    assert submit(kiosk_origin(), SelfAssess(PIECES[0], 20, "E2026-001", "facile")).accepted
    assert shop.submit(SetLevel("E2026-001", "cap-rics:C5", "2", "Lucas a contrôlé seul")).accepted
    assert shop.submit(ConfirmContinuity("E2026-001", "135", "PB")).accepted
    return shop


def production(code: str | None = None, student_id: int | None = None) -> dict[str, int]:
    """Count what the workshop made, and what a student (by id) took part in."""
    db.session.rollback()

    def count(query: Any) -> int:
        return int(db.session.execute(query).scalar_one())

    figures = {
        "pieces": count(sa.select(sa.func.count()).select_from(Piece)),
        "runs": count(sa.select(sa.func.count()).select_from(OperationRun)),
        "finished": count(
            sa.select(sa.func.count())
            .select_from(OperationRun)
            .where(OperationRun.status == "finished")
        ),
        "welds": count(sa.select(sa.func.count()).select_from(Weld)),
    }
    if student_id is not None:
        figures |= {
            "their_runs": count(
                sa.select(sa.func.count())
                .select_from(RunParticipant)
                .where(RunParticipant.student_id == student_id)
            ),
            "their_welds": count(
                sa.select(sa.func.count())
                .select_from(WeldStudent)
                .where(WeldStudent.student_id == student_id)
            ),
            "their_evidence": count(
                sa.select(sa.func.count())
                .select_from(Evidence)
                .where(Evidence.student_id == student_id)
            ),
            "their_presences": count(
                sa.select(sa.func.count())
                .select_from(Presence)
                .where(Presence.student_id == student_id)
            ),
        }
    return figures


def student_id(code: str) -> int:
    """Return a student's row id by code."""
    db.session.rollback()
    found = db.session.execute(sa.select(Student.id).where(Student.code == code)).scalar_one()
    return int(found)


def dump(database_url: str) -> str:
    """Return the whole database as SQL text, as a backup would hold it."""
    db.session.rollback()
    if database_url.startswith("sqlite"):
        path = database_url.split("sqlite:///", 1)[1]
        with sqlite3.connect(path) as conn:
            return "\n".join(conn.iterdump())
    url = sa.make_url(database_url).set(drivername="postgresql")
    binary = shutil.which("pg_dump")
    if binary is not None:
        done = subprocess.run(
            [binary, "--data-only", "--no-owner", url.render_as_string(hide_password=False)],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        # pg_dump 15.14+ fences its output with a random « restrict » key: not data.
        return "\n".join(
            line
            for line in done.stdout.splitlines()
            if not line.startswith(("\\restrict", "\\unrestrict"))
        )
    engine = db.engine
    lines = []
    with engine.connect() as conn:
        for table in sa.inspect(engine).get_table_names():
            for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                lines.append(f"{table}: {tuple(row)}")
    return "\n".join(lines)


def traces(text: str, words: tuple[str, ...] = LUCAS_TRACES) -> list[str]:
    """Return the lines of a dump that still name someone (with their JSON-escaped forms).

    A word counts where it stands on its own: « B-0003 » inside a weld id whose random boot
    id happens to end in B (``ws01-4243EB6B-0003``) is no badge code.
    """
    patterns = {
        word: re.compile(
            "|".join(
                rf"(?<![0-9A-Za-z]){re.escape(form)}(?![0-9A-Za-z])"
                for form in {
                    word,
                    word.encode("ascii", "backslashreplace").decode().replace("\\x", "\\u00"),
                }
            )
        )
        for word in words
    }
    found = []
    for line in text.splitlines():
        for word, pattern in patterns.items():
            if pattern.search(line):
                found.append(f"{word}: {line[:300]}")
    return found
