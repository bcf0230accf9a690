"""Hypothesis strategies for hostile input: what a broken or malicious sender can send.

Plain ``st.text()`` and ``st.floats()`` never produce what once gave a 500 here: JSON
nested a thousand levels deep, lone surrogates (``"\\ud800"`` is valid JSON), instants that
overflow once converted to UTC, and figures like 1e308 that turn a heat input infinite.
These strategies do, mixed with ordinary values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

# Text as JSON can carry it: any code point, lone surrogates included.
SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
HOSTILE_TEXT = st.text(
    alphabet=st.characters(codec=None) | SURROGATES | st.sampled_from("\x00\n\u2028\u0085ſ"),
    max_size=40,
)
EXTREME_TIMESTAMPS = st.sampled_from(
    [
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+23:59",
        "1969-12-31T23:59:59Z",
        "3000-01-01T00:00:00Z",
        "2026-11-26T09:20:60Z",
        "2026-02-30T00:00:00Z",
        "2026-11-26T09:20:11",
        "2026-11-26T09:20:11.400Z",
        "2026-11-26t09:20:11z",
    ]
) | st.builds(
    "{:04d}-{:02d}-{:02d}T{:02d}:00:00{}".format,
    st.integers(1, 9999),
    st.integers(1, 12),
    st.integers(1, 28),
    st.integers(0, 23),
    st.sampled_from(["Z", "+00:00", "-23:59", "+23:59", "+14:00"]),
)
EXTREME_FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [1e308, -1e308, 1e-10, 5e-324, -0.0, 2.0**63, 10.0**20]
)
HOSTILE_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63, max_value=2**80)
    | EXTREME_FLOATS
    | HOSTILE_TEXT
    | EXTREME_TIMESTAMPS
)
JSON_VALUES = st.recursive(
    HOSTILE_SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(HOSTILE_TEXT, children, max_size=3)
    ),
    max_leaves=8,
)


@dataclass(frozen=True)
class Deep:
    """A value nested ``depth`` levels deep, lists and objects in turn (written by ``dumps``).

    Kept as its depth and leaf, not as the nested value: Hypothesis prints the examples it
    reports, and printing a thousand levels would exhaust Python's recursion limit.
    """

    depth: int
    leaf: Any = None

    def text(self) -> str:
        """Write the value as JSON text."""
        opening = "".join("[" if level % 2 else '{"x": ' for level in range(self.depth))
        closing = "".join("]" if level % 2 else "}" for level in reversed(range(self.depth)))
        return opening + json.dumps(self.leaf, allow_nan=True) + closing


DEEP = st.builds(Deep, st.integers(min_value=200, max_value=5000), HOSTILE_SCALARS)


def dumps(value: Any) -> bytes:
    """Write a value as JSON a careless sender would: NaN, Infinity and surrogates allowed."""
    return _text(value).encode()


def _text(value: Any) -> str:
    if isinstance(value, Deep):
        return value.text()
    if isinstance(value, dict):
        items = ", ".join(f"{json.dumps(str(k))}: {_text(v)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_text(item) for item in value) + "]"
    return json.dumps(value, allow_nan=True)
