"""The code parsers of docs/contract.md section 3."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labels.codes import Action, CodeError, CodeKind, ParsedCode, parse_code


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("OF-2026-0042", CodeKind.WORK_ORDER),
        ("OF-2026-0042-20", CodeKind.OPERATION),
        ("P-2026-000123", CodeKind.PIECE),
        ("ST-SOUD-03", CodeKind.STATION),
        ("ST-KIOSK-1", CodeKind.STATION),
        ("B-0001", CodeKind.BADGE),
        ("04A1B2C3D4", CodeKind.BADGE),
        ("04A1B2C3", CodeKind.BADGE),
        ("04A1B2C3D4E5F6", CodeKind.BADGE),
        ("A-FIN", CodeKind.ACTION),
        ("A-PAUSE", CodeKind.ACTION),
        ("A-ANNULE", CodeKind.ACTION),
        ("A-SORTIE", CodeKind.ACTION),
        ("A-AIDE", CodeKind.ACTION),
    ],
)
def test_each_contract_example_parses_to_its_kind(text: str, kind: CodeKind) -> None:
    parsed = parse_code(text)
    assert isinstance(parsed, ParsedCode)
    assert parsed.kind is kind
    assert parsed.text == text


def test_operation_code_carries_its_work_order_and_step() -> None:
    parsed = parse_code("OF-2026-0042-20")
    assert isinstance(parsed, ParsedCode)
    assert (parsed.work_order, parsed.step) == ("OF-2026-0042", 20)


def test_action_codes_map_to_actions() -> None:
    assert [parse_code(a.value).action for a in Action] == list(Action)  # type: ignore[union-attr]


def test_surrounding_blanks_and_lowercase_are_tolerated() -> None:
    parsed = parse_code("  of-2026-0042\r\n")
    assert isinstance(parsed, ParsedCode) and parsed.text == "OF-2026-0042"
    rfid = parse_code("04a1b2c3d4")
    assert isinstance(rfid, ParsedCode) and rfid.text == "04A1B2C3D4" and rfid.rfid


@pytest.mark.parametrize(
    "typed",
    [
        'P)éàé-)àààà&é"',  # P-2026-000123 typed by a US scanner on an AZERTY kiosk
        "OF)éàé-)àà'é",  # OF-2026-0042
        "B)àààà&",  # B-0001
        "OF-@)@^-))$@",  # an AZERTY scanner on a QWERTY kiosk: shifted digits
    ],
)
def test_wrong_keyboard_layout_is_detected_not_misread(typed: str) -> None:
    result = parse_code(typed)
    assert isinstance(result, CodeError)
    assert result.code == "keyboard_layout"
    assert "clavier" in result.message


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "bad_format"),
        ("   ", "bad_format"),
        ("OF-26-42", "bad_format"),
        ("OF-2026-0042-2", "bad_format"),
        ("P-2026-123", "bad_format"),
        ("B-", "bad_format"),
        ("ST-", "bad_format"),
        ("A-STOP", "unknown_code"),
        ("HELLO", "unknown_code"),
        ("1234567", "unknown_code"),  # 7 hex digits: too short for an RFID badge
        ("X" * 65, "bad_format"),
        ("OF 2026 0042", "bad_format"),
        ("ÉLÈVE", "bad_format"),
    ],
)
def test_malformed_and_foreign_codes_are_refused_with_their_reason(text: str, error: str) -> None:
    result = parse_code(text)
    assert isinstance(result, CodeError), result
    assert result.code == error
    assert result.message and result.reason


CODE = re.compile(r"[A-Z0-9-]{1,64}")


@given(st.text(max_size=120))
def test_parser_never_raises_and_classifies_everything(text: str) -> None:
    result = parse_code(text)
    if isinstance(result, ParsedCode):
        assert CODE.fullmatch(result.text)
    else:
        assert result.code in {"bad_format", "unknown_code", "keyboard_layout"}
        assert result.message


@given(st.from_regex(r"OF-[0-9]{4}-[0-9]{4}(-[0-9]{2})?", fullmatch=True))
def test_every_work_order_or_operation_code_round_trips(text: str) -> None:
    result = parse_code(text)
    assert isinstance(result, ParsedCode)
    assert result.text == text
    assert result.kind in {CodeKind.WORK_ORDER, CodeKind.OPERATION}


@given(st.from_regex(r"[0-9A-F]{8,14}", fullmatch=True))
def test_every_rfid_uid_is_a_badge(uid: str) -> None:
    result = parse_code(uid)
    assert isinstance(result, ParsedCode) and result.kind is CodeKind.BADGE
