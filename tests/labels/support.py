"""Helpers of the label tests: rasterise PDFs with pdfium, decode with zxing-cpp."""

from __future__ import annotations

import io

import pypdfium2 as pdfium
import zxingcpp
from PIL import Image

from labels.stock import Stock

MM_PER_INCH = 25.4
CODE128 = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.Code128)


def decode(image: Image.Image) -> list[str]:
    """Return the texts of every Code 128 symbol zxing-cpp finds in the image.

    zxing-cpp's default (local average) binarizer misses some symbols whose modules are
    2 pixels wide with anti-aliased edges (a 0.339 mm module rasterised at 150 dpi) though
    a plain threshold reads them, as a handheld scanner does on a black-on-white print:
    when the first finds nothing, the image is read again with a fixed threshold.
    """
    found = zxingcpp.read_barcodes(image, formats=CODE128)
    if not found:
        found = zxingcpp.read_barcodes(
            image,
            formats=CODE128,
            binarizer=zxingcpp.Binarizer.FixedThreshold,
        )
    return [result.text for result in found]


def decode_png(data: bytes) -> list[str]:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return decode(image)


def pages(data: bytes, dpi: int) -> list[Image.Image]:
    """Rasterise every page of a PDF at ``dpi``, in grey."""
    document = pdfium.PdfDocument(data)
    try:
        images = []
        for index in range(len(document)):
            page = document[index]
            bitmap = page.render(scale=dpi / 72, grayscale=True)
            images.append(bitmap.to_pil().copy())
            bitmap.close()
            page.close()
        return images
    finally:
        document.close()


def texts(data: bytes) -> list[str]:
    """Return the extracted text of every page of a PDF."""
    document = pdfium.PdfDocument(data)
    try:
        result = []
        for index in range(len(document)):
            page = document[index]
            text_page = page.get_textpage()
            result.append(text_page.get_text_range())
            text_page.close()
            page.close()
        return result
    finally:
        document.close()


def crop_mm(image: Image.Image, dpi: int, x: float, y: float, w: float, h: float) -> Image.Image:
    """Crop a rectangle given in millimetres from the page's top-left corner."""
    scale = dpi / MM_PER_INCH
    return image.crop(
        (round(x * scale), round(y * scale), round((x + w) * scale), round((y + h) * scale))
    )


def cell(image: Image.Image, dpi: int, stock: Stock, position: int) -> Image.Image:
    """Crop one label of a sheet by the stock's geometry."""
    x, y = stock.cell(position)
    return crop_mm(image, dpi, x, y, stock.label_w_mm, stock.label_h_mm)
