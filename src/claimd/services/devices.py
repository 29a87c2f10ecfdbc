"""Provisioning and managing devices: create, read, list, assign, unassign, delete, attributes."""

from __future__ import annotations

import builtins
import re
import uuid
from dataclasses import dataclass, replace
from typing import Any

from claimd.domain.attributes import NewAttribute, StoredAttribute, parse_attributes_body
from claimd.domain.claiming import CLAIMING_DATA
from claimd.domain.errors import AuthenticationFailed, Conflict, InvalidArgument, NotFound, PermissionDenied
from claimd.domain.inputs import check_name
from claimd.domain.model import AttributeScope, AuditAction, Authority, Device, Page, Principal
from claimd.domain.ownership import visible_to
from claimd.domain.roles import DEVICE_READ, DEVICE_READ_RESTRICTED, DEVICE_WRITE
from claimd.services.claiming import server_side_claim_data
from claimd.services.common import Origin, audit_event, change_owner, check_page, check_text, require
from claimd.services.ports import Clock, Sealer, SecretHasher
from claimd.services.stores import Repository
from claimd.services.uow import UnitOfWork, UnitOfWorkFactory

ACCESS_TOKEN = "access-token"
_TOKEN = re.compile(r"[^\s/?#%]{1,128}")


def require_tenant_admin(principal: Principal) -> None:
    if principal.authority is not Authority.TENANT_ADMIN:
        raise PermissionDenied()


def _scope(scope: str, *, writable: bool) -> AttributeScope:
    allowed = (AttributeScope.SERVER_SCOPE, AttributeScope.SHARED_SCOPE) if writable else tuple(AttributeScope)
    try:
        value = AttributeScope(scope)
    except ValueError:
        raise InvalidArgument(f"Invalid scope: {scope}") from None
    if value not in allowed:
        raise InvalidArgument(f"Invalid scope: {scope}")
    return value


@dataclass(frozen=True, slots=True)
class DeviceDraft:
    name: str
    type: str = "default"
    label: str | None = None
    additional_info: dict[str, Any] | None = None


