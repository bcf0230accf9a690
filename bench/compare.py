"""Run the scan and MQTT benchmarks of two revisions in one run and print them side by side.

Both revisions are extracted (``git archive``) into temporary directories, removed
afterwards; each one's own bench/scan_api.py and bench/mqtt_ingest.py run with this
interpreter, cwd and PYTHONPATH set to that checkout, so each version measures its own code
and schema. Runs alternate (base, head, base, head… for --rounds) and the table gives
medians. The figures come from a bench's --json output when it has one, from its text
output otherwise. Statements per scan are counted by this tree's bench/sql_probe.py, run
in each checkout with the same school and the same scan sequence.

Each row gets a verdict against the target: no figure worse than 0.9 times the base's
(head/base for throughputs, base/head for latencies and statement counts, which are better
lower); check counts (lost, doubled…) must be 0.

Usage: python bench/compare.py [--base REV] [--head REV|WORKTREE] [--db sqlite|postgresql|both]
           [--rounds N] [--duration-s S] [--welds N] [--bench scan,mqtt,statements]
           [--json FILE]
Prints figures; it is not a pass/fail test.
"""

from __future__ import annotations

import argparse
import ast
import itertools
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, fresh_database
from bench.scan_api import PROBE_SCANS, bench_school, station_codes
from bench.sql_probe import KINDS
from bench.sql_probe import run as run_statement_probe

DEFAULT_BASE = "670a9cf"  # the commit before the issue
WORKTREE = "WORKTREE"
TARGET = 0.9
SATURATION = 0.6  # open-loop rate / closed-loop throughput above which latencies are queueing
HIGHER, LOWER, ZERO, INFO = "higher", "lower", "zero", "info"
BENCHES = ("scan", "mqtt", "statements")
PROBE_STATION = "ST-BENCH-01"


@dataclass(frozen=True)
class Figure:
    """One row of the table: what it measures and which way is better."""

    key: str
    label: str
    unit: str
    direction: str


SCAN_FIGURES = [
    Figure("scan.ceiling", "scan API: trivial endpoint (ceiling), wrk 20 conn.", "req/s", HIGHER),
    Figure("scan.closed", "scan API: 20 clients, closed loop", "scans/s", HIGHER),
    Figure("scan.closed_ratio", "scan API: closed loop / ceiling", "%", HIGHER),
    Figure("scan.closed_p50", "scan API: closed loop p50 (wrk)", "ms", LOWER),
    Figure("scan.closed_p99", "scan API: closed loop p99 (wrk)", "ms", LOWER),
    Figure("scan.open_rate", "scan API: open loop, achieved rate", "scans/s", INFO),
    Figure("scan.open_p50", "scan API: open loop p50", "ms", LOWER),
    Figure("scan.open_p99", "scan API: open loop p99", "ms", LOWER),
    Figure("scan.open_max", "scan API: open loop max (one sample)", "ms", INFO),
    Figure("scan.lost", "check: scans answered but not recorded", "", ZERO),
    Figure("scan.doubled", "check: scans recorded twice", "", ZERO),
    Figure("scan.not_sent", "check: scans recorded but never sent", "", ZERO),
    Figure("scan.open_unrecorded", "check: open-loop scans not recorded", "", ZERO),
    Figure("scan.non_201", "check: closed-loop answers other than 201", "", ZERO),
    Figure("scan.internal_errors", "check: internal errors", "", ZERO),
    Figure("scan.db_locked", "check: 'database is locked' in the log", "", ZERO),
]
MQTT_FIGURES = [
    Figure("mqtt.bare", "MQTT: bare paho subscriber (ceiling)", "msg/s", HIGHER),
    Figure("mqtt.publishers", "MQTT: publishers during the ceiling run", "msg/s", INFO),
    Figure("mqtt.live", "MQTT: worker live, publish to commit", "msg/s", HIGHER),
    Figure("mqtt.live_ratio", "MQTT: worker live / ceiling", "%", HIGHER),
    Figure("mqtt.backlog", "MQTT: worker draining a backlog", "msg/s", HIGHER),
    Figure("mqtt.lost", "check: MQTT messages lost", "", ZERO),
    Figure("mqtt.doubled", "check: MQTT messages recorded twice", "", ZERO),
    Figure("mqtt.welds_missing", "check: welds not stored", "", ZERO),
    Figure("mqtt.rejected", "check: MQTT messages rejected", "", ZERO),
    Figure("mqtt.seq_gaps", "check: sequence gaps", "", ZERO),
]
STATEMENT_FIGURES = [
    Figure("sql.statements", "SQL statements per scan (mean)", "stmt", LOWER),
    Figure("sql.begin", "BEGIN per scan", "stmt", LOWER),
    Figure("sql.commit", "COMMIT per scan", "stmt", LOWER),
    Figure("sql.rollback", "ROLLBACK per scan", "stmt", LOWER),
    Figure("sql.non_201", "check: probe scans not answered 201", "", ZERO),
]
SECTIONS = {"scan": SCAN_FIGURES, "mqtt": MQTT_FIGURES, "statements": STATEMENT_FIGURES}


