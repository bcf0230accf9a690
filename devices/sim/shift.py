"""A compressed workshop day: students badge in, scan their work, weld, finish, badge out.

`plan_shift` is pure: from a school file and a seed it computes, for several students in
parallel, every scan and every weld with its time in the simulated day. It respects the
routing (a piece reaches step 20 only after step 10 is finished), gives each student a
station of the kind the step needs, and never puts two students at one station at once
(several people may share a station, but then the server cannot tell whose weld it is).
`ShiftRunner` then plays the plan against the HTTP scan API and the simulated stations.

Time: the day is compressed `speed` times (an hour of workshop time passes in 2 minutes at
speed 30), but arcs burn in real time and all timestamps are real UTC. The server stamps
scans with its own clock and attributes a weld to whoever is badged in at `ts_start`, so
weld timestamps must follow that same clock; a 4-12 s arc is short enough to run live.
In the plan an arc of `a` real seconds therefore occupies `a × speed` simulated seconds.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from devices.sim.readers import ScanClient, ScanOutcome
from devices.sim.school import RoutingStep, School, Station, Student, WorkOrder
from devices.sim.station import WeldingStation
from devices.sim.weld import TACK_MAX_S, WeldLimits, WeldReport

logger = logging.getLogger(__name__)

ACTION_FINISH = "A-FIN"
ACTION_PAUSE = "A-PAUSE"
ACTION_BADGE_OUT = "A-SORTIE"

Note = Literal[
    "badge_in", "work_order", "operation", "piece", "weld", "pause", "finish", "badge_out"
]


@dataclass(frozen=True)
class ShiftSettings:
    """Knobs of a simulated day; simulated seconds unless the name says real."""

    seed: int = 1
    students: int | None = 4
    day_s: float = 7 * 3600.0
    speed: float = 30.0
    first_piece: int = 1
    pause_rate: float = 0.15
    tack_rate: float = 0.1
    welds_per_operation: tuple[int, int] = (2, 4)
    arc_real_s: tuple[float, float] = (4.0, 12.0)
    tack_real_s: tuple[float, float] = (0.5, 1.8)
    work_s: tuple[float, float] = (300.0, 900.0)
    weld_gap_s: tuple[float, float] = (60.0, 240.0)
    scan_gap_s: tuple[float, float] = (5.0, 20.0)
    walk_s: tuple[float, float] = (30.0, 120.0)
    break_s: tuple[float, float] = (300.0, 900.0)
    # Real seconds kept between a student's actions and around station hand-overs, so that
    # a slow HTTP answer cannot reorder the plan.
    min_real_gap_s: float = 0.3
    handover_real_s: float = 2.0
    # Pieces each work order may still get (its quantity less those already made); an
    # order missing from the mapping gets its whole quantity.
    pieces_left: Mapping[str, int] | None = None
    # At most this many fresh labels per work order in one day, so that a day spreads
    # over every order (and every welding process) instead of using up the first one.
    pieces_per_order: int | None = None
    # Piece labels kept for someone else: skipped when labels are allocated.
    reserved_labels: frozenset[str] = frozenset()
    # Welds the maître pro strikes in the morning on scrap to set a station up, before
    # any student is badged in there: they reach the server unattributed, for a teacher
    # to assign or leave (0 for none).
    setup_welds: int = 1

    def __post_init__(self) -> None:
        if self.speed <= 0 or self.day_s <= 0:
            raise ValueError("speed and day_s must be positive")
        if self.tack_real_s[1] >= TACK_MAX_S or self.arc_real_s[0] < TACK_MAX_S:
            raise ValueError(f"tacks last under {TACK_MAX_S} s and welds at least that")


@dataclass(frozen=True)
class WeldOrder:
    """A weld a student makes at a welding station."""

    device: str
    process: str
    limits: WeldLimits | None
    arc_s: float


@dataclass(frozen=True)
class ShiftAction:
    """One thing a student does at a moment of the simulated day."""

    at_s: float
    student_id: str
    station: str
    note: Note
    code: str | None = None
    weld: WeldOrder | None = None
    work_order: str | None = None
    piece: str | None = None
    step: int | None = None


@dataclass(frozen=True)
class ShiftPlan:
    """Every action of the day, in time order, and the piece labels used."""

    settings: ShiftSettings
    students: tuple[Student, ...]
    actions: tuple[ShiftAction, ...]
    pieces: dict[str, tuple[str, ...]]
    blocked_steps: tuple[str, ...] = ()
    # Welds made with nobody badged in at their station (see ShiftSettings.setup_welds).
    setup_welds: tuple[ShiftAction, ...] = ()

    def for_student(self, student_id: str) -> list[ShiftAction]:
        """Return one student's actions in order."""
        return [a for a in self.actions if a.student_id == student_id]

    def counts(self) -> Counter[str]:
        """Return how many actions of each note the plan holds."""
        return Counter(a.note for a in self.actions)


