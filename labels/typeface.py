"""The fonts shipped with the package (DejaVu Sans, see fonts/README.md)."""

from __future__ import annotations

from pathlib import Path

FONTS_DIR = Path(__file__).resolve().parent / "fonts"
FONT_REGULAR_PATH = FONTS_DIR / "DejaVuSans.ttf"
FONT_BOLD_PATH = FONTS_DIR / "DejaVuSans-Bold.ttf"
