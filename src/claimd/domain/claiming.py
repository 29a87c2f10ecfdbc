"""The claim decision, the claim-window rules and the device claim message, as plain functions.

These follow ThingsBoard's claiming (see docs/claiming.md, "The rules"): a claim looks for claim
data (a device-side window first, then the server-side ``claimingData`` attribute), checks expiry and
key before ownership, and answers ``SUCCESS``, ``FAILURE`` or ``CLAIMED``. Every door and every
store calls these functions; nothing else decides a claim.
"""

from __future__ import annotations

import enum
import hmac
import json
from dataclasses import dataclass
from typing import Any

from claimd.domain.errors import InvalidPayload
from claimd.domain.inputs import json_problem, text_problem

SECRET_KEY_FIELD = "secretKey"
DURATION_MS_FIELD = "durationMs"
EXPIRATION_TIME_FIELD = "expirationTime"
CLAIMING_ALLOWED = "claimingAllowed"
CLAIMING_DATA = "claimingData"
#: Latest expiry a window can have (epoch ms): well inside a signed 64-bit integer, even with Redis
#: adding the current time to a TTL.
MAX_EXPIRATION_MS = 2**62


class ClaimResponse(enum.StrEnum):
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    CLAIMED = "CLAIMED"


@dataclass(frozen=True, slots=True)
class ClaimData:
    """Proof material held for one device: the keyed digest of its secret and when it expires.

    ``expiration_time`` is epoch milliseconds; the data is valid while ``now <= expiration_time``.
    """

    secret_digest: bytes
    expiration_time: int

    def is_expired(self, now_ms: int) -> bool:
        return now_ms > self.expiration_time


class Proof(enum.Enum):
    NONE = "none"  # no claim data for the device
    INVALID = "invalid"  # claim data found, but expired or the key does not match
    VALID = "valid"


def check_proof(data: ClaimData | None, presented_digest: bytes, now_ms: int) -> Proof:
    """Compare the presented key's digest with the claim data, in constant time."""
    if data is None:
        return Proof.NONE
    matches = hmac.compare_digest(data.secret_digest, presented_digest)
    if data.is_expired(now_ms) or not matches:
        return Proof.INVALID
    return Proof.VALID


@dataclass(frozen=True, slots=True)
class ClaimDecision:
    response: ClaimResponse
    #: claim succeeded or found the device owned: drop ``claimingAllowed`` and ``claimingData``.
    clear_claim_attributes: bool

    @property
    def assigns(self) -> bool:
        return self.response is ClaimResponse.SUCCESS


def decide_claim(proof: Proof, device_assigned: bool) -> ClaimDecision:
    """ThingsBoard's decision table: expiry and key come before ownership."""
    if proof is Proof.INVALID:
        return ClaimDecision(ClaimResponse.FAILURE, clear_claim_attributes=False)
    if proof is Proof.NONE:
        return ClaimDecision(
            ClaimResponse.CLAIMED if device_assigned else ClaimResponse.FAILURE,
            clear_claim_attributes=False,
        )
    if device_assigned:
        return ClaimDecision(ClaimResponse.CLAIMED, clear_claim_attributes=True)
    return ClaimDecision(ClaimResponse.SUCCESS, clear_claim_attributes=True)


class WindowVerdict(enum.StrEnum):
    """Whether a device may open a claim window now."""

    ALLOWED = "allowed"
    ALREADY_CLAIMED = "already-claimed"
    NOT_ALLOWED = "claiming-not-allowed"


def may_open_window(*, allow_by_default: bool, device_assigned: bool, claiming_allowed: Any) -> WindowVerdict:
    """A device may register a window only while unassigned; with ``allowClaimingByDefault`` off,
    it also needs the server attribute ``claimingAllowed`` set to the boolean ``true``."""
    if device_assigned:
        return WindowVerdict.ALREADY_CLAIMED
    if not allow_by_default and claiming_allowed is not True:
        return WindowVerdict.NOT_ALLOWED
    return WindowVerdict.ALLOWED


def window_expiry(now_ms: int, duration_ms: int, default_duration_ms: int) -> int:
    """A window lasts ``durationMs``, or the configured default when that is zero or negative.

    The expiry is capped at :data:`MAX_EXPIRATION_MS` so that any ``durationMs`` a device sends fits a
    64-bit column and a Redis expiry (a larger one is, in effect, "never expires" all the same).
    """
    return min(now_ms + (duration_ms if duration_ms > 0 else default_duration_ms), MAX_EXPIRATION_MS)


def reclaim_restores_claiming_allowed(*, allow_by_default: bool, was_assigned: bool) -> bool:
    """After a reclaim, a device needs ``claimingAllowed = true`` again when claiming is not on by default."""
    return was_assigned and not allow_by_default


