"""Benchmark of the MQTT ingest path through the real broker (shipped configuration).

Simulated welding stations publish welds with their sample batches at QoS 1 as fast as
the broker takes them (`python -m devices.simulate burst`). Measured, in the same run:
(1) the ceiling: a bare paho subscriber that only counts the same messages; (2) the
ingest worker (`flask --app app ingest mqtt`, its own process) committing them, end to
end from the first publish to the last commit; (3) the worker draining the same amount
queued while it was down. Then every message is checked in the database: none lost,
none doubled.

Usage: python bench/mqtt_ingest.py [--db sqlite|postgresql|both] [--welds 1000] [--json FILE]
Prints figures (--json also writes them to FILE); it is not a pass/fail test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, app_env, flask, fresh_database, temp_dir
from tests.support.mosquitto import MosquittoBroker
from tests.support.worker import WorkerProcess

DEVICES = ("ws01", "ws02", "ws03", "ws04")
STATION_PASSWORD = "bench-station-secret"
INGEST_PASSWORD = "bench-ingest-secret"
COUNTER_ACL = "\nuser bench-counter\ntopic read atelier/v1/#\n"

# The stations' messages the worker recorded (their births and Wills aside).
STATION_EVENTS = "FROM events WHERE channel = 'mqtt' AND kind <> 'mqtt.status'"


def burst(broker: MosquittoBroker, welds: int, seed: int) -> tuple[dict[str, Any], float]:
    """Publish welds from every device; return the simulator's figures and the start time."""
    started = time.time()
    output = subprocess.run(
        [
            sys.executable,
            "-m",
            "devices.simulate",
            "-q",
            "burst",
            "--mqtt-url",
            broker.url,
            "--mqtt-password",
            STATION_PASSWORD,
            "--site",
            "belfort",
            "--devices",
            ",".join(DEVICES),
            "--welds",
            str(welds),
            "--samples",
            "--arc-s",
            "2,4",
            "--window",
            "100",
            "--seed",
            str(seed),
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1]), started


def ceiling(broker: MosquittoBroker, welds: int) -> dict[str, Any]:
    """Measure the bare subscriber on the same kind of load."""
    counter = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "bench" / "mqtt_counter.py"),
            "127.0.0.1",
            str(broker.port),
            "bench-counter",
            INGEST_PASSWORD,
            "atelier/v1",
            "belfort",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert counter.stdout is not None and counter.stdin is not None
    assert counter.stdout.readline().strip() == "ready"
    figures, started = burst(broker, welds, seed=1)
    wanted = figures["messages"]
    reached = None
    for line in counter.stdout:
        _, count, wall = line.split()
        if int(count) >= wanted:
            reached = float(wall)
            break
    counter.stdin.close()
    counter.wait(10)
    assert reached is not None
    return {
        "messages": wanted,
        "seconds": reached - started,
        "per_s": wanted / (reached - started),
        "publisher_per_s": figures["msg_per_s"],
    }


def wait_for(url: str, wanted: int, timeout_s: float = 600.0) -> float:
    """Poll the database until it holds ``wanted`` station messages; return the time."""
    engine = sa.create_engine(url)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                count = conn.execute(sa.text(f"SELECT count(*) {STATION_EVENTS}")).scalar_one()
            if count >= wanted:
                return time.time()
            time.sleep(0.05)
    finally:
        engine.dispose()
    raise TimeoutError(f"only {count} of {wanted} messages committed")


