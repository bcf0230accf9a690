"""Run the MQTT ingest worker as production does: its own process, killable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    """``flask --app app ingest mqtt`` in a subprocess, on a test's database and broker."""

    def __init__(
        self,
        database_url: str,
        mqtt_url: str,
        log_dir: Path,
        client_id: str = "atelier-ingest-test",
    ) -> None:
        self.database_url = database_url
        self.mqtt_url = mqtt_url
        self.log_path = log_dir / "worker.log"
        self.client_id = client_id
        self.process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    def start(self) -> None:
        """Start the worker (it connects and subscribes by itself)."""
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        env = {
            **os.environ,
            "ATELIER_DATABASE_URL": self.database_url,
            "ATELIER_MQTT_URL": self.mqtt_url,
            "ATELIER_SECRET_KEY": "test-secret-key-for-the-worker",
        }
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "flask",
                    "--app",
                    "app",
                    "ingest",
                    "mqtt",
                    "--client-id",
                    self.client_id,
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_subscribed(self, timeout_s: float = 30.0) -> None:
        """Wait until the worker's subscriptions are confirmed (before that, a message
        published by a station would not reach a brand-new session)."""
        deadline = time.monotonic() + timeout_s
        while "MQTT subscriptions confirmed" not in self.log_text()[self._log_offset :]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the worker did not subscribe:\n{self.log_text()[-2000:]}")
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"the worker exited:\n{self.log_text()[-2000:]}")
            time.sleep(0.05)

    def stop(self) -> int:
        """Stop the worker with SIGTERM and return its exit code."""
        return self._end(signal.SIGTERM)

    def kill(self) -> int:
        """Kill the worker with SIGKILL, whatever it is doing."""
        return self._end(signal.SIGKILL)

    def _end(self, sig: signal.Signals) -> int:
        process = self.process
        if process is None:
            return 0
        self.process = None
        if process.poll() is None:
            process.send_signal(sig)
        try:
            return process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()

    def log_text(self) -> str:
        """Return what the worker logged."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