# -- figures from a benchmark's JSON results or text output ---------------------------------


def scan_figures(result: dict[str, Any]) -> dict[str, float]:
    """Flatten one backend's result of bench/scan_api.py (its --json output)."""
    check, loop = result["check"], result["open_loop"]
    ceiling = statistics.median(result["trivial_req_s"])
    return {
        "scan.ceiling": ceiling,
        "scan.closed": result["scan_req_s"],
        "scan.closed_ratio": 100 * result["scan_req_s"] / ceiling if ceiling else 0.0,
        "scan.closed_p50": result["scan_p50_ms"],
        "scan.closed_p99": result["scan_p99_ms"],
        "scan.open_rate": loop["achieved_per_s"],
        "scan.open_p50": loop["p50_ms"],
        "scan.open_p99": loop["p99_ms"],
        "scan.open_max": loop["max_ms"],
        "scan.lost": check["answered_not_recorded"],
        "scan.doubled": check["events"] - check["unique"],
        "scan.not_sent": check["recorded_not_sent"],
        "scan.open_unrecorded": check["open_loop_sent"] - check["open_loop_recorded"],
        "scan.non_201": result["non_201"],
        "scan.internal_errors": check["internal_errors"] or 0,
        "scan.db_locked": result["database_is_locked"],
    }


def mqtt_figures(result: dict[str, Any]) -> dict[str, float]:
    """Flatten one backend's result of bench/mqtt_ingest.py (its --json output)."""
    bare, live, check = result["bare"], result["live"], result["check"]
    return {
        "mqtt.bare": bare["per_s"],
        "mqtt.publishers": bare["publisher_per_s"],
        "mqtt.live": live["per_s"],
        "mqtt.live_ratio": 100 * live["per_s"] / bare["per_s"] if bare["per_s"] else 0.0,
        "mqtt.backlog": result["drain"]["per_s"],
        **_mqtt_checks(check),
    }


def _mqtt_checks(check: dict[str, Any]) -> dict[str, float]:
    return {
        "mqtt.lost": check["messages_sent"] - check["distinct"],
        "mqtt.doubled": check["recorded"] - check["distinct"],
        "mqtt.welds_missing": check["welds_sent"] - check["welds_stored"],
        "mqtt.rejected": check["rejected"],
        "mqtt.seq_gaps": check["seq_gaps"],
    }