@dataclass
class _Piece:
    work_order: WorkOrder
    label: str
    next_step: int = 0
    ready_at_s: float = 0.0


@dataclass
class _StudentState:
    student: Student
    badge: str
    free_at_s: float = 0.0
    station: Station | None = None
    context: tuple[str, int] | None = None
    done: bool = False
    last_at_s: float = 0.0
    actions: list[ShiftAction] = field(default_factory=list)


def piece_label(year: str, number: int) -> str:
    """Return a pre-printed piece label, P-YYYY-NNNNNN."""
    return f"P-{year}-{number:06d}"


def plan_shift(school: School, settings: ShiftSettings) -> ShiftPlan:
    """Plan a day of work for several students on the school's work orders."""
    # Simulation choices, not secrets: a seeded PRNG makes the day reproducible.
    rng = random.Random(settings.seed)  # noqa: S311
    chosen = _choose_students(school, settings, rng)
    pieces, labels = _allocate_pieces(school, settings)
    min_gap_s = settings.min_real_gap_s * settings.speed
    handover_s = settings.handover_real_s * settings.speed
    station_free_at: dict[str, float] = {s.code: 0.0 for s in school.stations}
    blocked = sorted(
        {
            wo.operation_code(step)
            for wo in school.work_orders
            for step in wo.steps
            if not _stations_for(school, step)
        }
    )
    for code in blocked:
        logger.warning("no station can do operation %s: its pieces stop there", code)
    states = [_StudentState(student=s, badge=rng.choice(s.badges)) for s in chosen]
    for index, state in enumerate(states):
        # Students do not all walk in at the same second.
        state.free_at_s = index * rng.uniform(20.0, 90.0)

    while True:
        active = [s for s in states if not s.done]
        if not active:
            break
        state = min(active, key=lambda s: (s.free_at_s, s.student.id))
        if state.free_at_s > settings.day_s:
            _leave(
                state,
                rng,
                min_gap_s=min_gap_s,
                station_free_at=station_free_at,
                handover_s=handover_s,
                day_s=settings.day_s,
            )
            continue
        choice = _next_task(
            school,
            state,
            pieces=pieces,
            station_free_at=station_free_at,
            settings=settings,
            rng=rng,
        )
        if choice is None:
            _leave(
                state,
                rng,
                min_gap_s=min_gap_s,
                station_free_at=station_free_at,
                handover_s=handover_s,
                day_s=settings.day_s,
            )
            continue
        piece, station, start_s = choice
        if start_s == float("inf"):
            # Every station this student could use is taken. Leaving their own station
            # first lets whoever waits for it go on, so students never wait in a circle.
            _badge_out(state, state.free_at_s, rng, station_free_at, handover_s)
            state.free_at_s += WAIT_WHEN_BUSY_S
            continue
        moving = state.station is not None and state.station.code != station.code
        builder = _TaskBuilder(
            state,
            piece,
            station=station,
            start_s=start_s,
            settings=settings,
            rng=rng,
            min_gap_s=min_gap_s,
        )
        timeline = builder.build(school)
        if timeline[-1].at_s > settings.day_s:
            _leave(
                state,
                rng,
                min_gap_s=min_gap_s,
                station_free_at=station_free_at,
                handover_s=handover_s,
                day_s=settings.day_s,
            )
            continue
        if moving:
            _badge_out(state, state.free_at_s, rng, station_free_at, handover_s)
        state.actions.extend(timeline)
        state.last_at_s = timeline[-1].at_s
        state.station = station
        state.context = (piece.work_order.number, piece.work_order.steps[piece.next_step].step)
        state.free_at_s = timeline[-1].at_s + min_gap_s
        station_free_at[station.code] = float("inf")
        piece.ready_at_s = timeline[-1].at_s + handover_s
        piece.next_step += 1

    actions = sorted((a for s in states for a in s.actions), key=lambda a: (a.at_s, a.student_id))
    return ShiftPlan(
        settings=settings,
        students=tuple(chosen),
        actions=tuple(actions),
        pieces=labels,
        blocked_steps=tuple(blocked),
        setup_welds=_setup_welds(school, settings, actions, rng),
    )


