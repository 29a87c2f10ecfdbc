"""LoRaWAN identities, claim authentication codes and device QR codes: the pure rules.

Facts come from The Things Stack (TTS, ``lorawan-stack`` v3.32) and the LoRa Alliance TR005 "LoRaWAN
Device Identification QR Codes"; where claimd decides differently, the text says so.

EUI-64 (JoinEUI, DevEUI)
    Canonical form: 16 upper-case hex digits, big-endian (``70B3D57ED0000000``), as TTS writes them in
    JSON. :func:`parse_eui` (for API and file input) accepts upper or lower case, bare or as eight
    byte pairs with one consistent ``-`` or ``:`` separator (``70-b3-d5-7e-d0-00-00-00``). Inside a QR
    text only the bare form is accepted.

Claim authentication code (CAC, TR005's owner token)
    1 to 32 ASCII letters and digits (TTS's ``^[a-zA-Z0-9]{1,32}$``). A code made only of hex digits
    compares case-insensitively and is kept in upper case (``c05ea29c`` is ``C05EA29C``: the usual
    code is 4 random bytes printed as hex, and TTS's claim request only takes upper case); any other
    code is case-sensitive (``Pin7`` is not ``PIN7``). :func:`normalize_code` gives the form to
    store and to compare; :func:`same_code` compares two codes in constant time. A code has an
    optional validity window in epoch milliseconds, both ends inclusive (as claim windows, see
    ``domain/claiming.py``): :func:`check_code_window` checks its shape, :func:`code_usable` whether
    it can be used now. The generator lives in ``adapters/qrimage.py`` (randomness is not a rule).

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

import enum
import hmac
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from claimd.domain.errors import Conflict, InvalidArgument, NotFound, PermissionDenied
from claimd.domain.inputs import text_problem
from claimd.domain.ownership import DeviceBlocked, OwnedByAnother

# ---------------------------------------------------------------------------------------------------
# Errors


class InvalidEUI(InvalidArgument):
    code = "INVALID_EUI"


class InvalidClaimCode(InvalidArgument):
    code = "INVALID_CLAIM_CODE"


class InvalidClaimCodeWindow(InvalidArgument):
    code = "INVALID_CLAIM_CODE_WINDOW"


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
# EUI-64

EUI_HEX_LENGTH = 16
ZERO_EUI = "0" * EUI_HEX_LENGTH

_HEX_RE = re.compile(r"[0-9A-Fa-f]+")
_EUI_BARE_RE = re.compile(r"[0-9A-Fa-f]{16}")
_EUI_SEPARATED_RE = re.compile(r"[0-9A-Fa-f]{2}([-:])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){6}")


def _is_hex(value: str) -> bool:
    return _HEX_RE.fullmatch(value) is not None


def parse_eui(value: str, *, what: str = "EUI") -> str:
    """An EUI-64 in canonical form (16 upper-case hex digits) from 16 hex digits in either case, or
    eight byte pairs joined by one ``-`` or ``:`` separator. ``what`` names the field in the error."""
    if not isinstance(value, str):
        raise InvalidEUI(f"{what} must be a string of 16 hex digits")
    if _EUI_BARE_RE.fullmatch(value):
        return value.upper()
    if _EUI_SEPARATED_RE.fullmatch(value):
        return value.replace(value[2], "").upper()
    raise InvalidEUI(f"{what} must be 16 hex digits (an EUI-64), got {value!r}")


def format_eui(value: bytes | int) -> str:
    """The canonical text of an EUI-64 given as 8 big-endian bytes or as an unsigned integer."""
    if isinstance(value, int):
        if not 0 <= value < 1 << 64:
            raise InvalidEUI("an EUI-64 is an unsigned 64-bit value")
        return f"{value:016X}"
    if len(value) != 8:
        raise InvalidEUI("an EUI-64 is 8 bytes")
    return value.hex().upper()


def eui_bytes(eui: str) -> bytes:
    """The 8 big-endian bytes of an EUI-64 (any form :func:`parse_eui` accepts)."""
    return bytes.fromhex(parse_eui(eui))


def is_zero_eui(eui: str) -> bool:
    return parse_eui(eui) == ZERO_EUI


# ---------------------------------------------------------------------------------------------------
# Claim authentication codes

MAX_CODE_LENGTH = 32
_CODE_RE = re.compile(r"[A-Za-z0-9]{1,32}")


def check_code(value: str) -> str:
    """``value`` if it is a valid claim authentication code (1-32 ASCII letters and digits)."""
    if not isinstance(value, str) or _CODE_RE.fullmatch(value) is None:
        raise InvalidClaimCode(
            f"a claim authentication code is 1 to {MAX_CODE_LENGTH} letters and digits (A-Z, a-z, 0-9)"
        )
    return value


def normalize_code(value: str) -> str:
    """The form of a code to store and compare: upper case when it is all hex digits (those compare
    case-insensitively), as given otherwise (case-sensitive)."""
    check_code(value)
    return value.upper() if _is_hex(value) else value


def same_code(presented: str, expected: str) -> bool:
    """Whether two codes are the same code under the case rule, in time independent of where they
    differ. An invalid ``presented`` code is simply not the same."""
    try:
        a = normalize_code(presented)
    except InvalidClaimCode:
        return False
    return hmac.compare_digest(a.encode(), normalize_code(expected).encode())


def check_code_window(valid_from_ms: int | None, valid_to_ms: int | None) -> None:
    """A validity window's shape: either end may be open (None); when both are set, ``valid_to`` is
    not before ``valid_from`` (TTS's Identity Server rule)."""
    for name, bound in (("valid_from", valid_from_ms), ("valid_to", valid_to_ms)):
        if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int) or bound < 0):
            raise InvalidClaimCodeWindow(f"{name} must be epoch milliseconds (a non-negative integer)")
    if valid_from_ms is not None and valid_to_ms is not None and valid_to_ms < valid_from_ms:
        raise InvalidClaimCodeWindow("valid_to must not be before valid_from")