def _sections(text: str) -> dict[str, str]:
    """Split a benchmark's text output into its ``== backend ==`` sections."""
    parts = re.split(r"^== (\w+) ==$", text, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def _search(pattern: str, text: str) -> re.Match[str]:
    match = re.search(pattern, text)
    if match is None:
        raise ValueError(f"no line matching {pattern!r} in the benchmark's output")
    return match


def parse_scan_text(text: str) -> dict[str, dict[str, float]]:
    """Read the figures of bench/scan_api.py's text output, by backend."""
    figures = {}
    for backend, section in _sections(text).items():
        trivial = _search(r"\(a\) trivial endpoint \(ceiling\): ([\d., ]+) req/s", section)
        ceiling = statistics.median(float(v) for v in trivial.group(1).split(","))
        closed = _search(
            r"\(a\) scans, \d+ clients: ([\d.]+) scans/s = [\d.]+ % of the ceiling"
            r" \(p50 ([\d.]+) ms, p99 ([\d.]+) ms\); non-201 answers: (\d+)",
            section,
        )
        loop = _search(
            r"\(b\) open loop ([\d.]+) scans/s: p50 ([\d.]+) ms, p99 ([\d.]+) ms,"
            r" max ([\d.]+) ms",
            section,
        )
        check = _search(
            r"checks: (\d+) events, (\d+) unique; answered but not recorded \(lost\): (\d+);"
            r" recorded but never sent: (\d+) .*; open loop recorded (\d+)/(\d+)",
            section,
        )
        internal = _search(r"internal errors (\w+);", section).group(1)
        locked = _search(r"'database is locked' in log: (\d+)", section)
        scans = float(closed.group(1))
        figures[backend] = {
            "scan.ceiling": ceiling,
            "scan.closed": scans,
            "scan.closed_ratio": 100 * scans / ceiling if ceiling else 0.0,
            "scan.closed_p50": float(closed.group(2)),
            "scan.closed_p99": float(closed.group(3)),
            "scan.open_rate": float(loop.group(1)),
            "scan.open_p50": float(loop.group(2)),
            "scan.open_p99": float(loop.group(3)),
            "scan.open_max": float(loop.group(4)),
            "scan.lost": int(check.group(3)),
            "scan.doubled": int(check.group(1)) - int(check.group(2)),
            "scan.not_sent": int(check.group(4)),
            "scan.open_unrecorded": int(check.group(6)) - int(check.group(5)),
            "scan.non_201": int(closed.group(4)),
            "scan.internal_errors": int(internal) if internal.isdigit() else 0,
            "scan.db_locked": int(locked.group(1)),
        }
    return figures


def parse_mqtt_text(text: str) -> dict[str, dict[str, float]]:
    """Read the figures of bench/mqtt_ingest.py's text output, by backend."""
    figures = {}
    for backend, section in _sections(text).items():
        bare = _search(
            r"ceiling, bare paho subscriber: ([\d.]+) msg/s \(\d+ messages in [\d.]+ s;"
            r" publishers ([\d.]+) msg/s\)",
            section,
        )
        live = _search(r"ingest worker, live, committed end to end: ([\d.]+) msg/s", section)
        drain = _search(r"ingest worker, backlog queued while down: ([\d.]+) msg/s", section)
        check = ast.literal_eval(_search(r"checks: (\{.*\})", section).group(1))
        bare_per_s, live_per_s = float(bare.group(1)), float(live.group(1))
        figures[backend] = {
            "mqtt.bare": bare_per_s,
            "mqtt.publishers": float(bare.group(2)),
            "mqtt.live": live_per_s,
            "mqtt.live_ratio": 100 * live_per_s / bare_per_s if bare_per_s else 0.0,
            "mqtt.backlog": float(drain.group(1)),
            **_mqtt_checks(check),
        }
    return figures


def statement_figures(probe: dict[str, Any]) -> dict[str, float]:
    """Flatten bench/sql_probe.py's figures: the mean, then one row per kind of scan."""
    mean = probe["mean"]
    figures = {
        "sql.statements": mean["statements"],
        "sql.begin": mean.get("begin", 0.0),
        "sql.commit": mean.get("commit", 0.0),
        "sql.rollback": mean.get("rollback", 0.0),
        "sql.non_201": sum(
            count for key, count in probe["statuses"].items() if not key.endswith(": 201")
        ),
    }
    for kind, values in probe["by_kind"].items():
        figures[f"sql.kind.{kind}"] = values["statements"]
    return figures


# -- the table ------------------------------------------------------------------------------


def score(figure: Figure, base: float | None, head: float | None) -> float | None:
    """Return head/base (base/head when lower is better): 1 is as good, below 1 is worse."""
    if base is None or head is None or figure.direction in {ZERO, INFO}:
        return None
    better, worse = (head, base) if figure.direction == HIGHER else (base, head)
    if worse == 0:
        return 1.0 if better == 0 else None  # None: infinitely better
    return better / worse


def verdict(figure: Figure, base: float | None, head: float | None) -> str:
    """Say whether the head's figure meets the target."""
    if base is None or head is None:
        return "n/a"
    if figure.direction == INFO:
        return "info"
    if figure.direction == ZERO:
        return "ok" if head == 0 else "CHECK"
    ratio = score(figure, base, head)
    if ratio is None:  # from zero to something better: infinitely better
        return "ok"
    return "ok" if ratio >= TARGET else "WORSE"


def overlap(figure: Figure, base: list[float], head: list[float]) -> bool:
    """Tell whether a figure below the target still has rounds of the head as good as the
    base's worst: the difference is then within the run-to-run spread."""
    if len(base) < 2 or len(head) < 2:
        return False
    base_median, head_median = statistics.median(base), statistics.median(head)
    if verdict(figure, base_median, head_median) != "WORSE":
        return False
    if figure.direction == HIGHER:
        return max(head) >= min(base)
    return min(head) <= max(base)


def saturation_note(rows: list[dict[str, Any]]) -> str | None:
    """Warn when the open loop's rate is close to the closed loop's throughput."""
    by_key = {row["key"]: row for row in rows}
    rate, closed = by_key.get("scan.open_rate"), by_key.get("scan.closed")
    if rate is None or closed is None:
        return None
    loads = [
        rate[side] / closed[side]
        for side in ("base", "head")
        if rate[side] is not None and closed[side]
    ]
    if not loads or max(loads) < SATURATION:
        return None
    return (
        f"note: the open loop runs at {100 * min(loads):.0f}–{100 * max(loads):.0f} % of the"
        " closed loop's throughput: its latencies measure queueing, which swings with any"
        " change in capacity (or in what else the machine runs)."
    )


def figures_for(sections: list[str], keys: set[str]) -> list[Figure]:
    """Return the rows to print: the fixed ones, then one per kind of scan measured."""
    rows = [figure for section in sections for figure in SECTIONS[section]]
    if "statements" in sections:
        kinds = {key.removeprefix("sql.kind.") for key in keys if key.startswith("sql.kind.")}
        ordered = [kind for kind in KINDS if kind in kinds] + sorted(kinds - set(KINDS))
        rows += [
            Figure(f"sql.kind.{kind}", f"  statements: {kind}", "stmt", LOWER) for kind in ordered
        ]
    return rows


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit in {"ms", "%", "stmt"} or value != int(value):
        return f"{value:.2f}" if abs(value) < 100 else f"{value:.0f}"
    return f"{value:.0f}"


def spread(values: list[float]) -> float | None:
    """Return (max - min) / median of a figure's rounds, None for fewer than two."""
    if len(values) < 2:
        return None
    middle = statistics.median(values)
    return (max(values) - min(values)) / middle if middle else None


def table_rows(
    figures: list[Figure], base: dict[str, list[float]], head: dict[str, list[float]]
) -> list[dict[str, Any]]:
    """Compute every row: medians of the rounds, ratio, verdict, spread."""
    rows = []
    for figure in figures:
        base_values, head_values = base.get(figure.key, []), head.get(figure.key, [])
        base_median = statistics.median(base_values) if base_values else None
        head_median = statistics.median(head_values) if head_values else None
        spreads = [s for s in (spread(base_values), spread(head_values)) if s is not None]
        rows.append(
            {
                "key": figure.key,
                "label": figure.label,
                "unit": figure.unit,
                "direction": figure.direction,
                "base": base_median,
                "head": head_median,
                "ratio": score(figure, base_median, head_median),
                "verdict": verdict(figure, base_median, head_median)
                + (" (in noise)" if overlap(figure, base_values, head_values) else ""),
                "spread": max(spreads) if spreads else None,
                "base_values": base_values,
                "head_values": head_values,
            }
        )
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """Render rows as a Markdown table (↓: lower is better, the ratio is base/head)."""
    with_spread = any(row["spread"] is not None for row in rows)
    header = ["figure", "unit", "base", "head", "head/base", "verdict"]
    if with_spread:
        header.append("spread")
    lines = [header]
    for row in rows:
        label = row["label"] + (" ↓" if row["direction"] == LOWER else "")
        cells = [
            label,
            row["unit"],
            _number(row["base"], row["unit"]),
            _number(row["head"], row["unit"]),
            "" if row["ratio"] is None else f"{row['ratio']:.2f}",
            row["verdict"],
        ]
        if with_spread:
            cells.append("" if row["spread"] is None else f"{100 * row['spread']:.0f} %")
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    right = {2, 3, 4, 6}

    def render(cells: list[str]) -> str:
        padded = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ]
        return "| " + " | ".join(padded) + " |"

    separator = ["-" * w for w in widths]
    return "\n".join([render(lines[0]), render(separator), *map(render, lines[1:])])


