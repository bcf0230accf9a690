"""What the teacher's review pages read beyond a piece's detail: weld charts and work time.

- ``piece_charts``: for each weld of a piece's current round, its current and voltage over
  time (from the 10 Hz ``WeldSamples`` batches, thinned to a few hundred points for a cheap
  tablet), the WPS band and the stretches out of it (found on every sample, not the
  thinned ones); and the time worked on each routing step (its intervals, pauses excluded).
- ``assign_candidates``: the runs an unattributed weld most likely belongs to.
- ``unattributed_count`` for the nav; ``unattributed_weld`` (one waiting weld, even past the
  page's newest) and ``assign_students`` (the students to offer, the likeliest first) for
  the one assignment form a page renders.

Read side: plain dicts and lists, never a write, no Flask. The cost follows the piece (its
runs, welds and samples), never the years of history.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from app.models import (
    Operation,
    OperationRun,
    OperationType,
    Piece,
    ReviewPhoto,
    RunInterval,
    RunParticipant,
    Station,
    Student,
    Weld,
    WeldSamples,
    WeldStudent,
    WorkOrder,
    Wps,
    iso,
)
from app.read.pieces import weld_ref
from app.read.wording import french_order, short_name

# Points per weld chart: enough to see a wandering arc, light on a tablet's canvas.
MAX_POINTS = 600
# Two out-of-range stretches closer than this (seconds) are drawn as one.
JOIN_GAP_S = 0.25
CANDIDATES = 8


def unattributed_count(session: Session, site_id: int) -> int:
    """Count a site's welds no run was active for (the nav's « Soudures à attribuer »)."""
    return int(
        session.execute(
            select(func.count())
            .select_from(Weld)
            .where(Weld.site_id == site_id, Weld.run_id.is_(None))
        ).scalar_one()
    )


def _latest_interval_start(session: Session) -> datetime | None:
    """Return the latest start of any run interval, station by station on their index.

    The same as ``max(run_intervals.started_at)``, which would read the whole
    (station_id, started_at) index: one seek per station instead.
    """
    per_station = (
        select(func.max(RunInterval.started_at))
        .where(RunInterval.station_id == Station.id)
        .correlate(Station)
        .scalar_subquery()
    )
    latest: datetime | None = session.execute(
        select(func.max(per_station)).select_from(Station)
    ).scalar()
    return latest


def _band(wps: Wps | None) -> dict[str, Any] | None:
    if wps is None:
        return None
    return {
        "code": wps.code,
        "i": [wps.i_min_a, wps.i_max_a],
        "u": [wps.u_min_v, wps.u_max_v],
        "q": [wps.q_min_kj_mm, wps.q_max_kj_mm],
    }


def _out_stretches(
    times: list[float], currents: list[float], voltages: list[float], band: dict[str, Any] | None
) -> list[list[float]]:
    """Return the [start, end] seconds where the current or the voltage left the band."""
    if band is None or not times:
        return []
    i_low, i_high = band["i"]
    u_low, u_high = band["u"]
    stretches: list[list[float]] = []
    step = (times[1] - times[0]) if len(times) > 1 else 0.1
    for t, i, u in zip(times, currents, voltages, strict=False):
        if i_low <= i <= i_high and u_low <= u <= u_high:
            continue
        if stretches and t - stretches[-1][1] <= JOIN_GAP_S:
            stretches[-1][1] = t + step
        else:
            stretches.append([t, t + step])
    return [[round(a, 2), round(b, 2)] for a, b in stretches]


def _thin(values: list[float], every: int) -> list[float]:
    return values[::every] if every > 1 else values


def _chart(
    started_at: datetime, batches: list[WeldSamples], band: dict[str, Any] | None
) -> dict[str, Any]:
    times: list[float] = []
    currents: list[float] = []
    voltages: list[float] = []
    for batch in batches:
        offset = (batch.t0 - started_at).total_seconds()
        pairs = zip(batch.i_a or [], batch.u_v or [], strict=False)
        for k, (i, u) in enumerate(pairs):
            times.append(offset + k * float(batch.dt_ms) / 1000.0)
            currents.append(float(i))
            voltages.append(float(u))
    out = _out_stretches(times, currents, voltages, band)
    every = max(1, -(-len(times) // MAX_POINTS))
    return {
        "t": [round(t, 2) for t in _thin(times, every)],
        "i": _thin(currents, every),
        "u": _thin(voltages, every),
        "samples": len(times),
        "band": band,
        "out": out,
    }


def piece_charts(session: Session, site_id: int, code: str) -> dict[str, Any] | None:
    """Return a piece's weld charts, each step's worked time and its photos (or None).

    ``{"piece_id", "round", "worked_s": {step: seconds}, "charts": {weld_id: chart},
    "photos": [{"id", "at"}]}``, a
    chart being ``{"t": [s], "i": [A], "u": [V], "samples", "band": {"code", "i": [min,
    max], "u": [...], "q": [...]} | None, "out": [[start_s, end_s], …]}``.
    """
    piece = session.execute(
        select(Piece.id, Piece.round).where(Piece.site_id == site_id, Piece.code == code)
    ).first()
    if piece is None:
        return None
    runs = session.execute(
        select(OperationRun.id, Operation.step)
        .join(Operation, Operation.id == OperationRun.operation_id)
        .where(OperationRun.piece_id == piece.id, OperationRun.round == piece.round)
    ).all()
    step_of = {run.id: run.step for run in runs}
    worked: dict[int, float] = defaultdict(float)
    charts: dict[str, Any] = {}
    if runs:
        intervals = session.execute(
            select(RunInterval.run_id, RunInterval.started_at, RunInterval.ended_at).where(
                RunInterval.run_id.in_(list(step_of))
            )
        ).all()
        # An open interval counts up to the latest start recorded; read only when needed.
        still_open = any(interval.ended_at is None for interval in intervals)
        now = _latest_interval_start(session) if still_open else None
        for interval in intervals:
            end = interval.ended_at or now or interval.started_at
            worked[step_of[interval.run_id]] += max(
                0.0, (end - interval.started_at).total_seconds()
            )
        welds = session.execute(
            select(Weld, Wps)
            .outerjoin(Wps, Wps.id == Weld.wps_id)
            .where(Weld.run_id.in_(list(step_of)))
            .order_by(Weld.started_at, Weld.id)
        ).all()
        keys = [weld.weld_key for weld, _ in welds]
        batches: dict[str, list[WeldSamples]] = defaultdict(list)
        if keys:
            # By the weld keys alone (their index): with the site in the WHERE too, SQLite
            # would walk the site's whole (site_id, device, boot_id, seq) key instead.
            for batch in session.execute(
                select(WeldSamples)
                .where(WeldSamples.weld_key.in_(keys))
                .order_by(WeldSamples.t0, WeldSamples.seq)
            ).scalars():
                if batch.site_id == site_id:
                    batches[batch.weld_key].append(batch)
        for weld, wps in welds:
            charts[weld.weld_key] = _chart(weld.started_at, batches[weld.weld_key], _band(wps))
    photos = [
        {"id": row.id, "at": iso(row.taken_at)}
        for row in session.execute(
            select(ReviewPhoto.id, ReviewPhoto.taken_at)
            .where(ReviewPhoto.site_id == site_id, ReviewPhoto.piece_id == piece.id)
            .order_by(ReviewPhoto.taken_at, ReviewPhoto.id)
        )
    ]
    return {
        "piece_id": piece.id,
        "round": piece.round,
        "worked_s": dict(worked),
        "charts": charts,
        "photos": photos,
    }


def assign_candidates(session: Session, site_id: int, weld_id: str) -> list[dict[str, Any]]:
    """List the runs of the weld's station an unattributed weld may belong to, nearest first.

    Each ``{"piece", "step", "operation", "work_order", "station", "started_at",
    "students": [{"code", "display_name"}]}``; a teacher may still type another piece.
    """
    weld = session.execute(
        select(Weld.started_at, Weld.station_id).where(
            Weld.site_id == site_id, Weld.weld_key == weld_id
        )
    ).first()
    if weld is None:
        return []
    base = (
        select(
            OperationRun.id,
            OperationRun.started_at,
            OperationRun.finished_at,
            Piece.code,
            Operation.step,
            OperationType.name,
            WorkOrder.number,
            Station.code.label("station"),
        )
        .join(Piece, Piece.id == OperationRun.piece_id)
        .join(Operation, Operation.id == OperationRun.operation_id)
        .join(OperationType, OperationType.id == Operation.operation_type_id)
        .join(WorkOrder, WorkOrder.id == Piece.work_order_id)
        .join(Station, Station.id == OperationRun.station_id)
        .where(
            Piece.site_id == site_id,
            OperationRun.round == Piece.round,
            OperationRun.station_id == weld.station_id,
        )
    )
    # The run begun just before the arc struck (the badge was forgotten at a pause), then
    # the ones begun just after (the weld came before the scan): nearest first.
    before = session.execute(
        base.where(OperationRun.started_at <= weld.started_at)
        .order_by(OperationRun.started_at.desc(), OperationRun.id.desc())
        .limit(CANDIDATES)
    ).all()
    after = session.execute(
        base.where(OperationRun.started_at > weld.started_at)
        .order_by(OperationRun.started_at, OperationRun.id)
        .limit(CANDIDATES // 2)
    ).all()

    def distance(row: Any) -> float:
        """Seconds between the weld and the run (0 when the weld falls within it)."""
        struck: datetime = weld.started_at
        begun: datetime = row.started_at
        if begun > struck:
            return (begun - struck).total_seconds()
        end: datetime = row.finished_at or struck
        return max(0.0, (struck - end).total_seconds())

    rows = sorted([*before, *after], key=distance)[:CANDIDATES]
    students: dict[int, list[dict[str, str]]] = defaultdict(list)
    if rows:
        for link in session.execute(
            select(RunParticipant.run_id, Student.code, Student.name)
            .join(Student, Student.id == RunParticipant.student_id)
            .where(RunParticipant.run_id.in_([row.id for row in rows]))
            .order_by(RunParticipant.joined_at)
        ):
            students[link.run_id].append({"code": link.code, "display_name": short_name(link.name)})
    return [
        {
            "piece": row.code,
            "step": row.step,
            "operation": row.name,
            "work_order": row.number,
            "station": row.station,
            "started_at": iso(row.started_at),
            "students": students[row.id],
        }
        for row in rows
    ]


def unattributed_weld(session: Session, site_id: int, weld_id: str) -> dict[str, Any] | None:
    """Describe one of a site's welds still waiting for a run (``weld_ref``), else None."""
    weld = session.execute(
        select(Weld)
        .where(Weld.site_id == site_id, Weld.weld_key == weld_id, Weld.run_id.is_(None))
        .options(
            selectinload(Weld.students).selectinload(WeldStudent.student),
            selectinload(Weld.station),
            selectinload(Weld.wps),
        )
    ).scalar_one_or_none()
    return weld_ref(weld) if weld is not None else None


def assign_students(
    session: Session,
    site_id: int,
    today: date,
    first: list[str],
) -> dict[str, list[dict[str, str]]]:
    """Split the students to offer for a weld: ``first`` (badged at the station, in the
    nearby runs), in that order, then the site's other students still at school.

    ``{"near": [{"code", "display_name"}], "others": [...]}``. Whoever left (inactive, or
    past their ``left_on``) is offered only when among ``first``: the list follows the
    classes of today, never the years of enrolments.
    """
    still_here = or_(Student.left_on.is_(None), Student.left_on >= today)
    rows = session.execute(
        select(Student.code, Student.name).where(
            Student.site_id == site_id,
            or_((Student.active.is_(True)) & still_here, Student.code.in_(first or [""])),
        )
    ).all()
    named = {row.code: {"code": row.code, "display_name": short_name(row.name)} for row in rows}
    near = [named[code] for code in dict.fromkeys(first) if code in named]
    chosen = {student["code"] for student in near}
    others = [student for code, student in named.items() if code not in chosen]
    others.sort(key=lambda item: french_order(item["display_name"]))
    return {"near": near, "others": others}
