"""The office's pages on ten years of one school, timed at one year and at ten years.

The school of bench/big_school.py (its builder, loader and wrk timing are imported, not
copied), with the office's rows too (``plan_school(..., office=True)``, see
bench/_big_school_data.py): routing templates, more customers, every work order with a
status (the old ones closed, a few cancelled, the recent ones open) and the template it
was made from, operations assigned to students, and the people's inputs of ten years
(channel ``web`` or ``cli``: students created and given badges, orders created, closed
and assigned, records exported, reviews, sign-ins, the nightly day close). Then, signed
in over HTTP as the school's administrator (the office's pages are the admin's), wrk
times on the real server (gunicorn):

    the work orders /bureau/of, the production board /bureau/production, the classes
    /bureau/eleves and the audit log /bureau/journal.

As in bench/big_school.py, the same pages are timed once the most recent year is loaded,
and again once the nine years before it are: the target (issue 11) is a p95 under 100 ms
per page at ten years, that grows with the page (what it shows), not with the history —
the ratio ten years / one year near 1. The students of every year are loaded before the
first timing (bench/big_school.py does so): the classes page sees ten years of students
both times, the others one year and then ten. A page that answers 404 is reported
« absent » (not built yet); any other status than 200 is reported as such.

Usage:
    python bench/office.py [--db sqlite|postgresql|both] [--years 10] [--scale 1]
                           [--duration 10] [--rounds 3] [--json FILE]

PostgreSQL: a database of its own on ATELIER_TEST_POSTGRES_URL's server, dropped
afterwards; SQLite: a file in a temporary directory. It prints figures; it is not a
pass/fail test (tests/test_bench_office.py runs it at the smallest size). Full size
takes minutes and both cores: not on a machine others are working on.

A first look, small (2026-12-01, the 2-core machine shared with five test runs: the times
are noise, the sizes are not):

    python bench/office.py --db sqlite --years 10 --scale 0.05 --duration 2 --rounds 1
    /bureau/of answered 8.8 KB at one year and 54 KB at ten (121 orders): the list shows
    every order of the history, not the open ones; the three other pages kept their size.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app
from app.config import Config
from bench import big_school
from bench._big_school_data import plan_school, student_rows
from bench._big_school_load import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Loader,
    load_years,
    now_utc,
    prepare,
)
from bench.common import fresh_database, require_program, temp_dir

PAGES = {
    "work orders": "/bureau/of",
    "production board": "/bureau/production",
    "students": "/bureau/eleves",
    "audit log": "/bureau/journal",
}
# The office's own rows, reported besides bench/big_school.py's.
OFFICE_TABLES = ("customers", "routing_templates", "assignments", "work_orders", "events")


def status_counts(url: str) -> dict[str, int]:
    """Return the work orders per status."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT status, count(*) FROM work_orders GROUP BY status"))
            return {str(status): int(count) for status, count in rows}
    finally:
        engine.dispose()


def database_mb(url: str) -> int:
    """Return the database's size in MB."""
    if url.startswith("sqlite:///"):
        return round(Path(url[len("sqlite:///") :]).stat().st_size / 1e6)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            size = conn.execute(sa.text("SELECT pg_database_size(current_database())"))
            return round(size.scalar_one() / 1e6)
    finally:
        engine.dispose()


def run(backend: str, years: int, scale: float, duration: int, rounds: int) -> dict[str, Any]:
    """Generate the school with its office on one backend; time the pages at 1 and n years."""
    workdir = temp_dir(f"atelier-bench-office-{backend}-")
    result: dict[str, Any] = {"backend": backend, "years": years, "scale": scale}
    try:
        with fresh_database(backend, workdir) as url:
            started = time.perf_counter()
            app = create_app(Config(DATABASE_URL=url, SECRET_KEY="bench-secret-not-for-production"))
            ref = prepare(app, admin=True)
            plan = plan_school(ref, years, scale, now_utc(), seed=10, office=True)
            result["setup_s"] = round(time.perf_counter() - started, 1)
            result["pages"] = PAGES
            loader = Loader(url)
            totals: dict[str, int] = {}
            try:
                totals.update(loader.load(student_rows(plan)))
                result["first_year"] = load_years(loader, plan, [years - 1], totals)
                result["rows_first_year"] = dict(totals)
                result["timed_1"] = big_school.time_pages(
                    url, workdir, PAGES, duration, rounds, "1", (ADMIN_EMAIL, ADMIN_PASSWORD)
                )
                if years > 1:
                    result["other_years"] = load_years(loader, plan, range(years - 1), totals)
                    result["timed_n"] = big_school.time_pages(
                        url, workdir, PAGES, duration, rounds, "n", (ADMIN_EMAIL, ADMIN_PASSWORD)
                    )
            finally:
                loader.close()
            result["rows"] = totals
            result["work_order_status"] = status_counts(url)
            result["size_mb"] = database_mb(url)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def report(result: dict[str, Any]) -> None:
    """Print bench/big_school.py's figures and table for the office's pages."""
    print(f"== the office's pages (signed in as {ADMIN_EMAIL}, an administrator)")
    big_school.report(result)
    rows, first = result.get("rows", {}), result.get("rows_first_year", {})
    print(
        "  office rows (last year / all years): "
        + ", ".join(
            f"{name} {first.get(name, 0):,} / {rows.get(name, 0):,}" for name in OFFICE_TABLES
        )
        + "; work orders "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(result.get("work_order_status", {}).items()))
    )


def main() -> None:
    """Parse the arguments, run, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--scale", type=float, default=1.0, help="1 = the issue's sizes")
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk per page")
    parser.add_argument("--rounds", type=int, default=3, help="wrk runs per page; best p95")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    require_program("wrk", "apt-get install wrk")
    os.environ.setdefault("ATELIER_SECRET_KEY", "bench-secret-not-for-production")
    backends = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    print(f"(machine: {os.cpu_count()} cores, shared with whatever else runs on it)")
    results = []
    for backend in backends:
        result = run(backend, args.years, args.scale, args.duration, args.rounds)
        report(result)
        results.append(result)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
