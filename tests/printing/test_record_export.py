"""The livret's PDF and CSV (app/printing/records.py) and ``flask record export``."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pypdfium2
import pytest
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from app.boundary import submit, web_origin
from app.extensions import db
from app.ingest.events import AssessmentInput, ReviewPiece
from app.models import Event
from app.printing.records import record_csv, record_pdf
from tests.api.test_review_api import PIECE, finish_piece
from tests.factories import make_staff

RECORD: dict[str, Any] = {
    "student": {
        "code": "E2026-002",
        "first_name": "Inès",
        "display_name": "Inès K.",
        "framework": {
            "code": "cap-rics",
            "name": "CAP Réalisations industrielles en chaudronnerie ou soudage",
            "provisional": True,
            "note": "C3-C5 reconstitués",
        },
    },
    "rule": {"kind": "recent", "n": 3, "label": "les 3 dernières évaluations pondérées"},
    "generated_at": "2026-11-30T10:00:00.000Z",
    "competencies": [
        {
            "id": "cap-rics:C3",
            "code": "C3",
            "title": "Réaliser tout ou partie d'un ouvrage",
            "level": None,
            "level_words": None,
            "computed": None,
            "override": None,
            "evidence_count": 0,
            "seen": False,
            "history": [],
        },
        {
            "id": "cap-rics:C4",
            "code": "C4",
            "title": "Assembler tout ou partie d'un ouvrage",
            "level": "4",
            "level_words": "bien maîtrisé",
            "computed": "3",
            "override": {
                "level": "4",
                "reason": "Soudure d'examen réussie",
                "by": "M. Perrin",
                "at": "2026-11-28T15:00:00.000Z",
            },
            "evidence_count": 2,
            "seen": True,
            "history": [
                {
                    "at": "2026-11-26T09:20:11.400Z",
                    "level": "2",
                    "piece": "P-2026-000001",
                    "work_order": "OF-2026-0001",
                    "operation": "Soudage MAG (135)",
                    "comment": "=SOMME(A1:A9) cordon irrégulier",
                    "by": "M. Perrin",
                    "self": "difficile",
                    "superseded": True,
                },
                {
                    "at": "2026-11-27T09:20:11.400Z",
                    "level": "3",
                    "piece": "P-2026-000002",
                    "work_order": "OF-2026-0001",
                    "operation": "Soudage MAG (135)",
                    "comment": "Bien; « propre »\nsur deux lignes",
                    "by": "M. Perrin",
                    "self": "facile",
                    "superseded": False,
                },
            ],
        },
        {
            "id": "cap-rics:C5",
            "code": "C5",
            "title": "Contrôler la réalisation",
            "level": "ABS",
            "level_words": "absent",
            "computed": "ABS",
            "override": None,
            "evidence_count": 1,
            "seen": True,
            "history": [
                {
                    "at": "2026-11-27T11:00:00.000Z",
                    "level": "ABS",
                    "piece": "P-2026-000002",
                    "work_order": "OF-2026-0001",
                    "operation": "Contrôle",
                    "comment": None,
                    "by": "M. Perrin",
                    "self": None,
                }
            ],
        },
    ],
    "not_seen": ["cap-rics:C3"],
    "hours": [{"operation_type": "SOUD-MAG", "name": "Soudage MAG (135)", "hours": 2.5, "runs": 3}],
    "welding": [
        {
            "process": "135",
            "position": "PB",
            "welds": 12,
            "arc_s": 184.5,
            "in_range_share": 0.875,
            "last_weld_at": "2026-11-27T09:30:00.000Z",
        }
    ],
    "qualification": [
        {
            "process": "135",
            "position": "PB",
            "last_weld_at": "2026-11-27T09:30:00.000Z",
            "valid_until": "2027-05-27",
            "holds": True,
            "to_confirm": True,
            "confirmations": [],
        }
    ],
    "photos": [{"id": 1, "piece": "P-2026-000002", "at": "2026-11-27T12:00:00.000Z"}],
}


def pdf_text(content: bytes) -> str:
    document = pypdfium2.PdfDocument(content)
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in document)
    finally:
        document.close()


def sections(text: str) -> dict[str, list[list[str]]]:
    """Read the CSV back with the csv module: {section title: [header, rows…]}."""
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))
    found: dict[str, list[list[str]]] = {}
    current: list[list[str]] | None = None
    for row in rows:
        if not row:
            current = None
        elif current is None:
            assert len(row) == 1, row
            current = found.setdefault(row[0], [])
        else:
            current.append(row)
    return found


def test_the_pdf_is_a4_in_french_with_each_competency_and_level() -> None:
    content = record_pdf(RECORD)
    assert content.startswith(b"%PDF")
    document = pypdfium2.PdfDocument(content)
    width, height = document[0].get_size()
    assert (round(width), round(height)) == (595, 842)  # A4 in points
    document.close()
    text = pdf_text(content)
    for expected in (
        "Livret de compétences — Inès K.",
        "Référentiel provisoire",
        "C3-C5 reconstitués",
        "C3 — Réaliser",
        "C4 — Assembler",
        "C5 — Contrôler",
        "Niveau actuel : niveau 4 : bien maîtrisé",
        "fixé à la main par M. Perrin",
        "Soudure d'examen réussie",
        "Niveau actuel : absent à l'évaluation",
        "Non vu",
        "P-2026-000001",
        "niveau 2 : insuffisamment maîtrisé",
        "cordon irrégulier",
        "difficile",
        "Soudage MAG (135)",
        "2,5",
        "87,5",
        "135 MAG",
        "27/05/2027",
        "confirmation à signer",
        "Édité le 30/11/2026",
    ):
        assert expected in text.replace("\r\n", "\n").replace("\n", " ") or expected in text, (
            expected
        )
    assert "Kaddour" not in text  # the short name only, whatever the record held


def test_a_framework_that_is_not_provisional_carries_no_warning() -> None:
    record = {**RECORD, "student": {**RECORD["student"]}}
    record["student"]["framework"] = {**RECORD["student"]["framework"], "provisional": False}
    assert "provisoire" not in pdf_text(record_pdf(record))
    assert "provisoire;non" in record_csv(record)


def test_the_csv_round_trips_through_the_csv_module() -> None:
    text = record_csv(RECORD)
    assert "\r\n" in text and text.count("\ufeff") == 1
    found = sections(text)
    assert list(found) == [
        "Élève",
        "Niveaux",
        "Historique",
        "Non vu",
        "Heures",
        "Soudage",
        "Qualification",
    ]
    student = {row[0]: row[1] for row in found["Élève"][1:]}
    assert student["élève"] == "Inès K." and student["référentiel provisoire"] == "oui"
    levels = {row[0]: row for row in found["Niveaux"][1:]}
    assert set(levels) == {"cap-rics:C3", "cap-rics:C4", "cap-rics:C5"}
    assert levels["cap-rics:C4"][2:4] == ["4", "niveau 4 : bien maîtrisé"]
    assert levels["cap-rics:C3"][3] == "pas encore évalué"
    head, *history = found["Historique"]
    assert head[0] == "compétence" and len(history) == 3
    first = dict(zip(head, history[0], strict=True))
    assert first["pièce"] == "P-2026-000001" and first["date"] == "26/11/2026 10:20"
    # A comment a spreadsheet would take for a formula is quoted; « ; » and newlines survive.
    assert first["commentaire"] == "'=SOMME(A1:A9) cordon irrégulier"
    assert first["remplacée"] == "oui"
    assert history[1][head.index("commentaire")] == "Bien; « propre »\nsur deux lignes"
    assert found["Heures"][1] == ["SOUD-MAG", "Soudage MAG (135)", "2,5", "3"]
    assert found["Soudage"][1][:5] == ["135", "PB", "12", "184,5", "87,5"]
    assert found["Qualification"][1][3:5] == ["27/05/2027", "valide, confirmation à signer"]


def test_an_empty_record_still_renders() -> None:
    record = {
        "student": {"code": "E1", "display_name": "A. B.", "framework": {"code": "x"}},
        "competencies": [],
    }
    assert "aucune compétence" in pdf_text(record_pdf(record))
    assert set(sections(record_csv(record))) >= {"Élève", "Niveaux", "Historique"}


def test_the_command_writes_the_file_and_an_audit_event(
    client: FlaskClient, runner: FlaskCliRunner, school: None, tmp_path: Path
) -> None:
    finish_piece(client)
    teacher = make_staff()
    review = ReviewPiece(
        PIECE, "conforme", (AssessmentInput("E2026-001", "cap-rics:C4", "3", "Régulier"),)
    )
    assert submit(web_origin(teacher), review).accepted
    pdf = tmp_path / "livret.pdf"
    result = runner.invoke(
        args=["record", "export", "E2026-001", "--format", "pdf", "-o", str(pdf)]
    )
    assert result.exit_code == 0, result.output
    assert "écrit" in result.stderr
    text = pdf_text(pdf.read_bytes())
    for competency in ("C3", "C4", "C5"):
        assert f"{competency} — " in text
    assert "niveau 3 : maîtrisé" in text and "Lucas M." in text
    out = tmp_path / "livret.csv"
    result = runner.invoke(
        args=[
            "record",
            "export",
            "E2026-001",
            "--format",
            "csv",
            "-o",
            str(out),
            "--site",
            "belfort",
        ]
    )
    assert result.exit_code == 0, result.output
    found = sections(out.read_bytes().decode("utf-8"))
    assert [row[2] for row in found["Historique"][1:]] == ["3"]
    db.session().expire_all()
    exports = (
        db.session()
        .execute(select(Event).where(Event.kind == "record.export").order_by(Event.id))
        .scalars()
    )
    assert [(e.channel, e.status, e.payload) for e in exports] == [
        ("cli", "accepted", {"student": "E2026-001", "format": "pdf"}),
        ("cli", "accepted", {"student": "E2026-001", "format": "csv"}),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["E2026-999", "--format", "pdf"], "Élève inconnu"),
        (["E2026-001", "--format", "pdf", "--site", "nulle-part"], "Site inconnu"),
    ],
)
def test_the_command_refuses_in_french_and_writes_nothing(
    runner: FlaskCliRunner, school: None, tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "livret.pdf"
    result = runner.invoke(args=["record", "export", *args, "-o", str(out)])
    assert result.exit_code != 0 and message in result.output
    assert not out.exists()
    db.session().expire_all()
    exports = db.session().execute(select(Event).where(Event.kind == "record.export")).all()
    assert exports == []