SETUP_MARGIN_S = 600.0


def _setup_welds(
    school: School,
    settings: ShiftSettings,
    actions: Sequence[ShiftAction],
    rng: random.Random,
) -> tuple[ShiftAction, ...]:
    """Plan the morning's setup welds at the stations students reach last.

    A setup weld starts at the day's first second and ends well before the first badge-in
    at its station, so the server cannot find anyone to give it to.
    """
    first_badge: dict[str, float] = {}
    for action in actions:
        if action.note == "badge_in":
            first_badge.setdefault(action.station, action.at_s)
    candidates = sorted(
        (s for s in school.welding_stations if s.mqtt_device is not None),
        key=lambda s: (-first_badge.get(s.code, float("inf")), s.code),
    )
    welds: list[ShiftAction] = []
    for station in candidates[: settings.setup_welds]:
        arc_s = round(rng.uniform(*settings.arc_real_s), 1)
        if first_badge.get(station.code, float("inf")) < arc_s * settings.speed + SETUP_MARGIN_S:
            continue
        process = station.process_hint or "135"
        wps = school.default_wps(process)
        order = WeldOrder(
            device=str(station.mqtt_device),
            process=process,
            limits=wps.limits if wps else None,
            arc_s=arc_s,
        )
        welds.append(ShiftAction(0.0, "", station.code, "weld", weld=order))
    return tuple(welds)


WAIT_WHEN_BUSY_S = 300.0
# How much later a task may start and still be preferred: the next piece of the operation
# a student is set up for (batch work), and pieces further along their routing (finish
# what is started, so that every step, welding included, happens early in the day).
BATCH_PREFERENCE_S = 300.0
PROGRESS_PREFERENCE_S = 900.0


def _choose_students(school: School, settings: ShiftSettings, rng: random.Random) -> list[Student]:
    with_badges = [s for s in school.students if s.badges]
    count = len(with_badges) if settings.students is None else settings.students
    count = max(0, min(count, len(with_badges)))
    picked = {s.id for s in rng.sample(with_badges, count)}
    return [s for s in with_badges if s.id in picked]


