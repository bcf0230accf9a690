"""The `demo` marker: end-to-end runs of `python -m demo` (deselect with -m "not demo")."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Register the demo marker, since --strict-markers refuses unknown ones."""
    config.addinivalue_line(
        "markers",
        'demo: runs the whole demo (python -m demo) from a fresh copy; deselect with -m "not demo"',
    )
