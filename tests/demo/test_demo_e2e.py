"""`python -m demo` from a fresh copy: the README's try-outs work, Ctrl-C leaves nothing.

`make demo` is "create .venv, `pip install -e '.[dev,demo]'`" then `python -m demo`; the
test runs the second half with the suite's interpreter in a copy of the checkout's files
(what a clone would hold), once with Mosquitto and once with amqtt. It runs the README's
commands (README_SCANS, README_WELD: the exact text of the README's sections) with the
`export` line the demo prints, then presses Ctrl-C, starts again and checks the reuse.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
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

from tests.support.services import free_port, require_binary

pytestmark = [pytest.mark.demo, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
WELCOMED = "Ctrl-C pour tout arrêter"

# The README's "Scanner en HTTP (curl)" commands, after the printed `export` line.
SCAN_FUNCTION = r"""
scan() { curl -s -X POST "$ATELIER/api/v1/scans" -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' \
  -d "{\"event_id\": \"$1\", \"code\": \"$2\", \"source\": \"barcode\"}"; echo; }
"""
README_SCANS = (
    SCAN_FUNCTION
    + r"""scan essai-0001 B-0099            # 201 « Bonjour Zoé — badge accepté. »
scan essai-0002 OF-2026-0090-10   # 201 opération 10 : soudage MAG (DMOS WPS-135-PB)
scan essai-0003 P-2026-900001     # 201 nouvelle pièce : l'opération démarre
scan essai-0003 P-2026-900001     # 200 "duplicate" : le même scan renvoyé ne change rien
"""
)

# The README's "Postes de soudage en MQTT (mosquitto_pub)" commands, right after.
README_WELD = r"""
NOW=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ); END=$(date -u -d '+12 seconds' +%Y-%m-%dT%H:%M:%S.%3NZ)
T=atelier/v1/belfort/$MQTT_USER
PUB="mosquitto_pub -h $MQTT_HOST -p $MQTT_PORT -u $MQTT_USER -P $MQTT_PASSWORD -q 1"
$PUB -r -t $T/status -m "{\"v\":1,\"state\":\"online\",\"device\":\"ws05\",\"boot_id\":\"7Q2M\",\"seq\":0,\"ts\":\"$NOW\"}"
$PUB -t $T/evt/arc -m "{\"v\":1,\"type\":\"arc_start\",\"device\":\"ws05\",\"boot_id\":\"7Q2M\",\"seq\":1,\"weld_id\":\"ws05-7Q2M-0001\",\"ts\":\"$NOW\",\"process\":\"135\"}"
$PUB -t $T/evt/arc -m "{\"v\":1,\"type\":\"arc_end\",\"device\":\"ws05\",\"boot_id\":\"7Q2M\",\"seq\":2,\"weld_id\":\"ws05-7Q2M-0001\",\"ts_start\":\"$NOW\",\"ts_end\":\"$END\",\"arc_s\":12.4,\"process\":\"135\",\"i_a\":{\"mean\":182.3,\"min\":150.1,\"max\":205.7},\"u_v\":{\"mean\":23.9,\"min\":21.0,\"max\":26.2},\"energy_j\":54210,\"length_mm\":300}"
mosquitto_sub -h $MQTT_HOST -p $MQTT_PORT -u $MQTT_USER -P $MQTT_PASSWORD -t $T/cfg -C 1 -W 5
sleep 1; curl -s "$ATELIER/api/v1/pieces/P-2026-900001" -H "Authorization: Bearer $TOKEN"; echo
"""

# Then A-FIN: Zoé gets her evidence.
README_FINISH = r"""
scan essai-0004 A-FIN             # 201 « Bravo ! » : preuves des compétences pour Zoé
curl -s "$ATELIER/api/v1/students/E2026-099/portfolio" -H "Authorization: Bearer $TOKEN"; echo
"""


def _copy_checkout(target: Path) -> None:
    """Copy what a clone of this checkout would hold (tracked and new, unignored files)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (item.decode() for item in listed)):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def _leftovers(clone: Path) -> list[str]:
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
    for log in sorted((clone / "instance" / "logs").glob("*.log")):
        parts += [f"--- {log.name} ---", *log.read_text(errors="replace").splitlines()[-25:]]
    return "\n".join(parts)


def _wait(predicate: Callable[[], Any], timeout_s: float, demo: subprocess.Popen[bytes]) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and demo.poll() is None:
        with contextlib.suppress(requests.RequestException, OSError, KeyError, ValueError):
            value = predicate()
            if value:
                return value
        time.sleep(0.3)
    return None


def _start(clone: Path, env: dict[str, str], output: Path) -> subprocess.Popen[bytes]:
    with output.open("wb") as console:
        return subprocess.Popen(
            [sys.executable, "-m", "demo"],
            cwd=clone,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
            process_group=0,
        )


def _ctrl_c(demo: subprocess.Popen[bytes], clone: Path, output: Path) -> float:
    """Press Ctrl-C: the demo exits 0 within 20 s and leaves no process; return the time."""
    began = time.monotonic()
    demo.send_signal(signal.SIGINT)
    try:
        code = demo.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail("the demo did not stop within 20 s of Ctrl-C\n" + _report(clone, output))
    assert code == 0, _report(clone, output)
    assert _leftovers(clone) == [], _report(clone, output)
    assert "Démo arrêtée" in output.read_text()
    return time.monotonic() - began


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


