"""The claim-token proof's store in memory (services/claiming/token.TokenStore)."""

from __future__ import annotations

import uuid
from dataclasses import replace

from claimd.adapters.memory.claims import register_spend
from claimd.adapters.memory.store import MemoryState
from claimd.domain.ownership import DeviceIdentity
from claimd.services.claiming.ports import ClaimWrites
from claimd.services.claiming.token import NonceSpend, TokenTarget


def _spend(state: MemoryState, spend: NonceSpend, writes: ClaimWrites) -> None:
    state.nonces.add((writes.device_id, spend.nonce))
    if spend.challenge_answered and spend.nonce in state.challenges:
        user, _ = state.challenges[spend.nonce]
        state.challenges[spend.nonce] = (user, writes.now_ms - 1)  # single-use: spent is expired
    identity = state.identities.get(writes.device_id)
    if identity is not None and identity.firmware_id is None and spend.firmware_id is not None:
        state.identities[writes.device_id] = replace(identity, firmware_id=spend.firmware_id)


register_spend(NonceSpend, _spend)


class MemoryTokenClaimQueries:
    state: MemoryState

    async def add_identity(self, identity: DeviceIdentity) -> None:
        self.state.identities[identity.device_id] = identity

    async def get_identity(self, tenant_id: uuid.UUID, device_id: uuid.UUID) -> DeviceIdentity | None:
        identity = self.state.identities.get(device_id)
        return identity if identity is not None and identity.tenant_id == tenant_id else None

    async def lock_token_target(
        self, tenant_id: uuid.UUID, device_id: uuid.UUID, nonce: bytes, actor: uuid.UUID
    ) -> TokenTarget | None:
        device, identity = self.state.devices.get(device_id), self.state.identities.get(device_id)
        if device is None or identity is None or device.tenant_id != tenant_id:
            return None
        challenge = self.state.challenges.get(nonce)
        return TokenTarget(
            device,
            identity.public_key,
            (device_id, nonce) in self.state.nonces,
            challenge[0] if challenge else None,
            challenge[1] if challenge else None,
            actor in self.state.users,
        )

    async def add_challenge(
        self, nonce: bytes, tenant_id: uuid.UUID, user_id: uuid.UUID, expires_at: int, purge_before: int
    ) -> None:
        self.state.challenges = {n: c for n, c in self.state.challenges.items() if c[1] >= purge_before}
        self.state.challenges[nonce] = (user_id, expires_at)

    async def void_nonce(self, device_id: uuid.UUID, nonce: bytes, now_ms: int) -> None:
        self.state.nonces.add((device_id, nonce))

    async def ensure_tags(
        self, tenant_id: uuid.UUID, scope_id: uuid.UUID, names: tuple[str, ...], now_ms: int
    ) -> list[str]:
        return [self.state.tags.setdefault((scope_id, name), str(uuid.uuid4())) for name in names]

    async def tag_device(self, device_id: uuid.UUID, tag_ids: list[str], scope_id: uuid.UUID, replace: bool) -> None:
        self.state.device_tags.update((device_id, tag_id) for tag_id in tag_ids)
