"""The simulator's roll of pre-printed piece labels, kept across days and restarts.

A work order may get only `quantity` pieces (the server refuses a new label past its
quantity plus a small margin). Playing day after day on fresh labels, the simulator
therefore counts, per order, the labels it used, and numbers every day's labels after
the last day's. The count is saved in a small JSON file before a day is played (every
label handed out counted as used, as if the sheet had been printed) and corrected once
the day is over (only the labels actually scanned count): a simulator killed mid-day never
reuses a label nor goes past a quantity.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from devices.sim.school import School

logger = logging.getLogger(__name__)

STATE_VERSION = 1
TOO_MANY_PIECES = "too_many_pieces"


@dataclass
class PieceCounter:
    """The next label number and how many pieces each work order has had."""

    next_piece: int = 1
    used: dict[str, int] = field(default_factory=dict)
    days: int = 0
    path: Path | None = None
    _before_day: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None, first_piece: int = 1) -> PieceCounter:
        """Read the counter from its file; a missing or unreadable one starts at first_piece."""
        counter = cls(next_piece=first_piece, path=path)
        if path is None:
            return counter
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
                raise ValueError("unexpected content")
            next_piece = data["next_piece"]
            used = data["used"]
            if not isinstance(next_piece, int) or not isinstance(used, dict):
                raise ValueError("unexpected types")
            counter.next_piece = max(first_piece, next_piece)
            counter.used = {str(k): int(v) for k, v in used.items()}
            counter.days = int(data.get("days", 0))
        except FileNotFoundError:
            pass
        except (ValueError, KeyError, TypeError) as exc:
            logger.warning("ignoring the piece counter %s: %s", path, exc)
        return counter

    def save(self) -> None:
        """Write the counter atomically (nothing to do without a file)."""
        if self.path is None:
            return
        body = json.dumps(
            {
                "version": STATE_VERSION,
                "next_piece": self.next_piece,
                "used": self.used,
                "days": self.days,
            },
            indent=2,
            sort_keys=True,
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(body + "\n")
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def left(self, school: School) -> dict[str, int]:
        """Return how many more pieces each work order of the school may get."""
        return {
            w.number: max(0, w.quantity - self.used.get(w.number, 0)) for w in school.work_orders
        }

    def hand_out(self, labels: Mapping[str, Iterable[str]]) -> None:
        """Count a day's labels as used, before the day is played."""
        self._before_day = dict(self.used)
        self.days += 1
        for number, given in labels.items():
            own = list(given)
            if not own:
                continue
            self.used[number] = self.used.get(number, 0) + len(own)
            self.next_piece = max(self.next_piece, max(_serial(label) for label in own) + 1)
        self.save()

    def settle(
        self,
        labels: Mapping[str, Iterable[str]],
        scanned: Iterable[str],
        full: Iterable[str] = (),
        quantities: Mapping[str, int] | None = None,
    ) -> None:
        """Count only the labels scanned that day; orders the server called full stay full."""
        seen = set(scanned)
        for number, own in labels.items():
            done = sum(1 for label in own if label in seen)
            self.used[number] = self._before_day.get(number, 0) + done
        for number in full:
            # The server knows better (a counter lost or copied from elsewhere).
            if quantities is not None and number in quantities:
                self.used[number] = max(self.used.get(number, 0), quantities[number])
        self.save()


def _serial(label: str) -> int:
    """Return the serial number of a P-YYYY-NNNNNN label."""
    return int(label.rsplit("-", 1)[1])
