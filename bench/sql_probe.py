"""How many SQL statements one scan costs, by kind of scan, counted in-process.

Run inside an Atelier checkout (cwd and PYTHONPATH set to it), it uses only the interfaces
every version has: the CLI (``flask --app app db upgrade``, ``data import``, ``token create
--station``), then ``create_app()`` and its test client posting ``POST /api/v1/scans`` with
a bearer token, while SQLAlchemy events count what reaches the database. Transaction
control (BEGIN, COMMIT, ROLLBACK, savepoints) is counted apart from the other statements.

Usage (bench/scan_api.py and bench/compare.py call it through ``run()``):
    python -P bench/sql_probe.py --database-url URL --school FILE --codes FILE
        --station CODE [--json FILE]
where the codes file is a JSON list of scanned codes, sent in order from that station.

This module imports nothing but the standard library and SQLAlchemy at top level, and the
app only when probing: run against another checkout, ``app`` is that checkout's.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import sqlalchemy

# The kinds of scan, in the order a station's sequence meets them.
KINDS = (
    "badge in",
    "work order",
    "operation",
    "piece (starts a run)",
    "piece",
    "A-PAUSE (pause)",
    "A-PAUSE (resume)",
    "A-FIN",
    "badge out",
    "other",
)
TRANSACTION_EVENTS = (
    "begin",
    "commit",
    "rollback",
    "savepoint",
    "release_savepoint",
    "rollback_savepoint",
)
_WORK_ORDER = re.compile(r"^OF-\d{4}-\d{4}$")
_OPERATION = re.compile(r"^OF-\d{4}-\d{4}-\d{2}$")


def scan_kinds(codes: list[str]) -> list[str]:
    """Name what each scan of a station's sequence does (badge in, operation, A-FIN…)."""
    kinds = []
    present: set[str] = set()
    paused = False
    previous = ""
    for code in codes:
        if code.startswith("B-"):
            kind = "badge out" if code in present else "badge in"
            present ^= {code}
        elif _WORK_ORDER.match(code):
            kind = "work order"
        elif _OPERATION.match(code):
            kind = "operation"
        elif code.startswith("P-"):
            kind = "piece (starts a run)" if previous == "operation" else "piece"
        elif code == "A-PAUSE":
            kind = "A-PAUSE (resume)" if paused else "A-PAUSE (pause)"
            paused = not paused
        elif code == "A-FIN":
            kind = "A-FIN"
            paused = False
        else:
            kind = "other"
        kinds.append(kind)
        previous = kind
    return kinds


def statement_verb(statement: str) -> str:
    """Return the first keyword of a statement, upper-cased (WITH counts as its own)."""
    words = statement.lstrip(" \t\n(").split(None, 1)
    return words[0].upper() if words else ""


