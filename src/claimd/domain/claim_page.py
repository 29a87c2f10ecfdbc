"""What a tenant may change on its customers' claim page, as ThingsBoard's device claiming widget
lets its settings do: the two field labels, whether the secret key field is shown (hidden: devices
are claimed by name alone, with an empty key), and the words of each answer.

Messages may hold ``{device}`` (the device's name) and ``{seconds}`` (the wait of a lockout); they are
filled by plain replacement, never by ``str.format`` (a tenant's text is not a format string).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any
from urllib.parse import quote_plus

from claimd.domain.errors import InvalidArgument
from claimd.domain.inputs import text_problem

MAX_LABEL = 60
MAX_MESSAGE = 300
PLACEHOLDERS = ("{device}", "{seconds}")


def claim_link(base_url: str, name: str, key: str) -> str:
    """The claim link a label's QR code carries: the claim page with the device's name and key, which
    a phone's camera opens with both fields filled in (docs/web.md, "The claim link")."""
    # what urlencode() writes, at a tenth of its cost (an import makes one link a row)
    return f"{base_url.rstrip('/')}/claim?deviceName={quote_plus(name, safe='')}&secretKey={quote_plus(key, safe='')}"


@dataclass(frozen=True, slots=True)
class ClaimPageSettings:
    device_name_label: str = "Device name"
    secret_key_label: str = "Secret key"
    show_secret_key: bool = True
    success: str = "You now own {device}."
    not_found: str = "No device named “{device}” was found. Check the name on the label."
    wrong_key: str = "The secret key is wrong, or the device's claim window has closed. Check the key on the label."
    already_claimed: str = "This device is already claimed. Its owner must release it before anyone else can claim it."
    blocked: str = "This device is blocked by its maker and cannot be claimed. Contact the maker."
    too_many: str = "Too many attempts. Try again in {seconds} seconds."

    def say(self, message: str, *, device: str = "", seconds: int = 0) -> str:
        """``message`` (one of this object's texts) with its placeholders filled."""
        return message.replace("{device}", device).replace("{seconds}", str(seconds))

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


DEFAULT = ClaimPageSettings()
TEXT_FIELDS = tuple(f.name for f in fields(ClaimPageSettings) if f.name != "show_secret_key")
LABELS = ("device_name_label", "secret_key_label")


def _checked(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(f"{name} must be text")
    value = value.strip()
    limit = MAX_LABEL if name in LABELS else MAX_MESSAGE
    if not value:
        raise InvalidArgument(f"{name} must not be empty")
    problem = text_problem(value, limit)
    if problem is not None:
        raise InvalidArgument(f"{name} {problem}")
    if name in LABELS and "{" in value:
        raise InvalidArgument(f"{name} holds no placeholder")
    return value


def settings_from(values: dict[str, Any]) -> ClaimPageSettings:
    """Settings from what a tenant admin sent: every text checked (InvalidArgument names the field);
    a field left out keeps its default."""
    changes: dict[str, Any] = {name: _checked(name, values[name]) for name in TEXT_FIELDS if name in values}
    if "show_secret_key" in values:
        if not isinstance(values["show_secret_key"], bool):
            raise InvalidArgument("show_secret_key must be true or false")
        changes["show_secret_key"] = values["show_secret_key"]
    return replace(DEFAULT, **changes)


def stored_settings(value: object) -> ClaimPageSettings:
    """The settings a tenant stored (``Tenant.additional_info["claimPage"]``); the defaults for what
    is missing or no longer valid, so that a page always renders."""
    if not isinstance(value, dict):
        return DEFAULT
    try:
        return settings_from(value)
    except InvalidArgument:
        return DEFAULT
