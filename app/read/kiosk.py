"""What a kiosk shows: the station it works for, the next thing to scan, and a student's own
pieces and competencies.

The station part is ``stations.station_statuses``, the rule every view shares, with what
only a kiosk shows beside it: the work order's routing with the current step, the running
time of the operation in progress, a welding station's WPS range and its last weld's
verdict in words, and the one instruction of the screen. A kiosk that acts for another
station (its ``ST-`` label was scanned there) shows that station until the time-out after
its last scan, as the core applies it. Students are shown by first name only; a student's
own page answers only while that student is badged in at the station.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import (
    KIOSK_CREDENTIAL,
    Assignment,
    Competency,
    DeviceToken,
    Event,
    Framework,
    KioskEnrolment,
    Operation,
    OperationRun,
    OperationType,
    Piece,
    Presence,
    RunInterval,
    RunParticipant,
    Site,
    Station,
    Student,
    Weld,
    WorkOrder,
    Wps,
    first_name,
    iso,
    operation_code,
)
from app.read.board import local_day_bounds, workshop_timezone
from app.read.portfolio import student_portfolio
from app.read.records import current_levels
from app.read.stations import station_statuses
from app.read.wording import LEVEL_WORDS, NBSP, fr_number

# What each operation type looks like on the kiosk: the pictogram (a symbol of the kiosk's
# sprite) by the words of its name, the first that matches; a type with a welding process
# is welding. Checking comes first: « Contrôle visuel des soudures » is a check.
PICTOGRAMS = (
    ("contr", "control"),
    ("vérif", "control"),
    ("mesur", "control"),
    ("soud", "welding"),
    ("débit", "debit"),
    ("debit", "debit"),
    ("sci", "debit"),
    ("coupe", "debit"),
    ("découp", "debit"),
    ("plasma", "debit"),
    ("pli", "bending"),
    ("roul", "bending"),
    ("cintr", "bending"),
    ("conform", "bending"),
    ("assembl", "assembly"),
    ("point", "assembly"),
    ("montage", "assembly"),
    ("meul", "grinding"),
    ("ébavur", "grinding"),
    ("finition", "grinding"),
)

NEXT_BADGE = "Badge-toi pour commencer."
NEXT_WORK_ORDER = "Scanne la fiche suiveuse de l'ordre de fabrication."
NEXT_OPERATION = "Scanne l'opération sur la fiche suiveuse."
NEXT_PIECE = "Scanne l'étiquette de la pièce."
NEXT_FINISH = "Au travail ! Quand c'est fini, touche « Fin »."
NEXT_PAUSED = "Opération en pause. Touche « Pause » pour reprendre."
NEXT_HELP = "Ton maître pro est prévenu. Arrête la machine et attends en sécurité."


def pictogram(type_code: str, name: str, process: str | None) -> str:
    """Choose the pictogram of an operation type (welding when it has a process)."""
    if process:
        return "welding"
    words = f"{type_code} {name}".casefold()
    return next((picture for stem, picture in PICTOGRAMS if stem in words), "generic")


def next_step(status: dict[str, Any]) -> dict[str, str]:
    """Say the one thing the station's students do next: what kind of scan, in French."""
    run = status["run"]
    if not status["students"]:
        return {"kind": "badge", "message": NEXT_BADGE}
    if status.get("help_since"):
        return {"kind": "help", "message": NEXT_HELP}
    if run is not None:
        if run["status"] == "paused":
            return {"kind": "paused", "message": NEXT_PAUSED}
        return {"kind": "finish", "message": NEXT_FINISH}
    if status["operation"] is not None:
        return {"kind": "piece", "message": NEXT_PIECE}
    if status["work_order"] is not None:
        return {"kind": "operation", "message": NEXT_OPERATION}
    return {"kind": "work_order", "message": NEXT_WORK_ORDER}


