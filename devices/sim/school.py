"""The parts of a school data file (CONTRACT section 2) that the simulator acts on.

The server validates the file; this reader only takes what a simulation needs (students
and their badges, stations, WPS ranges, operation types and routings) and ignores the rest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from devices.sim.weld import WeldLimits

WELDING_KIND = "welding"
KIOSK_KIND = "kiosk"
# Where work that needs no particular machine (reading a plan, checking a piece) is done
# first, when the school has such stations.
BENCH_KINDS = ("inspection", "assembly", "finishing")
_PROCESS_IN_NAME = re.compile(r"\((\d{2,3})\)")


class SchoolFileError(ValueError):
    """The school file lacks something the simulator needs."""


@dataclass(frozen=True)
class Student:
    """A student and the badges they can scan."""

    id: str
    name: str
    badges: tuple[str, ...]
    # The habilitations the student holds today (those whose dates have not passed).
    habilitations: frozenset[str] = frozenset()

    def may_work(self, station: Station, operation: OperationType) -> bool:
        """Tell whether the student holds what the station and the operation require."""
        return set(station.requires) | set(operation.requires) <= self.habilitations


@dataclass(frozen=True)
class Station:
    """A workshop station; welding stations have an MQTT device id."""

    code: str
    name: str
    kind: str
    mqtt_device: str | None = None
    # The habilitations a student needs to work here (CONTRACT section 2, `requires`).
    requires: tuple[str, ...] = ()

    @property
    def process_hint(self) -> str | None:
        """Return the process number written in the station's name, e.g. "(141)"."""
        match = _PROCESS_IN_NAME.search(self.name)
        return match.group(1) if match else None


@dataclass(frozen=True)
class Wps:
    """A welding procedure specification: a process and its current/voltage ranges."""

    id: str
    process: str
    limits: WeldLimits


@dataclass(frozen=True)
class OperationType:
    """A kind of work; `station_kind` None means it can be done at any station."""

    id: str
    name: str
    process: str | None
    station_kind: str | None
    requires: tuple[str, ...] = ()


@dataclass(frozen=True)
class RoutingStep:
    """One step of a work order's routing."""

    step: int
    type: OperationType
    wps: Wps | None

    @property
    def is_welding(self) -> bool:
        """Tell whether the step is done at a welding station."""
        return self.type.station_kind == WELDING_KIND


@dataclass(frozen=True)
class WorkOrder:
    """A work order (OF): how many pieces and the steps each piece goes through."""

    number: str
    quantity: int
    steps: tuple[RoutingStep, ...]

    @property
    def year(self) -> str:
        """Return the year of the order number (OF-YYYY-NNNN)."""
        return self.number.split("-")[1]

    def operation_code(self, step: RoutingStep) -> str:
        """Return the code printed for a step on the traveller sheet (OF-YYYY-NNNN-SS)."""
        return f"{self.number}-{step.step:02d}"


