"""The school file as the core receives it: validated, typed, ready to import.

``app.data`` reads and checks the YAML file (docs/contract.md §2) and builds these; the core's
import (``app.ingest.school``) writes them. ``path`` is where a record is in the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class FrameworkSpec:
    """A framework as the file gives it."""

    path: Path
    id: str
    title: str
    source: str | None
    provisional: bool
    competencies: list[tuple[str, str]]


@dataclass(frozen=True)
class HabilitationSpec:
    """A kind of habilitation as the file gives it (``habilitations:``)."""

    path: Path
    id: str
    name: str
    derogation_until: date | None = None


@dataclass(frozen=True)
class HeldSpec:
    """A student's habilitation as the file gives it: which one, until when, on what grounds."""

    path: Path
    id: str
    until: date
    medical_until: date | None = None
    trained_on: date | None = None
    trainer: str | None = None


@dataclass(frozen=True)
class StudentSpec:
    """A student as the file gives it."""

    path: Path
    id: str
    name: str
    framework: str
    badges: list[str]
    left_on: date | None = None
    habilitations: list[HeldSpec] = field(default_factory=list)


@dataclass(frozen=True)
class TeacherSpec:
    """A teacher as the file gives it."""

    path: Path
    email: str
    name: str
    badges: list[str]


@dataclass(frozen=True)
class StationSpec:
    """A station as the file gives it."""

    path: Path
    code: str
    name: str
    kind: str
    mqtt_device: str | None
    requires: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class WpsSpec:
    """A WPS as the file gives it."""

    path: Path
    id: str
    process: str
    position: str | None
    i_a: tuple[float, float]
    u_v: tuple[float, float]
    q_kj_mm: tuple[float, float] | None


@dataclass(frozen=True)
class OperationTypeSpec:
    """An operation type as the file gives it."""

    path: Path
    id: str
    name: str
    process: str | None
    station_kind: str | None
    competencies: list[str]
    requires: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CustomerSpec:
    """A customer as the file gives it."""

    path: Path
    id: str
    name: str


@dataclass(frozen=True)
class StepSpec:
    """A routing step as the file gives it."""

    path: Path
    step: int
    type: str
    wps: str | None


@dataclass(frozen=True)
class WorkOrderSpec:
    """A work order as the file gives it."""

    path: Path
    number: str
    customer: str
    product: str
    quantity: int
    due: date | None
    operations: list[StepSpec]
    drawing: str | None = None
    # Where the routing is in the file, for errors found while importing ("file:line: path").
    operations_where: str = ""


@dataclass(frozen=True)
class SchoolSpec:
    """The whole validated file."""

    site: str
    site_name: str | None = None
    frameworks: list[FrameworkSpec] = field(default_factory=list)
    habilitations: list[HabilitationSpec] = field(default_factory=list)
    students: list[StudentSpec] = field(default_factory=list)
    teachers: list[TeacherSpec] = field(default_factory=list)
    stations: list[StationSpec] = field(default_factory=list)
    wps: list[WpsSpec] = field(default_factory=list)
    operation_types: list[OperationTypeSpec] = field(default_factory=list)
    customers: list[CustomerSpec] = field(default_factory=list)
    work_orders: list[WorkOrderSpec] = field(default_factory=list)
