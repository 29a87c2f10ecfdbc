"""The LoRaWAN claim-code proof's store in memory (services/claiming/lorawan_code.CodeStore)."""

from __future__ import annotations

import uuid
from dataclasses import replace

from claimd.adapters.memory.claims import register_spend
from claimd.adapters.memory.store import MemoryState
from claimd.domain.lorawan import EndDeviceIdTaken, LorawanIdentity
from claimd.services.claiming.lorawan_code import CodeSpend, LorawanTarget
from claimd.services.claiming.ports import ClaimWrites


def _file(state: MemoryState, device_id: uuid.UUID, spend: CodeSpend, now_ms: int) -> None:
    """Spend the code and file the device as ``spend`` says (unique in its application)."""
    place = (spend.application, spend.app_device_id)
    if any(other != device_id and filed == place for other, filed in state.filed.items()):
        raise EndDeviceIdTaken(
            f"the application already has a device `{spend.app_device_id}`; choose another target_device_id"
        )
    identity, digest = state.lorawan[device_id]
    application_id = next(app for (_, app), id_ in state.applications.items() if id_ == spend.application)
    filed = replace(identity, code_spent_at=now_ms, application_id=application_id, app_device_id=spend.app_device_id)
    state.lorawan[device_id] = (filed, digest)
    state.filed[device_id] = place


def _spend(state: MemoryState, spend: CodeSpend, writes: ClaimWrites) -> None:
    _file(state, writes.device_id, spend, writes.now_ms)


register_spend(CodeSpend, _spend)


class MemoryCodeClaimQueries:
    state: MemoryState

    def add_lorawan(self, identity: LorawanIdentity, code_digest: bytes) -> None:
        self.state.lorawan[identity.device_id] = (identity, code_digest)

    async def lock_lorawan_target(self, tenant_id: uuid.UUID, dev_eui: str, actor: uuid.UUID) -> LorawanTarget | None:
        for device_id, (identity, digest) in self.state.lorawan.items():
            if identity.tenant_id == tenant_id and identity.dev_eui == dev_eui:
                if device_id not in self.state.filed:  # left its application (a release): no longer filed
                    identity = replace(identity, application_id=None, app_device_id=None)
                return LorawanTarget(self.state.devices[device_id], identity, digest, actor in self.state.users)
        return None

    async def ensure_application(
        self, tenant_id: uuid.UUID, customer_id: uuid.UUID, application_id: str, now_ms: int
    ) -> uuid.UUID:
        return self.state.applications.setdefault((customer_id, application_id), uuid.uuid4())

    async def spend_code(self, device_id: uuid.UUID, now_ms: int, spend: CodeSpend) -> None:
        _file(self.state, device_id, spend, now_ms)
