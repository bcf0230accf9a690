"""The station state rules: what each scan does to the shop (CONTRACT.md section 3).

Every refusal raises ``Rejected`` with a message a 15-year-old understands, before any
change is made; every change goes through the scan's ``ShopWriter`` so that ``A-ANNULE``
can undo it. The rules read reference data from the catalog and write with Core
statements: a scan costs a handful of indexed statements.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, select, update

from app.ingest.catalog import Catalog, OperationInfo, StationInfo, StudentInfo
from app.ingest.codes import Action, CodeKind, ParsedCode
from app.ingest.undo import ShopWriter, UndoConflict, apply_undo
from app.models import (
    Event,
    Evidence,
    OperationRun,
    Piece,
    Presence,
    RunInterval,
    RunParticipant,
    StationState,
)
from app.models.types import iso, table_of

KIOSK = "kiosk"

STATES = table_of(StationState)
PRESENCES = table_of(Presence)
PIECES = table_of(Piece)
RUNS = table_of(OperationRun)
INTERVALS = table_of(RunInterval)
PARTICIPANTS = table_of(RunParticipant)
EVIDENCE = table_of(Evidence)
EVENTS = table_of(Event)

STATE_FIELDS = (
    "work_order_id",
    "operation_id",
    "piece_id",
    "active_run_id",
    "acting_for_id",
    "last_scan_at",
    "paused_by_exit",
)

KIND_LABELS = {
    "kiosk": "une borne",
    "welding": "un poste de soudure",
    "cutting": "un poste de découpe",
    "bending": "un poste de pliage ou de roulage",
    "machining": "un poste d'usinage",
    "assembly": "un poste d'assemblage",
    "finishing": "un poste de finition",
    "inspection": "le poste de contrôle",
    "other": "un autre poste",
}


class Rejected(Exception):
    """A scan the rules refuse, with the API error code and the French message."""

    def __init__(self, code: str, message: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.message = message
        self.reason = reason


@dataclass
class Applied:
    """What an accepted scan did: its French feedback and who it was about."""

    message: str
    student_id: int | None = None
    # Stations whose active run started or stopped (the MQTT side republishes their cfg).
    runs_changed: set[int] = field(default_factory=set)


@dataclass
class RunRow:
    """An operation run as the rules need it."""

    id: int
    piece_id: int
    piece_code: str
    work_order_id: int
    operation_id: int
    station_id: int
    status: str
    started_at: datetime


@dataclass
class StateRow:
    """A station's live state, and the run active there."""

    station_id: int
    work_order_id: int | None
    operation_id: int | None
    piece_id: int | None
    active_run_id: int | None
    acting_for_id: int | None
    last_scan_at: datetime | None
    paused_by_exit: bool
    piece_code: str | None = None
    run: RunRow | None = None

    def fields(self) -> dict[str, Any]:
        """Return the stored columns of the state."""
        return {name: getattr(self, name) for name in STATE_FIELDS}


@dataclass
class ScanContext:
    """Where a scan happened and what it may change."""

    event_db_id: int
    now: datetime
    device_station: StationInfo
    undo_window: timedelta
    kiosk_timeout: timedelta
    # The station the scan acts on (the device's own, or the one a kiosk acts for).
    station: StationInfo | None = None
    state: StateRow | None = None


