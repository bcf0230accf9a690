"""The school file as the core receives it: validated, typed, ready to import.

``app.data`` reads and checks the YAML file (docs/contract.md §2) and builds these; the core's
import (``app.ingest.school``) writes them. ``path`` is where a record is in the file.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date

from labels.codes import STATION_PATTERN

Path = tuple[str | int, ...]

# The formats of the school's codes: the file's checks (``app.data.schema``) and the office's
# inputs (``app.ingest.office_school``) apply the same ones, with the same French words.
SITE = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
IDENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,39}")
UPPER_IDENT = re.compile(r"[A-Z0-9][A-Z0-9-]{0,39}")
COMPETENCY_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,19}")
STATION_CODE = STATION_PATTERN
MQTT_DEVICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")
PROCESS = re.compile(r"\d{2,3}")

IDENT_WORDS = "un identifiant (lettres, chiffres, -)"
UPPER_IDENT_WORDS = "un identifiant (A-Z, 0-9, -)"
STATION_CODE_WORDS = "un code de poste (ST-…, A-Z, 0-9, -)"
MQTT_DEVICE_WORDS = "un identifiant MQTT (lettres, chiffres, - ou _)"
PROCESS_WORDS = "un numéro de procédé ISO 4063"

# What a WPS range may span: beyond these no welding station measures anything.
SPAN_LIMITS = {"i_a": 2000.0, "u_v": 200.0, "q_kj_mm": 100.0}


def span_problem(low: float, high: float, limit: float, *, strict: bool = False) -> str | None:
    """Return what is wrong with a [min, max] range, in French, or None when it is sound."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return "la plage doit être faite de nombres finis"
    if low < 0 or high < low or (strict and high == low):
        words = "min < max" if strict else "min ≤ max"
        return f"la plage doit être positive avec {words}"
    if high > limit:
        return f"la plage doit rester sous {limit:g}"
    return None


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
