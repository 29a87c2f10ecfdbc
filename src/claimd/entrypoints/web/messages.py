"""What a buyer reads when a claim is refused: each refusal in words, one sentence each. The answers
a tenant may reword (domain/claim_page.py) come from its claim page's settings; the others are fixed."""

from __future__ import annotations

from claimd.domain.claim_page import ClaimPageSettings
from claimd.domain.claiming import ClaimResponse
from claimd.domain.errors import ClaimdError, InvalidArgument, NotFound, PermissionDenied, TooManyRequests
from claimd.domain.lorawan import ClaimCodeNotValid, ClaimCodeSpent, DeviceAccessDenied
from claimd.domain.ownership import DeviceBlocked, OwnedByAnother

WRONG_CODE = "No device matches this code, or the code is wrong. Check the code on the label."


def refused_answer(response: ClaimResponse, page: ClaimPageSettings, device_name: str) -> str:
    """ThingsBoard's FAILURE and CLAIMED answers."""
    message = page.already_claimed if response is ClaimResponse.CLAIMED else page.wrong_key
    return page.say(message, device=device_name)


def refusal(exc: ClaimdError, page: ClaimPageSettings, device_name: str = "") -> str:
    """A claim refusal raised by the claim service."""
    if isinstance(exc, TooManyRequests):
        return page.say(page.too_many, seconds=exc.retry_after_s)
    if isinstance(exc, DeviceBlocked):
        return page.say(page.blocked, device=device_name)
    if isinstance(exc, OwnedByAnother):
        return page.say(page.already_claimed, device=device_name)
    if isinstance(exc, DeviceAccessDenied):
        return WRONG_CODE
    if isinstance(exc, ClaimCodeSpent):
        return "This code was already used. Ask the maker for a new one."
    if isinstance(exc, ClaimCodeNotValid):
        return "This code is not valid at this time. Ask the maker for a new one."
    if isinstance(exc, NotFound):
        return page.say(page.not_found, device=device_name) if device_name else "No such device was found."
    if isinstance(exc, PermissionDenied):
        return "This account may not claim this device."
    if isinstance(exc, InvalidArgument):
        return f"The code could not be read: {exc.message}"
    return exc.message