def _allocate_pieces(
    school: School, settings: ShiftSettings
) -> tuple[list[_Piece], dict[str, tuple[str, ...]]]:
    """Number each order's labels in turn, as sheets are printed; interleave the orders."""
    number = settings.first_piece
    labels: dict[str, tuple[str, ...]] = {}
    for work_order in school.work_orders:
        count = work_order.quantity
        if settings.pieces_left is not None:
            count = settings.pieces_left.get(work_order.number, count)
        if settings.pieces_per_order is not None:
            count = min(count, settings.pieces_per_order)
        own: list[str] = []
        while len(own) < max(0, count):
            label = piece_label(work_order.year, number)
            number += 1
            if label not in settings.reserved_labels:
                own.append(label)
        labels[work_order.number] = tuple(own)
    # Students prefer pieces early in this list when everything else is equal: taking
    # the orders in turn spreads a day over all of them.
    pieces: list[_Piece] = []
    for rank in range(max((len(own) for own in labels.values()), default=0)):
        for work_order in school.work_orders:
            own = list(labels[work_order.number])
            if rank < len(own) and work_order.steps:
                pieces.append(_Piece(work_order=work_order, label=own[rank]))
    return pieces, labels


def _stations_for(school: School, step: RoutingStep) -> tuple[Station, ...]:
    candidates = school.stations_for(step.type.station_kind)
    if step.is_welding:
        candidates = tuple(s for s in candidates if s.mqtt_device)
        process = step.wps.process if step.wps else step.type.process
        # A station named "Poste TIG (141)" gets the TIG work when the school has one.
        matching = tuple(s for s in candidates if s.process_hint == process)
        if matching:
            return matching
    return candidates


def _next_task(
    school: School,
    state: _StudentState,
    *,
    pieces: list[_Piece],
    station_free_at: Mapping[str, float],
    settings: ShiftSettings,
    rng: random.Random,
) -> tuple[_Piece, Station, float] | None:
    best: tuple[tuple[float, int, int, str], _Piece, Station, float] | None = None
    for order, piece in enumerate(pieces):
        if piece.next_step >= len(piece.work_order.steps):
            continue
        step = piece.work_order.steps[piece.next_step]
        for station in _stations_for(school, step):
            if not state.student.may_work(station, step.type):
                continue
            here = state.station is not None and state.station.code == station.code
            station_ready_s = state.free_at_s if here else station_free_at[station.code]
            walk_s = 0.0 if here else settings.walk_s[0]
            start_s = max(state.free_at_s + walk_s, station_ready_s, piece.ready_at_s)
            same_context = here and state.context == (piece.work_order.number, step.step)
            bonus_s = piece.next_step * PROGRESS_PREFERENCE_S
            if same_context:
                bonus_s += BATCH_PREFERENCE_S
            key = (start_s - bonus_s, -piece.next_step, order, station.code)
            if best is None or key < best[0]:
                best = (key, piece, station, start_s)
    if best is None:
        return None
    _key, piece, station, start_s = best
    if state.station is None or state.station.code != station.code:
        start_s += rng.uniform(0.0, settings.walk_s[1] - settings.walk_s[0])
    return piece, station, start_s


def _badge_out(
    state: _StudentState,
    at_s: float,
    rng: random.Random,
    station_free_at: dict[str, float],
    handover_s: float,
) -> None:
    """Leave the current station: the badge again or A-SORTIE (both badge out)."""
    station = state.station
    if station is None:
        return
    code = ACTION_BADGE_OUT if rng.random() < 0.5 else state.badge
    state.last_at_s = at_s
    state.actions.append(
        ShiftAction(
            at_s=at_s,
            student_id=state.student.id,
            station=station.code,
            note="badge_out",
            code=code,
        )
    )
    station_free_at[station.code] = at_s + handover_s
    state.station = None
    state.context = None


def _leave(
    state: _StudentState,
    rng: random.Random,
    *,
    min_gap_s: float,
    station_free_at: dict[str, float],
    handover_s: float,
    day_s: float,
) -> None:
    """End the student's day: badge out wherever they are, before the day ends."""
    at_s = max(state.last_at_s + min_gap_s, min(state.free_at_s, day_s))
    _badge_out(state, at_s, rng, station_free_at, handover_s)
    state.free_at_s += min_gap_s
    state.done = True


