"""The HTTP scan API's contract: statuses, idempotency, authentication, bad input."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.models import Event, Presence
from tests.factories import Scanner, make_token

LUCAS = "0A00F1C2D3"


def post(client: FlaskClient, token: str | None, body: Any, raw: bytes | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if raw is not None:
        return client.post(
            "/api/v1/scans", data=raw, headers={**headers, "Content-Type": "application/json"}
        )
    return client.post("/api/v1/scans", json=body, headers=headers)


def events(kind: str = "scan") -> int:
    return int(
        db.session.execute(
            select(func.count()).select_from(Event).where(Event.kind == kind)
        ).scalar_one()
    )


def test_accepted_scan_answers_201_with_the_contract_fields(scanner: Scanner) -> None:
    response = scanner.scan(LUCAS, event_id="kiosk1-7f3c9a", source="rfid")
    assert response.status_code == 201
    body = response.get_json()
    assert body["event_id"] == "kiosk1-7f3c9a"
    assert body["status"] == "accepted"
    assert body["kind"] == "badge"
    assert body["message"] == "Bonjour Lucas — badge accepté."
    assert body["station"]["code"] == "ST-SOUD-01"


def test_same_event_id_and_body_answers_200_duplicate_with_the_original_answer(
    scanner: Scanner,
) -> None:
    first = scanner.scan(LUCAS, event_id="e-1").get_json()
    again = scanner.scan(LUCAS, event_id="e-1")
    assert again.status_code == 200
    body = again.get_json()
    assert body["duplicate"] is True
    assert {k: v for k, v in body.items() if k != "duplicate"} == first
    # The badge toggles: a second application would have badged Lucas out.
    assert db.session.execute(select(func.count()).select_from(Presence)).scalar_one() == 1
    assert events() == 1


def test_duplicate_of_a_rejected_scan_repeats_the_rejection(scanner: Scanner) -> None:
    scanner.scan("B-4242", event_id="e-2")
    again = scanner.scan("B-4242", event_id="e-2")
    assert again.status_code == 200
    body = again.get_json()
    assert body["duplicate"] is True and body["status"] == "rejected"
    assert body["error"]["code"] == "unknown_code"


def test_same_event_id_with_another_body_answers_409(scanner: Scanner) -> None:
    scanner.scan(LUCAS, event_id="e-3")
    response = scanner.scan("B-0002", event_id="e-3")
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "conflict"
    assert events() == 1


def test_rejected_scan_answers_422_and_is_recorded_for_the_audit(scanner: Scanner) -> None:
    response = scanner.scan("HELLO", event_id="e-4")
    assert response.status_code == 422
    body = response.get_json()
    assert body["status"] == "rejected"
    assert body["error"] == {
        "code": "unknown_code",
        "message": "Code inconnu : ce n'est pas une étiquette de l'atelier.",
    }
    event = db.session.execute(select(Event).where(Event.key == "e-4")).scalar_one()
    assert (event.status, event.error_code, event.code) == ("rejected", "unknown_code", "HELLO")
    assert event.reason and "HELLO" in event.reason


def test_missing_or_bad_token_answers_401(client: FlaskClient, school: None) -> None:
    body = {"event_id": "x", "code": LUCAS, "station": "ST-SOUD-01"}
    assert post(client, None, body).status_code == 401
    assert post(client, "atl_not-a-token", body).status_code == 401
    response = client.post("/api/v1/scans", json=body, headers={"Authorization": "Basic abc"})
    assert response.status_code == 401
    assert response.get_json()["error"]["message"] == "Jeton d'appareil absent ou invalide."
    assert events() == 0


def test_revoked_token_answers_401(client: FlaskClient, runner: Any, school: None) -> None:
    token = make_token("ST-SOUD-01")
    assert post(client, token, {"event_id": "a", "code": LUCAS}).status_code == 201
    result = runner.invoke(args=["token", "revoke", "1"])
    assert result.exit_code == 0, result.output
    assert post(client, token, {"event_id": "b", "code": LUCAS}).status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        [],
        "scan",
        {},
        {"code": LUCAS},
        {"event_id": "", "code": LUCAS},
        {"event_id": "x" * 81, "code": LUCAS},
        {"event_id": 12, "code": LUCAS},
        {"event_id": "a\nb", "code": LUCAS},
        {"event_id": "ok", "code": None},
        {"event_id": "ok", "code": 42},
        {"event_id": "ok", "code": "x" * 201},
        {"event_id": "ok", "code": LUCAS, "source": "laser"},
        {"event_id": "ok", "code": LUCAS, "scanned_at": "hier"},
        {"event_id": "ok", "code": LUCAS, "scanned_at": "2026-11-26T09:20:11"},
        {"event_id": "ok", "code": LUCAS, "station": ["ST-SOUD-01"]},
    ],
)
def test_malformed_fields_answer_400_and_are_recorded(
    client: FlaskClient, school: None, body: Any
) -> None:
    token = make_token("ST-SOUD-01")
    response = post(client, token, body)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"]["code"] == "bad_request"
    assert response.get_json()["error"]["message"].startswith(("Scan invalide", "Le corps"))
    assert events("http.bad") == 1
    assert events("scan") == 0


@pytest.mark.parametrize(
    "raw", [b"{", b"\xff\xfe", b"", b"null", b'{"event_id": "a", "code": "B-0001"']
)
def test_malformed_json_answers_400(client: FlaskClient, school: None, raw: bytes) -> None:
    response = post(client, make_token("ST-SOUD-01"), None, raw=raw)
    assert response.status_code == 400


def test_unbound_token_must_name_the_station(client: FlaskClient, school: None) -> None:
    token = make_token()
    missing = post(client, token, {"event_id": "a", "code": LUCAS})
    assert missing.status_code == 422 and missing.get_json()["error"]["code"] == "no_station"
    unknown = post(client, token, {"event_id": "b", "code": LUCAS, "station": "ST-NOPE"})
    assert unknown.status_code == 422 and unknown.get_json()["error"]["code"] == "unknown_station"
    ok = post(client, token, {"event_id": "c", "code": LUCAS, "station": "ST-SOUD-02"})
    assert ok.status_code == 201 and ok.get_json()["station"]["code"] == "ST-SOUD-02"


def test_bound_token_cannot_scan_for_another_station(client: FlaskClient, school: None) -> None:
    token = make_token("ST-SOUD-01")
    response = post(client, token, {"event_id": "a", "code": LUCAS, "station": "ST-SOUD-02"})
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "not_allowed"
    assert (
        post(client, token, {"event_id": "b", "code": LUCAS, "station": "ST-SOUD-01"}).status_code
        == 201
    )


def test_scanned_at_is_advisory_and_the_server_stamps_its_own_time(scanner: Scanner) -> None:
    scanner.post({"event_id": "t1", "code": LUCAS, "scanned_at": "1999-01-01T00:00:00Z"})
    event = db.session.execute(select(Event).where(Event.key == "t1")).scalar_one()
    assert event.scanned_at is not None and event.scanned_at.year == 1999
    assert event.received_at.year >= 2026


def test_wrong_method_and_unknown_api_path_answer_json(client: FlaskClient) -> None:
    response = client.get("/api/v1/scans")
    assert response.status_code == 405 and response.is_json
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404


def test_oversized_body_is_refused_without_a_server_error(
    client: FlaskClient, school: None
) -> None:
    token = make_token("ST-SOUD-01")
    response = post(client, token, None, raw=b'{"event_id": "' + b"x" * 70000 + b'"}')
    assert response.status_code == 413