class StatementCounter:
    """Counts statements and transaction events of the engines it listens on."""

    def __init__(self) -> None:
        self.current: Counter[str] = Counter()

    def take(self) -> Counter[str]:
        """Return what was counted since the last call and start again."""
        taken, self.current = self.current, Counter()
        return taken

    def attach(self, target: Any) -> None:
        """Listen on an engine, or on the ``Engine`` class (every engine of the process)."""

        def before_cursor_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            verb = statement_verb(statement)
            # BEGIN/COMMIT sent as SQL text (SQLite's explicit BEGIN IMMEDIATE) are already
            # counted by the transaction events below.
            if verb in {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"}:
                return
            self.current["statements"] += 1
            self.current[f"sql:{verb}"] += 1

        sqlalchemy.event.listen(target, "before_cursor_execute", before_cursor_execute)
        for name in TRANSACTION_EVENTS:

            def on_transaction(*_args: Any, _name: str = name) -> None:
                self.current[_name] += 1

            sqlalchemy.event.listen(target, name, on_transaction)


def _flask(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed: {result.stderr[-2000:]}")
    return result.stdout


def _app_engines(app: Any) -> list[Any] | None:
    """Return the app's engines through flask_sqlalchemy, or None if this version hides them."""
    try:
        db = importlib.import_module("app.extensions").db
        with app.app_context():
            return list(db.engines.values())
    except (ImportError, AttributeError, RuntimeError, KeyError):
        return None


def probe(database_url: str, school: Path, codes: list[str], station: str) -> dict[str, Any]:
    """Set up the database, send the codes in-process and count statements per scan."""
    env = {
        **os.environ,
        "ATELIER_DATABASE_URL": database_url,
        "ATELIER_SECRET_KEY": os.environ.get("ATELIER_SECRET_KEY") or "bench-probe-secret",
    }
    _flask(env, "db", "upgrade")
    _flask(env, "data", "import", str(school))
    token = _flask(env, "token", "create", "sql-probe", "--station", station).strip()
    token = token.splitlines()[-1]
    os.environ.update(env)

    app_package = importlib.import_module("app")
    app = app_package.create_app()
    engines = _app_engines(app)
    counter = StatementCounter()
    everything = StatementCounter()
    everything.attach(sqlalchemy.engine.Engine)
    if engines:
        for engine in engines:
            counter.attach(engine)
        listened = "db.engines"
    else:
        counter = everything
        listened = "sqlalchemy.engine.Engine"

    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    def post(body: dict[str, Any]) -> tuple[int, Counter[str], Counter[str]]:
        counter.take()
        everything.take()
        response = client.post("/api/v1/scans", json=body, headers=headers)
        return response.status_code, counter.take(), everything.take()

    # The first request looks the token up (and stamps it as used); the later ones find it
    # in the process's cache, as the server's do. A body without a code changes no state.
    warm_status, warm_counts, _ = post({"event_id": "probe-warm-up", "source": "barcode"})
    kinds = scan_kinds(codes)
    per_kind: dict[str, list[Counter[str]]] = {}
    statuses: Counter[str] = Counter()
    total: Counter[str] = Counter()
    unlistened = 0
    for index, (code, kind) in enumerate(zip(codes, kinds, strict=True)):
        status, counts, all_counts = post(
            {"event_id": f"probe-{index}", "code": code, "source": "barcode"}
        )
        statuses[f"{kind}: {status}"] += 1
        per_kind.setdefault(kind, []).append(counts)
        total.update(counts)
        unlistened += all_counts["statements"] - counts["statements"]

    def summary(samples: list[Counter[str]]) -> dict[str, Any]:
        n = len(samples)
        keys = sorted({key for sample in samples for key in sample} | {"statements", "begin"})
        figures: dict[str, Any] = {"scans": n}
        for key in keys:
            figures[key] = sum(sample[key] for sample in samples) / n if n else 0.0
        figures["min_statements"] = min((s["statements"] for s in samples), default=0)
        figures["max_statements"] = max((s["statements"] for s in samples), default=0)
        return figures

    every = [sample for samples in per_kind.values() for sample in samples]
    return {
        "app_file": str(Path(app_package.__file__ or "?").resolve()),
        "dialect": sqlalchemy.make_url(database_url).get_backend_name(),
        "listened_on": listened,
        "statements_outside_app_engines": unlistened,
        "station": station,
        "warm_up": {"status": warm_status, **summary([warm_counts])},
        "mean": summary(every),
        "by_kind": {kind: summary(samples) for kind, samples in per_kind.items()},
        "statuses": dict(sorted(statuses.items())),
    }


def run(
    checkout: Path,
    database_url: str,
    school_text: str,
    codes: list[str],
    station: str,
    workdir: Path,
    probe_script: Path | None = None,
) -> dict[str, Any]:
    """Run the probe in a subprocess on a checkout (its own code and schema); return figures."""
    workdir.mkdir(parents=True, exist_ok=True)
    school = workdir / "probe_school.yaml"
    school.write_text(school_text, encoding="utf-8")
    codes_file = workdir / "probe_codes.json"
    codes_file.write_text(json.dumps(codes), encoding="utf-8")
    out = workdir / "probe.json"
    script = probe_script or Path(__file__).resolve()
    env = {**os.environ, "PYTHONPATH": str(checkout), "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-P",  # not the script's directory: ``bench`` and ``app`` are the checkout's
            str(script),
            "--database-url",
            database_url,
            "--school",
            str(school),
            "--codes",
            str(codes_file),
            "--station",
            station,
            "--json",
            str(out),
        ],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"statement probe failed in {checkout}: {result.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    if not Path(figures["app_file"]).is_relative_to(checkout.resolve()):
        raise RuntimeError(f"the probe imported {figures['app_file']}, not {checkout}'s app")
    return figures


def describe(figures: dict[str, Any]) -> str:
    """Return the one-line human summary of a probe's figures."""
    mean = figures["mean"]
    kinds = ", ".join(
        f"{kind} {values['statements']:.1f}" for kind, values in figures["by_kind"].items()
    )
    return (
        f"{mean['statements']:.2f} (+ {mean['begin']:.2f} BEGIN,"
        f" {mean.get('commit', 0.0):.2f} COMMIT, {mean.get('rollback', 0.0):.2f} ROLLBACK),"
        f" mean of {mean['scans']} scans in-process; by kind: {kinds}"
    )


def main() -> None:
    """Parse the arguments, run the probe here, write its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--school", type=Path, required=True)
    parser.add_argument("--codes", type=Path, required=True)
    parser.add_argument("--station", required=True)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    codes = json.loads(args.codes.read_text(encoding="utf-8"))
    figures = probe(args.database_url, args.school, codes, args.station)
    text = json.dumps(figures, indent=2)
    if args.json:
        args.json.write_text(text, encoding="utf-8")
    else:
        print(text)


if __name__ == "__main__":
    main()
