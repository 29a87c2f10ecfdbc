"""Printable device labels: PDF label sheets for a batch (fpdf2), PNG and SVG for one device.

A label shows the device's claim QR code (its ``qr_text``: a claim link, a TR005 ``LW:D0:…`` text or a
token identity's id), the device name and a human-readable code line. The QR code is drawn as vector
rectangles from segno's matrix (Model 2, error correction M, as :mod:`claimd.adapters.qrimage`) with its
quiet zone of 4 modules inside the square reserved for it, so nothing else is printed there.

Sheets (:data:`SHEETS`):

- ``a4-3x8``: A4, 3 columns × 8 rows of 70 × 37 mm labels, no gaps, 0.5 mm top margin (24 a page).
- ``letter-3x10``: US Letter, Avery 5160 geometry: 2.625″ × 1″ labels, 3 across, 10 down, 0.5″ top and
  0.1875″ left margins, 0.125″ between columns, none between rows (30 a page).
- ``roll-2x1``: one 2″ × 1″ label a page, for roll label printers.

Text that does not fit its line is shortened with an ellipsis ("…"); nothing is drawn outside the label's
inner box. The PDF uses the core Helvetica font, which covers Windows-1252 (Latin-1 and a few more) only:
any other character (e.g. "Датчик", "温度计") is printed as "?". The QR code carries the exact text.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

import segno

from claimd.adapters import qrimage
from claimd.domain.errors import InvalidArgument

if TYPE_CHECKING:
    from fpdf import FPDF  # imported where a sheet is made: fpdf2 (numpy, fontTools) takes 0.3 s to import

MM_PER_INCH = 25.4
PDF_ENCODING = "windows-1252"  # fpdf2's core fonts, with core_fonts_encoding set to it
ELLIPSIS = "…"
REPLACEMENT = "?"
MIN_MODULE_MM = 0.25  # a smaller module is not printed reliably by 203/300 dpi label printers


class UnknownSheet(InvalidArgument):
    code = "UNKNOWN_SHEET"


class LabelTooDense(InvalidArgument):
    code = "LABEL_TOO_DENSE"


@dataclass(frozen=True, slots=True)
class Label:
    """One device's label: ``qr_text`` in the QR code, ``name`` and ``code`` printed under each other."""

    qr_text: str
    name: str
    code: str


@dataclass(frozen=True, slots=True)
class Sheet:
    """A sheet's geometry, in millimetres."""

    name: str
    page_width: float
    page_height: float
    columns: int
    rows: int
    label_width: float
    label_height: float
    left: float
    top: float
    column_gap: float = 0.0
    row_gap: float = 0.0
    padding: float = 1.5

    @property
    def per_page(self) -> int:
        return self.columns * self.rows

    def origin(self, index: int) -> tuple[float, float]:
        """Top-left corner of the ``index``-th label of a page (row by row)."""
        row, column = divmod(index, self.columns)
        return (
            self.left + column * (self.label_width + self.column_gap),
            self.top + row * (self.label_height + self.row_gap),
        )


def _inch(value: float) -> float:
    return value * MM_PER_INCH


SHEETS: dict[str, Sheet] = {
    "a4-3x8": Sheet("a4-3x8", 210.0, 297.0, 3, 8, 70.0, 37.0, left=0.0, top=0.5, padding=3.0),
    "letter-3x10": Sheet(
        "letter-3x10",
        _inch(8.5),
        _inch(11),
        3,
        10,
        _inch(2.625),
        _inch(1),
        left=_inch(0.1875),
        top=_inch(0.5),
        column_gap=_inch(0.125),
    ),
    "roll-2x1": Sheet("roll-2x1", _inch(2), _inch(1), 1, 1, _inch(2), _inch(1), left=0.0, top=0.0),
}


def printable(text: str) -> str:
    """``text`` with every character the PDF's core font cannot show replaced by "?"."""
    out = []
    for char in text:
        try:
            char.encode(PDF_ENCODING)
        except UnicodeEncodeError:
            out.append(REPLACEMENT)
        else:
            out.append(char if char.isprintable() else REPLACEMENT)
    return "".join(out)


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """``text`` shortened with an ellipsis to at most ``width`` mm in the current font."""
    if pdf.get_string_width(text) <= width:
        return text
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits with the ellipsis
        middle = (low + high + 1) // 2
        if pdf.get_string_width(text[:middle].rstrip() + ELLIPSIS) <= width:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + ELLIPSIS if low else ""


def _matrix(text: str) -> list[list[bool]]:
    symbol = qrimage.qr_symbol(text)
    return [[bool(module) for module in row] for row in symbol.matrix_iter(scale=1, border=qrimage.QUIET_ZONE)]