_RUN_PIECE = PIECES.alias("run_piece")
_STATE_QUERY = (
    select(
        STATES,
        PIECES.c.code,
        RUNS.c.id,
        RUNS.c.piece_id,
        _RUN_PIECE.c.code,
        _RUN_PIECE.c.work_order_id,
        RUNS.c.operation_id,
        RUNS.c.station_id,
        RUNS.c.status,
        RUNS.c.started_at,
    )
    .select_from(
        STATES.outerjoin(PIECES, PIECES.c.id == STATES.c.piece_id)
        .outerjoin(RUNS, RUNS.c.id == STATES.c.active_run_id)
        .outerjoin(_RUN_PIECE, _RUN_PIECE.c.id == RUNS.c.piece_id)
    )
    .where(STATES.c.station_id == bindparam("station_id"))
)
# On PostgreSQL, the row lock serialises the scans of one station; SQLite's BEGIN
# IMMEDIATE already serialises every writer.
_STATE_QUERY_LOCKED = _STATE_QUERY.with_for_update(of=STATES)
_PRESENT = (
    select(PRESENCES.c.id, PRESENCES.c.student_id)
    .where(PRESENCES.c.station_id == bindparam("station_id"), PRESENCES.c.ended_at.is_(None))
    .order_by(PRESENCES.c.started_at, PRESENCES.c.id)
)
_OPEN_PRESENCE_OF = select(PRESENCES.c.id, PRESENCES.c.station_id).where(
    PRESENCES.c.student_id == bindparam("student_id"), PRESENCES.c.ended_at.is_(None)
)
_PIECE_BY_CODE = select(PIECES.c.id, PIECES.c.work_order_id, PIECES.c.status).where(
    PIECES.c.code == bindparam("code")
)
_PIECE_BY_ID = select(PIECES.c.id, PIECES.c.code, PIECES.c.work_order_id, PIECES.c.status).where(
    PIECES.c.id == bindparam("piece_id")
)
_RUN_OF = select(RUNS.c.id, RUNS.c.status, RUNS.c.station_id, RUNS.c.started_at).where(
    RUNS.c.piece_id == bindparam("piece_id"), RUNS.c.operation_id == bindparam("operation_id")
)
_OPEN_INTERVALS = select(INTERVALS.c.id).where(
    INTERVALS.c.run_id == bindparam("run_id"), INTERVALS.c.ended_at.is_(None)
)
_PARTICIPANTS_OF = select(PARTICIPANTS.c.student_id).where(
    PARTICIPANTS.c.run_id == bindparam("run_id")
)
_FINISHED_COUNT = (
    select(func.count())
    .select_from(RUNS)
    .where(RUNS.c.piece_id == bindparam("piece_id"), RUNS.c.status == "finished")
)
_UNDO_TARGET = (
    select(EVENTS.c.id, EVENTS.c.code, EVENTS.c.undo)
    .where(
        and_(
            EVENTS.c.station_id == bindparam("station_id"),
            EVENTS.c.status == "accepted",
            EVENTS.c.undone_by_id.is_(None),
            EVENTS.c.undo.is_not(None),
            EVENTS.c.received_at >= bindparam("cutoff"),
            EVENTS.c.id != bindparam("event_id"),
        )
    )
    .order_by(EVENTS.c.id.desc())
    .limit(1)
)
_MARK_UNDONE = (
    update(EVENTS)
    .where(EVENTS.c.id == bindparam("k_id"))
    .values(undone_by_id=bindparam("v_undone_by_id"))
)


def load_state(conn: Connection, station_id: int, lock: bool = True) -> StateRow:
    """Return a station's live state (locked for this transaction), creating it once."""
    run_piece = _RUN_PIECE
    query = _STATE_QUERY_LOCKED if lock else _STATE_QUERY
    row = conn.execute(query, {"station_id": station_id}).first()
    if row is None:
        conn.execute(STATES.insert().values(station_id=station_id, paused_by_exit=False))
        return StateRow(station_id, None, None, None, None, None, None, False)
    values = row._mapping
    state = StateRow(
        station_id=station_id,
        work_order_id=values[STATES.c.work_order_id],
        operation_id=values[STATES.c.operation_id],
        piece_id=values[STATES.c.piece_id],
        active_run_id=values[STATES.c.active_run_id],
        acting_for_id=values[STATES.c.acting_for_id],
        last_scan_at=values[STATES.c.last_scan_at],
        paused_by_exit=bool(values[STATES.c.paused_by_exit]),
        piece_code=values[PIECES.c.code],
    )
    if values[RUNS.c.id] is not None:
        state.run = RunRow(
            id=values[RUNS.c.id],
            piece_id=values[RUNS.c.piece_id],
            piece_code=values[run_piece.c.code],
            work_order_id=values[run_piece.c.work_order_id],
            operation_id=values[RUNS.c.operation_id],
            station_id=values[RUNS.c.station_id],
            status=values[RUNS.c.status],
            started_at=values[RUNS.c.started_at],
        )
    return state


def present_students(conn: Connection, catalog: Catalog, station_id: int) -> list[StudentInfo]:
    """Return who is badged in at a station, in the order they arrived."""
    rows = conn.execute(_PRESENT, {"station_id": station_id})
    return [catalog.students[row.student_id] for row in rows]


