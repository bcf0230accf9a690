"""Benchmark the serial reader agent end to end; prints figures, asserts nothing.

    .venv/bin/python bench/agent.py [--scans 2000] [--backlog 10000] [--workers 2]

Starts its own server (gunicorn on a temporary SQLite database holding the minimal test
school), a pty standing in for a barcode scanner, and `python -m devices.agent` as in
production. Measures:

1. live: scans/s from bytes written into the pty to events committed by the server;
2. outage: with the server stopped, how fast scans are captured into the spool, then,
   once the server is back, how fast the backlog replays, checking that every scan was
   committed exactly once and in capture order;
3. ceiling: the same replay against a gunicorn app that answers 201 without any work,
   which is the most the agent itself can do (it sends one scan at a time, in order).

A pty has no baud rate: a real reader at 9600 bauds sends at most ~100 short codes/s,
so the live figure is the agent's and server's headroom, not a reader's pace.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import tty
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SCHOOL = REPO_ROOT / "tests" / "data" / "school_minimal.yaml"
STATION = "ST-SOUD-01"
# Printed badges of the minimal school: at a welding station each scan badges its holder
# in or out, so every scan is accepted and does the full work of the ingest core.
BADGES = ["B-0001", "B-0002", "B-0003", "B-0004"]
AGENT_NAME = "bench"
REPLAY_TARGET_S = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], bool], timeout_s: float, poll_s: float = 0.02) -> float:
    """Wait for the predicate; return the monotonic time it became true."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(poll_s)
    raise TimeoutError(f"still waiting after {timeout_s:.0f} s")


def count_rows(path: Path, sql: str) -> int:
    if not path.exists():
        return 0
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return int(connection.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # the table is not created yet
    finally:
        connection.close()


class Server:
    """gunicorn serving the app on a temporary SQLite database."""

    def __init__(self, workdir: Path, workers: int, app_spec: str = "app:create_app()") -> None:
        self.workdir = workdir
        self.app_spec = app_spec
        self.db_path = workdir / "atelier.db"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.env = {
            **os.environ,
            "ATELIER_DATABASE_URL": f"sqlite:///{self.db_path}",
            "ATELIER_SECRET_KEY": secrets.token_hex(16),
        }
        self.env.pop("ATELIER_MQTT_URL", None)
        self.process: subprocess.Popen[bytes] | None = None

    def flask(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", *args],
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout

    def prepare(self) -> str:
        """Create the database and the school; return a token bound to the station."""
        self.flask("db", "upgrade")
        self.flask("data", "import", str(SCHOOL))
        return self.flask("token", "create", "bench-agent", "--station", STATION).splitlines()[-1]

    def start(self) -> float:
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self.process = subprocess.Popen(
            [
                str(gunicorn),
                self.app_spec,
                "--pythonpath",
                f"{REPO_ROOT},{self.workdir}",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.workers),
                "--log-level",
                "warning",
            ],
            cwd=REPO_ROOT,
            env=self.env,
        )

        def accepting() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return True
            except OSError:
                return False

        return wait_until(accepting, 30)

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(30)
            self.process = None

    def events(self) -> int:
        return count_rows(
            self.db_path, f"SELECT count(*) FROM events WHERE key LIKE '{AGENT_NAME}-%'"
        )

    def committed(self) -> tuple[list[str], int]:
        """Return the codes of the agent's events in commit order and distinct keys."""
        connection = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)
        try:
            rows = connection.execute(
                "SELECT code, key FROM events WHERE key LIKE ? ORDER BY id", (f"{AGENT_NAME}-%",)
            ).fetchall()
        finally:
            connection.close()
        return [row[0] for row in rows], len({row[1] for row in rows})


class Reader:
    """A pty behind a stable path: the agent opens the slave, we write the master."""

    def __init__(self, path: Path) -> None:
        self.master, slave = os.openpty()
        tty.setraw(slave)
        path.symlink_to(os.ttyname(slave))
        os.close(slave)
        self.path = path

    def write_lines(self, codes: list[str]) -> None:
        data = memoryview(b"".join(code.encode() + b"\r\n" for code in codes))
        while data:
            data = data[os.write(self.master, data) :]

    def close(self) -> None:
        os.close(self.master)


