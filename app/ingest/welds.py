"""Welds: who made them, against which WPS, with what heat input — built in one place.

A weld belongs to whoever was badged in at its station, on the run active there, at its
``ts_start`` (docs/contract.md §6); with nobody or nothing active it waits, unattributed,
for a teacher to assign it (``AssignWeld``), and then counts exactly as if it had been
attributed live: the same verdict, the same evidence.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ARRAY, Connection, String, Table, and_, any_, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from app.ingest.core import Done, Refusal, Scope, handles, insert_for
from app.ingest.events import ArcEnd, AssignWeld
from app.ingest.evidence import Grant, grant_evidence
from app.models import (
    Operation,
    OperationRun,
    OperationType,
    Piece,
    Presence,
    RunInterval,
    Student,
    Weld,
    WeldStudent,
    WorkOrder,
    Wps,
    table_of,
)

# A row of a Core statement, read by its columns' names.
Record = Any

WELDS = table_of(Weld)
WELD_STUDENTS = table_of(WeldStudent)
RUNS = table_of(OperationRun)
INTERVALS = table_of(RunInterval)
PRESENCES = table_of(Presence)
OPERATIONS = table_of(Operation)
TYPES = table_of(OperationType)
WPS = table_of(Wps)
PIECES = table_of(Piece)
WORK_ORDERS = table_of(WorkOrder)
STUDENTS = table_of(Student)

# EN 1011-1 thermal efficiency factors k by ISO 4063 process (docs/contract.md §6).
K_FACTORS = {
    "111": 0.8,
    "114": 0.8,
    "131": 0.8,
    "135": 0.8,
    "136": 0.8,
    "141": 0.6,
    "15": 0.6,
    "121": 1.0,
}


class WpsRanges(Protocol):
    """What a verdict needs of a WPS: a ``Wps`` row or instance has it."""

    @property
    def process(self) -> str: ...
    @property
    def i_min_a(self) -> float: ...
    @property
    def i_max_a(self) -> float: ...
    @property
    def u_min_v(self) -> float: ...
    @property
    def u_max_v(self) -> float: ...
    @property
    def q_min_kj_mm(self) -> float | None: ...
    @property
    def q_max_kj_mm(self) -> float | None: ...


def heat_input(
    process: str | None, energy_j: float | None, length_mm: float | None
) -> tuple[float | None, float | None]:
    """Return (heat input in kJ/mm, k) by EN 1011-1, or Nones when it cannot be known."""
    k = K_FACTORS.get(process or "")
    if k is None or energy_j is None or not length_mm:
        return None, k
    return k * energy_j / length_mm / 1000.0, k


def wps_verdict(
    wps: WpsRanges | None,
    process: str | None,
    i_mean: float,
    u_mean: float,
    q_kj_mm: float | None,
) -> tuple[str, list[dict[str, Any]]]:
    """Compare a weld's means (and heat input when known) with the WPS ranges."""
    if wps is None:
        return "no_wps", []
    deviations: list[dict[str, Any]] = []
    if process is not None and process != wps.process:
        deviations.append({"field": "process", "value": process, "expected": wps.process})
    q_range = (
        (wps.q_min_kj_mm, wps.q_max_kj_mm)
        if wps.q_min_kj_mm is not None and wps.q_max_kj_mm is not None
        else None
    )
    checks: list[tuple[str, float | None, tuple[float, float] | None]] = [
        ("i_a", i_mean, (wps.i_min_a, wps.i_max_a)),
        ("u_v", u_mean, (wps.u_min_v, wps.u_max_v)),
        ("q_kj_mm", q_kj_mm, q_range),
    ]
    for name, value, bounds in checks:
        if value is None or bounds is None:
            continue
        low, high = bounds
        if value < low or value > high:
            off = value - low if value < low else value - high
            deviations.append(
                {
                    "field": name,
                    "value": round(value, 3),
                    "min": low,
                    "max": high,
                    "deviation": round(off, 3),
                }
            )
    return ("out_of_range" if deviations else "in_range"), deviations


