"""Concurrent deliveries through the real server: one effect per event id, no interference."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from sqlalchemy import func, select

from app.extensions import db
from app.models import Event, Evidence, OperationRun, Presence
from tests.factories import MINIMAL_SCHOOL, load_school, make_token
from tests.support.server import GunicornServer


def post_all_at_once(url: str, token: str, bodies: list[dict[str, Any]]) -> list[requests.Response]:
    """Post every body from its own thread, all released at the same instant."""
    barrier = threading.Barrier(len(bodies))

    def send(body: dict[str, Any]) -> requests.Response:
        with requests.Session() as session:
            barrier.wait()
            return session.post(
                f"{url}/api/v1/scans",
                json=body,
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(send, bodies))


def test_same_event_id_posted_concurrently_has_one_effect(
    live_server: GunicornServer, school: None
) -> None:
    token = make_token("ST-SOUD-01")
    body = {"event_id": "kiosk-race-1", "code": "B-0001", "source": "barcode"}
    responses = post_all_at_once(live_server.url, token, [body] * 16)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 15 + [201], [r.text for r in responses]
    assert all(r.json()["message"].startswith("Bonjour Lucas") for r in responses)
    db.session.commit()  # end the read snapshot: scans commit on their own connection
    scans = select(func.count()).select_from(Event).where(Event.kind == "scan")
    assert db.session.execute(scans).scalar_one() == 1
    # Applied twice, the badge would have toggled Lucas back out.
    assert db.session.execute(select(func.count()).select_from(Presence)).scalar_one() == 1


def test_same_finish_replayed_concurrently_gives_evidence_once(
    live_server: GunicornServer, school: None
) -> None:
    token = make_token("ST-SOUD-01")
    headers = {"Authorization": f"Bearer {token}"}
    for number, code in enumerate(["B-0001", "B-0003", "OF-2026-0001-20", "P-2026-000001"]):
        response = requests.post(
            f"{live_server.url}/api/v1/scans",
            json={"event_id": f"s{number}", "code": code},
            headers=headers,
            timeout=30,
        )
        assert response.status_code == 201, response.text
    finish = {"event_id": "finish-1", "code": "A-FIN"}
    responses = post_all_at_once(live_server.url, token, [finish] * 12)
    assert sorted(r.status_code for r in responses) == [200] * 11 + [201]
    db.session.commit()  # end the read snapshot: scans commit on their own connection
    assert db.session.execute(select(func.count()).select_from(Evidence)).scalar_one() == 2


def run_station_day(url: str, token: str, prefix: str, badge: str, pieces: list[str]) -> list[int]:
    """Scan a station's sequence: badge, then operation 20 and A-FIN on each piece."""
    statuses = []
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token}"
        codes = [badge, "OF-2026-0001-20"]
        for piece in pieces:
            codes += [piece, "A-FIN"]
        for number, code in enumerate(codes):
            response = session.post(
                f"{url}/api/v1/scans",
                json={"event_id": f"{prefix}-{number}", "code": code},
                timeout=30,
            )
            statuses.append(response.status_code)
    return statuses


def test_two_stations_scanning_at_once_do_not_interfere(
    live_server: GunicornServer, school: None
) -> None:
    # 30 pieces of one order: more than the minimal school's 4 (and its margin) allow.
    load_school(text=MINIMAL_SCHOOL.read_text("utf-8").replace("quantity: 4", "quantity: 40"))
    tokens = [make_token("ST-SOUD-01"), make_token("ST-SOUD-02")]
    pieces = [[f"P-2026-{n:06d}" for n in range(start, start + 15)] for start in (1, 101)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(
            pool.map(
                run_station_day,
                [live_server.url] * 2,
                tokens,
                ["one", "two"],
                ["B-0001", "B-0002"],
                pieces,
            )
        )
    assert results == [[201] * 32, [201] * 32]
    db.session.commit()  # end the read snapshot: scans commit on their own connection
    runs = db.session.execute(select(OperationRun)).scalars().all()
    assert len(runs) == 30 and all(run.status == "finished" for run in runs)
    by_station = {run.piece.code: run.station.code for run in runs}
    assert all(by_station[p] == "ST-SOUD-01" for p in pieces[0])
    assert all(by_station[p] == "ST-SOUD-02" for p in pieces[1])
    assert db.session.execute(select(func.count()).select_from(Evidence)).scalar_one() == 30
