"""The rows of bench/big_school.py's school: ten years of one site, generated a year at a time.

Reference data (site, frameworks, stations, WPS, operation types, customers, teachers) comes
from the demo school file through the real import; everything else is generated here as
plain tuples (timestamps as UTC text, JSON as text) for a bulk load, in the order the
foreign keys need.

Ids: the rows of year ``y`` (0 = the oldest) get ids ``y * BLOCK + 1 …``, so that the most
recent year can be loaded first (and timed alone) while the database ends up with ids in
chronological order, as if the ten years had been recorded one after the other.

The event log (decided for the benchmark, see bench/big_school.py's docstring): one row for
each input that a generated row points to — the piece-label scan that started a run, the
A-PAUSE scans of its pauses and resumes, the A-FIN that finished it (and gave the evidence,
and completed the piece), each weld's ``arc_end`` message, each review and each weld a
teacher assigned. Inputs nothing points to are not written: badge-in/out and operation
scans, ``arc_start`` and the sample batches' MQTT messages (in production those would make
the log about four times longer; no page of the benchmark reads the log by a scan of it).

The office's rows (bench/office.py: ``plan_school(..., office=True)``): routing templates
made from the demo's routings, more customers, a status for every work order (closed or
cancelled as the years go by, the recent ones open) with the template it was made from,
assignments of operations to the order's students, and the people's inputs the audit page
lists (channel ``web`` or ``cli``: students created and given badges, orders created,
closed and assigned, records exported, sign-ins, the nightly day close). They are drawn
from a random stream of their own and get ids after the year's other rows: without
``office`` (bench/big_school.py) the rows are exactly as before.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import random
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import yaml

from app.ingest.welds import heat_input, wps_verdict

ROOT = Path(__file__).resolve().parent.parent
DEMO_SCHOOL = ROOT / "app" / "data" / "demo" / "belfort.yaml"
BLOCK = 100_000_000  # ids per year: 20 years stay within a 32-bit integer
ID_OFFSET = 10_000  # above the rows the import and the set-up wrote
MAX_YEARS = 20
DAY_START = time(7, 30)
DAY_S = 9 * 3600  # a working day, 07:30-16:30 UTC
YEAR_DAYS = 365

# Per year at scale 1: the ten-year figures divided by ten.
PIECES_PER_YEAR = 5_000
WELDS_PER_YEAR = 50_000
STUDENTS_PER_YEAR = 50
UNATTRIBUTED_SHARE = 0.01
AWAITING_REVIEW = 35

FIRST_NAMES = [
    "Lucas",
    "Enzo",
    "Inès",
    "Nathan",
    "Mathis",
    "Yanis",
    "Théo",
    "Léa",
    "Hugo",
    "Rayan",
    "Maël",
    "Manon",
    "Kylian",
    "Zoé",
    "Louis",
    "Jade",
    "Gabriel",
    "Chloé",
    "Adam",
    "Sarah",
    "Noah",
    "Lina",
    "Arthur",
    "Emma",
    "Raphaël",
    "Camille",
    "Ethan",
    "Lou",
    "Paul",
    "Nina",
    "Tom",
    "Clara",
    "Sacha",
    "Anaïs",
    "Mohamed",
    "Julie",
    "Axel",
    "Yasmine",
    "Nolan",
    "Eva",
    "Timéo",
    "Romane",
    "Ilyes",
    "Lola",
    "Evan",
    "Maëlys",
    "Kaïs",
    "Alice",
    "Samuel",
    "Jules",
]
COMMENTS = (
    "Bon travail, continue.",
    "Soigne la préparation des bords.",
    "Respecte mieux la gamme.",
    "Cordon régulier, bonne pénétration.",
    "Attention aux caniveaux en fin de cordon.",
    "Contrôle dimensionnel à refaire seul.",
    "Poste de travail bien rangé.",
)


def reference_school_text() -> str:
    """Return the demo school file without its students and work orders (generated here)."""
    data = yaml.safe_load(DEMO_SCHOOL.read_text("utf-8"))
    for key in ("students", "work_orders"):
        data.pop(key, None)
    return str(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


@functools.cache
def routings() -> list[dict[str, Any]]:
    """Return the demo's work orders, as routing templates (customer, product, steps)."""
    data = yaml.safe_load(DEMO_SCHOOL.read_text("utf-8"))
    return [
        {
            "customer": order["customer"],
            "product": order["product"],
            "steps": [(op["step"], op["type"], op.get("wps")) for op in order["operations"]],
        }
        for order in data["work_orders"]
    ]


def stamp(moment: datetime) -> str:
    """Return a UTC timestamp as both databases read it back (SQLAlchemy's SQLite format).

    Every generated moment is already in UTC: the offset is cut off, not converted.
    """
    return moment.isoformat(" ", "microseconds")[:26]


def sha(text: str) -> str:
    """Return a body hash for a generated input."""
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Reference:
    """The ids of the imported reference data, read back from the database."""

    site_id: int
    site_code: str
    stations: dict[str, dict[str, Any]]  # code -> id, kind, mqtt_device, process
    op_types: dict[str, dict[str, Any]]  # code -> id, process, station_kind, competencies
    competency_framework: dict[int, int]  # competency id -> framework id
    frameworks: dict[str, int]
    wps: dict[str, dict[str, Any]]  # code -> id, process, ranges
    customers: dict[str, int]
    teachers: list[tuple[int, str]]  # (id, email)
    admin: tuple[int, str] | None = None  # the office's administrator (bench/office.py)


@dataclass
class StudentPlan:
    """A generated student: ids, framework, and the stretch of time they were at school."""

    id: int
    code: str
    name: str
    framework_id: int
    start: datetime
    end: datetime  # planned or actual end of schooling


@dataclass
class Tables:
    """Rows per table, in a load order that satisfies the foreign keys."""

    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=lambda: defaultdict(list))

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        """Append a row to a table."""
        self.rows[table].append(row)

    def count(self) -> int:
        """Return the number of rows."""
        return sum(len(rows) for rows in self.rows.values())


