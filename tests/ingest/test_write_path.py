"""Every write goes through one write transaction: nothing collides with the scans.

Before, only the ingest core took SQLite's write lock: a first-sign-in password change
answered "database is locked" two times in three in ``make demo``. Here a password change,
an import from the command line and 200 scans a second, all at once, through the real
server (gunicorn, 2 workers) and the real CLI: no error, and exact counts.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from app.extensions import db
from app.models import Event, Piece, Presence
from tests.factories import MINIMAL_SCHOOL, load_school, make_staff, make_token
from tests.support.server import GunicornServer

ROOT = Path(__file__).resolve().parents[2]
STATIONS = 10
SCANS_PER_S = 200
DURATION_S = 5.0
PASSWORD = "un-mot-de-passe-long"


def busy_school() -> str:
    """The minimal school, with ten more stations, twenty students and a large order."""
    text = MINIMAL_SCHOOL.read_text("utf-8")
    stations = "".join(
        f'  - {{code: ST-BUSY-{n:02d}, name: "Établi {n}", kind: assembly}}\n'
        for n in range(STATIONS)
    )
    students = "".join(
        f'  - {{id: E-BUSY-{n:02d}, name: "Élève {n}", framework: cap-rics, '
        f'badges: ["B-{500 + n}"]}}\n'
        for n in range(STATIONS)
    )
    order = (
        "  - number: OF-2026-0500\n    customer: C-TEST\n    product: Support\n"
        "    quantity: 5000\n    operations:\n      - {step: 10, type: CONTROLE}\n"
    )
    return (
        text.replace("stations:\n", "stations:\n" + stations)
        .replace("students:\n", "students:\n" + students)
        .replace("work_orders:\n", "work_orders:\n" + order)
    )


def station_codes(number: int, count: int) -> list[str]:
    """A station's scans: the student badges in, then piece after piece is checked."""
    codes = [f"B-{500 + number}", "OF-2026-0500-10"]
    piece = 0
    while len(codes) < count:
        piece += 1
        codes += [f"P-2026-{number:02d}{piece:04d}", "A-FIN"]
    return codes[:count]


def form_token(browser: requests.Session, url: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', browser.get(url, timeout=30).text)
    assert match is not None
    return match.group(1)


@pytest.mark.slow
def test_a_password_change_an_import_and_200_scans_a_second_at_once(
    live_server: GunicornServer, database_url: str, tmp_path: Path, school: None
) -> None:
    load_school(text=busy_school())
    make_staff(must_change=True)
    tokens = [make_token(f"ST-BUSY-{n:02d}") for n in range(STATIONS)]
    per_station = int(SCANS_PER_S * DURATION_S / STATIONS)
    statuses: list[int] = []
    lock = threading.Lock()
    start = time.monotonic() + 0.5

    def scan(number: int) -> None:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {tokens[number]}"
            for index, code in enumerate(station_codes(number, per_station)):
                # Open loop: each scan at its time, whatever the answers before it took.
                delay = start + index * STATIONS / SCANS_PER_S - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                response = session.post(
                    f"{live_server.url}/api/v1/scans",
                    json={"event_id": f"busy-{number}-{index}", "code": code},
                    timeout=30,
                )
                with lock:
                    statuses.append(response.status_code)

    def change_password() -> int:
        base = live_server.url
        with requests.Session() as browser:
            time.sleep(max(0.0, start + 1.0 - time.monotonic()))
            browser.post(
                f"{base}/connexion",
                data={
                    "email": "prof@example.org",
                    "password": PASSWORD,
                    "csrf_token": form_token(browser, f"{base}/connexion"),
                },
                timeout=30,
            )
            new = "une-autre-phrase-solide"
            answer = browser.post(
                f"{base}/mot-de-passe",
                data={
                    "current": PASSWORD,
                    "new": new,
                    "confirm": new,
                    "csrf_token": form_token(browser, f"{base}/mot-de-passe"),
                },
                allow_redirects=False,
                timeout=30,
            )
            return answer.status_code

    school_file = tmp_path / "ecole.yaml"
    school_file.write_text(busy_school().replace("Lucas M.", "Lucas P."), encoding="utf-8")
    env = {
        **os.environ,
        "ATELIER_DATABASE_URL": database_url,
        "ATELIER_SECRET_KEY": "test-secret-key",
    }
    results: dict[str, int] = {}

    def import_file() -> None:
        time.sleep(max(0.0, start + 2.0 - time.monotonic()))
        done = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", "data", "import", str(school_file)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        results["import"] = done.returncode
        if done.returncode != 0:
            print(done.stderr[-2000:])

    threads = [threading.Thread(target=scan, args=(n,)) for n in range(STATIONS)]
    threads.append(threading.Thread(target=import_file))
    password = threading.Thread(target=lambda: results.update(password=change_password()))
    threads.append(password)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert results["password"] == 302 and results["import"] == 0
    assert sorted(set(statuses)) == [201], sorted(set(statuses))
    assert len(statuses) == per_station * STATIONS
    log = live_server.log_path.read_text(errors="replace")
    assert "database is locked" not in log and "Traceback" not in log
    db.session.commit()
    scans = db.session.execute(
        select(func.count()).select_from(Event).where(Event.kind == "scan")
    ).scalar_one()
    assert scans == per_station * STATIONS
    pieces = db.session.execute(
        select(func.count()).select_from(Piece).where(Piece.code.like("P-2026-%"))
    ).scalar_one()
    assert pieces == sum(len(set(station_codes(n, per_station)[2::2])) for n in range(STATIONS))
    assert (
        db.session.execute(
            select(func.count()).select_from(Presence).where(Presence.ended_at.is_(None))
        ).scalar_one()
        == STATIONS
    )
    kinds = set(db.session.execute(select(Event.kind).where(Event.status == "accepted")).scalars())
    assert {"data.import", "staff.password", "scan"} <= kinds
