"""Benchmark of the scan API through the real server (gunicorn, 2 workers).

(a) 20 concurrent clients (wrk, one station each) post realistic scan sequences for 30 s:
    scans/s, next to the throughput of the app's trivial endpoint measured in the same run
    (the ceiling); (b) an open-loop load of 200 scans/s from 40 stations: p50/p99 latency
    measured from each scan's scheduled time (so a slow answer delays nothing unseen).
Then every scan is checked in the database: none lost, none doubled. Last, on a fresh
database, bench/sql_probe.py counts the SQL statements one scan costs, by kind of scan and
on average over a station's sequence (in-process, not through the server).

Usage: python bench/scan_api.py [--db sqlite|postgresql|both] [--duration-s 30] [--json FILE]
Prints figures (--json also writes them to FILE); it is not a pass/fail test.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    ROOT,
    Gunicorn,
    app_env,
    flask,
    fresh_database,
    median,
    percentile,
    require_program,
    temp_dir,
)
from bench.sql_probe import describe as describe_statements
from bench.sql_probe import run as run_statement_probe

STATIONS_CLOSED = 20  # part (a): ST-BENCH-01..20
STATIONS_OPEN = 40  # part (b): ST-BENCH-21..60
STEPS = (10, 20, 30)
# The statement probe sends station 1's first 50 pieces: 3 scans to start, 9 per piece,
# a pause and a resume every 10 pieces, a badge out and in every 25.
PROBE_SCANS = 3 + 9 * 50 + 2 * 5 + 2 * 2


def bench_school() -> str:
    """Return a school file with enough stations, students and orders for the load."""
    lines = [
        "site: bench",
        "frameworks:",
        "  - id: cap-rics",
        "    title: CAP RICS",
        "    competencies:",
        "      - {code: C3, title: Réaliser}",
        "      - {code: C4, title: Assembler}",
        "      - {code: C5, title: Contrôler}",
        "  - id: cap-metallier",
        "    title: CAP Métallier",
        "    competencies:",
        "      - {code: C3.6, title: Assembler}",
        "      - {code: C3.8, title: Contrôler}",
        "students:",
    ]
    total = STATIONS_CLOSED + STATIONS_OPEN
    for number in range(1, 2 * total + 1):
        framework = "cap-rics" if number % 2 else "cap-metallier"
        lines.append(
            f'  - {{id: E-{number:04d}, name: "Élève {number}", framework: {framework}, '
            f'badges: ["B-{number:04d}"]}}'
        )
    lines.append("stations:")
    for number in range(1, total + 1):
        lines.append(
            f'  - {{code: ST-BENCH-{number:02d}, name: "Établi {number}", kind: assembly}}'
        )
    lines += [
        "operation_types:",
        '  - {id: PREP, name: "Préparation", competencies: ["cap-rics:C3"]}',
        '  - {id: ASSEMB, name: "Assemblage", competencies: ["cap-rics:C4", "cap-metallier:C3.6"]}',
        '  - {id: CTRL, name: "Contrôle", competencies: ["cap-rics:C5", "cap-metallier:C3.8"]}',
        "customers:",
        "  - {id: C-BENCH, name: Client}",
        "work_orders:",
    ]
    for number in range(1, total + 1):
        lines += [
            f"  - number: OF-2026-{number:04d}",
            "    customer: C-BENCH",
            "    product: Support",
            "    quantity: 10000",
            "    operations:",
            "      - {step: 10, type: PREP}",
            "      - {step: 20, type: ASSEMB}",
            "      - {step: 30, type: CTRL}",
        ]
    return "\n".join(lines) + "\n"


def station_codes(number: int) -> Any:
    """Yield a station's realistic scan sequence, the one bench/wrk_scans.lua sends."""
    badges = [f"B-{2 * number - 1:04d}", f"B-{2 * number:04d}"]
    order = f"OF-2026-{number:04d}"
    yield from (badges[0], badges[1], order)
    piece = 0
    while True:
        piece += 1
        label = f"P-2026-{number % 100:02d}{piece:04d}"
        for step in STEPS:
            yield f"{order}-{step:02d}"
            yield label
            if piece % 10 == 0 and step == 20:
                yield "A-PAUSE"
                yield "A-PAUSE"
            yield "A-FIN"
        if piece % 25 == 0:
            yield badges[1]
            yield badges[1]


