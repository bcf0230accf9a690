"""The office's production board: where the open work orders stand, and this month's figures.

A handful of grouped statements whose cost follows what the page shows, not the school's
history: the open work orders only (their pieces through ``pieces.work_order_id``), the
pieces completed this month or in the last 90 days through ``ix_pieces_status_completed``,
and the calls for help of this month from a lower bound on ``station_contexts.id`` (found
through ``ix_events_station_received`` and ``station_contexts.event_id``), read along
``ix_station_contexts_station_latest``. Nothing here writes.

- made: pieces completed (awaiting review or reviewed); conforme, to redo, scrapped: by the
  newest teacher's verdict of each piece (``PieceReview``);
- late: due before today (workshop time) while fewer pieces are conforme than ordered;
- lead time: from a piece's first run start to its completion, median per product;
- waiting for help (A-AIDE): a wait starts at a context row's ``help_since`` and ends at
  the station's next context row without that call (a staff badge, the last student out).
"""

from __future__ import annotations

import statistics
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, aliased

from app.models import (
    Customer,
    Event,
    OperationRun,
    Piece,
    PieceReview,
    Station,
    StationContext,
    WorkOrder,
    utcnow,
)
from app.read.board import workshop_timezone

DONE_STATUSES = ("awaiting_review", "reviewed")
LEAD_TIME_DAYS = 90


