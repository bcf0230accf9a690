"""Real components for the agent tests: a pty standing in for the reader, a scan server
speaking the HTTP contract, and the agent run as a separate process."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import tty
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support.services import free_port, wait_for_port

REPO_ROOT = Path(__file__).resolve().parents[2]


def wait_until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    """Poll the predicate until it holds or the time runs out; tell whether it held."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


class SerialPty:
    """A reader on a pty: the agent opens `path` (a symlink we control), we write bytes.

    `unplug()` closes the pty and removes the path, as when a USB reader is pulled out;
    `plug()` creates a fresh pty behind the same path.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._master: int | None = None
        self.plug()

    def plug(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        slave_path = os.ttyname(slave)
        # The agent opens the slave by name; our own descriptor is not needed.
        os.close(slave)
        self._master = master
        tmp = self.path.with_name(self.path.name + ".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(slave_path)
        tmp.replace(self.path)

    def unplug(self) -> None:
        self.path.unlink(missing_ok=True)
        if self._master is not None:
            os.close(self._master)
            self._master = None

    def write(self, data: bytes) -> None:
        assert self._master is not None, "the reader is unplugged"
        view = memoryview(data)
        while view:
            written = os.write(self._master, view)
            view = view[written:]

    def close(self) -> None:
        self.unplug()


@pytest.fixture
def serial_pty(tmp_path: Path) -> Iterator[SerialPty]:
    """Give a pty reader behind a symlink path; closed after the test."""
    reader = SerialPty(tmp_path / "ttyREADER")
    yield reader
    reader.close()


class ScanServer:
    """An HTTP server that speaks the scan API contract, with scripted failures.

    It applies each event id once: a repeat with the same body gets 200 duplicate, with a
    different body 409. `script` holds statuses to answer next, before the contract
    behaviour; `reject` holds codes answered 422 (recorded as rejected, like the real
    server); `delays_s` delays the next answers (after the event is recorded, as a
    lost acknowledgement would). `stop()` closes the listening socket and every open
    connection.
    """

    def __init__(self, token: str = "secret-token") -> None:
        self.token = token
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []  # every request body, in arrival order
        self.authorizations: list[str | None] = []
        self.recorded: dict[str, dict[str, Any]] = {}  # event_id -> body (first time)
        self.applied: list[str] = []  # event ids recorded, in order
        self.script: list[int] = []
        self.reject: set[str] = set()
        self.delays_s: list[float] = []  # answer the next requests this late
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()

    def start(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with server.lock:
                    server._connections.add(self.connection)

            def finish(self) -> None:
                with server.lock:
                    server._connections.discard(self.connection)
                super().finish()

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                status, answer = server.answer(self.path, self.headers.get("Authorization"), raw)
                with server.lock:
                    delay_s = server.delays_s.pop(0) if server.delays_s else 0.0
                time.sleep(delay_s)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        assert wait_for_port(self.port)

    def answer(self, path: str, authorization: str | None, raw: bytes) -> tuple[int, Any]:
        with self.lock:
            self.authorizations.append(authorization)
            try:
                body = json.loads(raw)
            except ValueError:
                return 400, {"status": "rejected", "error": {"code": "bad_json", "message": "?"}}
            self.requests.append(body)
            if path != "/api/v1/scans":
                return 404, {}
            if self.script:
                status = self.script.pop(0)
                if status == 422:
                    self._record(body)
                return status, self._error_body(status)
            if authorization != f"Bearer {self.token}":
                return 401, self._error_body(401)
            event_id = body.get("event_id")
            if event_id in self.recorded:
                if self.recorded[event_id] != body:
                    return 409, self._error_body(409)
                return 200, {"event_id": event_id, "duplicate": True, "status": "accepted"}
            self._record(body)
            if body.get("code") in self.reject:
                return 422, self._error_body(422)
            return 201, {
                "event_id": event_id,
                "status": "accepted",
                "kind": "badge",
                "message": "Bonjour — badge accepté",
            }

    def _record(self, body: dict[str, Any]) -> None:
        self.recorded[body["event_id"]] = body
        self.applied.append(body["event_id"])

    @staticmethod
    def _error_body(status: int) -> dict[str, Any]:
        messages = {
            401: ("bad_token", "Jeton invalide"),
            409: ("conflict", "Même identifiant, contenu différent"),
            422: ("unknown_code", "Code inconnu : vérifiez l'étiquette"),
            400: ("bad_request", "Requête mal formée"),
        }
        code, message = messages.get(status, ("server_error", "Erreur du serveur"))
        return {"status": "rejected", "error": {"code": code, "message": message}}

    def applied_codes(self) -> list[str]:
        with self.lock:
            return [self.recorded[event_id]["code"] for event_id in self.applied]

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        with self.lock:
            connections = list(self._connections)
        for connection in connections:
            # Keep-alive connections would otherwise go on being served (and
            # server_close() waits for their threads).
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()
        assert self._thread is not None
        self._thread.join(5)
        self._httpd = None


@pytest.fixture
def scan_server() -> Iterator[ScanServer]:
    """Give a running scan server; stopped after the test."""
    server = ScanServer()
    server.start()
    yield server
    server.stop()


class AgentProcess:
    """`python -m devices.agent` as a separate process, with its log collected."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        full_env = dict(os.environ)
        # Only what the test passes: a token in the caller's environment must not leak in.
        full_env.pop("ATELIER_TOKEN", None)
        full_env.update({"PYTHONUNBUFFERED": "1", **(env or {})})
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devices.agent", *args],
            cwd=REPO_ROOT,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._collect, daemon=True)
        self._reader.start()

    def _collect(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    def wait_for_line(self, fragment: str, timeout_s: float = 10.0, after: int = 0) -> int:
        """Wait until an output line holds the fragment; return its index."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                for index in range(after, len(self.lines)):
                    if fragment in self.lines[index]:
                        return index
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (
                    self.process.poll() is not None and not self._reader.is_alive()
                ):
                    raise AssertionError(
                        f"no line with {fragment!r}; output:\n" + "\n".join(self.lines)
                    )
                self._changed.wait(min(remaining, 0.1))

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout_s: float = 30.0) -> int:
        code = self.process.wait(timeout_s)
        self._reader.join(5)
        return code

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self._reader.join(5)
        assert self.process.stdout is not None
        self.process.stdout.close()

    def output(self) -> str:
        with self._changed:
            return "\n".join(self.lines)


@pytest.fixture
def agent_process() -> Iterator[Callable[..., AgentProcess]]:
    """Give a factory of agent processes; every one is killed after the test."""
    started: list[AgentProcess] = []

    def start(args: list[str], env: dict[str, str] | None = None) -> AgentProcess:
        process = AgentProcess(args, env)
        started.append(process)
        return process

    yield start
    for process in started:
        process.close()
