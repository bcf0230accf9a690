"""The grammar of the codes printed on labels and badges (docs/contract.md section 3).

Pure functions shared by the ingest core, the school file's validation and label printing.
Each parser is a pure function that returns ``None`` when a code is not of its kind, so
that the registry can try them in turn; a code no parser claims is unknown. Before any
parser runs, the text is checked for the tell-tale characters of a scanner typing through
the wrong keyboard layout, which must be refused rather than misread.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class CodeKind(StrEnum):
    """What a scanned code designates (the ``kind`` of the scan API)."""

    BADGE = "badge"
    WORK_ORDER = "work_order"
    OPERATION = "operation"
    PIECE = "piece"
    STATION = "station"
    ACTION = "action"


class Action(StrEnum):
    """The action codes printed on the kiosk and station sheets."""

    FINISH = "A-FIN"
    PAUSE = "A-PAUSE"
    UNDO = "A-ANNULE"
    LEAVE = "A-SORTIE"
    HELP = "A-AIDE"


# The words printed under each action's pictogram on the action board, and the hint line
# beside it: the board is drawn from these, so a new action shows up on it by itself.
ACTION_WORDS: dict[Action, str] = {
    Action.FINISH: "Terminer",
    Action.PAUSE: "Pause",
    Action.UNDO: "Annuler",
    Action.LEAVE: "Sortir",
    Action.HELP: "Appeler",
}
ACTION_HINTS: dict[Action, str] = {
    Action.FINISH: "Terminer l'opération en cours",
    Action.PAUSE: "Mettre en pause, ou reprendre",
    Action.UNDO: "Annuler le dernier scan (60 s)",
    Action.LEAVE: "Sortir du poste : tout le monde se débadge",
    Action.HELP: "Appeler le maître pro",
}


@dataclass(frozen=True)
class ParsedCode:
    """A code recognised by a parser: its kind, its canonical text and its parts."""

    kind: CodeKind
    text: str
    work_order: str | None = None
    step: int | None = None
    action: Action | None = None
    rfid: bool = False


@dataclass(frozen=True)
class CodeError:
    """Why a scanned text is not a usable code."""

    code: str  # error code of the scan API: bad_format, keyboard_layout, unknown_code
    message: str  # French, for the student at the station
    reason: str  # English, for the logs


MAX_CODE_LENGTH = 64
ALPHABET = re.compile(r"[A-Z0-9-]+")

# What the digit row and the minus key give when a US-layout scanner types on an AZERTY
# computer (and the other way round): such text is a layout problem, not a code.
AZERTY_FROM_US = str.maketrans("&é\"'(-è_çà)", "1234567890-")
US_SHIFTED_DIGITS = str.maketrans("!@#$%^&*()", "1234567890")
LAYOUT_TELLTALES = frozenset("&é\"'(è_çà)§²!@#$%^*°")

# The code formats of docs/contract.md §3; the school file's validation uses them too.
WORK_ORDER_PATTERN = re.compile(r"OF-(\d{4})-(\d{4})")
OPERATION_PATTERN = re.compile(r"OF-(\d{4})-(\d{4})-(\d{2})")
PIECE_PATTERN = re.compile(r"P-\d{4}-\d{6}")
STATION_PATTERN = re.compile(r"ST-[A-Z0-9]+(?:-[A-Z0-9]+)*")
PRINTED_BADGE_PATTERN = re.compile(r"B-\d{1,12}")
RFID_BADGE_PATTERN = re.compile(r"[0-9A-F]{8,14}")
ACTION_PATTERN = re.compile(r"A-[A-Z]+")

MSG_BAD_FORMAT = "Ce code n'a pas le bon format. Scanne l'étiquette à nouveau, bien à plat."
MSG_UNKNOWN = "Code inconnu : ce n'est pas une étiquette de l'atelier."
MSG_LAYOUT = (
    "Le lecteur de codes-barres est réglé sur un mauvais clavier (AZERTY ou QWERTY) : "
    "le code est mal lu. Préviens ton maître pro."
)


def parse_work_order(text: str) -> ParsedCode | None:
    """Recognise a work order number ``OF-YYYY-NNNN``."""
    if WORK_ORDER_PATTERN.fullmatch(text):
        return ParsedCode(CodeKind.WORK_ORDER, text, work_order=text)
    return None


def parse_operation(text: str) -> ParsedCode | None:
    """Recognise a routing step of a work order, ``OF-YYYY-NNNN-SS``."""
    match = OPERATION_PATTERN.fullmatch(text)
    if match:
        work_order = f"OF-{match.group(1)}-{match.group(2)}"
        return ParsedCode(CodeKind.OPERATION, text, work_order=work_order, step=int(match[3]))
    return None


def piece_code(year: int, serial: int) -> str:
    """Return the label code of a piece serial, ``P-YYYY-NNNNNN``."""
    return f"P-{year:04d}-{serial:06d}"


def piece_serial(code: str) -> tuple[int, int]:
    """Return the year and the serial of a valid piece label ``P-YYYY-NNNNNN``."""
    return int(code[2:6]), int(code[7:])


def parse_piece(text: str) -> ParsedCode | None:
    """Recognise a piece label ``P-YYYY-NNNNNN``."""
    if PIECE_PATTERN.fullmatch(text):
        return ParsedCode(CodeKind.PIECE, text)
    return None


def parse_station(text: str) -> ParsedCode | None:
    """Recognise a station code, which begins with ``ST-``."""
    if STATION_PATTERN.fullmatch(text):
        return ParsedCode(CodeKind.STATION, text)
    return None


def parse_printed_badge(text: str) -> ParsedCode | None:
    """Recognise a printed badge ``B-`` followed by digits."""
    if PRINTED_BADGE_PATTERN.fullmatch(text):
        return ParsedCode(CodeKind.BADGE, text)
    return None


def parse_rfid_badge(text: str) -> ParsedCode | None:
    """Recognise an RFID badge: 8 to 14 hexadecimal digits as the reader sends them."""
    if RFID_BADGE_PATTERN.fullmatch(text):
        return ParsedCode(CodeKind.BADGE, text, rfid=True)
    return None


def parse_action(text: str) -> ParsedCode | None:
    """Recognise one of the action codes (``A-FIN``, ``A-PAUSE``, ``A-ANNULE``, …)."""
    if ACTION_PATTERN.fullmatch(text):
        try:
            return ParsedCode(CodeKind.ACTION, text, action=Action(text))
        except ValueError:
            return None
    return None


Parser = Callable[[str], "ParsedCode | None"]

# Order matters only where patterns overlap: an operation code extends a work order's.
PARSERS: tuple[Parser, ...] = (
    parse_operation,
    parse_work_order,
    parse_piece,
    parse_station,
    parse_printed_badge,
    parse_action,
    parse_rfid_badge,
)

# A code that starts like one of ours but does not parse is malformed, not foreign.
KNOWN_PREFIXES = ("OF-", "P-", "ST-", "B-", "A-")


def _layout_guess(text: str) -> str:
    """Return what the text probably was before the layout mix-up, for the logs."""
    return text.translate(AZERTY_FROM_US).translate(US_SHIFTED_DIGITS).upper()


def parse_code(raw: str) -> ParsedCode | CodeError:
    """Turn the text a scanner typed into a parsed code, or say why it is not one."""
    text = raw.strip()
    if not text:
        return CodeError("bad_format", MSG_BAD_FORMAT, "empty code")
    if len(text) > MAX_CODE_LENGTH:
        return CodeError("bad_format", MSG_BAD_FORMAT, f"code longer than {MAX_CODE_LENGTH}")
    if any(ch in LAYOUT_TELLTALES for ch in text):
        guess = _layout_guess(text)
        return CodeError(
            "keyboard_layout",
            MSG_LAYOUT,
            f"keyboard layout mismatch: {text!r} looks like {guess!r}",
        )
    # Only ASCII may be upper-cased: str.upper() maps some letters outside the alphabet onto
    # it (the long s "ſ" becomes "S"), and a code read that way would be misread, not refused.
    if not text.isascii():
        return CodeError("bad_format", MSG_BAD_FORMAT, f"characters outside [A-Z0-9-]: {text!r}")
    # A caps-lock or lowercase scanner setting changes nothing we could misread.
    text = text.upper()
    if not ALPHABET.fullmatch(text):
        return CodeError("bad_format", MSG_BAD_FORMAT, f"characters outside [A-Z0-9-]: {text!r}")
    for parser in PARSERS:
        parsed = parser(text)
        if parsed is not None:
            return parsed
    if text.startswith(KNOWN_PREFIXES):
        if text.startswith("A-"):
            return CodeError("unknown_code", "Action inconnue : " + text + ".", "unknown action")
        return CodeError("bad_format", MSG_BAD_FORMAT, f"malformed code {text!r}")
    return CodeError("unknown_code", MSG_UNKNOWN, f"no parser claims {text!r}")
