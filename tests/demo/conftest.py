"""The `demo` marker: the end-to-end run of `python -m app.demo` (deselect with -m "not demo")."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Register the demo marker, since --strict-markers refuses unknown ones."""
    config.addinivalue_line(
        "markers",
        "demo: runs the whole demo (python -m app.demo) from a fresh clone; "
        'deselect with -m "not demo"',
    )