def code_window_text(valid_from_ms: int | None, valid_to_ms: int | None) -> str:
    """`` (valid from … to …)`` in UTC, for messages; empty when the window is open at both ends."""
    if valid_from_ms is None and valid_to_ms is None:
        return ""

    def moment(ms: int | None) -> str:
        return "-" if ms is None else datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    return f" (valid from {moment(valid_from_ms)} to {moment(valid_to_ms)})"


def code_usable(valid_from_ms: int | None, valid_to_ms: int | None, now_ms: int) -> bool:
    """Whether a code with this window can be used at ``now_ms``: ``valid_from <= now <= valid_to``,
    an open end (None) being no limit."""
    if valid_from_ms is not None and now_ms < valid_from_ms:
        return False
    return not (valid_to_ms is not None and now_ms > valid_to_ms)


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
    if _EUI_BARE_RE.fullmatch(value) is None:
        raise QRInvalidEUI(f"{what} in the QR code must be 16 hex digits, got {value!r}")
    return value.upper()


def _product_id(value: str) -> tuple[int, int]:
    if len(value) != 8 or not _is_hex(value):
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
        if len(value) > 4 or not _is_hex(value):
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
    if not _is_hex(text):
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


def _check_out_ext(name: str, value: str) -> str:
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
        if _check_out_ext(name, value):
            text += f":{tag}{value}"
    if checksum:
        text += f":C{crc16_modbus(text.encode('ascii')):04X}"
    return text


# ---------------------------------------------------------------------------------------------------
# LoRaWAN identities and claims by claim authentication code
#
# claimd plays the Join Server's part for its tenants' devices (TTS hands the code to an external
# Join Server, which decides): it keeps each code as a keyed digest, enforces the validity window,
# and spends the code on a successful claim ("claim protection": TTS always claims with lock=true).


