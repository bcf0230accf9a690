"""Weld runs as a retrofit monitoring box records them, and the MQTT payloads it sends.

Everything here is pure: a seeded `random.Random` in, numbers and dicts out. A weld is
sampled at 10 Hz (Kemppi Smart Reader resolution, welding reference §2.8); `arc_s` is the
number of samples times 0.1 s, the statistics of `arc_end` are computed from exactly the
rounded samples that `data/samples` carries, and `energy_j` is Σ U·I·Δt over them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from devices.sim.clock import format_ts

SCHEMA_VERSION = 1
SAMPLE_PERIOD_MS = 100
SAMPLE_PERIOD_S = SAMPLE_PERIOD_MS / 1000
SAMPLES_PER_BATCH = 10
TACK_MAX_S = 2.0

Excursion = Literal["i_a_low", "i_a_high", "u_v_low", "u_v_high"]
EXCURSIONS: tuple[Excursion, ...] = ("i_a_low", "i_a_high", "u_v_low", "u_v_high")


@dataclass(frozen=True)
class ProcessProfile:
    """How one welding process (ISO 4063 number) looks to a current/voltage monitor."""

    process: str
    i_a: tuple[float, float]
    u_v: tuple[float, float]
    arc_s: tuple[float, float]
    i_noise_pct: float
    u_noise_pct: float
    # Amperes per m/min of wire: wire feed speed is what sets the current in MIG/MAG.
    a_per_wfs_m_min: float | None
    gas_l_min: tuple[float, float] | None
    travel_mm_s: tuple[float, float]


PROFILES: dict[str, ProcessProfile] = {
    "135": ProcessProfile(
        process="135",
        i_a=(150.0, 220.0),
        u_v=(19.0, 27.0),
        arc_s=(4.0, 20.0),
        i_noise_pct=3.0,
        u_noise_pct=2.5,
        a_per_wfs_m_min=22.0,
        gas_l_min=(12.0, 16.0),
        travel_mm_s=(3.0, 6.0),
    ),
    "141": ProcessProfile(
        process="141",
        i_a=(50.0, 140.0),
        u_v=(9.0, 14.0),
        arc_s=(6.0, 25.0),
        i_noise_pct=1.5,
        u_noise_pct=2.0,
        a_per_wfs_m_min=None,
        gas_l_min=(7.0, 11.0),
        travel_mm_s=(1.0, 3.0),
    ),
    "111": ProcessProfile(
        process="111",
        i_a=(70.0, 150.0),
        u_v=(20.0, 28.0),
        arc_s=(8.0, 30.0),
        i_noise_pct=5.0,
        u_noise_pct=6.0,
        a_per_wfs_m_min=None,
        gas_l_min=None,
        travel_mm_s=(1.5, 4.0),
    ),
}


def profile_for(process: str) -> ProcessProfile:
    """Return the profile of a process; other wire processes (131, 136...) look like 135."""
    found = PROFILES.get(process)
    if found is not None:
        return found
    return replace(PROFILES["135"], process=process)


@dataclass(frozen=True)
class WeldLimits:
    """The current and voltage ranges of a WPS (DMOS), inclusive."""

    i_a: tuple[float, float]
    u_v: tuple[float, float]

    def __post_init__(self) -> None:
        for name, (low, high) in (("i_a", self.i_a), ("u_v", self.u_v)):
            if not 0 < low < high:
                raise ValueError(f"{name} range must be 0 < low < high, got {low}..{high}")

    def excursion_of(self, i_mean_a: float, u_mean_v: float) -> Excursion | None:
        """Return which mean is out of range, or None when both are inside."""
        if i_mean_a < self.i_a[0]:
            return "i_a_low"
        if i_mean_a > self.i_a[1]:
            return "i_a_high"
        if u_mean_v < self.u_v[0]:
            return "u_v_low"
        if u_mean_v > self.u_v[1]:
            return "u_v_high"
        return None

    @classmethod
    def for_process(cls, process: str) -> WeldLimits:
        """Return the typical range of a process, used when no WPS is known."""
        profile = profile_for(process)
        return cls(i_a=profile.i_a, u_v=profile.u_v)


@dataclass(frozen=True)
class WeldBehaviour:
    """How often a simulated station produces the welds a teacher must look at."""

    out_of_range_rate: float = 0.1
    tack_rate: float = 0.1
    known_length_rate: float = 0.25
    # None: the process profile's durations. Tests and shifts shorten arcs with this.
    arc_s: tuple[float, float] | None = None
    tack_s: tuple[float, float] = (0.3, 1.9)

    def __post_init__(self) -> None:
        for name in ("out_of_range_rate", "tack_rate", "known_length_rate"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be within 0..1, got {rate}")
        if self.tack_s[1] >= TACK_MAX_S or self.tack_s[0] < SAMPLE_PERIOD_S:
            raise ValueError(f"tack durations must lie within 0.1..{TACK_MAX_S} s")
        if self.arc_s is not None and self.arc_s[0] < TACK_MAX_S:
            raise ValueError(f"weld durations must be at least {TACK_MAX_S} s")


@dataclass(frozen=True)
class Stats:
    """Mean, minimum and maximum of a series, as `arc_end` carries them."""

    mean: float
    min: float
    max: float

    def as_dict(self) -> dict[str, float]:
        """Return the JSON object form."""
        return {"mean": self.mean, "min": self.min, "max": self.max}


@dataclass(frozen=True)
class WeldRecording:
    """One arc-on to arc-off run: 10 Hz samples plus what the box measures besides."""

    process: str
    i_a: tuple[float, ...]
    u_v: tuple[float, ...]
    wfs_m_min: float | None
    gas_l_min: float | None
    length_mm: float | None
    planned_excursion: Excursion | None

    @property
    def n(self) -> int:
        """Return the number of samples."""
        return len(self.i_a)

    @property
    def arc_s(self) -> float:
        """Return the arc time: samples times the sample period."""
        return round(self.n * SAMPLE_PERIOD_S, 2)

    @property
    def tack(self) -> bool:
        """Tell whether this run is a tack weld (arc shorter than 2 s)."""
        return self.arc_s < TACK_MAX_S

    @property
    def energy_j(self) -> float:
        """Return Σ U·I·Δt over the samples, in joules."""
        return round(
            sum(u * i for u, i in zip(self.u_v, self.i_a, strict=True)) * SAMPLE_PERIOD_S, 1
        )

    @property
    def i_stats(self) -> Stats:
        """Return the current statistics."""
        return _stats(self.i_a)

    @property
    def u_stats(self) -> Stats:
        """Return the voltage statistics."""
        return _stats(self.u_v)

    def truncated(self, n: int) -> WeldRecording:
        """Return the run cut after `n` samples (the arc stopped early)."""
        keep = max(1, min(n, self.n))
        length = self.length_mm if keep == self.n else None
        return replace(self, i_a=self.i_a[:keep], u_v=self.u_v[:keep], length_mm=length)

    @property
    def batch_count(self) -> int:
        """Return how many one-second sample batches the run makes."""
        return -(-self.n // SAMPLES_PER_BATCH)

    def batch(self, index: int) -> tuple[int, tuple[float, ...], tuple[float, ...]]:
        """Return one one-second batch: (first sample index, i_a, u_v)."""
        if not 0 <= index < self.batch_count:
            raise IndexError(f"batch {index} of a run with {self.batch_count} batches")
        start = index * SAMPLES_PER_BATCH
        end = start + SAMPLES_PER_BATCH
        return start, self.i_a[start:end], self.u_v[start:end]

    def batches(self) -> list[tuple[int, tuple[float, ...], tuple[float, ...]]]:
        """Split the samples into one-second batches: (first sample index, i_a, u_v)."""
        return [
            (
                start,
                self.i_a[start : start + SAMPLES_PER_BATCH],
                self.u_v[start : start + SAMPLES_PER_BATCH],
            )
            for start in range(0, self.n, SAMPLES_PER_BATCH)
        ]


def _stats(values: tuple[float, ...]) -> Stats:
    return Stats(mean=round(sum(values) / len(values), 1), min=min(values), max=max(values))


def generate_weld(
    rng: random.Random,
    process: str,
    limits: WeldLimits,
    behaviour: WeldBehaviour,
    *,
    arc_s: float | None = None,
    tack: bool | None = None,
    excursion: Excursion | Literal["random"] | None = "random",
) -> WeldRecording:
    """Generate one weld run with realistic noise around targets chosen against the WPS.

    In-range runs aim inside the middle 60 % of the WPS ranges; out-of-range runs drift
    past one bound so that their mean ends up 10 to 40 % of the range width outside it.
    """
    profile = profile_for(process)
    if tack is None:
        tack = rng.random() < behaviour.tack_rate
    if arc_s is None:
        low_s, high_s = behaviour.tack_s if tack else (behaviour.arc_s or profile.arc_s)
        arc_s = rng.uniform(low_s, high_s)
    n = max(1, round(arc_s / SAMPLE_PERIOD_S))
    chosen: Excursion | None
    if excursion == "random":
        chosen = rng.choice(EXCURSIONS) if rng.random() < behaviour.out_of_range_rate else None
    else:
        chosen = excursion

    i_target, i_drift = _target(rng, limits.i_a, chosen, "i_a")
    u_target, u_drift = _target(rng, limits.u_v, chosen, "u_v")
    i_series = _series(rng, i_target, n, profile.i_noise_pct, i_drift)
    u_series = _series(rng, u_target, n, profile.u_noise_pct, u_drift)

    wfs_m_min: float | None = None
    if profile.a_per_wfs_m_min is not None:
        wfs_m_min = round(i_target / profile.a_per_wfs_m_min * rng.uniform(0.97, 1.03), 1)
    gas_l_min: float | None = None
    if profile.gas_l_min is not None:
        gas_l_min = round(rng.uniform(*profile.gas_l_min), 1)
    length_mm: float | None = None
    if n * SAMPLE_PERIOD_S >= TACK_MAX_S and rng.random() < behaviour.known_length_rate:
        travel_mm = rng.uniform(*profile.travel_mm_s) * n * SAMPLE_PERIOD_S
        length_mm = float(max(5, 5 * round(travel_mm / 5)))
    return WeldRecording(
        process=process,
        i_a=i_series,
        u_v=u_series,
        wfs_m_min=wfs_m_min,
        gas_l_min=gas_l_min,
        length_mm=length_mm,
        planned_excursion=chosen,
    )


def _target(
    rng: random.Random, bounds: tuple[float, float], excursion: Excursion | None, field: str
) -> tuple[float, float]:
    """Return the mean to aim at and the total drift across the run."""
    low, high = bounds
    width = high - low
    if excursion is None or not excursion.startswith(field):
        return rng.uniform(low + 0.2 * width, high - 0.2 * width), 0.0
    beyond = width * rng.uniform(0.1, 0.4)
    if excursion.endswith("low"):
        target = low - beyond
        # Keep a physically possible arc: the mean stays above a third of the bound.
        return max(target, low / 3), -(width * 0.3 + beyond)
    return high + beyond, width * 0.3 + beyond


def _series(
    rng: random.Random, target: float, n: int, noise_pct: float, drift: float
) -> tuple[float, ...]:
    sigma = target * noise_pct / 100
    wander = 0.0
    raw: list[float] = []
    for k in range(n):
        # A slowly wandering hand (mean-reverting walk) plus sample noise.
        wander = 0.85 * wander + rng.gauss(0.0, sigma * 0.4)
        progress = k / (n - 1) if n > 1 else 0.5
        raw.append(target + wander + rng.gauss(0.0, sigma) + drift * (progress - 0.5))
    if n >= 5:
        # Arc ignition and crater fill: a short ramp at both ends, as on a real trace.
        raw[0] *= 0.78
        raw[1] *= 0.93
        raw[-1] *= 0.86
    # The WPS verdict reads the mean, so pin the mean exactly on the chosen target.
    shift = target - sum(raw) / n
    floor = max(0.1, target * 0.05)
    return tuple(round(max(floor, value + shift), 1) for value in raw)


@dataclass(frozen=True)
class WeldReport:
    """The payloads a station sent for one weld, in sending order."""

    weld_id: str
    recording: WeldRecording
    arc_start: dict[str, Any]
    samples: list[dict[str, Any]]
    arc_end: dict[str, Any]

    def messages(self) -> list[dict[str, Any]]:
        """Return all payloads of the weld in the order they were published."""
        return [self.arc_start, *self.samples, self.arc_end]


def weld_id_for(device: str, boot_id: str, arc_no: int) -> str:
    """Return the globally unique weld id `{device}-{boot_id}-{arc_no:04d}`."""
    return f"{device}-{boot_id}-{arc_no:04d}"


def arc_start_message(
    device: str, boot_id: str, *, seq: int, weld_id: str, started_at: datetime, process: str
) -> dict[str, Any]:
    """Build the `arc_start` event."""
    return {
        "v": SCHEMA_VERSION,
        "type": "arc_start",
        "device": device,
        "boot_id": boot_id,
        "seq": seq,
        "weld_id": weld_id,
        "ts": format_ts(started_at),
        "process": process,
    }


def samples_message(
    device: str,
    boot_id: str,
    *,
    seq: int,
    weld_id: str,
    t0: datetime,
    i_a: tuple[float, ...],
    u_v: tuple[float, ...],
    batch: int,
) -> dict[str, Any]:
    """Build one `data/samples` batch."""
    return {
        "v": SCHEMA_VERSION,
        "device": device,
        "boot_id": boot_id,
        "seq": seq,
        "weld_id": weld_id,
        "batch": batch,
        "t0": format_ts(t0),
        "dt_ms": SAMPLE_PERIOD_MS,
        "i_a": list(i_a),
        "u_v": list(u_v),
    }


def arc_end_message(
    device: str,
    boot_id: str,
    *,
    seq: int,
    weld_id: str,
    started_at: datetime,
    recording: WeldRecording,
    batches_sent: int,
) -> dict[str, Any]:
    """Build the `arc_end` event, the record of the weld."""
    ended_at = started_at + timedelta(milliseconds=recording.n * SAMPLE_PERIOD_MS)
    return {
        "v": SCHEMA_VERSION,
        "type": "arc_end",
        "device": device,
        "boot_id": boot_id,
        "seq": seq,
        "weld_id": weld_id,
        "ts_start": format_ts(started_at),
        "ts_end": format_ts(ended_at),
        "arc_s": recording.arc_s,
        "process": recording.process,
        "i_a": recording.i_stats.as_dict(),
        "u_v": recording.u_stats.as_dict(),
        "wfs_m_min": recording.wfs_m_min,
        "gas_l_min": recording.gas_l_min,
        "energy_j": recording.energy_j,
        "length_mm": recording.length_mm,
        "tack": recording.tack,
        "n": recording.n,
        "batches": batches_sent,
    }


def status_message(
    state: Literal["online", "offline"],
    device: str,
    boot_id: str,
    at: datetime,
    *,
    fw: str | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """Build a retained `status` payload (birth, Last Will or planned shutdown)."""
    payload: dict[str, Any] = {
        "v": SCHEMA_VERSION,
        "state": state,
        "device": device,
        "boot_id": boot_id,
        "ts": format_ts(at),
    }
    if fw is not None:
        payload["fw"] = fw
    if reason is not None:
        payload["reason"] = reason
    return payload
