"""The event log (which is also the audit log), the evidence it produces, and assessments."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base
from app.models.types import UtcDateTime, stamp_index, utcnow

if TYPE_CHECKING:
    from app.models.curriculum import Competency
    from app.models.people import StaffUser, Student
    from app.models.production import OperationRun, Piece, Station

EVENT_STATUSES = ("accepted", "rejected")
PEOPLE_CHANNELS = text("channel IN ('web', 'cli')")
ACTOR_KINDS = ("device", "kiosk", "staff", "worker", "cli")


class Event(Base):
    """Every input that reached the server, accepted or rejected, with its reason.

    ``(site_id, channel, key)`` is the id minted where the input happened: a retry, a QoS 1
    redelivery or a spool replay finds its row and changes nothing. Rows are append-only
    (a trigger refuses to change or delete one once its outcome is written): the log says
    who did what, when, from where, and what came of it. ``status`` is ``pending`` only
    inside the transaction that records the event.
    """

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("site_id", "channel", "key"),
        CheckConstraint("status IN ('pending', 'accepted', 'rejected')", name="status"),
        # A device's last scans (A-ANNULE, a kiosk's timeout). Every index here is written
        # by every input: one without a reader costs each scan a page of WAL for nothing.
        Index("ix_events_station_received", "station_id", "received_at"),
        stamp_index("events", "student_id"),
        # The audit page: what people did on pages and command lines (the office's changes,
        # reviews, exports), newest first; scans and station messages are not written to it.
        Index(
            "ix_events_site_people",
            "site_id",
            "id",
            sqlite_where=PEOPLE_CHANNELS,
            postgresql_where=PEOPLE_CHANNELS,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # NULL only for an input no site could be found for (the failed import of a new site).
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    # Where it came from (http, mqtt, web, cli) and the id it was given there.
    channel: Mapped[str] = mapped_column(String(10))
    key: Mapped[str] = mapped_column(String(160))
    # What it is: scan, mqtt.arc_end, staff.password, data.import, weld.assign, …
    kind: Mapped[str] = mapped_column(String(30))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    body_sha256: Mapped[str] = mapped_column(String(64))
    # Who: a device token, a kiosk, a staff member, the MQTT worker or a command line.
    actor_kind: Mapped[str] = mapped_column(String(10))
    actor_name: Mapped[str | None] = mapped_column(String(80))
    device_token_id: Mapped[int | None] = mapped_column(ForeignKey("device_tokens.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # What was asked (the decoded input; raw text for what could not be decoded).
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    raw: Mapped[str | None] = mapped_column(Text)
    # What came of it.
    status: Mapped[str] = mapped_column(String(10))
    error_code: Mapped[str | None] = mapped_column(String(30))
    message: Mapped[str | None] = mapped_column(String(400))
    reason: Mapped[str | None] = mapped_column(String(400))
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    # Scans: where, about whom, and what (indexed columns of the payload).
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    target_station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    student_id: Mapped[int | None] = mapped_column(ForeignKey("students.id"))
    code: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str | None] = mapped_column(String(20))
    scanned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The scan changed the shop (A-ANNULE can take it back) / the scan this one undid.
    undoable: Mapped[bool] = mapped_column(default=False)
    undoes_event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"), unique=True)
    # A student's erasure rewrote what this row said of them (payload, raw, code, message,
    # response): the only change the append-only trigger lets through, once.
    redacted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    station: Mapped[Station | None] = relationship(foreign_keys=[station_id])
    student: Mapped[Student | None] = relationship(foreign_keys=[student_id])


class Evidence(Base):
    """A student's evidence of a competency, produced by an operation run they worked on."""

    __tablename__ = "evidence"
    __table_args__ = (UniqueConstraint("student_id", "competency_id", "run_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    competency_id: Mapped[int] = mapped_column(ForeignKey("competencies.id"))
    run_id: Mapped[int] = mapped_column(ForeignKey("operation_runs.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    student: Mapped[Student] = relationship()
    competency: Mapped[Competency] = relationship()
    run: Mapped[OperationRun] = relationship()
    assessments: Mapped[list[Assessment]] = relationship(
        back_populates="evidence", order_by="Assessment.assessed_at"
    )


ASSESSMENT_LEVELS = ("NE", "ABS", "1", "2", "3", "4")
VERDICTS = ("conforme", "a_reprendre", "rebut")


class PieceReview(Base):
    """A teacher's customer verdict on a finished piece; a later review supersedes it."""

    __tablename__ = "piece_reviews"
    __table_args__ = (
        CheckConstraint("verdict IN ('conforme', 'a_reprendre', 'rebut')", name="verdict"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    piece_id: Mapped[int] = mapped_column(ForeignKey("pieces.id"), index=True)
    verdict: Mapped[str] = mapped_column(String(12))
    reviewed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)

    piece: Mapped[Piece] = relationship()
    reviewed_by: Mapped[StaffUser] = relationship()


class Assessment(Base):
    """A teacher's level for one piece of evidence (formative positioning, 1 to 4)."""

    __tablename__ = "assessments"
    __table_args__ = (CheckConstraint("level IN ('NE', 'ABS', '1', '2', '3', '4')", name="level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"), index=True)
    level: Mapped[str] = mapped_column(String(3))
    comment: Mapped[str | None] = mapped_column(String(500))
    assessed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    assessed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"), index=True)

    evidence: Mapped[Evidence] = relationship(back_populates="assessments")
    assessed_by: Mapped[StaffUser] = relationship()
