"""The teacher's records: students' own feeling, levels set by hand, welders' continuity
confirmations and photos of reviewed pieces.

Every row is stamped with the event that wrote it: the event log says who did what and
when, and keeps every answer a row no longer holds (a self-assessment given twice).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base
from app.models.types import UtcDateTime

if TYPE_CHECKING:
    from app.models.people import StaffUser

FEELINGS = ("difficile", "moyen", "facile")
MASTERY_RULES = ("latest", "recent")
# ISO 9606-1 9.2: a welder's qualification holds while they weld within 6 months, and is
# confirmed every 6 months.
CONTINUITY_MONTHS = 6


def months_before(moment: datetime, months: int) -> datetime:
    """Return the instant some calendar months before (the day clamped to the month's end)."""
    return months_after(moment, -months)


def months_after(moment: datetime, months: int) -> datetime:
    """Return the instant some calendar months after (the day clamped to the month's end)."""
    year, month = divmod(moment.year * 12 + moment.month - 1 + months, 12)
    for day in (moment.day, 30, 29, 28):
        try:
            return moment.replace(year=year, month=month + 1, day=day)
        except ValueError:
            continue
    raise ValueError("no such month")  # pragma: no cover  (every month has a 28th)


class SelfAssessment(Base):
    """How a student felt a run went (three pictograms at the kiosk after A-FIN).

    One per student and run: a second answer replaces the first (the log keeps both).
    """

    __tablename__ = "self_assessments"
    __table_args__ = (
        UniqueConstraint("student_id", "run_id"),
        CheckConstraint("feeling IN ('difficile', 'moyen', 'facile')", name="feeling"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    run_id: Mapped[int] = mapped_column(ForeignKey("operation_runs.id"), index=True)
    feeling: Mapped[str] = mapped_column(String(10))
    answered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)


class LevelOverride(Base):
    """A competency's current level set by hand by a teacher, with the reason.

    It stands until a newer assessment of that competency for that student.
    """

    __tablename__ = "level_overrides"
    __table_args__ = (
        CheckConstraint("level IN ('NE', 'ABS', '1', '2', '3', '4')", name="level"),
        Index("ix_level_overrides_student_competency", "student_id", "competency_id", "set_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    competency_id: Mapped[int] = mapped_column(ForeignKey("competencies.id"))
    level: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(300))
    set_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    set_at: Mapped[datetime] = mapped_column(UtcDateTime)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)

    set_by: Mapped[StaffUser] = relationship()


class ContinuityConfirmation(Base):
    """A teacher's signature of a welder's 6-monthly ISO 9606-1 confirmation (9.2)."""

    __tablename__ = "continuity_confirmations"
    __table_args__ = (
        Index(
            "ix_continuity_confirmations_student",
            "student_id",
            "process",
            "position",
            "confirmed_at",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    process: Mapped[str] = mapped_column(String(10))
    position: Mapped[str] = mapped_column(String(10))
    confirmed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)

    confirmed_by: Mapped[StaffUser] = relationship()


class ReviewPhoto(Base):
    """A photo of a piece (re-encoded JPEG, metadata dropped), with the review it went with."""

    __tablename__ = "review_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    piece_id: Mapped[int] = mapped_column(ForeignKey("pieces.id"), index=True)
    review_id: Mapped[int | None] = mapped_column(ForeignKey("piece_reviews.id"), index=True)
    media_type: Mapped[str] = mapped_column(String(30), default="image/jpeg")
    data: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column()
    width: Mapped[int] = mapped_column()
    height: Mapped[int] = mapped_column()
    taken_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    taken_at: Mapped[datetime] = mapped_column(UtcDateTime)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