# A deviation's field, as a student reads it: its name (with its gender), unit, precision.
DEVIATION_WORDS = {
    "i_a": ("Intensité", "haute", "basse", "A", 0),
    "u_v": ("Tension", "haute", "basse", "V", 1),
    "q_kj_mm": ("Apport de chaleur", "haut", "bas", "kJ/mm", 2),
}


def _deviation_words(item: Any) -> str | None:
    """Say one deviation of a weld: « Intensité trop haute de 12 A »."""
    if not isinstance(item, dict):
        return None
    if item.get("field") == "process":
        return f"Procédé {item.get('value')} au lieu de {item.get('expected')}"
    words = DEVIATION_WORDS.get(str(item.get("field")))
    value, low, high = item.get("value"), item.get("min"), item.get("max")
    if words is None or not isinstance(value, int | float):
        return None
    name, too_high, too_low, unit, decimals = words
    if isinstance(high, int | float) and value > high:
        return f"{name} trop {too_high} de {fr_number(value - high, decimals)}{NBSP}{unit}"
    if isinstance(low, int | float) and value < low:
        return f"{name} trop {too_low} de {fr_number(low - value, decimals)}{NBSP}{unit}"
    return None


def weld_message(verdict: str | None, deviations: Any) -> str | None:
    """Say a weld's verdict to the student who made it (« Intensité trop haute de 12 A »)."""
    if verdict is None:
        return None
    if verdict == "in_range":
        return "Soudure dans la plage du DMOS."
    if verdict == "no_wps":
        return "Soudure enregistrée (pas de DMOS pour cette opération)."
    details = [text for text in map(_deviation_words, deviations or []) if text]
    if not details:
        return "Soudure hors de la plage du DMOS."
    return "Soudure hors de la plage : " + ", ".join(details) + "."


def _acting_station(
    session: Session, kiosk: dict[str, Any], kiosk_id: int, now: datetime, timeout_s: float
) -> str | None:
    """Return the code of the station the kiosk acts for, unless its last scan is too old."""
    acting = kiosk.get("acting_for")
    if acting is None:
        return None
    last = session.execute(
        select(func.max(Event.received_at)).where(
            Event.station_id == kiosk_id, Event.status == "accepted"
        )
    ).scalar()
    if last is None or now - last > timedelta(seconds=timeout_s):
        return None
    return str(acting)


def _routing(
    session: Session, site_id: int, status: dict[str, Any]
) -> tuple[list[dict[str, Any]], int | None]:
    """List the work order's steps, marking the current one and those done on the piece."""
    order = status["work_order"]
    if order is None:
        return [], None
    rows = session.execute(
        select(
            Operation.id,
            Operation.step,
            Operation.wps_id,
            OperationType.code,
            OperationType.name,
            OperationType.process,
        )
        .join(WorkOrder, WorkOrder.id == Operation.work_order_id)
        .join(OperationType, OperationType.id == Operation.operation_type_id)
        .where(WorkOrder.site_id == site_id, WorkOrder.number == order["number"])
        .order_by(Operation.step)
    ).all()
    done: set[int] = set()
    if status["piece"] is not None:
        done = set(
            session.execute(
                select(OperationRun.operation_id)
                .join(Piece, Piece.id == OperationRun.piece_id)
                .join(WorkOrder, WorkOrder.id == Piece.work_order_id)
                .where(
                    WorkOrder.site_id == site_id,
                    Piece.code == status["piece"],
                    OperationRun.status == "finished",
                )
            ).scalars()
        )
    current = status["operation"]["step"] if status["operation"] is not None else None
    wps_id = None
    steps = []
    for row in rows:
        if row.step == current:
            wps_id = row.wps_id
        steps.append(
            {
                "step": row.step,
                "code": operation_code(order["number"], row.step),
                "type": row.code,
                "name": row.name,
                "pictogram": pictogram(row.code, row.name, row.process),
                "current": row.step == current,
                "done_for_piece": (row.id in done) if status["piece"] is not None else None,
            }
        )
    return steps, wps_id


