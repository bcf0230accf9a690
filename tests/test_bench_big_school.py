"""bench/big_school.py's generator: a very small school, loaded, satisfies the schema's rules.

SQLite only, a few seconds; it times nothing (the benchmark prints figures, see its docstring).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from app import create_app
from app.config import TestingConfig
from bench._big_school_data import plan_school, student_rows
from bench._big_school_load import Loader, load_years, now_utc, prepare


def _one(conn: sqlite3.Connection, sql: str) -> int:
    return int(conn.execute(sql).fetchone()[0])


def test_a_small_school_is_consistent(tmp_path: Path) -> None:
    path = tmp_path / "big.db"
    url = f"sqlite:///{path}"
    ref = prepare(create_app(TestingConfig(url)))
    plan = plan_school(ref, years=2, scale=0.01, now=now_utc(), seed=3)
    loader = Loader(url)
    totals: dict[str, int] = {}
    try:
        totals.update(loader.load(student_rows(plan)))
        # The current year first, then the one before it, as the benchmark does.
        load_years(loader, plan, [1], totals)
        load_years(loader, plan, [0], totals)
    finally:
        loader.close()

    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        for table, count in totals.items():
            assert _one(conn, f"SELECT count(*) FROM {table}") >= count, table
        statuses = dict(conn.execute("SELECT status, count(*) FROM pieces GROUP BY status"))
        assert set(statuses) == {"in_progress", "awaiting_review", "reviewed"}, statuses
        assert statuses["awaiting_review"] >= 3
        # Ids in chronological order although the last year was loaded first.
        assert _one(
            conn,
            "SELECT max(id) FROM pieces WHERE substr(code, 3, 4) = "
            "(SELECT min(substr(code, 3, 4)) FROM pieces)",
        ) < _one(
            conn,
            "SELECT min(id) FROM pieces WHERE substr(code, 3, 4) = "
            "(SELECT max(substr(code, 3, 4)) FROM pieces)",
        )
        # Every finished run has its A-FIN; a running run has exactly one open interval.
        assert (
            _one(
                conn,
                "SELECT count(*) FROM operation_runs WHERE (status = 'finished') <> "
                "(finished_event_id IS NOT NULL AND finished_at IS NOT NULL)",
            )
            == 0
        )
        assert (
            _one(
                conn,
                "SELECT count(*) FROM operation_runs r WHERE (r.status = 'running') <> EXISTS "
                "(SELECT 1 FROM run_intervals i WHERE i.run_id = r.id AND i.ended_at IS NULL)",
            )
            == 0
        )
        assert (
            _one(
                conn,
                "SELECT count(*) FROM operation_runs r WHERE NOT EXISTS "
                "(SELECT 1 FROM run_participants p WHERE p.run_id = r.id)",
            )
            == 0
        )
        # A piece awaiting review has all its runs finished and no review; a reviewed one has
        # one; assessments only for the evidence of reviewed pieces.
        assert (
            _one(
                conn,
                "SELECT count(*) FROM pieces p WHERE p.status = 'awaiting_review' AND (EXISTS "
                "(SELECT 1 FROM piece_reviews v WHERE v.piece_id = p.id) OR EXISTS (SELECT 1 FROM "
                "operation_runs r WHERE r.piece_id = p.id AND r.status <> 'finished'))",
            )
            == 0
        )
        assert (
            _one(
                conn,
                "SELECT count(*) FROM pieces p WHERE p.status = 'reviewed' AND NOT EXISTS "
                "(SELECT 1 FROM piece_reviews v WHERE v.piece_id = p.id)",
            )
            == 0
        )
        assert (
            _one(
                conn,
                "SELECT count(*) FROM assessments a JOIN evidence e ON e.id = a.evidence_id "
                "JOIN operation_runs r ON r.id = e.run_id JOIN pieces p ON p.id = r.piece_id "
                "WHERE p.status <> 'reviewed'",
            )
            == 0
        )
        # Evidence only of the student's own framework, and from a run they worked on.
        assert (
            _one(
                conn,
                "SELECT count(*) FROM evidence e JOIN students s ON s.id = e.student_id "
                "JOIN competencies c ON c.id = e.competency_id "
                "WHERE c.framework_id <> s.framework_id OR NOT EXISTS (SELECT 1 FROM "
                "run_participants p WHERE p.run_id = e.run_id AND p.student_id = e.student_id)",
            )
            == 0
        )
        # Welds: some unattributed; each weld has its sample batches, within its arc.
        assert _one(conn, "SELECT count(*) FROM welds WHERE run_id IS NULL") >= 2
        assert (
            _one(
                conn,
                "SELECT count(*) FROM welds w WHERE (SELECT count(*) FROM weld_samples s "
                "WHERE s.weld_key = w.weld_key) NOT BETWEEN 1 AND 17",
            )
            == 0
        )
        assert (
            _one(
                conn,
                "SELECT count(*) FROM welds w JOIN operation_runs r ON r.id = w.run_id "
                "WHERE r.station_id <> w.station_id OR w.started_at < r.started_at",
            )
            == 0
        )
        # Students: some left, some at school now; a running run's students are badged in.
        assert _one(conn, "SELECT count(*) FROM students WHERE active") >= 1
        assert _one(conn, "SELECT count(*) FROM students WHERE NOT active") >= 1
    finally:
        conn.close()
