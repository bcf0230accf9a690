"""Debian's Chromium through Playwright, for every browser test (pages, board, kiosk)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.support.services import require

try:
    from playwright import sync_api
except ImportError:  # reported by launch_chromium: a skip, or a failure in CI
    sync_api = None  # type: ignore[assignment]

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "launch_chromium", "sync_api"]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
]


@contextmanager
def launch_chromium() -> Iterator[Any]:
    """Launch Chromium for one test, closed afterwards; skip (fail in CI) if it is missing."""
    require(
        sync_api is not None,
        "the playwright Python package",
        "pip install -e '.[dev]' (browsers are not downloaded: Debian's chromium is used)",
    )
    require(os.path.exists(CHROMIUM), f"Chromium at {CHROMIUM}", "apt-get install chromium")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
