"""The ownership view of a device (nRF Cloud's ClaimedDevice), tags, and the ownership decision of a claim."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field

from claimd.domain.errors import Conflict, InvalidArgument, NotFound, PermissionDenied
from claimd.domain.inputs import text_problem
from claimd.domain.model import Device, Principal
from claimd.domain.roles import DEVICE_READ, DEVICE_READ_RESTRICTED

MAX_TAG_LENGTH = 100
MAX_TAGS_PER_DEVICE = 100


class ClaimedStatus(enum.StrEnum):
    READY = "READY"
    BLOCKED = "BLOCKED"


class BlockedBy(enum.StrEnum):
    OWNER = "OWNER"
    TENANT = "TENANT"


IDENTIFIED = "IDENTIFIED"  # ownershipStatus of a device whose claim was proven (token, key or code)


@dataclass(frozen=True, slots=True)
class ClaimedFilter:
    """Which claimed devices a listing shows (nRF Cloud's ListClaimedDevices query)."""

    tags: tuple[str, ...] = ()
    all_tags: bool = False
    status: str | None = None
    device_type: str | None = None
    claimed_after: int | None = None
    claimed_before: int | None = None


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """The public key a tenant registered for a device, and what the device told about itself."""

    device_id: uuid.UUID
    tenant_id: uuid.UUID
    public_key: bytes  # SubjectPublicKeyInfo DER
    created_time: int
    firmware_id: uuid.UUID | None = None
    imei: str | None = None


@dataclass(frozen=True, slots=True)
class ClaimedDevice:
    """A device as its owner sees it on the ownership API (nRF Cloud's ClaimedDevice)."""

    device: Device
    identity: DeviceIdentity | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def status(self) -> ClaimedStatus:
        return ClaimedStatus.BLOCKED if self.device.is_blocked else ClaimedStatus.READY


def visible_to(principal: Principal, device: Device) -> bool:
    """May ``principal`` see ``device``? Tenant admins see their tenant's devices; a customer user sees
    its customer's, except those claimed by a restricted role (Admin, Owner) unless it has one."""
    if device.tenant_id != principal.tenant_id:
        return False
    if principal.is_tenant_admin:
        return True
    return (
        principal.customer_id is not None
        and device.customer_id == principal.customer_id
        and principal.can(DEVICE_READ)
        and (not device.claim_restricted or principal.can(DEVICE_READ_RESTRICTED))
    )


@dataclass(frozen=True, slots=True)
class Tag:
    name: str
    description: str | None
    created_time: int
    device_count: int = 0


class UnknownDevice(NotFound):
    code = "UNKNOWN_DEVICE"


class BadSignature(PermissionDenied):
    code = "CLAIM_TOKEN_BAD_SIGNATURE"


class ReplayedToken(PermissionDenied):
    code = "CLAIM_TOKEN_REPLAYED"


class ChallengeExpired(PermissionDenied):
    code = "CLAIM_CHALLENGE_EXPIRED"


class ChallengeRequired(PermissionDenied):
    code = "CLAIM_CHALLENGE_REQUIRED"


class DeviceBlocked(PermissionDenied):
    code = "DEVICE_BLOCKED"


class OwnedByAnother(Conflict):
    code = "DEVICE_OWNED_BY_ANOTHER"


class Ownership(enum.Enum):
    """Whose a device is, as a claimer sees it: the one ownership decision of every proof."""

    FREE = "free"
    YOURS = "yours"  # owned by the claimer's customer, and the claimer may see it
    ANOTHERS = "anothers"
    BLOCKED = "blocked"  # free, but its tenant (or last owner) blocked it


def decide_ownership(*, owner: uuid.UUID | None, caller: uuid.UUID, blocked: bool, visible: bool) -> Ownership:
    """Ownership comes before the block: an owned device is its owner's whatever its block. A device
    of the caller's own customer that the caller may not see (claimed by a restricted role) is
    another's to it."""
    if owner is not None:
        return Ownership.YOURS if owner == caller and visible else Ownership.ANOTHERS
    return Ownership.BLOCKED if blocked else Ownership.FREE


def require_claimable(ownership: Ownership, another: str) -> bool:
    """True: the device is free to claim; False: it is already the caller's (not an error: its record
    comes back). OwnedByAnother (with ``another``) or DeviceBlocked otherwise."""
    if ownership is Ownership.ANOTHERS:
        raise OwnedByAnother(another)
    if ownership is Ownership.BLOCKED:
        raise DeviceBlocked("The device is blocked by its tenant")
    return ownership is Ownership.FREE


def check_tag(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidArgument("A tag must be a string")
    tag = value.strip()
    if not tag:
        raise InvalidArgument("A tag must not be empty")
    if len(tag) > MAX_TAG_LENGTH:
        raise InvalidArgument(f"A tag is at most {MAX_TAG_LENGTH} characters: '{tag[:20]}...'")
    if "," in tag or text_problem(tag) is not None:
        raise InvalidArgument("A tag must not contain ',' (tags are joined by commas), NUL or a lone surrogate")
    return tag


def parse_tags(values: object) -> tuple[str, ...]:
    """Tags from a JSON list or a CSV cell. Each item may hold several tags joined by commas, as
    Nordic's tools send them (``["a=1,b=2"]``); the result keeps the first-seen order, without repeats."""
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list):
        raise InvalidArgument("tags must be a list of strings")
    seen: dict[str, None] = {}
    for item in values:
        if not isinstance(item, str):
            raise InvalidArgument("tags must be a list of strings")
        for part in item.split(","):
            if part.strip():
                seen[check_tag(part)] = None
    if len(seen) > MAX_TAGS_PER_DEVICE:
        raise InvalidArgument(f"A device has at most {MAX_TAGS_PER_DEVICE} tags")
    return tuple(seen)
