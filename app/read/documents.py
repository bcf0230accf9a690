"""What the printed documents show: travellers, label sheets, badges, station labels.

Each function reads a site's rows and builds the dataclasses of ``labels`` (the pure
renderers): nothing here draws a barcode or writes a file, and nothing writes to the
database. Students appear by their short name only (« Lucas M. »): badges hang on lanyards
and label sheets lie around the workshop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.models import (
    KIOSK,
    Badge,
    Framework,
    LabelBatch,
    Operation,
    Piece,
    Site,
    StaffUser,
    Station,
    Student,
    WorkOrder,
    batch_holds,
    operation_code,
)
from app.read.wording import french_order, short_name
from labels.codes import ACTION_WORDS, CodeKind, ParsedCode, parse_code, piece_serial
from labels.content import Label
from labels.pdf import Traveller, TravellerStep, WpsRange


@dataclass(frozen=True)
class BadgeList:
    """The printed badges of a class, and the students who have none to print."""

    badges: tuple[Label, ...]
    without_badge: tuple[str, ...]


def school_name(session: Session, site_id: int) -> str:
    """Return the name printed on the school's documents (its name, else its code)."""
    row = session.execute(select(Site.name, Site.code).where(Site.id == site_id)).one()
    return str(row.name or row.code)


def work_order_id(session: Session, site_id: int, number: str) -> int | None:
    """Return the id of a work order of the site by its number, or None."""
    found = session.execute(
        select(WorkOrder.id).where(WorkOrder.site_id == site_id, WorkOrder.number == number)
    ).scalar()
    return int(found) if found is not None else None


def traveller(session: Session, site_id: int, number: str) -> Traveller | None:
    """Return the traveller sheet (fiche suiveuse) of a work order, or None if unknown."""
    order = session.execute(
        select(WorkOrder)
        .where(WorkOrder.site_id == site_id, WorkOrder.number == number)
        .options(
            selectinload(WorkOrder.customer),
            selectinload(WorkOrder.operations).selectinload(Operation.operation_type),
            selectinload(WorkOrder.operations).selectinload(Operation.wps),
        )
    ).scalar_one_or_none()
    if order is None:
        return None
    steps = []
    for operation in order.operations:
        wps = operation.wps
        steps.append(
            TravellerStep(
                step=operation.step,
                code=operation_code(order.number, operation.step),
                operation=operation.operation_type.name,
                wps=(
                    WpsRange(
                        code=wps.code,
                        process=wps.process,
                        position=wps.position,
                        i_a=(wps.i_min_a, wps.i_max_a),
                        u_v=(wps.u_min_v, wps.u_max_v),
                        q_kj_mm=(
                            (wps.q_min_kj_mm, wps.q_max_kj_mm)
                            if wps.q_min_kj_mm is not None and wps.q_max_kj_mm is not None
                            else None
                        ),
                    )
                    if wps is not None
                    else None
                ),
            )
        )
    return Traveller(
        number=order.number,
        customer=order.customer.name,
        product=order.product,
        quantity=order.quantity,
        due_on=order.due_on,
        drawing=order.drawing,
        steps=tuple(steps),
        school=school_name(session, site_id),
    )


def piece_labels(session: Session, site_id: int, number: str, codes: list[str]) -> list[Label]:
    """Return the labels of new pieces of a work order: code, OF number and product."""
    product = session.execute(
        select(WorkOrder.product).where(WorkOrder.site_id == site_id, WorkOrder.number == number)
    ).scalar_one()
    return [Label(code, title=number, lines=(product,)) for code in codes]


def work_orders(session: Session, site_id: int) -> list[dict[str, Any]]:
    """List the site's work orders for printing, with their pieces and labels allocated."""
    pieces = (
        select(func.count())
        .select_from(Piece)
        .where(Piece.work_order_id == WorkOrder.id)
        .correlate(WorkOrder)
        .scalar_subquery()
    )
    labelled = (
        select(func.coalesce(func.sum(LabelBatch.count), 0))
        .where(LabelBatch.work_order_id == WorkOrder.id)
        .correlate(WorkOrder)
        .scalar_subquery()
    )
    rows = session.execute(
        select(WorkOrder, pieces.label("pieces"), labelled.label("labelled"))
        .where(WorkOrder.site_id == site_id)
        .options(selectinload(WorkOrder.customer))
        .order_by(WorkOrder.due_on.is_(None), WorkOrder.due_on, WorkOrder.number)
    ).all()
    return [
        {
            "number": order.number,
            "customer": order.customer.name,
            "product": order.product,
            "quantity": order.quantity,
            "due_on": order.due_on,
            "pieces": int(count),
            "labelled": int(allocated),
        }
        for order, count, allocated in rows
    ]