class DeviceService:
    def __init__(
        self, uow: UnitOfWorkFactory[Repository], hasher: SecretHasher, sealer: Sealer, clock: Clock, new_token: Any
    ) -> None:
        self.uow = uow
        self.hasher = hasher
        self.sealer = sealer
        self.clock = clock
        self.new_token = new_token

    def token_digest(self, access_token: str) -> bytes:
        return self.hasher.digest(ACCESS_TOKEN, "", access_token)

    # devices ---------------------------------------------------------------------------------
    @staticmethod
    def _check_draft(draft: DeviceDraft) -> str:
        name = check_name(draft.name or "")
        check_text("Device type", draft.type)
        check_text("Device label", draft.label)
        return name

    async def create(self, principal: Principal, draft: DeviceDraft, access_token: str | None = None) -> Device:
        require_tenant_admin(principal)
        async with self.uow(write=True) as tx:
            return await self.add(tx, principal.tenant_id, draft, access_token=access_token)

    async def add(
        self,
        tx: UnitOfWork[Repository],
        tenant_id: uuid.UUID,
        draft: DeviceDraft,
        *,
        access_token: str | None = None,
        device_id: uuid.UUID | None = None,
    ) -> Device:
        """Store a new device of ``tenant_id`` in the caller's transaction."""
        name = self._check_draft(draft)
        if access_token is not None and not _TOKEN.fullmatch(access_token):
            raise InvalidArgument("Access token must be 1-128 characters without spaces, '/', '?', '#' or '%'")
        token = access_token or self.new_token()
        device = Device(
            id=device_id or uuid.uuid4(),
            tenant_id=tenant_id,
            customer_id=None,
            name=name,
            type=(draft.type or "default").strip() or "default",
            label=draft.label,
            additional_info=dict(draft.additional_info or {}),
            created_time=self.clock(),
        )
        await tx.repo.add_device(device, self.token_digest(token), self.sealer.seal(token))
        return device

    async def update(self, principal: Principal, device_id: uuid.UUID, draft: DeviceDraft) -> Device:
        require_tenant_admin(principal)
        name = self._check_draft(draft)
        async with self.uow(write=True) as tx:
            current = await tx.repo.get_device(principal.tenant_id, device_id)
            if current is None:
                raise NotFound()
            device = replace(
                current,
                name=name,
                type=(draft.type or current.type),
                label=draft.label,
                additional_info=dict(draft.additional_info or {}),
            )
            await tx.repo.update_device(device)
        return device

    async def get(self, principal: Principal, device_id: uuid.UUID) -> Device:
        async with self.uow() as tx:
            device = await tx.repo.get_device(principal.tenant_id, device_id)
        return self._visible(principal, device)

    @staticmethod
    def _visible(principal: Principal, device: Device | None) -> Device:
        if device is None:
            raise NotFound()
        if not visible_to(principal, device):
            raise PermissionDenied()
        return device

    async def child_of_gateway(self, gateway: Device, name: str) -> Device:
        """The gateway's tenant device named ``name``, created when missing: type "default", owned by the
        gateway's customer, ``additionalInfo.lastConnectedGateway`` set (as ThingsBoard does)."""
        name = check_name(name)
        async with self.uow() as tx:
            device = await tx.repo.get_device_by_name(gateway.tenant_id, name)
        if device is not None:
            return device
        token = self.new_token()
        child = Device(
            id=uuid.uuid4(),
            tenant_id=gateway.tenant_id,
            customer_id=gateway.customer_id,
            name=name,
            type="default",
            additional_info={"lastConnectedGateway": str(gateway.id)},
            created_time=self.clock(),
        )
        try:
            async with self.uow(write=True) as tx:
                await tx.repo.add_device(child, self.token_digest(token), self.sealer.seal(token))
        except Conflict:  # created at the same moment through another connection
            async with self.uow() as tx:
                device = await tx.repo.get_device_by_name(gateway.tenant_id, name)
            if device is None:
                raise
            return device
        return child

    async def get_by_name(self, principal: Principal, name: str) -> Device:
        require_tenant_admin(principal)
        async with self.uow() as tx:
            device = await tx.repo.get_device_by_name(principal.tenant_id, name)
        if device is None:
            raise NotFound(f"Device with name [{name}] is not found")
        return device

    async def by_access_token(self, access_token: str) -> Device:
        """The device a transport is talking to; AuthenticationFailed for an unknown token."""
        if not access_token or len(access_token) > 128:
            raise AuthenticationFailed("Invalid device access token")
        async with self.uow() as tx:
            device = await tx.repo.get_device_by_token(self.token_digest(access_token))
        if device is None:
            raise AuthenticationFailed("Invalid device access token")
        return device

    async def list(
        self,
        principal: Principal,
        page: int,
        page_size: int,
        text: str | None = None,
        device_type: str | None = None,
        customer_id: uuid.UUID | None = None,
        sort: str | None = None,
        order: str | None = None,
    ) -> Page[Device]:
        check_page(page, page_size)
        if principal.is_customer_user:
            if customer_id is None:
                raise PermissionDenied()  # the tenant's whole fleet is for its admins
            if customer_id != principal.customer_id or not principal.can(DEVICE_READ):
                raise PermissionDenied()
        else:
            require_tenant_admin(principal)
        async with self.uow() as tx:
            if customer_id is not None and await tx.repo.get_customer(principal.tenant_id, customer_id) is None:
                raise NotFound()
            return await tx.repo.list_devices(
                principal.tenant_id,
                customer_id,
                page,
                page_size,
                text,
                device_type,
                sort,
                order,
                include_restricted=principal.can(DEVICE_READ_RESTRICTED),
            )

    async def credentials(self, principal: Principal, device_id: uuid.UUID) -> tuple[Device, str]:
        require_tenant_admin(principal)
        async with self.uow() as tx:
            device = await tx.repo.get_device(principal.tenant_id, device_id)
            if device is None:
                raise NotFound()
            sealed = await tx.repo.get_device_token(device_id)
        assert sealed is not None
        return device, self.sealer.unseal(sealed)

    async def delete(self, principal: Principal, device_id: uuid.UUID) -> None:
        require_tenant_admin(principal)
        async with self.uow(write=True) as tx:
            if not await tx.repo.delete_device(principal.tenant_id, device_id):
                raise NotFound()
            await tx.windows.discard(device_id)

    async def assign(
        self, principal: Principal, customer_id: uuid.UUID, device_id: uuid.UUID, origin: Origin
    ) -> Device:
        require_tenant_admin(principal)
        now = self.clock()
        async with self.uow(write=True) as tx:
            device = await tx.repo.get_device(principal.tenant_id, device_id)
            customer = await tx.repo.get_customer(principal.tenant_id, customer_id)
            if device is None or customer is None:
                raise NotFound()
            await change_owner(tx.repo, device, customer.id, now)
            device = replace(device, customer_id=customer.id)
            await tx.repo.add_audit(audit_event(AuditAction.ASSIGN, "ASSIGNED", origin, device, principal, now))
        return device

    async def unassign(self, principal: Principal, device_id: uuid.UUID, origin: Origin) -> Device:
        require_tenant_admin(principal)
        now = self.clock()
        async with self.uow(write=True) as tx:
            device = await tx.repo.get_device(principal.tenant_id, device_id)
            if device is None:
                raise NotFound()
            if not device.is_assigned:
                raise InvalidArgument("Device isn't assigned to any customer!")
            await change_owner(tx.repo, device, None, now)
            await tx.repo.add_audit(
                audit_event(
                    AuditAction.UNASSIGN,
                    "UNASSIGNED",
                    origin,
                    device,
                    principal,
                    now,
                    detail=f"from customer {device.customer_id}",
                )
            )
        return replace(device, customer_id=None)

    # attributes ------------------------------------------------------------------------------
    async def _attribute_target(
        self, tx: Any, principal: Principal, entity_type: str, device_id: uuid.UUID, *, write: bool = False
    ) -> Device:
        if entity_type.upper() != "DEVICE":
            raise InvalidArgument(f"Entity type {entity_type} is not supported: claimd keeps attributes of devices")
        if principal.authority not in (Authority.TENANT_ADMIN, Authority.CUSTOMER_USER):
            raise PermissionDenied()
        if write:
            require(principal, DEVICE_WRITE)
        return self._visible(principal, await tx.repo.get_device(principal.tenant_id, device_id))

    async def save_attributes(
        self, principal: Principal, entity_type: str, device_id: uuid.UUID, scope: str, body: bytes | str
    ) -> None:
        target_scope = _scope(scope, writable=True)
        values = parse_attributes_body(body)
        items = [
            server_side_claim_data(self.hasher, device_id, value)
            if key == CLAIMING_DATA and target_scope is AttributeScope.SERVER_SCOPE
            else NewAttribute(key, value)
            for key, value in values.items()
        ]
        async with self.uow(write=True) as tx:
            await self._attribute_target(tx, principal, entity_type, device_id, write=True)
            await tx.repo.save_attributes(device_id, target_scope, items, self.clock())

    async def get_attributes(
        self,
        principal: Principal,
        entity_type: str,
        device_id: uuid.UUID,
        scope: str | None,
        keys: builtins.list[str] | None,
    ) -> builtins.list[tuple[str, StoredAttribute]]:
        target_scope = _scope(scope, writable=False) if scope is not None else None
        async with self.uow() as tx:
            await self._attribute_target(tx, principal, entity_type, device_id)
            return await tx.repo.get_attributes(device_id, target_scope, keys)

    async def delete_attributes(
        self, principal: Principal, entity_type: str, device_id: uuid.UUID, scope: str, keys: builtins.list[str]
    ) -> None:
        target_scope = _scope(scope, writable=True)
        if not keys:
            raise InvalidArgument("Parameter 'keys' can't be empty!")
        async with self.uow(write=True) as tx:
            await self._attribute_target(tx, principal, entity_type, device_id, write=True)
            await tx.repo.delete_attributes(device_id, target_scope, keys)

    async def audit_log(self, principal: Principal, page: int, page_size: int, device_id: uuid.UUID | None = None):  # type: ignore[no-untyped-def]
        require_tenant_admin(principal)
        check_page(page, page_size)
        async with self.uow() as tx:
            return await tx.repo.list_audit(principal.tenant_id, device_id, page, page_size)
