"""Piece serials allocated to work orders, and what a scan of their labels does."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, insert, select

from app.boundary import cli_origin, submit
from app.extensions import db
from app.ingest import Outcome
from app.ingest.events import AllocatePieceLabels
from app.models import Event, LabelBatch, Piece, PieceSerial, WorkOrder, utcnow
from tests.factories import Scanner, site_id

LUCAS = "B-0001"


def allocate(number: str = "OF-2026-0001", count: int = 3, year: int = 2026) -> Outcome:
    """Allocate piece serials as ``labels sheet`` does."""
    return submit(cli_origin(site_id()), AllocatePieceLabels(number, count, "3x8", year))


def allocated(number: str = "OF-2026-0001", count: int = 3, year: int = 2026) -> tuple[str, str]:
    outcome = allocate(number, count, year)
    assert outcome.accepted, outcome.body
    return outcome.body["first"], outcome.body["last"]


def counter(year: int = 2026) -> int | None:
    db.session.commit()
    return db.session.execute(
        select(PieceSerial.last_serial).where(PieceSerial.year == year)
    ).scalar()


def piece_order(code: str) -> str:
    db.session.commit()
    return db.session.execute(
        select(WorkOrder.number)
        .join(Piece, Piece.work_order_id == WorkOrder.id)
        .where(Piece.code == code)
    ).scalar_one()


@contextmanager
def statements() -> Iterator[list[str]]:
    """Collect the SQL statements the application runs meanwhile."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", note)


def test_allocations_follow_one_another_and_are_logged(school: None) -> None:
    first = allocate(count=24)
    assert first.body["message"] == "24 étiquettes : P-2026-000001 à P-2026-000024"
    assert allocated(count=2) == ("P-2026-000025", "P-2026-000026")
    assert allocated("OF-2026-0002", count=1) == ("P-2026-000027", "P-2026-000027")
    assert allocated(count=1, year=2027) == ("P-2027-000001", "P-2027-000001")
    assert counter() == 27
    batches = db.session.execute(
        select(LabelBatch.first_serial, LabelBatch.count, LabelBatch.stock).order_by(LabelBatch.id)
    ).all()
    assert [tuple(b) for b in batches] == [
        (1, 24, "3x8"),
        (25, 2, "3x8"),
        (27, 1, "3x8"),
        (1, 1, "3x8"),
    ]
    logged = db.session.execute(select(Event).where(Event.kind == "labels.allocate")).scalars()
    assert [(e.payload or {}).get("count") for e in logged] == [24, 2, 1, 1]


def test_a_bad_allocation_is_refused_and_spends_no_serial(school: None) -> None:
    for number, count, code in (
        ("OF-2026-0001", 0, "bad_count"),
        ("OF-2026-0001", 1001, "bad_count"),
        ("OF-2026-9999", 3, "unknown_work_order"),
    ):
        outcome = allocate(number, count)
        assert outcome.body["error"]["code"] == code, outcome.body
    assert allocate(count=1000).accepted
    assert allocated(count=1) == ("P-2026-001001", "P-2026-001001")


def test_serials_run_out_at_999999_and_the_refusal_gives_the_counter_back(school: None) -> None:
    db.session.execute(
        insert(PieceSerial).values(site_id=site_id(), year=2026, last_serial=999_998)
    )
    db.session.commit()
    outcome = allocate(count=2)
    assert outcome.body["error"]["code"] == "no_serials_left"
    assert "il en reste 1" in outcome.body["error"]["message"]
    assert counter() == 999_998
    assert allocated(count=1) == ("P-2026-999999", "P-2026-999999")


def test_an_existing_piece_of_the_year_is_never_allocated_again(school: None) -> None:
    """A piece made from a label Atelier did not count (older, imported) lifts the counter."""
    order = db.session.execute(
        select(WorkOrder.id).where(WorkOrder.number == "OF-2026-0002")
    ).scalar_one()
    db.session.execute(
        insert(Piece).values(
            site_id=site_id(), code="P-2026-000040", work_order_id=order, created_at=utcnow()
        )
    )
    db.session.execute(
        insert(Piece).values(
            site_id=site_id(), code="P-2025-000900", work_order_id=order, created_at=utcnow()
        )
    )
    db.session.commit()
    assert allocated(count=2) == ("P-2026-000041", "P-2026-000042")


