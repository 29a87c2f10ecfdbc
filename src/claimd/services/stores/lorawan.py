"""The store's LoRaWAN identities (DevEUI, JoinEUI, claim code) and the TTS applications they join."""

from __future__ import annotations

import uuid
from typing import Protocol

from claimd.domain.lorawan import LorawanIdentity
from claimd.domain.model import Device


class LorawanStore(Protocol):
    async def add_lorawan(self, identity: LorawanIdentity, code_digest: bytes) -> None:
        """DevEuiTaken if the tenant has a device with this DevEUI."""
        ...

    async def get_lorawan_of(self, device_id: uuid.UUID) -> LorawanIdentity | None: ...
    async def get_lorawan(self, tenant_id: uuid.UUID, dev_eui: str) -> tuple[Device, LorawanIdentity] | None: ...
    async def set_code(
        self, device_id: uuid.UUID, code_digest: bytes, valid_from: int | None, valid_to: int | None
    ) -> None:
        """A new code (and window) for a device: unspent."""
        ...

    async def leave_application(self, device_id: uuid.UUID) -> None: ...
    async def lorawan_in_application(
        self, customer_id: uuid.UUID, application_id: str, app_device_ids: list[str]
    ) -> dict[str, tuple[Device, LorawanIdentity]]: ...
    async def list_lorawan(
        self, customer_id: uuid.UUID, application_id: str, offset: int, limit: int
    ) -> tuple[list[tuple[Device, LorawanIdentity]], int]: ...
    async def list_applications(self, customer_id: uuid.UUID) -> list[tuple[str, int, int]]:
        """(application id, created time, devices in it), by id."""
        ...

    async def known_join_euis(self, tenant_id: uuid.UUID, join_euis: list[str]) -> set[str]: ...
