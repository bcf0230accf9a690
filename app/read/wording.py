"""How Atelier words things for people: short names, processes, WPS verdicts, French numbers.

Pure functions, so that the wording is tested without a database or a browser.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import date, datetime, tzinfo
from typing import Any

# ISO 4063 process numbers, with the name the workshop uses for them.
PROCESS_NAMES = {
    "111": "électrode enrobée",
    "114": "fil fourré",
    "121": "arc submergé",
    "131": "MIG",
    "135": "MAG",
    "136": "fil fourré gaz",
    "138": "fil fourré métal",
    "141": "TIG",
    "15": "plasma",
}

# What each field of a weld's deviations is called, its unit and its precision
# (the fields of ``app.ingest.welding.wps_verdict``).
DEVIATION_FIELDS = {
    "i_a": ("intensité", "A", 0),
    "u_v": ("tension", "V", 1),
    "q_kj_mm": ("apport de chaleur", "kJ/mm", 2),
}

# A teacher's assessment level (docs/contract.md §8), in the words a student reads.
LEVEL_WORDS = {
    "NE": "pas encore évalué",
    "ABS": "absent à l'évaluation",
    "1": "niveau 1 : non maîtrisé",
    "2": "niveau 2 : insuffisamment maîtrisé",
    "3": "niveau 3 : maîtrisé",
    "4": "niveau 4 : bien maîtrisé",
}

VERDICT_IN_RANGE = "in_range"
VERDICT_OUT_OF_RANGE = "out_of_range"
VERDICT_NO_WPS = "no_wps"

NBSP = "\u00a0"
MINUS = "\u2212"


def short_name(name: str) -> str:
    """Reduce a student's name to a first name and an initial (« Lucas M. »), whatever was stored.

    The board is public on the school LAN: even if a school types full names into its
    data file, the wall screen shows no more than this.
    """
    words = name.split()
    if not words:
        return ""
    if len(words) == 1:
        return words[0]
    initial = next((char for char in words[1] if char.isalpha()), "")
    return f"{words[0]} {initial.upper()}." if initial else words[0]


def french_order(text: str) -> str:
    """Return a sort key that orders names as a French reader expects (« Léa » before « Lucas »)."""
    decomposed = unicodedata.normalize("NFD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def process_label(process: str | None) -> str | None:
    """Name a welding process by its number and its workshop name (« 135 MAG »)."""
    if not process:
        return None
    name = PROCESS_NAMES.get(process)
    return f"{process} {name}" if name else process


def fr_number(value: float | None, decimals: int = 0) -> str:
    """Format a number the French way: decimal comma, no trailing noise (« 23,9 »)."""
    if value is None:
        return "–"
    text = f"{value:.{decimals}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]
    return text.replace("-", MINUS).replace(".", ",")


def _signed(value: float, decimals: int) -> str:
    # A deviation never reads « +0 A »: a value just past a limit gets a decimal more.
    while decimals < 3 and value != 0 and round(abs(value), decimals) == 0:
        decimals += 1
    text = fr_number(abs(value), decimals)
    return ("+" if value >= 0 else MINUS) + text


def _deviation_text(item: Any) -> str | None:
    """Word one deviation: ``{"field", "value", "min", "max", "deviation"}``, or a process."""
    if not isinstance(item, dict):
        return None
    if item.get("field") == "process":
        return f"procédé {item.get('value')} au lieu de {item.get('expected')}"
    field = DEVIATION_FIELDS.get(str(item.get("field")))
    if field is None:
        return None
    label, unit, decimals = field
    off = item.get("deviation")
    if not isinstance(off, int | float):
        value, low, high = item.get("value"), item.get("min"), item.get("max")
        if isinstance(value, int | float) and isinstance(high, int | float) and value > high:
            off = value - high
        elif isinstance(value, int | float) and isinstance(low, int | float) and value < low:
            off = value - low
    if not isinstance(off, int | float):
        return label
    return f"{label} {_signed(float(off), decimals)}{NBSP}{unit}"


def verdict_label(verdict: str, deviations: Sequence[Any] | None = None) -> str:
    """Say a weld's WPS verdict in French, naming the fields out of range and by how much."""
    if verdict == VERDICT_IN_RANGE:
        return "Dans le DMOS"
    if verdict == VERDICT_NO_WPS:
        return "Sans DMOS"
    details = [text for text in map(_deviation_text, deviations or []) if text]
    if not details:
        return "Hors DMOS"
    return f"Hors DMOS{NBSP}: " + ", ".join(details)


def local_hhmm(moment: datetime | None, zone: tzinfo) -> str:
    """Format an instant as the workshop's local time of day (« 09:41 »)."""
    if moment is None:
        return "–"
    return moment.astimezone(zone).strftime("%H:%M")


def local_when(moment: datetime | None, now: datetime, zone: tzinfo) -> str:
    """Format an instant as « 09:41 » today, or « 25/11 09:41 » on another day."""
    if moment is None:
        return "–"
    local = moment.astimezone(zone)
    if local.date() == now.astimezone(zone).date():
        return local.strftime("%H:%M")
    return local.strftime("%d/%m %H:%M")


FRENCH_DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
FRENCH_MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def local_date(moment: datetime, zone: tzinfo) -> str:
    """Write the workshop's local date in French (« jeudi 26 novembre »), locale-free."""
    local = moment.astimezone(zone)
    return f"{FRENCH_DAYS[local.weekday()]} {local.day} {FRENCH_MONTHS[local.month - 1]}"


def french_day(day: date) -> str:
    """Write a calendar day in French words (« 30 juin 2026 », « 1er juillet 2026 »)."""
    number = "1er" if day.day == 1 else str(day.day)
    return f"{number} {FRENCH_MONTHS[day.month - 1]} {day.year}"
