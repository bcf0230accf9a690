"""Turn the raw bytes of a serial reader into scanned codes (docs/contract.md section 4).

Everything here is pure: no I/O, no threads, no clock except the one injected into
`RepeatFilter`. A framer is fed whatever chunks the serial port happens to deliver and
returns the codes completed by that chunk; feeding a stream in any chunking gives the
same codes and the same counters as feeding it at once. Framers never raise on input:
anything that is not a valid code is dropped and counted.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final, Literal, Protocol

CR: Final = 0x0D
LF: Final = 0x0A
STX: Final = 0x02
ETX: Final = 0x03

MAX_CODE_CHARS: Final = 64
# A raw line (blanks and AIM prefix included) longer than this is rejected whatever it
# holds; it is also the most a partial line may buffer while waiting for its terminator,
# so a reader that never sends one cannot grow memory.
MAX_RAW_LINE_BYTES: Final = 256

RDM6300_PAYLOAD_DIGITS: Final = 12  # 10 data digits + 2 checksum digits
REPEAT_WINDOW_S: Final = 2.0

ProtocolName = Literal["lines", "rdm6300"]
Source = Literal["rfid", "barcode"]

_TERMINATOR = re.compile(rb"[\r\n]")
_BLANKS = b" \t"
# AIM symbology identifier: "]" + symbology letter + modifier digit, e.g. "]C0" (Code 128).
_AIM_PREFIX = re.compile(rb"\A\][A-Za-z][0-9]")
_PRINTABLE_ASCII = re.compile(rb"[\x20-\x7e]+")
_HEX_DIGITS: Final = frozenset(b"0123456789abcdefABCDEF")


class Framer(Protocol):
    """What the agent needs from a framer: bytes in, codes out, counters for the logs."""

    source: Source

    def feed(self, data: bytes) -> list[str]:
        """Consume a chunk of bytes and return the codes it completes, in order."""
        ...

    def reset(self) -> None:
        """Forget any partial input, e.g. after the reader was unplugged."""
        ...

    def counters(self) -> dict[str, int]:
        """Return the drop counters by name."""
        ...


class LineFramer:
    """Frame ASCII barcode scanners: one code per line ended by CR, LF or CRLF."""

    source: Source = "barcode"

    def __init__(self) -> None:
        self._partial = bytearray()
        # Set while discarding the rest of an over-long line up to its terminator.
        self._discarding = False
        # Set when the last byte seen was a CR: an LF right after it (maybe in the next
        # chunk) completes a CRLF and must not end a second, empty line.
        self._after_cr = False
        self.dropped_too_long = 0
        self.dropped_non_ascii = 0

    def feed(self, data: bytes) -> list[str]:
        """Consume a chunk of bytes and return the codes it completes, in order."""
        codes: list[str] = []
        if not data:
            return codes
        start = 0
        end_of_data = len(data)
        if self._after_cr and data[0] == LF:
            start = 1
        self._after_cr = False
        while start < end_of_data:
            match = _TERMINATOR.search(data, start)
            if match is None:
                self._append_partial(data[start:])
                break
            stop = match.start()
            code = self._complete_line(data[start:stop])
            if code is not None:
                codes.append(code)
            if data[stop] == CR:
                if stop + 1 == end_of_data:
                    self._after_cr = True
                    start = end_of_data
                elif data[stop + 1] == LF:
                    start = stop + 2
                else:
                    start = stop + 1
            else:
                start = stop + 1
        return codes

    @property
    def buffered_bytes(self) -> int:
        """Return how many bytes of an unterminated line are held in memory."""
        return len(self._partial)

    def reset(self) -> None:
        """Forget any partial line."""
        self._partial.clear()
        self._discarding = False
        self._after_cr = False

    def counters(self) -> dict[str, int]:
        """Return the drop counters by name."""
        return {
            "dropped_too_long": self.dropped_too_long,
            "dropped_non_ascii": self.dropped_non_ascii,
        }

    def _append_partial(self, piece: bytes) -> None:
        if self._discarding:
            return
        self._partial += piece
        if len(self._partial) > MAX_RAW_LINE_BYTES:
            self.dropped_too_long += 1
            self._partial.clear()
            self._discarding = True

    def _complete_line(self, piece: bytes) -> str | None:
        if self._discarding:
            # Already counted when the partial line overflowed.
            self._discarding = False
            return None
        raw = bytes(self._partial) + piece
        self._partial.clear()
        return self._classify(raw)

    def _classify(self, raw: bytes) -> str | None:
        if len(raw) > MAX_RAW_LINE_BYTES:
            self.dropped_too_long += 1
            return None
        text = _AIM_PREFIX.sub(b"", raw.strip(_BLANKS), count=1).strip(_BLANKS)
        if not text:
            return None
        if _PRINTABLE_ASCII.fullmatch(text) is None:
            self.dropped_non_ascii += 1
            return None
        if len(text) > MAX_CODE_CHARS:
            self.dropped_too_long += 1
            return None
        return text.decode("ascii")


class Rdm6300Framer:
    """Frame RDM6300 (EM4100) readers: STX, 10 data + 2 checksum hex digits, ETX."""

    source: Source = "rfid"

    def __init__(self) -> None:
        self._frame = bytearray()
        # "idle": between frames; "frame": after an STX; "skipping": the current frame is
        # already known broken, drop bytes silently until the next STX resynchronises.
        self._state: Literal["idle", "frame", "skipping"] = "idle"
        self.dropped_bad_checksum = 0
        self.dropped_broken = 0
        self.dropped_noise_bytes = 0

    def feed(self, data: bytes) -> list[str]:
        """Consume a chunk of bytes and return the badge codes it completes, in order."""
        codes: list[str] = []
        for byte in data:
            if byte == STX:
                if self._state == "frame":
                    # A new frame starts before the previous one ended: missing ETX.
                    self.dropped_broken += 1
                self._state = "frame"
                self._frame.clear()
            elif self._state == "frame":
                if byte == ETX:
                    self._state = "idle"
                    code = self._decode(bytes(self._frame))
                    if code is not None:
                        codes.append(code)
                elif len(self._frame) == RDM6300_PAYLOAD_DIGITS:
                    self.dropped_broken += 1
                    self._state = "skipping"
                else:
                    self._frame.append(byte)
            elif self._state == "idle":
                self.dropped_noise_bytes += 1
        return codes

    def reset(self) -> None:
        """Forget any partial frame."""
        self._frame.clear()
        self._state = "idle"

    def counters(self) -> dict[str, int]:
        """Return the drop counters by name."""
        return {
            "dropped_bad_checksum": self.dropped_bad_checksum,
            "dropped_broken": self.dropped_broken,
            "dropped_noise_bytes": self.dropped_noise_bytes,
        }

    def _decode(self, payload: bytes) -> str | None:
        if len(payload) != RDM6300_PAYLOAD_DIGITS or not _HEX_DIGITS.issuperset(payload):
            self.dropped_broken += 1
            return None
        data = bytes.fromhex(payload[:10].decode("ascii"))
        checksum = int(payload[10:], 16)
        xor = 0
        for value in data:
            xor ^= value
        if xor != checksum:
            self.dropped_bad_checksum += 1
            return None
        return payload[:10].decode("ascii").upper()


def rdm6300_frame(code: str) -> bytes:
    """Encode a 10-hex-digit badge code as the frame an RDM6300 sends for it."""
    data = bytes.fromhex(code)
    if len(data) != 5:
        raise ValueError(f"an EM4100 code is 10 hex digits, got {code!r}")
    xor = 0
    for value in data:
        xor ^= value
    return b"\x02" + code.upper().encode("ascii") + f"{xor:02X}".encode("ascii") + b"\x03"


class RepeatFilter:
    """Collapse a tag held on the reader into one scan.

    The window slides: a code is suppressed while it keeps arriving less than
    `window_s` after its previous arrival, suppressed or not. A badge held for a
    minute is one scan, as users expect; it scans again only after it has been
    away from the reader for `window_s`. Each code has its own window, so a
    second badge presented meanwhile is not held back by the first.
    """

    def __init__(
        self, window_s: float = REPEAT_WINDOW_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._window_s = window_s
        self._clock = clock
        # Ordered by last arrival, oldest first, so expired codes are pruned from the front.
        self._last_seen_s: OrderedDict[str, float] = OrderedDict()
        self.suppressed_repeats = 0

    def accept(self, code: str) -> bool:
        """Record an arrival of the code and tell whether it is a new scan."""
        now_s = self._clock()
        while self._last_seen_s:
            oldest_code, oldest_s = next(iter(self._last_seen_s.items()))
            if now_s - oldest_s < self._window_s:
                break
            del self._last_seen_s[oldest_code]
        repeated = code in self._last_seen_s
        self._last_seen_s[code] = now_s
        self._last_seen_s.move_to_end(code)
        if repeated:
            self.suppressed_repeats += 1
        return not repeated

    def counters(self) -> dict[str, int]:
        """Return the suppression counter by name."""
        return {"suppressed_repeats": self.suppressed_repeats}


def make_framer(protocol: ProtocolName) -> LineFramer | Rdm6300Framer:
    """Return a fresh framer for the protocol name used on the command line."""
    if protocol == "rdm6300":
        return Rdm6300Framer()
    return LineFramer()
