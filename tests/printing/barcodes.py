"""Read printed documents back as a scanner would: every Code 128 on every page."""

from __future__ import annotations

import io

import pypdfium2
import zxingcpp
from PIL import Image


def pdf_codes(pdf: bytes, dpi: int = 200) -> list[str]:
    """Return the Code 128 payloads of a PDF, page by page, top to bottom, left to right."""
    document = pypdfium2.PdfDocument(pdf)
    found: list[str] = []
    try:
        for page in document:
            image = page.render(scale=dpi / 72).to_pil().convert("L")
            found.extend(image_codes(image))
    finally:
        document.close()
    return found


def image_codes(image: Image.Image) -> list[str]:
    """Return the Code 128 payloads of an image, top to bottom, left to right."""
    results = zxingcpp.read_barcodes(
        image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.Code128)
    )
    ordered = sorted(
        results, key=lambda r: (round(r.position.top_left.y / 40), r.position.top_left.x)
    )
    return [result.text for result in ordered]


def png_codes(png: bytes) -> list[str]:
    """Return the Code 128 payloads of a PNG."""
    return image_codes(Image.open(io.BytesIO(png)).convert("L"))


def pdf_text(pdf: bytes) -> str:
    """Return the text of every page of a PDF."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in document)
    finally:
        document.close()