COLUMNS: dict[str, tuple[str, ...]] = {
    "students": ("id", "site_id", "code", "name", "framework_id", "active", "left_on"),
    "badges": ("site_id", "code", "student_id", "user_id"),
    "customers": ("id", "site_id", "code", "name"),
    "routing_templates": ("id", "site_id", "code", "name", "product", "active"),
    "routing_template_steps": ("id", "template_id", "step", "operation_type_id", "wps_id"),
    "work_orders": (
        "id",
        "site_id",
        "number",
        "customer_id",
        "product",
        "quantity",
        "due_on",
        "drawing",
        "status",
        "created_at",
        "closed_at",
        "made_from",
    ),
    "operations": ("id", "work_order_id", "step", "operation_type_id", "wps_id"),
    "events": (
        "id",
        "site_id",
        "channel",
        "key",
        "kind",
        "received_at",
        "body_sha256",
        "actor_kind",
        "actor_name",
        "user_id",
        "payload",
        "status",
        "message",
        "station_id",
        "target_station_id",
        "student_id",
        "code",
        "source",
        "scanned_at",
        "undoable",
    ),
    "assignments": (
        "id",
        "site_id",
        "operation_id",
        "student_id",
        "assigned_at",
        "event_id",
        "ended_at",
        "ended_event_id",
    ),
    "pieces": (
        "id",
        "site_id",
        "code",
        "work_order_id",
        "status",
        "round",
        "created_at",
        "event_id",
        "completed_at",
        "completed_event_id",
    ),
    "operation_runs": (
        "id",
        "piece_id",
        "operation_id",
        "station_id",
        "round",
        "status",
        "started_at",
        "event_id",
        "finished_at",
        "finished_event_id",
    ),
    "run_intervals": (
        "id",
        "run_id",
        "station_id",
        "started_at",
        "event_id",
        "ended_at",
        "ended_event_id",
    ),
    "run_participants": ("run_id", "student_id", "joined_at", "event_id"),
    "evidence": ("id", "student_id", "competency_id", "run_id", "event_id", "created_at"),
    "piece_reviews": ("id", "piece_id", "verdict", "reviewed_by_id", "reviewed_at", "event_id"),
    "assessments": (
        "id",
        "evidence_id",
        "level",
        "comment",
        "assessed_by_id",
        "assessed_at",
        "event_id",
    ),
    "welds": (
        "id",
        "site_id",
        "weld_key",
        "station_id",
        "device",
        "boot_id",
        "started_at",
        "ended_at",
        "received_at",
        "arc_s",
        "process",
        "i_mean_a",
        "i_min_a",
        "i_max_a",
        "u_mean_v",
        "u_min_v",
        "u_max_v",
        "wfs_m_min",
        "gas_l_min",
        "energy_j",
        "length_mm",
        "heat_input_kj_mm",
        "k_factor",
        "wps_id",
        "verdict",
        "deviations",
        "run_id",
        "attributed_at",
        "attributed_by_id",
        "event_id",
        "attributed_event_id",
    ),
    "weld_students": ("weld_id", "student_id"),
    "weld_samples": (
        "id",
        "site_id",
        "weld_key",
        "device",
        "boot_id",
        "seq",
        "t0",
        "dt_ms",
        "i_a",
        "u_v",
    ),
    "station_contexts": (
        "id",
        "station_id",
        "event_id",
        "work_order_id",
        "operation_id",
        "piece_id",
        "active_run_id",
        "acting_for_id",
        "paused_by_exit",
        "help_since",
    ),
    "presences": ("id", "station_id", "student_id", "started_at", "event_id"),
    "piece_serials": ("site_id", "year", "last_serial"),
}
LOAD_ORDER = tuple(COLUMNS)


