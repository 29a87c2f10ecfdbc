"""What the claim core needs from a store. Each proof adds what it needs in its own module
(secret_key.SecretKeyStore, token.TokenStore, lorawan_code.CodeStore), and what it spends as a
``Spend`` of its own, which the store writes with the claim (adapters/sql/claims.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

from claimd.domain.attributes import StoredAttribute
from claimd.domain.model import AuditEvent, Device
from claimd.services.stores.audit import AuditWrites

#: What a proof spends when its claim is granted (a token's nonce, a LoRaWAN code), as a frozen data
#: class of the proof's own; a store writes it beside the owner, only if the owner was set.
Spend = object


@dataclass(frozen=True, slots=True)
class ClaimTarget:
    """What a claim or a release by device name or id reads in its first statement: the device,
    locked, its server-side ``claimingData``, and whether the acting user (and its customer) still exists."""

    device: Device
    claiming_data: StoredAttribute | None
    actor_exists: bool


@dataclass(frozen=True, slots=True)
class ClaimWrites:
    """What a granted claim writes: the owner, set only if the device has none; the server attributes
    ``clear`` deleted (either way); and, only if the owner was set, the audit row, the device type the
    proof taught (``learned_type``, set while the type is "default") and what the proof ``spends``."""

    device_id: uuid.UUID
    customer_id: uuid.UUID
    claimed_by: uuid.UUID
    now_ms: int
    restricted: bool
    audit: AuditEvent
    clear: tuple[str, ...] = ()
    learned_type: str | None = None
    spends: tuple[Spend, ...] = ()


class ClaimStore(AuditWrites, Protocol):
    """The claim core's reads and writes, inside one unit of work (and the audit writes, see AuditWrites)."""

    async def lock_claim_target(self, tenant_id: uuid.UUID, name: str, actor: uuid.UUID) -> ClaimTarget | None:
        """One statement: the device by name, locked for the transaction, with its claimingData and
        whether the acting user still exists."""
        ...

    async def lock_claim_target_by_id(
        self, tenant_id: uuid.UUID, device_id: uuid.UUID, actor: uuid.UUID
    ) -> ClaimTarget | None: ...

    async def claim_writes(self, writes: ClaimWrites) -> bool:
        """All of a claim's writes (see :class:`ClaimWrites`): one round trip where the database allows.
        False: the device had an owner, and only the claim attributes were cleared."""
        ...

    async def delete_attributes(self, device_id: uuid.UUID, scope: str, keys: list[str]) -> None: ...
    async def finish_row(
        self, op_id: str, index: int, ok: bool, device_id: uuid.UUID | None, message: str | None
    ) -> bool: ...