class Agent:
    """The agent as in production: a separate process, token from the environment."""

    def __init__(self, reader: Reader, server: Server, token: str, spool: Path) -> None:
        self.spool = spool
        self.log: list[str] = []
        self._opened = threading.Event()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "devices.agent",
                "--port",
                str(reader.path),
                "--server",
                server.url,
                "--spool",
                str(spool),
                "--name",
                AGENT_NAME,
                "--retry-max-s",
                "2",
            ],
            cwd=REPO_ROOT,
            env={**os.environ, "ATELIER_TOKEN": token, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._collect, daemon=True).start()
        if not self._opened.wait(15):
            raise RuntimeError("the agent did not open the reader:\n" + "\n".join(self.log))

    def _collect(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.log.append(line.rstrip())
            if " ouvert (" in line:
                self._opened.set()

    def pending(self) -> int:
        return count_rows(self.spool, "SELECT count(*) FROM scan")

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(60)
        time.sleep(0.2)
        counters = [line for line in self.log if "compteurs" in line]
        return counters[-1].split("compteurs : ", 1)[-1] if counters else "?"


STUB_APP = """
def app(environ, start_response):
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    body = b'{"status": "accepted", "kind": "badge", "message": "ok"}'
    start_response("201 Created", [("Content-Type", "application/json"),
                                   ("Content-Length", str(len(body)))])
    return [body]
"""


def measure_ceiling(workdir: Path, backlog: int) -> None:
    """Replay a backlog against an endpoint that does no work: the agent's own limit."""
    stub_dir = workdir / "stub"
    stub_dir.mkdir()
    (stub_dir / "bench_stub_app.py").write_text(STUB_APP, encoding="utf-8")
    stub = Server(stub_dir, 1, app_spec="bench_stub_app:app")
    reader = Reader(stub_dir / "ttySTUB")
    agent = Agent(reader, stub, "no-token-needed", stub_dir / "agent-spool.db")
    try:
        reader.write_lines(codes_for(backlog, 0))
        wait_until(lambda: agent.pending() >= backlog, 900, poll_s=0.05)
        stub.start()
        first_s = wait_until(lambda: agent.pending() < backlog, 120, poll_s=0.01)
        done_s = wait_until(lambda: agent.pending() == 0, 900, poll_s=0.02)
        print(
            f"ceiling: {backlog} spooled scans replayed to a no-work endpoint in"
            f" {done_s - first_s:.2f} s = {backlog / (done_s - first_s):.0f} scans/s"
        )
    finally:
        agent.stop()
        stub.stop()
        reader.close()


def codes_for(count: int, offset: int) -> list[str]:
    return [BADGES[(offset + index) % len(BADGES)] for index in range(count)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=2000, help="scans for the live figure")
    parser.add_argument("--backlog", type=int, default=10_000, help="scans spooled in the outage")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument(
        "--no-ceiling", action="store_true", help="skip the replay against a no-work endpoint"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="atelier-bench-") as tmp:
        workdir = Path(tmp)
        server = Server(workdir, args.workers)
        token = server.prepare()
        reader = Reader(workdir / "ttyBENCH")
        server.start()
        agent = Agent(reader, server, token, workdir / "agent-spool.db")
        try:
            print(f"agent -> gunicorn ({args.workers} workers) on SQLite, pty reader, lines")

            # 1. Live throughput.
            live = codes_for(args.scans, 0)
            start_s = time.monotonic()
            reader.write_lines(live)
            done_s = wait_until(lambda: server.events() >= len(live), 600, poll_s=0.05)
            live_s = done_s - start_s
            print(
                f"live: {len(live)} scans pty -> committed events in {live_s:.2f} s"
                f" = {len(live) / live_s:.0f} scans/s"
            )

            # 2. Outage: capture into the spool, then replay.
            server.stop()
            backlog = codes_for(args.backlog, len(live))
            start_s = time.monotonic()
            reader.write_lines(backlog)
            captured_s = wait_until(lambda: agent.pending() >= len(backlog), 900, poll_s=0.05)
            capture_s = captured_s - start_s
            print(
                f"outage: {len(backlog)} scans captured into the spool in {capture_s:.2f} s"
                f" = {len(backlog) / capture_s:.0f} scans/s (one fsync each)"
            )
            up_s = server.start()
            first_s = wait_until(lambda: server.events() > len(live), 120, poll_s=0.01)
            total = len(live) + len(backlog)
            done_s = wait_until(lambda: server.events() >= total, 900, poll_s=0.05)
            wait_until(lambda: agent.pending() == 0, 60)
            replay_s = done_s - first_s
            print(
                f"replay: first delivery {first_s - up_s:.2f} s after the server was back"
                f" (retry back-off), backlog of {len(backlog)} replayed in {replay_s:.2f} s"
                f" = {len(backlog) / replay_s:.0f} scans/s;"
                f" server-back to drained {done_s - up_s:.2f} s"
                f" (target < {REPLAY_TARGET_S:.0f} s)"
            )

            codes, distinct = server.committed()
            expected = live + backlog
            verdict = (
                "nothing lost, nothing doubled, in capture order"
                if codes == expected and distinct == len(codes)
                else f"MISMATCH: {len(codes)} events, {distinct} distinct keys,"
                f" {len(expected)} scans written, order {'ok' if codes == expected else 'wrong'}"
            )
            print(f"check: {len(codes)} events committed for {len(expected)} scans: {verdict}")
        finally:
            counters = agent.stop()
            print(f"agent counters at exit: {counters}")
            server.stop()
            reader.close()
        if not args.no_ceiling:
            measure_ceiling(workdir, args.backlog)
    return 0


if __name__ == "__main__":
    sys.exit(main())
