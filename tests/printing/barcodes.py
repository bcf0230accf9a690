"""Read printed documents back as a scanner would, with the label tests' pdfium and zxing-cpp.

``tests/labels/support.py`` rasterises and extracts; here the codes come back in reading
order (top to bottom, left to right), so that a sheet's serials can be compared in order.
"""

from __future__ import annotations

import io

import zxingcpp
from PIL import Image

from tests.labels.support import CODE128, pages, texts


def image_codes(image: Image.Image) -> list[str]:
    """Return the Code 128 payloads of an image, top to bottom, left to right."""
    results = zxingcpp.read_barcodes(image, formats=CODE128)
    ordered = sorted(
        results, key=lambda r: (round(r.position.top_left.y / 40), r.position.top_left.x)
    )
    return [result.text for result in ordered]


def pdf_codes(pdf: bytes, dpi: int = 200) -> list[str]:
    """Return the Code 128 payloads of a PDF, page by page, in reading order."""
    return [code for page in pages(pdf, dpi) for code in image_codes(page)]


def png_codes(png: bytes) -> list[str]:
    """Return the Code 128 payloads of a PNG."""
    with Image.open(io.BytesIO(png)) as image:
        return image_codes(image.convert("L"))


def pdf_text(pdf: bytes) -> str:
    """Return the text of every page of a PDF."""
    return "\n".join(texts(pdf))