def judge(
    run: Any | None,
    /,
    process: str | None,
    i_mean: float,
    u_mean: float,
    *,
    energy_j: float | None,
    length_mm: float | None,
) -> dict[str, Any]:
    """Return a weld's process, WPS, heat input and verdict on the run it belongs to.

    ``run`` is a row of the run's operation (``op_process`` and the WPS columns), or None.
    """
    process = process or (run.op_process if run is not None else None)
    wps = run if run is not None and run.wps_id is not None else None
    q, k = heat_input(process, energy_j, length_mm)
    verdict, deviations = wps_verdict(wps, process, i_mean, u_mean, q)
    return {
        "process": process,
        "wps_id": wps.wps_id if wps is not None else None,
        "heat_input_kj_mm": q,
        "k_factor": k,
        "verdict": verdict,
        "deviations": deviations or None,
    }


# The run of each interval, with its operation's process and WPS ranges.
_RUN_COLUMNS = (
    RUNS.c.id,
    RUNS.c.operation_id,
    TYPES.c.process.label("op_process"),
    OPERATIONS.c.wps_id,
    WPS.c.process,
    WPS.c.i_min_a,
    WPS.c.i_max_a,
    WPS.c.u_min_v,
    WPS.c.u_max_v,
    WPS.c.q_min_kj_mm,
    WPS.c.q_max_kj_mm,
)
_RUN_FROM = (
    RUNS.join(OPERATIONS, OPERATIONS.c.id == RUNS.c.operation_id)
    .join(TYPES, TYPES.c.id == OPERATIONS.c.operation_type_id)
    .outerjoin(WPS, WPS.c.id == OPERATIONS.c.wps_id)
)


