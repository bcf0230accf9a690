"""Hostile input, as found against a running server: a clear 4xx in French, recorded, never 500.

Each case was a 500 once (deep nesting, a lone surrogate, a date that overflows once turned
to UTC), or was accepted when it should not have been (a long s upper-cased into a station
code, weld figures that made the heat input infinite).
"""

from __future__ import annotations

import json
import math
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from app.db import write_transaction
from app.extensions import db
from app.ingest.events import Actor, Origin
from app.ingest.welding import record_batch
from app.models import Event, Station, utcnow
from app.mqtt.payloads import decode
from tests.board.welding import WeldingStation
from tests.factories import Scanner, make_token, site_id

LUCAS = "B-0001"


def post_raw(client: FlaskClient, token: str, raw: bytes) -> Any:
    return client.post(
        "/api/v1/scans",
        data=raw,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )


def recorded(kind: str) -> list[Event]:
    db.session.commit()
    return list(db.session.execute(select(Event).where(Event.kind == kind)).scalars())


def test_json_nested_a_thousand_levels_deep_is_a_recorded_400(
    client: FlaskClient, school: None
) -> None:
    raw = b'{"event_id": "deep", "code": ' + b"[" * 100_00 + b"]" * 100_00 + b"}"
    response = post_raw(client, make_token("ST-SOUD-01"), raw)
    assert response.status_code == 400
    assert response.get_json()["error"]["message"].startswith("Le corps de la requête")
    [bad] = recorded("http.bad")
    assert bad.status == "rejected" and bad.reason == "body is nested too deeply"
    assert bad.raw is not None and bad.raw.startswith('{"event_id": "deep"')


def test_a_lone_surrogate_in_the_code_is_refused_and_recorded(
    client: FlaskClient, school: None
) -> None:
    response = post_raw(
        client, make_token("ST-SOUD-01"), b'{"event_id": "s1", "code": "B-\\ud800"}'
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "bad_format"
    [scan] = recorded("scan")
    assert scan.code == "B-\ufffd" and scan.error_code == "bad_format"


def test_a_lone_surrogate_in_the_event_id_is_a_recorded_400(
    client: FlaskClient, school: None
) -> None:
    response = post_raw(
        client, make_token("ST-SOUD-01"), b'{"event_id": "s\\udfff", "code": "B-0001"}'
    )
    assert response.status_code == 400
    assert "invisibles" in response.get_json()["error"]["message"]
    [bad] = recorded("http.bad")
    assert "\udfff" not in (bad.raw or "")


@pytest.mark.parametrize(
    "scanned_at",
    ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "3000-01-01T00:00:00Z"],
)
def test_a_scanned_at_out_of_range_is_a_recorded_400(
    client: FlaskClient, school: None, scanned_at: str
) -> None:
    body = {"event_id": "t1", "code": LUCAS, "scanned_at": scanned_at}
    response = client.post(
        "/api/v1/scans", json=body, headers={"Authorization": f"Bearer {make_token('ST-SOUD-01')}"}
    )
    assert response.status_code == 400
    assert "scanned_at" in response.get_json()["error"]["message"]
    assert len(recorded("http.bad")) == 1


def test_a_long_s_is_not_read_as_an_s(client: FlaskClient, school: None) -> None:
    kiosk = Scanner(client, make_token("ST-KIOSK-1"))
    body = kiosk.refused("ST-\u017fOUD-01", "bad_format")
    assert body["station"]["acting_for"] is None


def test_a_nul_character_in_the_code_is_refused_and_recorded_visibly(
    client: FlaskClient, school: None
) -> None:
    Scanner(client, make_token("ST-SOUD-01")).refused("B-00\x0001", "bad_format")
    [scan] = recorded("scan")
    assert scan.code == "B-00\ufffd01"


def test_every_station_code_of_the_school_file_is_ascii(school: None) -> None:
    codes = db.session.execute(select(Station.code)).scalars().all()
    assert codes and all(code.isascii() for code in codes)


@pytest.mark.parametrize(
    "figures",
    [
        {"energy_j": 1e308, "length_mm": 1e-10},
        {"arc_s": 1e308},
        {"i_a": {"mean": 1e9}},
        {"u_v": {"mean": -1.0}},
        {"length_mm": 0.0},
    ],
)
def test_weld_figures_outside_physical_bounds_are_rejected_with_their_reason(
    school: None, figures: dict[str, Any]
) -> None:
    station = WeldingStation("ws01")
    weld_id = station.messages.next_weld_id()
    payload = station.messages.arc_end(weld_id, utcnow())
    for key, value in figures.items():
        payload[key] = {**payload[key], **value} if isinstance(value, dict) else value
    prefix = "atelier/v1/belfort/"
    message = decode(f"{prefix}ws01/evt/arc", json.dumps(payload).encode(), utcnow(), prefix)
    origin = Origin(site_id(), "mqtt", "", Actor("worker", "test"), utcnow(), "")
    result = write_transaction(lambda session: record_batch(session, origin, [message], utcnow()))
    assert result.rejected == 1 and result.welds == 0
    reason = result.rejections[0][1]
    assert "between" in reason or "must be" in reason, reason


def _numbers(value: Any) -> list[float]:
    if isinstance(value, float):
        return [value]
    if isinstance(value, dict):
        return [n for item in value.values() for n in _numbers(item)]
    if isinstance(value, list):
        return [n for item in value for n in _numbers(item)]
    return []


def test_no_answer_carries_nan_or_infinity(client: FlaskClient, school: None) -> None:
    welder = Scanner(client, make_token("ST-SOUD-01"))
    welder.ok(LUCAS)
    welder.ok("OF-2026-0001-20")
    welder.ok("P-2026-000001")
    station = WeldingStation("ws01")
    station.weld(utcnow() + timedelta(seconds=1), arc_s=3600.0, i_mean=1400.0, u_mean=90.0)
    reader = {"Authorization": f"Bearer {make_token(read=True)}"}
    for path in ("/api/v1/pieces/P-2026-000001", "/api/v1/stations"):
        text = client.get(path, headers=reader).get_data(as_text=True)
        assert "NaN" not in text and "Infinity" not in text
        assert all(math.isfinite(n) for n in _numbers(json.loads(text)))
