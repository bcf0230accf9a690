"""The demo's closing bell: `flask --app app day close` once the workshop's closing time passes.

    python -m demo.closing        (one of the processes `make demo` runs, log: closing.log)

On the school's server a systemd timer rings it (deploy/systemd/atelier-day-close.timer);
here the demo runs this small process beside the others: never a thread in the web server
(each gunicorn worker would ring) and not the MQTT worker's job. It rings at the first
closing time after it starts, then each day. A demo started after today's closing time
does not close at once: it comes to show the workshop at work (the simulator badges its
students in straight away), and tonight's close already passed before it was there. A
machine asleep over the closing time rings when it wakes the same evening (the close
takes effect at the closing time), not the next morning, which would stop that morning's
work. A failed close is logged and the bell keeps going: the demo must not stop for it.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time as clock
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, tzinfo

from app.closing import closing_instant, next_closing
from app.config import ConfigError, parse_closing_time
from app.read.board import workshop_timezone

logger = logging.getLogger("demo.closing")

# How often the bell looks at the clock: the close comes at most this late (it takes
# effect at the closing time anyway).
TICK_S = 15.0
CLOSE_TIMEOUT_S = 120.0


@dataclass
class ClosingBell:
    """Tells, from the time it is given, when the workshop's day should be closed."""

    closing: time
    zone: tzinfo
    next_at: datetime

    @classmethod
    def starting(cls, now: datetime, closing: time, zone: tzinfo) -> ClosingBell:
        """Return a bell that rings first at the first closing time after ``now``."""
        return cls(closing, zone, next_closing(now, closing, zone))

    def due(self, now: datetime) -> bool:
        """Tell whether to close the day now; once told, not again before the next closing."""
        if now < self.next_at:
            return False
        today = closing_instant(now.astimezone(self.zone).date(), self.closing, self.zone)
        self.next_at = next_closing(now, self.closing, self.zone)
        # Past a closing time, ring only for today's: woken up the next morning, no.
        return now >= today


def close_day() -> bool:
    """Run `flask --app app day close` to its end; log what it said; tell if it worked."""
    command = [sys.executable, "-m", "flask", "--app", "app", "day", "close"]
    try:
        result = subprocess.run(  # noqa: S603  (our interpreter, our arguments)
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=CLOSE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        logger.error("day close could not run: %s", exc)
        return False
    for line in (result.stdout + result.stderr).splitlines():
        logger.info("day close: %s", line)
    if result.returncode != 0:
        logger.error("day close failed (exit code %d)", result.returncode)
    return result.returncode == 0


def ring(
    bell: ClosingBell,
    *,
    now: Callable[[], datetime],
    sleep: Callable[[float], None],
    close: Callable[[], bool],
    running: Callable[[], bool] = lambda: True,
) -> None:
    """Close the day each time the bell is due, looking at the clock every TICK_S."""
    while running():
        if bell.due(now()):
            close()
            logger.info("next close at %s", bell.next_at.astimezone(bell.zone).isoformat())
        wait = (bell.next_at - now()).total_seconds()
        sleep(min(TICK_S, max(wait, 1.0)))


def main() -> int:
    """Ring the closing bell until the demo stops it (SIGTERM)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        closing = parse_closing_time(os.environ.get("ATELIER_CLOSING_TIME"))
    except ConfigError as exc:
        print(f"Erreur : {exc}", file=sys.stderr)
        return 2
    zone = workshop_timezone()  # the zone the app uses (app.cli day close)
    bell = ClosingBell.starting(datetime.now(UTC), closing, zone)
    logger.info(
        "closing time %s: first close at %s",
        closing.strftime("%H:%M"),
        bell.next_at.astimezone(zone).isoformat(),
    )
    ring(bell, now=lambda: datetime.now(UTC), sleep=clock.sleep, close=close_day)
    return 0


if __name__ == "__main__":
    sys.exit(main())
