"""Piece labels: serials allocated to a work order for a sheet, never handed out twice.

A site's serials of a year are counted in ``piece_serials``. An allocation takes the
counter row's lock (created if missing, then ``UPDATE … RETURNING``) so that two sheets
printed at once get disjoint ranges, and lifts it first past every piece of that year the
site already has (labels printed before Atelier counted, or imported): a serial already
on a piece is never allocated. The batch (``label_batches``) then tells a scan which work
order a new label belongs to (``app.ingest.scans``).
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Integer, case, cast, func, select, update

from app.ingest.core import Done, Refusal, Scope, handles, insert_for
from app.ingest.events import AllocatePieceLabels
from app.ingest.shop import BATCHES, PIECES, SERIALS, WORK_ORDERS
from labels.codes import piece_code

MAX_LABELS = 1000
LAST_SERIAL = 999_999  # P-YYYY-NNNNNN: six digits


@functools.cache
def _create_counter(dialect: str) -> Any:
    return insert_for(dialect)(SERIALS).on_conflict_do_nothing(index_elements=["site_id", "year"])


def _highest_piece(site_id: int, year: int) -> Any:
    """Return the highest serial of a piece of that year at the site (0 if none), as SQL."""
    prefix = f"P-{year:04d}-"
    serial = cast(func.substr(PIECES.c.code, len(prefix) + 1), Integer)
    return func.coalesce(
        select(func.max(serial))
        .where(
            PIECES.c.site_id == site_id,
            PIECES.c.code.like(prefix + "%"),
            func.length(PIECES.c.code) == len(prefix) + 6,
        )
        .scalar_subquery(),
        0,
    )


@handles(AllocatePieceLabels, atomic=True)
def allocate_piece_labels(scope: Scope, request: AllocatePieceLabels) -> Done:
    """Give the next serials of the year to a work order and record them as a batch."""
    if not 1 <= request.count <= MAX_LABELS:
        raise Refusal(
            "bad_count",
            f"Nombre d'étiquettes invalide : {request.count} (de 1 à {MAX_LABELS}).",
            f"count {request.count} out of 1..{MAX_LABELS}",
        )
    order = scope.conn.execute(
        select(WORK_ORDERS.c.id, WORK_ORDERS.c.number).where(
            WORK_ORDERS.c.site_id == scope.site_id, WORK_ORDERS.c.number == request.work_order
        )
    ).first()
    if order is None:
        raise Refusal(
            "unknown_work_order",
            f"OF inconnu : {request.work_order}.",
            f"unknown work order {request.work_order!r}",
        )
    site_id, year = scope.site_id, request.year
    scope.write(
        _create_counter(scope.conn.dialect.name),
        {"site_id": site_id, "year": year, "last_serial": 0},
    )
    floor = _highest_piece(site_id, year)
    current = case((SERIALS.c.last_serial < floor, floor), else_=SERIALS.c.last_serial)
    counter = (SERIALS.c.site_id == site_id, SERIALS.c.year == year)
    # Conditional, so that running out changes nothing (no savepoint needed to undo it).
    last = scope.write(
        update(SERIALS)
        .where(*counter, current + request.count <= LAST_SERIAL)
        .values(last_serial=current + request.count)
        .returning(SERIALS.c.last_serial)
    ).scalar()
    if last is None:
        used = scope.conn.execute(select(current).where(*counter)).scalar_one()
        raise Refusal(
            "no_serials_left",
            f"Plus assez de numéros de pièce pour {year} : il en reste {LAST_SERIAL - used}.",
            f"serials of {year} exhausted ({used} + {request.count} > {LAST_SERIAL})",
        )
    first = last - request.count + 1
    batch_id = scope.write(
        BATCHES.insert().returning(BATCHES.c.id),
        {
            "site_id": site_id,
            "work_order_id": order.id,
            "year": year,
            "first_serial": first,
            "count": request.count,
            "stock": request.stock,
            "event_id": scope.event_id,
            "created_at": scope.now,
        },
    ).scalar_one()
    first_code, last_code = piece_code(year, first), piece_code(year, last)
    message = (
        f"{request.count} étiquettes : {first_code} à {last_code}"
        if request.count > 1
        else f"1 étiquette : {first_code}"
    )
    return Done(
        message,
        {
            "batch": batch_id,
            "work_order": order.number,
            "first": first_code,
            "last": last_code,
            "count": request.count,
        },
    )