class _TaskBuilder:
    """The scans and welds of one student doing one routing step on one piece."""

    def __init__(
        self,
        state: _StudentState,
        piece: _Piece,
        *,
        station: Station,
        start_s: float,
        settings: ShiftSettings,
        rng: random.Random,
        min_gap_s: float,
    ) -> None:
        self.state = state
        self.piece = piece
        self.work_order = piece.work_order
        self.step = piece.work_order.steps[piece.next_step]
        self.station = station
        self.settings = settings
        self.rng = rng
        self.min_gap_s = min_gap_s
        self.clock_s = start_s
        self.actions: list[ShiftAction] = []

    def build(self, school: School) -> list[ShiftAction]:
        """Return the task's actions: context scans, the work or the welds, A-FIN."""
        state = self.state
        here = state.station is not None and state.station.code == self.station.code
        if here and state.context == (self.work_order.number, self.step.step):
            self._add("piece", self.piece.label)
        else:
            self._scan_context(with_badge=not here)
        if self.step.is_welding:
            self._welds()
        else:
            work_s = self.rng.uniform(*self.settings.work_s)
            if self.rng.random() < self.settings.pause_rate:
                self._pass(work_s / 2)
                self._pause()
                self._pass(work_s / 2)
            else:
                self._pass(work_s)
        self._add("finish", ACTION_FINISH)
        return self.actions

    def _welds(self) -> None:
        settings = self.settings
        device = self.station.mqtt_device
        assert device is not None
        wps = self.step.wps
        process = wps.process if wps else (self.step.type.process or "135")
        count = self.rng.randint(*settings.welds_per_operation)
        pause_after = self.rng.randrange(count) if self.rng.random() < settings.pause_rate else None
        for index in range(count):
            self._wait(settings.weld_gap_s)
            tack = self.rng.random() < settings.tack_rate
            arc_s = round(
                self.rng.uniform(*(settings.tack_real_s if tack else settings.arc_real_s)), 1
            )
            order = WeldOrder(
                device=device, process=process, limits=wps.limits if wps else None, arc_s=arc_s
            )
            self._add("weld", weld=order)
            # The arc burns in real time, so it takes `speed` times longer in the day.
            self.clock_s += arc_s * settings.speed
            if pause_after == index and index < count - 1:
                self._pause()
        self._wait(settings.weld_gap_s)

    def _scan_context(self, *, with_badge: bool) -> None:
        if with_badge:
            self._add("badge_in", self.state.badge)
            self._wait(self.settings.scan_gap_s)
        self._add("work_order", self.work_order.number)
        self._wait(self.settings.scan_gap_s)
        self._add("operation", self.work_order.operation_code(self.step))
        self._wait(self.settings.scan_gap_s)
        self._add("piece", self.piece.label)

    def _pause(self) -> None:
        """A-PAUSE, badge out, a break, then badge in and scan the work again to resume."""
        self._wait(self.settings.scan_gap_s)
        self._add("pause", ACTION_PAUSE)
        self._wait(self.settings.scan_gap_s)
        self._add("badge_out", self.state.badge)
        self._wait(self.settings.break_s)
        self._scan_context(with_badge=True)

    def _add(self, note: Note, code: str | None = None, weld: WeldOrder | None = None) -> None:
        self.actions.append(
            ShiftAction(
                at_s=self.clock_s,
                student_id=self.state.student.id,
                station=self.station.code,
                note=note,
                code=code,
                weld=weld,
                work_order=self.work_order.number,
                piece=self.piece.label,
                step=self.step.step,
            )
        )

    def _wait(self, span_s: tuple[float, float]) -> None:
        self._pass(self.rng.uniform(*span_s))

    def _pass(self, seconds: float) -> None:
        self.clock_s += max(self.min_gap_s, seconds)


