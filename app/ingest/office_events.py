"""The office's inputs: an administrator's (or a teacher's) edit of the school's data.

Each page of ``app.office`` builds one of these from its form and hands it to the core
(``app.boundary.submit``); the command line's ``data retention`` builds ``EraseStudent``.
``payload()`` is what the audit log keeps: what was asked, in the school's codes. What
names a student (a name, a badge code) is rewritten by that student's erasure.

A field left ``None`` in a ``Save…`` input means « keep as it is » only where its
docstring says so; elsewhere the input gives the whole record as the form shows it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

# -- students, badges, habilitations -----------------------------------------------------------


@dataclass(frozen=True)
class SaveStudent:
    """Create a student (``create``) or change one: name, framework, end of schooling."""

    KIND: ClassVar[str] = "office.student"
    code: str
    name: str
    framework: str
    left_on: date | None = None
    create: bool = False

    def payload(self) -> dict[str, Any]:
        """Return the student as the form gave it."""
        return {
            "student": self.code,
            "name": self.name,
            "framework": self.framework,
            "left_on": iso_day(self.left_on),
            "create": self.create,
        }


@dataclass(frozen=True)
class GiveBadge:
    """Give a student a badge (scanned on the page or typed); ``replaces`` a lost one.

    The lost badge is deleted in the same transaction: it stops working at once.
    ``replaces`` may also name a badge to take back without giving another (``code`` "").
    """

    KIND: ClassVar[str] = "office.badge"
    student_code: str
    code: str
    replaces: str | None = None

    def payload(self) -> dict[str, Any]:
        """Return whose badge, which one, and which it replaces."""
        return {"student": self.student_code, "badge": self.code, "replaces": self.replaces}


@dataclass(frozen=True)
class SaveHabilitation:
    """Create or change a kind of habilitation and the place's derogation date for it."""

    KIND: ClassVar[str] = "office.habilitation"
    code: str
    name: str
    derogation_until: date | None = None

    def payload(self) -> dict[str, Any]:
        """Return the habilitation as the form gave it."""
        return {
            "habilitation": self.code,
            "name": self.name,
            "derogation_until": iso_day(self.derogation_until),
        }


@dataclass(frozen=True)
class SetStudentHabilitation:
    """Authorise a student for a habilitation until a date, on its grounds; or end it.

    A change of terms ends the row in force and writes a new one (the history the labour
    inspector may ask for); ``end`` ends it without a new one.
    """

    KIND: ClassVar[str] = "office.student_habilitation"
    student_code: str
    habilitation: str
    until: date | None = None
    medical_until: date | None = None
    trained_on: date | None = None
    trainer: str | None = None
    end: bool = False

    def payload(self) -> dict[str, Any]:
        """Return whose authorisation and its terms."""
        return {
            "student": self.student_code,
            "habilitation": self.habilitation,
            "until": iso_day(self.until),
            "medical_until": iso_day(self.medical_until),
            "trained_on": iso_day(self.trained_on),
            "trainer": self.trainer,
            "end": self.end,
        }


# -- the school's data ------------------------------------------------------------------------


@dataclass(frozen=True)
class SaveCustomer:
    """Create (``create``: refused if the code exists) or change a customer."""

    KIND: ClassVar[str] = "office.customer"
    code: str
    name: str
    create: bool = False

    def payload(self) -> dict[str, Any]:
        """Return the customer."""
        return {"customer": self.code, "name": self.name, "create": self.create}


@dataclass(frozen=True)
class SaveStation:
    """Create or change a station: its name, kind, MQTT device and required habilitations."""

    KIND: ClassVar[str] = "office.station"
    code: str
    name: str
    kind: str
    mqtt_device: str | None = None
    requires: tuple[str, ...] = ()
    create: bool = False

    def payload(self) -> dict[str, Any]:
        """Return the station."""
        return {
            "station": self.code,
            "name": self.name,
            "kind": self.kind,
            "mqtt_device": self.mqtt_device,
            "requires": list(self.requires),
            "create": self.create,
        }


@dataclass(frozen=True)
class SaveWps:
    """Create or change a WPS (DMOS) and its ranges."""

    KIND: ClassVar[str] = "office.wps"
    code: str
    process: str
    position: str | None
    i_min_a: float
    i_max_a: float
    u_min_v: float
    u_max_v: float
    q_min_kj_mm: float | None = None
    q_max_kj_mm: float | None = None
    create: bool = False

    def payload(self) -> dict[str, Any]:
        """Return the WPS (a number JSON cannot hold, NaN or infinite, as its text)."""
        return {
            "wps": self.code,
            "process": self.process,
            "position": self.position,
            "i_a": [json_number(self.i_min_a), json_number(self.i_max_a)],
            "u_v": [json_number(self.u_min_v), json_number(self.u_max_v)],
            "q_kj_mm": None
            if self.q_min_kj_mm is None or self.q_max_kj_mm is None
            else [json_number(self.q_min_kj_mm), json_number(self.q_max_kj_mm)],
            "create": self.create,
        }


