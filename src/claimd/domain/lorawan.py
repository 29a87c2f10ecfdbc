"""LoRaWAN identities and claim authentication codes, and the claim by code: the pure rules.

Facts come from The Things Stack (TTS, ``lorawan-stack`` v3.32) and the LoRa Alliance TR005 "LoRaWAN
Device Identification QR Codes"; where claimd decides differently, the text says so. Device QR code
texts are in ``domain/lorawan_qr.py``, TTS's device import files in ``domain/lorawan_import.py``.

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
    store and to compare (as a keyed digest, in constant time). A code has an
    optional validity window in epoch milliseconds, both ends inclusive (as claim windows, see
    ``domain/claiming.py``): :func:`check_code_window` checks its shape, :func:`code_usable` whether
    it can be used now. The generator lives in ``adapters/qrimage.py`` (randomness is not a rule).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from claimd.domain.errors import Conflict, InvalidArgument, PermissionDenied

# ---------------------------------------------------------------------------------------------------
# Errors


class InvalidEUI(InvalidArgument):
    code = "INVALID_EUI"


class InvalidClaimCode(InvalidArgument):
    code = "INVALID_CLAIM_CODE"


class InvalidClaimCodeWindow(InvalidArgument):
    code = "INVALID_CLAIM_CODE_WINDOW"


# ---------------------------------------------------------------------------------------------------
# EUI-64

EUI_HEX_LENGTH = 16
ZERO_EUI = "0" * EUI_HEX_LENGTH

_HEX_RE = re.compile(r"[0-9A-Fa-f]+")
_EUI_BARE_RE = re.compile(r"[0-9A-Fa-f]{16}")
_EUI_SEPARATED_RE = re.compile(r"[0-9A-Fa-f]{2}([-:])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){6}")


def is_hex(value: str) -> bool:
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
    return value.upper() if is_hex(value) else value


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


def check_code_usable(*, spent: bool, valid_from: int | None, valid_to: int | None, now_ms: int) -> None:
    """The code's own rule, for a proven code of a free device (services/claiming/lorawan_code.py
    checks the proof, then ownership and the block, first): it claims once, inside its window."""
    if spent:
        raise ClaimCodeSpent()
    if not code_usable(valid_from, valid_to, now_ms):
        window = code_window_text(valid_from, valid_to)
        raise ClaimCodeNotValid(f"the claim authentication code is not valid now{window}")


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