# -- checkouts and runs ---------------------------------------------------------------------


def git(*args: str) -> str:
    """Run git in this repository and return its stdout, stripped."""
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


@dataclass
class Side:
    """One of the two versions compared, and where it is checked out."""

    name: str
    requested: str
    sha: str
    description: str
    path: Path
    temporary: bool


def resolve(name: str, requested: str, into: Path) -> Side:
    """Check a revision out into a temporary directory (WORKTREE: this working tree)."""
    if requested == WORKTREE:
        sha = git("rev-parse", "HEAD")
        dirty = len(git("status", "--porcelain", "--untracked-files=no").splitlines())
        description = f"working tree of {ROOT} (HEAD {sha[:10]} + {dirty} changed files)"
        return Side(name, requested, sha, description, ROOT, temporary=False)
    try:
        sha = git("rev-parse", "--verify", "--quiet", f"{requested}^{{commit}}")
    except subprocess.CalledProcessError:
        sys.exit(f"--{name}: no commit {requested!r} in {ROOT}")
    subject = git("log", "-1", "--format=%s (%ci)", sha)
    path = into / name
    path.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", sha], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(path)], input=archive.stdout, check=True)
    return Side(name, requested, sha, f"{sha[:10]} {subject}", path, temporary=True)


def checkout_env(side: Side) -> dict[str, str]:
    """Return the environment of a checkout's processes: its own code first."""
    return {**os.environ, "PYTHONPATH": str(side.path), "PYTHONUNBUFFERED": "1"}


