"""The office's work orders and routing templates, read for its pages (plain dicts).

A work order is late when its due date is past (the workshop's local day) and it is still
open. ``made`` counts its pieces whose routing is done (awaiting review or reviewed),
``conforme`` those whose newest review says « conforme ». A step is « started » once a run
of it exists on any piece: from then on the order's routing no longer changes.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.models import (
    Customer,
    Operation,
    OperationRun,
    OperationType,
    Piece,
    PieceReview,
    RoutingTemplate,
    RoutingTemplateStep,
    WorkOrder,
    Wps,
    iso,
    operation_code,
)

STATUS_LABELS = {"open": "Ouvert", "closed": "Clôturé", "cancelled": "Annulé"}
PIECE_LABELS = {
    "in_progress": "En cours",
    "awaiting_review": "À valider",
    "reviewed": "Validée",
}
VERDICT_LABELS = {"conforme": "Conforme", "a_reprendre": "À reprendre", "rebut": "Rebut"}
DONE = ("awaiting_review", "reviewed")


def _newest_reviews(order_ids: list[int]) -> Any:
    """Return each piece's newest review id, for the orders' pieces (a later one supersedes)."""
    return (
        select(PieceReview.piece_id, func.max(PieceReview.id).label("review_id"))
        .join(Piece, Piece.id == PieceReview.piece_id)
        .where(Piece.work_order_id.in_(order_ids))
        .group_by(PieceReview.piece_id)
        .subquery()
    )


# Closed and cancelled orders shown without a filter (the most recent): the list grows with
# what is in progress, not with ten years of history.
RECENT_DONE = 30
# Closed or cancelled orders shown when filtered on that status, the most recent first.
DONE_SHOWN = 200


def work_orders(
    session: Session, site_id: int, today: date, status: str | None = None
) -> dict[str, Any]:
    """List work orders: the open ones first by due date, then the most recent others.

    ``status`` None: every open order and the ``RECENT_DONE`` last closed or cancelled;
    a status: the orders of that status (at most ``DONE_SHOWN`` of a closed one). Returns
    ``orders`` and ``hidden``, how many more the filter has.
    """
    columns = (
        WorkOrder.id,
        WorkOrder.number,
        WorkOrder.product,
        WorkOrder.quantity,
        WorkOrder.due_on,
        WorkOrder.status,
        WorkOrder.made_from,
        Customer.code.label("customer_code"),
        Customer.name.label("customer"),
    )
    base = (
        select(*columns)
        .join(Customer, Customer.id == WorkOrder.customer_id)
        .where(WorkOrder.site_id == site_id)
    )
    recent = func.coalesce(WorkOrder.closed_at, WorkOrder.created_at)
    rows: list[Any] = []
    hidden = 0
    done_statuses = ("closed", "cancelled") if status is None else (status,)
    if status in (None, "open"):
        rows += session.execute(base.where(WorkOrder.status == "open")).all()
    if status != "open":
        limit = RECENT_DONE if status is None else DONE_SHOWN
        done = session.execute(
            base.where(WorkOrder.status.in_(done_statuses))
            .order_by(recent.desc().nulls_last(), WorkOrder.number.desc())
            .limit(limit)
        ).all()
        rows += done
        if len(done) == limit:
            total = session.execute(
                select(func.count())
                .select_from(WorkOrder)
                .where(WorkOrder.site_id == site_id, WorkOrder.status.in_(done_statuses))
            ).scalar_one()
            hidden = int(total) - limit
    counts = _piece_counts(session, [row.id for row in rows])
    rank = {"open": 0, "closed": 1, "cancelled": 1}
    rows = sorted(
        rows,
        key=lambda r: (
            rank.get(r.status, 2),
            r.due_on is None,
            r.due_on or date.max,
            r.number,
        ),
    )
    orders = []
    for row in rows:
        made, good, pieces = counts.get(row.id, (0, 0, 0))
        orders.append(
            {
                "number": row.number,
                "customer": row.customer,
                "customer_code": row.customer_code,
                "product": row.product,
                "quantity": row.quantity,
                "due_on": row.due_on,
                "late": row.status == "open" and row.due_on is not None and row.due_on < today,
                "status": row.status,
                "status_label": STATUS_LABELS.get(row.status, row.status),
                "made": made,
                "conforme": good,
                "pieces": pieces,
                "made_from": row.made_from,
            }
        )
    return {"orders": orders, "hidden": hidden}


def _piece_counts(session: Session, order_ids: list[int]) -> dict[int, tuple[int, int, int]]:
    """Return, per order, its pieces made, made and conforme (newest review), and in all."""
    if not order_ids:
        return {}
    newest = _newest_reviews(order_ids)
    made = func.sum(case((Piece.status.in_(DONE), 1), else_=0))
    good = func.sum(case((PieceReview.verdict == "conforme", 1), else_=0))
    return {
        row.work_order_id: (int(row.made or 0), int(row.good or 0), int(row.pieces or 0))
        for row in session.execute(
            select(
                Piece.work_order_id,
                made.label("made"),
                good.label("good"),
                func.count(Piece.id).label("pieces"),
            )
            .outerjoin(newest, newest.c.piece_id == Piece.id)
            .outerjoin(PieceReview, PieceReview.id == newest.c.review_id)
            .where(Piece.work_order_id.in_(order_ids))
            .group_by(Piece.work_order_id)
        )
    }


def routing(session: Session, work_order_id: int, number: str) -> list[dict[str, Any]]:
    """Return an order's routing: each step, its type, WPS and whether it has started."""
    started = (
        select(OperationRun.operation_id)
        .where(OperationRun.operation_id == Operation.id)
        .correlate(Operation)
        .exists()
    )
    rows = session.execute(
        select(
            Operation.step,
            OperationType.code.label("type"),
            OperationType.name.label("type_name"),
            Wps.code.label("wps"),
            started.label("started"),
        )
        .join(OperationType, OperationType.id == Operation.operation_type_id)
        .outerjoin(Wps, Wps.id == Operation.wps_id)
        .where(Operation.work_order_id == work_order_id)
        .order_by(Operation.step)
    ).all()
    return [
        {
            "step": row.step,
            "code": operation_code(number, row.step),
            "type": row.type,
            "type_name": row.type_name,
            "wps": row.wps,
            "started": bool(row.started),
        }
        for row in rows
    ]


