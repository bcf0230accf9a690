"""What each scan does to the shop: the station rules of docs/contract.md section 3.

Every refusal raises ``Refusal`` with a message a 15-year-old understands, before any
change is made. A station's reader acts on its station. A kiosk acts on the station whose
label was scanned on it last (until ``kiosk_station_timeout_s`` without a scan), and
otherwise on itself: it is the bench beside it, where badges, work orders, operations and
pieces work as at any station.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select

from app.ingest import cfg, undo
from app.ingest.core import Done, Refusal, Scope, handles
from app.ingest.events import BadRequest, Scan
from app.ingest.evidence import Grant, grant_evidence
from app.ingest.shop import (
    PRESENCES,
    Shop,
    StationAt,
    Unhabilitated,
    names,
    of_name,
    transient_run,
)
from app.models import (
    Badge,
    Event,
    OperationRun,
    StaffUser,
    Student,
    WorkOrder,
    first_name,
    table_of,
)
from app.read.board import workshop_timezone
from app.read.stations import station_statuses
from app.read.wording import french_day
from labels.codes import Action, CodeError, CodeKind, ParsedCode, parse_code

# A row of a Core statement, read by its columns' names.
Record = Any

EVENTS = table_of(Event)
BADGES = table_of(Badge)
STUDENTS = table_of(Student)
USERS = table_of(StaffUser)
WORK_ORDERS = table_of(WorkOrder)

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

_BADGE = (
    select(
        BADGES.c.student_id,
        BADGES.c.user_id,
        STUDENTS.c.code,
        STUDENTS.c.name,
        STUDENTS.c.active,
        PRESENCES.c.id.label("presence_id"),
        PRESENCES.c.station_id.label("presence_station_id"),
    )
    .select_from(
        BADGES.outerjoin(STUDENTS, STUDENTS.c.id == BADGES.c.student_id).outerjoin(
            PRESENCES,
            (PRESENCES.c.student_id == STUDENTS.c.id) & PRESENCES.c.ended_at.is_(None),
        )
    )
    .where(BADGES.c.site_id == bindparam("site_id"), BADGES.c.code == bindparam("code"))
)
# The kiosk's last accepted scan before this one: it acts for a station until it times out.
_LAST_SCAN_AT = select(func.max(EVENTS.c.received_at)).where(
    EVENTS.c.station_id == bindparam("station_id"),
    EVENTS.c.status == "accepted",
    EVENTS.c.id != bindparam("event_id"),
)
# Presences opened by scans made at a kiosk, at the station it acts for (or itself).
_BADGED_HERE = (
    select(PRESENCES.c.id, PRESENCES.c.student_id, STUDENTS.c.code, STUDENTS.c.name)
    .join(STUDENTS, STUDENTS.c.id == PRESENCES.c.student_id)
    .join(EVENTS, EVENTS.c.id == PRESENCES.c.event_id)
    .where(
        PRESENCES.c.station_id == bindparam("station_id"),
        PRESENCES.c.ended_at.is_(None),
        EVENTS.c.station_id == bindparam("kiosk_id"),
    )
    .order_by(PRESENCES.c.started_at, PRESENCES.c.id)
)


_ORDER_STATUS = select(WORK_ORDERS.c.number, WORK_ORDERS.c.status).where(
    WORK_ORDERS.c.id == bindparam("work_order_id")
)
CLOSED_WORDS = {"closed": "clôturé", "cancelled": "annulé"}


class ScanRules:
    """Apply one scan at the station it acts on."""

    def __init__(self, scope: Scope, shop: Shop, device: StationAt) -> None:
        self.scope = scope
        self.shop = shop
        self.device = device
        self.student_id: int | None = None

    # -- entry point -----------------------------------------------------------------------

    def apply(self, parsed: ParsedCode) -> tuple[str, StationAt]:
        """Apply the scan; return its French message and the station it acted on."""
        if parsed.kind is CodeKind.ACTION and parsed.action is Action.UNDO:
            return self.undo_last(), self.device
        if parsed.kind is CodeKind.STATION:
            return self.select_station(parsed.text), self.device
        station = self.effective_station()
        if parsed.kind is CodeKind.BADGE:
            message = self.badge(station, parsed)
        elif parsed.kind is CodeKind.ACTION:
            message = self.action(station, parsed.action)
        else:
            self.require_student(station)
            if parsed.kind is CodeKind.WORK_ORDER:
                message = self.work_order(station, parsed.text)
            elif parsed.kind is CodeKind.OPERATION:
                message = self.operation(station, parsed)
            else:
                message = self.piece(station, parsed.text)
        return message, station

    def finish_event(self) -> None:
        """Write the changed station contexts and queue the new cfg of welding stations."""
        self.shop.flush()
        welding = [
            station_id
            for station_id in self.shop.runs_changed
            if (known := self.shop.stations.get(station_id)) is None or known.has_cfg
        ]
        if welding:
            cfg.queue(self.scope, welding)

    # -- where the scan acts ---------------------------------------------------------------

    def effective_station(self) -> StationAt:
        """Return the station the scan acts on: a kiosk's chosen station, or the device."""
        device = self.device
        acting_id = device.get("acting_for_id")
        if not device.is_kiosk or acting_id is None:
            return device
        last = self.scope.conn.execute(
            _LAST_SCAN_AT, {"station_id": device.id, "event_id": self.scope.event_id}
        ).scalar()
        timeout = timedelta(seconds=self.scope.settings.kiosk_station_timeout_s)
        if last is None or self.scope.now - last > timeout:
            # Forgotten: the kiosk is its own station again (written with this event).
            device.set(acting_for_id=None)
            return device
        return self.shop.station(acting_id)

    def select_station(self, code: str) -> str:
        """Make a kiosk act for the scanned station (or for itself again)."""
        device = self.device
        target = self.shop.station_by_code(code)
        if target is None:
            raise Refusal(
                "unknown_code",
                f"Poste inconnu : {code}. Vérifie l'étiquette du poste.",
                f"unknown station {code}",
            )
        if not device.is_kiosk:
            if target.id == device.id:
                return f"Tu es bien au poste {device.name}."
            raise Refusal(
                "not_allowed",
                f"Ce lecteur appartient au poste {device.name} : "
                "il ne peut pas agir pour un autre.",
                f"station scan {code} at non-kiosk {device.code}",
            )
        if target.id == device.id or target.is_kiosk:
            device.set(acting_for_id=None)
            return (
                f"Borne {device.name} : tu travailles ici. "
                "Pour un autre poste, scanne son étiquette."
            )
        # Students who badged in at this kiosk, then scanned a station: they work there.
        current = self.effective_station()
        moving = self.scope.conn.execute(
            _BADGED_HERE, {"station_id": current.id, "kiosk_id": device.id}
        ).all()
        if moving:
            self.check_can_join(target, [row.student_id for row in moving])
        device.set(acting_for_id=target.id)
        if not moving:
            return f"La borne agit maintenant pour : {target.name}. Scanne ton badge."
        for row in moving:
            self.shop.badge_out(current, row.id)
        self.pause_if_empty(current)
        extra = ""
        for row in moving:
            self.shop.badge_in(target, row.student_id, row.code, row.name)
            extra = self.after_arrival(target, row.student_id) or extra
        who = names([first_name(row.name) for row in moving])
        verb = "est badgé·e" if len(moving) == 1 else "sont badgé·e·s"
        return f"La borne agit maintenant pour : {target.name}. {who} {verb} à ce poste.{extra}"

    # -- badges ----------------------------------------------------------------------------

    def badge(self, station: StationAt, parsed: ParsedCode) -> str:
        """Badge a student in at the station, or out if they are already in."""
        holder = self.scope.conn.execute(
            _BADGE, {"site_id": self.scope.site_id, "code": parsed.text}
        ).first()
        if holder is None:
            raise Refusal(
                "unknown_code",
                "Badge inconnu. Demande à ton maître pro de l'enregistrer.",
                f"unknown badge {parsed.text}",
            )
        if holder.student_id is None:
            if station.get("help_since") is not None:
                return self.help_answered(station, holder.user_id)
            raise Refusal(
                "not_allowed",
                "Ce badge est celui d'un encadrant : il ne sert pas à travailler sur un poste.",
                f"staff badge {parsed.text} at {station.code}",
            )
        if not holder.active:
            raise Refusal(
                "not_allowed",
                "Ce badge est désactivé. Va voir ton maître pro.",
                f"inactive student {holder.student_id}",
            )
        self.student_id = holder.student_id
        first = first_name(holder.name)
        if holder.presence_id is not None and holder.presence_station_id == station.id:
            return self.leave(station, [(holder.presence_id, first)])
        self.check_can_join(station, [holder.student_id])
        moved_from = ""
        if holder.presence_id is not None:
            previous = self.shop.station(holder.presence_station_id)
            self.shop.badge_out(previous, holder.presence_id)
            self.pause_if_empty(previous)
            moved_from = f" (tu as été sorti·e du poste {previous.name})"
        self.shop.badge_in(station, holder.student_id, holder.code, holder.name)
        message = f"Bonjour {first} — badge accepté{moved_from}."
        return message + self.after_arrival(station, holder.student_id)

    def after_arrival(self, station: StationAt, student_id: int) -> str:
        """Let a student who arrives join the run in progress (or resume it, or say it waits)."""
        run = station.run
        if run is None:
            return ""
        if run.status == "running":
            self.shop.join(run, [student_id])
            return f" Tu rejoins : {self.shop.run_label(run)}."
        if station.get("paused_by_exit"):
            self.shop.resume(run, station)
            return f" Reprise : {self.shop.run_label(run)}."
        return f" {self.shop.run_label(run)} est en pause : scanne A-PAUSE pour reprendre."

    def leave(self, station: StationAt, leaving: list[tuple[int, str]]) -> str:
        """Badge students out of a station; pause its run if nobody is left."""
        for presence_id, _name in leaving:
            self.shop.badge_out(station, presence_id)
        paused = self.pause_if_empty(station)
        who = names([name for _, name in leaving])
        message = f"À bientôt {who} — sortie du poste {station.name} enregistrée."
        if paused:
            assert station.run is not None
            message += (
                f" Plus personne au poste : {self.shop.run_label(station.run)} est mis en pause."
            )
        return message

    def pause_if_empty(self, station: StationAt) -> bool:
        """Pause the station's running run when its last student has left."""
        if self.shop.present(station):
            return False
        run = station.run
        if run is None or run.status != "running":
            return False
        self.shop.pause(run)
        station.set(paused_by_exit=True)
        return True

    def require_student(self, station: StationAt) -> list[Record]:
        """Refuse a label scanned with nobody badged in at the station."""
        present = self.shop.present(station)
        if not present:
            raise Refusal(
                "no_student",
                "Scanne d'abord ton badge, puis l'étiquette.",
                f"nobody badged in at {station.code}",
            )
        return present

    # -- work orders, operations, pieces ---------------------------------------------------

    def find_work_order(self, number: str) -> Record:
        """Return a work order of the site, or refuse the scan."""
        work_order = self.shop.work_order_by_number(number)
        if work_order is None:
            raise Refusal(
                "unknown_code",
                f"{number} n'existe pas. Vérifie le numéro sur la fiche suiveuse.",
                f"unknown work order {number}",
            )
        return work_order

    def work_order(self, station: StationAt, number: str) -> str:
        """Set the work order the station works on."""
        work_order = self.find_work_order(number)
        self.check_order_open(work_order.id)
        changes: dict[str, Any] = {"work_order_id": work_order.id}
        selected = self.shop.operation_work_order(station)
        if selected is not None and selected != work_order.id:
            changes["operation_id"] = None
        piece_id = station.get("piece_id")
        if piece_id is not None:
            piece = self.shop.piece(piece_id)
            if piece is None or piece.work_order_id != work_order.id:
                changes["piece_id"] = None
        station.set(**changes)
        plural = "s" if work_order.quantity > 1 else ""
        return (
            f"{work_order.number} — {work_order.product} ({work_order.quantity} pièce{plural}). "
            "Scanne l'opération ou la pièce."
        )

    def operation(self, station: StationAt, parsed: ParsedCode) -> str:
        """Select a routing step; with a piece selected, start the operation on it."""
        assert parsed.work_order is not None and parsed.step is not None
        operation = self.shop.step_of_order(parsed.work_order, parsed.step)
        if operation is None:
            raise Refusal(
                "unknown_code",
                f"{parsed.work_order} n'existe pas. Vérifie le numéro sur la fiche suiveuse.",
                f"unknown work order {parsed.work_order}",
            )
        if operation.id is None:
            raise Refusal(
                "unknown_code",
                f"{parsed.work_order} n'a pas d'opération {parsed.step:02d}. "
                "Vérifie la fiche suiveuse.",
                f"no step {parsed.step} in {parsed.work_order}",
            )
        self.check_order_open(operation.order_id)
        self.check_station_kind(station, operation)
        piece = None
        piece_id = station.get("piece_id")
        if piece_id is not None:
            row = self.shop.piece(piece_id)
            if row is not None and row.work_order_id == operation.order_id:
                piece = row
        existing = None
        if piece is not None:
            existing = self.check_can_start(station, piece, operation)
            self.check_habilitated(station, operation)
        station.set(
            work_order_id=operation.order_id,
            operation_id=operation.id,
            piece_id=piece.id if piece is not None else None,
        )
        if piece is None:
            return f"Opération {operation.step:02d} — {operation.name}. Scanne maintenant la pièce."
        return self.start(station, piece, operation, existing)

    def piece(self, station: StationAt, code: str) -> str:
        """Select a piece; a new label becomes one of its batch's order, or the order in context."""
        piece = self.shop.piece_by_code(code)
        created = False
        allocated = False
        if piece is None:
            # A label of a sheet printed by Atelier says which order it belongs to; only a
            # label printed elsewhere needs the order in context. Read on this path only:
            # a scan of a known piece costs no more.
            batch_order = self.shop.batch_work_order(code)
            allocated = batch_order is not None
            work_order_id = (
                batch_order.id if batch_order is not None else station.get("work_order_id")
            )
            if work_order_id is None:
                raise Refusal(
                    "no_work_order",
                    "Nouvelle étiquette : scanne d'abord la fiche suiveuse (OF) de cette pièce.",
                    f"unknown piece {code} without a work order in context",
                )
            self.check_quantity(self.shop.work_order(work_order_id), code)
        elif piece.status != "in_progress":
            if piece.status == "awaiting_review":
                message = f"La pièce {code} est terminée : elle attend la validation du maître pro."
            else:
                message = f"La pièce {code} est terminée et validée : demande à ton maître pro."
            raise Refusal("not_allowed", message, f"piece {code} is {piece.status}")
        else:
            work_order_id = piece.work_order_id
        self.check_order_open(work_order_id)
        operation = None
        operation_id = station.get("operation_id")
        if operation_id is not None:
            operation = self.shop.operation(operation_id)
            if operation.work_order_id != work_order_id:
                operation = None
        existing = None
        if operation is not None:
            if piece is not None:
                existing = self.check_can_start(station, piece, operation)
            self.check_habilitated(station, operation)
        if piece is None:
            piece = self.shop.create_piece(code, work_order_id)
            created = True
            if not allocated:
                self.shop.reserve_serial(code)
        station.set(
            work_order_id=work_order_id,
            piece_id=piece.id,
            operation_id=operation.id if operation is not None else None,
        )
        number = self.shop.work_order(work_order_id).number
        intro = (
            f"Nouvelle pièce {code} enregistrée pour {number}."
            if created
            else f"Pièce {code} ({number})."
        )
        if operation is None:
            return f"{intro} Scanne maintenant l'opération."
        return f"{intro} {self.start(station, piece, operation, existing)}"

    def check_order_open(self, work_order_id: int) -> None:
        """Refuse a label of a closed or cancelled work order: nothing more is made for it."""
        row = self.scope.conn.execute(_ORDER_STATUS, {"work_order_id": work_order_id}).one()
        if row.status in CLOSED_WORDS:
            word = CLOSED_WORDS[row.status]
            raise Refusal(
                "not_allowed",
                f"OF {word} : {row.number} ne se fabrique plus. Demande à ton maître pro.",
                f"work order {row.number} is {row.status}",
            )

    def check_quantity(self, work_order: Record, code: str) -> None:
        """Refuse a new label past the order's quantity and its margin for rework."""
        allowed = work_order.quantity + self.scope.settings.extra_pieces
        if work_order.pieces >= allowed:
            raise Refusal(
                "too_many_pieces",
                f"{work_order.number} a déjà toutes ses pièces ({work_order.quantity} "
                "commandées, plus les pièces de reprise) : demande à ton maître pro "
                "avant d'en commencer une autre.",
                f"work order {work_order.number} has {allowed} pieces already; {code} refused",
            )

    def check_station_kind(self, station: StationAt, operation: Record) -> None:
        """Refuse an operation scanned at a station of the wrong kind."""
        wanted = operation.station_kind
        if wanted and wanted != station.kind:
            raise Refusal(
                "not_allowed",
                f"L'opération {operation.name} se fait sur "
                f"{KIND_LABELS.get(wanted, wanted)}, pas au poste {station.name}.",
                f"operation kind {wanted} at {station.kind} station {station.code}",
            )

    def check_can_start(
        self, station: StationAt, piece: Record, operation: Record
    ) -> Record | None:
        """Refuse to start an operation done already, or in progress elsewhere."""
        run = self.shop.run_of(piece, operation.id)
        if run is None:
            return None
        if run.status == "finished":
            raise Refusal(
                "not_allowed",
                f"L'opération {operation.step:02d} ({operation.name}) est déjà "
                f"terminée sur la pièce {piece.code}.",
                f"run {run.id} already finished",
            )
        if run.station_id != station.id:
            where = self.shop.station(run.station_id).name
            raise Refusal(
                "not_allowed",
                f"La pièce {piece.code} est déjà en cours pour cette opération au poste {where}.",
                f"run {run.id} belongs to station {run.station_id}",
            )
        return run

    # -- habilitations ---------------------------------------------------------------------

    def today(self) -> date:
        """Return the workshop's local date now (a habilitation holds through its last day)."""
        return self.scope.now.astimezone(workshop_timezone(self.scope.settings.timezone)).date()

    def check_habilitated(self, station: StationAt, operation: Record) -> None:
        """Refuse to start an operation unless every student present holds what it needs."""
        student_ids = [row.student_id for row in self.shop.present(station)]
        missing = self.shop.unhabilitated(
            station, operation.type_id, bool(operation.guarded), student_ids, self.today()
        )
        if missing:
            raise self.not_habilitated(station, missing)

    def check_can_join(self, station: StationAt, student_ids: list[int]) -> None:
        """Refuse students who would join the station's run without what it needs."""
        run = station.run
        if run is None or not (run.status == "running" or station.get("paused_by_exit")):
            return
        self.check_run_team(station, run, student_ids)

    def check_run_team(self, station: StationAt, run: OperationRun, student_ids: list[int]) -> None:
        """Refuse a run's resumption or end while a student present lacks what it needs."""
        type_id, guarded = self.shop.run_guard(station, run)
        missing = self.shop.unhabilitated(station, type_id, guarded, student_ids, self.today())
        if missing:
            raise self.not_habilitated(station, missing)

    @staticmethod
    def not_habilitated(station: StationAt, missing: list[Unhabilitated]) -> Refusal:
        """Say who lacks which habilitation, in short words: the teacher decides."""
        first = missing[0]
        same = [m for m in missing if m.habilitation_code == first.habilitation_code]
        who = names([first_name(m.student_name) for m in same])
        what = f"l'habilitation « {first.habilitation} »"
        if len(same) == 1 and first.lapsed is not None:
            message = (
                f"{what[0].upper()}{what[1:]} {of_name(who)} a expiré le {french_day(first.lapsed)}"
            )
        elif all(m.lapsed is None for m in same):
            verb = "n'a pas" if len(same) == 1 else "n'ont pas"
            message = f"{who} {verb} {what}"
        else:
            message = f"{who} n'ont pas {what} (ou elle a expiré)"
        reason = ", ".join(
            f"student {m.student_id} "
            + (
                f"lapsed {m.habilitation_code} on {m.lapsed}"
                if m.lapsed
                else f"lacks {m.habilitation_code}"
            )
            for m in missing
        )
        return Refusal(
            "not_habilitated",
            f"{message} : demande à ton maître pro.",
            f"{reason} at {station.code}",
        )

    # -- runs ------------------------------------------------------------------------------

    def start(
        self, station: StationAt, piece: Record, operation: Record, existing: Record | None
    ) -> str:
        """Start (or resume) an operation on a piece, pausing the station's other run."""
        message = ""
        current = station.run
        other = current is not None and (current.piece_id, current.operation_id) != (
            piece.id,
            operation.id,
        )
        if other and current is not None and current.status == "running":
            self.shop.pause(current)
            message = f"{self.shop.run_label(current)} est mis en pause. "
        if existing is None:
            run = self.shop.start(station, piece, operation)
            message += f"C'est parti : {operation.name} sur la pièce {piece.code}."
        else:
            run = transient_run(
                existing.id,
                piece_id=piece.id,
                operation_id=operation.id,
                station_id=existing.station_id,
                status=existing.status,
                started_at=existing.started_at,
            )
            self.shop.piece_codes[piece.id] = piece.code
            if run.status == "paused":
                self.shop.resume(run, station)
                message += f"Reprise : {operation.name} sur la pièce {piece.code}."
            else:
                message += f"{operation.name} sur la pièce {piece.code} est déjà en cours."
        station.set(active_run_id=run.id, piece_id=None, paused_by_exit=False)
        station.run = run
        return message

    # -- actions ---------------------------------------------------------------------------

    def action(self, station: StationAt, action: Action | None) -> str:
        """Apply A-FIN, A-PAUSE, A-SORTIE or A-AIDE at the station."""
        if action is Action.LEAVE:
            if station is not self.device:
                self.device.set(acting_for_id=None)
            present = self.shop.present(station)
            if not present:
                return f"Personne n'est badgé au poste {station.name}."
            return self.leave(station, [(row.presence_id, first_name(row.name)) for row in present])
        self.require_student(station)
        if action is Action.HELP:
            return self.call_for_help(station)
        run = station.run
        if run is None:
            raise Refusal(
                "no_operation",
                "Aucune opération en cours à ce poste : scanne d'abord l'opération et la pièce.",
                f"no active run at {station.code}",
            )
        label = self.shop.run_label(run)
        if action is Action.PAUSE:
            if run.status == "running":
                self.shop.pause(run)
                station.set(paused_by_exit=False)
                return f"Pause : {label}. Pour reprendre : touche « Reprendre » ou scanne A-PAUSE."
            self.check_run_team(
                station, run, [row.student_id for row in self.shop.present(station)]
            )
            self.shop.resume(run, station)
            return f"Reprise : {label}."
        self.check_run_team(station, run, [row.student_id for row in self.shop.present(station)])
        return self.finish(station, run, label)

    def finish(self, station: StationAt, run: Any, label: str) -> str:
        """Finish the run, give its students their evidence, and close the piece if done."""
        self.shop.finish(run)
        self.shop.join(run, [row.student_id for row in self.shop.present(station)])
        grant_evidence(self.scope.conn, [Grant(run.id, self.scope.event_id)], self.scope.now)
        station.set(active_run_id=None, paused_by_exit=False)
        station.run = None
        message = f"Bravo ! {label} : terminé."
        if self.shop.complete_if_done(run):
            message += " La pièce est finie : elle attend la validation du maître pro."
        return message

    # -- calling the teacher -------------------------------------------------------------

    def call_for_help(self, station: StationAt) -> str:
        """A-AIDE: the students at the station wait for the teacher from now on."""
        since = station.get("help_since")
        if since is not None:
            minutes = max(0, int((self.scope.now - since).total_seconds() // 60))
            waited = "à l'instant" if minutes < 1 else f"il y a {minutes} min"
            return f"Ton maître pro est déjà prévenu ({waited}). Il arrive : attends en sécurité."
        station.set(help_since=self.scope.now)
        return (
            "Ton maître pro est prévenu : ton appel s'affiche au tableau de l'atelier. "
            "En attendant, arrête la machine et attends en sécurité."
        )

    def help_answered(self, station: StationAt, user_id: int | None) -> str:
        """A staff badge at a station that called for help: the teacher is there."""
        name = None
        if user_id is not None:
            name = self.scope.conn.execute(
                select(USERS.c.name).where(USERS.c.id == user_id)
            ).scalar()
        station.set(help_since=None)
        who = name or "Le maître pro"
        return f"{who} est là : l'appel à l'aide est terminé."

    # -- undo ------------------------------------------------------------------------------

    def undo_last(self) -> str:
        """Undo the last scan made on this device that changed something, if recent enough."""
        scope = self.scope
        cutoff = scope.now - timedelta(seconds=scope.settings.undo_window_s)
        target = undo.last_undoable(scope, self.device.id, cutoff)
        if target is None:
            raise Refusal(
                "nothing_to_undo",
                "Rien à annuler : on ne peut annuler que le dernier scan, dans la minute.",
                f"nothing undoable at {self.device.code}",
            )
        try:
            touched = undo.undo_event(scope, target.id)
        except undo.UndoConflict as exc:
            raise Refusal(
                "undo_conflict",
                "Impossible d'annuler : la situation a changé depuis ce scan. "
                "Demande à ton maître pro.",
                f"undo of event {target.id} conflicts: {exc}",
            ) from exc
        scope.columns["undoes_event_id"] = target.id
        self.shop.runs_changed.update(touched)
        # The undo changed rows under this event's feet: read the device again for the answer.
        self.shop.stations.pop(self.device.id, None)
        self.device = self.shop.station(self.device.id)
        return f"Annulé : le scan « {target.code} » ne compte plus."


def _resolve_device(scope: Scope, scan: Scan, shop: Shop) -> StationAt:
    """Find the station a scan happened at, from the body or the token's binding."""
    if scan.station_code is None:
        if scan.bound_station_id is None:
            raise Refusal(
                "no_station",
                "Ce lecteur n'est rattaché à aucun poste. Préviens ton maître pro.",
                "no station in the body and the token is not bound to one",
            )
        return shop.station(scan.bound_station_id)
    station = shop.station_by_code(scan.station_code)
    if station is None:
        raise Refusal(
            "unknown_station",
            f"Poste inconnu : {scan.station_code}. Préviens ton maître pro.",
            f"unknown station {scan.station_code!r}",
        )
    if scan.bound_station_id is not None and station.id != scan.bound_station_id:
        raise Refusal(
            "not_allowed",
            "Ce lecteur n'est pas autorisé pour ce poste. Préviens ton maître pro.",
            f"token bound to station {scan.bound_station_id} used for {station.code}",
        )
    return station


@handles(Scan)
def handle_scan(scope: Scope, scan: Scan) -> Done:
    """Apply a scan to the shop and answer as the scan API does (docs/contract.md §5)."""
    scope.columns.update(
        code=scan.code[:200],
        source=scan.source,
        scanned_at=scan.scanned_at,
    )
    answer: dict[str, Any] = {"event_id": scope.origin.key}
    parsed = parse_code(scan.code)
    kind = None if isinstance(parsed, CodeError) else parsed.kind.value
    if kind is not None:
        answer["kind"] = kind
    shop = Shop(scope)
    try:
        device = _resolve_device(scope, scan, shop)
    except Refusal as refusal:
        refusal.body.update(answer)
        raise
    scope.columns["station_id"] = device.id
    rules = ScanRules(scope, shop, device)
    try:
        if isinstance(parsed, CodeError):
            raise Refusal(parsed.code, parsed.message, parsed.reason)
        message, acted_on = rules.apply(parsed)
    except Refusal as refusal:
        refusal.body.update(answer)
        refusal.body["station"] = _summary(scope, shop, device.id)
        raise
    rules.finish_event()
    scope.columns.update(
        target_station_id=acted_on.id,
        student_id=rules.student_id,
        undoable=scope.wrote and "undoes_event_id" not in scope.columns,
    )
    summary = rules.shop.status(acted_on)
    if acted_on.id != device.id:
        summary["via_kiosk"] = device.code
    return Done(message, {**answer, "station": summary})


def _summary(scope: Scope, shop: Shop, station_id: int) -> dict[str, Any]:
    """Describe a station as the database has it, for a refused scan (the one rule)."""
    known = shop.stations.get(station_id)
    present = None
    if known is not None and known.students is not None:
        present = {station_id: [(p.code, p.name) for p in known.students]}
    return station_statuses(scope.session, scope.site_id, [station_id], present=present)[0]


@handles(BadRequest)
def handle_bad_request(scope: Scope, event: BadRequest) -> Done:
    """Record a request that could not be decoded, as rejected, with what came."""
    scope.columns["raw"] = event.raw
    raise Refusal("bad_request", "Requête invalide.", event.reason)
