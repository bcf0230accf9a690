"""What a label says: its code and its texts, independent of how it is printed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Label:
    """One label: the code printed as bars, a big title and a few small lines."""

    code: str  # the barcode payload (a code of docs/contract.md §3)
    title: str | None = None  # big text: the station's name, the badge holder "Lucas M."
    lines: tuple[str, ...] = ()  # small text: ("OF-2026-0042", "Support soudé"), a school