def check(url: str, messages: int, welds: int) -> dict[str, Any]:
    """Check the database: every message once, every weld once."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        recorded = conn.execute(sa.text(f"SELECT count(*) {STATION_EVENTS}")).scalar_one()
        distinct = conn.execute(
            sa.text(f"SELECT count(DISTINCT key) {STATION_EVENTS}")
        ).scalar_one()
        stored_welds = conn.execute(sa.text("SELECT count(*) FROM welds")).scalar_one()
        rejected = conn.execute(
            sa.text("SELECT count(*) FROM events WHERE channel = 'mqtt' AND status = 'rejected'")
        ).scalar_one()
        gaps = conn.execute(sa.text("SELECT count(*) FROM seq_gaps")).scalar_one()
    engine.dispose()
    return {
        "messages_sent": messages,
        "recorded": recorded,
        "distinct": distinct,
        "welds_sent": welds,
        "welds_stored": stored_welds,
        "rejected": rejected,
        "seq_gaps": gaps,
    }


def run_backend(backend: str, welds: int) -> dict[str, Any]:
    """Run the three measurements on one database backend."""
    workdir = temp_dir(f"atelier-mqtt-bench-{backend}-")
    config = (ROOT / "deploy" / "mosquitto" / "atelier.conf").read_text()
    acl = (ROOT / "deploy" / "mosquitto" / "atelier.acl").read_text() + COUNTER_ACL
    users = {"atelier-ingest": INGEST_PASSWORD, "bench-counter": INGEST_PASSWORD}
    users.update({device: STATION_PASSWORD for device in DEVICES})
    with (
        MosquittoBroker(config, workdir=workdir / "broker", users=users, acl_text=acl) as broker,
        fresh_database(backend, workdir) as url,
    ):
        env = app_env(url)
        mqtt_url = f"mqtt://atelier-ingest:{INGEST_PASSWORD}@127.0.0.1:{broker.port}"
        worker = WorkerProcess(url, mqtt_url, workdir, client_id="bench-ingest")
        flask(env, "db", "upgrade")
        flask(env, "data", "import", str(ROOT / "app" / "data" / "demo" / "belfort.yaml"))
        bare = ceiling(broker, welds)
        worker.start()
        worker.wait_subscribed()
        live_figures, started = burst(broker, welds, seed=2)
        live_done = wait_for(url, live_figures["messages"])
        worker.stop()
        queued_figures, _ = burst(broker, welds, seed=3)
        total = live_figures["messages"] + queued_figures["messages"]
        restart = time.time()
        worker.start()
        worker.wait_subscribed()
        drained = wait_for(url, total)
        worker.stop()
        result = check(url, total, live_figures["welds"] + queued_figures["welds"])
        broker.assert_log_clean()
    live = live_figures["messages"] / (live_done - started)
    return {
        "backend": backend,
        "bare": bare,
        "live": {
            "messages": live_figures["messages"],
            "seconds": live_done - started,
            "per_s": live,
            "publisher_per_s": live_figures["msg_per_s"],
        },
        "drain": {
            "messages": queued_figures["messages"],
            "seconds": drained - restart,
            "per_s": queued_figures["messages"] / (drained - restart),
        },
        "ratio": live / bare["per_s"],
        "check": result,
    }


def report(result: dict[str, Any]) -> None:
    """Print one backend's figures."""
    bare, live, drain = result["bare"], result["live"], result["drain"]
    checked = result["check"]
    print(f"\n== {result['backend']} ==")
    print(
        f"ceiling, bare paho subscriber: {bare['per_s']:.0f} msg/s ({bare['messages']} messages"
        f" in {bare['seconds']:.1f} s; publishers {bare['publisher_per_s']} msg/s)"
    )
    print(
        f"ingest worker, live, committed end to end: {live['per_s']:.0f} msg/s"
        f" ({live['messages']} messages in {live['seconds']:.1f} s)"
        f" = {100 * result['ratio']:.0f} % of the ceiling"
    )
    print(
        f"ingest worker, backlog queued while down: {drain['per_s']:.0f} msg/s"
        f" ({drain['messages']} messages in {drain['seconds']:.1f} s)"
    )
    print(f"checks: {checked}")
    lost = checked["messages_sent"] - checked["distinct"]
    doubled = checked["recorded"] - checked["distinct"]
    print(
        f"lost: {lost}, doubled: {doubled}, welds {checked['welds_stored']}/{checked['welds_sent']}"
    )


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--welds", type=int, default=1000, help="welds per station and phase")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    started = time.strftime("%Y-%m-%d %H:%M")
    print(
        f"MQTT ingest benchmark, {started}, {len(DEVICES)} stations x {args.welds} welds"
        " with samples, QoS 1"
    )
    results = []
    for backend in backends:
        results.append(run_backend(backend, args.welds))
        report(results[-1])
    if args.json:
        figures = {
            "benchmark": "mqtt_ingest",
            "started": started,
            "welds": args.welds,
            "devices": len(DEVICES),
            "results": results,
        }
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
