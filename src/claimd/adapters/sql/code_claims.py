"""SQL of the LoRaWAN claim-code proof (services/claiming/lorawan_code.py): the locked target (the
device with its LoRaWAN identity and code digest), the customer's applications, and what a claim by
code spends (the code, the device filed in the owner's application).

A mixin of :class:`claimd.adapters.sql.repository.SqlRepository` (same connection, same transaction).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import bindparam, exists, insert, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from claimd.adapters.sql.claims import SpendSql, register_spend
from claimd.adapters.sql.lorawan import IDENTITY_COLUMNS, WITH_APPLICATION, lorawan_identity
from claimd.adapters.sql.rows import device_row
from claimd.adapters.sql.tables import devices, lorawan_applications, lorawan_identities, users
from claimd.domain.lorawan import EndDeviceIdTaken
from claimd.services.claiming.lorawan_code import CodeSpend, LorawanTarget
from claimd.services.claiming.ports import ClaimWrites

_L = lorawan_identities.c
_A = lorawan_applications.c

_TARGET = (
    select(
        devices,
        *IDENTITY_COLUMNS,
        _L.code_digest,
        exists().where(users.c.id == bindparam("actor")).label("actor_exists"),
    )
    .select_from(WITH_APPLICATION)
    .where(_L.tenant_id == bindparam("tenant_id"), _L.dev_eui == bindparam("dev_eui"))
    .with_for_update(of=devices)
)
_FIND_APPLICATION = select(_A.id).where(
    _A.customer_id == bindparam("customer_id"), _A.application_id == bindparam("application_id")
)


def _spend_statements(only_if: Any) -> dict[str, Any]:
    return {
        "filed": update(lorawan_identities)
        .where(_L.device_id == bindparam("b_device_id"), only_if)
        .values(
            code_spent_at=bindparam("new_claimed_at"),
            application=bindparam("b_application"),
            app_device_id=bindparam("b_app_device_id"),
        )
    }


def _params(spend: CodeSpend, writes: ClaimWrites | None) -> dict[str, Any]:
    return {"b_application": str(spend.application), "b_app_device_id": spend.app_device_id}


def _taken(spend: CodeSpend) -> Exception:
    return EndDeviceIdTaken(
        f"the application already has a device `{spend.app_device_id}`; choose another target_device_id"
    )


register_spend(CodeSpend, SpendSql(_spend_statements, lambda spend: ("filed",), _params, _taken))
_FILE = _spend_statements(true())["filed"]  # the same write, for a device already its owner's


class CodeClaimQueries:
    conn: AsyncConnection

    async def lock_lorawan_target(self, tenant_id: uuid.UUID, dev_eui: str, actor: uuid.UUID) -> LorawanTarget | None:
        row = (
            await self.conn.execute(_TARGET, {"tenant_id": str(tenant_id), "dev_eui": dev_eui, "actor": str(actor)})
        ).first()
        if row is None:
            return None
        return LorawanTarget(device_row(row), lorawan_identity(row), bytes(row.code_digest), bool(row.actor_exists))

    async def ensure_application(
        self, tenant_id: uuid.UUID, customer_id: uuid.UUID, application_id: str, now_ms: int
    ) -> uuid.UUID:
        params = {"customer_id": str(customer_id), "application_id": application_id}
        found = (await self.conn.execute(_FIND_APPLICATION, params)).scalar()
        if found is not None:
            return uuid.UUID(found)
        new_id = uuid.uuid4()
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(
                    insert(lorawan_applications).values(
                        id=str(new_id), tenant_id=str(tenant_id), created_time=now_ms, **params
                    )
                )
        except IntegrityError:  # another claim made it first (PostgreSQL, READ COMMITTED)
            return uuid.UUID((await self.conn.execute(_FIND_APPLICATION, params)).scalar_one())
        return new_id

    async def spend_code(self, device_id: uuid.UUID, now_ms: int, spend: CodeSpend) -> None:
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(
                    _FILE, {"b_device_id": str(device_id), "new_claimed_at": now_ms, **_params(spend, None)}
                )
        except IntegrityError as exc:
            raise _taken(spend) from exc
