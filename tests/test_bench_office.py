"""bench/office.py: the office's rows leave bench/big_school.py's as they were, hold together,
and the benchmark, at its smallest, prints a figure for each page (it asserts no timing)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from app import create_app
from app.config import TestingConfig
from bench._big_school_data import YearGenerator, plan_school, student_rows
from bench._big_school_load import Loader, load_years, now_utc, prepare
from bench.office import PAGES
from tests.support.services import require_binary

ROOT = Path(__file__).resolve().parents[1]


def test_the_office_rows_change_none_of_the_big_schools_and_hold_together(tmp_path: Path) -> None:
    path = tmp_path / "office.db"
    url = f"sqlite:///{path}"
    ref = prepare(create_app(TestingConfig(url)), admin=True)
    assert ref.admin is not None
    assert ref.admin[0] not in {teacher_id for teacher_id, _ in ref.teachers}
    now = now_utc()
    plain = plan_school(ref, years=2, scale=0.02, now=now, seed=3)
    office = plan_school(ref, years=2, scale=0.02, now=now, seed=3, office=True)
    for year in (0, 1):
        before = YearGenerator(plain, year).generate().rows
        after = YearGenerator(office, year).generate().rows
        for table, rows in before.items():
            if table == "work_orders":
                assert [r[:8] for r in after[table]] == [r[:8] for r in rows]
                assert {r[8:] for r in rows} == {("open", None, None, None)}
            else:
                # The office's events come after the others, with the ids after theirs.
                assert after[table][: len(rows)] == rows, table
        assert set(after) - set(before) == {"assignments"}

    loader = Loader(url)
    try:
        loader.load(student_rows(office))
        load_years(loader, office, [1, 0], {})
    finally:
        loader.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        statuses = dict(conn.execute("SELECT status, count(*) FROM work_orders GROUP BY status"))
        assert set(statuses) == {"open", "closed", "cancelled"}, statuses
        assert conn.execute(
            "SELECT count(*) FROM work_orders WHERE (status = 'open') <> (closed_at IS NULL) "
            "OR created_at IS NULL"
        ).fetchone() == (0,)
        # Assignments in force only on open orders; every template has its steps.
        assert conn.execute(
            "SELECT count(*) FROM assignments a JOIN operations o ON o.id = a.operation_id "
            "JOIN work_orders w ON w.id = o.work_order_id "
            "WHERE (a.ended_at IS NULL) <> (w.status = 'open')"
        ).fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM assignments").fetchone()[0] >= 2
        assert conn.execute(
            "SELECT count(*) FROM routing_templates t WHERE t.active AND NOT EXISTS "
            "(SELECT 1 FROM routing_template_steps s WHERE s.template_id = t.id)"
        ).fetchone() == (0,)
        kinds = {
            (channel, kind)
            for channel, kind in conn.execute(
                "SELECT DISTINCT channel, kind FROM events WHERE channel IN ('web', 'cli')"
            )
        }
        for wanted in (
            ("web", "office.work_order"),
            ("web", "office.work_order_status"),
            ("web", "office.assign"),
            ("web", "office.student"),
            ("web", "office.badge"),
            ("web", "record.export"),
            ("web", "piece.review"),
            ("cli", "day.close"),
            ("cli", "data.import"),
        ):
            assert wanted in kinds, wanted
    finally:
        conn.close()


def test_the_benchmark_prints_a_figure_for_each_page(tmp_path: Path) -> None:
    require_binary("wrk", "apt-get install wrk")
    out = tmp_path / "office.json"
    run = subprocess.run(
        [
            sys.executable,
            "bench/office.py",
            *("--db", "sqlite", "--years", "2", "--scale", "0.01"),
            *("--duration", "1", "--rounds", "1", "--json", str(out)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    (result,) = json.loads(out.read_text(encoding="utf-8"))
    lines = run.stdout.splitlines()
    for name, page in PAGES.items():
        assert any(line.startswith(f"  {name} ") and page in line for line in lines), name
        for timed in (result["timed_1"], result["timed_n"]):
            figure = timed[name]
            # A page not built yet answers 404: « absent »; any other answer must be timed.
            assert isinstance(figure.get("p95_ms"), float) or figure["status"] == "absent", (
                name,
                figure,
            )
    assert "office rows" in run.stdout
