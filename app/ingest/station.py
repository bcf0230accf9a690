"""The station state rules: what each scan does to the shop (CONTRACT.md section 3).

Every refusal raises ``Rejected`` with a message a 15-year-old understands, before any
change is made; every change goes through the scan's ``UndoLog``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from app.extensions import Base, db
from app.ingest import evidence as evidence_service
from app.ingest.codes import Action, CodeKind, ParsedCode
from app.ingest.undo import UndoConflict, UndoLog, apply_undo
from app.models import (
    Badge,
    Event,
    Operation,
    OperationRun,
    Piece,
    Presence,
    RunInterval,
    RunParticipant,
    Station,
    StationState,
    Student,
    WorkOrder,
)

KIOSK = "kiosk"

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
    after_commit: list[Any] = field(default_factory=list)


@dataclass
class ScanContext:
    """Where a scan happened and what it may change."""

    event_db_id: int
    now: datetime
    device_station: Station
    undo_window: timedelta
    kiosk_timeout: timedelta
    undo: UndoLog = field(default_factory=UndoLog)
    # The station the scan acts on (the device's own, or the one a kiosk acts for).
    station: Station | None = None


def load_state(station: Station, lock: bool = True) -> StationState:
    """Return the station's live state row, locked for this transaction, creating it once."""
    query = select(StationState).where(StationState.station_id == station.id)
    if lock:
        query = query.with_for_update()
    state = db.session.execute(query).scalar_one_or_none()
    if state is None:
        state = StationState(station_id=station.id)
        db.session.add(state)
        db.session.flush()
    return state


def open_presences(station_id: int) -> list[Presence]:
    """Return who is badged in at a station, in the order they arrived."""
    return list(
        db.session.execute(
            select(Presence)
            .where(Presence.station_id == station_id, Presence.ended_at.is_(None))
            .order_by(Presence.started_at, Presence.id)
        ).scalars()
    )


def names(students: list[Student]) -> str:
    """Join first names the French way: « Lucas », « Lucas et Emma », « A, B et C »."""
    first = [student.first_name for student in students]
    if len(first) <= 1:
        return "".join(first)
    return ", ".join(first[:-1]) + " et " + first[-1]


