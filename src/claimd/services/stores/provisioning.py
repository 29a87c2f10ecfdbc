"""The store's provisioning commands: each device's queue, and the device lock its writes take."""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from claimd.domain.model import Device
from claimd.domain.provisioning import CommandStatus, ProvisioningCommand


class ProvisioningStore(Protocol):
    async def lock_device(self, tenant_id: uuid.UUID, device_id: uuid.UUID) -> Device | None: ...
    async def command_queue(self, device_id: uuid.UUID, customer_id: uuid.UUID | None) -> tuple[int, int]: ...
    async def add_command(self, command: ProvisioningCommand) -> None: ...
    async def get_command(self, device_id: uuid.UUID, command_id: uuid.UUID) -> ProvisioningCommand | None: ...
    async def list_commands(
        self, device_id: uuid.UUID, customer_id: uuid.UUID | None, status: str | None, after_position: int, limit: int
    ) -> tuple[list[ProvisioningCommand], int]: ...
    async def open_commands(
        self, device_id: uuid.UUID, customer_id: uuid.UUID | None, after_position: int, limit: int
    ) -> list[ProvisioningCommand]: ...
    async def commands_by_id(self, device_id: uuid.UUID, ids: Any) -> dict[uuid.UUID, ProvisioningCommand]: ...
    async def mark_delivered(self, ids: list[uuid.UUID], now_ms: int) -> None: ...
    async def update_command(
        self,
        command_id: uuid.UUID,
        expect: tuple[CommandStatus, ...],
        now_ms: int,
        *,
        status: CommandStatus,
        steps_done: int | None = None,
        response: dict[str, Any] | None = None,
        clear_response: bool = False,
        position: int | None = None,
    ) -> bool: ...
    async def cancel_open_commands(
        self, now_ms: int, *, device_id: uuid.UUID | None = None, customer_id: uuid.UUID | None = None
    ) -> None: ...
