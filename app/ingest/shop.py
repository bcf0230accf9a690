"""The shop's state, read and changed for one event: stations, presences and runs.

Every change is a row stamped with the event that made it: a presence, a run or an
interval *inserted* with ``event_id``, or *ended* with ``ended_event_id`` (a run's
``finished_event_id``, a piece's ``completed_event_id``); a station's context is a new row,
the station's newest. So an event's effects can always be found from the event
(``app.ingest.undo``), and nothing is ever overwritten.

The statements are Core statements on the model's own tables, built once, and each reads
what the rules will need next (a station with its context, run and selection; a work
order with its routing size and piece count): a scan costs a handful of indexed
statements. What an event reads is kept for the rest of that event only, never across.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any, NamedTuple

from sqlalchemy import and_, bindparam, case, exists, func, select, true, union_all, update

from app.ingest.core import Scope, insert_for
from app.models import (
    KIOSK,
    WELDING,
    DeviceStatus,
    Habilitation,
    LabelBatch,
    Operation,
    OperationRun,
    OperationType,
    Piece,
    PieceSerial,
    Presence,
    RunInterval,
    RunParticipant,
    Station,
    StationContext,
    Student,
    StudentHabilitation,
    WorkOrder,
    batch_holds,
    current_context_id,
    lapsed_on,
    operation_type_requirements,
    station_requirements,
    table_of,
)
from app.read.stations import describe
from labels.codes import piece_serial

# A row of a Core statement, read by its columns' names.
Record = Any

STATIONS = table_of(Station)
CONTEXTS = table_of(StationContext)
PRESENCES = table_of(Presence)
STUDENTS = table_of(Student)
PIECES = table_of(Piece)
RUNS = table_of(OperationRun)
INTERVALS = table_of(RunInterval)
PARTICIPANTS = table_of(RunParticipant)
OPERATIONS = table_of(Operation)
TYPES = table_of(OperationType)
WORK_ORDERS = table_of(WorkOrder)
DEVICES = table_of(DeviceStatus)
SERIALS = table_of(PieceSerial)
BATCHES = table_of(LabelBatch)
HABILITATIONS = table_of(Habilitation)
HELD = table_of(StudentHabilitation)
STATION_REQUIRES = station_requirements
TYPE_REQUIRES = operation_type_requirements

# The columns of a station's context that a new context row carries over.
CONTEXT_FIELDS = (
    "work_order_id",
    "operation_id",
    "piece_id",
    "active_run_id",
    "acting_for_id",
    "paused_by_exit",
    "help_since",
)

_RUN_PIECE = PIECES.alias("run_piece")
_RUN_OPERATION = OPERATIONS.alias("run_operation")
_RUN_TYPE = TYPES.alias("run_type")
_RUN_WORK_ORDER = WORK_ORDERS.alias("run_work_order")
_SELECTED_WORK_ORDER = WORK_ORDERS.alias("selected_work_order")
_SELECTED_OPERATION = OPERATIONS.alias("selected_operation")
_SELECTED_TYPE = TYPES.alias("selected_type")
_SELECTED_OPERATION_ORDER = WORK_ORDERS.alias("selected_operation_order")
_SELECTED_PIECE = PIECES.alias("selected_piece")
_ACTING_FOR = STATIONS.alias("acting_for")


def _guarded(table: Any, column: Any, key: Any) -> Any:
    """Tell, as a column, whether a station or an operation type requires a habilitation.

    Read with the row the event reads anyway, so that a run where nothing is required (most
    of them) costs no statement for the habilitations.
    """
    return exists().where(table.c[column] == key)


_STATION_COLUMNS = (
    STATIONS.c.id,
    STATIONS.c.code,
    STATIONS.c.name,
    STATIONS.c.kind,
    STATIONS.c.mqtt_device,
    CONTEXTS.c.id.label("context_id"),
    *(CONTEXTS.c[name] for name in CONTEXT_FIELDS),
    RUNS.c.piece_id.label("run_piece_id"),
    RUNS.c.operation_id.label("run_operation_id"),
    RUNS.c.station_id.label("run_station_id"),
    RUNS.c.status.label("run_status"),
    RUNS.c.started_at.label("run_started_at"),
    _RUN_PIECE.c.code.label("run_piece_code"),
    _RUN_OPERATION.c.step.label("run_step"),
    _RUN_OPERATION.c.work_order_id.label("run_work_order_id"),
    _RUN_TYPE.c.code.label("run_type_code"),
    _RUN_TYPE.c.name.label("run_operation_name"),
    _RUN_WORK_ORDER.c.number.label("run_work_order_number"),
    _RUN_WORK_ORDER.c.product.label("run_work_order_product"),
    _SELECTED_WORK_ORDER.c.number.label("selected_work_order_number"),
    _SELECTED_WORK_ORDER.c.product.label("selected_work_order_product"),
    _SELECTED_OPERATION.c.work_order_id.label("selected_operation_work_order_id"),
    _SELECTED_OPERATION.c.step.label("selected_operation_step"),
    _SELECTED_TYPE.c.code.label("selected_operation_type_code"),
    _SELECTED_TYPE.c.name.label("selected_operation_name"),
    _SELECTED_OPERATION_ORDER.c.number.label("selected_operation_work_order_number"),
    _SELECTED_PIECE.c.code.label("selected_piece_code"),
    _SELECTED_PIECE.c.work_order_id.label("selected_piece_work_order_id"),
    _SELECTED_PIECE.c.status.label("selected_piece_status"),
    _SELECTED_PIECE.c.round.label("selected_piece_round"),
    _ACTING_FOR.c.code.label("acting_for_code"),
    DEVICES.c.state.label("device_state"),
    DEVICES.c.arc_on.label("device_arc_on"),
    _guarded(STATION_REQUIRES, "station_id", STATIONS.c.id).label("guarded"),
    _RUN_TYPE.c.id.label("run_type_id"),
    _guarded(TYPE_REQUIRES, "operation_type_id", _RUN_TYPE.c.id).label("run_type_guarded"),
)
# The station with everything its answer names (its status, app.read.stations' rule), so
# that the answer to a scan is described from what the event holds, with no read after it.
_STATION_FROM = (
    STATIONS.outerjoin(CONTEXTS, CONTEXTS.c.id == current_context_id(STATIONS.c.id))
    .outerjoin(RUNS, RUNS.c.id == CONTEXTS.c.active_run_id)
    .outerjoin(_RUN_PIECE, _RUN_PIECE.c.id == RUNS.c.piece_id)
    .outerjoin(_RUN_OPERATION, _RUN_OPERATION.c.id == RUNS.c.operation_id)
    .outerjoin(_RUN_TYPE, _RUN_TYPE.c.id == _RUN_OPERATION.c.operation_type_id)
    .outerjoin(_RUN_WORK_ORDER, _RUN_WORK_ORDER.c.id == _RUN_OPERATION.c.work_order_id)
    .outerjoin(_SELECTED_WORK_ORDER, _SELECTED_WORK_ORDER.c.id == CONTEXTS.c.work_order_id)
    .outerjoin(_SELECTED_OPERATION, _SELECTED_OPERATION.c.id == CONTEXTS.c.operation_id)
    .outerjoin(_SELECTED_TYPE, _SELECTED_TYPE.c.id == _SELECTED_OPERATION.c.operation_type_id)
    .outerjoin(
        _SELECTED_OPERATION_ORDER,
        _SELECTED_OPERATION_ORDER.c.id == _SELECTED_OPERATION.c.work_order_id,
    )
    .outerjoin(_SELECTED_PIECE, _SELECTED_PIECE.c.id == CONTEXTS.c.piece_id)
    .outerjoin(_ACTING_FOR, _ACTING_FOR.c.id == CONTEXTS.c.acting_for_id)
    .outerjoin(DEVICES, DEVICES.c.station_id == STATIONS.c.id)
)
# On PostgreSQL the row lock serialises the events of one station (FOR NO KEY UPDATE lets
# rows that merely reference the station, a weld or a presence, be written meanwhile);
# SQLite's BEGIN IMMEDIATE already serialises every writer and ignores the clause.
_STATION_BY_CODE = (
    select(*_STATION_COLUMNS)
    .select_from(_STATION_FROM)
    .where(STATIONS.c.site_id == bindparam("site_id"), STATIONS.c.code == bindparam("code"))
    .with_for_update(of=STATIONS, key_share=True)
)
_STATION_BY_ID = (
    select(*_STATION_COLUMNS)
    .select_from(_STATION_FROM)
    .where(STATIONS.c.id == bindparam("station_id"))
    .with_for_update(of=STATIONS, key_share=True)
)
_PRESENT = (
    select(PRESENCES.c.id, PRESENCES.c.student_id, STUDENTS.c.code, STUDENTS.c.name)
    .join(STUDENTS, STUDENTS.c.id == PRESENCES.c.student_id)
    .where(PRESENCES.c.station_id == bindparam("station_id"), PRESENCES.c.ended_at.is_(None))
    .order_by(PRESENCES.c.started_at, PRESENCES.c.id)
)
_STEPS = (
    select(func.count())
    .select_from(OPERATIONS)
    .where(OPERATIONS.c.work_order_id == WORK_ORDERS.c.id)
    .correlate(WORK_ORDERS)
    .scalar_subquery()
)
_PIECE_COUNT = (
    select(func.count())
    .select_from(PIECES)
    .where(PIECES.c.work_order_id == WORK_ORDERS.c.id)
    .correlate(WORK_ORDERS)
    .scalar_subquery()
)
_WORK_ORDER_COLUMNS = (
    WORK_ORDERS.c.id,
    WORK_ORDERS.c.number,
    WORK_ORDERS.c.product,
    WORK_ORDERS.c.quantity,
    _STEPS.label("steps"),
    _PIECE_COUNT.label("pieces"),
)
_WORK_ORDER_BY_ID = select(*_WORK_ORDER_COLUMNS).where(
    WORK_ORDERS.c.id == bindparam("work_order_id")
)
_OPERATION_COLUMNS = (
    OPERATIONS.c.id,
    OPERATIONS.c.work_order_id,
    OPERATIONS.c.step,
    OPERATIONS.c.wps_id,
    TYPES.c.id.label("type_id"),
    TYPES.c.code.label("type_code"),
    TYPES.c.name,
    TYPES.c.process,
    TYPES.c.station_kind,
    WORK_ORDERS.c.number.label("work_order"),
    _guarded(TYPE_REQUIRES, "operation_type_id", TYPES.c.id).label("guarded"),
)
_OPERATION_BY_ID = (
    select(*_OPERATION_COLUMNS)
    .select_from(
        OPERATIONS.join(TYPES, TYPES.c.id == OPERATIONS.c.operation_type_id).join(
            WORK_ORDERS, WORK_ORDERS.c.id == OPERATIONS.c.work_order_id
        )
    )
    .where(OPERATIONS.c.id == bindparam("operation_id"))
)
_WORK_ORDER_BY_NUMBER = select(*_WORK_ORDER_COLUMNS).where(
    WORK_ORDERS.c.site_id == bindparam("site_id"), WORK_ORDERS.c.number == bindparam("number")
)
# A routing step by its work order's number and its step number, with the order itself
# (``order_id`` set and ``id`` NULL: the order exists, the step does not).
_STEP_OF_ORDER = (
    select(
        OPERATIONS.c.id,
        WORK_ORDERS.c.id.label("order_id"),
        OPERATIONS.c.work_order_id,
        OPERATIONS.c.step,
        OPERATIONS.c.wps_id,
        TYPES.c.id.label("type_id"),
        TYPES.c.code.label("type_code"),
        TYPES.c.name,
        TYPES.c.process,
        TYPES.c.station_kind,
        WORK_ORDERS.c.number.label("work_order"),
        _guarded(TYPE_REQUIRES, "operation_type_id", TYPES.c.id).label("guarded"),
    )
    .select_from(
        WORK_ORDERS.outerjoin(
            OPERATIONS,
            and_(
                OPERATIONS.c.work_order_id == WORK_ORDERS.c.id,
                OPERATIONS.c.step == bindparam("step"),
            ),
        ).outerjoin(TYPES, TYPES.c.id == OPERATIONS.c.operation_type_id)
    )
    .where(
        WORK_ORDERS.c.site_id == bindparam("site_id"), WORK_ORDERS.c.number == bindparam("number")
    )
)
# What a station and an operation type require, and what each student holds of it now
# (NULL: never held, or no longer): one statement for a whole team.
_REQUIRED = union_all(
    select(STATION_REQUIRES.c.habilitation_id).where(
        STATION_REQUIRES.c.station_id == bindparam("station_id")
    ),
    select(TYPE_REQUIRES.c.habilitation_id).where(
        TYPE_REQUIRES.c.operation_type_id == bindparam("type_id")
    ),
).subquery("required")
_HOLDINGS = (
    select(
        HABILITATIONS.c.id,
        HABILITATIONS.c.code,
        HABILITATIONS.c.name,
        HABILITATIONS.c.derogation_until,
        STUDENTS.c.id.label("student_id"),
        STUDENTS.c.name.label("student_name"),
        HELD.c.until,
        HELD.c.medical_until,
    )
    .select_from(
        _REQUIRED.join(HABILITATIONS, HABILITATIONS.c.id == _REQUIRED.c.habilitation_id)
        .join(STUDENTS, true())
        .outerjoin(
            HELD,
            and_(
                HELD.c.student_id == STUDENTS.c.id,
                HELD.c.habilitation_id == HABILITATIONS.c.id,
                HELD.c.ended_at.is_(None),
            ),
        )
    )
    .where(STUDENTS.c.id.in_(bindparam("student_ids", expanding=True)))
)
_PIECE_COLUMNS = (
    PIECES.c.id,
    PIECES.c.code,
    PIECES.c.work_order_id,
    PIECES.c.status,
    PIECES.c.round,
)
_PIECE_BY_CODE = select(*_PIECE_COLUMNS).where(
    PIECES.c.site_id == bindparam("site_id"), PIECES.c.code == bindparam("code")
)
_PIECE_BY_ID = select(*_PIECE_COLUMNS).where(PIECES.c.id == bindparam("piece_id"))
_RUN_OF = select(
    RUNS.c.id,
    RUNS.c.piece_id,
    RUNS.c.operation_id,
    RUNS.c.station_id,
    RUNS.c.status,
    RUNS.c.started_at,
).where(
    RUNS.c.piece_id == bindparam("piece_id"),
    RUNS.c.operation_id == bindparam("operation_id"),
    RUNS.c.round == bindparam("round"),
)
# Whether a piece's whole routing is finished, in the piece's round.
_ROUTING_DONE = select(
    PIECES.c.status,
    select(func.count())
    .select_from(OPERATIONS)
    .where(OPERATIONS.c.work_order_id == PIECES.c.work_order_id)
    .correlate(PIECES)
    .scalar_subquery()
    .label("steps"),
    select(func.count())
    .select_from(RUNS)
    .where(
        RUNS.c.piece_id == PIECES.c.id,
        RUNS.c.round == PIECES.c.round,
        RUNS.c.status == "finished",
    )
    .correlate(PIECES)
    .scalar_subquery()
    .label("done"),
).where(PIECES.c.id == bindparam("piece_id"))
_END_PRESENCE = (
    update(PRESENCES)
    .where(PRESENCES.c.id == bindparam("k_id"), PRESENCES.c.ended_at.is_(None))
    .values(ended_at=bindparam("v_at"), ended_event_id=bindparam("v_event"))
)
_END_INTERVALS = (
    update(INTERVALS)
    .where(INTERVALS.c.run_id == bindparam("k_run"), INTERVALS.c.ended_at.is_(None))
    .values(ended_at=bindparam("v_at"), ended_event_id=bindparam("v_event"))
)
_SET_RUN_STATUS = (
    update(RUNS).where(RUNS.c.id == bindparam("k_id")).values(status=bindparam("v_status"))
)
_FINISH_RUN = (
    update(RUNS)
    .where(RUNS.c.id == bindparam("k_id"))
    .values(
        status="finished", finished_at=bindparam("v_at"), finished_event_id=bindparam("v_event")
    )
)
_COMPLETE_PIECE = (
    update(PIECES)
    .where(PIECES.c.id == bindparam("k_id"), PIECES.c.status == "in_progress")
    .values(
        status="awaiting_review",
        completed_at=bindparam("v_at"),
        completed_event_id=bindparam("v_event"),
    )
)
_INSERT_CONTEXT = CONTEXTS.insert()
_INSERT_PRESENCE = PRESENCES.insert().returning(PRESENCES.c.id)
_INSERT_INTERVAL = INTERVALS.insert()
_INSERT_RUN = RUNS.insert().returning(RUNS.c.id)
_INSERT_PIECE = PIECES.insert().returning(*_PIECE_COLUMNS)


@functools.cache
def _join_run(dialect: str) -> Any:
    """Return the statement joining students to a run, keeping those already in it."""
    return insert_for(dialect)(PARTICIPANTS).on_conflict_do_nothing(
        index_elements=["run_id", "student_id"]
    )


# The work order a new piece label was printed for: the batch of allocated serials holding
# it (``labels sheet``), if any.
_BATCH_WORK_ORDER = (
    select(*_WORK_ORDER_COLUMNS)
    .select_from(BATCHES.join(WORK_ORDERS, WORK_ORDERS.c.id == BATCHES.c.work_order_id))
    .where(
        BATCHES.c.site_id == bindparam("site_id"),
        batch_holds(bindparam("year"), bindparam("serial")),
    )
    .order_by(BATCHES.c.first_serial.desc())
    .limit(1)
)


@functools.cache
def _raise_serial(dialect: str) -> Any:
    """Return the statement that lifts a site's serial counter to at least a label's serial."""
    insert = insert_for(dialect)(SERIALS)
    return insert.on_conflict_do_update(
        index_elements=["site_id", "year"],
        # CASE rather than max()/GREATEST(): the one spelling both databases share.
        set_={
            "last_serial": case(
                (SERIALS.c.last_serial < insert.excluded.last_serial, insert.excluded.last_serial),
                else_=SERIALS.c.last_serial,
            )
        },
    )


FRENCH_VOWELS = frozenset("aeiouyàâäéèêëîïôöùûüœæ")


def of_name(name: str) -> str:
    """Write « de Lucas » or « d'Inès » (the elision before a vowel; « de Hugo » stays)."""
    return f"d'{name}" if name[:1].casefold() in FRENCH_VOWELS else f"de {name}"


