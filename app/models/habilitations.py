"""Habilitations: the regulated machines and operations a minor may use once authorised.

A habilitation rests on the place's derogation (declared for the workshop, 3 years), the
student's yearly medical fitness opinion and their safety training on the machine
(docs/contract.md §2). A station or an operation type may require habilitations; a student
holds one until a date. What a student held is kept for the labour inspector: an import
that changes or drops an authorisation ends its row (``ended_at``) and, for a change,
writes a new one, so the record of who was authorised when stays.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Column, Date, ForeignKey, Index, String, Table, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base
from app.models.types import UtcDateTime, stamp_index

if TYPE_CHECKING:
    from app.models.people import Student

HELD_NOW = text("ended_at IS NULL")

station_requirements = Table(
    "station_requirements",
    Base.metadata,
    Column("station_id", ForeignKey("stations.id"), primary_key=True),
    Column("habilitation_id", ForeignKey("habilitations.id"), primary_key=True),
)

operation_type_requirements = Table(
    "operation_type_requirements",
    Base.metadata,
    Column("operation_type_id", ForeignKey("operation_types.id"), primary_key=True),
    Column("habilitation_id", ForeignKey("habilitations.id"), primary_key=True),
)


class Habilitation(Base):
    """A kind of habilitation (« Presse plieuse »), and until when the place's derogation runs."""

    __tablename__ = "habilitations"
    __table_args__ = (UniqueConstraint("site_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(120))
    # The derogation declared to the labour inspectorate for the place, when recorded.
    derogation_until: Mapped[date | None] = mapped_column(Date)


class StudentHabilitation(Base):
    """A student authorised for a habilitation until a date; ended rows are the history."""

    __tablename__ = "student_habilitations"
    __table_args__ = (
        # One authorisation in force per student and habilitation.
        Index(
            "uq_student_habilitations_held",
            "student_id",
            "habilitation_id",
            unique=True,
            sqlite_where=HELD_NOW,
            postgresql_where=HELD_NOW,
        ),
        stamp_index("student_habilitations", "ended_event_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    habilitation_id: Mapped[int] = mapped_column(ForeignKey("habilitations.id"), index=True)
    until: Mapped[date] = mapped_column(Date)
    # The medical fitness opinion for that work (renewed every year), when recorded.
    medical_until: Mapped[date | None] = mapped_column(Date)
    # The safety training on the machine: when, and by whom.
    trained_on: Mapped[date | None] = mapped_column(Date)
    trainer: Mapped[str | None] = mapped_column(String(80))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))

    habilitation: Mapped[Habilitation] = relationship()
    student: Mapped[Student] = relationship()

    def valid_on(self, day: date) -> bool:
        """Tell whether the authorisation holds on a day (its dates and its place's derogation)."""
        return holds_on(day, self.until, self.medical_until, self.habilitation.derogation_until)


def holds_on(
    day: date, until: date | None, medical_until: date | None, derogation_until: date | None
) -> bool:
    """Tell whether an authorisation holds on a day: held, and none of its dates past."""
    if until is None:
        return False
    return all(limit is None or limit >= day for limit in (until, medical_until, derogation_until))


def lapsed_on(
    until: date | None, medical_until: date | None, derogation_until: date | None, day: date
) -> date | None:
    """Return the first of an authorisation's dates already past on a day (None: none is)."""
    past = [limit for limit in (until, medical_until, derogation_until) if limit and limit < day]
    return min(past) if past else None