def names(students: list[StudentInfo]) -> str:
    """Join first names the French way: « Lucas », « Lucas et Emma », « A, B et C »."""
    first = [student.first_name for student in students]
    if len(first) <= 1:
        return "".join(first)
    return ", ".join(first[:-1]) + " et " + first[-1]


def operation_ref(operation: OperationInfo) -> dict[str, Any]:
    """Describe a routing step for the API."""
    return {
        "code": operation.code,
        "step": operation.step,
        "type": operation.type_code,
        "name": operation.name,
    }


def summarize(
    catalog: Catalog,
    station: StationInfo,
    state: StateRow,
    students: list[StudentInfo],
    kiosk: StationInfo | None = None,
) -> dict[str, Any]:
    """Describe a station's live state as the API shows it."""
    work_order = catalog.work_orders.get(state.work_order_id) if state.work_order_id else None
    operation = catalog.operations.get(state.operation_id) if state.operation_id else None
    summary: dict[str, Any] = {
        "code": station.code,
        "name": station.name,
        "kind": station.kind,
        "students": [{"id": s.code, "name": s.name} for s in students],
        "work_order": (
            {"number": work_order.number, "product": work_order.product} if work_order else None
        ),
        "operation": operation_ref(operation) if operation else None,
        "piece": state.piece_code if state.piece_id else None,
        "run": None,
    }
    if state.run is not None:
        summary["run"] = {
            "piece": state.run.piece_code,
            "operation": operation_ref(catalog.operations[state.run.operation_id]),
            "status": state.run.status,
            "started_at": iso(state.run.started_at),
        }
    if station.kind == KIOSK and state.acting_for_id is not None:
        summary["acting_for"] = catalog.stations[state.acting_for_id].code
    if kiosk is not None:
        summary["via_kiosk"] = kiosk.code
    return summary