def test_a_piece_scanned_from_an_unallocated_higher_label_pushes_the_next_allocation_past_it(
    scanner: Scanner,
) -> None:
    assert allocated(count=2) == ("P-2026-000001", "P-2026-000002")
    scanner.ok(LUCAS)
    scanner.ok("OF-2026-0002")
    body = scanner.ok("P-2026-000500")
    assert body["message"].startswith("Nouvelle pièce P-2026-000500 enregistrée pour OF-2026-0002")
    assert counter() == 500
    scanner.ok("P-2026-000300")  # lower: the counter stays where it is
    assert counter() == 500
    scanner.ok("P-2027-000007")  # another year: its own counter, created by the scan
    assert counter(2027) == 7
    assert allocated(count=3) == ("P-2026-000501", "P-2026-000503")


def test_a_pre_printed_label_becomes_a_piece_of_its_order_with_no_order_in_context(
    scanner: Scanner,
) -> None:
    first, _last = allocated(count=3)
    scanner.ok(LUCAS)
    body = scanner.ok(first)
    assert body["message"] == (
        f"Nouvelle pièce {first} enregistrée pour OF-2026-0001. Scanne maintenant l'opération."
    )
    assert body["station"]["work_order"]["number"] == "OF-2026-0001"
    assert piece_order(first) == "OF-2026-0001"
    assert counter() == 3  # an allocated label leaves the counter alone
    started = scanner.ok("OF-2026-0001-20")
    assert started["station"]["run"]["piece"] == first


def test_a_pre_printed_label_goes_to_its_own_order_whatever_is_in_context(
    scanner: Scanner,
) -> None:
    first, last = allocated("OF-2026-0002", count=2)
    scanner.ok(LUCAS)
    scanner.ok("OF-2026-0001")
    body = scanner.ok(last)
    assert body["message"].startswith(f"Nouvelle pièce {last} enregistrée pour OF-2026-0002.")
    assert body["station"]["work_order"]["number"] == "OF-2026-0002"
    assert piece_order(last) == "OF-2026-0002"
    # With an operation of another order selected: that operation is dropped, not started.
    scanner.ok("OF-2026-0001-20")
    body = scanner.ok(first)
    assert body["station"]["work_order"]["number"] == "OF-2026-0002"
    assert body["station"]["operation"] is None and body["station"]["run"] is None
    assert piece_order(first) == "OF-2026-0002"


def test_pre_printed_labels_still_stop_at_the_orders_quantity(scanner: Scanner) -> None:
    allocated("OF-2026-0001", count=8)  # 4 ordered, 2 more allowed for rework
    scanner.ok(LUCAS)
    for serial in range(1, 7):
        scanner.ok(f"P-2026-00000{serial}")
    scanner.refused("P-2026-000007", "too_many_pieces")


def test_a_label_outside_every_batch_still_needs_an_order_in_context(scanner: Scanner) -> None:
    allocated(count=2)
    scanner.ok(LUCAS)
    scanner.refused("P-2026-000003", "no_work_order")
    assert counter() == 2


def test_a_scan_of_a_known_piece_reads_no_batch_and_no_counter(scanner: Scanner) -> None:
    first, _last = allocated(count=2)
    scanner.ok(LUCAS)
    scanner.ok(first)
    scanner.ok("OF-2026-0002")
    with statements() as seen:
        scanner.ok(first)
    scan_sql = [s for s in seen if "label_batches" in s or "piece_serials" in s]
    assert scan_sql == []
    with statements() as seen:
        scanner.ok("P-2026-000002")
    assert sum("label_batches" in s for s in seen) == 1
    assert not any("piece_serials" in s for s in seen)