@dataclass(frozen=True)
class SaveOperationType:
    """Create or change an operation type (its competencies are the grid's: ``SetGrid``)."""

    KIND: ClassVar[str] = "office.operation_type"
    code: str
    name: str
    process: str | None = None
    station_kind: str | None = None
    requires: tuple[str, ...] = ()
    create: bool = False

    def payload(self) -> dict[str, Any]:
        """Return the operation type."""
        return {
            "operation_type": self.code,
            "name": self.name,
            "process": self.process,
            "station_kind": self.station_kind,
            "requires": list(self.requires),
            "create": self.create,
        }


@dataclass(frozen=True)
class SetGrid:
    """Set which competencies of one framework each operation type evidences (the grid).

    ``cells`` are the ticked (operation type code, competency code) pairs of that
    framework; links to other frameworks' competencies are left as they are.
    """

    KIND: ClassVar[str] = "office.grid"
    framework: str
    cells: tuple[tuple[str, str], ...]

    def payload(self) -> dict[str, Any]:
        """Return the framework and its ticked cells."""
        return {"framework": self.framework, "cells": [list(cell) for cell in self.cells]}


# -- work orders -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StepInput:
    """One routing step as a form gives it: its number, operation type code and WPS code."""

    step: int
    type: str
    wps: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the step for a payload."""
        return {"step": self.step, "type": self.type, "wps": self.wps}


@dataclass(frozen=True)
class SaveRoutingTemplate:
    """Create or change a routing template (a work order made from it copies its steps)."""

    KIND: ClassVar[str] = "office.template"
    code: str
    name: str
    product: str | None
    steps: tuple[StepInput, ...]
    active: bool = True

    def payload(self) -> dict[str, Any]:
        """Return the template."""
        return {
            "template": self.code,
            "name": self.name,
            "product": self.product,
            "steps": [step.as_dict() for step in self.steps],
            "active": self.active,
        }


@dataclass(frozen=True)
class CreateWorkOrder:
    """Create a work order for a customer, its routing from a template, an earlier order or
    the steps given. ``number`` None takes the year's next free ``OF-YYYY-NNNN``."""

    KIND: ClassVar[str] = "office.work_order"
    customer: str
    product: str
    quantity: int
    due_on: date | None = None
    drawing: str | None = None
    number: str | None = None
    template: str | None = None
    copy_of: str | None = None
    steps: tuple[StepInput, ...] = ()

    def payload(self) -> dict[str, Any]:
        """Return the order as asked."""
        return {
            "number": self.number,
            "customer": self.customer,
            "product": self.product,
            "quantity": self.quantity,
            "due_on": iso_day(self.due_on),
            "drawing": self.drawing,
            "template": self.template,
            "copy_of": self.copy_of,
            "steps": [step.as_dict() for step in self.steps],
        }


@dataclass(frozen=True)
class EditWorkOrder:
    """Change an open work order: its header and, until a piece of it has started, its
    routing (``steps`` None leaves the routing as it is)."""

    KIND: ClassVar[str] = "office.work_order_edit"
    number: str
    customer: str
    product: str
    quantity: int
    due_on: date | None = None
    drawing: str | None = None
    steps: tuple[StepInput, ...] | None = None

    def payload(self) -> dict[str, Any]:
        """Return the order as the form gave it."""
        return {
            "number": self.number,
            "customer": self.customer,
            "product": self.product,
            "quantity": self.quantity,
            "due_on": iso_day(self.due_on),
            "drawing": self.drawing,
            "steps": None if self.steps is None else [step.as_dict() for step in self.steps],
        }


@dataclass(frozen=True)
class SetWorkOrderStatus:
    """Close a work order (delivered), cancel it, or open it again (``open``)."""

    KIND: ClassVar[str] = "office.work_order_status"
    number: str
    status: str  # open, closed, cancelled

    def payload(self) -> dict[str, Any]:
        """Return which order and its new status."""
        return {"number": self.number, "status": self.status}


@dataclass(frozen=True)
class AssignOperation:
    """Give an operation of an open work order (``OF-…-SS``) to a student, or take it back."""

    KIND: ClassVar[str] = "office.assign"
    operation_code: str
    student_code: str
    remove: bool = False

    def payload(self) -> dict[str, Any]:
        """Return which operation, to whom."""
        return {
            "operation": self.operation_code,
            "student": self.student_code,
            "remove": self.remove,
        }


# -- minors' data (RGPD) ---------------------------------------------------------------------

ERASE_REASONS = ("request", "retention")


@dataclass(frozen=True)
class EraseStudent:
    """Erase a student's personal data, on request or past the retention period.

    The name and code are replaced, badges deleted, free-text comments about them and
    habilitation rows removed, and every event that named them rewritten; pieces, runs
    and levels stay, anonymous, so the school's production is still counted.
    """

    KIND: ClassVar[str] = "rgpd.erase"
    student_code: str
    reason: str  # request, retention

    def payload(self) -> dict[str, Any]:
        """Return why (the student's code itself is rewritten by the erasure)."""
        return {"student": self.student_code, "reason": self.reason}


def json_number(value: float) -> float | str:
    """Return a number as JSON can hold it: NaN and infinities as their text."""
    return value if math.isfinite(value) else str(value)


def iso_day(day: date | None) -> str | None:
    """Return a date as ISO text, or None."""
    return day.isoformat() if day else None
