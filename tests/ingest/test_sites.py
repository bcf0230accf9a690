"""Two schools in one database: neither sees, scans into or is attributed the other's data.

Both schools use the same codes (stations, badges, work orders, pieces): a code means
something only within its site. Through the real scan API, the read API, the CLI and MQTT
(a real Mosquitto, one ingest worker per site).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from app.cli import mosquitto_acl
from app.extensions import db
from app.models import Event, Presence, Site, Station, Student, Weld
from tests.factories import MINIMAL_SCHOOL, Scanner, load_school, make_staff, make_token
from tests.mqtt.conftest import RunningWorker, wait_until
from tests.support.mosquitto import MosquittoBroker
from tests.support.stations import ScriptedStation

SHIPPED_CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "atelier.conf"
# Mulhouse's school file: Belfort's codes, other people, other MQTT device names (one broker
# holds one account per name).
MULHOUSE = (
    MINIMAL_SCHOOL.read_text("utf-8")
    .replace("site: belfort", "site: mulhouse")
    .replace("Lucas M.", "Zoé R.")
    .replace("m.perrin@example.org", "m.klein@example.org")
    .replace("mqtt_device: ws01", "mqtt_device: mws01")
    .replace("mqtt_device: ws02", "mqtt_device: mws02")
)
PASSWORDS = {
    "atelier-ingest": "ingest-secret",
    "ws01": "ws01-secret",
    "mws01": "mws01-secret",
}


@pytest.fixture
def two_schools(app: Flask) -> None:
    """Belfort and Mulhouse, both imported."""
    load_school()
    load_school(MINIMAL_SCHOOL, text=MULHOUSE)


def student_at(site: str, station: str) -> list[str]:
    """Return the names of the students badged in at a station of a site."""
    db.session.commit()
    return list(
        db.session.execute(
            select(Student.name)
            .join(Presence, Presence.student_id == Student.id)
            .join(Station, Station.id == Presence.station_id)
            .join(Site, Site.id == Station.site_id)
            .where(Site.code == site, Station.code == station, Presence.ended_at.is_(None))
        ).scalars()
    )


def test_the_same_badge_code_is_a_different_student_in_each_school(
    client: FlaskClient, two_schools: None
) -> None:
    belfort = Scanner(client, make_token("ST-SOUD-01", site="belfort"))
    mulhouse = Scanner(client, make_token("ST-SOUD-01", site="mulhouse"))
    assert belfort.ok("B-0001")["message"].startswith("Bonjour Lucas")
    assert mulhouse.ok("B-0001")["message"].startswith("Bonjour Zoé")
    assert student_at("belfort", "ST-SOUD-01") == ["Lucas M."]
    assert student_at("mulhouse", "ST-SOUD-01") == ["Zoé R."]
    # The same event id from each school's device is two scans, not a duplicate.
    assert belfort.ok("OF-2026-0001-20", event_id="same-id")["kind"] == "operation"
    assert mulhouse.ok("OF-2026-0001-20", event_id="same-id")["kind"] == "operation"


def test_a_piece_made_in_one_school_is_unknown_to_the_other(
    client: FlaskClient, two_schools: None
) -> None:
    mulhouse = Scanner(client, make_token("ST-SOUD-01", site="mulhouse"))
    mulhouse.ok("B-0001")
    mulhouse.ok("OF-2026-0001-20")
    mulhouse.ok("P-2026-000001")
    mulhouse.ok("A-FIN")
    belfort_reader = {"Authorization": f"Bearer {make_token(read=True, site='belfort')}"}
    mulhouse_reader = {"Authorization": f"Bearer {make_token(read=True, site='mulhouse')}"}
    assert client.get("/api/v1/pieces/P-2026-000001", headers=belfort_reader).status_code == 404
    piece = client.get("/api/v1/pieces/P-2026-000001", headers=mulhouse_reader).get_json()
    assert [s["name"] for op in piece["operations"] for s in op["students"]] == ["Zoé R."]
    stations = client.get("/api/v1/stations", headers=belfort_reader).get_json()["stations"]
    assert all(s["students"] == [] for s in stations)
    assert len(stations) == 5
    portfolio = client.get("/api/v1/students/E2026-001/portfolio", headers=belfort_reader)
    assert portfolio.get_json()["student"]["name"] == "Lucas M."
    assert portfolio.get_json()["competencies"][1]["evidence_count"] == 0
    # Belfort, building the same piece code, starts its own piece.
    belfort = Scanner(client, make_token("ST-SOUD-01", site="belfort"))
    belfort.ok("B-0001")
    belfort.ok("OF-2026-0001-20")
    assert "Nouvelle pièce P-2026-000001" in belfort.ok("P-2026-000001")["message"]


def test_a_teacher_sees_only_their_school(client: FlaskClient, two_schools: None) -> None:
    Scanner(client, make_token("ST-PLASMA", site="mulhouse")).ok("B-0002")
    make_staff("prof@belfort.example.org", site="belfort")
    client.post(
        "/connexion", data={"email": "prof@belfort.example.org", "password": "un-mot-de-passe-long"}
    )
    stations = {s["code"]: s for s in client.get("/api/v1/stations").get_json()["stations"]}
    assert stations["ST-PLASMA"]["students"] == []
    board = client.get("/").get_data(as_text=True)
    assert "Inès" not in board


def test_commands_name_the_site_when_there_are_several(
    runner: FlaskCliRunner, two_schools: None
) -> None:
    refused = runner.invoke(args=["token", "create", "borne"])
    assert refused.exit_code != 0
    assert "Plusieurs sites dans la base (belfort, mulhouse) : précisez --site." in refused.output
    ok = runner.invoke(
        args=["token", "create", "borne", "--station", "ST-SOUD-01", "--site", "mulhouse"]
    )
    assert ok.exit_code == 0, ok.output
    acl = runner.invoke(args=["mqtt", "acl", "--site", "mulhouse"]).stdout
    assert "user mws01\ntopic write atelier/v1/mulhouse/mws01/status" in acl
    assert "belfort" not in acl


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """Mosquitto with the shipped configuration and both schools' ACL."""
    acl = mosquitto_acl(
        "atelier/v1", "atelier-ingest", [("belfort", ["ws01"]), ("mulhouse", ["mws01"])]
    )
    with MosquittoBroker(
        SHIPPED_CONFIG.read_text(encoding="utf-8"),
        workdir=tmp_path / "broker",
        users=PASSWORDS,
        acl_text=acl,
    ) as running:
        yield running


