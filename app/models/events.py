"""The raw event log, the competency evidence it produces, and teachers' assessments."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import Base
from app.models.types import UtcDateTime, utcnow

if TYPE_CHECKING:
    from app.models.curriculum import Competency
    from app.models.people import StaffUser, Student
    from app.models.production import OperationRun, Station


class Event(Base):
    """Every input that reached the server, accepted or rejected, with its reason.

    ``(channel, key)`` is the id minted where the input happened: a retry, a QoS 1
    redelivery or a spool replay finds its row and changes nothing.
    """

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("channel", "key"),
        CheckConstraint("status IN ('accepted', 'rejected')", name="status"),
        Index("ix_events_station_received", "station_id", "received_at"),
        Index("ix_events_target_station_received", "target_station_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))
    key: Mapped[str] = mapped_column(String(160))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    body_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str | None] = mapped_column(String(20))
    error_code: Mapped[str | None] = mapped_column(String(30))
    message: Mapped[str | None] = mapped_column(String(400))
    reason: Mapped[str | None] = mapped_column(String(400))
    device_token_id: Mapped[int | None] = mapped_column(ForeignKey("device_tokens.id"))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    station_code: Mapped[str | None] = mapped_column(String(80))
    # The station whose state the scan changed (a kiosk acts for another station).
    target_station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    code: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str | None] = mapped_column(String(20))
    scanned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    student_id: Mapped[int | None] = mapped_column(ForeignKey("students.id"), index=True)
    payload: Mapped[str | None] = mapped_column(Text)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    # How to put the shop back as it was before this scan (A-ANNULE), and who did it.
    undo: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True))
    undone_by_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))

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
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    student: Mapped[Student] = relationship()
    competency: Mapped[Competency] = relationship()
    run: Mapped[OperationRun] = relationship()
    assessments: Mapped[list[Assessment]] = relationship(
        back_populates="evidence", order_by="Assessment.assessed_at"
    )


ASSESSMENT_LEVELS = ("NE", "ABS", "1", "2", "3", "4")


class Assessment(Base):
    """A teacher's level for one piece of evidence (formative positioning, 1 to 4)."""

    __tablename__ = "assessments"
    __table_args__ = (CheckConstraint("level IN ('NE', 'ABS', '1', '2', '3', '4')", name="level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"), index=True)
    level: Mapped[str] = mapped_column(String(3))
    assessed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    assessed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    evidence: Mapped[Evidence] = relationship(back_populates="assessments")
    assessed_by: Mapped[StaffUser] = relationship()
