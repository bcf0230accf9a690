"""The set-up and bulk load of bench/big_school.py: schema, reference data, the years' rows."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import psycopg
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from app.auth import hash_password
from app.boundary import cli_origin, submit
from app.data.school import read_school_file
from app.extensions import db
from app.ingest.events import ChangePassword, CreateStaff
from app.models import (
    Competency,
    Customer,
    Framework,
    OperationType,
    Site,
    StaffUser,
    Station,
    Wps,
    operation_type_competencies,
)
from bench._big_school_data import (
    COLUMNS,
    LOAD_ORDER,
    Plan,
    Reference,
    Tables,
    YearGenerator,
    reference_school_text,
    station_process,
)

TEACHER_EMAIL = "banc.enseignant@example.org"
TEACHER_PASSWORD = "banc-d-essai-2026"
# The office's administrator (bench/office.py: the office's pages are the admin's).
ADMIN_EMAIL = "banc.admin@example.org"
ADMIN_PASSWORD = "banc-d-essai-admin-2026"


def prepare(app: Flask, admin: bool = False) -> Reference:
    """Run the migrations, import the reference school, create the benchmark's teacher
    (and, with ``admin``, the office's administrator, after the reference is read)."""
    with app.app_context():
        upgrade()
        event = read_school_file(reference_school_text(), "big_school.yaml")
        outcome = submit(cli_origin(None), event)
        if not outcome.accepted:
            raise RuntimeError(f"school import refused: {outcome.body}")
        ref = read_reference(db.session)
        create_account(ref.site_id, TEACHER_EMAIL, "teacher", "M. Banc", TEACHER_PASSWORD)
        if admin:
            admin_id = create_account(ref.site_id, ADMIN_EMAIL, "admin", "Mme Banc", ADMIN_PASSWORD)
            ref.admin = (admin_id, ADMIN_EMAIL)
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
    return ref


def create_account(site_id: int, email: str, role: str, name: str, password: str) -> int:
    """Create a staff account through the core, with a password it need not change."""
    created = submit(cli_origin(site_id), CreateStaff(email, role, name, hash_password(password)))
    if not created.accepted:
        raise RuntimeError(f"staff account refused: {created.body}")
    user_id = int(created.body["user"])
    changed = submit(cli_origin(site_id), ChangePassword(user_id, hash_password(password)))
    if not changed.accepted:
        raise RuntimeError(f"password refused: {changed.body}")
    return user_id


def read_reference(session: Any) -> Reference:
    """Read back the ids of the imported reference data."""
    site = session.execute(sa.select(Site.id, Site.code)).one()
    stations = {
        row.code: {
            "id": row.id,
            "code": row.code,
            "kind": row.kind,
            "mqtt_device": row.mqtt_device,
            "process": station_process(row.name),
        }
        for row in session.execute(sa.select(Station)).scalars().all()
    }
    links: dict[int, list[int]] = {}
    for type_id, competency_id in session.execute(
        sa.select(
            operation_type_competencies.c.operation_type_id,
            operation_type_competencies.c.competency_id,
        )
    ):
        links.setdefault(type_id, []).append(competency_id)
    op_types = {
        row.code: {
            "id": row.id,
            "process": row.process,
            "station_kind": row.station_kind,
            "competencies": sorted(links.get(row.id, [])),
        }
        for row in session.execute(sa.select(OperationType)).scalars()
    }
    wps = {
        row.code: {
            "id": row.id,
            "process": row.process,
            "i_min_a": row.i_min_a,
            "i_max_a": row.i_max_a,
            "u_min_v": row.u_min_v,
            "u_max_v": row.u_max_v,
            "q_min_kj_mm": row.q_min_kj_mm,
            "q_max_kj_mm": row.q_max_kj_mm,
        }
        for row in session.execute(sa.select(Wps)).scalars()
    }
    teachers = [
        (row.id, row.email)
        for row in session.execute(
            sa.select(StaffUser.id, StaffUser.email).where(
                StaffUser.email.not_in((TEACHER_EMAIL, ADMIN_EMAIL))
            )
        )
    ]
    return Reference(
        site_id=site.id,
        site_code=site.code,
        stations=stations,
        op_types=op_types,
        competency_framework=dict(
            session.execute(sa.select(Competency.id, Competency.framework_id)).all()
        ),
        frameworks=dict(session.execute(sa.select(Framework.code, Framework.id)).all()),
        wps=wps,
        customers=dict(session.execute(sa.select(Customer.code, Customer.id)).all()),
        teachers=teachers,
    )


class Loader:
    """Bulk inserts: executemany on SQLite, COPY on PostgreSQL, one transaction per call."""

    def __init__(self, url: str) -> None:
        parsed = sa.make_url(url)
        self.backend = parsed.get_backend_name()
        self.sqlite: sqlite3.Connection | None = None
        self.pg: psycopg.Connection[Any] | None = None
        self.seconds: dict[str, float] = {}  # per table, over every load
        if self.backend == "sqlite":
            assert parsed.database
            self.sqlite = sqlite3.connect(parsed.database, isolation_level=None)
            self.sqlite.execute("PRAGMA journal_mode=WAL")
            self.sqlite.execute("PRAGMA synchronous=OFF")
            # Checked row by row, the keys would double the load's time; PostgreSQL checks
            # them on COPY, and tests/test_bench_big_school.py runs foreign_key_check.
            self.sqlite.execute("PRAGMA foreign_keys=OFF")
            self.sqlite.execute("PRAGMA cache_size=-200000")
        else:
            conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
            self.pg = psycopg.connect(conninfo)
            self.pg.execute("SET TIME ZONE 'UTC'")
            # No row-by-row foreign-key triggers during COPY (the same rows pass SQLite's
            # foreign_key_check in tests/test_bench_big_school.py): half the load's time.
            self.pg.execute("SET session_replication_role = replica")
            self.pg.commit()

    def load(self, tables: Tables) -> dict[str, int]:
        """Insert every table's rows, in the foreign keys' order; return the counts."""
        counts: dict[str, int] = {}
        if self.sqlite is not None:
            self.sqlite.execute("BEGIN")
            for table in LOAD_ORDER:
                rows = tables.rows.get(table)
                if rows:
                    began = time.perf_counter()
                    columns = COLUMNS[table]
                    self.sqlite.executemany(
                        f"INSERT INTO {table} ({', '.join(columns)}) "
                        f"VALUES ({', '.join('?' * len(columns))})",
                        rows,
                    )
                    counts[table] = len(rows)
                    self._took(table, began)
            self.sqlite.execute("COMMIT")
            return counts
        assert self.pg is not None
        with self.pg.cursor() as cursor:
            for table in LOAD_ORDER:
                rows = tables.rows.get(table)
                if rows:
                    began = time.perf_counter()
                    with cursor.copy(
                        f"COPY {table} ({', '.join(COLUMNS[table])}) FROM STDIN"
                    ) as copy:
                        for row in rows:
                            copy.write_row(row)
                    counts[table] = len(rows)
                    self._took(table, began)
        self.pg.commit()
        return counts

    def _took(self, table: str, began: float) -> None:
        self.seconds[table] = self.seconds.get(table, 0.0) + time.perf_counter() - began

    def finish(self) -> None:
        """After a load: move PostgreSQL's sequences past the ids given, refresh statistics."""
        if self.pg is None:
            return
        self.pg.autocommit = True
        for table in LOAD_ORDER:
            if "id" in COLUMNS[table]:
                self.pg.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {table}))"
                )
        # Autovacuum would do it minutes after such a load; the benchmark does not wait.
        self.pg.execute("ANALYZE")
        self.pg.autocommit = False

    def close(self) -> None:
        """Close the connection."""
        if self.sqlite is not None:
            self.sqlite.close()
        if self.pg is not None:
            self.pg.close()


def load_years(
    loader: Loader, plan: Plan, years: Iterable[int], totals: dict[str, int]
) -> dict[str, float]:
    """Generate and load some years; add their row counts to ``totals``; return timings."""
    generate_s = load_s = 0.0
    for year in years:
        started = time.perf_counter()
        tables = YearGenerator(plan, year).generate()
        generated = time.perf_counter()
        for table, count in loader.load(tables).items():
            totals[table] = totals.get(table, 0) + count
        generate_s += generated - started
        load_s += time.perf_counter() - generated
    started = time.perf_counter()
    loader.finish()
    return {
        "generate_s": round(generate_s, 1),
        "load_s": round(load_s, 1),
        "analyze_s": round(time.perf_counter() - started, 1),
    }


def now_utc() -> datetime:
    """Return now, to the second (the end of the generated history)."""
    return datetime.now(UTC).replace(microsecond=0)
