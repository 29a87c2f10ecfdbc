"""The device's JWT for provisioning (nRF Provisioning library: ES256, signed with the device's identity
key, the device UUID in ``iss``): which device it names and whether its times are acceptable."""

from __future__ import annotations

import re
import uuid
from typing import Any

MAX_JWT_LIFETIME_S = 360
CLOCK_SKEW_S = 60
_UUID_TAIL = re.compile(r"([0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12})$")


def jwt_device_id(issuer: Any) -> uuid.UUID | None:
    """The device UUID of an ``iss`` claim: the UUID itself, or with a prefix (``nRF9160.<uuid>``)."""
    if not isinstance(issuer, str):
        return None
    match = _UUID_TAIL.search(issuer)
    return uuid.UUID(match.group(1)) if match else None


def jwt_times_ok(claims: dict[str, Any], now_s: int) -> bool:
    """``exp`` is required, not passed, and at most 360 s ahead (``iat`` is optional, not in the future)."""
    exp, iat = claims.get("exp"), claims.get("iat")
    if type(exp) is not int or exp + CLOCK_SKEW_S < now_s or exp > now_s + MAX_JWT_LIFETIME_S + CLOCK_SKEW_S:
        return False
    return iat is None or (type(iat) is int and iat <= now_s + CLOCK_SKEW_S and exp - iat <= MAX_JWT_LIFETIME_S)
