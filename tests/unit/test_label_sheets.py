"""PDF label sheets: every QR code on every rasterised page decodes to its row; text stays in its label."""

from __future__ import annotations

import io

import pypdfium2 as pdfium
import pytest
import zxingcpp
from label_decoding import decoded_pages
from PIL import Image

from claimd.adapters import labels
from claimd.adapters.labels import SHEETS, Label, label_png, label_sheet, label_svg, pages, printable

POINTS_PER_MM = 72 / 25.4


def claim_link_labels(count: int) -> list[Label]:
    return [
        Label(
            qr_text=f"https://claimd.example/claim?deviceName=meter-{i:05d}&secretKey=k{i:04d}Xy7_QpL2vR9t",
            name=f"meter-{i:05d}",
            code=f"k{i:04d}Xy7_QpL2vR9t",
        )
        for i in range(count)
    ]


def tr005_labels(count: int) -> list[Label]:
    return [
        Label(
            qr_text=f"LW:D0:70B3D57ED0000000:0004A30B{i:08X}:00010001:SABCD{i:04X}",
            name=f"lorawan-{i:04d}",
            code=f"0004A30B{i:08X} / ABCD{i:04X}",
        )
        for i in range(count)
    ]


@pytest.mark.parametrize("sheet", sorted(SHEETS))
@pytest.mark.parametrize("make", [claim_link_labels, tr005_labels], ids=["claim-link", "tr005"])
def test_every_qr_code_on_every_page_decodes_to_its_row(sheet, make):
    rows = make(32 if sheet == "roll-2x1" else 55)  # two pages and a part of a third (roll: 32 pages)
    pdf = label_sheet(rows, sheet)

    expected = [{label.qr_text for label in page} for page in pages(rows, sheet)]
    assert decoded_pages(pdf) == expected


@pytest.mark.parametrize(("sheet", "per_page"), [("a4-3x8", 24), ("letter-3x10", 30), ("roll-2x1", 1)])
def test_page_counts(sheet, per_page):
    assert SHEETS[sheet].per_page == per_page
    for count, page_count in [(1, 1), (per_page, 1), (per_page + 1, 2), (3 * per_page, 3)]:
        document = pdfium.PdfDocument(label_sheet(claim_link_labels(count), sheet))
        assert len(document) == page_count
        document.close()


def test_page_sizes():
    sizes = {
        "a4-3x8": (210 * POINTS_PER_MM, 297 * POINTS_PER_MM),
        "letter-3x10": (8.5 * 72, 11 * 72),
        "roll-2x1": (2 * 72, 1 * 72),
    }
    for sheet, (width, height) in sizes.items():
        document = pdfium.PdfDocument(label_sheet(claim_link_labels(1), sheet))
        assert document[0].get_size() == pytest.approx((width, height), abs=0.01)
        document.close()


def test_avery_5160_geometry():
    sheet = SHEETS["letter-3x10"]
    inch = 25.4
    assert (sheet.label_width, sheet.label_height) == pytest.approx((2.625 * inch, 1 * inch))
    assert sheet.origin(0) == pytest.approx((0.1875 * inch, 0.5 * inch))
    assert sheet.origin(1) == pytest.approx(((0.1875 + 2.625 + 0.125) * inch, 0.5 * inch))
    assert sheet.origin(29) == pytest.approx(((0.1875 + 2 * 2.75) * inch, 9.5 * inch))
    right = sheet.origin(2)[0] + sheet.label_width
    assert right <= 8.5 * inch


def text_boxes(pdf: bytes) -> list[list[tuple[float, float, float, float]]]:
    """Each page's character boxes (left, top, right, bottom) in mm from the top-left corner."""
    document = pdfium.PdfDocument(pdf)
    try:
        result = []
        for page in document:
            height = page.get_height()
            text = page.get_textpage()
            boxes = []
            for index in range(text.count_chars()):
                left, bottom, right, top = text.get_charbox(index)
                if right > left:
                    boxes.append(
                        (
                            left / POINTS_PER_MM,
                            (height - top) / POINTS_PER_MM,
                            right / POINTS_PER_MM,
                            (height - bottom) / POINTS_PER_MM,
                        )
                    )
            result.append(boxes)
        return result
    finally:
        document.close()


@pytest.mark.parametrize("sheet", sorted(SHEETS))
def test_long_and_non_latin_names_are_shortened_inside_their_label(sheet):
    names = [
        "a-very-long-device-name-that-goes-on-and-on-" * 4,
        "Датчик температуры в подвале номер 17",
        "温度计 🌡️ 第三号",
        "Zürich Café — Süd " * 5,
        "WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW",
        "tab\tand\nnewline",
        "",
    ]
    rows = [
        Label(f"https://claimd.example/claim?deviceName=d{i}&secretKey=s{i}", n, "C" * 80) for i, n in enumerate(names)
    ]
    geometry = SHEETS[sheet]
    pdf = label_sheet(rows, sheet)

    for page_rows, boxes in zip(pages(rows, sheet), text_boxes(pdf), strict=True):
        cells = [geometry.origin(slot) for slot in range(len(page_rows))]
        for left, top, right, bottom in boxes:
            inside = [
                (x, y)
                for x, y in cells
                if x - 0.05 <= left
                and right <= x + geometry.label_width + 0.05
                and y - 0.05 <= top
                and bottom <= y + geometry.label_height + 0.05
            ]
            assert inside, f"a character at {left:.1f},{top:.1f} mm lies outside every label"
    document = pdfium.PdfDocument(pdf)
    first = document[0].get_textpage().get_text_range()
    document.close()
    assert "…" in first
    assert decoded_pages(pdf) == [{label.qr_text for label in page} for page in pages(rows, sheet)]


def test_non_latin_characters_print_as_question_marks():
    assert printable("Датчик 7") == "?????? 7"
    assert printable("Zürich Café") == "Zürich Café"
    assert printable("a\tb") == "a?b"


def test_an_empty_batch_is_one_blank_page_and_an_unknown_sheet_is_refused():
    document = pdfium.PdfDocument(label_sheet([], "a4-3x8"))
    assert len(document) == 1
    document.close()
    with pytest.raises(labels.UnknownSheet):
        label_sheet(claim_link_labels(1), "a5-2x4")


def test_a_qr_text_too_dense_for_the_label_is_refused():
    with pytest.raises(labels.LabelTooDense):
        label_sheet([Label("x" * 1500, "big", "code")], "letter-3x10")


def test_one_device_png_and_svg():
    label = Label("LW:D0:70B3D57ED0000000:0004A30B00000001:00010001:SABCD0001", "Датчик <7> & co", "ABCD0001")
    png = label_png(label)
    assert png.startswith(b"\x89PNG")
    assert [barcode.text for barcode in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))] == [label.qr_text]
    svg = label_svg(label)
    assert svg.startswith("<?xml")
    assert "Датчик &lt;7&gt; &amp; co" in svg
    assert ">ABCD0001</text>" in svg
