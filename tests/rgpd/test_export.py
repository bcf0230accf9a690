"""The right of access (RGPD art. 15): everything held about a student, as JSON, and their
livret as PDF, from the office and the command line; each export is in the audit log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskClient, FlaskCliRunner

from app.boundary import cli_origin, submit
from app.extensions import db
from app.ingest.office_events import EraseStudent
from app.models import Event
from app.read.rgpd import student_data
from tests.factories import site_id
from tests.records.support import Workshop
from tests.rgpd.conftest import PIECES, traces


def _exports() -> list[tuple[Any, Any]]:
    db.session.rollback()
    rows = db.session.execute(
        sa.select(Event.payload, Event.actor_name)
        .where(Event.kind == "record.export")
        .order_by(Event.id)
    ).all()
    return [(row.payload, row.actor_name) for row in rows]


def _check_lucas(data: dict[str, Any]) -> None:
    assert data["student"]["code"] == "E2026-001" and data["student"]["name"] == "Lucas M."
    assert data["student"]["framework"]["code"] == "cap-rics"
    assert data["student"]["left_on"] == "2024-06-30"
    assert data["badges"] == ["0A00F1C2D3", "B-0001"]
    [held] = data["habilitations"]
    assert held["habilitation"] == "PLIEUSE" and held["medical_until"] == "2027-03-31"
    assert held["trained_on"] == "2026-09-15" and held["trainer"] == "M. Perrin"
    assert {run["piece"] for run in data["runs"]} == set(PIECES)
    assert len(data["runs"]) == 6 and len(data["presences"]) >= 2
    assert len(data["welds"]) == 4 and {w["piece"] for w in data["welds"]} == set(PIECES)
    assessed = [a for e in data["evidence"] for a in e["assessments"]]
    assert [(a["level"], a["comment"]) for a in assessed] == [("3", "Lucas M. soude proprement")]
    assert data["self_assessments"][0]["feeling"] == "facile"
    assert data["level_overrides"][0]["reason"] == "Lucas a contrôlé seul"
    assert data["continuity_confirmations"][0]["process"] == "135"
    kinds = {event["kind"] for event in data["events"]}
    assert {"scan", "record.self", "record.level", "record.confirm"} <= kinds, kinds
    assert all(set(event) >= {"kind", "received_at", "status"} for event in data["events"])


def test_everything_held_about_a_student(history: Workshop) -> None:
    data = student_data(db.session(), site_id(), "E2026-001")
    assert data is not None
    _check_lucas(data)
    json.dumps(data)  # JSON-able as it is
    assert student_data(db.session(), site_id(), "E2099-999") is None


def test_the_office_exports_json_and_pdf_and_logs_each(
    office: FlaskClient, history: Workshop
) -> None:
    page = office.get("/bureau/eleves/E2026-001/export")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'href="/bureau/eleves/E2026-001/donnees.json"' in html
    assert 'href="/bureau/eleves/E2026-001/livret.pdf"' in html

    answer = office.get("/bureau/eleves/E2026-001/donnees.json")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Content-Disposition"].startswith(
        'attachment; filename="donnees-E2026-001-'
    )
    data = json.loads(answer.get_data(as_text=True))
    _check_lucas(data)
    assert data["exported_at"]

    pdf = office.get("/bureau/eleves/E2026-001/livret.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.get_data().startswith(b"%PDF-") and pdf.headers["Cache-Control"] == "no-store"
    assert _exports() == [
        ({"student": "E2026-001", "format": "json"}, "admin@example.org"),
        ({"student": "E2026-001", "format": "pdf"}, "admin@example.org"),
    ]
    for path in ("export", "donnees.json", "livret.pdf"):
        assert office.get(f"/bureau/eleves/E2099-999/{path}").status_code == 404


def test_an_erased_student_exports_only_what_stays(office: FlaskClient, history: Workshop) -> None:
    outcome = submit(cli_origin(site_id()), EraseStudent("E2026-001", "request"))
    assert outcome.accepted, outcome.body
    code = outcome.body["student"]
    answer = office.get(f"/bureau/eleves/{code}/donnees.json")
    assert answer.status_code == 200
    text = answer.get_data(as_text=True)
    data = json.loads(text)
    assert data["student"]["name"] == "Élève effacé" and data["badges"] == []
    assert data["habilitations"] == [] and len(data["runs"]) == 6
    assert traces(text) == []  # « Lucas », his code, his badges (as words: weld ids hold hex)


def test_record_export_writes_the_json_on_the_command_line(
    runner: FlaskCliRunner, history: Workshop, tmp_path: Path
) -> None:
    target = tmp_path / "lucas.json"
    done = runner.invoke(
        args=["record", "export", "E2026-001", "--format", "json", "-o", str(target)]
    )
    assert done.exit_code == 0, done.output
    _check_lucas(json.loads(target.read_text(encoding="utf-8")))
    assert _exports()[-1][0] == {"student": "E2026-001", "format": "json"}