class Calendar:
    """Working time of one school year: seconds of work since its start, mapped to wall time."""

    def __init__(self, start: datetime, end: datetime) -> None:
        self.end = end
        self.days: list[datetime] = []
        day = start.date()
        while True:
            opening = datetime.combine(day, DAY_START, UTC)
            if opening >= end:
                break
            if day.weekday() < 5 and opening >= start:
                self.days.append(opening)
            day += timedelta(days=1)
        last_s = min(DAY_S, (end - self.days[-1]).total_seconds()) if self.days else 0
        self.total = max(0.0, (len(self.days) - 1) * DAY_S + last_s)

    def wall(self, w: float) -> datetime:
        """Return the wall time of ``w`` working seconds; past the end, the clock runs on."""
        if w >= self.total:
            return self.end + timedelta(seconds=w - self.total)
        index = int(w // DAY_S)
        return self.days[index] + timedelta(seconds=w - index * DAY_S)


class Ids:
    """Per-table id counters of one year's block."""

    def __init__(self, year: int) -> None:
        self.base = year * BLOCK + ID_OFFSET
        self.next: dict[str, int] = defaultdict(int)

    def __call__(self, table: str) -> int:
        self.next[table] += 1
        return self.base + self.next[table]


def station_process(name: str) -> str | None:
    """Return the welding process a station's name gives, « Poste MAG 1 (135) » -> 135."""
    found = re.search(r"\((\d{3})\)", name)
    return found.group(1) if found else None


class SamplePool:
    """Pre-drawn sample batches (JSON text) per (WPS or process, samples in the batch).

    Drawing 100 million values would take minutes; the charts need realistic curves, not
    unique ones.
    """

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.pools: dict[tuple[Any, int], list[tuple[str, str]]] = {}

    def get(self, key: Any, centre: tuple[float, float], k: int) -> tuple[str, str]:
        """Return one batch of ``k`` samples around ``centre`` (current, voltage)."""
        pool = self.pools.get((key, k))
        if pool is None:
            pool = []
            for _ in range(24):
                i0 = centre[0] * self.rng.uniform(0.9, 1.1)
                u0 = centre[1] * self.rng.uniform(0.93, 1.07)
                i_a = [round(i0 + self.rng.gauss(0, centre[0] * 0.04), 1) for _ in range(k)]
                u_v = [round(u0 + self.rng.gauss(0, centre[1] * 0.03), 2) for _ in range(k)]
                pool.append((json.dumps(i_a), json.dumps(u_v)))
            self.pools[(key, k)] = pool
        return self.rng.choice(pool)


@dataclass
class Plan:
    """The whole school: reference ids, students, the years' calendars and sizes."""

    ref: Reference
    years: int
    scale: float
    now: datetime
    seed: int
    students: list[StudentPlan] = field(default_factory=list)
    office: bool = False  # also the office's rows (bench/office.py)

    def year_bounds(self, year: int) -> tuple[datetime, datetime]:
        """Return the start and end of school year ``year`` (the last one ends now)."""
        start = self.now - timedelta(days=YEAR_DAYS * (self.years - year))
        end = start + timedelta(days=YEAR_DAYS)
        return start, min(end, self.now)

    def calendar_year(self, year: int) -> int:
        """Return the calendar year that numbers year ``year``'s orders and pieces."""
        return self.year_bounds(0)[0].year + year


def plan_school(
    ref: Reference, years: int, scale: float, now: datetime, seed: int, office: bool = False
) -> Plan:
    """Plan the school's students over the years (the rest is generated a year at a time)."""
    if not 1 <= years <= MAX_YEARS:
        raise ValueError(f"years must be 1 to {MAX_YEARS}")
    plan = Plan(ref, years, scale, now, seed, office=office)
    rng = random.Random(seed)
    per_year = max(6, round(STUDENTS_PER_YEAR * scale))
    frameworks = sorted(ref.frameworks.items())
    numbers: dict[int, int] = defaultdict(int)
    next_id = 0
    for year in range(years):
        start, _ = plan.year_bounds(year)
        for n in range(per_year):
            # Most start with the school year; some join during it.
            offset = rng.uniform(0, 10) if n < per_year * 0.7 else rng.uniform(10, 250)
            begins = start + timedelta(days=offset)
            kind = rng.random()
            # A full CAP (2 years), a one-year CAP after another diploma, or a trial that
            # stops after a few months: about 50 students at school at any time.
            stay = 730 if kind < 0.45 else 365 if kind < 0.7 else rng.uniform(40, 180)
            # The current year's first students of the year stay: the benchmark reads one.
            if year == years - 1 and n == 0:
                stay = 730
            next_id += 1
            numbers[begins.year] += 1
            _, fw_id = frameworks[0] if rng.random() < 0.6 else frameworks[-1]
            plan.students.append(
                StudentPlan(
                    id=next_id,
                    code=f"E{begins.year}-{numbers[begins.year]:03d}",
                    name=f"{rng.choice(FIRST_NAMES)} {chr(65 + rng.randrange(26))}.",
                    framework_id=fw_id,
                    start=begins,
                    end=begins + timedelta(days=stay),
                )
            )
    return plan


def student_rows(plan: Plan) -> Tables:
    """Return the students and their printed badges (loaded once, before any year)."""
    tables = Tables()
    for student in plan.students:
        active = student.end > plan.now
        left_on: date | None = None if active else student.end.date()
        tables.add(
            "students",
            (
                student.id,
                plan.ref.site_id,
                student.code,
                student.name,
                student.framework_id,
                active,
                left_on.isoformat() if left_on else None,
            ),
        )
        tables.add("badges", (plan.ref.site_id, f"B-{student.id:04d}", student.id, None))
    if plan.office:
        office_site_rows(plan, tables)
    return tables


def template_code(index: int) -> str:
    """Return the code of the routing template made from the demo's routing ``index``."""
    return f"GAM-{index + 1:02d}"


def office_site_rows(plan: Plan, tables: Tables) -> None:
    """Add the office's rows of the site: routing templates and more customers."""
    ref = plan.ref
    step_id = ID_OFFSET
    for index, routing in enumerate(routings()):
        template_id = ID_OFFSET + index + 1
        tables.add(
            "routing_templates",
            (
                template_id,
                ref.site_id,
                template_code(index),
                f"{routing['product']} ({len(routing['steps'])} étapes)",
                routing["product"],
                True,
            ),
        )
        for step, type_code, wps_code in routing["steps"]:
            step_id += 1
            wps = ref.wps[wps_code]["id"] if wps_code else None
            tables.add(
                "routing_template_steps",
                (step_id, template_id, step, ref.op_types[type_code]["id"], wps),
            )
    # A template no longer offered, and the customers of ten years (most ordered once).
    tables.add(
        "routing_templates",
        (ID_OFFSET + 99, ref.site_id, "GAM-ANCIENNE", "Ancienne gamme (retirée)", None, False),
    )
    for n in range(max(3, round(60 * plan.scale))):
        tables.add(
            "customers",
            (ID_OFFSET + n + 1, ref.site_id, f"C-{n + 1:04d}", f"Client n° {n + 1} (fictif)"),
        )


def _level(months: float, rng: random.Random) -> str:
    """Return a level on the reference scale that grows with the months at school."""
    roll = rng.random()
    if roll < 0.03:
        return "NE"
    if roll < 0.04:
        return "ABS"
    base = 1.2 + 2.6 * min(1.0, months / 18)
    return str(min(4, max(1, round(base + rng.gauss(0, 0.7)))))


class YearGenerator:
    """Generate the rows of one school year."""

    def __init__(self, plan: Plan, year: int) -> None:
        self.plan = plan
        self.ref = plan.ref
        self.year = year
        self.current = year == plan.years - 1
        self.rng = random.Random(plan.seed * 1000 + year)
        self.ids = Ids(year)
        self.tables = Tables()
        start, end = plan.year_bounds(year)
        self.start, self.end = start, end
        self.now = plan.now
        self.calendar = Calendar(start, end)
        self.cal_year = plan.calendar_year(year)
        self.samples = SamplePool(self.rng)
        self.routings = routings()
        self.serial = 0
        self.boot_seq: dict[tuple[str, str], int] = defaultdict(int)
        self.welding_runs: list[dict[str, Any]] = []
        self.unfinished: list[dict[str, Any]] = []
        self.running_stations: set[int] = set()
        self.running_students: set[int] = set()
        self.station_by_kind: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
        for station in self.ref.stations.values():
            self.station_by_kind[station["kind"]].append(station)
        self.kiosk = self.station_by_kind["kiosk"][0]
        # The office's rows come from a stream of their own: the others stay the same.
        self.office = plan.office
        self.orng = random.Random(plan.seed * 1000 + year + 500_000)
        self.orders: list[dict[str, Any]] = []

    # -- events ------------------------------------------------------------------------------

    def event(
        self,
        at: datetime,
        channel: str,
        kind: str,
        *,
        actor_kind: str,
        actor_name: str | None,
        station_id: int | None = None,
        student_id: int | None = None,
        code: str | None = None,
        source: str | None = None,
        user_id: int | None = None,
        payload: dict[str, Any] | None = None,
        message: str | None = None,
        key: str | None = None,
    ) -> int:
        """Add an accepted input to the event log and return its id."""
        event_id = self.ids("events")
        key = key or f"bench-{event_id}"
        moment = stamp(at)
        self.tables.add(
            "events",
            (
                event_id,
                self.ref.site_id,
                channel,
                key,
                kind,
                moment,
                sha(key),
                actor_kind,
                actor_name,
                user_id,
                json.dumps(payload, ensure_ascii=False) if payload is not None else None,
                "accepted",
                message,
                station_id,
                station_id,
                student_id,
                code,
                source,
                moment if channel == "http" else None,
                channel == "http",
            ),
        )
        return event_id

    def scan(self, at: datetime, station: dict[str, Any], student: int, code: str, msg: str) -> int:
        """Add a scan at a station (as a kiosk or reader sends it)."""
        return self.event(
            at,
            "http",
            "scan",
            actor_kind="device",
            actor_name=f"lecteur {station['code']}",
            station_id=station["id"],
            student_id=student,
            code=code,
            source="barcode",
            payload={"code": code, "station": station["code"], "source": "barcode"},
            message=msg,
        )

    # -- the year ------------------------------------------------------------------------------

    def students_at(self, moment: datetime) -> list[StudentPlan]:
        """Return the students at school at a moment (the nearest ones if none)."""
        here = [s for s in self.plan.students if s.start <= moment < s.end]
        if here:
            return here
        return sorted(self.plan.students, key=lambda s: abs((s.start - moment).total_seconds()))[:3]

    def generate(self) -> Tables:
        """Generate the year's orders, pieces, runs, evidence, reviews and welds."""
        scale = self.plan.scale
        pieces = max(20, round(PIECES_PER_YEAR * scale))
        # The current year runs on past now by a few working hours: those pieces are in
        # progress (the ones whose first operation would start after now are not made).
        extra = 4 * 3600.0 if self.current else 0.0
        span = self.calendar.total + extra
        quantities: list[int] = []
        while sum(quantities) < pieces:
            quantities.append(min(self.rng.randint(5, 40), pieces - sum(quantities)))
        index = 0
        completed: list[dict[str, Any]] = []
        for number, quantity in enumerate(quantities, start=1):
            completed += self.work_order(number, quantity, index, pieces, span)
            index += quantity
        self.reviews(completed)
        self.welds()
        if self.office:
            self.office_year()
        self.tables.add("piece_serials", (self.ref.site_id, self.cal_year, self.serial))
        return self.tables

    def work_order(
        self, number: int, quantity: int, first: int, pieces: int, span: float
    ) -> list[dict[str, Any]]:
        """Generate a work order, its routing and its pieces; return the completed pieces."""
        routing = self.rng.choice(self.routings)
        order_id = self.ids("work_orders")
        done_w = [(first + i + self.rng.random()) / pieces * span for i in range(quantity)]
        due = self.calendar.wall(done_w[-1]) + timedelta(days=self.rng.randint(3, 20))
        office: dict[str, Any] = (
            self.order_status(number, done_w) if self.office else {"status": "open"}
        )
        if self.office:
            office["template"] = (
                template_code(self.routings.index(routing)) if self.orng.random() < 0.85 else None
            )
        self.tables.add(
            "work_orders",
            (
                order_id,
                self.ref.site_id,
                f"OF-{self.cal_year}-{number:04d}",
                self.ref.customers[routing["customer"]],
                routing["product"],
                quantity,
                due.date().isoformat(),
                None,
                office["status"],
                stamp(office["created_at"]) if "created_at" in office else None,
                stamp(office["closed_at"]) if office.get("closed_at") else None,
                office.get("template"),
            ),
        )
        operations = []
        for step, type_code, wps_code in routing["steps"]:
            op_id = self.ids("operations")
            wps = self.ref.wps[wps_code] if wps_code else None
            op_type = self.ref.op_types[type_code]
            self.tables.add(
                "operations", (op_id, order_id, step, op_type["id"], wps["id"] if wps else None)
            )
            operations.append({"id": op_id, "step": step, "type": op_type, "wps": wps})
        middle = self.calendar.wall((done_w[0] + done_w[-1]) / 2)
        present = self.students_at(middle)
        team = self.rng.sample(present, min(len(present), self.rng.choice((1, 2, 2, 3))))
        number_text = f"OF-{self.cal_year}-{number:04d}"
        if self.office:
            office.update(
                number=number_text,
                customer=routing["customer"],
                product=routing["product"],
                quantity=quantity,
                due=due.date(),
                operations=operations,
                team=team,
            )
            self.orders.append(office)
        finished = []
        for w_done in done_w:
            piece = self.piece(order_id, number_text, operations, team, w_done)
            if piece is not None and piece["completed_at"] is not None:
                finished.append(piece)
        return finished

    def schedule(self, count: int, w_end: float) -> list[list[tuple[float, float]]]:
        """Back-schedule ``count`` runs ending at ``w_end``: each run's intervals (working s)."""
        runs: list[list[tuple[float, float]]] = []
        end = w_end
        for _ in range(count):
            length = self.rng.uniform(10, 50) * 60
            if self.rng.random() < 0.25:
                first = length * self.rng.uniform(0.3, 0.7)
                pause = self.rng.uniform(5, 60) * 60
                begin = end - length - pause
                runs.append([(begin, begin + first), (begin + first + pause, end)])
            else:
                begin = end - length
                runs.append([(begin, end)])
            end = begin - self.rng.uniform(0, 90) * 60
        runs.reverse()
        return runs

    def piece(
        self,
        order_id: int,
        order_number: str,
        operations: list[dict[str, Any]],
        team: list[StudentPlan],
        w_done: float,
    ) -> dict[str, Any] | None:
        """Generate one piece and its runs (round 1); return it, or None if not started."""
        plan = self.schedule(len(operations), w_done)
        wall = [[(self.calendar.wall(a), self.calendar.wall(b)) for a, b in run] for run in plan]
        if wall[0][0][0] >= self.now:
            return None
        self.serial += 1
        piece_id = self.ids("pieces")
        code = f"P-{self.cal_year}-{self.serial:06d}"
        piece: dict[str, Any] = {
            "id": piece_id,
            "code": code,
            "order": order_id,
            "round": 1,
            "runs": [],
            "completed_at": None,
            "team": team,
            "order_number": order_number,
        }
        first_event = None
        last_event = None
        for operation, intervals in zip(operations, wall, strict=True):
            if intervals[0][0] >= self.now:
                break
            run = self.run(piece, order_number, operation, intervals, round_=1)
            first_event = first_event or run["event"]
            if run["finished_at"] is None:
                break
            last_event = run["finished_event"]
        else:
            piece["completed_at"] = piece["runs"][-1]["finished_at"]
        if piece["completed_at"] is None:
            self.unfinished.append(piece)
        piece["created"] = wall[0][0][0]
        piece["event"] = first_event
        piece["completed_event"] = last_event if piece["completed_at"] else None
        return piece

    def run(
        self,
        piece: dict[str, Any],
        order_number: str,
        operation: dict[str, Any],
        intervals: list[tuple[datetime, datetime]],
        round_: int,
    ) -> dict[str, Any]:
        """Generate a run with its intervals, participants, scans, evidence and welds slot."""
        op_type = operation["type"]
        kind = op_type["station_kind"]
        if kind == "welding":
            candidates = [
                s
                for s in self.station_by_kind["welding"]
                if s["process"] == op_type["process"] and s["mqtt_device"]
            ] or self.station_by_kind["welding"]
        else:
            candidates = self.station_by_kind.get(kind) or [self.kiosk]
        station = self.rng.choice(candidates)
        team = piece["team"]
        people = self.rng.sample(team, 2 if len(team) > 1 and self.rng.random() < 0.3 else 1)
        run_id = self.ids("operation_runs")
        op_code = f"{order_number}-{operation['step']:02d}"
        started = intervals[0][0]
        start_event = self.scan(
            started, station, people[0].id, piece["code"], f"C'est parti : {op_code}."
        )
        # What happened before now: intervals cut at now (a running or paused run).
        status = "finished"
        kept: list[tuple[datetime, datetime | None]] = []
        for begin, end in intervals:
            if begin >= self.now:
                status = "paused"
                break
            if end > self.now:
                status = "running"
                kept.append((begin, None))
                break
            kept.append((begin, end))
        if status == "running" and (
            station["id"] in self.running_stations
            or any(p.id in self.running_students for p in people)
        ):
            # One run at a time per station and per student: this one is paused instead.
            begun = kept[-1][0]
            kept[-1] = (begun, begun + (self.now - begun) / 2)
            status = "paused"
        interval_event = start_event
        finished_at = finished_event = None
        for n, (a, b) in enumerate(kept):
            if n > 0:
                interval_event = self.scan(a, station, people[0].id, "A-PAUSE", "Reprise.")
            last = n == len(kept) - 1
            if b is None:
                end_event = None
            elif last and status == "finished":
                finished_event = self.scan(b, station, people[0].id, "A-FIN", "Bravo !")
                finished_at = b
                end_event = finished_event
            else:
                end_event = self.scan(b, station, people[0].id, "A-PAUSE", "Pause.")
            self.tables.add(
                "run_intervals",
                (
                    self.ids("run_intervals"),
                    run_id,
                    station["id"],
                    stamp(a),
                    interval_event,
                    stamp(b) if b else None,
                    end_event,
                ),
            )
        self.tables.add(
            "operation_runs",
            (
                run_id,
                piece["id"],
                operation["id"],
                station["id"],
                round_,
                status,
                stamp(started),
                start_event,
                stamp(finished_at) if finished_at else None,
                finished_event,
            ),
        )
        for person in people:
            self.tables.add("run_participants", (run_id, person.id, stamp(started), start_event))
        run: dict[str, Any] = {
            "id": run_id,
            "event": start_event,
            "finished_at": finished_at,
            "finished_event": finished_event,
            "evidence": [],
            "station": station,
            "people": people,
            "intervals": [(a, b) for a, b in kept if b is not None],
            "wps": operation["wps"],
            "process": op_type["process"],
            "operation": operation,
        }
        if status == "running":
            self.running_stations.add(station["id"])
            self.running_students.update(p.id for p in people)
            self.tables.add(
                "station_contexts",
                (
                    self.ids("station_contexts"),
                    station["id"],
                    start_event,
                    piece["order"],
                    operation["id"],
                    piece["id"],
                    run_id,
                    None,
                    False,
                    None,
                ),
            )
            for person in people:
                self.tables.add(
                    "presences",
                    (self.ids("presences"), station["id"], person.id, stamp(started), start_event),
                )
        if finished_at is not None:
            for person in people:
                for competency in op_type["competencies"]:
                    if self.ref.competency_framework[competency] != person.framework_id:
                        continue
                    evidence_id = self.ids("evidence")
                    self.tables.add(
                        "evidence",
                        (
                            evidence_id,
                            person.id,
                            competency,
                            run_id,
                            finished_event,
                            stamp(finished_at),
                        ),
                    )
                    run["evidence"].append((evidence_id, person))
        if kind == "welding" and run["intervals"]:
            self.welding_runs.append(run)
        piece["runs"].append(run)
        return run

    # -- reviews -----------------------------------------------------------------------------

    def reviews(self, completed: list[dict[str, Any]]) -> None:
        """Review the finished pieces, but the last ones of the current year; write pieces."""
        completed.sort(key=lambda p: p["completed_at"])
        waiting = (
            min(len(completed), max(3, round(AWAITING_REVIEW * min(1.0, self.plan.scale * 5))))
            if self.current
            else 0
        )
        awaiting = {p["id"] for p in completed[len(completed) - waiting :]} if waiting else set()
        for piece in completed:
            if piece["id"] in awaiting:
                piece["status"] = "awaiting_review"
                continue
            at = piece["completed_at"] + timedelta(hours=self.rng.uniform(0.2, 40))
            at = min(at, self.now - timedelta(minutes=5))
            verdict = "conforme"
            roll = self.rng.random()
            if roll < 0.03:
                verdict = "rebut"
            elif roll < 0.07 and at < self.now - timedelta(days=3):
                verdict = "a_reprendre"
            self.review(piece, at, verdict, [r for r in piece["runs"] if r["evidence"]])
            if verdict == "a_reprendre":
                self.rework(piece, at)
            else:
                piece["status"] = "reviewed"
        seen: set[int] = set()
        for piece in completed + self.unfinished:
            if piece["id"] in seen:
                continue
            seen.add(piece["id"])
            self.write_piece(piece)

    def review(
        self, piece: dict[str, Any], at: datetime, verdict: str, runs: list[dict[str, Any]]
    ) -> None:
        """Add a teacher's review of a piece, with a level for each evidence of the runs."""
        teacher_id, email = self.rng.choice(self.ref.teachers)
        event_id = self.event(
            at,
            "web",
            "piece.review",
            actor_kind="staff",
            actor_name=email,
            user_id=teacher_id,
            payload={"piece_code": piece["code"], "verdict": verdict},
            message=f"Pièce {piece['code']} : évaluation enregistrée.",
        )
        self.tables.add(
            "piece_reviews",
            (self.ids("piece_reviews"), piece["id"], verdict, teacher_id, stamp(at), event_id),
        )
        comment = self.rng.choice(COMMENTS) if self.rng.random() < 0.15 else None
        for run in runs:
            for evidence_id, person in run["evidence"]:
                months = (at - person.start).days / 30.4
                self.tables.add(
                    "assessments",
                    (
                        self.ids("assessments"),
                        evidence_id,
                        _level(months, self.rng),
                        comment,
                        teacher_id,
                        stamp(at),
                        event_id,
                    ),
                )

    def rework(self, piece: dict[str, Any], reviewed: datetime) -> None:
        """Make the last two steps again (round 2) after « à reprendre », then review again."""
        piece["round"] = 2
        redo = piece["runs"][-2:]
        cursor = reviewed + timedelta(hours=self.rng.uniform(1, 24))
        runs = []
        for old in redo:
            length = timedelta(minutes=self.rng.uniform(10, 40))
            runs.append(
                self.run(
                    piece, piece["order_number"], old["operation"], [(cursor, cursor + length)], 2
                )
            )
            cursor += length + timedelta(minutes=self.rng.uniform(5, 60))
        piece["completed_at"] = runs[-1]["finished_at"]
        piece["completed_event"] = runs[-1]["finished_event"]
        again = min(cursor + timedelta(hours=self.rng.uniform(1, 30)), self.now)
        self.review(piece, again, "conforme", [r for r in runs if r["evidence"]])
        piece["status"] = "reviewed"

    def write_piece(self, piece: dict[str, Any]) -> None:
        """Write a piece row (once its status is known)."""
        completed = piece["completed_at"]
        self.tables.add(
            "pieces",
            (
                piece["id"],
                self.ref.site_id,
                piece["code"],
                piece["order"],
                piece.get("status", "in_progress"),
                piece["round"],
                stamp(piece["created"]),
                piece["event"],
                stamp(completed) if completed else None,
                piece["completed_event"],
            ),
        )

    # -- welds ---------------------------------------------------------------------------------

    def welds(self) -> None:
        """Spread the year's welds over its welding runs; add a few nobody was badged for."""
        quota = max(10, round(WELDS_PER_YEAR * self.plan.scale))
        unattributed = max(2, round(quota * UNATTRIBUTED_SHARE))
        runs = self.welding_runs
        if runs:
            weights = [self.rng.uniform(0.3, 1.7) for _ in runs]
            total = sum(weights)
            attributed = quota - unattributed
            counts = [int(attributed * w / total) for w in weights]
            for n in range(attributed - sum(counts)):
                counts[n % len(counts)] += 1
            for run, count in zip(runs, counts, strict=True):
                self.run_welds(run, count)
        welding = [s for s in self.station_by_kind["welding"] if s["mqtt_device"]]
        for n in range(unattributed):
            station = self.rng.choice(welding)
            # Half of the current year's are recent: the teacher's list has some to assign.
            if self.current and n % 2 == 0:
                w = self.calendar.total - self.rng.uniform(0, 10) * DAY_S
            else:
                w = self.rng.uniform(0, self.calendar.total)
            at = self.calendar.wall(max(0.0, w))
            if at >= self.now:
                at = self.now - timedelta(minutes=30)
            self.weld(station, at, None, None, station["process"])

    def run_welds(self, run: dict[str, Any], count: int) -> None:
        """Place ``count`` welds along the run's intervals."""
        spans = run["intervals"]
        total = sum((b - a).total_seconds() for a, b in spans)
        if total <= 0 or count <= 0:
            return
        spacing = total / count
        # A few attributed welds were unattributed first, assigned by a teacher later.
        assigned = self.rng.random() < 0.01 and run["finished_at"] is not None
        for n in range(count):
            offset = (n + 0.1) * spacing
            for a, b in spans:
                length = (b - a).total_seconds()
                if offset < length:
                    at = a + timedelta(seconds=offset)
                    break
                offset -= length
            else:
                at = spans[-1][0]
            self.weld(
                run["station"],
                at,
                run,
                spacing * 0.8,
                run["process"],
                assigned=assigned and n == 0,
            )

    def weld(
        self,
        station: dict[str, Any],
        at: datetime,
        run: dict[str, Any] | None,
        room_s: float | None,
        process: str | None,
        assigned: bool = False,
    ) -> None:
        """Add one weld with its arc_end event, its students and its sample batches."""
        rng = self.rng
        device = station["mqtt_device"]
        # One boot a day (and a year: a rework past the year's end stays in its block).
        boot = f"b{at:%Y%m%d}-{self.year}"
        batches = rng.randint(3, 17)
        arc_s = batches - rng.uniform(0.05, 0.9)
        if room_s is not None and arc_s > room_s:
            arc_s = max(0.5, room_s)
            batches = math.ceil(arc_s)
        wps = run["wps"] if run else None
        if wps is not None:
            i_lo, i_hi, u_lo, u_hi = wps["i_min_a"], wps["i_max_a"], wps["u_min_v"], wps["u_max_v"]
        else:
            i_lo, i_hi, u_lo, u_hi = 100.0, 200.0, 18.0, 25.0
        outside = rng.random() < 0.1
        i_mean = rng.uniform(i_lo, i_hi)
        u_mean = rng.uniform(u_lo, u_hi)
        if outside:
            i_mean = i_hi * rng.uniform(1.03, 1.15) if rng.random() < 0.5 else i_lo * 0.92
        energy = i_mean * u_mean * arc_s
        length = round(rng.uniform(50, 400), 1) if rng.random() < 0.5 else None
        q, k = heat_input(process, energy, length)
        if wps is not None:
            verdict, deviations = wps_verdict(_WpsRow(**wps), process, i_mean, u_mean, q)
        else:
            verdict, deviations = "no_wps", []
        key = (device, boot)
        first_seq = self.boot_seq[key] + 1
        self.boot_seq[key] = first_seq + batches + 1
        weld_key = f"{device}-{boot}-{first_seq:06d}"
        ended = at + timedelta(seconds=arc_s)
        received = ended + timedelta(milliseconds=200)
        event_id = self.event(
            received,
            "mqtt",
            "mqtt.arc_end",
            actor_kind="worker",
            actor_name="mqtt-worker",
            station_id=station["id"],
            code=f"atelier/v1/{self.ref.site_code}/{device}/evt/arc",
            source="mqtt",
            key=f"{device}/{boot}/{first_seq + batches + 1}",
        )
        weld_id = self.ids("welds")
        attributed_at = stamp(received) if run else None
        attributed_by = attributed_event = None
        if assigned and run is not None:
            teacher_id, email = rng.choice(self.ref.teachers)
            moment = min(received + timedelta(hours=rng.uniform(1, 72)), self.now)
            attributed_at = stamp(moment)
            attributed_by = teacher_id
            attributed_event = self.event(
                moment,
                "web",
                "weld.assign",
                actor_kind="staff",
                actor_name=email,
                user_id=teacher_id,
                payload={"weld_id": weld_key},
            )
        self.tables.add(
            "welds",
            (
                weld_id,
                self.ref.site_id,
                weld_key,
                station["id"],
                device,
                boot,
                stamp(at),
                stamp(ended),
                stamp(received),
                round(arc_s, 2),
                process,
                round(i_mean, 1),
                round(i_mean * 0.85, 1),
                round(i_mean * 1.12, 1),
                round(u_mean, 2),
                round(u_mean * 0.9, 2),
                round(u_mean * 1.08, 2),
                round(rng.uniform(6, 10), 1),
                14.0,
                round(energy, 1),
                length,
                q,
                k,
                wps["id"] if wps else None,
                verdict,
                json.dumps(deviations) if deviations else None,
                run["id"] if run else None,
                attributed_at,
                attributed_by,
                event_id,
                attributed_event,
            ),
        )
        if run is not None:
            for person in run["people"]:
                self.tables.add("weld_students", (weld_id, person.id))
        centre = ((i_lo + i_hi) / 2, (u_lo + u_hi) / 2)
        pool_key = wps["id"] if wps else process
        for n in range(batches):
            k_samples = 10 if n < batches - 1 else max(1, min(10, round((arc_s - n) * 10)))
            i_json, u_json = self.samples.get(pool_key, centre, k_samples)
            self.tables.add(
                "weld_samples",
                (
                    self.ids("weld_samples"),
                    self.ref.site_id,
                    weld_key,
                    device,
                    boot,
                    first_seq + 1 + n,
                    stamp(at + timedelta(seconds=n)),
                    100.0,
                    i_json,
                    u_json,
                ),
            )

    # -- the office ----------------------------------------------------------------------------

    def order_status(self, number: int, done_w: list[float]) -> dict[str, Any]:
        """Return an order's creation and status: delivered ones closed, a few cancelled
        (the year's second order always: every year has one)."""
        rng = self.orng
        created = self.calendar.wall(max(0.0, done_w[0] - 2 * DAY_S))
        created -= timedelta(days=rng.uniform(1, 10), minutes=rng.uniform(0, 300))
        last = self.calendar.wall(done_w[-1])
        roll = rng.random()
        status, closed = "open", None
        # Delivered (closed) within two weeks of its last piece; open until then.
        if last + timedelta(days=14) < self.now:
            if roll < 0.04 or number == 2:
                status, closed = "cancelled", self.calendar.wall((done_w[0] + done_w[-1]) / 2)
            elif roll < 0.96:
                status, closed = "closed", last + timedelta(days=rng.uniform(0.5, 10))
        elif roll < 0.03:
            status, closed = "cancelled", self.now - timedelta(hours=rng.uniform(1, 48))
        if closed is not None:
            closed = max(created + timedelta(hours=1), min(closed, self.now - timedelta(hours=1)))
        return {"status": status, "created_at": created, "closed_at": closed}

    def office_year(self) -> None:
        """Add the year's office rows: assignments and the people's inputs of the audit page."""
        rng = self.orng
        admin_id, admin_email = self.ref.admin or self.ref.teachers[0]
        framework_codes = {fw_id: code for code, fw_id in self.ref.frameworks.items()}

        def by_admin(at: datetime, kind: str, payload: dict[str, Any], **more: Any) -> int:
            return self.event(
                at,
                "web",
                kind,
                actor_kind="staff",
                actor_name=admin_email,
                user_id=admin_id,
                payload=payload,
                **more,
            )

        if self.year == 0:
            for index, routing in enumerate(self.routings):
                by_admin(
                    self.start - timedelta(days=20 - index),
                    "office.template",
                    {
                        "template": template_code(index),
                        "name": routing["product"],
                        "product": routing["product"],
                        "steps": [
                            {"step": step, "type": kind, "wps": wps}
                            for step, kind, wps in routing["steps"]
                        ],
                        "active": True,
                    },
                )
        self.event(
            self.start - timedelta(days=3),
            "cli",
            "data.import",
            actor_kind="cli",
            actor_name="root",
            payload={"filename": "ecole.yaml", "sha256": sha(f"{self.year}"), "preview": False},
        )
        for student in self.plan.students:
            if self.start <= student.start < self.end:
                at = student.start - timedelta(days=rng.uniform(1, 6))
                by_admin(
                    at,
                    "office.student",
                    {
                        "student": student.code,
                        "name": student.name,
                        "framework": framework_codes[student.framework_id],
                        "left_on": None,
                        "create": True,
                    },
                    student_id=student.id,
                )
                by_admin(
                    at + timedelta(minutes=rng.uniform(1, 20)),
                    "office.badge",
                    {"student": student.code, "badge": f"B-{student.id:04d}", "replaces": None},
                    student_id=student.id,
                )
            if self.start <= student.end < min(self.end, self.now):
                teacher_id, email = rng.choice(self.ref.teachers)
                self.event(
                    student.end - timedelta(days=rng.uniform(1, 5)),
                    "web",
                    "record.export",
                    actor_kind="staff",
                    actor_name=email,
                    user_id=teacher_id,
                    student_id=student.id,
                    payload={"student": student.code, "format": "pdf"},
                )
                by_admin(
                    student.end,
                    "office.student",
                    {
                        "student": student.code,
                        "name": student.name,
                        "framework": framework_codes[student.framework_id],
                        "left_on": student.end.date().isoformat(),
                        "create": False,
                    },
                    student_id=student.id,
                )
        for order in self.orders:
            self.office_order(order, by_admin)
        for opening in self.calendar.days:
            if opening >= self.now:
                break
            for teacher_id, email in self.ref.teachers:
                if rng.random() < 0.8:
                    at = opening + timedelta(minutes=rng.uniform(0, 240))
                    self.event(
                        min(at, self.now),
                        "web",
                        "staff.sign_in",
                        actor_kind="staff",
                        actor_name=email,
                        user_id=teacher_id,
                        payload={
                            "user": teacher_id,
                            "browser": "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X)",
                            "expires_at": stamp(opening + timedelta(hours=16)),
                        },
                    )
            closes = opening + timedelta(hours=9, minutes=30)
            if closes < self.now:
                self.event(
                    closes,
                    "cli",
                    "day.close",
                    actor_kind="cli",
                    actor_name="atelier",
                    payload={"day": opening.date().isoformat(), "closes_at": stamp(closes)},
                )

    def office_order(self, order: dict[str, Any], by_admin: Any) -> None:
        """Add an order's creation, its assignments and its status change."""
        rng = self.orng
        created = order["created_at"]
        by_admin(
            created,
            "office.work_order",
            {
                "number": order["number"],
                "customer": order["customer"],
                "product": order["product"],
                "quantity": order["quantity"],
                "due_on": order["due"].isoformat(),
                "drawing": None,
                "template": order.get("template"),
                "copy_of": None,
                "steps": [],
            },
        )
        closed = order["closed_at"]
        status_event = None
        if closed is not None:
            status_event = by_admin(
                closed,
                "office.work_order_status",
                {"number": order["number"], "status": order["status"]},
            )
        operations = order["operations"]
        for operation in rng.sample(operations, min(len(operations), rng.randint(1, 3))):
            student = rng.choice(order["team"])
            at = created + timedelta(hours=rng.uniform(1, 48))
            if closed is not None:
                at = min(at, closed - timedelta(minutes=5))
            op_code = f"{order['number']}-{operation['step']:02d}"
            event_id = by_admin(
                at,
                "office.assign",
                {"operation": op_code, "student": student.code, "remove": False},
                student_id=student.id,
            )
            self.tables.add(
                "assignments",
                (
                    self.ids("assignments"),
                    self.ref.site_id,
                    operation["id"],
                    student.id,
                    stamp(at),
                    event_id,
                    stamp(closed) if closed is not None else None,
                    status_event,
                ),
            )


@dataclass
class _WpsRow:
    """A WPS as app.ingest.welds.wps_verdict reads it."""

    id: int
    process: str
    i_min_a: float
    i_max_a: float
    u_min_v: float
    u_max_v: float
    q_min_kj_mm: float | None = None
    q_max_kj_mm: float | None = None
