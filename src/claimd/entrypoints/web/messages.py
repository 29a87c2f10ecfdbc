"""What a buyer reads when a claim is refused: each refusal in words, one sentence each."""

from __future__ import annotations

from claimd.domain.claiming import ClaimResponse
from claimd.domain.errors import ClaimdError, InvalidArgument, NotFound, PermissionDenied, TooManyRequests
from claimd.domain.lorawan import ClaimCodeNotValid, ClaimCodeSpent, DeviceAccessDenied
from claimd.domain.ownership import DeviceBlocked, OwnedByAnother

ALREADY_CLAIMED = "This device is already claimed. Its owner must release it before anyone else can claim it."
WRONG_KEY = "The secret key is wrong, or the device's claim window has closed. Check the key on the label."
BLOCKED = "This device is blocked by its maker and cannot be claimed. Contact the maker."
WRONG_CODE = "No device matches this code, or the code is wrong. Check the code on the label."


def not_found(device_name: str) -> str:
    return f"No device named “{device_name}” was found. Check the name on the label."


def too_many(seconds: int) -> str:
    return f"Too many attempts. Try again in {seconds} seconds."


def refused_answer(response: ClaimResponse) -> str:
    """ThingsBoard's FAILURE and CLAIMED answers."""
    return ALREADY_CLAIMED if response is ClaimResponse.CLAIMED else WRONG_KEY


def refusal(exc: ClaimdError, device_name: str = "") -> str:
    """A claim refusal raised by the claim service."""
    if isinstance(exc, TooManyRequests):
        return too_many(exc.retry_after_s)
    if isinstance(exc, DeviceBlocked):
        return BLOCKED
    if isinstance(exc, OwnedByAnother):
        return ALREADY_CLAIMED
    if isinstance(exc, DeviceAccessDenied):
        return WRONG_CODE
    if isinstance(exc, ClaimCodeSpent):
        return "This code was already used. Ask the maker for a new one."
    if isinstance(exc, ClaimCodeNotValid):
        return "This code is not valid at this time. Ask the maker for a new one."
    if isinstance(exc, NotFound):
        return not_found(device_name) if device_name else "No such device was found."
    if isinstance(exc, PermissionDenied):
        return "This account may not claim this device."
    if isinstance(exc, InvalidArgument):
        return f"The code could not be read: {exc.message}"
    return exc.message