def wrk(
    url: str, seconds: int, connections: int, script: Path | None = None, args: tuple[str, ...] = ()
) -> str:
    """Run wrk and return its output."""
    command = [
        "wrk",
        f"-t{connections if script else 2}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
    ]
    if script is not None:
        command += ["-s", str(script)]
    command.append(url)
    if args:
        command += ["--", *args]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def requests_per_s(output: str) -> float:
    """Read wrk's Requests/sec line."""
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    return float(match.group(1)) if match else 0.0


async def _post(port: int, token: str, body: bytes) -> int:
    """Post one scan on a new connection (gunicorn's sync workers close each one)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /api/v1/scans HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    data = await reader.read()
    writer.close()
    return int(data.split(b" ", 2)[1])


async def open_loop(
    token: str, port: int, rate: float, seconds: float, first: int, stations: int
) -> dict[str, Any]:
    """Send ``rate`` scans/s spread over stations, each at its scheduled time."""
    loop = asyncio.get_running_loop()
    period = stations / rate
    start = loop.time() + 0.5
    deadline = start + seconds
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    sent = 0

    async def station(index: int) -> None:
        nonlocal sent
        number = first + index
        codes = station_codes(number)
        k = 0
        while True:
            scheduled = start + index * period / stations + k * period
            if scheduled >= deadline:
                return
            delay = scheduled - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            body = json.dumps(
                {
                    "event_id": f"o{number:02d}-{k}",
                    "station": f"ST-BENCH-{number:02d}",
                    "code": next(codes),
                }
            ).encode()
            sent += 1
            status = await _post(port, token, body)
            latencies.append(loop.time() - scheduled)
            statuses[status] = statuses.get(status, 0) + 1
            k += 1

    await asyncio.gather(*(station(i) for i in range(stations)))
    return {
        "sent": sent,
        "statuses": statuses,
        "p50_ms": 1000 * percentile(latencies, 0.50),
        "p99_ms": 1000 * percentile(latencies, 0.99),
        "max_ms": 1000 * max(latencies, default=0.0),
        "achieved_per_s": sent / seconds,
    }


def check_events(
    database_url: str, threads: list[dict[str, Any]], open_sent: int
) -> dict[str, Any]:
    """Check every scan in the database: contiguous per station, none doubled, none lost."""
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        keys = [
            row[0] for row in conn.execute(sa.text("SELECT key FROM events WHERE kind = 'scan'"))
        ]
        statuses: dict[str, int] = dict(
            conn.execute(
                sa.text("SELECT status, count(*) FROM events WHERE kind = 'scan' GROUP BY status")
            ).all()
        )
        internal = conn.execute(
            sa.text("SELECT count(*) FROM events WHERE error_code = 'internal_error'")
        ).scalar()
    engine.dispose()
    per_station: dict[str, list[int]] = {}
    for key in keys:
        prefix, _, seq = key.partition("-")
        per_station.setdefault(prefix, []).append(int(seq))
    # Every answered scan must be recorded once; a scan generated but unanswered (wrk's
    # warm-up call, or the one in flight when wrk stops) may or may not be.
    lost = 0
    unexpected = 0
    details = []
    for thread in threads:
        recorded = set(per_station.get(f"w{thread['number']:02d}", []))
        unanswered = set(thread["unanswered"])
        answered = set(range(thread["sent"])) - unanswered
        missing = answered - recorded
        extra = recorded - set(range(thread["sent"]))
        lost += len(missing)
        unexpected += len(extra)
        if missing or extra:
            details.append((thread["number"], sorted(missing)[:5], sorted(extra)[:5]))
    open_keys = sum(len(v) for k, v in per_station.items() if k.startswith("o"))
    return {
        "events": len(keys),
        "unique": len(set(keys)),
        "answered_not_recorded": lost,
        "recorded_not_sent": unexpected,
        "details": details,
        "open_loop_recorded": open_keys,
        "open_loop_sent": open_sent,
        "by_status": statuses,
        "internal_errors": internal,
    }


def statements_per_scan(backend: str, workdir: Path) -> dict[str, Any]:
    """Count the statements of station 1's realistic sequence on a fresh database."""
    codes = list(itertools.islice(station_codes(1), PROBE_SCANS))
    probe_dir = workdir / "statements"
    probe_dir.mkdir()
    with fresh_database(backend, probe_dir) as url:
        return run_statement_probe(ROOT, url, bench_school(), codes, "ST-BENCH-01", probe_dir)