def names(first_names: list[str]) -> str:
    """Join first names the French way: « Lucas », « Lucas et Emma », « A, B et C »."""
    if len(first_names) <= 1:
        return "".join(first_names)
    return ", ".join(first_names[:-1]) + " et " + first_names[-1]


def transient_run(
    run_id: int,
    *,
    piece_id: int,
    operation_id: int,
    station_id: int,
    status: str,
    started_at: datetime,
) -> OperationRun:
    """Return a run as a value the event works on (a model instance never added to a session)."""
    return OperationRun(
        id=run_id,
        piece_id=piece_id,
        operation_id=operation_id,
        station_id=station_id,
        status=status,
        started_at=started_at,
    )


class OperationLabel(NamedTuple):
    """How an answer names a routing step: step, type code and name, work order."""

    step: int
    type_code: str
    name: str
    work_order_id: int
    work_order: str


class WorkOrderLabel(NamedTuple):
    """How an answer names a work order."""

    number: str
    product: str


class Present(NamedTuple):
    """Someone badged in at a station: the presence, the student, their code and name."""

    presence_id: int
    student_id: int
    code: str
    name: str


class Unhabilitated(NamedTuple):
    """A student without a valid habilitation a run needs (``lapsed``: since when, if held)."""

    student_id: int
    student_name: str
    habilitation: str
    habilitation_code: str
    lapsed: date | None


