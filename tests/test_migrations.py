"""The migrations create exactly the schema the models describe, and keep existing data."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import upgrade

from app import create_app
from app.config import TestingConfig
from app.extensions import db
from app.models import Base
from tests.factories import Scanner, make_token
from tests.support import databases

BEFORE_SITES = "0d1153a3a6a8"  # the last revision before sites and the event log


def test_migrated_schema_matches_the_models(app: Flask) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


# A school as the previous schema held it: its site in `settings`, a station's state, a
# scan undone by another, a weld, a cfg waiting in the outbox.
OLD_SCHOOL = """
INSERT INTO settings (key, value) VALUES ('site', 'belfort');
INSERT INTO frameworks (id, code, title, provisional) VALUES (1, 'cap-rics', 'CAP RICS', false);
INSERT INTO competencies (id, framework_id, code, title, position)
    VALUES (1, 1, 'C4', 'Assembler', 0);
INSERT INTO students (id, code, name, framework_id, active)
    VALUES (1, 'E2026-001', 'Lucas M.', 1, true);
INSERT INTO badges (id, code, student_id) VALUES (1, 'B-0001', 1);
INSERT INTO stations (id, code, name, kind, mqtt_device)
    VALUES (1, 'ST-SOUD-01', 'Poste MAG 1', 'welding', 'ws01');
INSERT INTO customers (id, code, name) VALUES (1, 'C-1', 'Client');
INSERT INTO operation_types (id, code, name, process, station_kind)
    VALUES (1, 'SOUD', 'Soudage', '135', 'welding');
INSERT INTO operation_type_competencies (operation_type_id, competency_id) VALUES (1, 1);
INSERT INTO work_orders (id, number, customer_id, product, quantity)
    VALUES (1, 'OF-2026-0001', 1, 'Support', 4);
INSERT INTO operations (id, work_order_id, step, operation_type_id) VALUES (1, 1, 20, 1);
INSERT INTO pieces (id, code, work_order_id, status, created_at)
    VALUES (1, 'P-2026-000001', 1, 'in_progress', '2026-11-26 09:00:00');
INSERT INTO events (id, channel, key, received_at, body_sha256, status, kind, station_id,
    target_station_id, code, undo) VALUES
    (1, 'http', 'k-1', '2026-11-26 09:00:00', 'x', 'accepted', 'badge', 1, 1, 'B-0001', '[]'),
    (2, 'http', 'k-2', '2026-11-26 09:00:05', 'x', 'accepted', 'action', 1, 1, 'A-ANNULE', NULL),
    (3, 'mqtt', 'ws01/B/1', '2026-11-26 09:01:00', 'x', 'accepted', 'arc_end', 1, 1, 't', NULL),
    (4, 'http-bad', 'u-1', '2026-11-26 09:02:00', 'x', 'rejected', NULL, NULL, NULL, NULL, NULL);
UPDATE events SET undone_by_id = 2 WHERE id = 1;
INSERT INTO operation_runs (id, piece_id, operation_id, station_id, status, started_at)
    VALUES (1, 1, 1, 1, 'running', '2026-11-26 09:00:10');
INSERT INTO run_intervals (id, run_id, station_id, started_at)
    VALUES (1, 1, 1, '2026-11-26 09:00:10');
INSERT INTO presences (id, station_id, student_id, started_at)
    VALUES (1, 1, 1, '2026-11-26 09:00:00');
INSERT INTO station_states (station_id, work_order_id, operation_id, active_run_id,
    paused_by_exit) VALUES (1, 1, 1, 1, false);
INSERT INTO welds (id, weld_key, station_id, device, boot_id, started_at, ended_at,
    received_at, arc_s, i_mean_a, u_mean_v, energy_j, length_mm, verdict, run_id) VALUES
    (1, 'ws01-B-0001', 1, 'ws01', 'B', '2026-11-26 09:00:50', '2026-11-26 09:01:00',
     '2026-11-26 09:01:00', 10.0, 180.0, 24.0, 1e300, 1e-10, 'no_wps', 1);
INSERT INTO mqtt_outbox (id, topic, payload, retain, created_at)
    VALUES (1, 'atelier/v1/belfort/ws01/cfg', '', true, '2026-11-26 09:00:10');
"""


def test_an_existing_school_is_carried_over_into_its_site(
    database: databases.TestDatabase, tmp_path: Path
) -> None:
    url = _empty_database(database, tmp_path)
    app = create_app(TestingConfig(url))
    with app.app_context():
        upgrade(revision=BEFORE_SITES)
        with db.engine.begin() as conn:
            for statement in OLD_SCHOOL.split(";"):
                if statement.strip():
                    conn.execute(sa.text(statement))
            if conn.dialect.name == "postgresql":
                # Rows written with their ids: the sequences must follow, as they would have.
                for table in ("events", "pieces", "stations", "students", "operation_runs"):
                    conn.execute(
                        sa.text(
                            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT max(id) FROM {table}))"
                        )
                    )
        upgrade()
        with db.engine.connect() as conn:
            site = conn.execute(sa.text("SELECT id, code FROM sites")).one()
            assert site.code == "belfort"
            for table in ("students", "stations", "pieces", "welds", "events", "device_tokens"):
                stray = conn.execute(
                    sa.text(f"SELECT count(*) FROM {table} WHERE site_id <> :s"), {"s": site.id}
                ).scalar_one()
                assert stray == 0, table
            kinds: dict[str, str] = {
                row.key: row.kind for row in conn.execute(sa.text("SELECT key, kind FROM events"))
            }
            assert kinds["k-1"] == "scan" and kinds["ws01/B/1"] == "mqtt.arc_end"
            assert kinds["u-1"] == "http.bad"
            undone = conn.execute(
                sa.text("SELECT undoes_event_id FROM events WHERE key = 'k-2'")
            ).scalar_one()
            assert undone == 1
            context = conn.execute(
                sa.text("SELECT station_id, active_run_id, operation_id FROM station_contexts")
            ).one()
            assert tuple(context) == (1, 1, 1)
            weld = conn.execute(sa.text("SELECT energy_j, length_mm FROM welds")).one()
            assert tuple(weld) == (None, None)  # out of bounds: unknown, not infinite
            outbox = conn.execute(sa.text("SELECT station_id FROM mqtt_outbox")).scalar_one()
            assert outbox == 1
        # The migrated school goes on working: Lucas, badged in, finishes the run.
        client = app.test_client()
        scanner = Scanner(client, make_token("ST-SOUD-01"))
        body = scanner.ok("A-FIN")
        assert body["message"].startswith("Bravo !")
        assert scanner.ok("B-0001")["message"].startswith("À bientôt Lucas")
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


def _empty_database(database: databases.TestDatabase, tmp_path: Path) -> str:
    """Return the URL of a database with no table at all (not even the migrated ones)."""
    if database.backend == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    databases.truncate_all(database.url)
    engine = sa.create_engine(database.url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    return database.url