def work_order(session: Session, site_id: int, number: str, today: date) -> dict[str, Any] | None:
    """Return one work order with its routing and its pieces, or None."""
    order = session.execute(
        select(WorkOrder, Customer.code, Customer.name)
        .join(Customer, Customer.id == WorkOrder.customer_id)
        .where(WorkOrder.site_id == site_id, WorkOrder.number == number)
    ).first()
    if order is None:
        return None
    wo, customer_code, customer_name = order
    steps = routing(session, wo.id, wo.number)
    newest = _newest_reviews([wo.id])
    pieces = session.execute(
        select(Piece.code, Piece.status, Piece.round, Piece.completed_at, PieceReview.verdict)
        .outerjoin(newest, newest.c.piece_id == Piece.id)
        .outerjoin(PieceReview, PieceReview.id == newest.c.review_id)
        .where(Piece.work_order_id == wo.id)
        .order_by(Piece.code)
    ).all()
    return {
        "number": wo.number,
        "customer": customer_name,
        "customer_code": customer_code,
        "product": wo.product,
        "quantity": wo.quantity,
        "due_on": wo.due_on,
        "drawing": wo.drawing,
        "status": wo.status,
        "status_label": STATUS_LABELS.get(wo.status, wo.status),
        "late": wo.status == "open" and wo.due_on is not None and wo.due_on < today,
        "created_at": iso(wo.created_at),
        "closed_at": iso(wo.closed_at),
        "made_from": wo.made_from,
        "steps": steps,
        "started": any(step["started"] for step in steps),
        "pieces": [
            {
                "code": row.code,
                "status": row.status,
                "status_label": PIECE_LABELS.get(row.status, row.status),
                "round": row.round,
                "completed_at": iso(row.completed_at),
                "verdict": row.verdict,
                "verdict_label": VERDICT_LABELS.get(row.verdict) if row.verdict else None,
            }
            for row in pieces
        ],
        "made": sum(1 for row in pieces if row.status in DONE),
        "conforme": sum(1 for row in pieces if row.verdict == "conforme"),
    }