def has_json_output(side: Side, script: str) -> bool:
    """Tell whether a checkout's benchmark script has the --json option (from its --help)."""
    result = subprocess.run(
        [sys.executable, f"bench/{script}", "--help"],
        cwd=side.path,
        env=checkout_env(side),
        capture_output=True,
        text=True,
        check=True,
    )
    return re.search(r"^\s+--json\b", result.stdout, flags=re.MULTILINE) is not None


def run_bench(
    side: Side, script: str, args: list[str], logs: Path, tag: str
) -> tuple[dict[str, dict[str, float]], str]:
    """Run a checkout's benchmark; return its figures by backend and how they were read."""
    out = logs / f"{tag}.json"
    use_json = has_json_output(side, script)
    command = [sys.executable, f"bench/{script}", *args]
    if use_json:
        command += ["--json", str(out)]
    env = checkout_env(side)
    with (logs / f"{tag}.log").open("w", encoding="utf-8") as log:
        result = subprocess.run(
            command,
            cwd=side.path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            check=False,
        )
    (logs / f"{tag}.out").write_text(result.stdout, encoding="utf-8")
    if result.returncode != 0:
        raise RuntimeError(f"{script} of {side.name} failed; see {logs / tag}.log, .out")
    flatten = scan_figures if script == "scan_api.py" else mqtt_figures
    if use_json:
        results = json.loads(out.read_text(encoding="utf-8"))["results"]
        return {r["backend"]: flatten(r) for r in results}, "json"
    parse = parse_scan_text if script == "scan_api.py" else parse_mqtt_text
    return parse(result.stdout), "text"


