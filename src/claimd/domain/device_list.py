"""The console's device list and audit search: what a tenant admin asks for, and the pages.

Both page by keyset, never by OFFSET: the device list by the last (name, id) shown, the audit search by
the last (time, id). docs/web.md says what each filter means; docs/performance.md what it costs.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field

from claimd.domain.lorawan import LorawanIdentity
from claimd.domain.model import AuditEvent, Device
from claimd.domain.ownership import DeviceIdentity

#: Devices per page of the console's list; audit rows per page of its audit log.
DEVICE_PAGE = 50
AUDIT_PAGE = 50
MAX_PAGE = 200


class DeviceState(enum.StrEnum):
    """A device's state in the console. A block wins over the owner: a blocked device is ``blocked``
    whoever owns it. ``claimed`` is "has a customer" (claimed, or assigned by the tenant)."""

    UNCLAIMED = "unclaimed"
    CLAIMED = "claimed"
    BLOCKED = "blocked"


class DeviceKind(enum.StrEnum):
    """How a device is claimed: a secret key (a server-side ``claimingData`` attribute, or a claim
    window kept in SQL), a LoRaWAN identity (TR005 claim code) or a device identity (claim token)."""

    KEY = "key"
    LORAWAN = "lorawan"
    IDENTITY = "identity"


def device_state(device: Device) -> DeviceState:
    if device.is_blocked:
        return DeviceState.BLOCKED
    return DeviceState.CLAIMED if device.is_assigned else DeviceState.UNCLAIMED


@dataclass(frozen=True, slots=True)
class DeviceQuery:
    """Which of the tenant's devices to list. ``name_prefix`` is a case-sensitive prefix of the name
    (served by the (tenant, name, id) index); ``tag`` a tenant tag's name."""

    name_prefix: str | None = None
    customer_id: uuid.UUID | None = None
    state: DeviceState | None = None
    tag: str | None = None
    kind: DeviceKind | None = None


#: The keyset of the device list: the last (name, id) of a page.
DeviceCursor = tuple[str, uuid.UUID]


@dataclass(frozen=True, slots=True)
class DeviceListItem:
    device: Device
    owner: str | None = None  # the owning customer's title
    tags: tuple[str, ...] = ()  # the tenant's tags on it

    @property
    def state(self) -> DeviceState:
        return device_state(self.device)


@dataclass(frozen=True, slots=True)
class DeviceListPage:
    items: list[DeviceListItem]
    next_after: DeviceCursor | None = None  # where the next page starts; None on the last page


@dataclass(frozen=True, slots=True)
class KeyAttribute:
    """What the console shows of a ``claimingData`` attribute: that a key is set, and its expiry."""

    key_set: bool
    expiration_time: int | None


@dataclass(frozen=True, slots=True)
class DeviceDetail:
    """One device as the console shows it: never a secret (no key, no code digest, no access token)."""

    device: Device
    owner: str | None = None
    claimed_by: str | None = None  # the e-mail of the user who claimed it
    tags: tuple[str, ...] = ()
    lorawan: LorawanIdentity | None = None
    identity: DeviceIdentity | None = None
    claiming_data: KeyAttribute | None = None
    window_expires_at: int | None = None  # an open claim window kept in SQL (None: none, or kept in Redis)
    windows_in_sql: bool = True
    attributes: list[tuple[str, str, str]] = field(default_factory=list)  # (scope, key, JSON) without claimingData
    history: list[AuditEvent] = field(default_factory=list)

    @property
    def state(self) -> DeviceState:
        return device_state(self.device)


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Which of the tenant's audit rows to list: exact device name, action, outcome."""

    device_name: str | None = None
    action: str | None = None
    outcome: str | None = None


#: The keyset of the audit search: the last (created_time, id) of a page (newest first).
AuditCursor = tuple[int, uuid.UUID]


@dataclass(frozen=True, slots=True)
class AuditSearchPage:
    items: list[AuditEvent]
    next_before: AuditCursor | None = None
