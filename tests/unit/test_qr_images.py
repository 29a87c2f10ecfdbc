"""QR code images and new claim codes (adapters/qrimage.py): PNG and SVG that are what they say, of the
asked size (TTS's image_size 10..1000), and that a QR decoder reads back to the same text.

The PNG is decoded here with a small reader for what segno writes (greyscale, non-interlaced), then
handed to zxing-cpp (test extra) as a greyscale buffer.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from pngread import PNG_SIGNATURE, png_grey_pixels, png_size

from claimd.adapters.qrimage import (
    DEFAULT_IMAGE_SIZE,
    MAX_IMAGE_SIZE,
    MIN_IMAGE_SIZE,
    QUIET_ZONE,
    InvalidImageSize,
    QRTextTooLong,
    new_claim_code,
    render_png,
    render_svg,
    scale_for,
)
from claimd.domain.errors import InvalidArgument
from claimd.domain.lorawan import normalize_code
from claimd.domain.lorawan_qr import format_tr005, parse_qr

SVG_NS = "{http://www.w3.org/2000/svg}"
SPEC_EXAMPLE = "LW:D0:1122334455667788:AABBCCDDEEFF0011:AABB1122:OAABBCCDDEEFF:SYYWWNNNNNN:PFOOBAR:CAF2C"
TEXTS = [
    SPEC_EXAMPLE,
    format_tr005("70B3D57ED0000000", "0004A310001AAED6", owner_token="C05EA29C", serial="SN-0001"),
    "4242FFFFFFFFFFFF",  # short: must still be a full QR code, not a Micro QR
    "URN:DEV:LW:70B3D57ED0000000_0004A31000FFFFFF_00000000_VD53FFFFF",
]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("size", [MIN_IMAGE_SIZE, 100, DEFAULT_IMAGE_SIZE, 333, MAX_IMAGE_SIZE])
def test_png_is_a_png_of_the_asked_size(text: str, size: int) -> None:
    png = render_png(text, size)
    assert png.startswith(PNG_SIGNATURE)
    width, height = png_size(png)
    assert width == height
    scale = scale_for(text, size)
    modules = width // scale
    assert width == modules * scale and modules >= 21 + 2 * QUIET_ZONE  # version 1 QR or larger
    if scale > 1 or width <= size:
        assert width <= size < (modules * (scale + 1))  # the largest whole scale that fits
    else:
        assert width > size  # too small a size: one pixel per module, larger than asked (as go-qrcode)


def test_default_size() -> None:
    width, _ = png_size(render_png(SPEC_EXAMPLE))
    assert width <= DEFAULT_IMAGE_SIZE
    assert width == png_size(render_png(SPEC_EXAMPLE, DEFAULT_IMAGE_SIZE))[0]


@pytest.mark.parametrize("size", [0, MIN_IMAGE_SIZE - 1, MAX_IMAGE_SIZE + 1, -5, True, 100.0])
def test_size_out_of_bounds(size: int) -> None:
    for render in (render_png, render_svg):
        with pytest.raises(InvalidImageSize) as err:
            render(SPEC_EXAMPLE, size)
        assert err.value.code == "INVALID_IMAGE_SIZE"


def test_text_that_no_qr_code_holds() -> None:
    with pytest.raises(InvalidArgument):
        render_png("")
    with pytest.raises(QRTextTooLong):
        render_png("X" * 5000)


@pytest.mark.parametrize("text", TEXTS)
def test_svg_is_well_formed_and_sized_as_the_png(text: str) -> None:
    svg = render_svg(text, 250)
    assert isinstance(svg, str)
    root = ET.fromstring(svg.encode("utf-8"))
    assert root.tag == f"{SVG_NS}svg"
    width, height = png_size(render_png(text, 250))
    assert (int(root.get("width")), int(root.get("height"))) == (width, height)
    assert root.find(f"{SVG_NS}path") is not None


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("size", [120, DEFAULT_IMAGE_SIZE])
def test_png_decodes_back_to_the_text(text: str, size: int) -> None:
    import zxingcpp

    width, height, pixels = png_grey_pixels(render_png(text, size))
    assert set(pixels) <= {0, 255}
    barcodes = zxingcpp.read_barcodes(memoryview(pixels).cast("B", (height, width)))
    assert [b.text for b in barcodes] == [text]
    (barcode,) = barcodes
    assert barcode.format == zxingcpp.BarcodeFormat.QRCode  # not a Micro QR
    assert barcode.ec_level == "M"
    assert parse_qr(barcode.text) == parse_qr(text)


def test_new_claim_code() -> None:
    codes = {new_claim_code() for _ in range(200)}
    assert len(codes) >= 199  # 32 random bits each
    for code in codes:
        assert len(code) == 8 and set(code) <= set("0123456789ABCDEF")
        assert normalize_code(code) == code
