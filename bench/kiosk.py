"""Benchmark of the students' kiosk in a real Chromium, on the real server (gunicorn, 2 workers).

(a) The time from the Enter of a scan (typed at scanner speed on ``/borne``) to the server's
    message in the page's status region, p50/p95 over N scans, idle; (b) the same while
    wrk posts bench/scan_api.py's realistic scan load (20 stations) to the same server;
    (c) the server is stopped, N queued scans are typed offline, the server restarts on
    the same port: the time from its first answer until the kiosk's outbox is empty, and
    the events counted in the database (each queued scan exactly once).

Times are taken in the page (``performance.now()`` of the Enter keydown and of the status
region's mutation), so Playwright's own round trips do not count.

Usage: python bench/kiosk.py [--db sqlite|postgresql] [--scans 200] [--outbox 500]
Prints figures (--json also writes them to FILE); it is not a pass/fail test.
Targets (issue 9): p95 under 150 ms idle and under 300 ms under load; 500 queued scans
drained in under 10 s.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

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
from bench.scan_api import STATIONS_CLOSED, bench_school

CHROMIUM = "/usr/bin/chromium"
KIOSK = "ST-BORNE"
BADGE = "B-0119"  # a student of no station under load here (wrk uses B-0001..B-0040)
SCANNER_DELAY_MS = 4  # between characters, as a USB wedge scanner types

# Records the instant of each Enter and of each change of the status region.
PROBE = """
() => {
  const status = document.getElementById('status');
  window.__bench = {enter: [], changes: [], keys: []};
  document.addEventListener('keydown', (event) => {
    window.__bench.keys.push(event.timeStamp);
    if (event.key === 'Enter') window.__bench.enter.push(performance.now());
  }, true);
  new MutationObserver(() => {
    window.__bench.changes.push([performance.now(), status.textContent]);
  }).observe(status, {childList: true, characterData: true, subtree: true});
}
"""


def kiosk_school() -> str:
    """Return bench/scan_api.py's school with a kiosk station and its student."""
    text = bench_school()
    text = text.replace(
        "stations:\n", f'stations:\n  - {{code: {KIOSK}, name: "Borne du banc", kind: kiosk}}\n', 1
    )
    return text


def scan_latencies(page: Any, count: int, missed: list[list[float]]) -> list[float]:
    """Scan the badge in and out ``count`` times; return each Enter-to-message time (ms).

    A scan the page did not take as one (its keys too far apart: on one loaded machine the
    browser's input can stall) gets no answer; it is counted in ``missed`` with the gaps
    between its keys, and typed again.
    """
    latencies: list[float] = []
    while len(latencies) < count:
        seen, keys = page.evaluate(
            "() => [window.__bench.changes.length, window.__bench.keys.length]"
        )
        page.keyboard.type(BADGE, delay=SCANNER_DELAY_MS)
        page.keyboard.press("Enter")
        # The server's message: any new text but the offline count.
        try:
            page.wait_for_function(
                """seen => window.__bench.changes.slice(seen).some(
                       ([, text]) => text && !text.startsWith('hors ligne'))""",
                arg=seen,
                timeout=5_000,
            )
        except PlaywrightTimeout:
            stamps = page.evaluate("keys => window.__bench.keys.slice(keys)", keys)
            missed.append([round(b - a, 1) for a, b in itertools.pairwise(stamps)])
            continue
        enter, changes = page.evaluate(
            "seen => [window.__bench.enter.at(-1), window.__bench.changes.slice(seen)]", seen
        )
        answered = next(at for at, text in changes if text and not text.startswith("hors ligne"))
        latencies.append(answered - enter)
    return latencies


def summary(latencies: list[float]) -> dict[str, float]:
    """Return p50 and p95 of latencies in ms."""
    return {
        "n": len(latencies),
        "p50_ms": round(median(latencies), 1),
        "p95_ms": round(percentile(latencies, 0.95), 1),
        "max_ms": round(max(latencies), 1) if latencies else 0.0,
    }


