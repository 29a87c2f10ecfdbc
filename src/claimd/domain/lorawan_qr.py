"""LoRaWAN device QR codes: the LoRa Alliance TR005 texts (and their drafts), the TR005 checksum.

Facts come from The Things Stack (TTS, ``lorawan-stack`` v3.32) and the LoRa Alliance TR005 "LoRaWAN
Device Identification QR Codes"; where claimd decides differently, the text says so. EUIs and claim
authentication codes are in ``domain/lorawan.py``.

QR code texts (TTS's four end-device formats, tried in this order when no format is named)
    ``tr005``        ``LW:D0:<JoinEUI>:<DevEUI>:<VendorID><ProfileID>[:O<token>][:S<serial>][:P<prop>][:C<crc>]``
    ``tr005draft2``  ``URN:LW:DP:<JoinEUI>:<DevEUI>:<ProdID>[:%V<code>%S<serial>%P<prop>]``
    ``tr005draft3``  ``URN:DEV:LW:<JoinEUI>_<DevEUI>_<ProdID>[_V<code>][_S<serial>][_P<prop>]``
    ``dev_eui``      ``<DevEUI>`` (16 hex digits, Dragino-style stickers)

    As TTS: the ``LW``/``D0``/``URN`` headers are case-sensitive, EUIs are hex in either case, an
    *empty* EUI field is the zero EUI (TTS's EUI text decoding; LoRaWAN 1.0 devices do ship a zero
    JoinEUI, and a zero DevEUI is left to the claim step to refuse, as TTS's Join Server does), the
    product id is exactly 4 bytes of hex (vendor id, then vendor profile id, 2 bytes each,
    big-endian), extensions may come in any order, extensions of at most one character (``:O``) are
    skipped, unknown tags are ignored and a repeated tag keeps its last value. TR005 extension values
    may hold any character but ``:``; draft 2 values only ``0-9A-Z$*+-./`` (after ``%25`` is turned
    into ``%``), draft 3 values only ``0-9A-Z``.

    Unlike TTS (lorawan-stack issue #5289), a TR005 ``C`` checksum is verified: CRC-16/MODBUS of the
    text without the checksum field, i.e. the text with its ``:C<crc>`` field taken out (for the
    usual text, where C is last, that is the text up to and excluding the ``:`` before ``C``). It is
    1 to 4 hex digits (case-insensitive, compared as a number, kept as 4 upper-case digits); checksum
    text that is not hex (TTS's own test vectors carry ``CCHECKSUM``) is a format error, a wrong value
    is :class:`QRBadChecksum`, and a text with two checksum fields is refused (which one would count?).

    Also unlike TTS: ASCII whitespace around the whole text (a scanner's trailing newline) is
    ignored, a text longer than :data:`MAX_QR_TEXT_BYTES` is refused, and when no format is named
    the error is the one of the format whose header the text carries (a TR005 text with a wrong
    checksum says so), :class:`QRUnknownFormat` only when no header matches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from claimd.domain.errors import InvalidArgument, NotFound
from claimd.domain.lorawan import EUI_HEX_LENGTH, ZERO_EUI, is_hex, parse_eui

# ---------------------------------------------------------------------------------------------------
# Errors


class QRCodeError(InvalidArgument):
    """A QR code text that claimd cannot read; the subclasses say why."""

    code = "QR_INVALID"


class QRUnknownFormat(QRCodeError):
    """No format reads the text, or the named format does not exist."""

    code = "QR_UNKNOWN_FORMAT"


class QRInvalidFormat(QRCodeError):
    """The text is not well-formed for its format (header, field count, extension checksum text)."""

    code = "QR_INVALID_FORMAT"


class QRTooLong(QRCodeError):
    code = "QR_TOO_LONG"


class QRInvalidEUI(QRCodeError):
    code = "QR_INVALID_EUI"


class QRInvalidProfileID(QRCodeError):
    code = "QR_INVALID_PROFILE_ID"


class QRInvalidCharacter(QRCodeError):
    code = "QR_INVALID_CHARACTER"


class QRBadChecksum(QRCodeError):
    """The ``C`` extension does not match the CRC-16/MODBUS of the text."""

    code = "QR_BAD_CHECKSUM"


class QRFormatNotFound(NotFound):
    """``GET .../formats/{id}`` for an id that is not a format (TTS's ``format_not_found``)."""

    code = "QR_FORMAT_NOT_FOUND"

    def __init__(self, format_id: str) -> None:
        super().__init__(f"QR code format `{format_id}` not found")


class _NotThisFormat(QRInvalidFormat):
    """The text does not carry this format's header: the next format may read it."""


# ---------------------------------------------------------------------------------------------------
# CRC-16/MODBUS


def _crc16_step(crc: int) -> int:
    for _ in range(8):
        crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


#: The eight shift steps of each byte value, done once (an import prints tens of thousands of QR texts).
_CRC16_TABLE = tuple(_crc16_step(value) for value in range(256))


def crc16_modbus(data: bytes) -> int:
    """CRC-16/MODBUS: polynomial 0x8005 (reflected 0xA001), initial 0xFFFF, reflected in and out,
    no final xor. ``crc16_modbus(b"123456789") == 0x4B37``."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _CRC16_TABLE[(crc ^ byte) & 0xFF]
    return crc


# ---------------------------------------------------------------------------------------------------
# QR code texts

FORMAT_TR005 = "tr005"
FORMAT_TR005_DRAFT2 = "tr005draft2"
FORMAT_TR005_DRAFT3 = "tr005draft3"
FORMAT_DEV_EUI = "dev_eui"

#: TTS's ``Parse`` bounds ``qr_code`` to 10..1024 bytes; the parser refuses longer texts itself.
MIN_QR_TEXT_BYTES = 10
MAX_QR_TEXT_BYTES = 1024

#: An EUI field of a QR text: bare hex digits only (no separators), either case.
_QR_EUI_RE = re.compile(r"[0-9A-Fa-f]{16}")
_DRAFT2_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ$*+-./")
_DRAFT3_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
#: What :func:`format_tr005` writes in an extension value: printable ASCII, no space, no ``:``.
_TR005_OUT_CHARS = frozenset(chr(c) for c in range(0x21, 0x7F)) - {":"}


@dataclass(frozen=True, slots=True)
class QRFormat:
    """One entry of ``GET /api/v3/qr-codes/end-devices/formats`` (TTS's ``QRCodeFormat``)."""

    id: str
    name: str
    description: str
    field_mask: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        """TTS's JSON shape (the field mask as ``{"paths": [...]}``)."""
        return {"name": self.name, "description": self.description, "field_mask": {"paths": list(self.field_mask)}}


_IDS_AND_CODE = ("claim_authentication_code.value", "ids.dev_eui", "ids.join_eui")
_LORA_ALLIANCE = "Standard QR code format defined by LoRa Alliance."

#: The end-device QR code formats, in the order :func:`parse_qr` tries them, named as TTS lists them.
QR_FORMATS: dict[str, QRFormat] = {
    f.id: f
    for f in (
        QRFormat(FORMAT_TR005, "LoRa Alliance TR005", _LORA_ALLIANCE, _IDS_AND_CODE),
        QRFormat(FORMAT_TR005_DRAFT2, "LoRa Alliance TR005 Draft 2 (DEPRECATED)", _LORA_ALLIANCE, _IDS_AND_CODE),
        QRFormat(FORMAT_TR005_DRAFT3, "LoRa Alliance TR005 Draft 3 (DEPRECATED)", _LORA_ALLIANCE, _IDS_AND_CODE),
        QRFormat(FORMAT_DEV_EUI, "DevEUI", "LoRaWAN® DevEUI (hex encoded)", ("ids.dev_eui",)),
    )
}


def qr_format(format_id: str) -> QRFormat:
    """The format named ``format_id``, or :class:`QRFormatNotFound`."""
    try:
        return QR_FORMATS[format_id]
    except KeyError:
        raise QRFormatNotFound(format_id) from None


@dataclass(frozen=True, slots=True)
class DeviceQRCode:
    """What a device QR code says. ``join_eui`` is None for the bare ``dev_eui`` format; absent
    extensions are empty strings; ``checksum`` is the verified TR005 checksum (4 upper-case hex
    digits) or None when the text had none."""

    join_eui: str | None
    dev_eui: str
    vendor_id: int = 0
    profile_id: int = 0
    owner_token: str = ""
    serial: str = ""
    proprietary: str = ""
    checksum: str | None = None

    @property
    def product_id(self) -> str:
        """``<VendorID><ProfileID>`` as the 8 upper-case hex digits of the QR text."""
        return f"{self.vendor_id:04X}{self.profile_id:04X}"


def _qr_eui(value: str, what: str) -> str:
    if value == "":
        return ZERO_EUI
    if _QR_EUI_RE.fullmatch(value) is None:
        raise QRInvalidEUI(f"{what} in the QR code must be 16 hex digits, got {value!r}")
    return value.upper()


def _product_id(value: str) -> tuple[int, int]:
    if len(value) != 8 or not is_hex(value):
        raise QRInvalidProfileID(f"the QR code's product id must be 8 hex digits (VendorID + ProfileID), got {value!r}")
    return int(value[:4], 16), int(value[4:], 16)


def _check_chars(values: tuple[str, ...], allowed: frozenset[str], what: str) -> None:
    for value in values:
        for ch in value:
            if ch not in allowed:
                raise QRInvalidCharacter(f"invalid character {ch!r} in a {what} QR code extension")


def _parse_tr005(text: str) -> DeviceQRCode:
    parts = text.split(":")
    if parts[0] != "LW":
        raise _NotThisFormat("not a LoRa Alliance TR005 text (LW:D0:...)")
    if len(parts) < 2 or parts[1] != "D0":
        raise QRInvalidFormat("unsupported TR005 schema: only LW:D0 is defined")
    if len(parts) < 5:
        raise QRInvalidFormat("a TR005 text is LW:D0:<JoinEUI>:<DevEUI>:<ProfileID>[:extensions]")
    join_eui = _qr_eui(parts[2], "JoinEUI")
    dev_eui = _qr_eui(parts[3], "DevEUI")
    vendor_id, profile_id = _product_id(parts[4])
    ext: dict[str, str] = {}
    checksum_at: list[int] = []
    for i in range(5, len(parts)):
        field = parts[i]
        if len(field) <= 1:
            continue
        tag, value = field[0], field[1:]
        if tag == "C":
            checksum_at.append(i)
        if tag in "COSP":
            ext[tag] = value
    checksum = None
    if checksum_at:
        if len(checksum_at) > 1:
            raise QRInvalidFormat("a TR005 text has at most one checksum (C) extension")
        value = ext["C"]
        if len(value) > 4 or not is_hex(value):
            raise QRInvalidFormat(f"the TR005 checksum must be 4 hex digits (CRC-16/MODBUS), got {value!r}")
        i = checksum_at[0]
        covered = ":".join(parts[:i] + parts[i + 1 :]).encode("utf-8")
        expected = crc16_modbus(covered)
        if int(value, 16) != expected:
            raise QRBadChecksum(
                f"the QR code's checksum {value.upper()} does not match its content (expected {expected:04X}):"
                " the code is damaged or was mistyped"
            )
        checksum = f"{expected:04X}"
    return DeviceQRCode(
        join_eui=join_eui,
        dev_eui=dev_eui,
        vendor_id=vendor_id,
        profile_id=profile_id,
        owner_token=ext.get("O", ""),
        serial=ext.get("S", ""),
        proprietary=ext.get("P", ""),
        checksum=checksum,
    )


def _draft_extensions(fields: list[str], allowed: frozenset[str], what: str) -> dict[str, str]:
    ext: dict[str, str] = {}
    for field in fields:
        if len(field) <= 1:
            continue
        if field[0] in "VSP":
            ext[field[0]] = field[1:]
    _check_chars(tuple(ext.values()), allowed, what)
    return ext


def _draft_code(
    join_eui: str, dev_eui: str, product_id: str, fields: list[str], allowed: frozenset[str], what: str
) -> DeviceQRCode:
    """What a draft text says, from its fields: EUIs, product id, then the V, S and P extensions."""
    join, dev = _qr_eui(join_eui, "JoinEUI"), _qr_eui(dev_eui, "DevEUI")
    vendor_id, profile_id = _product_id(product_id)
    ext = _draft_extensions(fields, allowed, what)
    return DeviceQRCode(join, dev, vendor_id, profile_id, ext.get("V", ""), ext.get("S", ""), ext.get("P", ""))


def _parse_draft2(text: str) -> DeviceQRCode:
    if not text.startswith("URN:LW:DP:"):
        raise _NotThisFormat("not a TR005 draft 2 text (URN:LW:DP:...)")
    parts = text.split(":", 6)
    if len(parts) < 6:
        raise QRInvalidFormat("a TR005 draft 2 text is URN:LW:DP:<JoinEUI>:<DevEUI>:<ProdID>[:extensions]")
    fields = parts[6].replace("%25", "%").split("%") if len(parts) == 7 else []
    return _draft_code(parts[3], parts[4], parts[5], fields, _DRAFT2_CHARS, "TR005 draft 2")


def _parse_draft3(text: str) -> DeviceQRCode:
    if not text.startswith("URN:DEV:LW:"):
        raise _NotThisFormat("not a TR005 draft 3 text (URN:DEV:LW:...)")
    parts = text[len("URN:DEV:LW:") :].split("_", 3)
    if len(parts) < 3:
        raise QRInvalidFormat("a TR005 draft 3 text is URN:DEV:LW:<JoinEUI>_<DevEUI>_<ProdID>[_extensions]")
    fields = parts[3].split("_") if len(parts) == 4 else []
    return _draft_code(parts[0], parts[1], parts[2], fields, _DRAFT3_CHARS, "TR005 draft 3")


def _parse_dev_eui(text: str) -> DeviceQRCode:
    if not is_hex(text):
        raise _NotThisFormat("not a bare DevEUI (16 hex digits)")
    if len(text) != EUI_HEX_LENGTH:
        raise QRInvalidEUI(f"a DevEUI is 16 hex digits, got {len(text)}")
    return DeviceQRCode(join_eui=None, dev_eui=text.upper())


_PARSERS = {
    FORMAT_TR005: _parse_tr005,
    FORMAT_TR005_DRAFT2: _parse_draft2,
    FORMAT_TR005_DRAFT3: _parse_draft3,
    FORMAT_DEV_EUI: _parse_dev_eui,
}


def parse_qr(text: str | bytes, format_id: str | None = None) -> tuple[str, DeviceQRCode]:
    """Read a device QR code text: ``(format_id, what it says)``.

    With ``format_id`` (``None`` or ``""`` for none) only that format is tried and its own error is
    raised; without, the formats are tried in :data:`QR_FORMATS` order and the first that reads the
    text wins. Bytes must be UTF-8."""
    if format_id and format_id not in _PARSERS:
        raise QRUnknownFormat(f"QR code format `{format_id}` unknown")
    if len(text) > MAX_QR_TEXT_BYTES:  # a str of more characters has more UTF-8 bytes too
        raise QRTooLong(f"a QR code text is at most {MAX_QR_TEXT_BYTES} bytes")
    try:
        # a str may hold lone surrogates (a JSON "\ud800"): not text that a QR code can carry
        data = text if isinstance(text, bytes) else text.encode("utf-8")
        text = data.decode("utf-8")
    except UnicodeError:
        raise (QRInvalidFormat if format_id else QRUnknownFormat)("the QR code is not UTF-8 text") from None
    if len(data) > MAX_QR_TEXT_BYTES:
        raise QRTooLong(f"a QR code text is at most {MAX_QR_TEXT_BYTES} bytes")
    text = text.strip(" \t\r\n")
    if format_id:
        return format_id, _PARSERS[format_id](text)
    for fid, parse in _PARSERS.items():
        try:
            return fid, parse(text)
        except _NotThisFormat:
            continue
    raise QRUnknownFormat("the QR code is in no known format (TR005 LW:D0, TR005 drafts 2 and 3, DevEUI)")


def check_tr005_extension(name: str, value: str) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(f"{name} must be a string")
    for ch in value:
        if ch not in _TR005_OUT_CHARS:
            raise InvalidArgument(f"{name} may hold printable ASCII characters except space and ':' (got {ch!r})")
    return value


def format_tr005(
    join_eui: str,
    dev_eui: str,
    *,
    vendor_id: int = 0,
    profile_id: int = 0,
    owner_token: str = "",
    serial: str = "",
    proprietary: str = "",
    checksum: bool = True,
) -> str:
    """TR005 text ``LW:D0:<JoinEUI>:<DevEUI>:<VendorID><ProfileID>`` followed by the non-empty
    extensions in the order O (owner token), S (serial), P (proprietary), then C (checksum) last,
    with the CRC-16/MODBUS of everything before it, as in TR005's own example.

    TTS writes C first (``C, O, S, P``) and only re-emits a checksum it was given: under the reading
    of TR005 "up to the ':' before C" such a text cannot verify (the fields after C would be
    covered by nothing); claimd puts C last, where every reading of the rule agrees. Extension values
    are written as given (give a hex owner token in its normalised, upper-case form) and may hold
    printable ASCII but space and ``:``."""
    for name, ident in (("vendor_id", vendor_id), ("profile_id", profile_id)):
        if isinstance(ident, bool) or not isinstance(ident, int) or not 0 <= ident <= 0xFFFF:
            raise InvalidArgument(f"{name} must be an integer from 0 to 65535")
    text = f"LW:D0:{parse_eui(join_eui, what='JoinEUI')}:{parse_eui(dev_eui, what='DevEUI')}:{vendor_id:04X}{profile_id:04X}"
    for tag, name, value in (
        ("O", "owner_token", owner_token),
        ("S", "serial", serial),
        ("P", "proprietary", proprietary),
    ):
        if check_tr005_extension(name, value):
            text += f":{tag}{value}"
    if checksum:
        text += f":C{crc16_modbus(text.encode('ascii')):04X}"
    return text
