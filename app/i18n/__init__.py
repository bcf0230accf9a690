"""Atelier speaks French on the command line: Click's words, and every command's help."""

from __future__ import annotations

from flask import Flask

from app.i18n import catalog, commands


def register(app: Flask) -> None:
    """Answer in French in this process, and give every CLI command its French help."""
    catalog.use_french()
    commands.apply(app)
