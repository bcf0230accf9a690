"""What the workshop's wall board shows, read in a fixed handful of statements.

``board_snapshot()`` costs the same number of statements whatever the number of stations,
students, welds or pieces (``tests/board/test_snapshot.py`` counts them): the stations'
status (``app.read.stations``: two statements, the last weld of each welding station
included), the latest welds and their students, the pieces finished today, and the pieces
awaiting review with their total. It shows students by their short name only (« Lucas M. »):
the board may hang where anyone passes.

Anonymous viewers (``staff=False``, the default) see no name beside any quality data: a
weld's WPS verdict shows without its welders, and a welding station's card (which shows
its last weld's verdict) says how many students are at it rather than who. Names beside
verdicts are for the site's signed-in staff only (``staff=True``). Other stations keep
their students' short names: who works where is no judgement of anyone's work.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import KIOSK, Piece, Station, Student, Weld, WeldStudent, WorkOrder, utcnow
from app.read.stations import station_statuses
from app.read.wording import (
    VERDICT_NO_WPS,
    french_order,
    process_label,
    short_name,
    verdict_label,
)

WORKSHOP_TIMEZONE = "Europe/Paris"
LATEST_WELDS = 8
AWAITING_SHOWN = 5
DONE_STATUSES = ("awaiting_review", "reviewed")


def workshop_timezone(name: str | None = None) -> tzinfo:
    """Return the workshop's time zone (Europe/Paris unless configured otherwise)."""
    return ZoneInfo(name or WORKSHOP_TIMEZONE)


def local_day_bounds(now: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
    """Return the instants at which the workshop's local day of ``now`` begins and ends."""
    day = now.astimezone(zone).date()
    start = datetime.combine(day, time(0), zone)
    end = datetime.combine(day + timedelta(days=1), time(0), zone)
    return start, end


def verdict(kind: str, deviations: Any) -> dict[str, str]:
    """Return a weld's WPS verdict: its kind (``in_range``…) and its French label."""
    return {
        "kind": kind,
        "label": verdict_label(kind, deviations if isinstance(deviations, list) else None),
    }


def _card(status: dict[str, Any], staff: bool) -> dict[str, Any]:
    """Turn a station's status into its card on the board (short names, worded verdicts)."""
    welding = status["welding"]
    names = tuple(short_name(student["name"]) for student in status["students"])
    if welding is not None and not staff:
        # The card shows the station's last weld verdict: no name beside it.
        names = ()
    if welding is not None:
        last = welding["last_weld"]
        welding = {
            **welding,
            "last_weld": (
                {
                    "started_at": last["started_at"],
                    "verdict": verdict(last["verdict"], last["deviations"]),
                }
                if last is not None
                else None
            ),
        }
    run = status["run"]
    return {
        "code": status["code"],
        "name": status["name"],
        "kind": status["kind"],
        "students": names,
        "student_count": len(status["students"]),
        "work_order": status["work_order"],
        "operation": status["operation"],
        "piece": status["piece"],
        "run_status": run["status"] if run is not None else None,
        "arc_on": bool(status["arc_on"]),
        "idle": status["idle"],
        "welding": welding,
        "help_since": status["help_at"],
    }


def _station_cards(session: Session, site_id: int, staff: bool) -> list[dict[str, Any]]:
    cards = [
        _card(status, staff)
        for status in station_statuses(session, site_id, detail=True)
        # A kiosk shows only while someone works at it: what is scanned on a kiosk that
        # acts for a station shows on that station.
        if status["kind"] != KIOSK or not status["idle"]
    ]
    # Welding stations first: their arc is what the room needs to see from afar.
    cards.sort(key=lambda card: (card["welding"] is None, card["code"]))
    return cards


def _latest_welds(session: Session, site_id: int, staff: bool) -> list[dict[str, Any]]:
    rows = session.execute(
        select(
            Weld.id,
            Station.name.label("station"),
            Weld.started_at,
            Weld.process,
            Weld.arc_s,
            Weld.i_mean_a,
            Weld.u_mean_v,
            Weld.verdict,
            Weld.deviations,
            Weld.run_id,
        )
        .join(Station, Station.id == Weld.station_id)
        .where(Weld.site_id == site_id)
        .order_by(Weld.started_at.desc(), Weld.id.desc())
        .limit(LATEST_WELDS)
    ).all()
    students: dict[int, list[str]] = {}
    # Anonymous viewers: the verdicts without who welded (not even read).
    if rows and staff:
        for weld_id, name in session.execute(
            select(WeldStudent.weld_id, Student.name)
            .join(Student, Student.id == WeldStudent.student_id)
            .where(WeldStudent.weld_id.in_([row.id for row in rows]))
        ):
            students.setdefault(weld_id, []).append(short_name(name))
    return [
        {
            "started_at": row.started_at,
            "station": row.station,
            "students": tuple(sorted(students.get(row.id, []), key=french_order)),
            "process": process_label(row.process),
            "arc_s": row.arc_s,
            "i_mean_a": row.i_mean_a,
            "u_mean_v": row.u_mean_v,
            "verdict": verdict(row.verdict or VERDICT_NO_WPS, row.deviations),
            "attributed": row.run_id is not None,
        }
        for row in rows
    ]


def _finished_today(
    session: Session, site_id: int, now: datetime, zone: tzinfo
) -> list[dict[str, Any]]:
    start, end = local_day_bounds(now, zone)
    rows = session.execute(
        select(Piece.code, WorkOrder.product, Piece.completed_at)
        .join(WorkOrder, WorkOrder.id == Piece.work_order_id)
        .where(
            Piece.site_id == site_id,
            Piece.status.in_(DONE_STATUSES),
            Piece.completed_at >= start,
            Piece.completed_at < end,
        )
        .order_by(Piece.completed_at.desc(), Piece.id.desc())
    )
    return [
        {"code": row.code, "product": row.product, "completed_at": row.completed_at} for row in rows
    ]


def _awaiting_review(session: Session, site_id: int) -> tuple[list[dict[str, Any]], int]:
    rows = session.execute(
        select(
            Piece.code,
            WorkOrder.product,
            Piece.completed_at,
            func.count().over().label("total"),
        )
        .join(WorkOrder, WorkOrder.id == Piece.work_order_id)
        .where(Piece.site_id == site_id, Piece.status == "awaiting_review")
        .order_by(Piece.completed_at, Piece.id)
        .limit(AWAITING_SHOWN)
    ).all()
    total = int(rows[0].total) if rows else 0
    lines = [
        {"code": row.code, "product": row.product, "completed_at": row.completed_at} for row in rows
    ]
    return lines, total


def board_snapshot(
    session: Session,
    site_id: int,
    now: datetime | None = None,
    zone: tzinfo | None = None,
    *,
    staff: bool = False,
) -> dict[str, Any]:
    """Read what a site's workshop board shows right now, without writing anything.

    ``staff``: the viewer is a signed-in staff member of the site, who may read the names
    of the students beside their welds' verdicts; anyone else reads none.
    """
    now = now or utcnow()
    zone = zone or workshop_timezone()
    awaiting, awaiting_count = _awaiting_review(session, site_id)
    return {
        "generated_at": now,
        "timezone": zone,
        "staff": staff,
        "stations": _station_cards(session, site_id, staff),
        "welds": _latest_welds(session, site_id, staff),
        "finished_today": _finished_today(session, site_id, now, zone),
        "awaiting_review": awaiting,
        "awaiting_review_count": awaiting_count,
    }