class StationRules:
    """Apply one parsed scan to the shop, at the station the scan acts on."""

    def __init__(self, ctx: ScanContext, catalog: Catalog, conn: Connection) -> None:
        self.ctx = ctx
        self.catalog = catalog
        self.conn = conn
        self.writer = ShopWriter(conn)
        self.runs_changed: set[int] = set()
        self._state_before: dict[int, tuple[StateRow, dict[str, Any]]] = {}
        self._present_cache: dict[int, list[StudentInfo]] = {}

    # -- helpers ---------------------------------------------------------------------------

    def _set_state(self, state: StateRow, **new: Any) -> None:
        # Station state changes are written once, at the end of the scan (see flush_states).
        if state.station_id not in self._state_before:
            self._state_before[state.station_id] = (state, state.fields())
        for key, value in new.items():
            setattr(state, key, value)

    def flush_states(self, touched_device: StateRow | None = None) -> None:
        """Write the pending station state changes, one statement per station."""
        if touched_device is not None and touched_device.station_id not in self._state_before:
            self._state_before[touched_device.station_id] = (
                touched_device,
                touched_device.fields(),
            )
        for station_id, (state, before) in self._state_before.items():
            after = state.fields()
            unlogged = None
            if touched_device is not None and station_id == touched_device.station_id:
                # Not undo-logged: it only dates the device's last scan, for the kiosk timeout.
                unlogged = {"last_scan_at": self.ctx.now}
                after["last_scan_at"] = before["last_scan_at"]
            self.writer.update(STATES, {"station_id": station_id}, before, after, unlogged)
        self._state_before.clear()

    def present(self, station_id: int) -> list[StudentInfo]:
        """Return who is badged in at a station (read once per scan, kept up to date)."""
        cached = self._present_cache.get(station_id)
        if cached is None:
            cached = self._present_cache[station_id] = present_students(
                self.conn, self.catalog, station_id
            )
        return cached

    def _require_student(self, station: StationInfo) -> list[StudentInfo]:
        present = self.present(station.id)
        if not present:
            raise Rejected(
                "no_student",
                "Scanne d'abord ton badge, puis l'étiquette.",
                f"nobody badged in at {station.code}",
            )
        return present

    def _effective_station(self, device_state: StateRow) -> tuple[StationInfo, StateRow]:
        device = self.ctx.device_station
        if device.kind != KIOSK:
            return device, device_state
        acting_id = device_state.acting_for_id
        expired = (
            device_state.last_scan_at is None
            or self.ctx.now - device_state.last_scan_at > self.ctx.kiosk_timeout
        )
        if acting_id is None or expired:
            raise Rejected(
                "no_station",
                "Scanne d'abord l'étiquette du poste où tu travailles (elle commence par ST-).",
                "kiosk is not acting for any station",
            )
        return self.catalog.stations[acting_id], load_state(self.conn, acting_id)

    def _run_label(self, run: RunRow) -> str:
        return f"{self.catalog.operations[run.operation_id].name} sur la pièce {run.piece_code}"

    # -- entry point -----------------------------------------------------------------------

    def apply(self, parsed: ParsedCode) -> Applied:
        """Apply the scan and return its feedback, or raise Rejected."""
        device_state = load_state(self.conn, self.ctx.device_station.id)
        if parsed.kind is CodeKind.ACTION and parsed.action is Action.UNDO:
            self.ctx.station, self.ctx.state = self.ctx.device_station, device_state
            applied = self.undo_last()
            # The undo changed rows behind our back: read the state again for the answer.
            self.ctx.state = load_state(self.conn, self.ctx.device_station.id, lock=False)
            return applied
        if parsed.kind is CodeKind.STATION:
            self.ctx.station, self.ctx.state = self.ctx.device_station, device_state
            applied = self.select_station(device_state, parsed.text)
        else:
            station, state = self._effective_station(device_state)
            self.ctx.station, self.ctx.state = station, state
            if parsed.kind is CodeKind.BADGE:
                applied = self.badge(station, state, parsed)
            elif parsed.kind is CodeKind.ACTION:
                applied = self.action(station, state, parsed.action, device_state)
            else:
                self._require_student(station)
                if parsed.kind is CodeKind.WORK_ORDER:
                    applied = self.work_order(state, parsed.text)
                elif parsed.kind is CodeKind.OPERATION:
                    applied = self.operation(station, state, parsed)
                else:
                    applied = self.piece(station, state, parsed.text)
        self.flush_states(touched_device=device_state)
        device_state.last_scan_at = self.ctx.now
        applied.runs_changed |= self.runs_changed
        return applied

    # -- station selection (kiosks) --------------------------------------------------------

    def select_station(self, device_state: StateRow, code: str) -> Applied:
        """Make a kiosk act for the scanned station (or for itself again)."""
        device = self.ctx.device_station
        target = self.catalog.station_by_code(code)
        if target is None:
            raise Rejected(
                "unknown_code",
                f"Poste inconnu : {code}. Vérifie l'étiquette du poste.",
                f"unknown station {code}",
            )
        if device.kind != KIOSK:
            if target.id == device.id:
                return Applied(f"Tu es bien au poste {device.name}.")
            raise Rejected(
                "not_allowed",
                f"Ce lecteur appartient au poste {device.name} : "
                "il ne peut pas agir pour un autre.",
                f"station scan {code} at non-kiosk {device.code}",
            )
        if target.id == device.id or target.kind == KIOSK:
            self._set_state(device_state, acting_for_id=None)
            return Applied(f"La borne {device.name} est prête : scanne l'étiquette de ton poste.")
        self._set_state(device_state, acting_for_id=target.id)
        return Applied(f"La borne agit maintenant pour : {target.name}. Scanne ton badge.")

    # -- badges ----------------------------------------------------------------------------

    def badge(self, station: StationInfo, state: StateRow, parsed: ParsedCode) -> Applied:
        """Badge a student in at the station, or out if they are already in."""
        holder = self.catalog.badges.get(parsed.text)
        if holder is None:
            raise Rejected(
                "unknown_code",
                "Badge inconnu. Demande à ton maître pro de l'enregistrer.",
                f"unknown badge {parsed.text}",
            )
        if holder[0] != "student":
            raise Rejected(
                "not_allowed",
                "Ce badge est celui d'un encadrant : il ne sert pas à travailler sur un poste.",
                f"staff badge {parsed.text} at {station.code}",
            )
        student = self.catalog.students[holder[1]]
        if not student.active:
            raise Rejected(
                "not_allowed",
                "Ce badge est désactivé. Va voir ton maître pro.",
                f"inactive student {student.code}",
            )
        current = self.conn.execute(_OPEN_PRESENCE_OF, {"student_id": student.id}).first()
        if current is not None and current.station_id == station.id:
            applied = self._badge_out(station, state, [(current.id, student)])
            applied.student_id = student.id
            return applied
        moved_from = ""
        if current is not None:
            previous = self.catalog.stations[current.station_id]
            self._end_presence(current.id, current.station_id)
            self._pause_if_empty(load_state(self.conn, previous.id))
            moved_from = f" (tu as été sorti·e du poste {previous.name})"
        self.writer.insert(
            PRESENCES,
            {"station_id": station.id, "student_id": student.id, "started_at": self.ctx.now},
        )
        self._present_cache.pop(station.id, None)
        message = f"Bonjour {student.first_name} — badge accepté{moved_from}."
        run = state.run
        if run is not None:
            if run.status == "running":
                self._join(run, [student.id])
                message += f" Tu rejoins : {self._run_label(run)}."
            elif state.paused_by_exit:
                self._resume(run, state)
                message += f" Reprise : {self._run_label(run)}."
            else:
                message += f" {self._run_label(run)} est en pause : scanne A-PAUSE pour reprendre."
        return Applied(message, student_id=student.id)

    def _end_presence(self, presence_id: int, station_id: int) -> None:
        self.writer.update(
            PRESENCES, {"id": presence_id}, {"ended_at": None}, {"ended_at": self.ctx.now}
        )
        self._present_cache.pop(station_id, None)

    def _badge_out(
        self, station: StationInfo, state: StateRow, leaving: list[tuple[int, StudentInfo]]
    ) -> Applied:
        for presence_id, _student in leaving:
            self._end_presence(presence_id, station.id)
        paused = self._pause_if_empty(state)
        who = names([student for _, student in leaving])
        message = f"À bientôt {who} — sortie du poste {station.name} enregistrée."
        if paused is not None:
            message += f" Plus personne au poste : {self._run_label(paused)} est mis en pause."
        return Applied(message)

    def _pause_if_empty(self, state: StateRow) -> RunRow | None:
        if self.present(state.station_id):
            return None
        run = state.run
        if run is None or run.status != "running":
            return None
        self._pause(run)
        self._set_state(state, paused_by_exit=True)
        return run

    # -- work orders, operations, pieces ---------------------------------------------------

    def _find_work_order(self, number: str) -> int:
        work_order = self.catalog.work_order_by_number(number)
        if work_order is None:
            raise Rejected(
                "unknown_code",
                f"{number} n'existe pas. Vérifie le numéro sur la fiche suiveuse.",
                f"unknown work order {number}",
            )
        return work_order.id

    def work_order(self, state: StateRow, number: str) -> Applied:
        """Set the work order the station works on."""
        work_order = self.catalog.work_orders[self._find_work_order(number)]
        changes: dict[str, Any] = {"work_order_id": work_order.id}
        if state.operation_id is not None:
            operation = self.catalog.operations.get(state.operation_id)
            if operation is None or operation.work_order_id != work_order.id:
                changes["operation_id"] = None
        if state.piece_id is not None:
            piece = self.conn.execute(_PIECE_BY_ID, {"piece_id": state.piece_id}).first()
            if piece is None or piece.work_order_id != work_order.id:
                changes["piece_id"] = None
        self._set_state(state, **changes)
        plural = "s" if work_order.quantity > 1 else ""
        return Applied(
            f"{work_order.number} — {work_order.product} ({work_order.quantity} pièce{plural}). "
            "Scanne l'opération ou la pièce."
        )

    def operation(self, station: StationInfo, state: StateRow, parsed: ParsedCode) -> Applied:
        """Select a routing step; with a piece selected, start the operation on it."""
        assert parsed.work_order is not None and parsed.step is not None
        work_order_id = self._find_work_order(parsed.work_order)
        operation = self.catalog.operation_at(work_order_id, parsed.step)
        if operation is None:
            raise Rejected(
                "unknown_code",
                f"{parsed.work_order} n'a pas d'opération {parsed.step:02d}. "
                "Vérifie la fiche suiveuse.",
                f"no step {parsed.step} in {parsed.work_order}",
            )
        self._check_station_kind(station, operation)
        piece = None
        if state.piece_id is not None:
            row = self.conn.execute(_PIECE_BY_ID, {"piece_id": state.piece_id}).first()
            if row is not None and row.work_order_id == work_order_id:
                piece = row
        existing = None
        if piece is not None:
            existing = self._check_can_start(station, piece.id, piece.code, operation)
        self._set_state(
            state,
            work_order_id=work_order_id,
            operation_id=operation.id,
            piece_id=piece.id if piece is not None else None,
        )
        if piece is None:
            return Applied(
                f"Opération {operation.step:02d} — {operation.name}. Scanne maintenant la pièce."
            )
        return self._start(
            station=station,
            state=state,
            piece_id=piece.id,
            piece_code=piece.code,
            operation=operation,
            existing=existing,
        )

    def piece(self, station: StationInfo, state: StateRow, code: str) -> Applied:
        """Select a piece (creating a new label under the work order in context)."""
        piece = self.conn.execute(_PIECE_BY_CODE, {"code": code}).first()
        created = False
        if piece is None:
            if state.work_order_id is None:
                raise Rejected(
                    "no_work_order",
                    "Nouvelle étiquette : scanne d'abord la fiche suiveuse (OF) de cette pièce.",
                    f"unknown piece {code} without a work order in context",
                )
            piece_id = self.writer.insert(
                PIECES,
                {
                    "code": code,
                    "work_order_id": state.work_order_id,
                    "status": "in_progress",
                    "created_at": self.ctx.now,
                },
            )
            work_order_id, created = state.work_order_id, True
        else:
            if piece.status != "in_progress":
                raise Rejected(
                    "not_allowed",
                    f"La pièce {code} est terminée : elle attend la validation du maître pro.",
                    f"piece {code} is {piece.status}",
                )
            piece_id, work_order_id = piece.id, piece.work_order_id
        operation = self.catalog.operations.get(state.operation_id) if state.operation_id else None
        if operation is not None and operation.work_order_id != work_order_id:
            operation = None
        existing = None
        if operation is not None and not created:
            existing = self._check_can_start(station, piece_id, code, operation)
        self._set_state(
            state,
            work_order_id=work_order_id,
            piece_id=piece_id,
            operation_id=operation.id if operation is not None else None,
        )
        state.piece_code = code
        number = self.catalog.work_orders[work_order_id].number
        intro = (
            f"Nouvelle pièce {code} enregistrée pour {number}."
            if created
            else f"Pièce {code} ({number})."
        )
        if operation is None:
            return Applied(f"{intro} Scanne maintenant l'opération.")
        applied = self._start(
            station=station,
            state=state,
            piece_id=piece_id,
            piece_code=code,
            operation=operation,
            existing=existing,
        )
        applied.message = f"{intro} {applied.message}"
        return applied

    def _check_station_kind(self, station: StationInfo, operation: OperationInfo) -> None:
        wanted = operation.station_kind
        if wanted and wanted != station.kind:
            raise Rejected(
                "not_allowed",
                f"L'opération {operation.name} se fait sur "
                f"{KIND_LABELS.get(wanted, wanted)}, pas au poste {station.name}.",
                f"operation kind {wanted} at {station.kind} station {station.code}",
            )

    def _check_can_start(
        self, station: StationInfo, piece_id: int, code: str, operation: OperationInfo
    ) -> Any:
        """Refuse to start an operation done already, or in progress elsewhere."""
        run = self.conn.execute(
            _RUN_OF, {"piece_id": piece_id, "operation_id": operation.id}
        ).first()
        if run is None:
            return None
        if run.status == "finished":
            raise Rejected(
                "not_allowed",
                f"L'opération {operation.step:02d} ({operation.name}) est déjà "
                f"terminée sur la pièce {code}.",
                f"run {run.id} already finished",
            )
        if run.station_id != station.id:
            where = self.catalog.stations[run.station_id].name
            raise Rejected(
                "not_allowed",
                f"La pièce {code} est déjà en cours pour cette opération au poste {where}.",
                f"run {run.id} belongs to station {run.station_id}",
            )
        return run

    # -- runs ------------------------------------------------------------------------------

    def _join(self, run: RunRow, student_ids: list[int]) -> None:
        rows = [
            {"run_id": run.id, "student_id": student_id, "joined_at": self.ctx.now}
            for student_id in student_ids
        ]
        self.writer.insert_ignore(PARTICIPANTS, rows, ["run_id", "student_id"])

    def _pause(self, run: RunRow) -> None:
        for (interval_id,) in self.conn.execute(_OPEN_INTERVALS, {"run_id": run.id}).all():
            self.writer.update(
                INTERVALS, {"id": interval_id}, {"ended_at": None}, {"ended_at": self.ctx.now}
            )
        self.writer.update(RUNS, {"id": run.id}, {"status": run.status}, {"status": "paused"})
        run.status = "paused"
        self.runs_changed.add(run.station_id)

    def _resume(self, run: RunRow, state: StateRow) -> None:
        self.writer.update(RUNS, {"id": run.id}, {"status": run.status}, {"status": "running"})
        run.status = "running"
        self.writer.insert(
            INTERVALS, {"run_id": run.id, "station_id": run.station_id, "started_at": self.ctx.now}
        )
        self._join(run, [s.id for s in self.present(run.station_id)])
        self._set_state(state, paused_by_exit=False)
        self.runs_changed.add(run.station_id)

    def _start(
        self,
        *,
        station: StationInfo,
        state: StateRow,
        piece_id: int,
        piece_code: str,
        operation: OperationInfo,
        existing: Any,
    ) -> Applied:
        message = ""
        current = state.run
        other = current is not None and (current.piece_id, current.operation_id) != (
            piece_id,
            operation.id,
        )
        if other and current is not None and current.status == "running":
            self._pause(current)
            message = f"{self._run_label(current)} est mis en pause. "
        if existing is None:
            run_id = self.writer.insert(
                RUNS,
                {
                    "piece_id": piece_id,
                    "operation_id": operation.id,
                    "station_id": station.id,
                    "status": "running",
                    "started_at": self.ctx.now,
                },
            )
            run = RunRow(
                run_id,
                piece_id,
                piece_code,
                operation.work_order_id,
                operation.id,
                station.id,
                "running",
                self.ctx.now,
            )
            self.writer.insert(
                INTERVALS, {"run_id": run_id, "station_id": station.id, "started_at": self.ctx.now}
            )
            self._join(run, [s.id for s in self.present(station.id)])
            self.runs_changed.add(station.id)
            message += f"C'est parti : {operation.name} sur la pièce {piece_code}."
        else:
            run = RunRow(
                existing.id,
                piece_id,
                piece_code,
                operation.work_order_id,
                operation.id,
                existing.station_id,
                existing.status,
                existing.started_at,
            )
            if run.status == "paused":
                self._resume(run, state)
                message += f"Reprise : {operation.name} sur la pièce {piece_code}."
            else:
                message += f"{operation.name} sur la pièce {piece_code} est déjà en cours."
        self._set_state(state, active_run_id=run.id, piece_id=None, paused_by_exit=False)
        state.run = run
        return Applied(message)

    # -- actions ---------------------------------------------------------------------------

    def action(
        self,
        station: StationInfo,
        state: StateRow,
        action: Action | None,
        device_state: StateRow,
    ) -> Applied:
        """Apply A-FIN, A-PAUSE or A-SORTIE at the station."""
        if action is Action.LEAVE:
            rows = self.conn.execute(_PRESENT, {"station_id": station.id}).all()
            if device_state is not state:
                self._set_state(device_state, acting_for_id=None)
            if not rows:
                return Applied(f"Personne n'est badgé au poste {station.name}.")
            leaving = [(row.id, self.catalog.students[row.student_id]) for row in rows]
            return self._badge_out(station, state, leaving)
        self._require_student(station)
        run = state.run
        if run is None:
            raise Rejected(
                "no_operation",
                "Aucune opération en cours à ce poste : scanne d'abord l'opération et la pièce.",
                f"no active run at {station.code}",
            )
        if action is Action.PAUSE:
            if run.status == "running":
                self._pause(run)
                self._set_state(state, paused_by_exit=False)
                return Applied(f"Pause : {self._run_label(run)}. Scanne A-PAUSE pour reprendre.")
            self._resume(run, state)
            return Applied(f"Reprise : {self._run_label(run)}.")
        return self.finish(station, state, run)

    def finish(self, station: StationInfo, state: StateRow, run: RunRow) -> Applied:
        """Finish the run, give its students their evidence, and close the piece if done."""
        if run.status == "running":
            self._pause(run)
        self.writer.update(
            RUNS,
            {"id": run.id},
            {"status": run.status, "finished_at": None},
            {"status": "finished", "finished_at": self.ctx.now},
        )
        run.status = "finished"
        self._join(run, [s.id for s in self.present(station.id)])
        participants = [
            student_id for (student_id,) in self.conn.execute(_PARTICIPANTS_OF, {"run_id": run.id})
        ]
        grant_evidence(
            writer=self.writer,
            catalog=self.catalog,
            run_id=run.id,
            operation_id=run.operation_id,
            student_ids=participants,
            event_db_id=self.ctx.event_db_id,
            now=self.ctx.now,
        )
        self._set_state(state, active_run_id=None, paused_by_exit=False)
        state.run = None
        self.runs_changed.add(station.id)
        message = f"Bravo ! {self._run_label(run)} : terminé."
        done = self.conn.execute(_FINISHED_COUNT, {"piece_id": run.piece_id}).scalar_one()
        steps = self.catalog.work_orders[run.work_order_id].steps
        if steps and done >= steps:
            self.writer.update(
                PIECES,
                {"id": run.piece_id},
                {"status": "in_progress", "completed_at": None},
                {"status": "awaiting_review", "completed_at": self.ctx.now},
            )
            message += " La pièce est finie : elle attend la validation du maître pro."
        return Applied(message)

    # -- undo ------------------------------------------------------------------------------

    def undo_last(self) -> Applied:
        """Undo the last accepted scan made on this device, if it is recent enough."""
        device = self.ctx.device_station
        cutoff = self.ctx.now - self.ctx.undo_window
        target = self.conn.execute(
            _UNDO_TARGET,
            {"station_id": device.id, "cutoff": cutoff, "event_id": self.ctx.event_db_id},
        ).first()
        if target is None or not target.undo:
            raise Rejected(
                "nothing_to_undo",
                "Rien à annuler : on ne peut annuler que le dernier scan, dans la minute.",
                f"nothing undoable at {device.code}",
            )
        try:
            apply_undo(self.conn, target.undo)
        except UndoConflict as exc:
            raise Rejected(
                "undo_conflict",
                "Impossible d'annuler : la situation a changé depuis ce scan. "
                "Demande à ton maître pro.",
                f"undo of event {target.id} conflicts: {exc}",
            ) from exc
        self.conn.execute(_MARK_UNDONE, {"k_id": target.id, "v_undone_by_id": self.ctx.event_db_id})
        # Whatever the undone scan did to runs, stations may need their WPS limits again.
        self.runs_changed.update(self.catalog.stations)
        return Applied(f"Annulé : le scan « {target.code} » ne compte plus.")