def _draw_qr(pdf: FPDF, text: str, x: float, y: float, size: float, label_name: str) -> None:
    matrix = _matrix(text)
    module = size / len(matrix)
    if module < MIN_MODULE_MM:
        raise LabelTooDense(f"the QR text of {label_name!r} is too long for this sheet's labels")
    pdf.set_fill_color(0)
    # One path of rectangles, one per run of dark modules (a hair taller to leave no seam between rows),
    # filled once: written as PDF operators, since FPDF.rect's own bookkeeping made 10,000 labels take
    # two minutes (~300 rectangles a label); this path takes a tenth of that.
    k, page_height = pdf.k, pdf.h
    height = -(module + 0.01) * k
    runs = []
    for row_index, row in enumerate(matrix):
        top = (page_height - (y + row_index * module)) * k
        column = 0
        while column < len(row):
            if not row[column]:
                column += 1
                continue
            start = column
            while column < len(row) and row[column]:
                column += 1
            runs.append(f"{(x + start * module) * k:.2f} {top:.2f} {(column - start) * module * k:.2f} {height:.2f} re")
    pdf._out(" ".join(runs) + " f")  # fpdf2 has no public call for a raw path


def _draw_label(pdf: FPDF, sheet: Sheet, label: Label, x: float, y: float) -> None:
    inner_height = sheet.label_height - 2 * sheet.padding
    qr_size = inner_height
    _draw_qr(pdf, label.qr_text, x + sheet.padding, y + sheet.padding, qr_size, label.name)
    text_x = x + sheet.padding + qr_size + 1.0
    text_width = x + sheet.label_width - sheet.padding - text_x
    name_size = min(10.0, max(6.0, inner_height * 0.45 / 0.3528 / 2))  # points, about a quarter of the height
    code_size = name_size - 1.5
    line_gap = 1.0
    name_height = name_size * 0.3528
    code_height = code_size * 0.3528
    block = name_height + line_gap + code_height
    top = y + (sheet.label_height - block) / 2
    pdf.set_text_color(0)
    pdf.set_font("Helvetica", style="B", size=name_size)
    pdf.set_xy(text_x, top)
    pdf.cell(text_width, name_height, _fit(pdf, printable(label.name), text_width))
    pdf.set_font("Courier", size=code_size)
    pdf.set_xy(text_x, top + name_height + line_gap)
    pdf.cell(text_width, code_height, _fit(pdf, printable(label.code), text_width))


def sheet_named(name: str) -> Sheet:
    try:
        return SHEETS[name]
    except KeyError:
        raise UnknownSheet(f"unknown label sheet {name!r}: one of {', '.join(SHEETS)}") from None


def label_sheet(labels: Iterable[Label], sheet: str) -> bytes:
    """A PDF of ``labels`` on ``sheet`` (a name of :data:`SHEETS`), row by row, page after page."""
    geometry = sheet_named(sheet)
    from fpdf import FPDF

    pdf = FPDF(unit="mm", format=(geometry.page_width, geometry.page_height))
    pdf.core_fonts_encoding = PDF_ENCODING
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.c_margin = 0
    pdf.set_creator("claimd")
    count = 0
    for label in labels:
        slot = count % geometry.per_page
        if slot == 0:
            pdf.add_page()
        _draw_label(pdf, geometry, label, *geometry.origin(slot))
        count += 1
    if count == 0:
        pdf.add_page()
    return bytes(pdf.output())


def pages(labels: Sequence[Label], sheet: str) -> list[list[Label]]:
    """``labels`` as they fall on the pages of ``sheet``."""
    per_page = sheet_named(sheet).per_page
    return [list(labels[start : start + per_page]) for start in range(0, len(labels), per_page)]


def label_png(label: Label, size: int = qrimage.DEFAULT_IMAGE_SIZE) -> bytes:
    """One device's QR code as a PNG (:func:`claimd.adapters.qrimage.render_png`).

    The PNG carries the QR code only (claimd draws no raster text); :func:`label_svg` and the PDF sheets
    also print the name and the code.
    """
    return qrimage.render_png(label.qr_text, size)


def _shorten(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1].rstrip() + ELLIPSIS


def label_svg(label: Label, size: int = qrimage.DEFAULT_IMAGE_SIZE) -> str:
    """One device's label as an SVG document: the QR code (``size`` pixels), the name and the code under it."""
    symbol: segno.QRCode = qrimage.qr_symbol(label.qr_text)
    scale = qrimage.scale_for(label.qr_text, size)
    qr = io.BytesIO()
    symbol.save(qr, kind="svg", scale=scale, border=qrimage.QUIET_ZONE, xmldecl=False, svgns=False)
    width, height = symbol.symbol_size(scale=scale, border=qrimage.QUIET_ZONE)
    font = max(10, int(width) // 16)
    total = int(height) + 3 * font
    columns = max(4, int(width) * 5 // (3 * font))  # characters a line holds, at about 0.6 em each
    name = escape(_shorten(label.name, columns))
    code = escape(_shorten(label.code, columns + 2))
    inner = qr.getvalue().decode("utf-8")
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{int(width)}" height="{total}" '
        f'viewBox="0 0 {int(width)} {total}">'
        f'<rect width="100%" height="100%" fill="#fff"/>'
        f"{inner}"
        f'<text x="{int(width) // 2}" y="{int(height) + font}" font-family="sans-serif" font-weight="bold" '
        f'font-size="{font}" text-anchor="middle">{name}</text>'
        f'<text x="{int(width) // 2}" y="{int(height) + int(2.3 * font)}" font-family="monospace" '
        f'font-size="{font - 2}" text-anchor="middle">{code}</text>'
        "</svg>"
    )
