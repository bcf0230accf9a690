"""Property tests: whatever a device sends, the scan API never fails and the shop stays sane."""

from __future__ import annotations

import itertools
import json
from typing import Any

from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    Event,
    Evidence,
    Operation,
    OperationRun,
    Piece,
    Presence,
    StationContext,
    Student,
    current_context_id,
)
from tests.factories import Scanner, make_token
from tests.support.hostile import DEEP, HOSTILE_TEXT, JSON_VALUES, dumps

_ids = itertools.count()


CODES = (
    st.sampled_from(
        [
            "0A00F1C2D3",
            "B-0001",
            "B-0002",
            "B-0003",
            "B-0004",
            "B-9001",
            "B-4242",
            "OF-2026-0001",
            "OF-2026-0002",
            "OF-2026-0001-10",
            "OF-2026-0001-20",
            "OF-2026-0001-30",
            "OF-2026-0002-20",
            "OF-2026-0009-10",
            "P-2026-000001",
            "P-2026-000002",
            "P-2026-000003",
            "ST-SOUD-01",
            "ST-SOUD-02",
            "ST-PLIEUSE",
            "ST-KIOSK-1",
            "A-FIN",
            "A-PAUSE",
            "A-ANNULE",
            "A-SORTIE",
            "A-NOPE",
            "OF)éàé-)àà&",
            "ST-\u017fOUD-01",
            "B-\ud800",
            "",
        ]
    )
    | st.text(max_size=70)
    | HOSTILE_TEXT
)


@settings(max_examples=200)
@given(
    body=st.dictionaries(
        st.sampled_from(["event_id", "code", "station", "source", "scanned_at", "x"]),
        JSON_VALUES | DEEP,
        max_size=6,
    )
    | JSON_VALUES
    | DEEP
)
def test_any_json_body_gets_a_4xx_or_2xx_never_5xx(
    client: FlaskClient, school: None, body: Any
) -> None:
    token = make_token()
    response = client.post(
        "/api/v1/scans",
        data=dumps(body),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status_code in {200, 201, 400, 409, 413, 422}, response.get_data(as_text=True)
    payload = response.get_json()
    if response.status_code == 422:
        assert payload["error"]["code"] != "internal_error"
        assert payload["error"]["message"]


@settings(max_examples=100)
@given(raw=st.binary(max_size=300))
def test_any_bytes_get_a_4xx_or_2xx_never_5xx(
    client: FlaskClient, school: None, raw: bytes
) -> None:
    token = make_token()
    response = client.post(
        "/api/v1/scans",
        data=raw,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status_code < 500


def check_invariants() -> None:
    """Check what must hold in the shop whatever the scans were."""
    db.session.commit()  # end the read snapshot: scans commit on their own connection
    open_per_student = db.session.execute(
        select(Presence.student_id, func.count())
        .where(Presence.ended_at.is_(None))
        .group_by(Presence.student_id)
    ).all()
    assert all(count == 1 for _, count in open_per_student)
    for state in db.session.execute(
        select(StationContext).where(
            StationContext.id == current_context_id(StationContext.station_id)
        )
    ).scalars():
        if state.active_run_id is not None:
            run = db.session.get(OperationRun, state.active_run_id)
            assert run is not None and run.status in {"running", "paused"}
            assert run.station_id == state.station_id
    for evidence in db.session.execute(select(Evidence)).scalars():
        student = db.session.get(Student, evidence.student_id)
        assert student is not None and evidence.competency.framework_id == student.framework_id
    for piece in db.session.execute(select(Piece)).scalars():
        steps = db.session.execute(
            select(func.count())
            .select_from(Operation)
            .where(Operation.work_order_id == piece.work_order_id)
        ).scalar_one()
        done = db.session.execute(
            select(func.count())
            .select_from(OperationRun)
            .where(OperationRun.piece_id == piece.id, OperationRun.status == "finished")
        ).scalar_one()
        assert (piece.status == "awaiting_review") == (done == steps), (piece.code, done, steps)
    errors = db.session.execute(
        select(func.count()).select_from(Event).where(Event.error_code == "internal_error")
    ).scalar_one()
    assert errors == 0


@settings(max_examples=30)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["ST-SOUD-01", "ST-SOUD-02", "ST-PLIEUSE", "ST-KIOSK-1"]),
            CODES,
            st.booleans(),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_random_scan_sequences_keep_the_shop_consistent(
    client: FlaskClient, school: None, steps: list[tuple[str, str, bool]]
) -> None:
    scanner = Scanner(client, make_token())
    sent: list[dict[str, Any]] = []
    for station, code, replay in steps:
        if replay and sent:
            body = sent[-1]
        else:
            body = {"event_id": f"fuzz-{next(_ids)}", "station": station, "code": code}
            sent.append(body)
        response = scanner.post(body)
        assert response.status_code in {200, 201, 422}, (body, response.get_data(as_text=True))
        if response.status_code == 200:
            assert response.get_json()["duplicate"] is True
    check_invariants()
    json.dumps(sent)
