"""What the workshop board shows, read in a fixed handful of statements.

``board_snapshot()`` costs the same number of statements whatever the number of
stations, students, welds or pieces (``tests/board/test_snapshot.py`` counts them):

1. the catalog (stations, students, work orders, operations, WPS): kept in process,
   its version is checked at most every ``catalog.CHECK_INTERVAL_S``;
2. every station's state with its active run and pieces (one joined statement);
3. every open presence (the partial unique index on open presences serves it);
4. every device status;
5. the last weld of each station (a correlated ``LIMIT 1`` on ``ix_welds_station_started``);
6. the latest welds, and 7. their students (one ``IN``);
8. the pieces finished today, and 9. the pieces awaiting review with their total
   (a window count).

Nothing here writes: a station without a state row simply has nothing going on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from app.board.display import (
    VERDICT_NO_WPS,
    french_order,
    process_label,
    short_name,
    verdict_label,
)
from app.extensions import db
from app.ingest import catalog as catalog_module
from app.ingest.catalog import Catalog
from app.models import (
    DeviceStatus,
    OperationRun,
    Piece,
    Presence,
    Station,
    StationState,
    Weld,
    WeldStudent,
    utcnow,
)

WORKSHOP_TIMEZONE = "Europe/Paris"
LATEST_WELDS = 8
AWAITING_SHOWN = 5
# Kiosks act for other stations: what is done through them shows on those stations.
NOT_ON_BOARD = frozenset({"kiosk"})
WELDING = "welding"
ACTIVE_RUN_STATUSES = frozenset({"running", "paused"})
DONE_STATUSES = ("awaiting_review", "reviewed")


@dataclass(frozen=True)
class WorkOrderRef:
    """A work order as the board names it."""

    number: str
    product: str


@dataclass(frozen=True)
class OperationRef:
    """A routing step as the board names it."""

    step: int
    name: str


@dataclass(frozen=True)
class Verdict:
    """A weld's WPS verdict: its kind (``in_range``…) and its French label."""

    kind: str
    label: str


@dataclass(frozen=True)
class LastWeld:
    """The last weld made at a station: when, and its verdict."""

    started_at: datetime
    verdict: Verdict


@dataclass(frozen=True)
class WeldingState:
    """A welding station's device: online or not, arc on or not, and its last weld."""

    state: str
    arc_on: bool
    arc_started_at: datetime | None
    last_weld: LastWeld | None

    @property
    def online(self) -> bool:
        """Tell whether the station's device said it is online."""
        return self.state == "online"


@dataclass(frozen=True)
class StationCard:
    """One station of the board: who is there and what is going on."""

    code: str
    name: str
    kind: str
    students: tuple[str, ...]
    work_order: WorkOrderRef | None
    operation: OperationRef | None
    piece: str | None
    run_status: str | None
    welding: WeldingState | None

    @property
    def arc_on(self) -> bool:
        """Tell whether the arc is struck at this station right now."""
        # Only a Last Will (offline) makes an arc_on flag meaningless; the worker clears it then.
        return self.welding is not None and self.welding.arc_on and self.welding.state != "offline"

    @property
    def idle(self) -> bool:
        """Tell whether nothing at all is going on at the station."""
        return not self.students and self.run_status is None and not self.arc_on


@dataclass(frozen=True)
class WeldLine:
    """A recent weld: when, where, who, how, and its verdict."""

    started_at: datetime
    station: str
    students: tuple[str, ...]
    process: str | None
    arc_s: float
    i_mean_a: float
    u_mean_v: float
    verdict: Verdict
    attributed: bool


@dataclass(frozen=True)
class PieceLine:
    """A finished piece: its label code, product and completion time."""

    code: str
    product: str
    completed_at: datetime | None


@dataclass(frozen=True)
class BoardSnapshot:
    """Everything the board shows at one instant."""

    generated_at: datetime
    timezone: tzinfo
    stations: tuple[StationCard, ...]
    welds: tuple[WeldLine, ...]
    finished_today: tuple[PieceLine, ...]
    awaiting_review: tuple[PieceLine, ...]
    awaiting_review_count: int