def _elapsed_s(session: Session, site_id: int, status: dict[str, Any], now: datetime) -> int:
    """Sum the worked time of the run in progress (its intervals; pauses excluded)."""
    run = status["run"]
    rows = session.execute(
        select(RunInterval.started_at, RunInterval.ended_at)
        .join(OperationRun, OperationRun.id == RunInterval.run_id)
        .join(Piece, Piece.id == OperationRun.piece_id)
        .join(WorkOrder, WorkOrder.id == Piece.work_order_id)
        .join(Operation, Operation.id == OperationRun.operation_id)
        .where(
            WorkOrder.site_id == site_id,
            Piece.code == run["piece"],
            Operation.step == run["operation"]["step"],
            OperationRun.status != "finished",
        )
    ).all()
    total = sum(((ended or now) - started).total_seconds() for started, ended in rows)
    return max(0, int(total))


def _welding(
    session: Session, station_id: int, status: dict[str, Any], wps_id: int | None
) -> dict[str, Any]:
    """Describe a welding station for its students: arc, WPS range, last weld's verdict."""
    wps = None
    if wps_id is not None:
        row = session.get(Wps, wps_id)
        if row is not None:
            wps = {
                "id": row.code,
                "process": row.process,
                "i_a": [row.i_min_a, row.i_max_a],
                "u_v": [row.u_min_v, row.u_max_v],
            }
    last = session.execute(
        select(Weld.started_at, Weld.verdict, Weld.deviations)
        .where(Weld.station_id == station_id)
        .order_by(Weld.started_at.desc(), Weld.id.desc())
        .limit(1)
    ).first()
    last_weld = None
    if last is not None:
        last_weld = {
            "at": iso(last.started_at),
            "ok": last.verdict != "out_of_range",
            "verdict": last.verdict,
            "message": weld_message(last.verdict, last.deviations),
        }
    return {
        "online": status["online"],
        "arc_on": status["arc_on"],
        "wps": wps,
        "last_weld": last_weld,
    }


def station_in_view(
    session: Session, site_id: int, kiosk_id: int, now: datetime, timeout_s: float
) -> tuple[dict[str, Any], dict[str, Any], int] | None:
    """Return the kiosk's status, and the status and id of the station it shows now."""
    kiosk = next(iter(station_statuses(session, site_id, [kiosk_id])), None)
    if kiosk is None:
        return None
    acting = _acting_station(session, kiosk, kiosk_id, now, timeout_s)
    if acting is not None:
        target = session.execute(
            select(Station.id).where(Station.site_id == site_id, Station.code == acting)
        ).scalar()
        if target is not None:
            return kiosk, station_statuses(session, site_id, [target])[0], target
    return kiosk, kiosk, kiosk_id


def kiosk_state(
    session: Session, site_id: int, kiosk_id: int, now: datetime, timeout_s: float
) -> dict[str, Any] | None:
    """Describe what the kiosk shows now: the station it works for and what comes next."""
    seen = station_in_view(session, site_id, kiosk_id, now, timeout_s)
    if seen is None:
        return None
    kiosk, status, station_id = seen
    acting = status["code"] if station_id != kiosk_id else None
    shown = {
        key: status[key]
        for key in ("code", "name", "kind", "work_order", "operation", "piece", "help_since")
    }
    todo = assigned_operations(session, site_id, [student["id"] for student in status["students"]])
    shown["students"] = [
        {
            "id": student["id"],
            "name": first_name(student["name"]),
            "assigned": todo.get(student["id"], []),
        }
        for student in status["students"]
    ]
    shown["run"] = None
    if status["run"] is not None:
        shown["run"] = {**status["run"], "elapsed_s": _elapsed_s(session, site_id, status, now)}
    shown["routing"], wps_id = _routing(session, site_id, status)
    shown["welding"] = None
    if status["online"] is not None:
        shown["welding"] = _welding(session, station_id, status, wps_id)
    shown["next"] = next_step(shown)
    return {
        "now": iso(now),
        "kiosk": {"code": kiosk["code"], "name": kiosk["name"]},
        "station": shown,
        "acting_for": acting,
    }


