"""The console's view of a fleet (tenant admins): the devices in (name, id) order by keyset with
filters, one device with everything but its secrets, and the audit log searched by keyset. Built to
answer a page within 200 ms at a million devices (bench/console_devices.py): no OFFSET, no count."""

from __future__ import annotations

import json
import uuid

from claimd.domain.claiming import CLAIMING_DATA
from claimd.domain.device_list import (
    AUDIT_PAGE,
    DEVICE_PAGE,
    MAX_PAGE,
    AuditCursor,
    AuditQuery,
    AuditSearchPage,
    DeviceCursor,
    DeviceDetail,
    DeviceListItem,
    DeviceListPage,
    DeviceQuery,
    KeyAttribute,
)
from claimd.domain.errors import InvalidArgument, NotFound
from claimd.domain.model import AttributeScope, Principal
from claimd.services.devices import require_tenant_admin
from claimd.services.stores import Repository
from claimd.services.uow import UnitOfWorkFactory


class FleetService:
    def __init__(self, uow: UnitOfWorkFactory[Repository]) -> None:
        self.uow = uow

    async def browse(
        self,
        principal: Principal,
        query: DeviceQuery,
        after: DeviceCursor | None = None,
        page_size: int = DEVICE_PAGE,
    ) -> DeviceListPage:
        """One page of the tenant's devices in (name, id) order, after ``after`` (keyset paging: no
        OFFSET, no count). Tenant admins only, as the REST tenant device list."""
        require_tenant_admin(principal)
        if not 1 <= page_size <= MAX_PAGE:
            raise InvalidArgument(f"Page size must be between 1 and {MAX_PAGE}")
        async with self.uow() as tx:
            if (
                query.customer_id is not None
                and await tx.repo.get_customer(principal.tenant_id, query.customer_id) is None
            ):
                raise NotFound()
            rows = await tx.repo.list_devices_after(principal.tenant_id, query, after, page_size + 1)
            shown = rows[:page_size]
            names = await tx.repo.device_tag_names([d.id for d, _ in shown], principal.tenant_id)
        items = [DeviceListItem(d, owner, tuple(names.get(d.id, ()))) for d, owner in shown]
        last = shown[-1][0] if len(rows) > page_size else None
        return DeviceListPage(items, (last.name, last.id) if last is not None else None)

    async def detail(self, principal: Principal, device_id: uuid.UUID, history: int = AUDIT_PAGE) -> DeviceDetail:
        """One device for the console: owner, identities, claim key state, attributes and the latest
        ``history`` audit rows (as the REST audit log lists them). Never a secret: the
        stored ``claimingData`` is shown only as "a key is set" and its expiry."""
        require_tenant_admin(principal)
        async with self.uow() as tx:
            device = await tx.repo.get_device(principal.tenant_id, device_id)
            if device is None:
                raise NotFound()
            customer = (
                await tx.repo.get_customer(principal.tenant_id, device.customer_id) if device.customer_id else None
            )
            claimer = await tx.repo.get_user(device.claimed_by) if device.claimed_by else None
            names = await tx.repo.device_tag_names([device.id], principal.tenant_id)
            lorawan = await tx.repo.get_lorawan_of(device.id)
            identity = await tx.repo.get_identity(principal.tenant_id, device.id)
            stored = await tx.repo.get_attributes(device.id, None, None)
            in_sql = self.uow.windows_need_write
            window = await tx.repo.sql_window_expiry(device.id) if in_sql else None
            events = await tx.repo.list_audit(principal.tenant_id, device.id, 0, history)
        key: KeyAttribute | None = None
        shown: list[tuple[str, str, str]] = []
        for scope, attribute in stored:
            if attribute.key == CLAIMING_DATA and scope == AttributeScope.SERVER_SCOPE.value:
                value = attribute.value if isinstance(attribute.value, dict) else {}
                expiry = value.get("expirationTime")
                key = KeyAttribute(attribute.secret_digest is not None, expiry if isinstance(expiry, int) else None)
            elif attribute.secret_digest is None:
                shown.append((scope, attribute.key, json.dumps(attribute.value)))
        return DeviceDetail(
            device=device,
            owner=customer.title if customer else None,
            claimed_by=claimer.email if claimer else None,
            tags=tuple(names.get(device.id, ())),
            lorawan=lorawan,
            identity=identity,
            claiming_data=key,
            window_expires_at=window,
            windows_in_sql=in_sql,
            attributes=shown,
            history=list(events.data),
        )

    async def audit_search(
        self,
        principal: Principal,
        query: AuditQuery,
        before: AuditCursor | None = None,
        page_size: int = AUDIT_PAGE,
    ) -> AuditSearchPage:
        """The tenant's audit log newest first, filtered by exact device name, action and outcome, by
        keyset (the last (time, id) shown). Tenant admins only, as the REST audit log."""
        require_tenant_admin(principal)
        if not 1 <= page_size <= MAX_PAGE:
            raise InvalidArgument(f"Page size must be between 1 and {MAX_PAGE}")
        async with self.uow() as tx:
            rows = await tx.repo.search_audit(principal.tenant_id, query, before, page_size + 1)
        shown = rows[:page_size]
        last = shown[-1] if len(rows) > page_size else None
        return AuditSearchPage(shown, (last.created_time, last.id) if last is not None else None)
