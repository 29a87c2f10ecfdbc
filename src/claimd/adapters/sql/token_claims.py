"""SQL of the claim-token proof (services/claiming/token.py): the locked token target, challenges,
voided nonces, and what a granted token claim spends (its nonce, the challenge, the firmware it
teaches).

A mixin of :class:`claimd.adapters.sql.repository.SqlRepository` (same connection, same transaction).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import bindparam, delete, exists, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from claimd.adapters.sql.claims import SpendSql, register_spend
from claimd.adapters.sql.rows import device_row
from claimd.adapters.sql.tables import claim_challenges, device_identities, devices, used_nonces, users
from claimd.services.claiming.ports import ClaimWrites
from claimd.services.claiming.token import NonceSpend, TokenTarget

# Built once: building and keying a statement costs more CPU than SQLite takes to run it (~0.3 ms
# for the token target), and a bulk job runs them per row.
_TOKEN_TARGET = (
    select(
        devices,
        device_identities.c.public_key.label("public_key"),
        exists()
        .where(used_nonces.c.device_id == devices.c.id, used_nonces.c.nonce == bindparam("nonce"))
        .label("nonce_used"),
        select(claim_challenges.c.user_id)
        .where(claim_challenges.c.nonce == bindparam("nonce"))
        .scalar_subquery()
        .label("challenge_user"),
        select(claim_challenges.c.expires_at)
        .where(claim_challenges.c.nonce == bindparam("nonce"))
        .scalar_subquery()
        .label("challenge_expiry"),
        exists().where(users.c.id == bindparam("actor")).label("actor_exists"),
    )
    .join(device_identities, device_identities.c.device_id == devices.c.id)
    .where(devices.c.id == bindparam("device_id"), devices.c.tenant_id == bindparam("tenant_id"))
    .with_for_update(of=devices)
)


def _spend_statements(only_if: Any) -> dict[str, Any]:
    identities, challenges = device_identities.c, claim_challenges.c
    return {
        "nonce": insert(used_nonces).from_select(
            ["device_id", "nonce", "used_at"],
            select(
                bindparam("b_device_id", type_=used_nonces.c.device_id.type),
                bindparam("spent_nonce", type_=used_nonces.c.nonce.type),
                bindparam("new_claimed_at", type_=used_nonces.c.used_at.type),
            ).where(only_if),
        ),
        # single-use: a spent challenge is expired (its row stays, so that a reuse hears why)
        "challenge": update(claim_challenges)
        .where(challenges.nonce == bindparam("spent_nonce"), only_if)
        .values(expires_at=bindparam("challenge_spent_at")),
        "firmware": update(device_identities)
        .where(identities.device_id == bindparam("b_device_id"), identities.firmware_id.is_(None), only_if)
        .values(firmware_id=bindparam("new_firmware_id")),
    }


def _parts(spend: NonceSpend) -> tuple[str, ...]:
    return (
        "nonce",
        *(("challenge",) if spend.challenge_answered else ()),
        *(("firmware",) if spend.firmware_id is not None else ()),
    )


def _params(spend: NonceSpend, writes: ClaimWrites) -> dict[str, Any]:
    return {
        "spent_nonce": spend.nonce,
        "challenge_spent_at": writes.now_ms - 1,
        "new_firmware_id": str(spend.firmware_id) if spend.firmware_id else None,
    }


register_spend(NonceSpend, SpendSql(_spend_statements, _parts, _params))


class TokenClaimQueries:
    conn: AsyncConnection

    async def lock_token_target(
        self, tenant_id: uuid.UUID, device_id: uuid.UUID, nonce: bytes, actor: uuid.UUID
    ) -> TokenTarget | None:
        row = (
            await self.conn.execute(
                _TOKEN_TARGET,
                {"nonce": nonce, "actor": str(actor), "device_id": str(device_id), "tenant_id": str(tenant_id)},
            )
        ).first()
        if row is None:
            return None
        return TokenTarget(
            device=device_row(row),
            public_key=bytes(row.public_key),
            nonce_used=bool(row.nonce_used),
            challenge_user=uuid.UUID(row.challenge_user) if row.challenge_user else None,
            challenge_expires_at=row.challenge_expiry,
            actor_exists=bool(row.actor_exists),
        )

    async def add_challenge(
        self, nonce: bytes, tenant_id: uuid.UUID, user_id: uuid.UUID, expires_at: int, purge_before: int
    ) -> None:
        await self.conn.execute(delete(claim_challenges).where(claim_challenges.c.expires_at < purge_before))
        await self.conn.execute(
            insert(claim_challenges).values(
                nonce=nonce, tenant_id=str(tenant_id), user_id=str(user_id), expires_at=expires_at
            )
        )

    async def void_nonce(self, device_id: uuid.UUID, nonce: bytes, now_ms: int) -> None:
        """Record a claim token's nonce as used without a claim (the token of a refused bulk row), as a
        claim records it: a token carrying it is refused as replayed. Already recorded: nothing to do."""
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(
                    insert(used_nonces).values(device_id=str(device_id), nonce=nonce, used_at=now_ms)
                )
        except IntegrityError:  # recorded already (or the device is gone): spent either way
            pass
