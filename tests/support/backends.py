"""Which database a test runs on, when it need not run on every one."""

from __future__ import annotations

import os

import pytest


def screen_backend() -> str:
    """Return the backend for screen-only checks: SQLite, or the only one selected."""
    wanted = os.environ.get("ATELIER_TEST_BACKENDS", "sqlite,postgresql")
    names = [name.strip() for name in wanted.split(",") if name.strip()]
    return "sqlite" if "sqlite" in names or not names else names[0]


# For a check of the screen alone (axe-core, layout at two sizes, reduced motion), whose
# database behaviour other tests cover on every backend: run it on one database (SQLite,
# or the only one selected). The test's module or docstring says why it may.
screen_only = pytest.mark.parametrize(
    "database", [pytest.param(screen_backend(), id=screen_backend())], indirect=True
)
