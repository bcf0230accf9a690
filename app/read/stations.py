"""What each station is doing: the one rule the API, the scan answer, the board and the
kiosk share.

- The run in progress (running or paused) wins: the station shows its work order,
  operation and piece.
- Without a run, what is selected (work order, operation, piece) shows only while
  someone is badged in: what the last student left selected is not work going on.
- Students who called the teacher (``A-AIDE``) wait since ``help_since``, while one of
  them is still badged in.
- A welding station also shows whether its device is online and whether the arc is on
  (never on while the device is offline: only its Last Will can say so).

Two statements whatever the number of stations: the stations with their open context,
run and device, then who is badged in. Nothing here writes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app.models import (
    KIOSK,
    WELDING,
    DeviceStatus,
    Operation,
    OperationRun,
    OperationType,
    Piece,
    Presence,
    Station,
    StationContext,
    Student,
    Weld,
    WorkOrder,
    current_context_id,
    iso,
    operation_code,
    table_of,
)

# A row of a Core statement, read by its columns' names.
Record = Any

STATIONS = table_of(Station)
CONTEXTS = table_of(StationContext)
PIECES = table_of(Piece)
RUNS = table_of(OperationRun)
OPERATIONS = table_of(Operation)
TYPES = table_of(OperationType)
WORK_ORDERS = table_of(WorkOrder)
PRESENCES = table_of(Presence)
STUDENTS = table_of(Student)
DEVICES = table_of(DeviceStatus)
WELDS = table_of(Weld)

ACTIVE = frozenset({"running", "paused"})

_SEL_WO = WORK_ORDERS.alias("sel_wo")
_SEL_OP = OPERATIONS.alias("sel_op")
_SEL_TYPE = TYPES.alias("sel_type")
_SEL_WO_OF_OP = WORK_ORDERS.alias("sel_op_wo")
_SEL_PIECE = PIECES.alias("sel_piece")
_RUN_PIECE = PIECES.alias("run_piece")
_RUN_OP = OPERATIONS.alias("run_op")
_RUN_TYPE = TYPES.alias("run_type")
_RUN_WO = WORK_ORDERS.alias("run_wo")
_ACTING = STATIONS.alias("acting")
_LAST_WELD = WELDS.alias("last_weld")

_latest_weld_id = (
    select(WELDS.c.id)
    .where(WELDS.c.station_id == STATIONS.c.id)
    .order_by(WELDS.c.started_at.desc(), WELDS.c.id.desc())
    .limit(1)
    .correlate(STATIONS)
    .scalar_subquery()
)

_COLUMNS = (
    STATIONS.c.id,
    STATIONS.c.code,
    STATIONS.c.name,
    STATIONS.c.kind,
    _SEL_WO.c.number.label("wo_number"),
    _SEL_WO.c.product.label("wo_product"),
    _SEL_OP.c.step.label("op_step"),
    _SEL_TYPE.c.code.label("op_type"),
    _SEL_TYPE.c.name.label("op_name"),
    _SEL_WO_OF_OP.c.number.label("op_wo"),
    _SEL_PIECE.c.code.label("piece"),
    RUNS.c.status.label("run_status"),
    RUNS.c.started_at.label("run_started_at"),
    _RUN_PIECE.c.code.label("run_piece"),
    _RUN_OP.c.step.label("run_step"),
    _RUN_TYPE.c.code.label("run_type"),
    _RUN_TYPE.c.name.label("run_name"),
    _RUN_WO.c.number.label("run_wo"),
    _RUN_WO.c.product.label("run_product"),
    _ACTING.c.code.label("acting_for"),
    CONTEXTS.c.help_since,
    DEVICES.c.state.label("device_state"),
    DEVICES.c.arc_on,
    DEVICES.c.arc_started_at,
)
_FROM = (
    STATIONS.outerjoin(CONTEXTS, CONTEXTS.c.id == current_context_id(STATIONS.c.id))
    .outerjoin(_SEL_WO, _SEL_WO.c.id == CONTEXTS.c.work_order_id)
    .outerjoin(_SEL_OP, _SEL_OP.c.id == CONTEXTS.c.operation_id)
    .outerjoin(_SEL_TYPE, _SEL_TYPE.c.id == _SEL_OP.c.operation_type_id)
    .outerjoin(_SEL_WO_OF_OP, _SEL_WO_OF_OP.c.id == _SEL_OP.c.work_order_id)
    .outerjoin(_SEL_PIECE, _SEL_PIECE.c.id == CONTEXTS.c.piece_id)
    .outerjoin(RUNS, RUNS.c.id == CONTEXTS.c.active_run_id)
    .outerjoin(_RUN_PIECE, _RUN_PIECE.c.id == RUNS.c.piece_id)
    .outerjoin(_RUN_OP, _RUN_OP.c.id == RUNS.c.operation_id)
    .outerjoin(_RUN_TYPE, _RUN_TYPE.c.id == _RUN_OP.c.operation_type_id)
    .outerjoin(_RUN_WO, _RUN_WO.c.id == _RUN_OP.c.work_order_id)
    .outerjoin(_ACTING, _ACTING.c.id == CONTEXTS.c.acting_for_id)
    .outerjoin(DEVICES, DEVICES.c.station_id == STATIONS.c.id)
)
_BY_IDS = (
    select(*_COLUMNS)
    .select_from(_FROM)
    .where(STATIONS.c.id.in_(bindparam("station_ids", expanding=True)))
)
_OF_SITE = (
    select(*_COLUMNS)
    .select_from(_FROM)
    .where(STATIONS.c.site_id == bindparam("site_id"))
    .order_by(STATIONS.c.code)
)
_DETAIL_COLUMNS = (
    _LAST_WELD.c.started_at.label("last_weld_at"),
    _LAST_WELD.c.verdict.label("last_weld_verdict"),
    _LAST_WELD.c.deviations.label("last_weld_deviations"),
)
_OF_SITE_DETAILED = (
    select(*_COLUMNS, *_DETAIL_COLUMNS)
    .select_from(_FROM.outerjoin(_LAST_WELD, _LAST_WELD.c.id == _latest_weld_id))
    .where(STATIONS.c.site_id == bindparam("site_id"))
    .order_by(STATIONS.c.code)
)
_PRESENT_AT = (
    select(PRESENCES.c.station_id, STUDENTS.c.code, STUDENTS.c.name)
    .join(STUDENTS, STUDENTS.c.id == PRESENCES.c.student_id)
    .where(
        PRESENCES.c.station_id.in_(bindparam("station_ids", expanding=True)),
        PRESENCES.c.ended_at.is_(None),
    )
    .order_by(PRESENCES.c.started_at, PRESENCES.c.id)
)
_PRESENT_OF_SITE = (
    select(PRESENCES.c.station_id, STUDENTS.c.code, STUDENTS.c.name)
    .join(STUDENTS, STUDENTS.c.id == PRESENCES.c.student_id)
    .where(STUDENTS.c.site_id == bindparam("site_id"), PRESENCES.c.ended_at.is_(None))
    .order_by(PRESENCES.c.started_at, PRESENCES.c.id)
)


def station_statuses(
    session: Session,
    site_id: int,
    station_ids: Sequence[int] | None = None,
    *,
    detail: bool = False,
    present: dict[int, list[tuple[str, str]]] | None = None,
) -> list[dict[str, Any]]:
    """Describe what stations are doing: these ones, or every station of the site by code.

    ``detail`` adds what the wall board shows of welding stations (``welding``: device
    state, arc start, last weld), with datetimes rather than the API's text. ``present``
    gives who is badged in at the stations asked for, as (code, name), when the caller
    knows already (the core, answering a scan).
    """
    conn = session.connection()
    present_rows: Any
    if station_ids is None:
        rows = conn.execute(_OF_SITE_DETAILED if detail else _OF_SITE, {"site_id": site_id})
        present_rows = conn.execute(_PRESENT_OF_SITE, {"site_id": site_id})
    else:
        wanted = sorted(set(station_ids))
        rows = conn.execute(_BY_IDS, {"station_ids": wanted})
        if present is not None and set(present) >= set(wanted):
            present_rows = [
                (station_id, code, name)
                for station_id in wanted
                for code, name in present[station_id]
            ]
        else:
            present_rows = conn.execute(_PRESENT_AT, {"station_ids": wanted})
    stations = rows.all()
    badged: dict[int, list[dict[str, str]]] = defaultdict(list)
    for station_id, code, name in present_rows:
        badged[station_id].append({"id": code, "name": name})
    described = {row.id: describe(row, badged.get(row.id, []), detail) for row in stations}
    if station_ids is None:
        return list(described.values())
    return [described[station_id] for station_id in station_ids if station_id in described]


def _operation(wo: str | None, step: int | None, type_code: str, name: str) -> dict[str, Any]:
    return {
        "code": operation_code(wo or "", step or 0),
        "step": step,
        "type": type_code,
        "name": name,
    }


def describe(row: Record, students: list[dict[str, str]], detail: bool) -> dict[str, Any]:
    """Apply the station-status rule to a station's row and who is badged in."""
    run = None
    work_order = operation = piece = None
    if row.run_status in ACTIVE:
        run = {
            "piece": row.run_piece,
            "operation": _operation(row.run_wo, row.run_step, row.run_type, row.run_name),
            "status": row.run_status,
            "started_at": iso(row.run_started_at),
        }
        work_order = {"number": row.run_wo, "product": row.run_product}
        operation = run["operation"]
        piece = row.run_piece
    elif students:
        if row.wo_number is not None:
            work_order = {"number": row.wo_number, "product": row.wo_product}
        if row.op_step is not None:
            operation = _operation(row.op_wo, row.op_step, row.op_type, row.op_name)
        piece = row.piece
    state = row.device_state or "unknown"
    welding = row.kind == WELDING or row.device_state is not None
    arc_on = bool(row.arc_on) and state != "offline"
    status: dict[str, Any] = {
        "code": row.code,
        "name": row.name,
        "kind": row.kind,
        "students": students,
        "work_order": work_order,
        "operation": operation,
        "piece": piece,
        "run": run,
        "online": (state == "online") if welding else None,
        "arc_on": arc_on if welding else None,
        # Only while someone is badged in (the last one out ends the call).
        "help_since": iso(row.help_since) if students else None,
    }
    if row.kind == KIOSK:
        status["acting_for"] = row.acting_for
    if detail:
        status["idle"] = not students and run is None and not arc_on
        status["welding"] = None
        status["help_at"] = row.help_since if students else None
        if welding:
            last = None
            if row.last_weld_at is not None:
                last = {
                    "started_at": row.last_weld_at,
                    "verdict": row.last_weld_verdict,
                    "deviations": row.last_weld_deviations
                    if isinstance(row.last_weld_deviations, list)
                    else None,
                }
            status["welding"] = {
                "state": state,
                "online": state == "online",
                "arc_on": arc_on,
                "arc_started_at": row.arc_started_at,
                "last_weld": last,
            }
    return status
