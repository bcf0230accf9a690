"""Benchmark of label printing (labels/): PDF sheets, badges and a traveller.

Measured, in the same run, as the median of a few rounds: (1) 240 piece labels on ten
A4 sheets of 3x8 stock; (2) the 30 badges of a class on credit-card stock; (3) a
12-step traveller (two pages); and, as the reference, python-barcode's own SVG rendering
of the same 240 codes (``barcode.Code128(code, writer=SVGWriter()).render()``), which
builds the same bar patterns and writes them out without any layout. Target: the 240
labels in under 2 s.

Usage: python bench/labels.py [--rounds 5] [--json FILE]
Prints figures (--json also writes them to FILE); it is not a pass/fail test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import barcode
from barcode.writer import SVGWriter

# This script is bench/labels.py: put the repository first, so that ``labels`` is the
# package and not this file.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from labels import barcode as label_barcode
from labels import pdf
from labels.content import Label

SHEET_LABELS = 240
TARGET_S = 2.0
SCHOOL = "École de Production de Belfort"
NAMES = ["Lucas M.", "Émile D.", "Zoé Ş.", "Łukasz Ő.", "Maëlys B.", "Noé Ç."]


def piece_labels() -> list[Label]:
    return [
        Label(f"P-2026-{number:06d}", None, ("OF-2026-0042", "Support soudé"))
        for number in range(1, SHEET_LABELS + 1)
    ]


def class_badges() -> list[Label]:
    return [Label(f"B-{n:04d}", NAMES[n % len(NAMES)], (SCHOOL,)) for n in range(1, 31)]


def traveller_sheet() -> pdf.Traveller:
    wps = pdf.WpsRange("WPS-135-PB", "135", "PB", (160, 200), (21, 25), (0.8, 1.2))
    steps = tuple(
        pdf.TravellerStep(
            10 * n, f"OF-2026-0042-{10 * n:02d}", "Soudage MAG", wps if n % 2 else None
        )
        for n in range(1, 10)
    ) + tuple(pdf.TravellerStep(90 + n, f"OF-2026-0042-{90 + n}", "Contrôle") for n in (1, 2, 3))
    return pdf.Traveller(
        "OF-2026-0042",
        "Mairie de Belfort",
        "Support soudé",
        12,
        date(2026, 12, 15),
        None,
        steps,
        SCHOOL,
    )


def reference_svgs(codes: list[str]) -> bytes:
    """python-barcode's own SVG of each code: the reference for the same patterns."""
    return b"".join(barcode.Code128(code, writer=SVGWriter()).render() for code in codes)


def median_s(work: Callable[[], bytes], rounds: int) -> tuple[float, int]:
    """Return the median time of ``rounds`` runs and the size of the last output."""
    times = []
    size = 0
    for _ in range(rounds):
        started = time.perf_counter()
        size = len(work())
        times.append(time.perf_counter() - started)
    return statistics.median(times), size


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="runs of each measure")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M")
    print(
        f"Label benchmark, {started}, Python {platform.python_version()}, "
        f"median of {args.rounds} rounds"
    )
    labels, badges, sheet = piece_labels(), class_badges(), traveller_sheet()
    codes = [label.code for label in labels]
    # The first run pays for the font registration; the bar patterns are cached per code,
    # so clear the cache before every run of the sheet to measure them built every time.
    pdf.label_sheet(labels[:1])

    def sheet_uncached() -> bytes:
        label_barcode._modules.cache_clear()
        return pdf.label_sheet(labels, "3x8")

    measures = {
        "sheet_240": median_s(sheet_uncached, args.rounds),
        "badges_30": median_s(lambda: pdf.badge_sheet(badges), args.rounds),
        "traveller_12": median_s(lambda: pdf.traveller(sheet), args.rounds),
        "python_barcode_svg_240": median_s(lambda: reference_svgs(codes), args.rounds),
    }
    names = {
        "sheet_240": "240 piece labels, 10 A4 pages of 3x8 (PDF)",
        "badges_30": "30 badges of a class, 3 A4 pages of cards (PDF)",
        "traveller_12": "traveller of 12 steps, 2 A4 pages (PDF)",
        "python_barcode_svg_240": "reference: python-barcode SVG of the same 240 codes",
    }
    for key, (seconds, size) in measures.items():
        print(f"{names[key]:<55} {seconds * 1000:8.1f} ms  {size / 1024:8.0f} KiB")
    sheet_s = measures["sheet_240"][0]
    verdict = "under" if sheet_s < TARGET_S else "OVER"
    print(f"240 labels: {sheet_s:.2f} s, {verdict} the {TARGET_S:.0f} s target")
    if args.json:
        figures = {
            "benchmark": "labels",
            "started": started,
            "rounds": args.rounds,
            "results": {
                key: {"median_s": seconds, "bytes": size}
                for key, (seconds, size) in measures.items()
            },
        }
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
