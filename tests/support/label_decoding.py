"""Reading printed labels back in the tests: every page of a PDF rasterised (pypdfium2) and every QR code
on it decoded with a real decoder (zxing-cpp)."""

from __future__ import annotations

import pypdfium2 as pdfium
import zxingcpp

DPI = 300


def decoded_pages(pdf: bytes) -> list[set[str]]:
    document = pdfium.PdfDocument(pdf)
    try:
        found = []
        for page in document:
            image = page.render(scale=DPI / 72, grayscale=True).to_pil()
            found.append(
                {barcode.text for barcode in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)}
            )
        return found
    finally:
        document.close()