def workshop_timezone(name: str | None = None) -> tzinfo:
    """Return the workshop's time zone (Europe/Paris unless configured otherwise)."""
    return ZoneInfo(name or WORKSHOP_TIMEZONE)


def local_day_bounds(now: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
    """Return the instants at which the workshop's local day of ``now`` begins and ends."""
    day = now.astimezone(zone).date()
    start = datetime.combine(day, time(0), zone)
    end = datetime.combine(day + timedelta(days=1), time(0), zone)
    return start, end


def _verdict(kind: str, deviations: Any) -> Verdict:
    return Verdict(kind, verdict_label(kind, deviations if isinstance(deviations, list) else None))


def _names(catalog: Catalog, student_ids: list[int]) -> tuple[str, ...]:
    # A student imported in the last seconds may not be in this process's catalog yet.
    return tuple(
        short_name(catalog.students[student_id].name)
        for student_id in student_ids
        if student_id in catalog.students
    )


def _product(catalog: Catalog, work_order_id: int) -> str:
    work_order = catalog.work_orders.get(work_order_id)
    return work_order.product if work_order is not None else ""


def _station_cards(catalog: Catalog) -> tuple[StationCard, ...]:
    run_piece = aliased(Piece)
    states = {
        row.station_id: row
        for row in db.session.execute(
            select(
                StationState.station_id,
                StationState.work_order_id,
                StationState.operation_id,
                Piece.code.label("piece_code"),
                OperationRun.status.label("run_status"),
                OperationRun.operation_id.label("run_operation_id"),
                run_piece.code.label("run_piece_code"),
                run_piece.work_order_id.label("run_work_order_id"),
            )
            .select_from(StationState)
            .outerjoin(Piece, Piece.id == StationState.piece_id)
            .outerjoin(OperationRun, OperationRun.id == StationState.active_run_id)
            .outerjoin(run_piece, run_piece.id == OperationRun.piece_id)
        )
    }
    present: dict[int, list[int]] = {}
    for station_id, student_id in db.session.execute(
        select(Presence.station_id, Presence.student_id)
        .where(Presence.ended_at.is_(None))
        .order_by(Presence.started_at, Presence.id)
    ):
        present.setdefault(station_id, []).append(student_id)
    devices = {
        row.station_id: row
        for row in db.session.execute(
            select(
                DeviceStatus.station_id,
                DeviceStatus.state,
                DeviceStatus.arc_on,
                DeviceStatus.arc_started_at,
            )
        )
    }
    latest_at_station = (
        select(Weld.id)
        .where(Weld.station_id == Station.id)
        .order_by(Weld.started_at.desc(), Weld.id.desc())
        .limit(1)
        .correlate(Station)
        .scalar_subquery()
    )
    last_welds = {
        row.station_id: LastWeld(row.started_at, _verdict(row.verdict, row.deviations))
        for row in db.session.execute(
            select(Weld.station_id, Weld.started_at, Weld.verdict, Weld.deviations)
            .select_from(Station)
            .join(Weld, Weld.id == latest_at_station)
        )
    }

    cards = []
    for station in catalog.stations.values():
        if station.kind in NOT_ON_BOARD:
            continue
        state = states.get(station.id)
        work_order_id: int | None = None
        operation_id: int | None = None
        piece: str | None = None
        run_status: str | None = None
        if state is not None:
            if state.run_status in ACTIVE_RUN_STATUSES:
                # The run in progress wins over what was last selected at the station.
                work_order_id = state.run_work_order_id
                operation_id = state.run_operation_id
                piece = state.run_piece_code
                run_status = state.run_status
            elif present.get(station.id):
                # A selection only means something while someone is there to act on it:
                # what the last student left selected is not work going on.
                work_order_id = state.work_order_id
                operation_id = state.operation_id
                piece = state.piece_code
        work_order_info = catalog.work_orders.get(work_order_id) if work_order_id else None
        operation_info = catalog.operations.get(operation_id) if operation_id else None
        device = devices.get(station.id)
        welding = None
        if station.kind == WELDING or device is not None:
            welding = WeldingState(
                state=device.state if device is not None else "unknown",
                arc_on=bool(device.arc_on) if device is not None else False,
                arc_started_at=device.arc_started_at if device is not None else None,
                last_weld=last_welds.get(station.id),
            )
        cards.append(
            StationCard(
                code=station.code,
                name=station.name,
                kind=station.kind,
                students=_names(catalog, present.get(station.id, [])),
                work_order=(
                    WorkOrderRef(work_order_info.number, work_order_info.product)
                    if work_order_info is not None
                    else None
                ),
                operation=(
                    OperationRef(operation_info.step, operation_info.name)
                    if operation_info is not None
                    else None
                ),
                piece=piece,
                run_status=run_status,
                welding=welding,
            )
        )
    # Welding stations first: their arc is what the room needs to see from afar.
    cards.sort(key=lambda card: (card.welding is None, card.code))
    return tuple(cards)


def _latest_welds(catalog: Catalog) -> tuple[WeldLine, ...]:
    rows = db.session.execute(
        select(
            Weld.id,
            Weld.station_id,
            Weld.started_at,
            Weld.process,
            Weld.arc_s,
            Weld.i_mean_a,
            Weld.u_mean_v,
            Weld.verdict,
            Weld.deviations,
            Weld.run_id,
        )
        .order_by(Weld.started_at.desc(), Weld.id.desc())
        .limit(LATEST_WELDS)
    ).all()
    students: dict[int, list[int]] = {}
    if rows:
        for weld_id, student_id in db.session.execute(
            select(WeldStudent.weld_id, WeldStudent.student_id).where(
                WeldStudent.weld_id.in_([row.id for row in rows])
            )
        ):
            students.setdefault(weld_id, []).append(student_id)
    lines = []
    for row in rows:
        station = catalog.stations.get(row.station_id)
        names = sorted(_names(catalog, students.get(row.id, [])), key=french_order)
        lines.append(
            WeldLine(
                started_at=row.started_at,
                station=station.name if station is not None else "",
                students=tuple(names),
                process=process_label(row.process),
                arc_s=row.arc_s,
                i_mean_a=row.i_mean_a,
                u_mean_v=row.u_mean_v,
                verdict=_verdict(row.verdict or VERDICT_NO_WPS, row.deviations),
                attributed=row.run_id is not None,
            )
        )
    return tuple(lines)


def _finished_today(catalog: Catalog, now: datetime, zone: tzinfo) -> tuple[PieceLine, ...]:
    start, end = local_day_bounds(now, zone)
    rows = db.session.execute(
        select(Piece.code, Piece.work_order_id, Piece.completed_at)
        .where(
            Piece.status.in_(DONE_STATUSES),
            Piece.completed_at >= start,
            Piece.completed_at < end,
        )
        .order_by(Piece.completed_at.desc(), Piece.id.desc())
    )
    return tuple(
        PieceLine(row.code, _product(catalog, row.work_order_id), row.completed_at) for row in rows
    )


def _awaiting_review(catalog: Catalog) -> tuple[tuple[PieceLine, ...], int]:
    rows = db.session.execute(
        select(
            Piece.code,
            Piece.work_order_id,
            Piece.completed_at,
            func.count().over().label("total"),
        )
        .where(Piece.status == "awaiting_review")
        .order_by(Piece.completed_at, Piece.id)
        .limit(AWAITING_SHOWN)
    ).all()
    total = int(rows[0].total) if rows else 0
    lines = tuple(
        PieceLine(row.code, _product(catalog, row.work_order_id), row.completed_at) for row in rows
    )
    return lines, total


def board_snapshot(now: datetime | None = None, zone: tzinfo | None = None) -> BoardSnapshot:
    """Read what the workshop board shows right now, without writing anything."""
    now = now or utcnow()
    zone = zone or workshop_timezone()
    catalog = catalog_module.current(db.session.connection())
    awaiting, awaiting_count = _awaiting_review(catalog)
    return BoardSnapshot(
        generated_at=now,
        timezone=zone,
        stations=_station_cards(catalog),
        welds=_latest_welds(catalog),
        finished_today=_finished_today(catalog, now, zone),
        awaiting_review=awaiting,
        awaiting_review_count=awaiting_count,
    )
