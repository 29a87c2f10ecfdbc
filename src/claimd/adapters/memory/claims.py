"""The claim core's store in memory (services/claiming/ports.ClaimStore), with what the secret-key
proof and the release need. A proof's spend is written by the function its fake module registers
with :func:`register_spend`."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from claimd.adapters.memory.store import MemoryState
from claimd.domain.attributes import NewAttribute, StoredAttribute
from claimd.domain.claiming import CLAIMING_DATA
from claimd.domain.model import AttributeScope, AuditEvent, Device
from claimd.services.claiming.ports import ClaimTarget, ClaimWrites

_SPENDS: dict[type, Callable[[MemoryState, Any, ClaimWrites], None]] = {}


def register_spend(kind: type, write: Callable[[MemoryState, Any, ClaimWrites], None]) -> None:
    _SPENDS[kind] = write


class MemoryClaimQueries:
    def __init__(self, state: MemoryState) -> None:
        self.state = state

    # what the contract tests and the fakes' callers set up
    def add_device(self, device: Device) -> None:
        self.state.devices[device.id] = device

    def add_user(self, user_id: uuid.UUID) -> None:
        self.state.users.add(user_id)

    async def get_device(self, tenant_id: uuid.UUID, device_id: uuid.UUID) -> Device | None:
        device = self.state.devices.get(device_id)
        return device if device is not None and device.tenant_id == tenant_id else None

    def _target(self, device: Device | None, actor: uuid.UUID) -> ClaimTarget | None:
        if device is None:
            return None
        data = self.state.attributes.get((device.id, AttributeScope.SERVER_SCOPE.value, CLAIMING_DATA))
        return ClaimTarget(device, data, actor in self.state.users)

    async def lock_claim_target(self, tenant_id: uuid.UUID, name: str, actor: uuid.UUID) -> ClaimTarget | None:
        found = (d for d in self.state.devices.values() if d.tenant_id == tenant_id and d.name == name)
        return self._target(next(found, None), actor)

    async def lock_claim_target_by_id(
        self, tenant_id: uuid.UUID, device_id: uuid.UUID, actor: uuid.UUID
    ) -> ClaimTarget | None:
        return self._target(await self.get_device(tenant_id, device_id), actor)

    async def claim_writes(self, writes: ClaimWrites) -> bool:
        device = self.state.devices[writes.device_id]
        await self.delete_attributes(device.id, AttributeScope.SERVER_SCOPE.value, list(writes.clear))
        if device.customer_id is not None:
            return False
        learned = writes.learned_type if device.type == "default" and writes.learned_type else device.type
        self.state.devices[device.id] = replace(
            device,
            customer_id=writes.customer_id,
            claimed_at=writes.now_ms,
            claimed_by=writes.claimed_by,
            claim_restricted=writes.restricted,
            type=learned,
        )
        self.state.audit.append(writes.audit)
        for spend in writes.spends:
            _SPENDS[type(spend)](self.state, spend, writes)
        return True

    async def get_attribute(self, device_id: uuid.UUID, scope: str, key: str) -> StoredAttribute | None:
        return self.state.attributes.get((device_id, scope, key))

    async def save_attributes(self, device_id: uuid.UUID, scope: str, items: list[NewAttribute], now_ms: int) -> None:
        for a in items:
            self.state.attributes[(device_id, scope, a.key)] = StoredAttribute(a.key, a.value, now_ms, a.secret_digest)

    async def delete_attributes(self, device_id: uuid.UUID, scope: str, keys: list[str]) -> None:
        for key in keys:
            self.state.attributes.pop((device_id, scope, key), None)

    async def add_audit(self, event: AuditEvent) -> None:
        self.state.audit.append(event)

    async def add_failed_attempt(self, event: AuditEvent, since_ms: int) -> None:
        for i in range(len(self.state.audit) - 1, -1, -1):
            e = self.state.audit[i]
            same = (e.device_id, e.action, e.outcome, e.user_id, e.source) == (
                event.device_id,
                event.action,
                event.outcome,
                event.user_id,
                event.source,
            )
            if same and e.created_time >= since_ms:
                self.state.audit[i] = replace(e, repeats=e.repeats + 1, last_time=event.created_time)
                return
        self.state.audit.append(event)

    async def finish_row(
        self, op_id: str, index: int, ok: bool, device_id: uuid.UUID | None, message: str | None
    ) -> bool:
        if (op_id, index) in self.state.rows_done:
            return False
        self.state.rows_done.add((op_id, index))
        return True

    # the release's
    async def set_owner(self, device_id: uuid.UUID, customer_id: uuid.UUID | None) -> None:
        device = self.state.devices[device_id]
        released = customer_id is None
        self.state.devices[device_id] = replace(
            device,
            customer_id=customer_id,
            claimed_at=None,
            claimed_by=None,
            claim_restricted=False,
            blocked_at=None if released and device.blocked_by == "OWNER" else device.blocked_at,
            blocked_by=None if released and device.blocked_by == "OWNER" else device.blocked_by,
        )

    async def cancel_open_commands(
        self, now_ms: int, *, device_id: uuid.UUID | None = None, customer_id: uuid.UUID | None = None
    ) -> None:
        """No provisioning commands in memory."""

    async def leave_application(self, device_id: uuid.UUID) -> None:
        self.state.filed.pop(device_id, None)
