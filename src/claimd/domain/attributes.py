"""Device attributes as ThingsBoard's telemetry API stores them, and the ``claimingData`` value."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from claimd.domain.claiming import EXPIRATION_TIME_FIELD, SECRET_KEY_FIELD
from claimd.domain.errors import InvalidArgument
from claimd.domain.inputs import check_text

REDACTED = "********"
_NUMBER = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?")
MAX_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class StoredAttribute:
    """An attribute as the store keeps it: a secret's value is kept only as its digest."""

    key: str
    value: Any
    last_update_ts: int
    secret_digest: bytes | None = None


@dataclass(frozen=True, slots=True)
class NewAttribute:
    """An attribute to save (``secret_digest`` for a secret value that is stored digested)."""

    key: str
    value: Any
    secret_digest: bytes | None = None


def cast_attribute_value(value: Any) -> Any:
    """ThingsBoard casts numeric strings to numbers; ``"true"`` stays a string."""
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        text = value.strip()
        number = float(text)
        if not math.isfinite(number):  # "1e999" would become inf, which JSON cannot hold
            return value
        return int(text) if number.is_integer() and "." not in text and "e" not in text.lower() else number
    return value


def parse_attributes_body(raw: bytes | str) -> dict[str, Any]:
    """The body of a save-attributes call: a non-empty JSON object of key → value."""
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise InvalidArgument("Invalid JSON") from exc
    if not isinstance(obj, dict) or not obj:
        raise InvalidArgument("No attributes data found in request body!")
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if not key.strip():
            raise InvalidArgument("Key cannot be blank")
        check_text(key, "Key", max_length=MAX_KEY_LENGTH)
        if value is None:
            raise InvalidArgument(f"Value of attribute '{key}' cannot be null")
        out[key] = cast_attribute_value(value)
    return out


@dataclass(frozen=True, slots=True)
class ClaimingData:
    """A parsed ``claimingData`` attribute: the server-side key and its expiry (epoch ms)."""

    secret_key: str
    expiration_time: int

    def redacted(self) -> dict[str, Any]:
        """What reading the attribute back shows: the expiry, never the key."""
        return {SECRET_KEY_FIELD: REDACTED if self.secret_key else "", EXPIRATION_TIME_FIELD: self.expiration_time}


def parse_claiming_data(value: Any) -> ClaimingData:
    """Read ``{"secretKey": "...", "expirationTime": <ms>}``, as an object or a string holding one.

    As in ThingsBoard: a missing key is the empty key, a missing expiry is 0 (already expired), the
    expiry may be a numeric string, and unknown properties are refused. Refused here, at save time,
    with a 400 — ThingsBoard accepts such a value and answers every later claim with a 500.
    """
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError) as exc:
            raise InvalidArgument('claimingData must be a JSON object {"secretKey", "expirationTime"}') from exc
    if not isinstance(value, dict):
        raise InvalidArgument('claimingData must be a JSON object {"secretKey", "expirationTime"}')
    unknown = set(value) - {SECRET_KEY_FIELD, EXPIRATION_TIME_FIELD}
    if unknown:
        raise InvalidArgument(f"claimingData has unknown properties: {', '.join(sorted(unknown))}")
    secret = value.get(SECRET_KEY_FIELD)
    if secret is None:
        secret = ""
    elif not isinstance(secret, str):
        raise InvalidArgument("claimingData.secretKey must be a string")
    expiration = value.get(EXPIRATION_TIME_FIELD, 0)
    if isinstance(expiration, str):
        try:
            expiration = int(expiration.strip())
        except ValueError as exc:
            raise InvalidArgument("claimingData.expirationTime must be epoch milliseconds") from exc
    if expiration is None:
        expiration = 0
    if isinstance(expiration, bool) or not isinstance(expiration, int):
        raise InvalidArgument("claimingData.expirationTime must be epoch milliseconds")
    return ClaimingData(secret, expiration)
