"""The demo smoke test: `python -m app.demo` from a fresh clone, then Ctrl-C leaves nothing.

Why this is `make demo` minus the install step: `make demo` is "create .venv and
`pip install -e '.[dev,demo]'`" followed by `$(BIN)/python -m app.demo`. The test runs that
second half with the interpreter running the suite (the project's .venv under `make test`,
with the same dependencies from the same pyproject.toml) and the clone as the working
directory. `python -m` puts the working directory first on sys.path and the orchestrator
gives its children the clone as cwd and PYTHONPATH, so every process imports the clone's
committed code, never this checkout's; the clone's instance/ holding demo.json proves it.
Only the network-bound reinstall is skipped.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]
import pytest
import requests

from tests.support.services import free_port

pytestmark = pytest.mark.demo

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0


def _leftovers(clone: Path) -> list[str]:
    """Describe every process whose command line or working directory is in the clone."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "cwd", "status"]):
        info = proc.info
        if info["pid"] == os.getpid() or info["status"] == psutil.STATUS_ZOMBIE:
            continue
        cmdline = " ".join(info["cmdline"] or [])
        cwd = info["cwd"] or ""
        if str(clone) in cmdline or cwd == str(clone) or cwd.startswith(f"{clone}/"):
            found.append(f"{info['pid']} (cwd {cwd}): {cmdline}")
    return found


def _kill_leftovers(clone: Path) -> None:
    for proc in psutil.process_iter(["cmdline", "cwd"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if str(clone) in cmdline or (proc.info["cwd"] or "").startswith(str(clone)):
            with contextlib.suppress(psutil.Error):
                proc.kill()


def _report(clone: Path, output: Path) -> str:
    parts = ["--- console ---", output.read_text(errors="replace")]
    logs = clone / "instance" / "logs"
    if logs.is_dir():
        for log in sorted(logs.glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-25:]
            parts += [f"--- {log.name} ---", *tail]
    return "\n".join(parts)


def _wait(predicate: Callable[[], Any], deadline: float, process: subprocess.Popen[bytes]) -> Any:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return None
        with contextlib.suppress(requests.RequestException, OSError, sqlite3.Error):
            value = predicate()
            if value:
                return value
        time.sleep(0.5)
    return None


def _worker_in(clone: Path, env: dict[str, str]) -> bool:
    """Tell whether the clone's CLI has the MQTT ingest worker, as the orchestrator checks."""
    probe = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "ingest", "mqtt", "--help"],
        cwd=clone,
        env=env,
        capture_output=True,
        check=False,
        timeout=60,
    )
    return probe.returncode == 0


def _attributed_welds(database: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        row = conn.execute("SELECT count(*) FROM welds WHERE run_id IS NOT NULL").fetchone()
    return int(row[0])


def _start(clone: Path, env: dict[str, str], output: Path) -> subprocess.Popen[bytes]:
    with output.open("wb") as console:
        return subprocess.Popen(
            [sys.executable, "-m", "app.demo"],
            cwd=clone,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
            process_group=0,
        )


def _ctrl_c(demo: subprocess.Popen[bytes], clone: Path, output: Path) -> None:
    """Press Ctrl-C: the demo must exit 0 within 20 s and leave no process behind."""
    demo.send_signal(signal.SIGINT)
    try:
        code = demo.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail("the demo did not stop within 20 s of Ctrl-C\n" + _report(clone, output))
    assert code == 0, _report(clone, output)
    assert _leftovers(clone) == [], _report(clone, output)
    assert "Démo arrêtée" in output.read_text()


def _sign_in(base: str, email: str, password: str) -> requests.Response:
    with requests.Session() as browser:
        form = browser.get(f"{base}/connexion", timeout=5).text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert csrf is not None
        return browser.post(
            f"{base}/connexion",
            data={"csrf_token": csrf.group(1), "email": email, "password": password},
            timeout=5,
        )


def test_make_demo_serves_the_board_with_students_and_welds_then_ctrl_c_stops_everything(
    tmp_path: Path,
) -> None:
    clone = tmp_path / "atelier"
    subprocess.run(
        ["git", "clone", "--quiet", str(REPO), str(clone)], check=True, capture_output=True
    )
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATELIER_", "FLASK_"))}
    env["ATELIER_DEMO_PORT"] = str(port)
    env.pop("PYTHONPATH", None)
    base = f"http://127.0.0.1:{port}"
    output = tmp_path / "console.txt"
    credentials_file = clone / "instance" / "demo.json"

    def healthy() -> bool:
        return requests.get(f"{base}/api/v1/health", timeout=2).status_code == 200

    demo = _start(clone, env, output)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        assert _wait(healthy, deadline, demo), _report(clone, output)
        assert requests.get(f"{base}/", timeout=5).status_code == 200

        assert stat.S_IMODE(credentials_file.stat().st_mode) == 0o600
        saved = json.loads(credentials_file.read_text())
        headers = {"Authorization": f"Bearer {saved['token']}"}

        def badged_in() -> list[str]:
            answer = requests.get(f"{base}/api/v1/stations", headers=headers, timeout=5)
            answer.raise_for_status()
            body = answer.json()
            stations = body["stations"] if isinstance(body, dict) else body
            return [s["code"] for s in stations if s["students"]]

        assert _wait(badged_in, deadline, demo), _report(clone, output)

        secret = (clone / "instance" / "secret_key").read_text().strip()
        if _worker_in(clone, {**env, "ATELIER_SECRET_KEY": secret}):
            database = clone / "instance" / "atelier.db"
            welds = _wait(lambda: _attributed_welds(database), deadline, demo)
            assert welds, "no attributed weld within 90 s\n" + _report(clone, output)

        console_text = output.read_text()
        assert f"Tableau de l'atelier  {base}/" in console_text
        assert f"{base}/api/v1/openapi.json" in console_text
        assert console_text.index("Tableau de l'atelier") < console_text.index("API (OpenAPI)")
        for value in (saved["teacher_email"], saved["teacher_password"], saved["token"]):
            assert value in console_text

        # The printed login works over the demo's plain HTTP (requests, like a browser on a
        # non-loopback name, never sends a Secure cookie back over http://).
        signed_in = _sign_in(base, saved["teacher_email"], saved["teacher_password"])
        assert signed_in.status_code == 200
        assert signed_in.url == f"{base}/mot-de-passe"

        _ctrl_c(demo, clone, output)

        # A second `make demo` reuses everything: same data, same token, same password.
        second_output = tmp_path / "console-2.txt"
        demo = _start(clone, env, second_output)
        deadline = time.monotonic() + READY_TIMEOUT_S
        assert _wait(healthy, deadline, demo), _report(clone, second_output)
        welcomed = _wait(
            lambda: "Ctrl-C pour tout arrêter" in second_output.read_text(), deadline, demo
        )
        assert welcomed, _report(clone, second_output)
        assert json.loads(credentials_file.read_text()) == saved
        second_text = second_output.read_text()
        assert "identifiants de démo repris" in second_text
        assert "0 créé(s), 0 modifié(s), 0 retiré(s)" in second_text
        assert saved["token"] in second_text and saved["teacher_password"] in second_text
        answer = requests.get(f"{base}/api/v1/stations", headers=headers, timeout=5)
        assert answer.status_code == 200
        _ctrl_c(demo, clone, second_output)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        _kill_leftovers(clone)