@dataclass(frozen=True, slots=True)
class DeviceClaimMessage:
    """What a device sends to open its claim window."""

    secret_key: str
    duration_ms: int


def _as_secret(value: Any, where: str) -> str:
    # ThingsBoard reads the key with Gson's getAsString: numbers and booleans become their text.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return json.dumps(value)
    raise InvalidPayload(f"{where}{SECRET_KEY_FIELD} must be a string, got {_json_type(value)}")


def _as_duration(value: Any, where: str) -> int:
    # A number, or a numeric string such as "600000" (ThingsBoard's gateway examples send strings).
    if isinstance(value, bool) or value is None:
        raise InvalidPayload(
            f"{where}{DURATION_MS_FIELD} must be a whole number of milliseconds, got {_json_type(value)}"
        )
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise InvalidPayload(f"{where}{DURATION_MS_FIELD} must be a whole number of milliseconds, got {value!r}")


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "an array", type(None): "null", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def claim_message_from_object(obj: Any, where: str = "") -> DeviceClaimMessage:
    """Read ``{"secretKey": …, "durationMs": …}``; absent keys default to ``""`` and ``0``."""
    if not isinstance(obj, dict):
        raise InvalidPayload(f"{where}claim message must be a JSON object, got {_json_type(obj)}")
    secret = _as_secret(obj[SECRET_KEY_FIELD], where) if SECRET_KEY_FIELD in obj else ""
    duration = _as_duration(obj[DURATION_MS_FIELD], where) if DURATION_MS_FIELD in obj else 0
    return DeviceClaimMessage(secret, duration)


def _load_json(payload: bytes | str | None) -> tuple[bool, Any]:
    """(blank, value): a missing or whitespace-only payload is blank; anything else must be JSON.
    Raises :class:`InvalidPayload`."""
    if payload is None:
        return True, None
    if isinstance(payload, bytes):
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidPayload("payload is not valid UTF-8") from exc
    if not payload.strip():
        return True, None
    # The input rule, before the parser (which recurses per nesting level): a NUL or a lone surrogate,
    # raw or escaped, would reach a hash or a store as text that cannot be encoded or kept.
    problem = text_problem(payload) or json_problem(payload.encode("utf-8"))
    if problem is not None:
        raise InvalidPayload(f"payload {problem}")
    try:
        return False, json.loads(payload)
    except ValueError as exc:
        raise InvalidPayload(f"invalid JSON: {exc}") from exc
    except RecursionError as exc:  # nesting deeper than the interpreter's recursion limit
        raise InvalidPayload("invalid JSON: nested too deeply") from exc


def parse_json_payload(payload: bytes | str | None) -> Any:
    """Decode a JSON payload; a blank one is ``None``. Raises :class:`InvalidPayload`."""
    return _load_json(payload)[1]


def parse_device_claim(payload: bytes | str | None) -> DeviceClaimMessage:
    """A device's claim message; an empty payload means no key and the default duration.

    The JSON literal ``null`` is not an empty payload: like any other non-object it is refused.
    """
    blank, obj = _load_json(payload)
    if blank:
        return DeviceClaimMessage("", 0)
    return claim_message_from_object(obj)


def parse_claim_request(body: bytes | str | None) -> str:
    """The ``secretKey`` of a customer's claim request. No body, ``{}`` and ``{"secretKey": null}``
    all mean ``""`` (ThingsBoard answers a missing body with a 500); scalars are read as text."""
    obj = parse_json_payload(body)
    if obj is None:
        return ""
    if not isinstance(obj, dict):
        raise InvalidPayload('expected a JSON object such as {"secretKey": "…"}')
    value = obj.get(SECRET_KEY_FIELD)
    return "" if value is None else _as_secret(value, "")


class EmptyGatewayClaim(InvalidPayload):
    """A gateway claim message that is valid JSON but holds no device entry (ThingsBoard closes the
    connection on it)."""


def parse_gateway_claim(payload: bytes | str | None) -> dict[str, DeviceClaimMessage]:
    """A gateway's ``{"<device name>": {"secretKey": …, "durationMs": …}, …}``.

    As in ThingsBoard: entries whose value is not an object are skipped; a message left with no entry,
    or that is not an object, is :class:`EmptyGatewayClaim`; a bad entry field is :class:`InvalidPayload`.
    """
    obj = parse_json_payload(payload)
    if not isinstance(obj, dict):
        raise EmptyGatewayClaim("gateway claim message must be a JSON object keyed by device name")
    entries = {
        name: claim_message_from_object(value, where=f"{name}: ")
        for name, value in obj.items()
        if isinstance(value, dict)
    }
    if not entries:
        raise EmptyGatewayClaim("Devices claim message is empty: no entry is an object")
    blank = [name for name in entries if not name.strip()]
    if blank:
        raise InvalidPayload("gateway claim message has an entry with a blank device name")
    return entries
