"""The workshop: stations, operations, customers, work orders, pieces and who did what.

Shop state is made of rows stamped with the event that created them (``event_id``) and,
for those that end, the event that ended them (``ended_event_id``, ``finished_event_id``,
``completed_event_id``). An event's effects are therefore found from the event itself:
that is how ``A-ANNULE`` undoes a scan, and how the audit log says who changed what.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    ColumnElement,
    Date,
    Float,
    ForeignKey,
    Index,
    ScalarSelect,
    String,
    Table,
    UniqueConstraint,
    and_,
    func,
    select,
    text,
)
from sqlalchemy.orm import InstrumentedAttribute, Mapped, mapped_column, relationship

from app.models.base import Base
from app.models.types import UtcDateTime, stamp_index, table_of, utcnow

if TYPE_CHECKING:
    from app.models.curriculum import Competency
    from app.models.habilitations import Habilitation
    from app.models.people import Student

STATION_KINDS = (
    "kiosk",
    "welding",
    "cutting",
    "bending",
    "machining",
    "assembly",
    "finishing",
    "inspection",
    "other",
)
KIOSK = "kiosk"
WELDING = "welding"

OPEN_PERIOD = text("ended_at IS NULL")

operation_type_competencies = Table(
    "operation_type_competencies",
    Base.metadata,
    Column("operation_type_id", ForeignKey("operation_types.id"), primary_key=True),
    Column("competency_id", ForeignKey("competencies.id"), primary_key=True),
)


class Station(Base):
    """A workstation of the workshop, or a kiosk (which may act for another station)."""

    __tablename__ = "stations"
    __table_args__ = (
        UniqueConstraint("site_id", "code"),
        UniqueConstraint("site_id", "mqtt_device"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    mqtt_device: Mapped[str | None] = mapped_column(String(40))

    # The habilitations a student needs to start or join a run here.
    requires: Mapped[list[Habilitation]] = relationship(
        secondary="station_requirements", order_by="Habilitation.code"
    )


class StationContext(Base):
    """What a station works on, as an event set it: one row per change, never updated.

    A station's newest row is its context now (``current_context_id``): the work order,
    operation and piece selected, the run in progress, and for a kiosk the station it acts
    for. A station with no row has nothing selected; undoing the event that made the newest
    row brings the one before back.
    """

    __tablename__ = "station_contexts"
    __table_args__ = (Index("ix_station_contexts_station_latest", "station_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    work_order_id: Mapped[int | None] = mapped_column(ForeignKey("work_orders.id"))
    operation_id: Mapped[int | None] = mapped_column(ForeignKey("operations.id"))
    piece_id: Mapped[int | None] = mapped_column(ForeignKey("pieces.id"))
    active_run_id: Mapped[int | None] = mapped_column(ForeignKey("operation_runs.id"))
    # A kiosk scanning a station label acts for that station until it times out.
    acting_for_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    # The active run was paused because the last student left: the next one resumes it.
    paused_by_exit: Mapped[bool] = mapped_column(default=False)
    # Since when the students at the station wait for the teacher (A-AIDE), until a staff
    # badge is scanned there or the last student leaves.
    help_since: Mapped[datetime | None] = mapped_column(UtcDateTime)


def current_context_id(
    station_id: ColumnElement[int] | InstrumentedAttribute[int],
) -> ScalarSelect[int]:
    """Return the id of a station's context now (its newest row), correlated to ``station_id``."""
    contexts = table_of(StationContext).alias("newest")
    return (
        select(func.max(contexts.c.id)).where(contexts.c.station_id == station_id).scalar_subquery()
    )