def run_backend(backend: str, seconds: int, rate: float) -> dict[str, Any]:
    """Run the whole benchmark on one database backend."""
    workdir = temp_dir(f"atelier-bench-{backend}-")
    with fresh_database(backend, workdir) as url:
        env = app_env(url)
        flask(env, "db", "upgrade")
        school = workdir / "bench_school.yaml"
        school.write_text(bench_school(), encoding="utf-8")
        flask(env, "data", "import", str(school))
        token = flask(env, "token", "create", "bench").strip().splitlines()[-1]
        server = Gunicorn(env, workers=2, log=workdir / "gunicorn.log")
        try:
            wrk(f"{server.url}/api/v1/health", 3, 20)  # warm up
            trivial = [requests_per_s(wrk(f"{server.url}/api/v1/health", max(5, seconds // 3), 20))]
            output = wrk(
                f"{server.url}/api/v1/scans",
                seconds,
                STATIONS_CLOSED,
                ROOT / "bench" / "wrk_scans.lua",
                (token, "1"),
            )
            trivial.append(
                requests_per_s(wrk(f"{server.url}/api/v1/health", max(5, seconds // 3), 20))
            )
            threads = [
                json.loads(line[7:]) for line in output.splitlines() if line.startswith("THREAD ")
            ]
            summary = json.loads(
                next(line[8:] for line in output.splitlines() if line.startswith("SUMMARY "))
            )
            open_result = asyncio.run(
                open_loop(token, server.port, rate, seconds, STATIONS_CLOSED + 1, STATIONS_OPEN)
            )
        finally:
            server.stop()
        log = (workdir / "gunicorn.log").read_text(errors="replace")
        check = check_events(url, threads, open_result["sent"])
    scans = requests_per_s(output)
    ceiling = median(trivial)
    return {
        "backend": backend,
        "trivial_req_s": trivial,
        "scan_req_s": scans,
        "ratio": scans / ceiling if ceiling else 0.0,
        "scan_p50_ms": summary["p50_us"] / 1000,
        "scan_p99_ms": summary["p99_us"] / 1000,
        "non_201": sum(t["other"] for t in threads),
        "errors": {
            k: summary[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts")
        },
        "last_error": next((t["last_error"] for t in threads if t["last_error"]), ""),
        "open_loop": open_result,
        "database_is_locked": log.count("database is locked"),
        "check": check,
        "statements": statements_per_scan(backend, workdir),
    }


def report(result: dict[str, Any]) -> None:
    """Print one backend's figures."""
    check = result["check"]
    loop = result["open_loop"]
    trivial = ", ".join(f"{v:.0f}" for v in result["trivial_req_s"])
    print(f"\n== {result['backend']} ==")
    print(f"(a) trivial endpoint (ceiling): {trivial} req/s (before, after)")
    print(
        f"(a) scans, 20 clients: {result['scan_req_s']:.0f} scans/s"
        f" = {100 * result['ratio']:.0f} % of the ceiling"
        f" (p50 {result['scan_p50_ms']:.1f} ms, p99 {result['scan_p99_ms']:.1f} ms);"
        f" non-201 answers: {result['non_201']}"
    )
    print(
        f"(b) open loop {loop['achieved_per_s']:.0f} scans/s: p50 {loop['p50_ms']:.1f} ms,"
        f" p99 {loop['p99_ms']:.1f} ms, max {loop['max_ms']:.1f} ms; statuses {loop['statuses']}"
    )
    print(
        f"checks: {check['events']} events, {check['unique']} unique;"
        f" answered but not recorded (lost): {check['answered_not_recorded']};"
        f" recorded but never sent: {check['recorded_not_sent']} {check['details']};"
        f" open loop recorded {check['open_loop_recorded']}/{check['open_loop_sent']}"
    )
    print(
        f"        by status {check['by_status']}; internal errors {check['internal_errors']};"
        f" 'database is locked' in log: {result['database_is_locked']};"
        f" wrk socket errors {result['errors']}"
    )
    if result["last_error"]:
        print(f"last non-201 answer: {result['last_error']}")
    print(f"statements per scan: {describe_statements(result['statements'])}")


def main() -> None:
    """Run the benchmark on the chosen backends and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--duration-s", type=int, default=30)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    require_program("wrk", "apt-get install wrk")
    backends = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    started = time.strftime("%Y-%m-%d %H:%M")
    print(f"scan API benchmark: gunicorn 2 workers, {started}, {args.duration_s} s per load")
    results = []
    for backend in backends:
        results.append(run_backend(backend, args.duration_s, args.rate))
        report(results[-1])
    if args.json:
        figures = {
            "benchmark": "scan_api",
            "started": started,
            "duration_s": args.duration_s,
            "rate": args.rate,
            "results": results,
        }
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
