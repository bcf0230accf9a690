"""The office: routing templates work orders are made from, and operations handed to students.

A routing template is a named routing (steps of operation types, with their WPS) that a
new work order copies; changing a template later changes no order made from it. An
assignment gives one operation of an open work order to a student: the kiosk shows the
student what they were given. Ending an assignment keeps its row (``ended_at``): the log
says who gave what to whom, and when.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base
from app.models.types import UtcDateTime, stamp_index

if TYPE_CHECKING:
    from app.models.people import Student
    from app.models.production import Operation, OperationType, Wps

OPEN_ASSIGNMENT = text("ended_at IS NULL")


class RoutingTemplate(Base):
    """A named routing a work order can be created from (« Portail battant, 4 étapes »)."""

    __tablename__ = "routing_templates"
    __table_args__ = (UniqueConstraint("site_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(150))
    # The product a work order made from it is for, offered as the order's product.
    product: Mapped[str | None] = mapped_column(String(150))
    active: Mapped[bool] = mapped_column(default=True)

    steps: Mapped[list[RoutingTemplateStep]] = relationship(
        back_populates="template", order_by="RoutingTemplateStep.step", cascade="all, delete-orphan"
    )


class RoutingTemplateStep(Base):
    """One step of a routing template: an operation type, with its WPS for a weld."""

    __tablename__ = "routing_template_steps"
    __table_args__ = (UniqueConstraint("template_id", "step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("routing_templates.id"), index=True)
    step: Mapped[int] = mapped_column()
    operation_type_id: Mapped[int] = mapped_column(ForeignKey("operation_types.id"))
    wps_id: Mapped[int | None] = mapped_column(ForeignKey("wps.id"))

    template: Mapped[RoutingTemplate] = relationship(back_populates="steps")
    operation_type: Mapped[OperationType] = relationship()
    wps: Mapped[Wps | None] = relationship()


class Assignment(Base):
    """An operation of a work order given to a student, from when until it was taken back."""

    __tablename__ = "assignments"
    __table_args__ = (
        # One assignment in force per operation and student.
        Index(
            "uq_assignments_open",
            "operation_id",
            "student_id",
            unique=True,
            sqlite_where=OPEN_ASSIGNMENT,
            postgresql_where=OPEN_ASSIGNMENT,
        ),
        # The kiosk's « Mes opérations »: a student's assignments in force.
        Index("ix_assignments_student_open", "student_id", "ended_at"),
        stamp_index("assignments", "ended_event_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    operation_id: Mapped[int] = mapped_column(ForeignKey("operations.id"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    assigned_at: Mapped[datetime] = mapped_column(UtcDateTime)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))

    operation: Mapped[Operation] = relationship()
    student: Mapped[Student] = relationship()