@dataclass
class WorkAt:
    """Who worked on what at some stations, over a span of time (one query each)."""

    intervals: dict[int, list[tuple[datetime, datetime | None, Record]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    presences: dict[int, list[tuple[datetime, datetime | None, int]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    @classmethod
    def load(
        cls, conn: Connection, station_ids: Sequence[int], first: datetime, last: datetime
    ) -> WorkAt:
        """Read the runs worked on and the presences at the stations between two instants."""
        work = cls()
        ids = sorted(set(station_ids))
        for row in conn.execute(
            select(
                INTERVALS.c.station_id,
                INTERVALS.c.started_at.label("from_at"),
                INTERVALS.c.ended_at.label("to_at"),
                *_RUN_COLUMNS,
            )
            .select_from(INTERVALS.join(_RUN_FROM, RUNS.c.id == INTERVALS.c.run_id))
            .where(
                INTERVALS.c.station_id.in_(ids),
                INTERVALS.c.started_at <= last,
                INTERVALS.c.ended_at.is_(None) | (INTERVALS.c.ended_at > first),
            )
            .order_by(INTERVALS.c.started_at)
        ):
            work.intervals[row.station_id].append((row.from_at, row.to_at, row))
        for presence in conn.execute(
            select(
                PRESENCES.c.station_id,
                PRESENCES.c.started_at,
                PRESENCES.c.ended_at,
                PRESENCES.c.student_id,
            )
            .where(
                PRESENCES.c.station_id.in_(ids),
                PRESENCES.c.started_at <= last,
                PRESENCES.c.ended_at.is_(None) | (PRESENCES.c.ended_at > first),
            )
            .order_by(PRESENCES.c.started_at)
        ):
            work.presences[presence.station_id].append(
                (presence.started_at, presence.ended_at, presence.student_id)
            )
        return work

    def at(self, station_id: int, moment: datetime) -> tuple[Record | None, list[int]]:
        """Return the run active and the students present at a station at a moment."""
        run = None
        for started, ended, candidate in self.intervals.get(station_id, []):
            if started <= moment and (ended is None or moment < ended):
                run = candidate
        students = sorted(
            {
                student
                for started, ended, student in self.presences.get(station_id, [])
                if started <= moment and (ended is None or moment < ended)
            }
        )
        return run, students


def insert_new(
    conn: Connection,
    table: Table,
    key: str,
    rows: list[dict[str, Any]],
    conflict: list[str],
    *,
    scope: Any,
) -> dict[str, int]:
    """Insert the rows whose unique key is new; return {key: id} of those inserted.

    ``INSERT … ON CONFLICT DO NOTHING`` keeps the database the judge of uniqueness;
    ``scope`` restricts the key's look-up to the rows' site. On SQLite one multi-row
    statement with RETURNING does it all. On PostgreSQL that same statement is rebuilt (and
    reparsed by the driver) for every batch size, which costs more than the insert: there,
    the known keys are read with one array parameter, the new rows go through the driver's
    pipelined executemany, and their ids are read back.
    """
    if conn.dialect.name != "postgresql":
        returned = conn.execute(
            sqlite.insert(table)
            .on_conflict_do_nothing(index_elements=conflict)
            .returning(table.c[key], table.c.id),
            rows,
        ).all()
        return {row[0]: row[1] for row in returned}
    keys = sorted({row[key] for row in rows})
    wanted = and_(scope, table.c[key] == any_(bindparam("keys", type_=ARRAY(String))))
    known = {value for (value,) in conn.execute(select(table.c[key]).where(wanted), {"keys": keys})}
    fresh = [row for row in rows if row[key] not in known]
    if not fresh:
        return {}
    conn.execute(postgresql.insert(table).on_conflict_do_nothing(index_elements=conflict), fresh)
    fresh_keys = sorted({row[key] for row in fresh})
    return dict(
        conn.execute(select(table.c[key], table.c.id).where(wanted), {"keys": fresh_keys}).all()
    )


@dataclass(frozen=True)
class WeldReport:
    """An arc_end to record: the station it came from and the event that carried it."""

    station_id: int
    event_id: int
    message: ArcEnd


def record_welds(
    conn: Connection, site_id: int, reports: Sequence[WeldReport], now: datetime
) -> tuple[int, int]:
    """Record new welds, attributed where a run and students were at their station.

    Return (welds recorded, welds attributed); a weld id seen before is one weld.
    """
    if not reports:
        return 0, 0
    work = WorkAt.load(
        conn,
        [report.station_id for report in reports],
        min(report.message.ts_start for report in reports),
        max(report.message.ts_start for report in reports),
    )
    records = []
    for report in reports:
        msg = report.message
        run, students = work.at(report.station_id, msg.ts_start)
        attributed = run is not None and bool(students)
        record = {
            "site_id": site_id,
            "weld_key": msg.weld_id,
            "station_id": report.station_id,
            "device": msg.device,
            "boot_id": msg.boot_id,
            "started_at": msg.ts_start,
            "ended_at": msg.ts_end,
            "received_at": now,
            "arc_s": msg.arc_s,
            "i_mean_a": msg.i_mean,
            "i_min_a": msg.i_min,
            "i_max_a": msg.i_max,
            "u_mean_v": msg.u_mean,
            "u_min_v": msg.u_min,
            "u_max_v": msg.u_max,
            "wfs_m_min": msg.wfs_m_min,
            "gas_l_min": msg.gas_l_min,
            "energy_j": msg.energy_j,
            "length_mm": msg.length_mm,
            **judge(
                run,
                msg.process,
                msg.i_mean,
                msg.u_mean,
                energy_j=msg.energy_j,
                length_mm=msg.length_mm,
            ),
            "run_id": run.id if attributed and run is not None else None,
            "attributed_at": now if attributed else None,
            "attributed_by_id": None,
            "event_id": report.event_id,
            "attributed_event_id": None,
        }
        records.append((record, students if attributed else [], run if attributed else None))
    inserted = insert_new(
        conn,
        WELDS,
        "weld_key",
        [record for record, _, _ in records],
        ["site_id", "weld_key"],
        scope=WELDS.c.site_id == site_id,
    )
    links: list[dict[str, Any]] = []
    grants: list[Grant] = []
    welds = attributed_count = 0
    for record, students, run in records:
        weld_id = inserted.get(str(record["weld_key"]))
        if weld_id is None:
            continue  # the same weld_id came before under another seq: one weld
        welds += 1
        if run is None:
            continue
        attributed_count += 1
        links += [{"weld_id": weld_id, "student_id": student} for student in students]
        grants.append(Grant(run.id, record["event_id"], tuple(students)))
    if links:
        conn.execute(
            insert_for(conn.dialect.name)(WELD_STUDENTS).on_conflict_do_nothing(
                index_elements=["weld_id", "student_id"]
            ),
            links,
        )
    grant_evidence(conn, grants, now)
    return welds, attributed_count


@handles(AssignWeld)
def assign_weld(scope: Scope, assignment: AssignWeld) -> Done:
    """Attribute an unattributed weld to a piece's operation and its students."""
    conn = scope.conn
    weld = conn.execute(
        select(WELDS).where(
            WELDS.c.site_id == scope.site_id, WELDS.c.weld_key == assignment.weld_id
        )
    ).first()
    if weld is None:
        raise Refusal("not_found", f"Soudure {assignment.weld_id} inconnue.", "unknown weld")
    if weld.run_id is not None:
        raise Refusal(
            "already_attributed",
            f"La soudure {assignment.weld_id} est déjà attribuée.",
            f"weld {assignment.weld_id} is attributed to run {weld.run_id}",
        )
    run = conn.execute(
        select(*_RUN_COLUMNS)
        .select_from(_RUN_FROM.join(PIECES, PIECES.c.id == RUNS.c.piece_id))
        .where(
            PIECES.c.site_id == scope.site_id,
            PIECES.c.code == assignment.piece_code,
            OPERATIONS.c.step == assignment.step,
        )
    ).first()
    if run is None:
        raise Refusal(
            "not_found",
            f"La pièce {assignment.piece_code} n'a pas d'opération {assignment.step:02d} "
            "commencée.",
            f"no run of step {assignment.step} on {assignment.piece_code}",
        )
    codes = sorted(set(assignment.student_codes))
    students = dict(
        conn.execute(
            select(STUDENTS.c.code, STUDENTS.c.id).where(
                STUDENTS.c.site_id == scope.site_id, STUDENTS.c.code.in_(codes)
            )
        ).all()
    )
    unknown = [code for code in codes if code not in students]
    if not codes or unknown:
        raise Refusal(
            "unknown_student",
            "Choisissez au moins un élève connu"
            + (f" ({', '.join(unknown)} inconnu)." if unknown else "."),
            f"unknown students {unknown}",
        )
    verdict = judge(
        run,
        weld.process,
        weld.i_mean_a,
        weld.u_mean_v,
        energy_j=weld.energy_j,
        length_mm=weld.length_mm,
    )
    scope.write(
        update(WELDS)
        .where(WELDS.c.id == weld.id, WELDS.c.run_id.is_(None))
        .values(
            run_id=run.id,
            attributed_at=scope.now,
            attributed_by_id=scope.origin.actor.user_id,
            attributed_event_id=scope.event_id,
            **verdict,
        )
    )
    scope.write(
        insert_for(conn.dialect.name)(WELD_STUDENTS).on_conflict_do_nothing(
            index_elements=["weld_id", "student_id"]
        ),
        [{"weld_id": weld.id, "student_id": students[code]} for code in codes],
    )
    grant_evidence(
        conn, [Grant(run.id, scope.event_id, tuple(students[code] for code in codes))], scope.now
    )
    return Done(
        f"Soudure {assignment.weld_id} attribuée à {assignment.piece_code}.",
        {"weld_id": assignment.weld_id, "verdict": verdict["verdict"]},
    )