def month_bounds(now: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
    """Return the instants at which the workshop's local month of ``now`` begins and ends."""
    day = now.astimezone(zone).date()
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return datetime.combine(first, time(0), zone), datetime.combine(following, time(0), zone)


def _newest_verdict() -> Any:
    newest = aliased(PieceReview)
    return (
        select(func.max(newest.id)).where(newest.piece_id == Piece.id).correlate(Piece)
    ).scalar_subquery()


def open_orders(session: Session, site_id: int, today: date) -> list[dict[str, Any]]:
    """List the site's open work orders with their progress, soonest due first."""
    orders = session.execute(
        select(
            WorkOrder.id,
            WorkOrder.number,
            WorkOrder.product,
            WorkOrder.quantity,
            WorkOrder.due_on,
            Customer.code.label("customer_code"),
            Customer.name.label("customer"),
        )
        .join(Customer, Customer.id == WorkOrder.customer_id)
        .where(WorkOrder.site_id == site_id, WorkOrder.status == "open")
        .order_by(WorkOrder.due_on.is_(None), WorkOrder.due_on, WorkOrder.number)
    ).all()
    if not orders:
        return []

    def count(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    latest = aliased(PieceReview)
    counts = {
        row.work_order_id: row
        for row in session.execute(
            select(
                Piece.work_order_id,
                count(Piece.status.in_(DONE_STATUSES)).label("made"),
                count(latest.verdict == "conforme").label("conforme"),
                count(latest.verdict == "a_reprendre").label("to_redo"),
                count(latest.verdict == "rebut").label("scrapped"),
            )
            .join(WorkOrder, WorkOrder.id == Piece.work_order_id)
            .outerjoin(latest, latest.id == _newest_verdict())
            .where(WorkOrder.site_id == site_id, WorkOrder.status == "open")
            .group_by(Piece.work_order_id)
        )
    }
    week_end = today + timedelta(days=6 - today.weekday())
    lines = []
    for order in orders:
        figures = counts.get(order.id)
        made, conforme, to_redo, scrapped = (
            (int(figures.made), int(figures.conforme), int(figures.to_redo), int(figures.scrapped))
            if figures is not None
            else (0, 0, 0, 0)
        )
        due = order.due_on
        done = conforme >= order.quantity
        lines.append(
            {
                "number": order.number,
                "customer": order.customer,
                "customer_code": order.customer_code,
                "product": order.product,
                "quantity": order.quantity,
                "made": made,
                "conforme": conforme,
                "to_redo": to_redo,
                "scrapped": scrapped,
                "due_on": due,
                "late": due is not None and due < today and not done,
                "this_week": due is not None and today <= due <= week_end and not done,
                "done": done,
            }
        )
    return lines


def pieces_per_customer(
    session: Session, site_id: int, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Count the pieces completed between two instants, per customer, most first."""
    pieces = func.count(Piece.id).label("pieces")
    rows = session.execute(
        select(Customer.code, Customer.name, pieces)
        .join(WorkOrder, WorkOrder.id == Piece.work_order_id)
        .join(Customer, Customer.id == WorkOrder.customer_id)
        .where(
            Piece.site_id == site_id,
            Piece.status.in_(DONE_STATUSES),
            Piece.completed_at >= start,
            Piece.completed_at < end,
        )
        .group_by(Customer.code, Customer.name)
        .order_by(pieces.desc(), Customer.name)
    ).all()
    return [{"code": row.code, "name": row.name, "pieces": int(row.pieces)} for row in rows]


def lead_times(session: Session, site_id: int, since: datetime) -> list[dict[str, Any]]:
    """Return the median time from first run start to completion, per product, since then."""
    first_start = (
        select(func.min(OperationRun.started_at))
        .where(OperationRun.piece_id == Piece.id)
        .correlate(Piece)
        .scalar_subquery()
    )
    rows = session.execute(
        select(WorkOrder.product, Piece.completed_at, first_start.label("first_start"))
        .join(WorkOrder, WorkOrder.id == Piece.work_order_id)
        .where(
            Piece.site_id == site_id,
            Piece.status.in_(DONE_STATUSES),
            Piece.completed_at >= since,
        )
    ).all()
    spans: dict[str, list[float]] = {}
    for row in rows:
        if row.first_start is None or row.completed_at is None:
            continue
        seconds = (row.completed_at - row.first_start).total_seconds()
        spans.setdefault(row.product, []).append(max(0.0, seconds))
    return [
        {"product": product, "pieces": len(values), "median_s": statistics.median(values)}
        for product, values in sorted(spans.items(), key=lambda item: item[0].casefold())
    ]


def _first_context_since(session: Session, site_id: int, start: datetime) -> int | None:
    """Return a lower bound on the ids of the context rows recorded since ``start``."""
    # Events and context rows are written in the same order (one writer at a time): the
    # first context row made by an event of this month or later bounds this month's rows.
    first_event = (
        select(Event.id)
        .where(Event.station_id == Station.id, Event.received_at >= start)
        .order_by(Event.received_at)
        .limit(1)
        .correlate(Station)
        .scalar_subquery()
    )
    firsts = [
        event_id
        for event_id in session.scalars(select(first_event).where(Station.site_id == site_id))
        if event_id is not None
    ]
    if not firsts:
        return None
    return session.scalar(
        select(StationContext.id)
        .where(StationContext.event_id >= min(firsts))
        .order_by(StationContext.event_id)
        .limit(1)
    )


def help_waits(
    session: Session, site_id: int, start: datetime, now: datetime
) -> list[dict[str, Any]]:
    """Sum up how long students waited for the teacher (A-AIDE) since ``start``, per station."""
    bound = _first_context_since(session, site_id, start)
    if bound is None:
        return []
    calls = (
        select(
            StationContext.station_id,
            StationContext.help_since,
            func.max(StationContext.id).label("last_id"),
        )
        .join(Station, Station.id == StationContext.station_id)
        .where(
            Station.site_id == site_id,
            StationContext.id >= bound,
            StationContext.help_since >= start,
        )
        .group_by(StationContext.station_id, StationContext.help_since)
        .subquery()
    )
    following = aliased(StationContext)
    ending = aliased(StationContext)
    # The station's next context row after the call's last one: the call ended with it.
    next_id = (
        select(func.min(following.id))
        .where(following.station_id == calls.c.station_id, following.id > calls.c.last_id)
        .correlate(calls)
        .scalar_subquery()
    )
    ends = select(calls.c.station_id, calls.c.help_since, next_id.label("next_id")).subquery()
    rows = session.execute(
        select(Station.code, Station.name, ends.c.help_since, Event.received_at.label("ended_at"))
        .select_from(ends)
        .join(Station, Station.id == ends.c.station_id)
        .outerjoin(ending, ending.id == ends.c.next_id)
        .outerjoin(Event, Event.id == ending.event_id)
    ).all()
    waits: dict[tuple[str, str], list[float]] = {}
    for row in rows:
        end = row.ended_at or now
        waits.setdefault((row.code, row.name), []).append(
            max(0.0, (end - row.help_since).total_seconds())
        )
    return [
        {
            "code": code,
            "station": name,
            "calls": len(values),
            "total_s": sum(values),
            "median_s": statistics.median(values),
        }
        for (code, name), values in sorted(waits.items())
    ]


def production_board(
    session: Session, site_id: int, now: datetime | None = None, zone: tzinfo | None = None
) -> dict[str, Any]:
    """Read the office's production board of a site, without writing anything."""
    now = now or utcnow()
    zone = zone or workshop_timezone()
    today = now.astimezone(zone).date()
    start, end = month_bounds(now, zone)
    return {
        "generated_at": now,
        "today": today,
        "month_start": start.date(),
        "orders": open_orders(session, site_id, today),
        "customers": pieces_per_customer(session, site_id, start, end),
        "lead_times": lead_times(session, site_id, now - timedelta(days=LEAD_TIME_DAYS)),
        "lead_time_days": LEAD_TIME_DAYS,
        "help": help_waits(session, site_id, start, now),
    }
