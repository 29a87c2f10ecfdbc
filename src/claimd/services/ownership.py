"""The ownership API's use cases beside the claim itself: device identities, the claimed-device list,
block and unblock, and tags. Claims and unclaims go through :mod:`claimd.services.claiming`.

Tags belong to whoever sets them: a customer's tags (its team's) or the tenant's own. A customer user
works with its customer's tags, a tenant admin with the tenant's; releasing a device drops its
owner's tags.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from dataclasses import dataclass, replace

from claimd.domain.errors import InvalidArgument, NotFound, PermissionDenied
from claimd.domain.model import AuditAction, Device, Principal
from claimd.domain.ownership import (
    BlockedBy,
    ClaimedDevice,
    ClaimedFilter,
    DeviceIdentity,
    Tag,
    check_tag,
    parse_tags,
    visible_to,
)
from claimd.domain.roles import DEVICE_BLOCK, DEVICE_READ, DEVICE_READ_RESTRICTED, DEVICE_TAG, TAG_READ, TAG_WRITE
from claimd.services.common import Origin, RowDone, audit_event, check_text, record_row, require
from claimd.services.devices import DeviceDraft, DeviceService, require_tenant_admin
from claimd.services.ports import Clock, IdentityKeys
from claimd.services.stores import Repository
from claimd.services.uow import UnitOfWork, UnitOfWorkFactory

MAX_PAGE_LIMIT = 1000
DEFAULT_PAGE_LIMIT = 100
_IMEI = re.compile(r"\d{15}")


@dataclass(frozen=True, slots=True)
class IdentityDraft:
    device_id: uuid.UUID
    public_key: str
    name: str | None = None
    device_type: str | None = None
    firmware_id: uuid.UUID | None = None
    imei: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ClaimedPage:
    items: list[ClaimedDevice]
    total: int
    next_token: str | None


def tag_scope(principal: Principal) -> uuid.UUID:
    """Whose tags the caller works with: its customer's, or (a tenant admin) the tenant's."""
    return principal.customer_id if principal.customer_id is not None else principal.tenant_id


def encode_page_token(sort_ts: int, device_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([sort_ts, device_id]).encode()).decode().rstrip("=")


def decode_page_token(token: str) -> tuple[int, str]:
    try:
        value = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        ts, device_id = value
        if type(ts) is not int or not isinstance(device_id, str):
            raise ValueError
        return ts, str(uuid.UUID(device_id))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidArgument("pageNextToken is not one this server gave out") from None


class OwnershipService:
    def __init__(
        self, uow: UnitOfWorkFactory[Repository], devices: DeviceService, keys: IdentityKeys, clock: Clock
    ) -> None:
        self.uow = uow
        self.devices = devices
        self.keys = keys
        self.clock = clock

    # identities ------------------------------------------------------------------------------
    def check_identity(self, draft: IdentityDraft) -> tuple[bytes, str | None]:
        """Validate a draft without storing it; returns the stored key and the IMEI."""
        public_key = self.keys.normalize(draft.public_key)
        imei = (draft.imei or "").strip() or None
        if imei is not None and not _IMEI.fullmatch(imei):
            raise InvalidArgument("An IMEI is 15 digits")
        return public_key, imei

    async def register_identity(
        self, principal: Principal, draft: IdentityDraft, done: RowDone | None = None
    ) -> ClaimedDevice:
        """A tenant registers a device that proves itself with claim tokens: the device (named by its
        UUID unless a name is given) and its identity public key, in one transaction."""
        require_tenant_admin(principal)
        public_key, imei = self.check_identity(draft)
        tags = parse_tags(list(draft.tags))
        now = self.clock()
        async with self.uow(write=True) as tx:
            device = await self.devices.add(
                tx,
                principal.tenant_id,
                DeviceDraft(name=draft.name or str(draft.device_id), type=draft.device_type or "default"),
                device_id=draft.device_id,
            )
            identity = DeviceIdentity(draft.device_id, principal.tenant_id, public_key, now, draft.firmware_id, imei)
            await tx.repo.add_identity(identity)
            if tags:
                ids = await tx.repo.ensure_tags(principal.tenant_id, principal.tenant_id, tags, now)
                await tx.repo.tag_device(device.id, ids, principal.tenant_id, replace=False)
            await record_row(tx.repo, done, device.id)
        return ClaimedDevice(device, identity, tags)

    async def get_identity(self, principal: Principal, device_id: uuid.UUID) -> ClaimedDevice:
        """A registered identity with its device and the tenant's tags: the same view registering
        answered, so that a GET gives back what the POST did."""
        require_tenant_admin(principal)
        async with self.uow() as tx:
            identity = await tx.repo.get_identity(principal.tenant_id, device_id)
            device = await tx.repo.get_device(principal.tenant_id, device_id) if identity else None
            if identity is None or device is None:
                raise NotFound()
            return (await self.view(tx, principal, [device]))[0]

    # claimed devices -------------------------------------------------------------------------
    async def view(
        self, tx: UnitOfWork[Repository], principal: Principal, devices: list[Device]
    ) -> list[ClaimedDevice]:
        """Identities and tags of a page of devices: two queries, whatever the page size."""
        ids = [d.id for d in devices]
        identities = await tx.repo.get_identities(ids)
        names = await tx.repo.device_tag_names(ids, tag_scope(principal))
        return [ClaimedDevice(d, identities.get(d.id), tuple(names.get(d.id, ()))) for d in devices]

    async def describe(self, principal: Principal, device: Device) -> ClaimedDevice:
        async with self.uow() as tx:
            return (await self.view(tx, principal, [device]))[0]

    async def get_claimed(self, principal: Principal, device_id: uuid.UUID) -> ClaimedDevice:
        require(principal, DEVICE_READ)
        async with self.uow() as tx:
            device = await tx.repo.get_device(principal.tenant_id, device_id)
            if device is None or not device.is_assigned or not visible_to(principal, device):
                raise NotFound("No claimed device with this id")
            return (await self.view(tx, principal, [device]))[0]

    async def list_claimed(
        self, principal: Principal, where: ClaimedFilter, page_limit: int | None, page_token: str | None
    ) -> ClaimedPage:
        require(principal, DEVICE_READ)
        limit = DEFAULT_PAGE_LIMIT if page_limit is None else page_limit
        if not 1 <= limit <= MAX_PAGE_LIMIT:
            raise InvalidArgument(f"pageLimit must be between 1 and {MAX_PAGE_LIMIT}")
        after = decode_page_token(page_token) if page_token else None
        if where.tags:
            where = replace(where, tags=parse_tags(list(where.tags)))
        async with self.uow() as tx:
            found, total = await tx.repo.list_claimed(
                principal.tenant_id,
                tag_scope(principal),
                principal.customer_id,
                include_restricted=principal.can(DEVICE_READ_RESTRICTED),
                where=where,
                after=after,
                limit=limit + 1,
            )
            more = len(found) > limit
            found = found[:limit]
            items = await self.view(tx, principal, found)
        next_token = encode_page_token(found[-1].claimed_at or 0, str(found[-1].id)) if more and found else None
        return ClaimedPage(items, total, next_token)

    async def set_blocked(
        self, principal: Principal, device_id: uuid.UUID, blocked: bool, origin: Origin
    ) -> ClaimedDevice:
        """Block or unblock (idempotent). An owner's block goes with the claim; a tenant's block stays,
        refuses new claims, and only the tenant lifts it."""
        require(principal, DEVICE_BLOCK)
        now = self.clock()
        by = BlockedBy.TENANT if principal.is_tenant_admin else BlockedBy.OWNER
        async with self.uow(write=True) as tx:
            device = await tx.repo.get_device(principal.tenant_id, device_id)
            if (
                device is None
                or not visible_to(principal, device)
                or (by is BlockedBy.OWNER and not device.is_assigned)
            ):
                raise NotFound("No claimed device with this id")
            if blocked and not device.is_blocked:
                device = replace(device, blocked_at=now, blocked_by=by.value)
            elif not blocked and device.is_blocked:
                if device.blocked_by == BlockedBy.TENANT.value and by is BlockedBy.OWNER:
                    raise PermissionDenied("The device's tenant blocked it; only the tenant can unblock it")
                device = replace(device, blocked_at=None, blocked_by=None)
            else:
                return (await self.view(tx, principal, [device]))[0]
            await tx.repo.set_blocked(device.id, device.blocked_at, device.blocked_by)
            action = AuditAction.BLOCK if blocked else AuditAction.UNBLOCK
            await tx.repo.add_audit(audit_event(action, by.value, origin, device, principal, now))
            return (await self.view(tx, principal, [device]))[0]

    # tags ------------------------------------------------------------------------------------
    async def list_tags(self, principal: Principal) -> list[Tag]:
        require(principal, TAG_READ)
        async with self.uow() as tx:
            return await tx.repo.list_tags(tag_scope(principal))

    async def get_tag(self, principal: Principal, name: str) -> Tag:
        require(principal, TAG_READ)
        async with self.uow() as tx:
            tag = await tx.repo.get_tag(tag_scope(principal), name)
        if tag is None:
            raise NotFound(f"No tag '{name}'")
        return tag

    async def create_tag(self, principal: Principal, name: str, description: str | None) -> tuple[Tag, bool]:
        """Create a tag; creating one that exists changes nothing and says so (False)."""
        require(principal, TAG_WRITE)
        name = check_tag(name)
        check_text("description", description)
        async with self.uow(write=True) as tx:
            created = await tx.repo.add_tag(principal.tenant_id, tag_scope(principal), name, description, self.clock())
            tag = await tx.repo.get_tag(tag_scope(principal), name)
        assert tag is not None
        return tag, created

    async def update_tag(self, principal: Principal, name: str, new_name: str | None, description: str | None) -> Tag:
        """Rename a tag or change its description: every device that has it sees the change."""
        require(principal, TAG_WRITE)
        new_name = check_tag(new_name) if new_name is not None else name
        check_text("description", description)
        async with self.uow(write=True) as tx:
            if not await tx.repo.update_tag(tag_scope(principal), name, new_name, description):
                raise NotFound(f"No tag '{name}'")
            tag = await tx.repo.get_tag(tag_scope(principal), new_name)
        assert tag is not None
        return tag

    async def delete_tag(self, principal: Principal, name: str) -> None:
        """Delete a tag: it leaves every device that had it."""
        require(principal, TAG_WRITE)
        async with self.uow(write=True) as tx:
            if not await tx.repo.delete_tag(tag_scope(principal), name):
                raise NotFound(f"No tag '{name}'")

    async def tag_device(
        self, principal: Principal, device_id: uuid.UUID, values: object, *, replace_all: bool
    ) -> ClaimedDevice:
        require(principal, DEVICE_TAG)
        names = parse_tags(values)
        now = self.clock()
        async with self.uow(write=True) as tx:
            device = await tx.repo.get_device(principal.tenant_id, device_id)
            if (
                device is None
                or not visible_to(principal, device)
                or (principal.is_customer_user and not device.is_assigned)
            ):
                raise NotFound("No claimed device with this id")
            ids = await tx.repo.ensure_tags(principal.tenant_id, tag_scope(principal), names, now)
            await tx.repo.tag_device(device.id, ids, tag_scope(principal), replace=replace_all)
            return (await self.view(tx, principal, [device]))[0]
