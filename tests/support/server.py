"""Run the real web server (gunicorn) on a test's database, as production runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.support.services import free_port

ROOT = Path(__file__).resolve().parents[2]


class GunicornServer:
    """A gunicorn process serving ``app:create_app()`` on a free port."""

    def __init__(
        self, database_url: str, log_dir: Path, workers: int = 2, port: int | None = None
    ) -> None:
        self.database_url = database_url
        self.log_path = log_dir / "gunicorn.log"
        self.workers = workers
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Return the base URL of the server."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> None:
        """Start gunicorn and wait until it answers."""
        env = {
            **os.environ,
            "ATELIER_DATABASE_URL": self.database_url,
            "ATELIER_SECRET_KEY": "test-secret-key-for-the-live-server",
            # Plain HTTP on the loopback: the session cookie must not require HTTPS here.
            "ATELIER_COOKIE_SECURE": "0",
        }
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                str(self.workers),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--graceful-timeout",
                "5",
                "app:create_app()",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"gunicorn exited: {self.log_path.read_text(errors='replace')[-2000:]}"
                )
            try:
                if requests.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("gunicorn did not answer in time")

    def stop(self) -> None:
        """Stop gunicorn gracefully and wait for it."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """Kill gunicorn and its workers at once (SIGKILL to the whole group)."""
        if self.process is None:
            return
        try:
            children = subprocess.run(
                ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True, check=False
            ).stdout.split()
            for pid in children:
                os.kill(int(pid), signal.SIGKILL)
        except (OSError, ValueError):
            pass
        self.process.kill()
        self.process.wait()
        self.process = None