@dataclass(frozen=True)
class School:
    """What the simulator knows about a school."""

    site: str
    students: tuple[Student, ...]
    stations: tuple[Station, ...]
    wps: dict[str, Wps]
    work_orders: tuple[WorkOrder, ...]

    @property
    def welding_stations(self) -> tuple[Station, ...]:
        """Return the stations that have a welding monitor."""
        return tuple(s for s in self.stations if s.kind == WELDING_KIND and s.mqtt_device)

    def stations_for(self, station_kind: str | None) -> tuple[Station, ...]:
        """Return the stations where an operation of that kind can be done.

        Work with no station kind goes to a bench (inspection, assembly, finishing) or else
        to any station but a kiosk or a welding booth. A kiosk only acts for another
        station once that station's label is scanned, so it is never the workplace itself.
        """
        if station_kind is not None:
            return tuple(s for s in self.stations if s.kind == station_kind)
        benches = tuple(s for s in self.stations if s.kind in BENCH_KINDS)
        if benches:
            return benches
        return tuple(s for s in self.stations if s.kind not in {KIOSK_KIND, WELDING_KIND})

    def default_wps(self, process: str) -> Wps | None:
        """Return the first WPS of a process, in file order."""
        return next((w for w in self.wps.values() if w.process == process), None)

    def without(self, codes: Iterable[str]) -> School:
        """Return the school less the students, stations and work orders named by codes.

        A student is named by an id or any of their badges, a station by its code or its
        mqtt_device, a work order by its number: what others keep for themselves (the
        README's try-outs) is then never touched by a simulation.
        """
        names = set(codes)
        return replace(
            self,
            students=tuple(
                s for s in self.students if s.id not in names and not names & set(s.badges)
            ),
            stations=tuple(
                s for s in self.stations if s.code not in names and s.mqtt_device not in names
            ),
            work_orders=tuple(w for w in self.work_orders if w.number not in names),
        )

    def names(self) -> set[str]:
        """Return every code `without` understands: ids, badges, stations, devices, orders."""
        found = {s.id for s in self.students} | {b for s in self.students for b in s.badges}
        found |= {s.code for s in self.stations} | {s.mqtt_device or "" for s in self.stations}
        found |= {w.number for w in self.work_orders}
        return found - {""}


def load_school(path: Path) -> School:
    """Read a school data file."""
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    return parse_school(data, source=str(path))


def _held_today(held: Any) -> frozenset[str]:
    """Return the ids of a student's habilitations whose dates are not past today."""
    today = date.today()
    result = set()
    for entry in held or ():
        limits = [entry.get("until"), entry.get("medical_until")]
        if all(limit is None or date.fromisoformat(str(limit)) >= today for limit in limits):
            result.add(str(entry["id"]))
    return frozenset(result)


def parse_school(data: Any, *, source: str = "<school>") -> School:
    """Build a School from the decoded YAML document."""
    if not isinstance(data, dict):
        raise SchoolFileError(f"{source}: the document is not a mapping")
    try:
        site = str(data["site"])
        students = tuple(
            Student(
                id=str(s["id"]),
                name=str(s.get("name", s["id"])),
                badges=tuple(str(b) for b in s.get("badges") or ()),
                habilitations=_held_today(s.get("habilitations")),
            )
            for s in data.get("students") or ()
        )
        stations = tuple(
            Station(
                code=str(s["code"]),
                name=str(s.get("name", s["code"])),
                kind=str(s["kind"]),
                mqtt_device=str(s["mqtt_device"]) if s.get("mqtt_device") else None,
                requires=tuple(str(h) for h in s.get("requires") or ()),
            )
            for s in data.get("stations") or ()
        )
        wps = {
            str(w["id"]): Wps(
                id=str(w["id"]),
                process=str(w["process"]),
                limits=WeldLimits(
                    i_a=(float(w["i_a"][0]), float(w["i_a"][1])),
                    u_v=(float(w["u_v"][0]), float(w["u_v"][1])),
                ),
            )
            for w in data.get("wps") or ()
        }
        types = {
            str(t["id"]): OperationType(
                id=str(t["id"]),
                name=str(t.get("name", t["id"])),
                process=str(t["process"]) if t.get("process") is not None else None,
                station_kind=str(t["station_kind"]) if t.get("station_kind") else None,
                requires=tuple(str(h) for h in t.get("requires") or ()),
            )
            for t in data.get("operation_types") or ()
        }
        work_orders = tuple(
            WorkOrder(
                number=str(w["number"]),
                quantity=int(w.get("quantity", 1)),
                steps=tuple(
                    RoutingStep(
                        step=int(op["step"]),
                        type=types[str(op["type"])],
                        wps=wps[str(op["wps"])] if op.get("wps") else None,
                    )
                    for op in sorted(w.get("operations") or (), key=lambda o: int(o["step"]))
                ),
            )
            for w in data.get("work_orders") or ()
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise SchoolFileError(f"{source}: missing or invalid field ({exc!r})") from exc
    return School(site=site, students=students, stations=stations, wps=wps, work_orders=work_orders)
