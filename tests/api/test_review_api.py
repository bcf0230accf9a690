"""Section 8's API: the review queue, a piece's review, unattributed welds, record exports.

Every status on both databases (the ``database`` fixture runs each test on SQLite and on
PostgreSQL): 200, 400, 401, 403 (device token, kiosk credential, CSRF), 404, 409, 422 —
and a refused review changes nothing, a later one supersedes with the history kept, and
each write and export is in the audit log.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select

from app import create_app
from app.config import TestingConfig
from app.extensions import db
from app.models import Assessment, Event, Piece, PieceReview, Weld, utcnow
from app.read.reviews import awaiting_count, review_queue
from tests.api.test_read_api import validate
from tests.board.welding import WeldingStation
from tests.factories import Scanner, load_school, make_staff, make_token, site_id

LUCAS = "0A00F1C2D3"
LEA = "B-0003"
PIECE = "P-2026-000001"
SECOND = "P-2026-000002"
PASSWORD = "un-mot-de-passe-long"
GOOD_REVIEW = {
    "verdict": "conforme",
    "assessments": [
        {"student": "E2026-001", "competency": "cap-rics:C4", "level": "3", "comment": "Bien"},
        {"student": "E2026-003", "competency": "cap-metallier:C3.6", "level": "2"},
    ],
}
ENDPOINTS = [
    ("get", "/api/v1/reviews"),
    ("post", f"/api/v1/pieces/{PIECE}/review"),
    ("get", "/api/v1/welds?unattributed=true"),
    ("post", "/api/v1/welds/ws01-1/assign"),
    ("get", "/api/v1/students/E2026-001/record.pdf"),
    ("get", "/api/v1/students/E2026-001/record.csv"),
]


def weld_step(client: FlaskClient, code: str, token: str) -> None:
    """Lucas and Léa weld step 20 of a piece of OF-2026-0001 at ST-SOUD-01."""
    welder = Scanner(client, token)
    welder.ok(LUCAS)
    welder.ok(LEA)
    welder.ok("OF-2026-0001-20")
    welder.ok(code)
    welder.ok("A-FIN")
    welder.ok("A-SORTIE")


def finish_piece(client: FlaskClient, code: str = PIECE) -> None:
    """Make a piece through its whole routing: Léa cuts (10) and checks (30), both weld (20)."""
    weld_step(client, code, make_token("ST-SOUD-01", name=f"soudure {code}"))
    cutter = Scanner(client, make_token("ST-PLASMA", name=f"plasma {code}"))
    cutter.ok(LEA)
    cutter.ok("OF-2026-0001-10")
    cutter.ok(code)
    cutter.ok("A-FIN")
    cutter.ok("OF-2026-0001-30")
    cutter.ok(code)
    cutter.ok("A-FIN")
    cutter.ok("A-SORTIE")


def sign_in(client: FlaskClient, role: str = "teacher") -> None:
    email = f"{role}@example.org"
    make_staff(email, PASSWORD, role=role)
    response = client.post("/connexion", data={"email": email, "password": PASSWORD})
    assert response.status_code == 302, response.data


@pytest.fixture
def teacher(client: FlaskClient, school: None) -> FlaskClient:
    sign_in(client)
    return client


def counts() -> dict[str, int]:
    session = db.session()
    session.expire_all()
    return {
        "reviews": session.scalar(select(func.count()).select_from(PieceReview)) or 0,
        "assessments": session.scalar(select(func.count()).select_from(Assessment)) or 0,
    }


def events(kind: str, status: str = "accepted") -> list[Event]:
    db.session().expire_all()
    return list(
        db.session()
        .execute(select(Event).where(Event.kind == kind, Event.status == status).order_by(Event.id))
        .scalars()
    )


def piece_status(code: str) -> str:
    db.session().expire_all()
    return str(db.session().execute(select(Piece.status).where(Piece.code == code)).scalar_one())


def openapi(client: FlaskClient) -> dict[str, Any]:
    document: dict[str, Any] = client.get("/api/v1/openapi.json").get_json()
    return document


# -- the queue --------------------------------------------------------------------------------


def test_the_queue_lists_finished_pieces_newest_first_with_filters(teacher: FlaskClient) -> None:
    finish_piece(teacher, PIECE)
    finish_piece(teacher, SECOND)
    session, site = db.session(), site_id()
    queue = review_queue(session, site)
    assert [p["code"] for p in queue] == [SECOND, PIECE]
    assert awaiting_count(session, site) == 2
    first = queue[1]
    assert first["work_order"] == {"number": "OF-2026-0001", "product": "Support soudé"}
    assert first["students"] == [
        {"code": "E2026-003", "display_name": "Léa C."},
        {"code": "E2026-001", "display_name": "Lucas M."},
    ]
    assert first["stations"] == ["ST-SOUD-01", "ST-PLASMA"]
    assert first["completed_at"].endswith("Z")
    assert len(review_queue(session, site, student="E2026-001")) == 2
    assert review_queue(session, site, student="E2026-002") == []
    assert len(review_queue(session, site, work_order="OF-2026-0001", station="ST-PLASMA")) == 2
    assert review_queue(session, site, work_order="OF-2026-0002") == []
    assert review_queue(session, site, station="ST-SOUD-02") == []
    assert [p["code"] for p in review_queue(session, site, limit=1)] == [SECOND]

    response = teacher.get("/api/v1/reviews?student=E2026-001&limit=1")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["count"] == 2 and [p["code"] for p in body["pieces"]] == [SECOND]
    validate(openapi(teacher), "ReviewQueue", body)
    # Reviewed: no longer waiting.
    assert teacher.post(f"/api/v1/pieces/{PIECE}/review", json=GOOD_REVIEW).status_code == 200
    assert [p["code"] for p in teacher.get("/api/v1/reviews").get_json()["pieces"]] == [SECOND]
    assert awaiting_count(db.session(), site) == 1


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "limit=deux", "student=" + "x" * 81])
def test_a_bad_queue_filter_is_a_french_400(teacher: FlaskClient, query: str) -> None:
    response = teacher.get(f"/api/v1/reviews?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"


# -- the review -------------------------------------------------------------------------------


def test_a_review_answers_the_piece_as_it_now_is_and_is_audited(teacher: FlaskClient) -> None:
    finish_piece(teacher)
    response = teacher.post(f"/api/v1/pieces/{PIECE}/review", json=GOOD_REVIEW)
    assert response.status_code == 200, response.get_json()
    piece = response.get_json()
    assert piece["status"] == "reviewed"
    assert piece["review"]["verdict"] == "conforme" and piece["review"]["by"] == "M. Test"
    levels = {(e["student"]["id"], e["competency"]): e["assessment"] for e in piece["evidence"]}
    assert levels[("E2026-001", "cap-rics:C4")]["level"] == "3"
    assert levels[("E2026-001", "cap-rics:C4")]["comment"] == "Bien"
    assert levels[("E2026-003", "cap-metallier:C3.6")]["level"] == "2"
    validate(openapi(teacher), "Piece", piece)
    assert teacher.get(f"/api/v1/pieces/{PIECE}").get_json() == piece
    [event] = events("piece.review")
    assert event.channel == "web" and event.actor_kind == "staff"
    assert event.payload is not None and event.payload["verdict"] == "conforme"


def test_a_later_review_supersedes_the_first_and_both_are_kept(teacher: FlaskClient) -> None:
    finish_piece(teacher)
    assert teacher.post(f"/api/v1/pieces/{PIECE}/review", json=GOOD_REVIEW).status_code == 200
    again = {
        "verdict": "rebut",
        "assessments": [{"student": "E2026-001", "competency": "cap-rics:C4", "level": "4"}],
    }
    response = teacher.post(f"/api/v1/pieces/{PIECE}/review", json=again)
    assert response.status_code == 200
    piece = response.get_json()
    assert piece["review"]["verdict"] == "rebut"
    levels = {(e["student"]["id"], e["competency"]): e["assessment"] for e in piece["evidence"]}
    assert levels[("E2026-001", "cap-rics:C4")]["level"] == "4"
    assert levels[("E2026-003", "cap-metallier:C3.6")]["level"] == "2"
    assert counts() == {"reviews": 2, "assessments": 3}
    assert [e.payload["verdict"] for e in events("piece.review") if e.payload] == [
        "conforme",
        "rebut",
    ]


def test_a_piece_to_rework_goes_back_into_production(teacher: FlaskClient) -> None:
    finish_piece(teacher)
    response = teacher.post(f"/api/v1/pieces/{PIECE}/review", json={"verdict": "a_reprendre"})
    assert response.status_code == 200
    assert response.get_json()["status"] == "in_progress"
    # In production again: a review now conflicts with its state.
    response = teacher.post(f"/api/v1/pieces/{PIECE}/review", json=GOOD_REVIEW)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "not_finished"


@pytest.mark.parametrize(
    ("assessments", "verdict", "code"),
    [
        ([], "parfait", "bad_verdict"),
        ([{"student": "E2026-001", "competency": "cap-rics:C4", "level": "5"}], None, "bad_level"),
        # A competency of another framework than the student's.
        (
            [{"student": "E2026-001", "competency": "cap-metallier:C3.6", "level": "3"}],
            None,
            "not_evidenced",
        ),
        # A competency of the student's framework that this piece did not evidence for him.
        (
            [{"student": "E2026-001", "competency": "cap-rics:C3", "level": "3"}],
            None,
            "not_evidenced",
        ),
        # One good, one bad: neither is kept.
        (
            [
                {"student": "E2026-003", "competency": "cap-metallier:C3.6", "level": "3"},
                {"student": "E2026-002", "competency": "cap-rics:C4", "level": "3"},
            ],
            None,
            "not_evidenced",
        ),
    ],
)
def test_a_refused_review_is_a_422_and_changes_nothing(
    teacher: FlaskClient, assessments: list[dict[str, str]], verdict: str | None, code: str
) -> None:
    finish_piece(teacher)
    before = teacher.get(f"/api/v1/pieces/{PIECE}").get_json()
    body = {"verdict": verdict or "conforme", "assessments": assessments}
    response = teacher.post(f"/api/v1/pieces/{PIECE}/review", json=body)
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == code and error["message"]
    assert counts() == {"reviews": 0, "assessments": 0}
    assert piece_status(PIECE) == "awaiting_review"
    assert teacher.get(f"/api/v1/pieces/{PIECE}").get_json() == before
    # Refused, and still in the audit log.
    assert [e.error_code for e in events("piece.review", "rejected")] == [code]


def test_unknown_and_unfinished_pieces(teacher: FlaskClient) -> None:
    response = teacher.post("/api/v1/pieces/P-2026-999999/review", json=GOOD_REVIEW)
    assert response.status_code == 404
    assert "inconnue" in response.get_json()["error"]["message"]
    weld_step(teacher, PIECE, make_token("ST-SOUD-01"))
    response = teacher.post(f"/api/v1/pieces/{PIECE}/review", json=GOOD_REVIEW)
    assert response.status_code == 409
    assert "pas terminée" in response.get_json()["error"]["message"]
    assert counts() == {"reviews": 0, "assessments": 0}


NESTED = "[" * 20_000 + "]" * 20_000


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"[]",
        b'"conforme"',
        b'{"verdict": NaN}',
        b'{"verdict": "conforme", "verdict": "rebut"}',
        b'{"verdict": "\\ud800"}',
        b'{"verdict": "conf\\u0000orme"}',
        b'{"verdict": 3}',
        b'{"verdict": ""}',
        b'{"verdict": "' + b"x" * 30 + b'"}',
        b'{"verdict": "conforme", "extra": 1}',
        b'{"verdict": "conforme", "assessments": {}}',
        b'{"verdict": "conforme", "assessments": [1]}',
        b'{"verdict": "conforme", "assessments": [{"student": "E2026-001"}]}',
        b'{"verdict": "conforme", "assessments": [{"student": "E2026-001", '
        b'"competency": "cap-rics:C4", "level": "3", "comment": "' + b"x" * 501 + b'"}]}',
        b'{"verdict": "conforme", "assessments": [{"student": "E2026-001", '
        b'"competency": "cap-rics:C4", "level": "3", "why": "x"}]}',
        NESTED.encode(),
        b'{"verdict": "conforme", "assessments": ' + NESTED.encode() + b"}",
        b"\xff\xfe",
    ],
)
def test_a_malformed_body_is_a_french_400_and_changes_nothing(
    teacher: FlaskClient, raw: bytes
) -> None:
    finish_piece(teacher)
    response = teacher.post(
        f"/api/v1/pieces/{PIECE}/review", data=raw, content_type="application/json"
    )
    assert response.status_code == 400, (raw[:80], response.status_code)
    error = response.get_json()["error"]
    assert error["code"] == "bad_request" and error["message"].startswith("Requête invalide")
    assert counts() == {"reviews": 0, "assessments": 0}


def test_a_body_too_large_is_a_french_413(teacher: FlaskClient) -> None:
    finish_piece(teacher)
    comment = "x" * 70_000
    body = {"verdict": "conforme", "assessments": [{"comment": comment}]}
    response = teacher.post(f"/api/v1/pieces/{PIECE}/review", json=body)
    assert response.status_code == 413
    assert response.get_json()["status"] == "error"
    assert counts() == {"reviews": 0, "assessments": 0}


# -- who may call -----------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_anonymous_callers_get_401(
    client: FlaskClient, school: None, method: str, path: str
) -> None:
    response = getattr(client, method)(path, json={})
    assert response.status_code == 401
    assert response.get_json()["error"]["message"] == "Connexion enseignant requise."


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_device_tokens_get_403_even_with_read_rights(
    client: FlaskClient, school: None, method: str, path: str
) -> None:
    for token in (make_token(read=True, name="lecture"), make_token("ST-SOUD-01")):
        headers = {"Authorization": f"Bearer {token}"}
        response = getattr(client, method)(path, json=GOOD_REVIEW, headers=headers)
        assert response.status_code == 403, (path, response.get_json())
    assert counts() == {"reviews": 0, "assessments": 0}


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_kiosk_credentials_get_403(
    client: FlaskClient, runner: FlaskCliRunner, school: None, method: str, path: str
) -> None:
    result = runner.invoke(args=["kiosk", "enrol", "ST-KIOSK-1"])
    assert result.exit_code == 0, result.output
    link = result.stdout.strip().splitlines()[-1].removeprefix("http://localhost:8000")
    assert client.get(link).status_code == 303
    headers = {"X-Atelier-Borne": "1"}
    response = getattr(client, method)(path, json=GOOD_REVIEW, headers=headers)
    assert response.status_code == 403, (path, response.get_json())


def test_an_administrator_may_review(client: FlaskClient, school: None) -> None:
    sign_in(client, "admin")
    finish_piece(client)
    assert client.post(f"/api/v1/pieces/{PIECE}/review", json=GOOD_REVIEW).status_code == 200


def test_writes_need_the_csrf_token_of_the_session(database_url: str) -> None:
    app = create_app(TestingConfig(database_url, WTF_CSRF_ENABLED=True))
    with app.app_context():
        load_school()
        make_staff("prof@example.org", PASSWORD)
        client = app.test_client()
        page = client.get("/connexion").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        signed = client.post(
            "/connexion",
            data={"email": "prof@example.org", "password": PASSWORD, "csrf_token": token[1]},
        )
        assert signed.status_code == 302
        finish_piece(client)
        page = client.get("/impressions").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        url = f"/api/v1/pieces/{PIECE}/review"
        for headers in ({}, {"X-CSRFToken": "périmé"}):
            refused = client.post(url, json=GOOD_REVIEW, headers=headers)
            assert refused.status_code == 403
            assert refused.content_type == "application/json"
            assert refused.get_json()["error"]["code"] == "csrf_failed"
            assert "rechargez la page" in refused.get_json()["error"]["message"]
        assert counts() == {"reviews": 0, "assessments": 0}
        refused = client.post("/api/v1/welds/ws01-1/assign", json={})
        assert refused.status_code == 403
        # Reading needs no token.
        assert client.get("/api/v1/reviews").status_code == 200
        accepted = client.post(url, json=GOOD_REVIEW, headers={"X-CSRFToken": token[1]})
        assert accepted.status_code == 200, accepted.get_json()
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


# -- unattributed welds -------------------------------------------------------------------------


def test_an_unattributed_weld_is_listed_assigned_once_and_audited(teacher: FlaskClient) -> None:
    finish_piece(teacher)
    weld_id = WeldingStation("ws01").weld(utcnow())
    response = teacher.get("/api/v1/welds?unattributed=true")
    assert response.status_code == 200
    listed = response.get_json()
    assert [w["weld_id"] for w in listed["welds"]] == [weld_id]
    validate(openapi(teacher), "WeldList", listed)
    assert teacher.get("/api/v1/welds").status_code == 400

    url = f"/api/v1/welds/{weld_id}/assign"
    body = {"piece": PIECE, "step": 20, "students": ["E2026-001"]}
    assert teacher.post(url, json={**body, "students": ["E2026-999"]}).status_code == 422
    assert teacher.post(url, json={**body, "step": 40}).status_code == 404
    assert teacher.post(url, json={**body, "step": True}).status_code == 400
    assert teacher.post(url, json={**body, "students": []}).status_code == 400
    assert teacher.post("/api/v1/welds/ws01-nope/assign", json=body).status_code == 404
    response = teacher.post(url, json=body)
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert answer["weld"]["weld_id"] == weld_id
    assert answer["weld"]["students"] == [{"id": "E2026-001", "name": "Lucas M."}]
    validate(openapi(teacher), "WeldAssigned", answer)
    again = teacher.post(url, json=body)
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "already_attributed"
    assert teacher.get("/api/v1/welds?unattributed=true").get_json()["welds"] == []
    db.session().expire_all()
    assert db.session().execute(select(Weld.run_id)).scalar_one() is not None
    [event] = events("weld.assign")
    assert event.actor_kind == "staff" and event.payload is not None
    assert event.payload["weld"] == weld_id


# -- record exports -----------------------------------------------------------------------------


def test_records_export_as_pdf_and_csv_and_each_export_is_audited(teacher: FlaskClient) -> None:
    pypdfium2 = pytest.importorskip("pypdfium2")
    finish_piece(teacher)
    assert teacher.post(f"/api/v1/pieces/{PIECE}/review", json=GOOD_REVIEW).status_code == 200
    pdf = teacher.get("/api/v1/students/E2026-001/record.pdf")
    assert pdf.status_code == 200, pdf.get_data()[:300]
    assert pdf.content_type == "application/pdf"
    assert pdf.headers["Cache-Control"] == "no-store"
    assert 'filename="livret-E2026-001.pdf"' in pdf.headers["Content-Disposition"]
    document = pypdfium2.PdfDocument(pdf.data)
    text = "".join(page.get_textpage().get_text_range() for page in document)
    assert "Lucas M." in text and "C4" in text and "niveau 3 : maîtrisé" in text
    exported = teacher.get("/api/v1/students/E2026-001/record.csv")
    assert exported.status_code == 200
    assert exported.content_type.startswith("text/csv")
    assert exported.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(exported.data.decode("utf-8-sig")), delimiter=";"))
    assert ["Historique"] in rows
    assert any(row[:3] == ["cap-rics:C4", row[1], "3"] for row in rows if len(row) > 3)
    assert [e.payload for e in events("record.export")] == [
        {"student": "E2026-001", "format": "pdf"},
        {"student": "E2026-001", "format": "csv"},
    ]
    assert teacher.get("/api/v1/students/E2026-999/record.pdf").status_code == 404
    assert teacher.get("/api/v1/students/E2026-999/record.csv").status_code == 404
    assert len(events("record.export")) == 2


def test_the_openapi_document_describes_section_8(app: Flask, client: FlaskClient) -> None:
    paths = openapi(client)["paths"]
    for path in (
        "/reviews",
        "/pieces/{code}/review",
        "/welds",
        "/welds/{id}/assign",
        "/students/{id}/record.pdf",
        "/students/{id}/record.csv",
    ):
        assert path in paths
        for operation in paths[path].values():
            assert operation["security"] == [{"teacherSession": []}]
            assert {"401", "403"} <= set(operation["responses"])
    review = paths["/pieces/{code}/review"]["post"]["responses"]
    assert {"200", "400", "404", "409", "422"} <= set(review)
