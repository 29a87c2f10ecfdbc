"""Gateways speak for their child devices: they connect them and open their claim windows."""

from __future__ import annotations

import enum

from claimd.domain.claiming import DeviceClaimMessage
from claimd.domain.errors import ClaimdError, PermissionDenied
from claimd.domain.model import Device
from claimd.services.claiming import ClaimService, WindowResult
from claimd.services.common import Origin
from claimd.services.devices import DeviceService


class GatewayClaimOutcome(enum.Enum):
    ACCEPTED = "accepted"  # every child's window was opened or a live one kept
    REFUSED = "refused"  # at least one child may not open a window (owned, or not allowed)
    DEVICE_FAILED = "device-failed"  # a child could not be found or created


class GatewayService:
    def __init__(self, devices: DeviceService, claims: ClaimService) -> None:
        self.devices = devices
        self.claims = claims

    async def connect_child(self, gateway: Device, name: str) -> Device:
        if not gateway.is_gateway:
            raise PermissionDenied("Device is not a gateway")
        return await self.devices.child_of_gateway(gateway, name)

    async def claim(
        self, gateway: Device, entries: dict[str, DeviceClaimMessage], origin: Origin
    ) -> GatewayClaimOutcome:
        """Open a window for every child named in one gateway message (ThingsBoard's ``v1/gateway/claim``).
        A child that does not exist yet is created in the gateway's tenant, owned like the gateway."""
        if not gateway.is_gateway:
            raise PermissionDenied("Device is not a gateway")
        outcome = GatewayClaimOutcome.ACCEPTED
        for name, message in entries.items():
            try:
                child = await self.devices.child_of_gateway(gateway, name)
            except ClaimdError:
                return GatewayClaimOutcome.DEVICE_FAILED
            result = await self.claims.open_window(child, message, origin)
            if result not in (WindowResult.OPENED, WindowResult.KEPT):
                outcome = GatewayClaimOutcome.REFUSED
        return outcome
