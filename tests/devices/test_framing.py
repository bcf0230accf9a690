"""Framing of serial readers: barcode lines, RDM6300 frames and repeat suppression."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from devices.framing import (
    MAX_CODE_CHARS,
    MAX_RAW_LINE_BYTES,
    LineFramer,
    Rdm6300Framer,
    RepeatFilter,
    make_framer,
    rdm6300_frame,
)

VALID_LINE_CODE = re.compile(r"[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?")
VALID_BADGE = re.compile(r"[0-9A-F]{10}")


def feed_all(framer: LineFramer | Rdm6300Framer, chunks: list[bytes]) -> list[str]:
    codes: list[str] = []
    for chunk in chunks:
        codes.extend(framer.feed(chunk))
    return codes


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    chunks, previous = [], 0
    for point in [*points, len(data)]:
        chunks.append(data[previous:point])
        previous = point
    return chunks


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


# --- lines -------------------------------------------------------------------------


def test_line_framer_ends_codes_on_cr_lf_and_crlf():
    framer = LineFramer()
    assert framer.feed(b"OF-2026-0042\rB-0001\nP-2026-000123\r\nA-FIN\n") == [
        "OF-2026-0042",
        "B-0001",
        "P-2026-000123",
        "A-FIN",
    ]


def test_line_framer_emits_a_cr_ended_code_at_once_and_swallows_the_lf_of_a_split_crlf():
    framer = LineFramer()
    assert framer.feed(b"B-0001\r") == ["B-0001"]
    assert framer.feed(b"\nB-0002\r") == ["B-0002"]
    assert framer.feed(b"\n") == []
    assert framer.counters() == {"dropped_too_long": 0, "dropped_non_ascii": 0}


def test_line_framer_waits_for_the_terminator_across_reads():
    framer = LineFramer()
    assert framer.feed(b"OF-20") == []
    assert framer.feed(b"26-00") == []
    assert framer.feed(b"42\r\n") == ["OF-2026-0042"]


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"  OF-2026-0042\t \r\n", "OF-2026-0042"),
        (b"]C0OF-2026-0042\r\n", "OF-2026-0042"),
        (b"]E04006381333931\n", "4006381333931"),
        (b" ]C0 B-0001 \n", "B-0001"),
        (b"]d2ST-KIOSK-1\n", "ST-KIOSK-1"),
        (b"]C0]C0X\n", "]C0X"),  # only one symbology prefix is stripped
        (b"]CX\n", "]CX"),  # not a prefix: the modifier must be a digit
    ],
)
def test_line_framer_strips_blanks_and_one_aim_prefix(line, code):
    assert LineFramer().feed(line) == [code]


def test_line_framer_ignores_empty_and_blank_lines_without_counting_them():
    framer = LineFramer()
    assert framer.feed(b"\r\n\n\r   \r\n]C0\r\nA\n") == ["A"]
    assert framer.counters() == {"dropped_too_long": 0, "dropped_non_ascii": 0}


def test_line_framer_accepts_64_characters_and_rejects_65():
    framer = LineFramer()
    ok = b"X" * MAX_CODE_CHARS
    assert framer.feed(b"]C0  " + ok + b"  \r\n") == [ok.decode()]
    assert framer.feed(b"Y" * (MAX_CODE_CHARS + 1) + b"\r\nNEXT\n") == ["NEXT"]
    assert framer.dropped_too_long == 1


@pytest.mark.parametrize(
    "line", [b"P-2026-\xe9\n", b"A\x00B\n", b"AB\x7f\n", b"\x1b[A\n", b"B-\xc3\xa9\n"]
)
def test_line_framer_rejects_and_counts_bytes_outside_printable_ascii(line):
    framer = LineFramer()
    assert framer.feed(line + b"OK\n") == ["OK"]
    assert framer.dropped_non_ascii == 1


def test_line_framer_discards_an_endless_line_with_bounded_memory():
    framer = LineFramer()
    for _ in range(1000):
        assert framer.feed(b"Z" * 97) == []
        assert framer.buffered_bytes <= MAX_RAW_LINE_BYTES
    assert framer.feed(b"STILL-THE-SAME-LINE\r\nB-0001\r\n") == ["B-0001"]
    assert framer.dropped_too_long == 1


def test_line_framer_reset_forgets_a_partial_line():
    framer = LineFramer()
    framer.feed(b"HALF-A-CO")
    framer.reset()
    assert framer.feed(b"B-0001\n") == ["B-0001"]


# --- rdm6300 -------------------------------------------------------------------------


def test_rdm6300_frame_known_vector():
    # 0A ^ 00 ^ F1 ^ C2 ^ D3 = EA
    assert rdm6300_frame("0A00F1C2D3") == b"\x020A00F1C2D3EA\x03"


def test_rdm6300_framer_decodes_a_frame_fed_byte_by_byte():
    framer = Rdm6300Framer()
    frame = rdm6300_frame("0A00F1C2D3")
    codes = feed_all(framer, [frame[i : i + 1] for i in range(len(frame))])
    assert codes == ["0A00F1C2D3"]


def test_rdm6300_framer_accepts_lowercase_hex_and_emits_uppercase():
    assert Rdm6300Framer().feed(b"\x020a00f1c2d3ea\x03") == ["0A00F1C2D3"]


def test_rdm6300_framer_drops_and_counts_a_bad_checksum():
    framer = Rdm6300Framer()
    assert framer.feed(b"\x020A00F1C2D3EB\x03" + rdm6300_frame("0B003E91A4")) == ["0B003E91A4"]
    assert framer.counters() == {
        "dropped_bad_checksum": 1,
        "dropped_broken": 0,
        "dropped_noise_bytes": 0,
    }


@pytest.mark.parametrize(
    "broken",
    [
        b"\x020A00F1C2D3E\x03",  # one digit short
        b"\x020A00F1C2D3EAA\x03",  # one digit too many
        b"\x020A00G1C2D3EA\x03",  # not hex
        b"\x020A00F1C2D3EA",  # ETX missing: the next STX comes first
        b"\x02\x03",  # empty frame
        b"\x02 A00F1C2D3EA\x03",  # blank inside
    ],
)
def test_rdm6300_framer_drops_broken_frames_and_resynchronises_on_stx(broken):
    framer = Rdm6300Framer()
    assert framer.feed(broken + rdm6300_frame("0B0051E6F2")) == ["0B0051E6F2"]
    assert framer.dropped_broken == 1
    assert framer.dropped_bad_checksum == 0


def test_rdm6300_framer_counts_noise_between_frames():
    framer = Rdm6300Framer()
    frame = rdm6300_frame("0A0012B45F")
    assert framer.feed(b"\r\n0A0012B45F" + frame + b"\xff\x03" + frame) == ["0A0012B45F"] * 2
    assert framer.dropped_noise_bytes == 14
    assert framer.dropped_broken == 0


# --- repeat suppression ----------------------------------------------------------------


def test_repeat_filter_counts_a_held_badge_once_however_long_it_is_held():
    clock = FakeClock()
    repeats = RepeatFilter(clock=clock)
    accepted = []
    for _ in range(100):  # ten seconds of a held tag, a frame every 100 ms
        accepted.append(repeats.accept("0A00F1C2D3"))
        clock.now_s += 0.1
    assert accepted.count(True) == 1
    assert accepted[0] is True
    assert repeats.suppressed_repeats == 99


def test_repeat_filter_scans_again_after_two_seconds_away():
    clock = FakeClock()
    repeats = RepeatFilter(clock=clock)
    assert repeats.accept("0A00F1C2D3")
    clock.now_s += 1.99
    assert not repeats.accept("0A00F1C2D3")
    clock.now_s += 1.99  # window slides from the last repeat
    assert not repeats.accept("0A00F1C2D3")
    clock.now_s += 2.0
    assert repeats.accept("0A00F1C2D3")


def test_repeat_filter_keeps_one_window_per_badge():
    clock = FakeClock()
    repeats = RepeatFilter(clock=clock)
    assert repeats.accept("0A00F1C2D3")
    clock.now_s += 0.5
    assert repeats.accept("0B003E91A4")
    clock.now_s += 0.5
    assert not repeats.accept("0A00F1C2D3")
    assert not repeats.accept("0B003E91A4")


def test_repeat_filter_forgets_old_badges():
    clock = FakeClock()
    repeats = RepeatFilter(clock=clock)
    for index in range(10_000):
        repeats.accept(f"{index:010X}")
        clock.now_s += 0.01
    # Only the badges of the last two seconds are remembered.
    assert len(repeats._last_seen_s) <= 201


# --- properties over arbitrary byte streams ---------------------------------------------

LINE_ATOMS = st.one_of(
    st.binary(max_size=8),
    st.sampled_from(
        [b"\r", b"\n", b"\r\n", b" ", b"\t", b"]C0", b"]E0", b"\x00", b"\xff", b"\x7f"]
    ),
    st.text(alphabet="ABC-019", min_size=1, max_size=70).map(str.encode),
    st.integers(min_value=60, max_value=600).map(lambda n: b"L" * n),
)
LINE_STREAMS = st.lists(LINE_ATOMS, max_size=40).map(b"".join)


def _random_frame(data: bytes) -> bytes:
    return rdm6300_frame(data.hex())


RDM_ATOMS = st.one_of(
    st.binary(max_size=6),
    st.sampled_from([b"\x02", b"\x03", b"0", b"F", b"a", b"\r\n"]),
    st.binary(min_size=5, max_size=5).map(_random_frame),
    st.binary(min_size=5, max_size=5).map(lambda data: _random_frame(data)[:-1]),
    st.binary(min_size=5, max_size=5).map(lambda data: _random_frame(data).lower()),
    st.text(alphabet="0123456789abcdefABCDEF", min_size=10, max_size=14).map(
        lambda digits: b"\x02" + digits.encode() + b"\x03"
    ),
)
RDM_STREAMS = st.lists(RDM_ATOMS, max_size=40).map(b"".join)


@given(stream=LINE_STREAMS, cuts=st.lists(st.integers(min_value=0), max_size=20))
@example(stream=b"A\r\nB", cuts=[2])
def test_line_framer_never_raises_emits_only_valid_codes_and_ignores_chunking(stream, cuts):
    whole = LineFramer()
    codes = whole.feed(stream)
    chunked = LineFramer()
    assert feed_all(chunked, split_at(stream, cuts)) == codes
    assert chunked.counters() == whole.counters()
    for code in codes:
        assert 1 <= len(code) <= MAX_CODE_CHARS
        assert VALID_LINE_CODE.fullmatch(code)
    assert whole.buffered_bytes <= MAX_RAW_LINE_BYTES


@given(stream=st.binary(max_size=600), cuts=st.lists(st.integers(min_value=0), max_size=20))
def test_line_framer_handles_arbitrary_bytes(stream, cuts):
    whole = LineFramer()
    codes = whole.feed(stream)
    assert feed_all(LineFramer(), split_at(stream, cuts)) == codes
    assert all(VALID_LINE_CODE.fullmatch(code) for code in codes)


@given(stream=RDM_STREAMS, cuts=st.lists(st.integers(min_value=0), max_size=20))
def test_rdm6300_framer_never_raises_emits_only_badges_and_ignores_chunking(stream, cuts):
    whole = Rdm6300Framer()
    codes = whole.feed(stream)
    chunked = Rdm6300Framer()
    assert feed_all(chunked, split_at(stream, cuts)) == codes
    assert chunked.counters() == whole.counters()
    for code in codes:
        assert VALID_BADGE.fullmatch(code)


@given(stream=st.binary(max_size=600), cuts=st.lists(st.integers(min_value=0), max_size=20))
def test_rdm6300_framer_handles_arbitrary_bytes(stream, cuts):
    whole = Rdm6300Framer()
    codes = whole.feed(stream)
    assert feed_all(Rdm6300Framer(), split_at(stream, cuts)) == codes
    assert all(VALID_BADGE.fullmatch(code) for code in codes)


@given(
    tags=st.lists(st.binary(min_size=5, max_size=5), max_size=10),
    noise=st.lists(st.binary(max_size=20), min_size=11, max_size=11),
)
def test_rdm6300_framer_finds_every_valid_frame_among_any_noise(tags, noise):
    """A valid frame is always decoded, whatever garbage precedes it (resync on STX)."""
    stream = noise[0]
    for tag, garbage in zip(tags, noise[1:], strict=False):
        stream += _random_frame(tag) + garbage
    codes = Rdm6300Framer().feed(stream)
    expected = iter(codes)
    # The tags are a subsequence of the codes: noise may forge a frame, never hide one.
    assert all(tag.hex().upper() in expected for tag in tags)


@given(
    tags=st.lists(st.binary(min_size=5, max_size=5), max_size=10),
    noise=st.lists(st.binary(max_size=20).map(lambda b: b.replace(b"\x02", b"")), max_size=11),
)
def test_rdm6300_framer_decodes_exactly_the_frames_sent_between_noise_without_stx(tags, noise):
    framer = Rdm6300Framer()
    stream = b"".join(
        _random_frame(tag) + (noise[index] if index < len(noise) else b"")
        for index, tag in enumerate(tags)
    )
    assert framer.feed(stream) == [tag.hex().upper() for tag in tags]
    assert framer.dropped_bad_checksum == framer.dropped_broken == 0


@given(
    codes=st.lists(
        st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1, max_size=64),
        max_size=10,
    ),
    terminators=st.lists(st.sampled_from([b"\r", b"\n", b"\r\n"]), min_size=10, max_size=10),
    prefixes=st.lists(st.sampled_from([b"", b" ", b"]C0", b"]E0 ", b"\t]C1"]), min_size=10),
)
def test_line_framer_round_trips_contract_codes(codes, terminators, prefixes):
    stream = b"".join(
        prefix + code.encode() + terminator
        for code, terminator, prefix in zip(codes, terminators, prefixes, strict=False)
    )
    assert LineFramer().feed(stream) == codes


def test_make_framer_picks_the_protocol_and_its_source():
    assert make_framer("lines").source == "barcode"
    assert make_framer("rdm6300").source == "rfid"
