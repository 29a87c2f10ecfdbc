"""The Things Stack's device import files, read into :class:`~claimd.domain.lorawan.LorawanDraft`:
TTS's ``EndDevice`` JSON (the ``the-things-stack`` format, also the API body) and its device CSV
(``the-things-stack-csv``), with RFC 3339 or epoch-millisecond timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from claimd.domain.errors import InvalidArgument
from claimd.domain.inputs import text_problem
from claimd.domain.lorawan import (
    ZERO_EUI,
    InvalidClaimCode,
    InvalidClaimCodeWindow,
    InvalidEUI,
    LorawanDraft,
    check_code_window,
    is_zero_eui,
    normalize_code,
    parse_eui,
)
from claimd.domain.lorawan_qr import check_tr005_extension

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
        serial=check_tr005_extension("serial_number", _text(serial, "serial_number") or "") or None,
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