@dataclass
class StationAt:
    """A station during one event: its locked row, and its context with this event's changes.

    ``context`` is the station's context as a transient model instance: the event changes
    it in memory, and ``Shop.flush`` writes it as the station's new context row. Who is
    badged in is read once, then kept up to date by the event's own badges.
    """

    row: Record
    context: StationContext
    run: OperationRun | None
    changed: bool = False
    students: list[Present] | None = None

    @property
    def id(self) -> int:
        """Return the station's id."""
        return int(self.row.id)

    @property
    def code(self) -> str:
        """Return the station's code (``ST-…``)."""
        return str(self.row.code)

    @property
    def name(self) -> str:
        """Return the station's name."""
        return str(self.row.name)

    @property
    def kind(self) -> str:
        """Return the station's kind (welding, kiosk, …)."""
        return str(self.row.kind)

    @property
    def has_cfg(self) -> bool:
        """Tell whether the station receives a cfg (a welding station with its device)."""
        return self.kind == WELDING and self.row.mqtt_device is not None

    @property
    def is_kiosk(self) -> bool:
        """Tell whether the station is a kiosk."""
        return self.kind == KIOSK

    def get(self, name: str) -> Any:
        """Return a field of the station's context as this event left it so far."""
        return getattr(self.context, name)

    def set(self, **values: Any) -> None:
        """Change the station's context (written once, at the end of the event)."""
        for key, value in values.items():
            if getattr(self.context, key) != value:
                setattr(self.context, key, value)
                self.changed = True