@dataclass
class ShiftReport:
    """What happened when a plan was played."""

    outcomes: list[ScanOutcome] = field(default_factory=list)
    welded: list[tuple[ShiftAction, WeldReport]] = field(default_factory=list)
    welds: int = 0
    welds_skipped: int = 0
    max_late_s: float = 0.0
    interrupted: bool = False

    def count(self, status: str) -> int:
        """Return how many scans ended with that status."""
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def refusals(self) -> list[ScanOutcome]:
        """Return the scans the server refused (422), with their French messages."""
        return [o for o in self.outcomes if o.status == "rejected" and o.http_status == 422]


class ShiftRunner:
    """Plays a ShiftPlan: one thread per student, scans over HTTP, welds over MQTT."""

    def __init__(
        self,
        plan: ShiftPlan,
        scans: ScanClient,
        stations: Mapping[str, WeldingStation],
        *,
        stop: threading.Event | None = None,
    ) -> None:
        self.plan = plan
        self.scans = scans
        self.stations = stations
        self.stop = stop or threading.Event()
        self.report = ShiftReport()
        self._lock = threading.Lock()

    def run(self, duration_real_s: float | None = None) -> ShiftReport:
        """Play the plan until it ends, `duration_real_s` passes or `stop` is set."""
        started_mono_s = time.monotonic()
        timer: threading.Timer | None = None
        if duration_real_s is not None:
            timer = threading.Timer(duration_real_s, self.stop.set)
            timer.daemon = True
            timer.start()
        threads = [
            threading.Thread(
                target=self._play_student,
                args=(student.id, started_mono_s),
                name=f"student-{student.id}",
                daemon=True,
            )
            for student in self.plan.students
        ]
        if self.plan.setup_welds:
            threads.append(
                threading.Thread(
                    target=self._play_setup, args=(started_mono_s,), name="setup", daemon=True
                )
            )
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if timer is not None:
            timer.cancel()
        self.report.interrupted = self.stop.is_set()
        return self.report

    def _play_student(self, student_id: str, started_mono_s: float) -> None:
        speed = self.plan.settings.speed
        badged_at: str | None = None
        for action in self.plan.for_student(student_id):
            due_mono_s = started_mono_s + action.at_s / speed
            late_s = time.monotonic() - due_mono_s
            if late_s < 0 and self.stop.wait(-late_s):
                break
            if self.stop.is_set():
                break
            with self._lock:
                self.report.max_late_s = max(self.report.max_late_s, late_s)
            if action.weld is not None:
                self._weld(action)
                continue
            assert action.code is not None
            self._scan(action.code, action.station)
            if action.note == "badge_in":
                badged_at = action.station
            elif action.note == "badge_out":
                badged_at = None
        if badged_at is not None:
            # The day was cut short: nobody stays badged in overnight. One try only: when
            # everything stops at once the server may be gone already, and the next day
            # begins by badging out whoever was left.
            self._scan(ACTION_BADGE_OUT, badged_at, give_up=self.stop)

    def _play_setup(self, started_mono_s: float) -> None:
        for action in self.plan.setup_welds:
            due_s = started_mono_s + action.at_s / self.plan.settings.speed - time.monotonic()
            if (due_s > 0 and self.stop.wait(due_s)) or self.stop.is_set():
                break
            self._weld(action)

    def _scan(self, code: str, station: str, give_up: threading.Event | None = None) -> None:
        # `stop` is not passed on during the day: a scan under way ends on its own.
        outcome = self.scans.scan(code, station=station, stop=give_up)
        with self._lock:
            self.report.outcomes.append(outcome)

    def _weld(self, action: ShiftAction) -> None:
        order = action.weld
        assert order is not None
        station = self.stations.get(order.device)
        if station is None:
            with self._lock:
                self.report.welds_skipped += 1
            logger.debug("no simulated station %s: weld skipped", order.device)
            return
        report = station.weld(
            arc_s=order.arc_s, process=order.process, limits=order.limits, stop=self.stop
        )
        with self._lock:
            self.report.welds += 1
            self.report.welded.append((action, report))
