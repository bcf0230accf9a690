"""An in-process snapshot of the school's reference data, for the hot ingest path.

Stations, badges, students, work orders and routings change only when the school file is
imported (or an administrator edits them); scans change none of them. Every scan reads
them, so each process keeps a copy and reloads it when the ``catalog_version`` setting
moves — checked at most every ``CHECK_INTERVAL_S`` — or at once after a change made in
this process.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import Connection, select

from app.extensions import db, insert_for
from app.models import (
    Badge,
    Competency,
    Operation,
    OperationType,
    Setting,
    Station,
    Student,
    WorkOrder,
    Wps,
    operation_type_competencies,
)

VERSION_KEY = "catalog_version"
# Another process's import is seen at most this late.
CHECK_INTERVAL_S = 2.0


@dataclass(frozen=True)
class StationInfo:
    """A station as the rules need it."""

    id: int
    code: str
    name: str
    kind: str
    mqtt_device: str | None


@dataclass(frozen=True)
class StudentInfo:
    """A student as the rules need it: pseudonymous code, short name, framework."""

    id: int
    code: str
    name: str
    framework_id: int
    active: bool

    @property
    def first_name(self) -> str:
        """Return the first word of the name, to greet the student."""
        words = self.name.split()
        return words[0] if words else self.name


@dataclass(frozen=True)
class WorkOrderInfo:
    """A work order and the size of its routing."""

    id: int
    number: str
    product: str
    quantity: int
    steps: int


@dataclass(frozen=True)
class WpsInfo:
    """A WPS's ranges."""

    id: int
    code: str
    process: str
    position: str | None
    i_a: tuple[float, float]
    u_v: tuple[float, float]
    q_kj_mm: tuple[float, float] | None


@dataclass(frozen=True)
class OperationInfo:
    """A routing step with its operation type."""

    id: int
    work_order_id: int
    work_order: str
    step: int
    type_id: int
    type_code: str
    name: str
    process: str | None
    station_kind: str | None
    wps_id: int | None

    @property
    def code(self) -> str:
        """Return the code printed on the traveller sheet."""
        return f"{self.work_order}-{self.step:02d}"


@dataclass
class Catalog:
    """The reference data of one version."""

    version: str
    site: str = "site"
    stations: dict[int, StationInfo] = field(default_factory=dict)
    station_codes: dict[str, int] = field(default_factory=dict)
    station_devices: dict[str, int] = field(default_factory=dict)
    students: dict[int, StudentInfo] = field(default_factory=dict)
    # badge code -> ("student", id) or ("staff", user id)
    badges: dict[str, tuple[str, int]] = field(default_factory=dict)
    work_orders: dict[int, WorkOrderInfo] = field(default_factory=dict)
    work_order_numbers: dict[str, int] = field(default_factory=dict)
    operations: dict[int, OperationInfo] = field(default_factory=dict)
    steps: dict[tuple[int, int], int] = field(default_factory=dict)
    wps: dict[int, WpsInfo] = field(default_factory=dict)
    # (operation type id, framework id) -> competency ids
    competencies: dict[tuple[int, int], list[int]] = field(default_factory=dict)

    def station_by_code(self, code: str) -> StationInfo | None:
        """Return the station with this code."""
        station_id = self.station_codes.get(code)
        return self.stations[station_id] if station_id is not None else None

    def station_by_device(self, device: str) -> StationInfo | None:
        """Return the station whose MQTT device has this name."""
        station_id = self.station_devices.get(device)
        return self.stations[station_id] if station_id is not None else None

    def work_order_by_number(self, number: str) -> WorkOrderInfo | None:
        """Return the work order with this number."""
        wo_id = self.work_order_numbers.get(number)
        return self.work_orders[wo_id] if wo_id is not None else None

    def operation_at(self, work_order_id: int, step: int) -> OperationInfo | None:
        """Return the routing step of a work order."""
        op_id = self.steps.get((work_order_id, step))
        return self.operations[op_id] if op_id is not None else None


