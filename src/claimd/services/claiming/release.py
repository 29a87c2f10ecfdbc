"""Releasing a device: ThingsBoard's reclaim (by name) and nRF Cloud's unclaim (by id)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Protocol

from claimd.domain.attributes import NewAttribute
from claimd.domain.claiming import CLAIMING_ALLOWED, CLAIMING_DATA, reclaim_restores_claiming_allowed
from claimd.domain.errors import InvalidArgument, NotFound, PermissionDenied
from claimd.domain.model import AttributeScope, AuditAction, Authority, Device, Principal
from claimd.domain.ownership import visible_to
from claimd.domain.roles import DEVICE_UNCLAIM
from claimd.services.claiming.core import ClaimCore
from claimd.services.claiming.ports import ClaimStore
from claimd.services.common import Origin, OwnerStore, audit_event, change_owner
from claimd.services.uow import UnitOfWorkFactory


class NotClaimed(InvalidArgument):
    """Releasing a device that no one owns."""

    code = "NOT_CLAIMED"


class ReleaseStore(ClaimStore, OwnerStore, Protocol):
    async def save_attributes(
        self, device_id: uuid.UUID, scope: str, items: list[NewAttribute], now_ms: int
    ) -> None: ...


class Releases:
    def __init__(self, core: ClaimCore, uow: UnitOfWorkFactory[ReleaseStore]) -> None:
        self.core = core
        self.uow = uow

    async def reclaim(self, principal: Principal, device_name: str, origin: Origin) -> Device:
        """Release a device by name (ThingsBoard's reclaim)."""
        return await self._release(principal, origin, name=device_name)

    async def unclaim(self, principal: Principal, device_id: uuid.UUID, origin: Origin) -> Device:
        """Release a device by id (nRF Cloud's unclaim)."""
        return await self._release(principal, origin, device_id=device_id)

    async def _release(
        self, principal: Principal, origin: Origin, *, name: str | None = None, device_id: uuid.UUID | None = None
    ) -> Device:
        """Its owner's users (with Device × Unclaim) may release a device, its tenant admins any device."""
        if principal.authority not in (Authority.TENANT_ADMIN, Authority.CUSTOMER_USER):
            raise PermissionDenied()
        now = self.core.clock()
        allow_by_default = self.core.policy.allow_claiming_by_default
        async with self.core.transaction(self.uow) as claiming:
            target = await self.core.lock(claiming, principal, name=name, device_id=device_id)
            device, repo = target.device, claiming.repo
            if principal.is_customer_user:
                if not device.is_assigned and name is not None:  # by id, as nRF Cloud: not yours = not found
                    raise NotClaimed("The device is not claimed: there is nothing to reclaim")
                if not visible_to(principal, device):
                    # ThingsBoard lets any customer user do this (bug #6742); by id, not yours = not found
                    raise PermissionDenied() if name is not None else NotFound()
                if not principal.can(DEVICE_UNCLAIM):
                    raise PermissionDenied()
            await claiming.tx.windows.discard(device.id)
            if device.is_assigned:
                await change_owner(repo, device, None, now)
                # A claim secret lasts for the ownership it was set in: a key planted by someone of
                # the owner never claims the device for anyone after the release. (ThingsBoard's
                # assign and unassign keep them, as there.)
                await repo.delete_attributes(device.id, AttributeScope.SERVER_SCOPE, [CLAIMING_DATA])
            if reclaim_restores_claiming_allowed(allow_by_default=allow_by_default, was_assigned=device.is_assigned):
                await repo.save_attributes(
                    device.id, AttributeScope.SERVER_SCOPE, [NewAttribute(CLAIMING_ALLOWED, True)], now
                )
            outcome = "UNASSIGNED" if device.is_assigned else "NOT_ASSIGNED"
            await repo.add_audit(audit_event(AuditAction.RECLAIM, outcome, origin, device, principal, now))
        return replace(device, customer_id=None, claimed_at=None, claimed_by=None, claim_restricted=False)