def _bash(exports: str, script: str, cwd: Path) -> str:
    done = subprocess.run(
        ["bash", "-c", f"set -e\n{exports}\n{script}"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return "\n".join(line for line in done.stdout.splitlines() if line.strip())


@pytest.mark.parametrize("broker", ["mosquitto", "amqtt"])
def test_make_demo_runs_the_readme_try_outs_then_ctrl_c_stops_everything_and_a_restart_reuses(
    broker: str, tmp_path: Path
) -> None:
    require_binary("mosquitto_pub", "apt-get install mosquitto-clients")
    if broker == "mosquitto":
        require_binary("mosquitto", "apt-get install mosquitto")
    clone = tmp_path / "atelier"
    _copy_checkout(clone)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATELIER_", "FLASK_"))}
    env.pop("PYTHONPATH", None)
    env["ATELIER_DEMO_PORT"] = str(port)
    env["ATELIER_DEMO_MQTT_PORT"] = str(free_port())
    # "auto" finds the machine's Mosquitto; amqtt is what a machine without it gets.
    env["ATELIER_DEMO_BROKER"] = "auto" if broker == "mosquitto" else "amqtt"
    base = f"http://127.0.0.1:{port}"
    output = tmp_path / "console.txt"
    credentials_file = clone / "instance" / "demo.json"

    began = time.monotonic()
    demo = _start(clone, env, output)
    try:
        assert _wait(lambda: WELCOMED in output.read_text(), READY_TIMEOUT_S, demo), _report(
            clone, output
        )
        started_s = time.monotonic() - began
        console = output.read_text()
        assert console.index("Tableau de l'atelier") < console.index("API (OpenAPI)")
        assert f"Tableau de l'atelier  {base}/" in console
        assert ("Mosquitto sur" if broker == "mosquitto" else "amqtt sur") in console
        assert stat.S_IMODE(credentials_file.stat().st_mode) == 0o600
        saved = json.loads(credentials_file.read_text())
        exports = next(
            line.strip(" │") for line in console.splitlines() if "export ATELIER=" in line
        )
        for value in (
            saved["teacher_password"],
            saved["admin_password"],
            saved["token"],
            saved["try_token"],
        ):
            assert value in console
        assert f"Bureau                {base}/bureau/" in console
        assert saved["admin_email"] in console
        assert "gammes de démonstration : 3 créée(s)" in console

        answers = _bash(exports, README_SCANS, clone).splitlines()
        statuses = [json.loads(a)["status"] for a in answers]
        assert statuses == ["accepted", "accepted", "accepted", "accepted"], answers
        assert json.loads(answers[3])["duplicate"] is True
        assert "Zoé" in json.loads(answers[0])["message"]
        _bash(exports, README_WELD, clone)

        headers = {"Authorization": f"Bearer {saved['try_token']}"}

        def weld_on_the_piece() -> dict[str, Any] | None:
            piece = requests.get(f"{base}/api/v1/pieces/P-2026-900001", headers=headers, timeout=5)
            welds = [w for op in piece.json()["operations"] for w in op["welds"]]
            return next((w for w in welds if w["weld_id"] == "ws05-7Q2M-0001"), None)

        weld = _wait(weld_on_the_piece, 20.0, demo)
        assert weld, "the README's weld did not land\n" + _report(clone, output)
        # The same terminal as the scans: `scan` is still defined there.
        finished = _bash(exports, SCAN_FUNCTION + README_FINISH, clone).splitlines()
        assert json.loads(finished[0])["status"] == "accepted", finished

        signed_in = _sign_in(base, saved["teacher_email"], saved["teacher_password"])
        assert signed_in.url == f"{base}/mot-de-passe"
        signed_in = _sign_in(base, saved["admin_email"], saved["admin_password"])
        assert signed_in.url == f"{base}/mot-de-passe"

        def simulated_students() -> list[str]:
            answer = requests.get(f"{base}/api/v1/stations", headers=headers, timeout=5)
            stations = answer.json()["stations"]
            # Zoé is still at ST-SOUD-05: the README never badges her out.
            return [s["code"] for s in stations if s["students"] and s["code"] != "ST-SOUD-05"]

        assert _wait(simulated_students, 30.0, demo), _report(clone, output)
        stopped_s = _ctrl_c(demo, clone, output)

        second_output = tmp_path / "console-2.txt"
        demo = _start(clone, env, second_output)
        assert _wait(lambda: WELCOMED in second_output.read_text(), READY_TIMEOUT_S, demo), _report(
            clone, second_output
        )
        assert json.loads(credentials_file.read_text()) == saved
        second = second_output.read_text()
        assert "identifiants de démo repris" in second
        assert "gammes de démonstration : 3 déjà là" in second
        # The school is imported once: what the office changed stays.
        assert "école de démonstration déjà chargée" in second
        assert exports in second
        answer = requests.get(f"{base}/api/v1/stations", headers=headers, timeout=5)
        assert answer.status_code == 200, (answer.status_code, answer.text[:300])
        _ctrl_c(demo, clone, second_output)
        print(f"{broker}: welcome after {started_s:.1f} s, Ctrl-C took {stopped_s:.1f} s")
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        _kill_leftovers(clone)