def kiosk_events(url: str) -> tuple[int, int]:
    """Count the kiosk's scan events in the database, and their distinct ids."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT e.key FROM events e JOIN stations s ON s.id = e.station_id "
                    "WHERE e.kind = 'scan' AND s.code = :code"
                ),
                {"code": KIOSK},
            ).all()
    finally:
        engine.dispose()
    return len(rows), len({row[0] for row in rows})


def run(backend: str, scans: int, outbox: int, load_s: int) -> dict[str, Any]:
    """Run the three measurements on one database backend."""
    require_program("wrk", "apt-get install wrk")
    workdir = temp_dir(f"atelier-bench-kiosk-{backend}-")
    with fresh_database(backend, workdir) as url:
        env = {**app_env(url), "ATELIER_COOKIE_SECURE": "0"}
        flask(env, "db", "upgrade")
        school = workdir / "school.yaml"
        school.write_text(kiosk_school(), encoding="utf-8")
        flask(env, "data", "import", str(school))
        token = flask(env, "token", "create", "bench").strip().splitlines()[-1]
        server = Gunicorn(env, workers=2, log=workdir / "gunicorn.log")
        try:
            link = flask({**env, "ATELIER_PUBLIC_URL": server.url}, "kiosk", "enrol", KIOSK)
            result: dict[str, Any] = {"backend": backend}
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
                )
                # The page's CSP forbids string evaluation, which wait_for_function needs; the
                # bypass changes nothing the page itself does.
                context = browser.new_context(
                    viewport={"width": 1280, "height": 800}, bypass_csp=True
                )
                page = context.new_page()
                page.goto(link.strip().splitlines()[-1])
                page.wait_for_selector("body[data-ready='1']")
                page.evaluate(PROBE)
                missed: list[list[float]] = []
                scan_latencies(page, 10, missed)  # warm up
                result["idle"] = summary(scan_latencies(page, scans, missed))
                result["idle"]["missed"] = missed[:]

                load = subprocess.Popen(
                    [
                        "wrk",
                        f"-t{STATIONS_CLOSED}",
                        f"-c{STATIONS_CLOSED}",
                        f"-d{load_s}s",
                        "-s",
                        str(ROOT / "bench" / "wrk_scans.lua"),
                        f"{server.url}/api/v1/scans",
                        "--",
                        token,
                        "1",
                    ],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                )
                time.sleep(2)
                started = time.monotonic()
                missed.clear()
                loaded = scan_latencies(page, scans, missed)
                still_loaded = load.poll() is None
                load_out, _ = load.communicate()
                result["under_load"] = summary(loaded)
                result["under_load"]["missed"] = missed[:]
                result["under_load"]["load_covered_all_scans"] = still_loaded
                result["under_load"]["scans_s"] = round(
                    len(loaded) / (time.monotonic() - started), 1
                )
                result["under_load"]["load_req_s"] = next(
                    (
                        float(line.split()[1])
                        for line in load_out.splitlines()
                        if "Requests/sec" in line
                    ),
                    0.0,
                )

                before, _ = kiosk_events(url)
                port = server.port
                server.stop()
                page.wait_for_function(
                    "() => /hors ligne/.test(document.getElementById('status').textContent)",
                    timeout=30_000,
                )
                for _ in range(outbox):
                    page.keyboard.type(BADGE, delay=SCANNER_DELAY_MS)
                    page.keyboard.press("Enter")
                queued = page.evaluate("() => window.atelierKiosk.outbox.size()")
                server = Gunicorn(env, workers=2, log=workdir / "gunicorn-2.log", port=port)
                up = time.monotonic()
                page.wait_for_function(
                    "() => window.atelierKiosk.outbox.size() === 0", timeout=120_000
                )
                drained_s = time.monotonic() - up
                browser.close()
        finally:
            # Whatever happened, no server is left behind (the one running now).
            server.stop()
        after, distinct = kiosk_events(url)
        result["outbox"] = {
            "queued": queued,
            "drain_s": round(drained_s, 2),
            "scans_s": round(queued / drained_s, 1) if drained_s else 0.0,
            "events_added": after - before,
            "all_distinct": after == distinct,
        }
    return result


def report(result: dict[str, Any]) -> None:
    """Print the figures of one backend."""
    idle, loaded, box = result["idle"], result["under_load"], result["outbox"]
    print(f"== kiosk on {result['backend']} (gunicorn, 2 workers, Chromium 1280x800)")
    print(
        f"  idle        : n={idle['n']}  p50 {idle['p50_ms']} ms  p95 {idle['p95_ms']} ms  "
        f"max {idle['max_ms']} ms   (target p95 < 150 ms); typed again (keys too far "
        f"apart for a scan): {len(idle['missed'])}"
    )
    print(
        f"  under load  : n={loaded['n']}  p50 {loaded['p50_ms']} ms  p95 {loaded['p95_ms']} ms  "
        f"max {loaded['max_ms']} ms   (target p95 < 300 ms) — wrk {loaded['load_req_s']} scans/s "
        f"beside it, load running throughout: {loaded['load_covered_all_scans']}; typed "
        f"again: {len(loaded['missed'])}"
    )
    for gaps in loaded["missed"][:3]:
        print(f"    a scan not taken, its key gaps (ms): {gaps}")
    print(
        f"  outbox      : {box['queued']} queued offline, drained in {box['drain_s']} s "
        f"({box['scans_s']} scans/s; target < 10 s); events added {box['events_added']}, "
        f"all distinct: {box['all_distinct']}"
    )


def main() -> None:
    """Parse the arguments, run, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--scans", type=int, default=200)
    parser.add_argument("--outbox", type=int, default=500)
    parser.add_argument("--load-s", type=int, default=60, help="how long wrk's load lasts")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    result = run(args.db, args.scans, args.outbox, args.load_s)
    report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
