"""The read API (pieces, portfolios, stations), its access rules and its OpenAPI document."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from sqlalchemy import event

from app.boundary import submit, web_origin
from app.extensions import db
from app.ingest.events import AssessmentInput, ReviewPiece
from app.models import utcnow
from tests.board.welding import WeldingStation
from tests.factories import MINIMAL_SCHOOL, Scanner, load_school, make_staff, make_token

LUCAS = "0A00F1C2D3"
LEA = "B-0003"


def validate(document: dict[str, Any], schema_name: str, instance: Any) -> None:
    """Check a response against a schema of the served OpenAPI document."""
    resource = DRAFT202012.create_resource(document)
    registry: Registry[Any] = Registry().with_resource("urn:atelier", resource)
    schema = {"$ref": f"urn:atelier#/components/schemas/{schema_name}"}
    Draft202012Validator(schema, registry=registry).validate(instance)


@pytest.fixture
def reader(client: FlaskClient, school: None) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(read=True, name='tablette')}"}


@pytest.fixture
def made_piece(client: FlaskClient, school: None) -> None:
    welder = Scanner(client, make_token("ST-SOUD-01"))
    welder.ok(LUCAS)
    welder.ok(LEA)
    welder.ok("OF-2026-0001-20")
    welder.ok("P-2026-000001")
    welder.ok("A-FIN")


def test_piece_shows_its_order_operations_students_and_evidence(
    client: FlaskClient, reader: dict[str, str], made_piece: None
) -> None:
    response = client.get("/api/v1/pieces/P-2026-000001", headers=reader)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    piece = response.get_json()
    assert piece["code"] == "P-2026-000001" and piece["status"] == "in_progress"
    assert piece["work_order"]["number"] == "OF-2026-0001"
    steps = {op["step"]: op for op in piece["operations"]}
    assert [steps[s]["status"] for s in (10, 20, 30)] == ["todo", "finished", "todo"]
    assert [s["id"] for s in steps[20]["students"]] == ["E2026-001", "E2026-003"]
    assert steps[20]["station"] == "ST-SOUD-01" and steps[20]["wps"] == "WPS-135-PB"
    assert steps[20]["started_at"].endswith("Z") and steps[20]["finished_at"].endswith("Z")
    assert sorted((e["student"]["id"], e["competency"]) for e in piece["evidence"]) == [
        ("E2026-001", "cap-rics:C4"),
        ("E2026-003", "cap-metallier:C3.6"),
    ]
    assert all(e["assessment"] is None for e in piece["evidence"])
    validate(client.get("/api/v1/openapi.json").get_json(), "Piece", piece)


def test_portfolio_lists_every_competency_of_the_students_framework(
    client: FlaskClient, reader: dict[str, str], made_piece: None
) -> None:
    cutter = Scanner(client, make_token("ST-PLASMA"))
    cutter.ok(LEA)
    cutter.ok("OF-2026-0001-10")
    cutter.ok("P-2026-000001")
    cutter.ok("A-FIN")
    cutter.ok("OF-2026-0001-30")
    cutter.ok("P-2026-000001")
    cutter.ok("A-FIN")
    teacher = make_staff()
    review = ReviewPiece(
        "P-2026-000001", "conforme", (AssessmentInput("E2026-001", "cap-rics:C4", "3"),)
    )
    assert submit(web_origin(teacher), review).accepted
    response = client.get("/api/v1/students/E2026-001/portfolio", headers=reader)
    assert response.status_code == 200
    body = response.get_json()
    assert body["student"]["framework"] == {
        "code": "cap-rics",
        "title": "CAP Réalisations industrielles en chaudronnerie ou soudage",
        "provisional": True,
    }
    by_code = {c["code"]: c for c in body["competencies"]}
    assert list(by_code) == ["cap-rics:C3", "cap-rics:C4", "cap-rics:C5"]
    assert by_code["cap-rics:C4"]["evidence_count"] == 1
    assert by_code["cap-rics:C4"]["pieces"] == ["P-2026-000001"]
    assert by_code["cap-rics:C4"]["latest_assessment"]["level"] == "3"
    assert by_code["cap-rics:C3"] == {
        "code": "cap-rics:C3",
        "title": "Réaliser tout ou partie d'un ouvrage (débit, usinage, conformation)",
        "evidence_count": 0,
        "latest_assessment": None,
        "pieces": [],
    }
    validate(client.get("/api/v1/openapi.json").get_json(), "Portfolio", body)


def test_stations_show_who_is_in_and_what_is_in_progress(
    client: FlaskClient, reader: dict[str, str], school: None
) -> None:
    welder = Scanner(client, make_token("ST-SOUD-01"))
    welder.ok(LUCAS)
    welder.ok("OF-2026-0001-20")
    welder.ok("P-2026-000001")
    response = client.get("/api/v1/stations", headers=reader)
    assert response.status_code == 200
    stations = {s["code"]: s for s in response.get_json()["stations"]}
    assert set(stations) == {"ST-SOUD-01", "ST-SOUD-02", "ST-PLASMA", "ST-PLIEUSE", "ST-KIOSK-1"}
    assert stations["ST-SOUD-01"]["students"] == [{"id": "E2026-001", "name": "Lucas M."}]
    assert stations["ST-SOUD-01"]["run"]["piece"] == "P-2026-000001"
    assert stations["ST-PLASMA"]["students"] == [] and stations["ST-PLASMA"]["run"] is None
    validate(client.get("/api/v1/openapi.json").get_json(), "StationList", response.get_json())


def test_scan_answers_match_the_openapi_schemas(client: FlaskClient, school: None) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    welder = Scanner(client, make_token("ST-SOUD-01"))
    validate(document, "ScanAccepted", welder.ok(LUCAS))
    validate(document, "ScanRejected", welder.refused("HELLO", "unknown_code"))
    validate(document, "ScanAccepted", welder.ok("OF-2026-0001-20"))
    validate(document, "ScanAccepted", welder.ok("P-2026-000001"))


@pytest.mark.parametrize(
    "path",
    ["/api/v1/pieces/P-2026-000001", "/api/v1/students/E2026-001/portfolio", "/api/v1/stations"],
)
def test_read_api_needs_a_teacher_or_a_read_token(
    client: FlaskClient, school: None, path: str
) -> None:
    assert client.get(path).status_code == 401
    scan_only = {"Authorization": f"Bearer {make_token('ST-SOUD-01')}"}
    assert client.get(path, headers=scan_only).status_code == 403


def test_read_api_accepts_a_signed_in_teacher(client: FlaskClient, school: None) -> None:
    make_staff("prof@example.org", "un-mot-de-passe-long")
    response = client.post(
        "/connexion", data={"email": "prof@example.org", "password": "un-mot-de-passe-long"}
    )
    assert response.status_code == 302
    assert client.get("/api/v1/stations").status_code == 200


def test_unknown_piece_and_student_answer_404_in_french(
    client: FlaskClient, reader: dict[str, str]
) -> None:
    response = client.get("/api/v1/pieces/P-2026-999999", headers=reader)
    assert response.status_code == 404 and "inconnue" in response.get_json()["error"]["message"]
    assert client.get("/api/v1/students/NOPE/portfolio", headers=reader).status_code == 404


def test_openapi_document_describes_every_api_route(app: Any, client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    routes = {
        rule.rule.removeprefix("/api/v1").replace("<code>", "{code}")
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1") and rule.rule != "/api/v1/openapi.json"
    }
    documented = {path.replace("{id}", "{code}") for path in document["paths"]}
    assert routes == documented
    Draft202012Validator.check_schema({"$defs": document["components"]["schemas"]})


def test_stations_online_and_arc_on_follow_the_birth_the_arc_and_the_will(
    client: FlaskClient, reader: dict[str, str]
) -> None:
    def ws01() -> dict[str, Any]:
        stations = client.get("/api/v1/stations", headers=reader).get_json()["stations"]
        return {s["code"]: s for s in stations}["ST-SOUD-01"]

    plasma = {
        s["code"]: s for s in client.get("/api/v1/stations", headers=reader).get_json()["stations"]
    }["ST-PLASMA"]
    assert (plasma["online"], plasma["arc_on"]) == (None, None)  # not a welding station
    assert (ws01()["online"], ws01()["arc_on"]) == (False, False)  # never heard from
    station = WeldingStation("ws01")
    station.status("online")
    assert (ws01()["online"], ws01()["arc_on"]) == (True, False)
    weld_id = station.arc_start(utcnow())
    assert (ws01()["online"], ws01()["arc_on"]) == (True, True)
    station.arc_end(weld_id, utcnow())
    assert (ws01()["online"], ws01()["arc_on"]) == (True, False)
    station.arc_start(utcnow())
    station.status("offline")  # the Will: the arc cannot be on any more
    assert (ws01()["online"], ws01()["arc_on"]) == (False, False)
    validate(client.get("/api/v1/openapi.json").get_json(), "StationList", {"stations": [ws01()]})


@pytest.fixture
def statements(app: Any) -> Iterator[list[str]]:
    """Record the first word of every SQL statement the app's engine runs."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement.strip().split()[0].upper())

    event.listen(db.engine, "before_cursor_execute", record)
    yield seen
    event.remove(db.engine, "before_cursor_execute", record)