def assigned_operations(
    session: Session, site_id: int, student_codes: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """Return the operations given to each student (by code) and still in force.

    Only those of open work orders (closing an order ends its assignments anyway), the
    soonest due first: the code of the step, its name and pictogram, the order and its
    product, the due date.
    """
    if not student_codes:
        return {}
    rows = session.execute(
        select(
            Student.code.label("student"),
            Operation.step,
            OperationType.code.label("type_code"),
            OperationType.name,
            OperationType.process,
            WorkOrder.number,
            WorkOrder.product,
            WorkOrder.due_on,
        )
        .select_from(Assignment)
        .join(Student, Student.id == Assignment.student_id)
        .join(Operation, Operation.id == Assignment.operation_id)
        .join(OperationType, OperationType.id == Operation.operation_type_id)
        .join(WorkOrder, WorkOrder.id == Operation.work_order_id)
        .where(
            Assignment.site_id == site_id,
            Assignment.ended_at.is_(None),
            Student.code.in_(student_codes),
            WorkOrder.status == "open",
        )
        .order_by(WorkOrder.due_on.is_(None), WorkOrder.due_on, WorkOrder.number, Operation.step)
    ).all()
    found: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        found.setdefault(row.student, []).append(
            {
                "operation": operation_code(row.number, row.step),
                "step": row.step,
                "name": row.name,
                "pictogram": pictogram(row.type_code, row.name, row.process),
                "work_order": row.number,
                "product": row.product,
                "due_on": row.due_on.isoformat() if row.due_on else None,
            }
        )
    return found


def present_at(session: Session, site_id: int, station_code: str, student_code: str) -> bool:
    """Tell whether the student is badged in at the station now."""
    found = session.execute(
        select(Presence.id)
        .join(Student, Student.id == Presence.student_id)
        .join(Station, Station.id == Presence.station_id)
        .where(
            Student.site_id == site_id,
            Student.code == student_code,
            Station.code == station_code,
            Presence.ended_at.is_(None),
        )
        .limit(1)
    ).first()
    return found is not None


def _week_start(now: datetime) -> datetime:
    """Return the instant the workshop's week of ``now`` began (Monday, local midnight)."""
    zone = workshop_timezone()
    start, _end = local_day_bounds(now, zone)
    return start - timedelta(days=now.astimezone(zone).weekday())


def _current_levels(session: Session, site_id: int, student_code: str) -> dict[str, str]:
    """Return a student's current level by competency id (``"cap-rics:C5"``), if any."""
    student_id = session.execute(
        select(Student.id).where(Student.site_id == site_id, Student.code == student_code)
    ).scalar()
    if student_id is None:
        return {}
    by_id = current_levels(session, student_id)
    if not by_id:
        return {}
    rows = session.execute(
        select(Competency.id, Competency.code, Framework.code.label("framework"))
        .join(Framework, Framework.id == Competency.framework_id)
        .where(Competency.id.in_(list(by_id)))
    ).all()
    return {f"{row.framework}:{row.code}": by_id[row.id] for row in rows}


def student_page(
    session: Session, site_id: int, student_code: str, now: datetime
) -> dict[str, Any] | None:
    """Describe a student's own week of pieces and their competencies, for the kiosk.

    Of the record, only what the student may read at the kiosk: each competency's current
    level and the teacher's latest comment, for the badged-in student alone (the caller
    checks the presence).
    """
    portfolio = student_portfolio(session, site_id, student_code)
    if portfolio is None:
        return None
    since = _week_start(now)
    rows = session.execute(
        select(
            Piece.code,
            Piece.status,
            WorkOrder.number,
            WorkOrder.product,
            OperationType.name,
            OperationRun.finished_at,
        )
        .join(RunParticipant, RunParticipant.run_id == OperationRun.id)
        .join(Student, Student.id == RunParticipant.student_id)
        .join(Piece, Piece.id == OperationRun.piece_id)
        .join(WorkOrder, WorkOrder.id == Piece.work_order_id)
        .join(Operation, Operation.id == OperationRun.operation_id)
        .join(OperationType, OperationType.id == Operation.operation_type_id)
        .where(
            Student.site_id == site_id,
            Student.code == student_code,
            OperationRun.status == "finished",
            OperationRun.finished_at >= since,
        )
        .order_by(OperationRun.finished_at.desc())
        .limit(50)
    ).all()
    pieces = [
        {
            "code": row.code,
            "status": row.status,
            "work_order": row.number,
            "product": row.product,
            "operation": row.name,
            "finished_at": iso(row.finished_at),
        }
        for row in rows
    ]
    levels = _current_levels(session, site_id, student_code)
    competencies = []
    for item in portfolio["competencies"]:
        latest = item["latest_assessment"]
        level = levels.get(item["code"])
        competencies.append(
            {
                "code": item["code"].split(":", 1)[-1],
                "title": item["title"],
                "evidence": item["evidence_count"],
                # The current level under the school's rule (or the teacher's own setting),
                # and the teacher's latest comment: nothing else of the record.
                "level": LEVEL_WORDS.get(level) if level is not None else None,
                "comment": latest["comment"] if latest else None,
            }
        )
    student = portfolio["student"]
    framework = student["framework"]
    return {
        "student": {"id": student["id"], "name": first_name(student["name"])},
        "framework": {
            "id": framework["code"],
            "title": framework["title"],
            "provisional": bool(framework["provisional"]),
        },
        "pieces": pieces,
        "assigned": assigned_operations(session, site_id, [student_code]).get(student_code, []),
        "competencies": competencies,
    }


def kiosk_label(session: Session, station_id: int) -> dict[str, Any] | None:
    """Return a kiosk's station code and name, and its school's name."""
    row = session.execute(
        select(Station.code, Station.name, Site.name.label("site_name"))
        .join(Site, Site.id == Station.site_id)
        .where(Station.id == station_id)
    ).first()
    if row is None:
        return None
    return {"code": row.code, "name": row.name, "site_name": row.site_name}


def enrolment_site(session: Session, code_sha256: str) -> int | None:
    """Return the site of the enrolment link with this hash, if there is one."""
    return session.execute(
        select(KioskEnrolment.site_id).where(KioskEnrolment.code_sha256 == code_sha256)
    ).scalar()


def kiosks_of_site(session: Session, site_id: int) -> list[dict[str, Any]]:
    """List a site's kiosk credentials, newest first: station, dates, whether revoked."""
    rows = session.execute(
        select(
            DeviceToken.id,
            DeviceToken.prefix,
            DeviceToken.created_at,
            DeviceToken.last_used_at,
            DeviceToken.revoked_at,
            Station.code,
            Station.name,
        )
        .join(Station, Station.id == DeviceToken.station_id)
        .where(DeviceToken.site_id == site_id, DeviceToken.kind == KIOSK_CREDENTIAL)
        .order_by(DeviceToken.id.desc())
    ).all()
    return [
        {
            "id": row.id,
            "prefix": row.prefix,
            "station": row.code,
            "station_name": row.name,
            "created_at": row.created_at,
            "last_used_at": row.last_used_at,
            "revoked_at": row.revoked_at,
        }
        for row in rows
    ]


def stations_of_site(session: Session, site_id: int) -> list[dict[str, str]]:
    """List a site's stations by code: ``{"code", "name", "kind"}``."""
    rows = session.execute(
        select(Station.code, Station.name, Station.kind)
        .where(Station.site_id == site_id)
        .order_by(Station.code)
    ).all()
    return [{"code": row.code, "name": row.name, "kind": row.kind} for row in rows]