def _load(conn: Connection, version: str) -> Catalog:
    catalog = Catalog(version)
    site = conn.execute(select(Setting.value).where(Setting.key == "site")).scalar()
    catalog.site = site or "site"
    for station_row in conn.execute(
        select(Station.id, Station.code, Station.name, Station.kind, Station.mqtt_device)
    ):
        info = StationInfo(*station_row)
        catalog.stations[info.id] = info
        catalog.station_codes[info.code] = info.id
        if info.mqtt_device:
            catalog.station_devices[info.mqtt_device] = info.id
    for student_row in conn.execute(
        select(Student.id, Student.code, Student.name, Student.framework_id, Student.active)
    ):
        catalog.students[student_row[0]] = StudentInfo(*student_row)
    for code, student_id, user_id in conn.execute(
        select(Badge.code, Badge.student_id, Badge.user_id)
    ):
        holder = ("student", student_id) if student_id is not None else ("staff", user_id)
        catalog.badges[code] = (holder[0], int(holder[1] or 0))
    steps: dict[int, int] = defaultdict(int)
    for (work_order_id,) in conn.execute(select(Operation.work_order_id)):
        steps[work_order_id] += 1
    for wo_id, number, product, quantity in conn.execute(
        select(WorkOrder.id, WorkOrder.number, WorkOrder.product, WorkOrder.quantity)
    ):
        catalog.work_orders[wo_id] = WorkOrderInfo(wo_id, number, product, quantity, steps[wo_id])
        catalog.work_order_numbers[number] = wo_id
    for op_row in conn.execute(
        select(
            Operation.id,
            Operation.work_order_id,
            WorkOrder.number,
            Operation.step,
            OperationType.id,
            OperationType.code,
            OperationType.name,
            OperationType.process,
            OperationType.station_kind,
            Operation.wps_id,
        )
        .join(WorkOrder, WorkOrder.id == Operation.work_order_id)
        .join(OperationType, OperationType.id == Operation.operation_type_id)
    ):
        op = OperationInfo(
            id=op_row[0],
            work_order_id=op_row[1],
            work_order=op_row[2],
            step=op_row[3],
            type_id=op_row[4],
            type_code=op_row[5],
            name=op_row[6],
            process=op_row[7],
            station_kind=op_row[8],
            wps_id=op_row[9],
        )
        catalog.operations[op.id] = op
        catalog.steps[(op.work_order_id, op.step)] = op.id
    for w in conn.execute(
        select(
            Wps.id,
            Wps.code,
            Wps.process,
            Wps.position,
            Wps.i_min_a,
            Wps.i_max_a,
            Wps.u_min_v,
            Wps.u_max_v,
            Wps.q_min_kj_mm,
            Wps.q_max_kj_mm,
        )
    ):
        q = (w.q_min_kj_mm, w.q_max_kj_mm) if w.q_min_kj_mm and w.q_max_kj_mm else None
        catalog.wps[w.id] = WpsInfo(
            w.id, w.code, w.process, w.position, (w.i_min_a, w.i_max_a), (w.u_min_v, w.u_max_v), q
        )
    link = operation_type_competencies
    for type_id, competency_id, framework_id in conn.execute(
        select(link.c.operation_type_id, Competency.id, Competency.framework_id)
        .join(Competency, Competency.id == link.c.competency_id)
        .order_by(Competency.id)
    ):
        catalog.competencies.setdefault((type_id, framework_id), []).append(competency_id)
    return catalog


class _Cache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.catalog: Catalog | None = None
        self.bind_key: object = None
        self.checked_at = 0.0


_cache = _Cache()


def _read_version(conn: Connection) -> str:
    value = conn.execute(select(Setting.value).where(Setting.key == VERSION_KEY)).scalar()
    return value or "0"


def current(conn: Connection | None = None) -> Catalog:
    """Return the catalog, reloading it if the school's data changed."""
    conn = conn or db.session.connection()
    bind_key = (id(conn.engine), str(conn.engine.url))
    now = time.monotonic()
    with _cache.lock:
        catalog = _cache.catalog
        fresh = (
            catalog is not None
            and _cache.bind_key == bind_key
            and now - _cache.checked_at < CHECK_INTERVAL_S
        )
    if fresh:
        assert catalog is not None
        return catalog
    version = _read_version(conn)
    if catalog is None or _cache.bind_key != bind_key or catalog.version != version:
        catalog = _load(conn, version)
    with _cache.lock:
        _cache.catalog, _cache.bind_key, _cache.checked_at = catalog, bind_key, now
    return catalog


def invalidate() -> None:
    """Forget this process's copy (the next scan reloads it)."""
    with _cache.lock:
        _cache.catalog = None


def bump_version() -> None:
    """Mark the reference data as changed for every process (inside the caller's transaction)."""
    conn = db.session.connection()
    new_version = str(time.time_ns())
    statement = insert_for(conn.dialect.name)(Setting).values(key=VERSION_KEY, value=new_version)
    statement = statement.on_conflict_do_update(index_elements=["key"], set_={"value": new_version})
    conn.execute(statement)
    invalidate()


__all__ = ["Catalog", "bump_version", "current", "invalidate"]
