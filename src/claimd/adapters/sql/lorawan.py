"""SQL of LoRaWAN devices: identities with their code digests, and the customers' applications
(the claim by code is in code_claims.py).

A mixin of :class:`claimd.adapters.sql.repository.SqlRepository` (same connection, same transaction).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from claimd.adapters.sql.rows import device_row
from claimd.adapters.sql.tables import devices, lorawan_applications, lorawan_identities
from claimd.domain.lorawan import DevEuiTaken, LorawanIdentity
from claimd.domain.model import Device

_L = lorawan_identities.c
_A = lorawan_applications.c
# The identity's columns under names that do not collide with the device's.
IDENTITY_COLUMNS = [
    _L.dev_eui,
    _L.join_eui,
    _L.vendor_id,
    _L.profile_id,
    _L.serial,
    _L.valid_from,
    _L.valid_to,
    _L.code_spent_at,
    _L.app_device_id,
    _L.created_time.label("lw_created_time"),
    _A.application_id.label("lw_application_id"),
]
WITH_APPLICATION = lorawan_identities.join(devices, devices.c.id == _L.device_id).outerjoin(
    lorawan_applications, _A.id == _L.application
)


def lorawan_identity(row: Any) -> LorawanIdentity:
    return LorawanIdentity(
        device_id=uuid.UUID(row.id),
        tenant_id=uuid.UUID(row.tenant_id),
        dev_eui=row.dev_eui,
        join_eui=row.join_eui,
        created_time=row.lw_created_time,
        vendor_id=row.vendor_id,
        profile_id=row.profile_id,
        serial=row.serial,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        code_spent_at=row.code_spent_at,
        # a customer's deletion deletes its applications and nulls ``application`` only: its id goes too
        application_id=row.lw_application_id,
        app_device_id=row.app_device_id if row.lw_application_id is not None else None,
    )


class LorawanQueries:
    conn: AsyncConnection

    async def add_lorawan(self, identity: LorawanIdentity, code_digest: bytes) -> None:
        values = {
            "device_id": str(identity.device_id),
            "tenant_id": str(identity.tenant_id),
            "dev_eui": identity.dev_eui,
            "join_eui": identity.join_eui,
            "code_digest": code_digest,
            "valid_from": identity.valid_from,
            "valid_to": identity.valid_to,
            "vendor_id": identity.vendor_id,
            "profile_id": identity.profile_id,
            "serial": identity.serial,
            "created_time": identity.created_time,
        }
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(insert(lorawan_identities), values)
        except IntegrityError as exc:
            raise DevEuiTaken(f"a device with DevEUI {identity.dev_eui} is already registered") from exc

    async def get_lorawan_of(self, device_id: uuid.UUID) -> LorawanIdentity | None:
        """A device's LoRaWAN identity (never its code digest), with its owner's application id."""
        row = (
            await self.conn.execute(
                select(devices, *IDENTITY_COLUMNS).select_from(WITH_APPLICATION).where(_L.device_id == str(device_id))
            )
        ).first()
        return lorawan_identity(row) if row else None

    async def get_lorawan(self, tenant_id: uuid.UUID, dev_eui: str) -> tuple[Device, LorawanIdentity] | None:
        row = (
            await self.conn.execute(
                select(devices, *IDENTITY_COLUMNS)
                .select_from(WITH_APPLICATION)
                .where(_L.tenant_id == str(tenant_id), _L.dev_eui == dev_eui)
            )
        ).first()
        return (device_row(row), lorawan_identity(row)) if row else None

    async def set_code(
        self, device_id: uuid.UUID, code_digest: bytes, valid_from: int | None, valid_to: int | None
    ) -> None:
        await self.conn.execute(
            update(lorawan_identities)
            .where(_L.device_id == str(device_id))
            .values(code_digest=code_digest, valid_from=valid_from, valid_to=valid_to, code_spent_at=None)
        )

    async def leave_application(self, device_id: uuid.UUID) -> None:
        await self.conn.execute(
            update(lorawan_identities)
            .where(_L.device_id == str(device_id), _L.application.is_not(None))
            .values(application=None, app_device_id=None)
        )

    def _in_application(self, customer_id: uuid.UUID, application_id: str) -> Any:
        return (
            select(devices, *IDENTITY_COLUMNS)
            .select_from(WITH_APPLICATION)
            .where(
                _A.customer_id == str(customer_id),
                _A.application_id == application_id,
                devices.c.customer_id == str(customer_id),
            )
        )

    async def lorawan_in_application(
        self, customer_id: uuid.UUID, application_id: str, app_device_ids: list[str]
    ) -> dict[str, tuple[Device, LorawanIdentity]]:
        if not app_device_ids:
            return {}
        rows = await self.conn.execute(
            self._in_application(customer_id, application_id).where(_L.app_device_id.in_(app_device_ids))
        )
        return {r.app_device_id: (device_row(r), lorawan_identity(r)) for r in rows}

    async def list_lorawan(
        self, customer_id: uuid.UUID, application_id: str, offset: int, limit: int
    ) -> tuple[list[tuple[Device, LorawanIdentity]], int]:
        query = self._in_application(customer_id, application_id)
        total = (await self.conn.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
        rows = await self.conn.execute(query.order_by(_L.app_device_id).offset(offset).limit(limit))
        return [(device_row(r), lorawan_identity(r)) for r in rows], total

    async def list_applications(self, customer_id: uuid.UUID) -> list[tuple[str, int, int]]:
        rows = await self.conn.execute(
            select(_A.application_id, _A.created_time, func.count(_L.device_id))
            .select_from(lorawan_applications.outerjoin(lorawan_identities, _L.application == _A.id))
            .where(_A.customer_id == str(customer_id))
            .group_by(_A.id, _A.application_id, _A.created_time)
            .order_by(_A.application_id)
        )
        return [(r[0], r[1], r[2]) for r in rows]

    async def known_join_euis(self, tenant_id: uuid.UUID, join_euis: list[str]) -> set[str]:
        if not join_euis:
            return set()
        rows = await self.conn.execute(
            select(_L.join_eui).distinct().where(_L.tenant_id == str(tenant_id), _L.join_eui.in_(join_euis))
        )
        return {r[0] for r in rows}