class DeviceAccessDenied(PermissionDenied):
    """TTS's ``device_access_denied``. The same answer for an unknown DevEUI, a JoinEUI that does not
    match and a wrong code, so that a guesser learns nothing about which devices exist."""

    code = "DEVICE_ACCESS_DENIED"

    def __init__(self, dev_eui: str) -> None:
        super().__init__(
            f"access to device with DevEUI `{dev_eui}` denied: "
            "the JoinEUI, the DevEUI or the claim authentication code is wrong"
        )


class ClaimCodeSpent(PermissionDenied):
    code = "CLAIM_CODE_SPENT"

    def __init__(self) -> None:
        super().__init__(
            "this claim authentication code was used for a claim and no longer claims the device; "
            "ask the device's maker for a new one"
        )


class ClaimCodeNotValid(PermissionDenied):
    code = "CLAIM_CODE_NOT_VALID"


class InvalidTtsId(InvalidArgument):
    code = "INVALID_ID"


class EndDeviceIdTaken(Conflict):
    """TTS's ``end_device_euis_taken`` / ID already in use, within the application."""

    code = "END_DEVICE_ID_TAKEN"


class DevEuiTaken(Conflict):
    code = "DEV_EUI_TAKEN"


TTS_ID_MAX_LENGTH = 36
_TTS_ID_RE = re.compile(r"[a-z0-9](?:-?[a-z0-9]){2,}")


def check_tts_id(value: object, what: str) -> str:
    """An application or device id as TTS writes them: ``^[a-z0-9](?:[-]?[a-z0-9]){2,}$``, at most 36."""
    if not isinstance(value, str) or len(value) > TTS_ID_MAX_LENGTH or _TTS_ID_RE.fullmatch(value) is None:
        raise InvalidTtsId(
            f"{what} must be 3 to {TTS_ID_MAX_LENGTH} lower-case letters, digits and single "
            "dashes, starting and ending with a letter or digit"
        )
    return value


def default_device_id(dev_eui: str) -> str:
    """TTS Console's default device id for a claimed device: ``eui-<deveui lower-case>``."""
    return f"eui-{dev_eui.lower()}"


@dataclass(frozen=True, slots=True)
class LorawanIdentity:
    """A device's LoRaWAN identity as its tenant registered it, and where its owner keeps it.

    ``code_spent_at`` is set when a claim used the code; ``application_id``/``app_device_id`` are the
    TTS application (a group of the owning customer) and the device id in it, set while claimed."""

    device_id: uuid.UUID
    tenant_id: uuid.UUID
    dev_eui: str
    join_eui: str
    created_time: int
    vendor_id: int = 0
    profile_id: int = 0
    serial: str | None = None
    valid_from: int | None = None
    valid_to: int | None = None
    code_spent_at: int | None = None
    application_id: str | None = None
    app_device_id: str | None = None


class CodeClaimOutcome(enum.Enum):
    CLAIM = "claim"
    ALREADY_YOURS = "already_yours"


def decide_code_claim(
    *,
    proven: bool,
    dev_eui: str,
    owner: uuid.UUID | None,
    caller: uuid.UUID,
    spent: bool,
    usable: bool,
    blocked: bool,
    window: str = "",
) -> CodeClaimOutcome:
    """What a claim by (JoinEUI, DevEUI, code) does. ``proven``: the device exists in the caller's
    tenant with this JoinEUI and this code. Nothing is said about the device unless it is proven;
    then, as for tokens, ownership comes first (the owner claiming again is not an error)."""
    if not proven:
        raise DeviceAccessDenied(dev_eui)
    if owner is not None:
        if owner == caller:
            return CodeClaimOutcome.ALREADY_YOURS
        raise OwnedByAnother("the device is claimed by someone else; its owner or its maker must unclaim it first")
    if spent:
        raise ClaimCodeSpent()
    if not usable:
        raise ClaimCodeNotValid(f"the claim authentication code is not valid now{window}")
    if blocked:
        raise DeviceBlocked("The device is blocked by its tenant")
    return CodeClaimOutcome.CLAIM


