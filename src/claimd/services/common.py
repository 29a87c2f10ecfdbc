"""Small pieces every use case shares: where a request came from, the audit event, paging bounds."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

from claimd.domain import inputs
from claimd.domain.errors import ClaimdError, InvalidArgument, PermissionDenied
from claimd.domain.model import AuditAction, AuditEvent, Device, Door, Principal
from claimd.domain.roles import Permission

MAX_PAGE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class Origin:
    """Which way a request came in and from where, for the audit log."""

    door: Door
    source: str | None = None


def audit_event(
    action: AuditAction,
    outcome: str,
    origin: Origin,
    device: Device,
    principal: Principal | None,
    now: int,
    detail: str | None = None,
) -> AuditEvent:
    return AuditEvent(
        id=uuid.uuid4(),
        tenant_id=device.tenant_id,
        created_time=now,
        action=action,
        outcome=outcome,
        door=origin.door,
        user_id=principal.user_id if principal else None,
        customer_id=principal.customer_id if principal and principal.customer_id else device.customer_id,
        device_id=device.id,
        device_name=device.name,
        source=origin.source,
        detail=detail,
    )


def require(principal: Principal, *permissions: Permission) -> None:
    """PermissionDenied unless the caller's role holds every one of ``permissions``."""
    for permission in permissions:
        if not principal.can(permission):
            raise PermissionDenied(f"Your role does not allow this ({permission})")


class OwnerStore(Protocol):
    """What changing a device's owner writes."""

    async def set_owner(self, device_id: uuid.UUID, customer_id: uuid.UUID | None) -> None: ...
    async def cancel_open_commands(
        self, now_ms: int, *, device_id: uuid.UUID | None = None, customer_id: uuid.UUID | None = None
    ) -> None: ...
    async def leave_application(self, device_id: uuid.UUID) -> None: ...


async def change_owner(repo: OwnerStore, device: Device, customer_id: uuid.UUID | None, now_ms: int) -> None:
    """Give a device to another owner (or none): the old owner's open provisioning commands are
    cancelled, so the device is never sent a command its new owner did not queue, and the device
    leaves the old owner's LoRaWAN application."""
    await repo.set_owner(device.id, customer_id)
    if device.customer_id is not None and device.customer_id != customer_id:
        await repo.cancel_open_commands(now_ms, device_id=device.id)
        await repo.leave_application(device.id)


MAX_PAGE_INDEX = 2**31 - 1  # ThingsBoard's page index is a Java int; page × size still fits SQL's OFFSET


def check_page(page: int, page_size: int) -> None:
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidArgument(f"Page size must be between 1 and {MAX_PAGE_SIZE}")
    if not 0 <= page <= MAX_PAGE_INDEX:
        raise InvalidArgument(f"Page index must be between 0 and {MAX_PAGE_INDEX}")


def check_text(field: str, value: str | None, max_length: int = 255) -> str | None:
    """A stored text field (``None`` passes): the domain's text rule, at most ``max_length`` characters."""
    if value is None:
        return None
    return inputs.check_text(value, field, max_length=max_length)


@dataclass(frozen=True, slots=True)
class RowDone:
    """A bulk row being worked: its effect and its outcome commit in one transaction."""

    op_id: str
    index: int


class RowAlreadyDone(ClaimdError):
    def __init__(self) -> None:
        super().__init__("row already done")


class RowStore(Protocol):
    async def finish_row(
        self, op_id: str, index: int, ok: bool, device_id: uuid.UUID | None, message: str | None
    ) -> bool: ...


async def record_row(repo: RowStore, done: RowDone | None, device_id: uuid.UUID | None) -> None:
    """Inside a row's own transaction: mark the row OK. A row already done (a second worker raced
    past a lost lease) rolls the whole transaction back, so its effect is not applied twice."""
    if done is not None and not await repo.finish_row(done.op_id, done.index, True, device_id, None):
        raise RowAlreadyDone()