class Customer(Base):
    """A customer who orders products from the school."""

    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("site_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(150))


class OperationType(Base):
    """A kind of workshop operation (débit, pliage, soudage MAG…) and what it evidences."""

    __tablename__ = "operation_types"
    __table_args__ = (UniqueConstraint("site_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(120))
    process: Mapped[str | None] = mapped_column(String(10))
    station_kind: Mapped[str | None] = mapped_column(String(20))

    competencies: Mapped[list[Competency]] = relationship(
        secondary=operation_type_competencies, order_by="Competency.id"
    )
    # The habilitations a student needs to start or join a run of this type.
    requires: Mapped[list[Habilitation]] = relationship(
        secondary="operation_type_requirements", order_by="Habilitation.code"
    )


class Wps(Base):
    """A welding procedure specification (DMOS): the ranges a weld must stay within."""

    __tablename__ = "wps"
    __table_args__ = (UniqueConstraint("site_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    process: Mapped[str] = mapped_column(String(10))
    position: Mapped[str | None] = mapped_column(String(10))
    i_min_a: Mapped[float] = mapped_column(Float)
    i_max_a: Mapped[float] = mapped_column(Float)
    u_min_v: Mapped[float] = mapped_column(Float)
    u_max_v: Mapped[float] = mapped_column(Float)
    q_min_kj_mm: Mapped[float | None] = mapped_column(Float)
    q_max_kj_mm: Mapped[float | None] = mapped_column(Float)


class WorkOrder(Base):
    """A work order (OF): a customer's product, a quantity and its routing."""

    __tablename__ = "work_orders"
    __table_args__ = (
        UniqueConstraint("site_id", "number"),
        CheckConstraint("status IN ('open', 'closed', 'cancelled')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    number: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    product: Mapped[str] = mapped_column(String(150))
    quantity: Mapped[int] = mapped_column(default=1)
    due_on: Mapped[date | None] = mapped_column(Date)
    drawing: Mapped[str | None] = mapped_column(String(100))
    # open (pieces are made), closed (delivered) or cancelled; set by the office.
    status: Mapped[str] = mapped_column(String(10), default="open", server_default="open")
    created_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The routing template or the earlier order it was made from, for the office's record.
    made_from: Mapped[str | None] = mapped_column(String(60))

    customer: Mapped[Customer] = relationship()
    operations: Mapped[list[Operation]] = relationship(
        back_populates="work_order", order_by="Operation.step"
    )


class Operation(Base):
    """One step of a work order's routing (printed on the traveller as ``OF-…-SS``)."""

    __tablename__ = "operations"
    __table_args__ = (UniqueConstraint("work_order_id", "step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    step: Mapped[int] = mapped_column()
    operation_type_id: Mapped[int] = mapped_column(ForeignKey("operation_types.id"))
    wps_id: Mapped[int | None] = mapped_column(ForeignKey("wps.id"))

    work_order: Mapped[WorkOrder] = relationship(back_populates="operations")
    operation_type: Mapped[OperationType] = relationship()
    wps: Mapped[Wps | None] = relationship()

    @property
    def code(self) -> str:
        """Return the code printed on the traveller sheet for this step."""
        return operation_code(self.work_order.number, self.step)


def operation_code(work_order_number: str, step: int) -> str:
    """Return the code of a routing step, ``OF-YYYY-NNNN-SS``."""
    return f"{work_order_number}-{step:02d}"


WORK_ORDER_STATUSES = ("open", "closed", "cancelled")

PIECE_STATUSES = ("in_progress", "awaiting_review", "reviewed")


class Piece(Base):
    """A piece made under a work order, identified by its label ``P-YYYY-NNNNNN``."""

    __tablename__ = "pieces"
    __table_args__ = (
        UniqueConstraint("site_id", "code"),
        CheckConstraint("status IN ('in_progress', 'awaiting_review', 'reviewed')", name="status"),
        # The board's "finished today" and "awaiting review" panels.
        Index("ix_pieces_status_completed", "status", "completed_at"),
        stamp_index("pieces", "event_id"),
        stamp_index("pieces", "completed_event_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Indexed first in (site_id, code).
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    code: Mapped[str] = mapped_column(String(20))
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="in_progress")
    # 1, then one more each time a teacher sends the piece back to be reworked: its routing
    # is made again, in runs of the new round.
    round: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # The scan that created the piece from an unknown label.
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    completed_event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))

    work_order: Mapped[WorkOrder] = relationship()
    runs: Mapped[list[OperationRun]] = relationship(
        back_populates="piece", order_by="OperationRun.started_at"
    )


RUN_STATUSES = ("running", "paused", "finished")


class OperationRun(Base):
    """An operation of the routing done on one piece at one station by some students.

    ``status`` follows from the run's rows: finished once ``finished_event_id`` is set,
    running while one of its intervals is open, paused otherwise.
    """

    __tablename__ = "operation_runs"
    __table_args__ = (
        # An operation is done once per piece and round: a retry or a second scan cannot
        # double it.
        UniqueConstraint("piece_id", "operation_id", "round"),
        CheckConstraint("status IN ('running', 'paused', 'finished')", name="status"),
        stamp_index("operation_runs", "finished_event_id"),
        # A station's runs by time (the runs an unattributed weld may belong to); it
        # replaced the index on station_id alone, which it leads with.
        Index("ix_operation_runs_station_started", "station_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    piece_id: Mapped[int] = mapped_column(ForeignKey("pieces.id"), index=True)
    operation_id: Mapped[int] = mapped_column(ForeignKey("operations.id"), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    round: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(10), default="running")
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"), index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))

    piece: Mapped[Piece] = relationship(back_populates="runs")
    operation: Mapped[Operation] = relationship()
    station: Mapped[Station] = relationship()
    participants: Mapped[list[RunParticipant]] = relationship(
        back_populates="run", order_by="RunParticipant.joined_at"
    )
    intervals: Mapped[list[RunInterval]] = relationship(
        back_populates="run", order_by="RunInterval.started_at"
    )


class RunInterval(Base):
    """A period during which a run was being worked on (between start/resume and pause/end)."""

    __tablename__ = "run_intervals"
    __table_args__ = (
        Index("ix_run_intervals_station_started", "station_id", "started_at"),
        # A run is worked on in one stretch at a time.
        Index(
            "uq_run_intervals_open_run",
            "run_id",
            unique=True,
            sqlite_where=OPEN_PERIOD,
            postgresql_where=OPEN_PERIOD,
        ),
        stamp_index("run_intervals", "ended_event_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("operation_runs.id"), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))

    run: Mapped[OperationRun] = relationship(back_populates="intervals")


class RunParticipant(Base):
    """A student who worked on a run (team work gives several)."""

    __tablename__ = "run_participants"

    run_id: Mapped[int] = mapped_column(ForeignKey("operation_runs.id"), primary_key=True)
    # The key starts with the run: a student's hours and pieces need their own index.
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), primary_key=True, index=True)
    joined_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"), index=True)

    run: Mapped[OperationRun] = relationship(back_populates="participants")
    student: Mapped[Student] = relationship()


class Presence(Base):
    """A student badged in at a station, from badge-in to badge-out."""

    __tablename__ = "presences"
    __table_args__ = (
        # A student is badged in at one station at a time.
        Index(
            "uq_presences_open_student",
            "student_id",
            unique=True,
            sqlite_where=OPEN_PERIOD,
            postgresql_where=OPEN_PERIOD,
        ),
        Index("ix_presences_station_started", "station_id", "started_at"),
        stamp_index("presences", "ended_event_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))

    station: Mapped[Station] = relationship()
    student: Mapped[Student] = relationship()


class PieceSerial(Base):
    """The last piece serial handed out at a site in a year: ``P-YYYY-NNNNNN`` never reused.

    Label sheets take the next serials from it (``UPDATE … RETURNING`` under the row's
    lock); a piece created from a label printed elsewhere raises it past that label.
    """

    __tablename__ = "piece_serials"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_serial: Mapped[int] = mapped_column(default=0)


class LabelBatch(Base):
    """Piece serials allocated to a work order for a sheet of labels (``labels sheet``).

    A label of the batch scanned for the first time becomes a piece of this work order,
    whatever the station has in context: the label says which order it belongs to.
    """

    __tablename__ = "label_batches"
    __table_args__ = (
        Index("ix_label_batches_site_year_first", "site_id", "year", "first_serial"),
        CheckConstraint("count > 0", name="count"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    year: Mapped[int] = mapped_column()
    first_serial: Mapped[int] = mapped_column()
    count: Mapped[int] = mapped_column()
    stock: Mapped[str] = mapped_column(String(10))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    work_order: Mapped[WorkOrder] = relationship()


def batch_holds(year: Any, serial: Any) -> ColumnElement[bool]:
    """Return the condition that a label batch holds a piece serial of a year."""
    batches = table_of(LabelBatch)
    return and_(
        batches.c.year == year,
        batches.c.first_serial <= serial,
        batches.c.first_serial + batches.c.count > serial,
    )