def test_the_read_api_writes_nothing_and_costs_the_same_however_many_stations(
    client: FlaskClient, school: None, statements: list[str]
) -> None:
    make_staff()
    client.post(
        "/connexion", data={"email": "prof@example.org", "password": "un-mot-de-passe-long"}
    )
    welder = Scanner(client, make_token("ST-SOUD-01"))
    welder.ok(LUCAS)
    welder.ok("OF-2026-0001-20")
    welder.ok("P-2026-000001")

    def cost(path: str) -> list[str]:
        db.session.commit()
        statements.clear()
        assert client.get(path).status_code == 200
        return [s for s in statements if s not in {"BEGIN", "COMMIT", "ROLLBACK"}]

    few = cost("/api/v1/stations")
    more = MINIMAL_SCHOOL.read_text("utf-8").replace(
        "stations:\n",
        "stations:\n"
        + "".join(
            f'  - {{code: ST-EXTRA-{n}, name: "Établi {n}", kind: assembly}}\n' for n in range(30)
        ),
    )
    load_school(text=more)
    Scanner(client, make_token("ST-EXTRA-3")).ok(LEA)
    many = cost("/api/v1/stations")
    assert few == many and len(few) <= 4, few
    for path in ("/api/v1/pieces/P-2026-000001", "/api/v1/students/E2026-001/portfolio"):
        assert not {"INSERT", "UPDATE", "DELETE"} & set(cost(path))
