"""QR code images (PNG and SVG, with segno) and new claim authentication codes.

Images are QR Code Model 2 (never Micro QR, which phones rarely read) at error correction level M,
exactly M (no boosting), as TTS renders them, with the standard quiet zone of 4 modules. ``size`` is
TTS's ``image_size``, 10 to 1000 pixels: the image is the largest whole number of pixels per module
whose width (quiet zone included) is at most ``size``. When even one pixel per module is wider than
``size`` (a long text in a small size), the one-pixel-per-module image is returned, larger than asked,
as TTS's renderer (go-qrcode) does. An SVG gets the same width and height attributes.
"""

from __future__ import annotations

import io
import secrets

import segno

from claimd.domain.errors import InvalidArgument

MIN_IMAGE_SIZE = 10
MAX_IMAGE_SIZE = 1000
DEFAULT_IMAGE_SIZE = 300
QUIET_ZONE = 4  # modules
ERROR_CORRECTION = "M"
CLAIM_CODE_BYTES = 4  # 8 hex characters, TTS's and The Things Join Server's usual owner token


class InvalidImageSize(InvalidArgument):
    code = "INVALID_IMAGE_SIZE"


class QRTextTooLong(InvalidArgument):
    code = "QR_TEXT_TOO_LONG"


def new_claim_code() -> str:
    """A new claim authentication code: 4 random bytes as 8 upper-case hex characters."""
    return secrets.token_hex(CLAIM_CODE_BYTES).upper()


def qr_symbol(text: str) -> segno.QRCode:
    if not text:
        raise InvalidArgument("a QR code needs a non-empty text")
    try:
        return segno.make_qr(text, error=ERROR_CORRECTION, boost_error=False)
    except segno.DataOverflowError:
        raise QRTextTooLong("the text is too long for a QR code") from None


def scale_for(text: str, size: int = DEFAULT_IMAGE_SIZE) -> int:
    """Pixels per module for ``text`` in an image of at most ``size`` pixels (at least 1)."""
    return _scale(qr_symbol(text), size)


def _scale(symbol: segno.QRCode, size: int) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or not MIN_IMAGE_SIZE <= size <= MAX_IMAGE_SIZE:
        raise InvalidImageSize(f"image size must be {MIN_IMAGE_SIZE} to {MAX_IMAGE_SIZE} pixels")
    width, _ = symbol.symbol_size(scale=1, border=QUIET_ZONE)
    return max(1, size // int(width))  # segno types the size as int | float; it is an int


def render_png(text: str, size: int = DEFAULT_IMAGE_SIZE) -> bytes:
    """``text`` as a QR code PNG (1-bit greyscale, black on white) at most ``size`` pixels wide."""
    symbol = qr_symbol(text)
    out = io.BytesIO()
    symbol.save(out, kind="png", scale=_scale(symbol, size), border=QUIET_ZONE)
    return out.getvalue()


def render_svg(text: str, size: int = DEFAULT_IMAGE_SIZE) -> str:
    """``text`` as a QR code SVG document (with XML declaration), sized as :func:`render_png`."""
    symbol = qr_symbol(text)
    out = io.BytesIO()
    symbol.save(out, kind="svg", scale=_scale(symbol, size), border=QUIET_ZONE, encoding="utf-8")
    return out.getvalue().decode("utf-8")