class StationRules:
    """Apply one parsed scan to the shop, at the station the scan acts on."""

    def __init__(self, ctx: ScanContext) -> None:
        self.ctx = ctx
        self.undo = ctx.undo

    # -- helpers ---------------------------------------------------------------------------

    def _add(self, obj: Base) -> None:
        db.session.add(obj)
        db.session.flush()
        self.undo.record_created(obj)

    def _effective_station(self, device_state: StationState) -> tuple[Station, StationState]:
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
        station = db.session.get(Station, acting_id)
        assert station is not None
        return station, load_state(station)

    def _require_student(self, station: Station) -> list[Presence]:
        present = open_presences(station.id)
        if not present:
            raise Rejected(
                "no_student",
                "Scanne d'abord ton badge, puis l'étiquette.",
                f"nobody badged in at {station.code}",
            )
        return present

    def _touch(self, state: StationState, **values: Any) -> None:
        self.undo.set(state, **values)

    # -- entry point -----------------------------------------------------------------------

    def apply(self, parsed: ParsedCode) -> Applied:
        """Apply the scan and return its feedback, or raise Rejected."""
        device_state = load_state(self.ctx.device_station)
        if parsed.kind is CodeKind.STATION:
            applied = self.select_station(device_state, parsed.text)
            self.ctx.station = self.ctx.device_station
            device_state.last_scan_at = self.ctx.now
            return applied
        if parsed.kind is CodeKind.ACTION and parsed.action is Action.UNDO:
            self.ctx.station = self.ctx.device_station
            return self.undo_last()
        station, state = self._effective_station(device_state)
        self.ctx.station = station
        if parsed.kind is CodeKind.BADGE:
            applied = self.badge(station, state, parsed)
        elif parsed.kind is CodeKind.ACTION:
            applied = self.action(station, state, parsed.action, device_state)
        else:
            self._require_student(station)
            if parsed.kind is CodeKind.WORK_ORDER:
                applied = self.work_order(station, state, parsed.text)
            elif parsed.kind is CodeKind.OPERATION:
                applied = self.operation(station, state, parsed)
            else:
                applied = self.piece(station, state, parsed.text)
        # Not undo-logged: it only dates the device's last scan, for the kiosk timeout.
        device_state.last_scan_at = self.ctx.now
        return applied

    # -- station selection (kiosks) --------------------------------------------------------

    def select_station(self, device_state: StationState, code: str) -> Applied:
        """Make a kiosk act for the scanned station (or for itself again)."""
        device = self.ctx.device_station
        target = db.session.execute(
            select(Station).where(Station.code == code)
        ).scalar_one_or_none()
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
            self._touch(device_state, acting_for_id=None)
            return Applied(f"La borne {device.name} est prête : scanne l'étiquette de ton poste.")
        self._touch(device_state, acting_for_id=target.id)
        return Applied(f"La borne agit maintenant pour : {target.name}. Scanne ton badge.")

    # -- badges ----------------------------------------------------------------------------

    def badge(self, station: Station, state: StationState, parsed: ParsedCode) -> Applied:
        """Badge a student in at the station, or out if they are already in."""
        badge = db.session.execute(
            select(Badge).where(Badge.code == parsed.text)
        ).scalar_one_or_none()
        if badge is None:
            raise Rejected(
                "unknown_code",
                "Badge inconnu. Demande à ton maître pro de l'enregistrer.",
                f"unknown badge {parsed.text}",
            )
        if badge.student is None:
            raise Rejected(
                "not_allowed",
                "Ce badge est celui d'un encadrant : il ne sert pas à travailler sur un poste.",
                f"staff badge {parsed.text} at {station.code}",
            )
        student = badge.student
        if not student.active:
            raise Rejected(
                "not_allowed",
                "Ce badge est désactivé. Va voir ton maître pro.",
                f"inactive student {student.code}",
            )
        current = db.session.execute(
            select(Presence).where(Presence.student_id == student.id, Presence.ended_at.is_(None))
        ).scalar_one_or_none()
        if current is not None and current.station_id == station.id:
            applied = self._badge_out(station, state, [current])
            applied.student_id = student.id
            return applied
        moved_from = ""
        if current is not None:
            previous = db.session.get(Station, current.station_id)
            assert previous is not None
            self.undo.set(current, ended_at=self.ctx.now)
            db.session.flush()
            self._pause_if_empty(previous, load_state(previous))
            moved_from = f" (tu as été sorti·e du poste {previous.name})"
        self._add(Presence(station_id=station.id, student_id=student.id, started_at=self.ctx.now))
        message = f"Bonjour {student.first_name} — badge accepté{moved_from}."
        run = self._active_run(state)
        if run is not None:
            if run.status == "running":
                self._join(run, student.id)
                message += f" Tu rejoins : {self._run_label(run)}."
            elif state.paused_by_exit:
                self._resume(run, state)
                message += f" Reprise : {self._run_label(run)}."
            else:
                message += f" {self._run_label(run)} est en pause : scanne A-PAUSE pour reprendre."
        return Applied(message, student_id=student.id)

    def _badge_out(self, station: Station, state: StationState, leaving: list[Presence]) -> Applied:
        for presence in leaving:
            self.undo.set(presence, ended_at=self.ctx.now)
        db.session.flush()
        students = [presence.student for presence in leaving]
        paused = self._pause_if_empty(station, state)
        who = names(students)
        message = f"À bientôt {who} — sortie du poste {station.name} enregistrée."
        if paused is not None:
            message += f" Plus personne au poste : {self._run_label(paused)} est mis en pause."
        return Applied(message)

    def _pause_if_empty(self, station: Station, state: StationState) -> OperationRun | None:
        if open_presences(station.id):
            return None
        run = self._active_run(state)
        if run is None or run.status != "running":
            return None
        self._pause(run)
        self._touch(state, paused_by_exit=True)
        return run

    # -- work orders, operations, pieces ---------------------------------------------------

    def _find_work_order(self, number: str) -> WorkOrder:
        work_order = db.session.execute(
            select(WorkOrder).where(WorkOrder.number == number)
        ).scalar_one_or_none()
        if work_order is None:
            raise Rejected(
                "unknown_code",
                f"{number} n'existe pas. Vérifie le numéro sur la fiche suiveuse.",
                f"unknown work order {number}",
            )
        return work_order

    def work_order(self, station: Station, state: StationState, number: str) -> Applied:
        """Set the work order the station works on."""
        work_order = self._find_work_order(number)
        changes: dict[str, Any] = {"work_order_id": work_order.id}
        if state.operation_id is not None:
            operation = db.session.get(Operation, state.operation_id)
            if operation is None or operation.work_order_id != work_order.id:
                changes["operation_id"] = None
        if state.piece_id is not None:
            piece = db.session.get(Piece, state.piece_id)
            if piece is None or piece.work_order_id != work_order.id:
                changes["piece_id"] = None
        self._touch(state, **changes)
        return Applied(
            f"{work_order.number} — {work_order.product} ({work_order.quantity} pièce"
            f"{'s' if work_order.quantity > 1 else ''}). Scanne l'opération ou la pièce."
        )

    def operation(self, station: Station, state: StationState, parsed: ParsedCode) -> Applied:
        """Select a routing step; with a piece selected, start the operation on it."""
        assert parsed.work_order is not None and parsed.step is not None
        work_order = self._find_work_order(parsed.work_order)
        operation = db.session.execute(
            select(Operation).where(
                Operation.work_order_id == work_order.id, Operation.step == parsed.step
            )
        ).scalar_one_or_none()
        if operation is None:
            raise Rejected(
                "unknown_code",
                f"{work_order.number} n'a pas d'opération {parsed.step:02d}. "
                "Vérifie la fiche suiveuse.",
                f"no step {parsed.step} in {work_order.number}",
            )
        self._check_station_kind(station, operation)
        piece = db.session.get(Piece, state.piece_id) if state.piece_id is not None else None
        if piece is not None and piece.work_order_id != work_order.id:
            piece = None
        if piece is not None:
            self._check_can_start(station, piece, operation)
        changes: dict[str, Any] = {
            "work_order_id": work_order.id,
            "operation_id": operation.id,
            "piece_id": piece.id if piece is not None else None,
        }
        self._touch(state, **changes)
        name = operation.operation_type.name
        if piece is None:
            return Applied(f"Opération {operation.step:02d} — {name}. Scanne maintenant la pièce.")
        return self._start(station, state, piece, operation)

    def piece(self, station: Station, state: StationState, code: str) -> Applied:
        """Select a piece (creating a new label under the work order in context)."""
        piece = db.session.execute(select(Piece).where(Piece.code == code)).scalar_one_or_none()
        created = False
        if piece is None:
            if state.work_order_id is None:
                raise Rejected(
                    "no_work_order",
                    "Nouvelle étiquette : scanne d'abord la fiche suiveuse (OF) de cette pièce.",
                    f"unknown piece {code} without a work order in context",
                )
            piece = Piece(
                code=code,
                work_order_id=state.work_order_id,
                status="in_progress",
                created_at=self.ctx.now,
            )
            self._add(piece)
            created = True
        if piece.status != "in_progress":
            raise Rejected(
                "not_allowed",
                f"La pièce {piece.code} est terminée : elle attend la validation du maître pro.",
                f"piece {piece.code} is {piece.status}",
            )
        operation = (
            db.session.get(Operation, state.operation_id)
            if state.operation_id is not None
            else None
        )
        if operation is not None and operation.work_order_id != piece.work_order_id:
            operation = None
        if operation is not None:
            self._check_can_start(station, piece, operation)
        self._touch(
            state,
            work_order_id=piece.work_order_id,
            piece_id=piece.id,
            operation_id=operation.id if operation is not None else None,
        )
        intro = (
            f"Nouvelle pièce {piece.code} enregistrée pour {piece.work_order.number}."
            if created
            else f"Pièce {piece.code} ({piece.work_order.number})."
        )
        if operation is None:
            return Applied(f"{intro} Scanne maintenant l'opération.")
        applied = self._start(station, state, piece, operation)
        applied.message = f"{intro} {applied.message}"
        return applied

    def _check_station_kind(self, station: Station, operation: Operation) -> None:
        wanted = operation.operation_type.station_kind
        if wanted and wanted != station.kind:
            raise Rejected(
                "not_allowed",
                f"L'opération {operation.operation_type.name} se fait sur "
                f"{KIND_LABELS.get(wanted, wanted)}, pas au poste {station.name}.",
                f"operation kind {wanted} at {station.kind} station {station.code}",
            )

    def _check_can_start(self, station: Station, piece: Piece, operation: Operation) -> None:
        run = db.session.execute(
            select(OperationRun).where(
                OperationRun.piece_id == piece.id, OperationRun.operation_id == operation.id
            )
        ).scalar_one_or_none()
        if run is None:
            return
        if run.status == "finished":
            raise Rejected(
                "not_allowed",
                f"L'opération {operation.step:02d} ({operation.operation_type.name}) est déjà "
                f"terminée sur la pièce {piece.code}.",
                f"run {run.id} already finished",
            )
        if run.station_id != station.id:
            owner = db.session.get(Station, run.station_id)
            where = owner.name if owner is not None else "un autre poste"
            raise Rejected(
                "not_allowed",
                f"La pièce {piece.code} est déjà en cours pour cette opération au poste {where}.",
                f"run {run.id} belongs to station {run.station_id}",
            )

    # -- runs ------------------------------------------------------------------------------

    def _active_run(self, state: StationState) -> OperationRun | None:
        if state.active_run_id is None:
            return None
        return db.session.get(OperationRun, state.active_run_id)

    @staticmethod
    def _run_label(run: OperationRun) -> str:
        return f"{run.operation.operation_type.name} sur la pièce {run.piece.code}"

    def _join(self, run: OperationRun, student_id: int) -> None:
        exists = db.session.get(RunParticipant, (run.id, student_id))
        if exists is None:
            self._add(RunParticipant(run_id=run.id, student_id=student_id, joined_at=self.ctx.now))

    def _open_interval(self, run: OperationRun) -> None:
        self._add(RunInterval(run_id=run.id, station_id=run.station_id, started_at=self.ctx.now))

    def _close_interval(self, run: OperationRun) -> None:
        interval = db.session.execute(
            select(RunInterval).where(RunInterval.run_id == run.id, RunInterval.ended_at.is_(None))
        ).scalar_one_or_none()
        if interval is not None:
            self.undo.set(interval, ended_at=self.ctx.now)

    def _pause(self, run: OperationRun) -> None:
        self._close_interval(run)
        self.undo.set(run, status="paused")

    def _resume(self, run: OperationRun, state: StationState) -> None:
        self.undo.set(run, status="running")
        self._open_interval(run)
        for presence in open_presences(run.station_id):
            self._join(run, presence.student_id)
        self._touch(state, paused_by_exit=False)

    def _start(
        self, station: Station, state: StationState, piece: Piece, operation: Operation
    ) -> Applied:
        message = ""
        current = self._active_run(state)
        other = current is not None and (current.piece_id, current.operation_id) != (
            piece.id,
            operation.id,
        )
        if other and current is not None and current.status == "running":
            self._pause(current)
            message = f"{self._run_label(current)} est mis en pause. "
        run = db.session.execute(
            select(OperationRun).where(
                OperationRun.piece_id == piece.id, OperationRun.operation_id == operation.id
            )
        ).scalar_one_or_none()
        if run is None:
            run = OperationRun(
                piece_id=piece.id,
                operation_id=operation.id,
                station_id=station.id,
                status="running",
                started_at=self.ctx.now,
            )
            self._add(run)
            self._open_interval(run)
            for presence in open_presences(station.id):
                self._join(run, presence.student_id)
            message += f"C'est parti : {operation.operation_type.name} sur la pièce {piece.code}."
        elif run.status == "paused":
            self._resume(run, state)
            message += f"Reprise : {operation.operation_type.name} sur la pièce {piece.code}."
        else:
            message += (
                f"{operation.operation_type.name} sur la pièce {piece.code} est déjà en cours."
            )
        self._touch(state, active_run_id=run.id, piece_id=None, paused_by_exit=False)
        return Applied(message)

    # -- actions ---------------------------------------------------------------------------

    def action(
        self,
        station: Station,
        state: StationState,
        action: Action | None,
        device_state: StationState,
    ) -> Applied:
        """Apply A-FIN, A-PAUSE or A-SORTIE at the station."""
        if action is Action.LEAVE:
            present = open_presences(station.id)
            if device_state is not state:
                self._touch(device_state, acting_for_id=None)
            if not present:
                return Applied(f"Personne n'est badgé au poste {station.name}.")
            return self._badge_out(station, state, present)
        self._require_student(station)
        run = self._active_run(state)
        if run is None:
            raise Rejected(
                "no_operation",
                "Aucune opération en cours à ce poste : scanne d'abord l'opération et la pièce.",
                f"no active run at {station.code}",
            )
        if action is Action.PAUSE:
            if run.status == "running":
                self._pause(run)
                self._touch(state, paused_by_exit=False)
                return Applied(f"Pause : {self._run_label(run)}. Scanne A-PAUSE pour reprendre.")
            self._resume(run, state)
            return Applied(f"Reprise : {self._run_label(run)}.")
        return self.finish(station, state, run)

    def finish(self, station: Station, state: StationState, run: OperationRun) -> Applied:
        """Finish the run, give its students their evidence, and close the piece if done."""
        if run.status == "running":
            self._close_interval(run)
        self.undo.set(run, status="finished", finished_at=self.ctx.now)
        for presence in open_presences(station.id):
            self._join(run, presence.student_id)
        db.session.flush()
        for evidence_id in evidence_service.grant_for_run(run, self.ctx.event_db_id):
            self.undo.record_inserted("evidence", {"id": evidence_id}, {"run_id": run.id})
        self._touch(state, active_run_id=None, paused_by_exit=False)
        message = f"Bravo ! {self._run_label(run)} : terminé."
        piece = run.piece
        if self._routing_complete(piece):
            self.undo.set(piece, status="awaiting_review", completed_at=self.ctx.now)
            message += " La pièce est finie : elle attend la validation du maître pro."
        return Applied(message)

    @staticmethod
    def _routing_complete(piece: Piece) -> bool:
        steps = db.session.execute(
            select(func.count(Operation.id)).where(Operation.work_order_id == piece.work_order_id)
        ).scalar_one()
        done = db.session.execute(
            select(func.count(OperationRun.id)).where(
                OperationRun.piece_id == piece.id, OperationRun.status == "finished"
            )
        ).scalar_one()
        return bool(steps) and done >= steps

    # -- undo ------------------------------------------------------------------------------

    def undo_last(self) -> Applied:
        """Undo the last accepted scan made on this device, if it is recent enough."""
        device = self.ctx.device_station
        cutoff = self.ctx.now - self.ctx.undo_window
        target = db.session.execute(
            select(Event)
            .where(
                Event.station_id == device.id,
                Event.status == "accepted",
                Event.undone_by_id.is_(None),
                Event.undo.is_not(None),
                Event.received_at >= cutoff,
                Event.id != self.ctx.event_db_id,
            )
            .order_by(Event.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        if target is None or not target.undo:
            raise Rejected(
                "nothing_to_undo",
                "Rien à annuler : on ne peut annuler que le dernier scan, dans la minute.",
                f"nothing undoable at {device.code}",
            )
        try:
            apply_undo(target.undo)
        except UndoConflict as exc:
            raise Rejected(
                "undo_conflict",
                "Impossible d'annuler : la situation a changé depuis ce scan. "
                "Demande à ton maître pro.",
                f"undo of event {target.id} conflicts: {exc}",
            ) from exc
        target = db.session.get(Event, target.id)
        assert target is not None
        target.undone_by_id = self.ctx.event_db_id
        return Applied(f"Annulé : le scan « {target.code} » ne compte plus.")
