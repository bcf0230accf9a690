"""``flask record export``: a student's record (livret) as PDF or CSV."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Add the ``record`` commands to the app's CLI."""
