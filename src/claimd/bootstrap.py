"""The one place that builds adapters and services from settings."""

from __future__ import annotations

import logging
import os
import secrets
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy.engine import make_url

from claimd.adapters.attestation import Es256IdentityKeys
from claimd.adapters.crypto import AesGcmSealer, Argon2PasswordHasher, HmacSecretHasher, JwtCodec, new_token
from claimd.adapters.sql.database import Database, normalize_url, open_database
from claimd.adapters.sql.migrations import upgrade
from claimd.adapters.sql.repository import SqlUnitOfWorkFactory
from claimd.config import Settings
from claimd.domain.bulk import BulkEndpoint, BulkOp, BulkRow, claim_row, identity_row, lorawan_claim_row
from claimd.domain.lorawan import Lockout
from claimd.domain.errors import InvalidArgument
from claimd.domain.model import Principal
from claimd.domain.ownership import parse_tags
from claimd.services.access import AccessService
from claimd.services.accounts import AccountService
from claimd.services.claims import ClaimPolicy, ClaimService, CodeProof
from claimd.services.devices import DeviceService
from claimd.services.gateways import GatewayService
from claimd.services.bulk import BULK, BulkService, RowHandler
from claimd.services.common import RowDone
from claimd.services.ownership import IdentityDraft, OwnershipService
from claimd.services.ports import ClaimWindows, Clock, FailureLimiter
from claimd.services.lorawan import LorawanService, proof_from_qr
from claimd.services.provisioning import ProvisioningService
from claimd.adapters.limits import MemoryFailureLimiter, RedisFailureLimiter
from claimd.adapters.qrimage import new_claim_code

log = logging.getLogger("claimd")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def secret_file_for(database_url: str) -> Path:
    """Where a generated server secret is kept: beside a SQLite file, else in the working directory."""
    url = make_url(normalize_url(database_url))
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database + ".secret")
    return Path("claimd.secret")


def load_server_secret(settings: Settings) -> bytes:
    if settings.secret:
        return settings.secret.encode()
    path = secret_file_for(settings.database_url)
    if path.exists():
        return path.read_bytes().strip()
    value = secrets.token_urlsafe(32).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(value)
    log.warning("generated a server secret in %s (set CLAIMD_SECRET to share one between nodes)", path)
    return value


def bulk_handlers(claims: ClaimService, ownership: OwnershipService) -> dict[BulkEndpoint, RowHandler]:
    """What one row of each kind of bulk upload does: the same service calls as a single request."""

    async def claim(principal: Principal, op: BulkOp, row: BulkRow, done: RowDone) -> uuid.UUID:
        token, tags = claim_row(row.line)
        return (await claims.claim_with_token(principal, token, tags, BULK, done=done)).device.id

    async def register(principal: Principal, op: BulkOp, row: BulkRow, done: RowDone) -> uuid.UUID:
        cells = identity_row(row.line)
        try:
            device_id = uuid.UUID(cells["id"])
            firmware = uuid.UUID(cells["firmwareId"]) if "firmwareId" in cells else None
        except ValueError:
            raise InvalidArgument("id and firmwareId must be UUIDs") from None
        draft = IdentityDraft(device_id, cells["publicKey"], cells.get("name"), cells.get("deviceType"), firmware,
                              cells.get("imei"), parse_tags(cells.get("tags")))
        return (await ownership.register_identity(principal, draft, done=done)).device.id

    async def claim_lorawan(principal: Principal, op: BulkOp, row: BulkRow, done: RowDone) -> uuid.UUID:
        proof_cells, application_id, device_id = lorawan_claim_row(row.line)
        proof = proof_from_qr(proof_cells[0]) if len(proof_cells) == 1 else CodeProof(*proof_cells)
        application_id = application_id or op.application_id
        if not application_id:
            raise InvalidArgument("the row names no application_id and the upload gave none (?application_id=)")
        return (await claims.claim_with_code(principal, proof, application_id, device_id, BULK, done=done)).device.id

    return {BulkEndpoint.CLAIM_DEVICE_OWNERSHIP: claim, BulkEndpoint.REGISTER_PUBLIC_KEYS: register,
            BulkEndpoint.CLAIM_LORAWAN_DEVICES: claim_lorawan}


@dataclass
class Container:
    settings: Settings
    database: Database
    claims: ClaimService
    devices: DeviceService
    accounts: AccountService
    gateways: GatewayService
    ownership: OwnershipService
    bulk: BulkService
    access: AccessService
    provisioning: ProvisioningService
    lorawan: LorawanService
    tokens: JwtCodec
    redis: object | None = None

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()  # type: ignore[attr-defined]
        await self.database.dispose()


async def build(settings: Settings, *, clock: Clock = now_ms, migrate: bool = True) -> Container:
    """Open the stores, run migrations, and wire the services."""
    server_secret = load_server_secret(settings)
    database = open_database(settings.database_url, pool_size=settings.db_pool_size)
    if migrate:
        await upgrade(database)
    windows: ClaimWindows | None = None
    limiter: FailureLimiter = MemoryFailureLimiter()
    redis = None
    if settings.redis_url:
        from redis.asyncio import Redis

        from claimd.adapters.windows import RedisClaimWindows

        redis = Redis.from_url(settings.redis_url)
        windows = RedisClaimWindows(redis, settings.redis_prefix)
        limiter = RedisFailureLimiter(redis, settings.redis_prefix)
    uow = SqlUnitOfWorkFactory(database, windows)
    hasher = HmacSecretHasher(server_secret)
    tokens = JwtCodec(server_secret)
    lockout = Lockout(0, settings.claim_lockout_base_ms, settings.claim_lockout_max_s * 1000)
    policy = ClaimPolicy(settings.allow_claiming_by_default, settings.claim_duration_ms,
                         settings.challenge_ttl_s * 1000, settings.require_challenge,
                         lockout_device=replace(lockout, free=settings.claim_lockout_free_device),
                         lockout_user=replace(lockout, free=settings.claim_lockout_free_user),
                         lockout_address=replace(lockout, free=settings.claim_lockout_free_address))
    keys = Es256IdentityKeys()
    claims = ClaimService(uow, hasher, policy, clock, keys, limiter)
    sealer = AesGcmSealer(server_secret)
    devices = DeviceService(uow, hasher, sealer, clock, new_token)
    accounts = AccountService(uow, hasher, Argon2PasswordHasher(), tokens, clock)
    ownership = OwnershipService(uow, devices, keys, clock)
    bulk = BulkService(uow, accounts, clock, bulk_handlers(claims, ownership), sealer, settings.bulk_lease_s * 1000)
    return Container(
        settings=settings,
        database=database,
        claims=claims,
        devices=devices,
        accounts=accounts,
        gateways=GatewayService(devices, claims),
        ownership=ownership,
        bulk=bulk,
        access=AccessService(uow, hasher, accounts, clock),
        provisioning=ProvisioningService(uow, sealer, keys, clock),
        lorawan=LorawanService(uow, hasher, devices, claims, clock, new_claim_code),
        tokens=tokens,
        redis=redis,
    )