def templates(session: Session, site_id: int) -> list[dict[str, Any]]:
    """List the site's routing templates with their steps (active first, by code)."""
    rows = session.execute(
        select(
            RoutingTemplate.id,
            RoutingTemplate.code,
            RoutingTemplate.name,
            RoutingTemplate.product,
            RoutingTemplate.active,
        )
        .where(RoutingTemplate.site_id == site_id)
        .order_by(RoutingTemplate.active.desc(), RoutingTemplate.code)
    ).all()
    steps = _template_steps(session, [row.id for row in rows])
    return [
        {
            "code": row.code,
            "name": row.name,
            "product": row.product,
            "active": row.active,
            "steps": steps.get(row.id, []),
        }
        for row in rows
    ]


def _template_steps(session: Session, template_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {}
    if not template_ids:
        return found
    for row in session.execute(
        select(
            RoutingTemplateStep.template_id,
            RoutingTemplateStep.step,
            OperationType.code.label("type"),
            OperationType.name.label("type_name"),
            Wps.code.label("wps"),
        )
        .join(OperationType, OperationType.id == RoutingTemplateStep.operation_type_id)
        .outerjoin(Wps, Wps.id == RoutingTemplateStep.wps_id)
        .where(RoutingTemplateStep.template_id.in_(template_ids))
        .order_by(RoutingTemplateStep.template_id, RoutingTemplateStep.step)
    ):
        found.setdefault(row.template_id, []).append(
            {"step": row.step, "type": row.type, "type_name": row.type_name, "wps": row.wps}
        )
    return found


def template(session: Session, site_id: int, code: str) -> dict[str, Any] | None:
    """Return one routing template with its steps, or None."""
    row = session.execute(
        select(
            RoutingTemplate.id,
            RoutingTemplate.code,
            RoutingTemplate.name,
            RoutingTemplate.product,
            RoutingTemplate.active,
        ).where(RoutingTemplate.site_id == site_id, RoutingTemplate.code == code)
    ).first()
    if row is None:
        return None
    return {
        "code": row.code,
        "name": row.name,
        "product": row.product,
        "active": row.active,
        "steps": _template_steps(session, [row.id]).get(row.id, []),
    }


def choices(session: Session, site_id: int) -> dict[str, Any]:
    """Return what the order and template forms offer: customers, types, WPS, templates, orders."""
    return {
        "customers": [
            {"code": code, "name": name}
            for code, name in session.execute(
                select(Customer.code, Customer.name)
                .where(Customer.site_id == site_id)
                .order_by(Customer.name, Customer.code)
            )
        ],
        "types": [
            {"code": code, "name": name, "process": process}
            for code, name, process in session.execute(
                select(OperationType.code, OperationType.name, OperationType.process)
                .where(OperationType.site_id == site_id)
                .order_by(OperationType.name, OperationType.code)
            )
        ],
        "wps": [
            {"code": code, "process": process}
            for code, process in session.execute(
                select(Wps.code, Wps.process).where(Wps.site_id == site_id).order_by(Wps.code)
            )
        ],
        "templates": [
            {"code": code, "name": name, "product": product}
            for code, name, product in session.execute(
                select(RoutingTemplate.code, RoutingTemplate.name, RoutingTemplate.product)
                .where(RoutingTemplate.site_id == site_id, RoutingTemplate.active)
                .order_by(RoutingTemplate.code)
            )
        ],
        "orders": [
            {"number": number, "product": product}
            for number, product in session.execute(
                select(WorkOrder.number, WorkOrder.product)
                .where(WorkOrder.site_id == site_id)
                .order_by(WorkOrder.number.desc())
                .limit(200)
            )
        ],
    }