@dataclass
class Shop:
    """The shop as one event reads and changes it."""

    scope: Scope
    stations: dict[int, StationAt] = field(default_factory=dict)
    operations: dict[int, Record] = field(default_factory=dict)
    work_orders: dict[int, Record] = field(default_factory=dict)
    pieces: dict[int, Record] = field(default_factory=dict)
    # What answers and messages name, by id: from the rows read, kept for the event.
    piece_codes: dict[int, str] = field(default_factory=dict)
    operation_labels: dict[int, OperationLabel] = field(default_factory=dict)
    work_order_labels: dict[int, WorkOrderLabel] = field(default_factory=dict)
    # Welding stations whose run started, paused, resumed or ended (their cfg changes).
    runs_changed: set[int] = field(default_factory=set)

    # -- reading ---------------------------------------------------------------------------

    def station_by_code(self, code: str) -> StationAt | None:
        """Return a station of the site by its code, locked for this event."""
        row = self.scope.conn.execute(
            _STATION_BY_CODE, {"site_id": self.scope.site_id, "code": code}
        ).first()
        return self._keep(row) if row is not None else None

    def station(self, station_id: int) -> StationAt:
        """Return a station by its id, locked for this event."""
        known = self.stations.get(station_id)
        if known is not None:
            return known
        row = self.scope.conn.execute(_STATION_BY_ID, {"station_id": station_id}).one()
        return self._keep(row)

    def _keep(self, row: Record) -> StationAt:
        known = self.stations.get(row.id)
        if known is not None:
            return known
        run = None
        if row.active_run_id is not None:
            run = transient_run(
                row.active_run_id,
                piece_id=row.run_piece_id,
                operation_id=row.run_operation_id,
                station_id=row.run_station_id,
                status=row.run_status,
                started_at=row.run_started_at,
            )
            self.piece_codes[row.run_piece_id] = row.run_piece_code
            self.operation_labels[row.run_operation_id] = OperationLabel(
                row.run_step,
                row.run_type_code,
                row.run_operation_name,
                row.run_work_order_id,
                row.run_work_order_number,
            )
            self.work_order_labels[row.run_work_order_id] = WorkOrderLabel(
                row.run_work_order_number, row.run_work_order_product
            )
        if row.work_order_id is not None:
            self.work_order_labels[row.work_order_id] = WorkOrderLabel(
                row.selected_work_order_number, row.selected_work_order_product
            )
        if row.operation_id is not None:
            self.operation_labels[row.operation_id] = OperationLabel(
                row.selected_operation_step,
                row.selected_operation_type_code,
                row.selected_operation_name,
                row.selected_operation_work_order_id,
                row.selected_operation_work_order_number,
            )
        if row.piece_id is not None:
            self.piece_codes[row.piece_id] = row.selected_piece_code
            self.pieces[row.piece_id] = Piece(
                id=row.piece_id,
                code=row.selected_piece_code,
                work_order_id=row.selected_piece_work_order_id,
                status=row.selected_piece_status,
                round=row.selected_piece_round,
            )
        context = StationContext(
            station_id=row.id,
            work_order_id=row.work_order_id,
            operation_id=row.operation_id,
            piece_id=row.piece_id,
            active_run_id=row.active_run_id,
            acting_for_id=row.acting_for_id,
            paused_by_exit=bool(row.paused_by_exit),
            help_since=row.help_since,
        )
        at = StationAt(row, context, run)
        self.stations[at.id] = at
        return at

    def present(self, station: StationAt) -> list[Present]:
        """Return who is badged in at a station, in the order they arrived."""
        if station.students is None:
            station.students = [
                Present(*row)
                for row in self.scope.conn.execute(_PRESENT, {"station_id": station.id})
            ]
        return station.students

    def operation(self, operation_id: int) -> Record:
        """Return a routing step with its operation type and work order number."""
        row = self.operations.get(operation_id)
        if row is None:
            row = self.scope.conn.execute(_OPERATION_BY_ID, {"operation_id": operation_id}).one()
            self._keep_operation(row)
        return row

    def _keep_operation(self, row: Record) -> None:
        self.operations[row.id] = row
        self.operation_labels[row.id] = OperationLabel(
            row.step, row.type_code, row.name, row.work_order_id, row.work_order
        )

    def _keep_work_order(self, row: Record) -> None:
        self.work_orders[row.id] = row
        self.work_order_labels[row.id] = WorkOrderLabel(row.number, row.product)

    def operation_work_order(self, station: StationAt) -> int | None:
        """Return the work order of the operation selected at a station (known when loaded)."""
        operation_id = station.get("operation_id")
        if operation_id is None:
            return None
        if operation_id == station.row.operation_id:
            return int(station.row.selected_operation_work_order_id)
        return int(self.operation(operation_id).work_order_id)

    def step_of_order(self, number: str, step: int) -> Record | None:
        """Return a routing step by order number and step (``id`` NULL: no such step).

        None when the site has no such work order.
        """
        row = self.scope.conn.execute(
            _STEP_OF_ORDER, {"site_id": self.scope.site_id, "number": number, "step": step}
        ).first()
        if row is not None and row.id is not None:
            self._keep_operation(row)
        return row

    def work_order_by_number(self, number: str) -> Record | None:
        """Return a work order of the site by its number, with its routing size."""
        row = self.scope.conn.execute(
            _WORK_ORDER_BY_NUMBER, {"site_id": self.scope.site_id, "number": number}
        ).first()
        if row is not None:
            self._keep_work_order(row)
        return row

    def work_order(self, work_order_id: int) -> Record:
        """Return a work order by its id, with its routing size and piece count."""
        row = self.work_orders.get(work_order_id)
        if row is None:
            row = self.scope.conn.execute(_WORK_ORDER_BY_ID, {"work_order_id": work_order_id}).one()
            self._keep_work_order(row)
        return row

    def piece_by_code(self, code: str) -> Record | None:
        """Return a piece of the site by its label code."""
        row = self.scope.conn.execute(
            _PIECE_BY_CODE, {"site_id": self.scope.site_id, "code": code}
        ).first()
        if row is not None:
            self.pieces[row.id] = row
            self.piece_codes[row.id] = row.code
        return row

    def piece(self, piece_id: int) -> Record | None:
        """Return a piece by its id."""
        row = self.pieces.get(piece_id)
        if row is None:
            row = self.scope.conn.execute(_PIECE_BY_ID, {"piece_id": piece_id}).first()
            if row is not None:
                self.pieces[piece_id] = row
                self.piece_codes[piece_id] = row.code
        return row

    def run_of(self, piece: Record, operation_id: int) -> Record | None:
        """Return the run of a routing step on a piece (in its round), if it was started."""
        return self.scope.conn.execute(
            _RUN_OF, {"piece_id": piece.id, "operation_id": operation_id, "round": piece.round}
        ).first()

    def run_label(self, run: OperationRun) -> str:
        """Name a run for a student: « Soudage MAG sur la pièce P-2026-000001 »."""
        name = self.operation_label(run.operation_id).name
        return f"{name} sur la pièce {self.piece_code(run.piece_id)}"

    def operation_label(self, operation_id: int) -> OperationLabel:
        """Return how a routing step is named (read if this event has not met it yet)."""
        label = self.operation_labels.get(operation_id)
        if label is None:
            self.operation(operation_id)
            label = self.operation_labels[operation_id]
        return label

    def work_order_label(self, work_order_id: int) -> WorkOrderLabel:
        """Return how a work order is named (read if this event has not met it yet)."""
        label = self.work_order_labels.get(work_order_id)
        if label is None:
            self.work_order(work_order_id)
            label = self.work_order_labels[work_order_id]
        return label

    def piece_code(self, piece_id: int) -> str:
        """Return a piece's label code (read if this event has not met it yet)."""
        code = self.piece_codes.get(piece_id)
        if code is None:
            row = self.piece(piece_id)
            assert row is not None, f"piece {piece_id} referenced but missing"
            code = row.code
        return code

    def status(self, station: StationAt) -> dict[str, Any]:
        """Describe a station as this event left it, by app.read.stations' one rule.

        Everything comes from what the event read and changed (the station's row with its
        context, run and device; the rows it looked up): no statement, unless a name was
        never met (then one small read).
        """
        context, run = station.context, station.run
        row = station.row
        values: dict[str, Any] = {
            "id": station.id,
            "code": station.code,
            "name": station.name,
            "kind": station.kind,
            "device_state": row.device_state,
            "arc_on": row.device_arc_on,
            "acting_for": None,
            "run_status": None,
            "help_since": context.help_since,
        }
        if run is not None:
            operation = self.operation_label(run.operation_id)
            values.update(
                run_status=run.status,
                run_started_at=run.started_at,
                run_piece=self.piece_code(run.piece_id),
                run_step=operation.step,
                run_type=operation.type_code,
                run_name=operation.name,
                run_wo=operation.work_order,
                run_product=self.work_order_label(operation.work_order_id).product,
            )
        work_order = (
            self.work_order_label(context.work_order_id)
            if context.work_order_id is not None
            else None
        )
        selected = (
            self.operation_label(context.operation_id) if context.operation_id is not None else None
        )
        values.update(
            wo_number=work_order.number if work_order else None,
            wo_product=work_order.product if work_order else None,
            op_step=selected.step if selected else None,
            op_type=selected.type_code if selected else None,
            op_name=selected.name if selected else None,
            op_wo=selected.work_order if selected else None,
            piece=self.piece_code(context.piece_id) if context.piece_id is not None else None,
        )
        if context.acting_for_id is not None:
            values["acting_for"] = (
                row.acting_for_code
                if context.acting_for_id == row.acting_for_id
                else self.station(context.acting_for_id).code
            )
        students = [{"id": p.code, "name": p.name} for p in self.present(station)]
        return describe(SimpleNamespace(**values), students, detail=False)

    # -- habilitations ---------------------------------------------------------------------

    def run_guard(self, station: StationAt, run: OperationRun) -> tuple[int | None, bool]:
        """Return a run's operation type and whether that type requires a habilitation."""
        row = station.row
        if run.id == row.active_run_id and row.run_type_id is not None:
            return int(row.run_type_id), bool(row.run_type_guarded)
        operation = self.operation(run.operation_id)
        return int(operation.type_id), bool(operation.guarded)

    def unhabilitated(
        self,
        station: StationAt,
        type_id: int | None,
        type_guarded: bool,
        student_ids: list[int],
        day: date,
    ) -> list[Unhabilitated]:
        """Return who lacks a habilitation the station or the type requires on a day.

        No statement when neither requires any (read with their rows); otherwise one, for
        the whole team. Students come in the order given, habilitations by code.
        """
        if not student_ids or not (station.row.guarded or type_guarded):
            return []
        rows = self.scope.conn.execute(
            _HOLDINGS,
            {"station_id": station.id, "type_id": type_id, "student_ids": list(student_ids)},
        ).all()
        order = {student_id: index for index, student_id in enumerate(student_ids)}
        missing: dict[tuple[int, int], Unhabilitated] = {}
        for row in sorted(rows, key=lambda r: (r.code, order[r.student_id])):
            if row.until is not None:
                lapsed = lapsed_on(row.until, row.medical_until, row.derogation_until, day)
                if lapsed is None:
                    continue
            else:
                lapsed = None
            missing.setdefault(
                (row.id, row.student_id),
                Unhabilitated(row.student_id, row.student_name, row.name, row.code, lapsed),
            )
        return list(missing.values())

    # -- presences -------------------------------------------------------------------------

    def badge_in(self, station: StationAt, student_id: int, code: str, name: str) -> None:
        """Badge a student in at a station."""
        scope = self.scope
        present = self.present(station)
        presence_id = scope.write(
            _INSERT_PRESENCE,
            {
                "station_id": station.id,
                "student_id": student_id,
                "started_at": scope.now,
                "event_id": scope.event_id,
                "ended_at": None,
                "ended_event_id": None,
            },
        ).scalar_one()
        present.append(Present(presence_id, student_id, code, name))

    def badge_out(self, station: StationAt, presence_id: int) -> None:
        """End a presence at a station; the last one out ends the station's call for help."""
        self.scope.write(
            _END_PRESENCE,
            {"k_id": presence_id, "v_at": self.scope.now, "v_event": self.scope.event_id},
        )
        if station.students is not None:
            station.students = [p for p in station.students if p.presence_id != presence_id]
        if station.get("help_since") is not None and not self.present(station):
            station.set(help_since=None)

    # -- runs ------------------------------------------------------------------------------

    def join(self, run: OperationRun, student_ids: list[int]) -> None:
        """Make students participants of a run (those who already are stay as they were)."""
        if not student_ids:
            return
        self.scope.write(
            _join_run(self.scope.conn.dialect.name),
            [
                {
                    "run_id": run.id,
                    "student_id": student_id,
                    "joined_at": self.scope.now,
                    "event_id": self.scope.event_id,
                }
                for student_id in student_ids
            ],
        )

    def start(self, station: StationAt, piece: Record, operation: Record) -> OperationRun:
        """Start an operation on a piece at a station, with the students present."""
        scope = self.scope
        run_id = scope.write(
            _INSERT_RUN,
            {
                "piece_id": piece.id,
                "operation_id": operation.id,
                "station_id": station.id,
                "round": piece.round,
                "status": "running",
                "started_at": scope.now,
                "event_id": scope.event_id,
                "finished_at": None,
                "finished_event_id": None,
            },
        ).scalar_one()
        run = transient_run(
            run_id,
            piece_id=piece.id,
            operation_id=operation.id,
            station_id=station.id,
            status="running",
            started_at=scope.now,
        )
        self.piece_codes[piece.id] = piece.code
        self._open_interval(run)
        self.join(run, [row.student_id for row in self.present(station)])
        self.runs_changed.add(station.id)
        return run

    def _open_interval(self, run: OperationRun) -> None:
        self.scope.write(
            _INSERT_INTERVAL,
            {
                "run_id": run.id,
                "station_id": run.station_id,
                "started_at": self.scope.now,
                "event_id": self.scope.event_id,
                "ended_at": None,
                "ended_event_id": None,
            },
        )

    def _stop_clock(self, run: OperationRun) -> None:
        scope = self.scope
        scope.write(_END_INTERVALS, {"k_run": run.id, "v_at": scope.now, "v_event": scope.event_id})

    def pause(self, run: OperationRun) -> None:
        """Stop the clock of a running run."""
        self._stop_clock(run)
        self.scope.write(_SET_RUN_STATUS, {"k_id": run.id, "v_status": "paused"})
        run.status = "paused"
        self.runs_changed.add(run.station_id)

    def resume(self, run: OperationRun, station: StationAt) -> None:
        """Start the clock of a paused run again, with whoever is present joining it."""
        self.scope.write(_SET_RUN_STATUS, {"k_id": run.id, "v_status": "running"})
        run.status = "running"
        self._open_interval(run)
        self.join(run, [row.student_id for row in self.present(self.station(run.station_id))])
        station.set(paused_by_exit=False)
        self.runs_changed.add(run.station_id)

    def finish(self, run: OperationRun) -> None:
        """End a run (its clock stopped first)."""
        if run.status == "running":
            self._stop_clock(run)
        scope = self.scope
        scope.write(_FINISH_RUN, {"k_id": run.id, "v_at": scope.now, "v_event": scope.event_id})
        run.status = "finished"
        self.runs_changed.add(run.station_id)

    def complete_if_done(self, run: OperationRun) -> bool:
        """Mark the run's piece as awaiting review once its whole routing is finished."""
        done = self.scope.conn.execute(_ROUTING_DONE, {"piece_id": run.piece_id}).one()
        if done.status != "in_progress" or not done.steps or done.done < done.steps:
            return False
        scope = self.scope
        scope.write(
            _COMPLETE_PIECE, {"k_id": run.piece_id, "v_at": scope.now, "v_event": scope.event_id}
        )
        return True

    def create_piece(self, code: str, work_order_id: int) -> Record:
        """Create a piece from a new label, under a work order."""
        scope = self.scope
        created = scope.write(
            _INSERT_PIECE,
            {
                "site_id": scope.site_id,
                "code": code,
                "work_order_id": work_order_id,
                "status": "in_progress",
                "round": 1,
                "created_at": scope.now,
                "event_id": scope.event_id,
                "completed_at": None,
                "completed_event_id": None,
            },
        ).one()
        self.pieces[created.id] = created
        self.piece_codes[created.id] = code
        return created

    def batch_work_order(self, code: str) -> Record | None:
        """Return the work order a new piece label was allocated to, if it was (one query)."""
        year, serial = piece_serial(code)
        row = self.scope.conn.execute(
            _BATCH_WORK_ORDER, {"site_id": self.scope.site_id, "year": year, "serial": serial}
        ).first()
        if row is not None:
            self._keep_work_order(row)
        return row

    def reserve_serial(self, code: str) -> None:
        """Keep a label printed elsewhere from being allocated again (the counter passes it)."""
        year, serial = piece_serial(code)
        self.scope.write(
            _raise_serial(self.scope.conn.dialect.name),
            {"site_id": self.scope.site_id, "year": year, "last_serial": serial},
        )

    # -- writing contexts ------------------------------------------------------------------

    def flush(self) -> None:
        """Write each changed station context as the station's new, newest context row."""
        scope = self.scope
        for station in self.stations.values():
            if not station.changed:
                continue
            scope.write(
                _INSERT_CONTEXT,
                {
                    "station_id": station.id,
                    "event_id": scope.event_id,
                    **{name: station.get(name) for name in CONTEXT_FIELDS},
                },
            )
            station.changed = False