def grant_evidence(
    *,
    writer: ShopWriter,
    catalog: Catalog,
    run_id: int,
    operation_id: int,
    student_ids: list[int],
    event_db_id: int | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """Give students evidence of a run's competencies, each only for their own framework.

    Evidence that already exists (from a weld of the same run, or a replay) is left as it
    is; the rows created are returned.
    """
    rows = evidence_rows(
        catalog=catalog,
        run_id=run_id,
        operation_id=operation_id,
        student_ids=student_ids,
        event_id=event_db_id,
        now=now,
    )
    return writer.insert_ignore(EVIDENCE, rows, ["student_id", "competency_id", "run_id"])


def evidence_rows(
    *,
    catalog: Catalog,
    run_id: int,
    operation_id: int,
    student_ids: Iterable[int],
    event_id: int | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """Return the evidence rows a run gives students: only their own framework's competencies."""
    type_id = catalog.operations[operation_id].type_id
    return [
        {
            "student_id": student_id,
            "competency_id": competency_id,
            "run_id": run_id,
            "event_id": event_id,
            "created_at": now,
        }
        for student_id in sorted(set(student_ids))
        if student_id in catalog.students
        for competency_id in catalog.competencies.get(
            (type_id, catalog.students[student_id].framework_id), []
        )
    ]