def probe_statements(side: Side, backend: str, work: Path) -> dict[str, Any]:
    """Count statements per scan in a checkout, with this tree's probe and scan sequence."""
    codes = list(itertools.islice(station_codes(1), PROBE_SCANS))
    work.mkdir(parents=True)
    with fresh_database(backend, work) as url:
        return run_statement_probe(
            side.path,
            url,
            bench_school(),
            codes,
            PROBE_STATION,
            work,
            probe_script=ROOT / "bench" / "sql_probe.py",
        )


LOADS: list[float] = []


def progress(message: str) -> None:
    """Say what is running, on stderr, with the machine's load (other processes skew it all)."""
    load = os.getloadavg()[0]
    LOADS.append(load)
    sys.stdout.flush()
    print(f"[{time.strftime('%H:%M:%S')}] load {load:.1f}: {message}", file=sys.stderr, flush=True)


def main() -> None:
    """Check out both revisions, run the benchmarks alternately, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default=DEFAULT_BASE, help=f"revision (default {DEFAULT_BASE})")
    parser.add_argument(
        "--head", default="HEAD", help=f"revision (default HEAD, committed), or {WORKTREE}"
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--rounds", type=int, default=3, help="base/head pairs per benchmark (default 3)"
    )
    parser.add_argument("--duration-s", type=int, default=30, help="per load of scan_api.py")
    parser.add_argument("--welds", type=int, default=1000, help="per station, mqtt_ingest.py")
    parser.add_argument(
        "--bench",
        default=",".join(BENCHES),
        help="comma-separated, among scan, mqtt, statements (default: all)",
    )
    parser.add_argument("--json", type=Path, help="also write the summary to this JSON file")
    args = parser.parse_args()
    sections = [name.strip() for name in args.bench.split(",") if name.strip()]
    unknown = set(sections) - set(BENCHES)
    if unknown:
        parser.error(f"unknown --bench {', '.join(sorted(unknown))}")
    backends = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    if "scan" in sections and shutil.which("wrk") is None:
        sys.exit("wrk is needed for the scan benchmark: apt-get install wrk")

    checkouts = Path(tempfile.mkdtemp(prefix="atelier-compare-"))
    try:
        base = resolve("base", args.base, checkouts)
        head = resolve("head", args.head, checkouts)
        logs = Path(tempfile.mkdtemp(prefix="atelier-compare-logs-"))
        sides = (base, head)
        print(f"command: {shlex.join([sys.executable, *sys.argv])}")
        print(f"base:    {args.base} = {base.description}")
        print(f"head:    {args.head} = {head.description}")
        print(
            f"started {time.strftime('%Y-%m-%d %H:%M')}, {args.rounds} round(s) alternating"
            f" base/head, scan loads {args.duration_s} s, MQTT {args.welds} welds per station;"
            f" logs in {logs}"
        )
        values: dict[str, dict[str, dict[str, list[float]]]] = {
            backend: {side.name: {} for side in sides} for backend in backends
        }
        sources: dict[str, str] = {}
        failures: list[str] = []
        benches = [
            (name, script, extra)
            for name, script, extra in (
                ("scan", "scan_api.py", ["--duration-s", str(args.duration_s)]),
                ("mqtt", "mqtt_ingest.py", ["--welds", str(args.welds)]),
            )
            if name in sections
        ]
        for round_number in range(1, args.rounds + 1):
            for backend in backends:
                for name, script, extra in benches:
                    for side in sides:
                        tag = f"r{round_number}-{backend}-{name}-{side.name}"
                        progress(f"round {round_number}/{args.rounds}: {tag}")
                        try:
                            figures, source = run_bench(
                                side, script, ["--db", backend, *extra], logs, tag
                            )
                        except (RuntimeError, ValueError, KeyError) as exc:
                            failures.append(f"{tag}: {exc}")
                            progress(f"FAILED {failures[-1]}")
                            continue
                        sources[f"{name} {side.name}"] = source
                        for key, value in figures[backend].items():
                            values[backend][side.name].setdefault(key, []).append(value)
        probes: dict[str, dict[str, Any]] = {}
        if "statements" in sections:
            for backend in backends:
                for side in sides:
                    progress(f"statements per scan: {backend} {side.name}")
                    try:
                        probe = probe_statements(
                            side, backend, logs / f"probe-{backend}-{side.name}"
                        )
                    except (RuntimeError, KeyError) as exc:
                        failures.append(f"statements {backend} {side.name}: {exc}")
                        progress(f"FAILED {failures[-1]}")
                        continue
                    probes[f"{backend} {side.name}"] = probe
                    for key, value in statement_figures(probe).items():
                        values[backend][side.name].setdefault(key, []).append(value)
        cores = os.cpu_count() or 1
        print(
            f"machine load (1-min load average as each run started): {min(LOADS):.1f} to"
            f" {max(LOADS):.1f} on {cores} cores"
            + (": other work ran alongside, expect a wide spread" if max(LOADS) > cores else "")
        )
        if sources:
            print(
                "figures read from: "
                + ", ".join(f"{key} {source}" for key, source in sorted(sources.items()))
            )
        for failure in failures:
            print(f"FAILED (its figures are n/a): {failure}")
        summary: dict[str, Any] = {
            "command": [sys.executable, *sys.argv],
            "base": {"requested": args.base, "sha": base.sha, "description": base.description},
            "head": {"requested": args.head, "sha": head.sha, "description": head.description},
            "rounds": args.rounds,
            "duration_s": args.duration_s,
            "welds": args.welds,
            "target": TARGET,
            "logs": str(logs),
            "backends": {},
            "probes": probes,
            "failures": failures,
            "load_averages": LOADS,
        }
        for backend in backends:
            keys = set(values[backend]["base"]) | set(values[backend]["head"])
            rows = table_rows(
                figures_for(sections, keys), values[backend]["base"], values[backend]["head"]
            )
            worse = [
                row["label"].strip()
                for row in rows
                if row["verdict"].split()[0] in {"WORSE", "CHECK"}
            ]
            print(f"\n== {backend} ==")
            print(format_table(rows))
            print(
                f"verdict: {len(worse)} figure(s) below {TARGET} x base or failing a check"
                + (f": {'; '.join(worse)}" if worse else "")
            )
            note = saturation_note(rows)
            if note:
                print(note)
            summary["backends"][backend] = {"rows": rows, "worse": worse}
        print(
            "\n↓ lower is better: the ratio is base/head. Every ratio reads the same way:"
            f" above 1 the head is better, below {TARGET} it misses the target. Spread: (max -"
            " min) / median of a side's rounds, the larger side's; \"in noise\": some head"
            " round is as good as the worst base round."
        )
        if args.json:
            args.json.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    finally:
        shutil.rmtree(checkouts, ignore_errors=True)


if __name__ == "__main__":
    main()