def frameworks(session: Session, site_id: int) -> list[dict[str, Any]]:
    """List the site's frameworks (classes): active students, and those with no printed badge."""
    students = (
        select(func.count())
        .select_from(Student)
        .where(Student.framework_id == Framework.id, Student.active.is_(True))
        .correlate(Framework)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Framework.code, Framework.title, students.label("students"))
        .where(Framework.site_id == site_id)
        .order_by(Framework.code)
    ).all()
    return [
        {
            "code": r.code,
            "title": r.title,
            "students": int(r.students),
            "without_badge": student_badges(session, site_id, r.code).without_badge,
        }
        for r in rows
    ]


def framework_exists(session: Session, site_id: int, code: str) -> bool:
    """Tell whether the site has a framework with this id."""
    return (
        session.execute(
            select(Framework.id).where(Framework.site_id == site_id, Framework.code == code)
        ).first()
        is not None
    )


def student_badges(session: Session, site_id: int, framework: str | None = None) -> BadgeList:
    """Return the printed badges (``B-…``) of the site's active students, by name.

    A student may hold several printed badges: each is printed. Those with none (an RFID
    badge only) are listed apart, so that the teacher knows who gets no card.
    """
    query = (
        select(Student)
        .where(Student.site_id == site_id, Student.active.is_(True))
        .options(selectinload(Student.badges))
    )
    if framework is not None:
        query = query.join(Framework, Framework.id == Student.framework_id).where(
            Framework.code == framework
        )
    students = sorted(
        session.execute(query).scalars(), key=lambda s: (french_order(s.name), s.code)
    )
    badges: list[Label] = []
    without: list[str] = []
    for student in students:
        printed = [badge.code for badge in student.badges if badge.code.startswith("B-")]
        if not printed:
            without.append(short_name(student.name))
        badges.extend(Label(code, title=short_name(student.name)) for code in printed)
    return BadgeList(tuple(badges), tuple(without))


def station_labels(session: Session, site_id: int) -> list[Label]:
    """Return a label per station of the site (kiosks included), with its name."""
    rows = session.execute(
        select(Station.code, Station.name).where(Station.site_id == site_id).order_by(Station.code)
    ).all()
    return [Label(row.code, title=row.name) for row in rows]


def kiosks(session: Session, site_id: int) -> list[dict[str, str]]:
    """List the site's kiosk stations (each gets its own action board)."""
    rows = session.execute(
        select(Station.code, Station.name)
        .where(Station.site_id == site_id, Station.kind == KIOSK)
        .order_by(Station.code)
    ).all()
    return [{"code": row.code, "name": row.name} for row in rows]


def station_name(session: Session, site_id: int, code: str) -> str | None:
    """Return the name of a station of the site, or None."""
    found = session.execute(
        select(Station.name).where(Station.site_id == site_id, Station.code == code)
    ).scalar()
    return str(found) if found is not None else None


def caption(session: Session, site_id: int, code: str) -> Label:
    """Return the label of any code, captioned with what the site knows of it.

    A piece shows its OF number and product, a station its name, a badge its holder's
    short name only, an action its French word; an unknown code is printed bare.
    """
    parsed = parse_code(code)
    if not isinstance(parsed, ParsedCode):
        return Label(code)
    kind = parsed.kind
    if kind is CodeKind.ACTION and parsed.action is not None:
        return Label(code, title=ACTION_WORDS.get(parsed.action))
    if kind is CodeKind.PIECE:
        row = session.execute(
            select(WorkOrder.number, WorkOrder.product)
            .join(Piece, Piece.work_order_id == WorkOrder.id)
            .where(Piece.site_id == site_id, Piece.code == code)
        ).first()
        if row is None:
            row = session.execute(
                select(WorkOrder.number, WorkOrder.product)
                .join(LabelBatch, LabelBatch.work_order_id == WorkOrder.id)
                .where(LabelBatch.site_id == site_id, batch_holds(*piece_serial(code)))
            ).first()
        return Label(code, title=row.number, lines=(row.product,)) if row else Label(code)
    if kind is CodeKind.STATION:
        name = station_name(session, site_id, code)
        return Label(code, title=name) if name else Label(code)
    if kind is CodeKind.BADGE:
        badge = session.execute(
            select(Badge)
            .where(Badge.site_id == site_id, Badge.code == code)
            .options(selectinload(Badge.student), selectinload(Badge.user))
        ).scalar_one_or_none()
        holder: Student | StaffUser | None = None
        if badge is not None:
            holder = badge.student or badge.user
        name = holder.name if holder is not None else None
        return Label(code, title=short_name(name)) if name else Label(code)
    if kind is CodeKind.WORK_ORDER:
        product = session.execute(
            select(WorkOrder.product).where(WorkOrder.site_id == site_id, WorkOrder.number == code)
        ).scalar()
        return Label(code, title=product) if product else Label(code)
    return Label(code)
