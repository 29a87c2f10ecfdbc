"""SQL of provisioning commands. A mixin of :class:`claimd.adapters.sql.repository.SqlRepository`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from claimd.adapters.sql.rows import device_row, str_or_none, uuid_or_none
from claimd.adapters.sql.tables import devices
from claimd.adapters.sql.tables import provisioning_commands as pc
from claimd.domain.model import Device
from claimd.domain.provisioning import CommandStatus, ProvisioningCommand

_OPEN = (CommandStatus.PENDING.value, CommandStatus.IN_PROGRESS.value)


def _command(row: Any) -> ProvisioningCommand:
    return ProvisioningCommand(
        id=uuid.UUID(row.id),
        tenant_id=uuid.UUID(row.tenant_id),
        device_id=uuid.UUID(row.device_id),
        customer_id=uuid_or_none(row.customer_id),
        position=row.position,
        kind=row.kind,
        description=row.description,
        request_sealed=row.request_sealed,
        steps=row.steps,
        steps_done=row.steps_done,
        status=CommandStatus(row.status),
        response=json.loads(row.response) if row.response else None,
        created_by=uuid_or_none(row.created_by),
        created_time=row.created_time,
        updated_time=row.updated_time,
        delivered_at=row.delivered_at,
    )


class ProvisioningQueries:
    conn: AsyncConnection

    async def lock_device(self, tenant_id: uuid.UUID, device_id: uuid.UUID) -> Device | None:
        row = (
            await self.conn.execute(
                select(devices)
                .where(devices.c.id == str(device_id), devices.c.tenant_id == str(tenant_id))
                .with_for_update()
            )
        ).first()
        return device_row(row) if row is not None else None

    async def command_queue(self, device_id: uuid.UUID, customer_id: uuid.UUID | None) -> tuple[int, int]:
        """(the owner's open commands, last position of any) of a device's queue."""
        mine = pc.c.customer_id.is_not_distinct_from(str_or_none(customer_id))
        row = (
            await self.conn.execute(
                select(
                    func.count().filter(pc.c.status.in_(_OPEN), mine), func.coalesce(func.max(pc.c.position), 0)
                ).where(pc.c.device_id == str(device_id))
            )
        ).one()
        return int(row[0]), int(row[1])

    async def add_command(self, command: ProvisioningCommand) -> None:
        await self.conn.execute(
            insert(pc).values(
                id=str(command.id),
                tenant_id=str(command.tenant_id),
                device_id=str(command.device_id),
                customer_id=str_or_none(command.customer_id),
                position=command.position,
                kind=command.kind,
                description=command.description,
                request_sealed=command.request_sealed,
                steps=command.steps,
                steps_done=command.steps_done,
                status=command.status.value,
                response=json.dumps(command.response) if command.response is not None else None,
                created_by=str_or_none(command.created_by),
                created_time=command.created_time,
                updated_time=command.updated_time,
                delivered_at=command.delivered_at,
            )
        )

    async def get_command(self, device_id: uuid.UUID, command_id: uuid.UUID) -> ProvisioningCommand | None:
        row = (
            await self.conn.execute(select(pc).where(pc.c.id == str(command_id), pc.c.device_id == str(device_id)))
        ).first()
        return _command(row) if row is not None else None

    async def list_commands(
        self, device_id: uuid.UUID, customer_id: uuid.UUID | None, status: str | None, after_position: int, limit: int
    ) -> tuple[list[ProvisioningCommand], int]:
        """A page of the owner's commands in queue order, and how many match in all."""
        where = [pc.c.device_id == str(device_id), pc.c.customer_id.is_not_distinct_from(str_or_none(customer_id))]
        if status is not None:
            where.append(pc.c.status == status)
        total = (await self.conn.execute(select(func.count()).select_from(pc).where(*where))).scalar_one()
        rows = await self.conn.execute(
            select(pc).where(*where, pc.c.position > after_position).order_by(pc.c.position).limit(limit)
        )
        return [_command(r) for r in rows], int(total)

    async def open_commands(
        self, device_id: uuid.UUID, customer_id: uuid.UUID | None, after_position: int, limit: int
    ) -> list[ProvisioningCommand]:
        rows = await self.conn.execute(
            select(pc)
            .where(
                pc.c.device_id == str(device_id),
                pc.c.status.in_(_OPEN),
                pc.c.customer_id.is_not_distinct_from(str_or_none(customer_id)),
                pc.c.position > after_position,
            )
            .order_by(pc.c.position)
            .limit(limit)
        )
        return [_command(r) for r in rows]

    async def commands_by_id(
        self, device_id: uuid.UUID, ids: Iterable[uuid.UUID]
    ) -> dict[uuid.UUID, ProvisioningCommand]:
        rows = await self.conn.execute(
            select(pc).where(pc.c.device_id == str(device_id), pc.c.id.in_([str(i) for i in ids]))
        )
        return {c.id: c for c in map(_command, rows)}

    async def mark_delivered(self, ids: list[uuid.UUID], now_ms: int) -> None:
        if ids:
            await self.conn.execute(
                update(pc)
                .where(pc.c.id.in_([str(i) for i in ids]), pc.c.status == CommandStatus.PENDING.value)
                .values(status=CommandStatus.IN_PROGRESS.value, delivered_at=now_ms, updated_time=now_ms)
            )

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
    ) -> bool:
        """Move a command that is in one of the ``expect`` states; False when it is not (any more)."""
        values: dict[str, Any] = {"status": status.value, "updated_time": now_ms}
        if steps_done is not None:
            values["steps_done"] = steps_done
        if position is not None:
            values["position"] = position
        if response is not None or clear_response:
            values["response"] = json.dumps(response) if response is not None else None
        if clear_response:
            values["delivered_at"] = None
        result = await self.conn.execute(
            update(pc).where(pc.c.id == str(command_id), pc.c.status.in_([s.value for s in expect])).values(**values)
        )
        return result.rowcount == 1

    async def cancel_open_commands(
        self, now_ms: int, *, device_id: uuid.UUID | None = None, customer_id: uuid.UUID | None = None
    ) -> None:
        """Cancel the open commands of a device, or of every device of a customer."""
        where = pc.c.device_id == str(device_id) if device_id is not None else pc.c.customer_id == str(customer_id)
        await self.conn.execute(
            update(pc)
            .where(where, pc.c.status.in_(_OPEN))
            .values(status=CommandStatus.CANCELLED.value, updated_time=now_ms)
        )
