"""Day after day: fresh labels within each order's quantity, reserved codes never touched."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from app.extensions import db
from app.models import Piece, WorkOrder
from devices.sim.counter import PieceCounter
from devices.sim.readers import ScanClient
from devices.sim.school import load_school
from devices.sim.shift import ShiftSettings, plan_shift
from devices.simulate import _passwords, _release_stations
from tests import factories
from tests.devices.test_simulate import DEMO_SCHOOL, MINIMAL_SCHOOL, REPO_ROOT, plan_violations

# What the README's try-outs use in the demo school (see demo/settings.py).
README_CODES = {"E2026-099", "B-0099", "ST-SOUD-05", "ws05", "OF-2026-0090"}


def demo_day(**knobs: Any) -> ShiftSettings:
    """Return the settings of a day as `make demo` plays it (6 students at ×150)."""
    return ShiftSettings(students=6, speed=150.0, day_s=7 * 3600.0, **knobs)


def test_reserved_students_stations_and_orders_are_never_planned():
    whole = load_school(DEMO_SCHOOL)
    assert whole.names() >= README_CODES
    school = whole.without(README_CODES)
    for seed in range(1, 6):
        plan = plan_shift(
            school, ShiftSettings(seed=seed, pieces_per_order=2, students=len(whole.students))
        )
        assert plan_violations(school, plan) == []
        used = {a.code for a in plan.actions} | {a.station for a in plan.actions}
        used |= {a.weld.device for a in plan.actions if a.weld}
        used |= {a.student_id for a in plan.actions}
        assert used & README_CODES == set()
        assert "OF-2026-0090" not in plan.pieces


def test_a_reserved_label_is_skipped_by_the_roll():
    school = load_school(MINIMAL_SCHOOL)
    plan = plan_shift(
        school,
        ShiftSettings(seed=1, pieces_per_order=2, reserved_labels=frozenset({"P-2026-000002"})),
    )
    assert plan.pieces["OF-2026-0001"] == ("P-2026-000001", "P-2026-000003")
    assert plan.pieces["OF-2026-0002"] == ("P-2026-000004", "P-2026-000005")


def test_a_day_gives_no_order_more_than_it_has_left_and_spreads_over_every_order():
    school = load_school(DEMO_SCHOOL).without(README_CODES)
    left = {w.number: 2 for w in school.work_orders} | {"OF-2026-0004": 0}
    plan = plan_shift(school, demo_day(seed=4, pieces_left=left))
    assert plan.pieces["OF-2026-0004"] == ()
    assert all(len(labels) <= 2 for labels in plan.pieces.values())
    started = Counter(a.work_order for a in plan.actions if a.note == "piece")
    # Taking the orders in turn, the day works on most of them, not on the first alone.
    assert len(started) >= 5
    welded_on = {a.weld.device for a in plan.actions if a.weld}
    assert welded_on >= {"ws01", "ws02", "ws03"}


def test_the_counter_counts_a_day_as_printed_then_as_scanned_and_survives_a_restart(tmp_path):
    path = tmp_path / "sim.json"
    counter = PieceCounter.load(path, first_piece=7)
    assert (counter.next_piece, counter.used) == (7, {})
    labels = {"OF-A": ("P-2026-000007", "P-2026-000008"), "OF-B": ("P-2026-000009",)}
    counter.hand_out(labels)
    # Killed now, a restart neither reuses a label nor counts fewer pieces than may exist.
    reread = PieceCounter.load(path)
    assert (reread.next_piece, reread.used) == (10, {"OF-A": 2, "OF-B": 1})
    counter.settle(labels, scanned=["P-2026-000007"], full=["OF-B"], quantities={"OF-B": 5})
    reread = PieceCounter.load(path)
    assert (reread.next_piece, reread.used) == (10, {"OF-A": 1, "OF-B": 5})
    path.write_text("{broken")
    assert PieceCounter.load(path, first_piece=3).next_piece == 3


def test_a_hundred_demo_days_never_repeat_a_label_nor_pass_a_quantity():
    school = load_school(DEMO_SCHOOL).without(README_CODES)
    quantities = {w.number: 3 for w in school.work_orders}
    small = replace(school, work_orders=tuple(replace(w, quantity=3) for w in school.work_orders))
    counter = PieceCounter()
    seen: set[str] = set()
    for day in range(1, 101):
        plan = plan_shift(
            small,
            demo_day(
                seed=day,
                first_piece=counter.next_piece,
                pieces_left=counter.left(small),
                pieces_per_order=2,
            ),
        )
        counter.hand_out(plan.pieces)
        scanned = {a.code for a in plan.actions if a.note == "piece" and a.code}
        counter.settle(plan.pieces, scanned=scanned)
        assert not scanned & seen
        seen |= scanned
        assert all(counter.used[n] <= q for n, q in quantities.items() if n in counter.used)
    assert counter.left(small) == dict.fromkeys(quantities, 0)


def test_station_passwords_are_read_as_device_equals_password():
    assert _passwords("ws01=a-b_c,ws02=Zz9") == {"ws01": "a-b_c", "ws02": "Zz9"}
    assert _passwords(None) == {}
    with pytest.raises(ValueError, match="poste=mot-de-passe"):
        _passwords("ws01")


@pytest.mark.slow
def test_a_day_begins_by_badging_out_who_an_earlier_run_left_at_its_stations(
    app, school, live_server
):
    token = factories.make_token(None, read=True, name="sim-release")
    with ScanClient(live_server.url, token, event_prefix="left") as scans:
        assert scans.scan("B-0001", station="ST-PLASMA").accepted
        _release_stations(live_server.url, token, load_school(MINIMAL_SCHOOL), scans)
    answer = requests.get(
        f"{live_server.url}/api/v1/stations",
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert [s["code"] for s in answer.json()["stations"] if s["students"]] == []


@pytest.mark.slow
def test_looping_days_keep_fresh_labels_within_quantities_across_a_restart(
    app, school, live_server, tmp_path
):
    token = factories.make_token(None, read=True, name="sim-loop")
    state = tmp_path / "sim.json"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "ATELIER_TOKEN": token}
    env.pop("ATELIER_MQTT_URL", None)
    command = [
        sys.executable,
        "-m",
        "devices.simulate",
        "shift",
        "--server",
        live_server.url,
        "--school",
        str(MINIMAL_SCHOOL),
        "--speed",
        "900",
        "--students",
        "2",
        "--day-hours",
        "1.0",
        "--arc-s",
        "2,2.5",
        "--loop",
        "--day-gap-s",
        "0",
        "--pieces-per-order",
        "2",
        "--state",
        str(state),
        "--wait-s",
        "10",
    ]

    def days_played(count: int, timeout_s: float = 60.0) -> subprocess.CompletedProcess[str]:
        target = _days(state) + count
        simulator = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                if _days(state) >= target:
                    break
                time.sleep(0.2)
        finally:
            simulator.send_signal(signal.SIGTERM)
            out, err = simulator.communicate(timeout=30)
        assert simulator.returncode == 0, err
        return subprocess.CompletedProcess(command, 0, out, err)

    first = days_played(2)
    assert "Fin de journée n° 1" in first.stdout
    second = days_played(2)
    assert "Journée simulée n° 1" in second.stdout
    # The second run goes on where the first stopped: no label refused as already used.
    assert "déjà terminée" not in second.stderr

    db.session.expire_all()
    counts = dict(
        db.session.execute(
            select(WorkOrder.number, func.count(Piece.id))
            .join(Piece, Piece.work_order_id == WorkOrder.id)
            .group_by(WorkOrder.number)
        ).all()
    )
    saved = json.loads(state.read_text())
    assert sum(counts.values()) > 0
    assert counts.get("OF-2026-0001", 0) <= 4
    assert counts.get("OF-2026-0002", 0) <= 10
    assert all(saved["used"][number] >= made for number, made in counts.items())


def _days(state: Path) -> int:
    """Return how many days a state file has seen handed out (one per hand-out of labels)."""
    try:
        data = json.loads(state.read_text())
    except (OSError, ValueError):
        return 0
    return int(data.get("days", 0))
