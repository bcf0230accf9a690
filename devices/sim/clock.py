"""Simulated wall clocks: real time, accelerated time, or virtual time for bursts.

Every timestamp a simulated device sends comes from one of these clocks:

- `ScaledClock(1.0)` is the real UTC clock.
- `ScaledClock(speed)` starts at the real UTC time when it is created and then runs `speed`
  times faster: after 10 real seconds at speed 30 it reads 5 minutes later. Sleeping `s`
  simulated seconds takes `s / speed` real seconds, so a 12 s weld at speed 10 takes 1.2 s
  and still reports `arc_s` 12.0 with `ts_end - ts_start` = 12.0 s. Its timestamps run
  ahead of the real clock; a server that stamps scans with its own clock will not line
  them up with welds, which is why the shift scenario keeps arcs on the real clock.
- `VirtualClock(start)` never waits: sleeping only moves it forward. Bursts use it to
  produce hours of welds as fast as the broker accepts them.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


def utc_now() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def format_ts(moment: datetime) -> str:
    """Format a moment as RFC 3339 UTC with milliseconds and a `Z`, as the contract wants."""
    if moment.tzinfo is None:
        raise ValueError("naive datetimes are ambiguous; pass an aware UTC datetime")
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def parse_ts(text: str) -> datetime:
    """Parse a contract timestamp back into an aware UTC datetime."""
    if not text.endswith("Z"):
        raise ValueError(f"timestamp {text!r} is not UTC with a Z")
    return datetime.fromisoformat(text[:-1] + "+00:00")


class Clock(Protocol):
    """What a simulated device needs from time."""

    def now(self) -> datetime:
        """Return the simulated wall-clock time (aware, UTC)."""
        ...

    def sleep(self, sim_s: float, stop: threading.Event | None = None) -> bool:
        """Let `sim_s` simulated seconds pass; return False if `stop` was set meanwhile."""
        ...


class ScaledClock:
    """A UTC clock that runs `speed` times faster than real time from its creation."""

    def __init__(self, speed: float = 1.0, *, origin: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._origin = origin if origin is not None else utc_now()
        self._origin_mono_s = time.monotonic()

    def now(self) -> datetime:
        """Return the simulated time: origin plus the elapsed real time times the speed."""
        elapsed_s = (time.monotonic() - self._origin_mono_s) * self.speed
        return self._origin + timedelta(seconds=elapsed_s)

    def real_s(self, sim_s: float) -> float:
        """Return how many real seconds `sim_s` simulated seconds take."""
        return max(0.0, sim_s) / self.speed

    def sleep(self, sim_s: float, stop: threading.Event | None = None) -> bool:
        """Wait `sim_s / speed` real seconds; return False early if `stop` is set."""
        real_s = self.real_s(sim_s)
        if stop is None:
            time.sleep(real_s)
            return True
        return not stop.wait(real_s)


class VirtualClock:
    """A clock that moves only when slept on, for producing welds as fast as possible."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        """Return the virtual time."""
        return self._now

    def sleep(self, sim_s: float, stop: threading.Event | None = None) -> bool:
        """Move the virtual time forward without waiting."""
        self._now += timedelta(seconds=max(0.0, sim_s))
        return stop is None or not stop.is_set()