def test_each_schools_worker_attributes_its_own_welds_to_its_own_students(
    app: Flask, client: FlaskClient, two_schools: None, broker: MosquittoBroker
) -> None:
    belfort = Scanner(client, make_token("ST-SOUD-01", site="belfort"))
    mulhouse = Scanner(client, make_token("ST-SOUD-01", site="mulhouse"))
    for scanner in (belfort, mulhouse):
        scanner.ok("B-0001")
        scanner.ok("OF-2026-0001-20")
        scanner.ok("P-2026-000001")
    workers = [
        RunningWorker(app, broker, site="belfort", passwords=PASSWORDS),
        RunningWorker(app, broker, site="mulhouse", passwords=PASSWORDS),
    ]
    stations = [
        ScriptedStation(broker.port, "ws01", password=PASSWORDS["ws01"]),
        ScriptedStation(broker.port, "mws01", password=PASSWORDS["mws01"], site="mulhouse"),
    ]
    try:
        belfort_weld = stations[0].weld()
        mulhouse_weld = stations[1].weld()
        welds = wait_until(
            lambda: (
                (found := db.session.execute(select(Weld)).scalars().all())
                and len(found) == 2
                and found
            ),
            what="both welds",
        )
        by_key = {weld.weld_key: weld for weld in welds}
        sites = dict(db.session.execute(select(Site.id, Site.code)).all())
        assert sites[by_key[belfort_weld].site_id] == "belfort"
        assert sites[by_key[mulhouse_weld].site_id] == "mulhouse"
        assert [s.student.name for s in by_key[belfort_weld].students] == ["Lucas M."]
        assert [s.student.name for s in by_key[mulhouse_weld].students] == ["Zoé R."]
        # A station may not publish under the other school's topics (the ACL drops it).
        spoof = stations[0].client.publish("atelier/v1/mulhouse/mws01/evt/arc", b'{"v": 1}', qos=1)
        spoof.wait_for_publish(5)
        marker = stations[1].weld()
        wait_until(
            lambda: db.session.execute(
                select(Weld).where(Weld.weld_key == marker)
            ).scalar_one_or_none(),
            what="the marker weld",
        )
        rejected = (
            db.session.execute(
                select(Event).where(Event.channel == "mqtt", Event.status == "rejected")
            )
            .scalars()
            .all()
        )
        assert rejected == []
    finally:
        for station in stations:
            station.disconnect()
        for worker in workers:
            worker.close()