@dataclass(frozen=True, slots=True)
class Lockout:
    """Failed claim attempts on one key (a DevEUI, a user, a source address): the first ``free``
    failures cost nothing; each one after locks the key for ``base_ms``, doubling per failure up to
    ``max_ms``. A key with no failure for ``forget_ms`` starts again from zero."""

    free: int
    base_ms: int = 1_000
    max_ms: int = 3_600_000
    forget_ms: int = 86_400_000

    def lock_ms(self, failures: int) -> int:
        over = failures - self.free
        if over <= 0:
            return 0
        return min(self.max_ms, self.base_ms << min(over - 1, 40))


@dataclass(frozen=True, slots=True)
class LorawanDraft:
    """A LoRaWAN device as a tenant registers it (API body, CSV row or JSON line)."""

    dev_eui: str
    join_eui: str
    code: str | None = None  # None: generate one
    valid_from: int | None = None
    valid_to: int | None = None
    vendor_id: int = 0
    profile_id: int = 0
    serial: str | None = None
    name: str | None = None  # claimd's device name; default eui-<deveui>


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_timestamp(value: object, what: str) -> int | None:
    """Epoch milliseconds from an integer or an RFC 3339 text (TTS's JSON timestamps)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidClaimCodeWindow(f"{what} must be an RFC 3339 time or epoch milliseconds")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit():
            return int(text)
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            pass
        else:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return (moment - _EPOCH) // timedelta(milliseconds=1)  # exact: no float on the way
    raise InvalidClaimCodeWindow(f"{what} must be an RFC 3339 time (2026-01-31T12:00:00Z) or epoch milliseconds")


def _profile_part(value: object, what: str, *, hex_text: bool) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, str):
        text = value.strip()
        try:
            number = int(text, 16) if hex_text else int(text, 0)
        except ValueError:
            raise InvalidArgument(f"{what} must be {'hex' if hex_text else 'a number'} (0 to FFFF)") from None
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raise InvalidArgument(f"{what} must be a number from 0 to 65535")
    if not 0 <= number <= 0xFFFF:
        raise InvalidArgument(f"{what} must be from 0 to 65535 (two bytes, as in a TR005 QR code)")
    return number


def _text(value: object, what: str, max_length: int = 64) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > max_length or text_problem(value) is not None:
        raise InvalidArgument(f"{what} must be text of at most {max_length} characters (no NUL, no lone surrogate)")
    return value


def _draft(
    *,
    dev_eui: object,
    join_eui: object,
    code: object,
    valid_from: object,
    valid_to: object,
    vendor_id: object,
    profile_id: object,
    serial: object,
    name: object,
    hex_ids: bool,
) -> LorawanDraft:
    if not isinstance(dev_eui, str) or not dev_eui:
        raise InvalidEUI("dev_eui is required (16 hex digits)")
    if join_eui is None or join_eui == "":
        join_eui = ZERO_EUI  # LoRaWAN 1.0 devices often ship a zero JoinEUI (AppEUI)
    if not isinstance(join_eui, str):
        raise InvalidEUI("join_eui must be 16 hex digits")
    if code is not None and code != "":
        if not isinstance(code, str):
            raise InvalidClaimCode("the claim authentication code must be a string")
        code = normalize_code(code)
    else:
        code = None
    start, end = parse_timestamp(valid_from, "valid_from"), parse_timestamp(valid_to, "valid_to")
    check_code_window(start, end)
    dev = parse_eui(dev_eui, what="DevEUI")
    if is_zero_eui(dev):
        raise InvalidEUI("a DevEUI must not be zero")
    return LorawanDraft(
        dev_eui=dev,
        join_eui=parse_eui(join_eui, what="JoinEUI"),
        code=code,
        valid_from=start,
        valid_to=end,
        vendor_id=_profile_part(vendor_id, "vendor_id", hex_text=hex_ids),
        profile_id=_profile_part(profile_id, "vendor_profile_id", hex_text=hex_ids),
        serial=_check_out_ext("serial_number", _text(serial, "serial_number") or "") or None,
        name=_text(name, "name", 255),
    )


def draft_from_json(body: object) -> LorawanDraft:
    """A device in TTS's ``EndDevice`` JSON (the ``the-things-stack`` import format): ``ids{device_id,
    dev_eui, join_eui}``, ``claim_authentication_code{value, valid_from, valid_to}``,
    ``lora_alliance_profile_ids{vendor_id, vendor_profile_id}``, ``serial_number``; flat
    ``dev_eui``/``join_eui``/``claim_authentication_code`` (a string) are accepted too."""
    if not isinstance(body, dict):
        raise InvalidArgument("a LoRaWAN device is a JSON object")
    ids = body.get("ids") or {}
    code = body.get("claim_authentication_code")
    profile = body.get("lora_alliance_profile_ids") or {}
    if not isinstance(ids, dict) or not isinstance(profile, dict):
        raise InvalidArgument("ids and lora_alliance_profile_ids are JSON objects")
    window: dict[str, Any] = {}
    if isinstance(code, dict):
        window, code = code, code.get("value")
    return _draft(
        dev_eui=ids.get("dev_eui", body.get("dev_eui")),
        join_eui=ids.get("join_eui", body.get("join_eui")),
        code=code,
        valid_from=window.get("valid_from", body.get("valid_from")),
        valid_to=window.get("valid_to", body.get("valid_to")),
        vendor_id=profile.get("vendor_id", body.get("vendor_id")),
        profile_id=profile.get("vendor_profile_id", body.get("vendor_profile_id")),
        serial=body.get("serial_number"),
        name=ids.get("device_id", body.get("name")),
        hex_ids=False,
    )


CSV_COLUMNS = {
    "id": "name",
    "device_id": "name",
    "name": "name",
    "dev_eui": "dev_eui",
    "deveui": "dev_eui",
    "join_eui": "join_eui",
    "joineui": "join_eui",
    "app_eui": "join_eui",
    "appeui": "join_eui",
    "claim_authentication_code": "code",
    "claim_code": "code",
    "authentication_code": "code",
    "owner_token": "code",
    "valid_from": "valid_from",
    "valid_to": "valid_to",
    "vendor_id": "vendor_id",
    "vendor_profile_id": "profile_id",
    "profile_id": "profile_id",
    "serial_number": "serial",
    "serial": "serial",
}


def csv_header(names: list[str]) -> list[str | None]:
    """The meaning of each column of a device CSV's header row (TTS's ``the-things-stack-csv`` names,
    plus ``claim_authentication_code``, ``valid_from``, ``valid_to`` and ``serial_number``); unknown
    columns are ignored (None), as TTS does, but a header must name ``dev_eui``."""
    meanings = [CSV_COLUMNS.get(n.strip().lower().lstrip("\ufeff")) for n in names]
    if "dev_eui" not in meanings:
        raise InvalidArgument(
            "the CSV header must name a dev_eui column (TTS column names: id, dev_eui, join_eui, "
            "claim_authentication_code, valid_from, valid_to, vendor_id, vendor_profile_id, "
            "serial_number)"
        )
    return meanings


def draft_from_csv(meanings: list[str | None], values: list[str]) -> LorawanDraft:
    """A device CSV row under its header (``vendor_id`` and ``vendor_profile_id`` in hex, as TTS).
    The row has exactly as many cells as the header: a short row is refused rather than read with
    its last columns empty (a missing code would silently become a generated one)."""
    if len(values) != len(meanings):
        raise InvalidArgument(
            f"the row has {len(values)} cells and the header {len(meanings)}; "
            "each row has one cell per header column (empty cells are fine)"
        )
    cells = {m: v.strip() for m, v in zip(meanings, values, strict=False) if m}
    return _draft(
        dev_eui=cells.get("dev_eui"),
        join_eui=cells.get("join_eui"),
        code=cells.get("code"),
        valid_from=cells.get("valid_from"),
        valid_to=cells.get("valid_to"),
        vendor_id=cells.get("vendor_id"),
        profile_id=cells.get("profile_id"),
        serial=cells.get("serial"),
        name=cells.get("name"),
        hex_ids=True,
    )
