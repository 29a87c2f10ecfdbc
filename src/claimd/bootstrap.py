"""The one place that builds adapters and services from settings."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from claimd.adapters.attestation import Es256IdentityKeys, public_key_der
from claimd.adapters.cpu import ProcessPool
from claimd.adapters.crypto import AesGcmSealer, Argon2PasswordHasher, HmacSecretHasher, JwtCodec, new_token
from claimd.adapters.limits import MemoryFailureLimiter, RedisFailureLimiter
from claimd.adapters.metrics import PrometheusMetrics
from claimd.adapters.qrimage import new_claim_code
from claimd.adapters.sql.database import Database, normalize_url, open_database
from claimd.adapters.sql.migrations import upgrade
from claimd.adapters.sql.server_secret import record_fingerprint, recorded_fingerprint
from claimd.adapters.sql.uow import SqlUnitOfWorkFactory
from claimd.config import SettingError, Settings
from claimd.domain.bulk import BulkEndpoint
from claimd.domain.lockout import Lockout
from claimd.services.access import AccessService
from claimd.services.accounts import AccountService
from claimd.services.bulk import BulkService
from claimd.services.bulk_rows import row_handlers
from claimd.services.claiming import ClaimPolicy, ClaimService
from claimd.services.device_import import CHUNK_ROWS, SQLITE_CHUNK_ROWS, DeviceImportService, RowMaker
from claimd.services.devices import DeviceService
from claimd.services.directory import DirectoryService
from claimd.services.fleet import FleetService
from claimd.services.gateways import GatewayService
from claimd.services.guesses import Guesses, GuessPolicy
from claimd.services.lorawan import LorawanService
from claimd.services.overview import OverviewService
from claimd.services.ownership import OwnershipService
from claimd.services.ports import Clock, FailureLimiter
from claimd.services.provisioning import ProvisioningService
from claimd.services.uow import ClaimWindows

log = logging.getLogger("claimd")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def secret_file_for(database_url: str) -> Path:
    """Where a generated server secret is kept: beside a SQLite file, else in the working directory."""
    url = make_url(normalize_url(database_url))
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database + ".secret").absolute()
    return Path("claimd.secret").absolute()


FINGERPRINT_LABEL = b"claimd server secret fingerprint v1"


def secret_fingerprint(secret: bytes) -> bytes:
    """A keyed digest of a fixed label: tells two secrets apart without keeping either."""
    return hmac.new(secret, FINGERPRINT_LABEL, hashlib.sha256).digest()


async def load_server_secret(settings: Settings, database: Database, clock: Clock = now_ms) -> bytes:
    """The server secret, from CLAIMD_SECRET or its file, checked against the fingerprint the database
    recorded on its first start. Device tokens, sealed rows and JWTs only work with the secret that made
    them, so a database started with another secret is refused, and a database that has a fingerprint
    never gets a newly generated secret (the file is simply elsewhere: another working directory)."""
    recorded = await recorded_fingerprint(database)
    path = secret_file_for(settings.database_url)
    generated = False
    if settings.secret is not None:
        value, source = settings.secret.get_secret_value().encode(), "the value of CLAIMD_SECRET"
    elif path.exists():
        try:
            value, source = path.read_bytes().strip(), f"the secret in {path}"
        except OSError as exc:
            raise SettingError(f"CLAIMD_SECRET is not set and {path} cannot be read ({exc.strerror})") from None
    elif recorded is not None:
        raise SettingError(
            f"CLAIMD_SECRET is not set and {path} does not exist, but this database was first "
            "started with a server secret: set CLAIMD_SECRET to it (or restore that file)"
        )
    else:
        value, source, generated = secrets.token_urlsafe(32).encode(), f"the secret generated in {path}", True
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(value)
    if not value:
        raise SettingError(f"CLAIMD_SECRET: {source} is empty")
    fingerprint = secret_fingerprint(value)
    if recorded is None:
        recorded = await record_fingerprint(database, fingerprint, clock())
    if not hmac.compare_digest(recorded, fingerprint):
        if generated:
            path.unlink()
        raise SettingError(
            f"CLAIMD_SECRET: {source} is not the server secret this database was first started "
            f"with (looked in {path} when CLAIMD_SECRET is unset); set CLAIMD_SECRET to that secret"
        )
    if generated:
        log.warning("generated a server secret in %s: back it up with the database (or set CLAIMD_SECRET)", path)
    return value


async def open_store(database_url: str, pool_size: int = 20) -> Database:
    """Open the database and connect once, so that a wrong CLAIMD_DATABASE_URL is one line naming it and
    the cause (never its password) instead of a driver's traceback."""
    try:
        url = make_url(database_url)
    except (ArgumentError, ValueError):
        raise SettingError(
            "CLAIMD_DATABASE_URL: not a database URL (expected sqlite:///path/claimd.db or "
            "postgresql://user@host/database)"
        ) from None
    shown = f"CLAIMD_DATABASE_URL={url.render_as_string(hide_password=True)}"
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise SettingError(f"{shown}: {url.get_backend_name()} is not supported (use sqlite:///… or postgresql://…)")
    if url.get_backend_name() == "sqlite" and (not url.database or url.database == ":memory:"):
        raise SettingError(
            f"{shown}: an in-memory SQLite database is not supported; name a file (sqlite:///path/claimd.db)"
        )
    if url.get_backend_name() == "sqlite" and url.database:  # (a missing name was refused above)
        folder = Path(url.database).absolute().parent  # noqa: ASYNC240 -- at startup, before anything else runs
        if not folder.is_dir():
            raise SettingError(f"{shown}: cannot open the database: the directory {folder} does not exist")
    try:
        database = open_database(database_url, pool_size=pool_size)
    except (ArgumentError, ImportError, TypeError, ValueError) as exc:
        raise SettingError(f"{shown}: cannot use it ({exc})") from None
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_S), database.writer.connect():
            pass
    except BaseException as exc:
        await database.dispose()
        if not isinstance(exc, Exception):
            raise
        # aiosqlite stops a connection that failed to open from its thread without waiting for it; give
        # the thread its moment, or it reports into a closed event loop with a traceback of its own.
        await asyncio.sleep(0.1)
        raise SettingError(f"{shown}: cannot open the database: {_cause(exc, url)}") from None
    return database


CONNECT_TIMEOUT_S = 15


async def open_redis(redis_url: str) -> Any:
    """Connect to Redis once at start, as to the database: a wrong CLAIMD_REDIS_URL is one line, not a
    failure at the first claim."""
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    try:
        url = make_url(redis_url)
        shown = f"CLAIMD_REDIS_URL={url.render_as_string(hide_password=True)}"
        redis = Redis.from_url(redis_url)
    except (ArgumentError, ValueError):
        raise SettingError("CLAIMD_REDIS_URL: not a Redis URL (expected redis://host:6379/0 or rediss://…)") from None
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            await redis.ping()
    except (RedisError, OSError, TimeoutError) as exc:
        await redis.aclose()
        cause = exc.__cause__ if isinstance(exc.__cause__, ConnectionRefusedError) else exc
        if isinstance(cause, ConnectionRefusedError) or "refused" in str(exc).lower():
            reason = f"connection refused by {url.host}:{url.port or 6379}"
        else:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SettingError(f"{shown}: cannot reach Redis: {reason}") from None
    return redis


def _cause(exc: Exception, url: URL) -> str:
    where = f"{url.host or 'localhost'}:{url.port or 5432}"
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return str(exc.orig).splitlines()[0]
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused by {where}"
    if isinstance(exc, socket.gaierror):
        return f"unknown host {url.host}"
    if isinstance(exc, TimeoutError):
        return f"no answer from {where} within {CONNECT_TIMEOUT_S} s"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


@dataclass
class Container:
    settings: Settings
    database: Database
    claims: ClaimService
    devices: DeviceService
    accounts: AccountService
    directory: DirectoryService
    gateways: GatewayService
    ownership: OwnershipService
    bulk: BulkService
    imports: DeviceImportService
    cpu: ProcessPool  # the worker process of CPU-bound work (a fleet import's chunks)
    access: AccessService
    provisioning: ProvisioningService
    lorawan: LorawanService
    overview: OverviewService
    fleet: FleetService
    tokens: JwtCodec
    redis: object | None = None
    metrics: PrometheusMetrics = field(default_factory=PrometheusMetrics)  # GET /metrics

    async def close(self) -> None:
        self.cpu.close()
        if self.redis is not None:
            await self.redis.aclose()  # type: ignore[attr-defined]
        await self.database.dispose()


async def build(settings: Settings, *, clock: Clock = now_ms, migrate: bool = True) -> Container:
    """Open the stores, run migrations, and wire the services."""
    database = await open_store(settings.database_url, pool_size=settings.db_pool_size)
    try:
        if migrate:
            await upgrade(database)
        server_secret = await load_server_secret(settings, database, clock)
    except BaseException:
        await database.dispose()
        raise
    windows: ClaimWindows | None = None
    limiter: FailureLimiter = MemoryFailureLimiter()
    redis = None
    if settings.redis_url:
        from claimd.adapters.windows import RedisClaimWindows

        try:
            redis = await open_redis(settings.redis_url)
        except BaseException:
            await database.dispose()
            raise
        windows = RedisClaimWindows(redis, settings.redis_prefix)
        limiter = RedisFailureLimiter(redis, settings.redis_prefix)
    uow = SqlUnitOfWorkFactory(database, windows)
    hasher = HmacSecretHasher(server_secret)
    tokens = JwtCodec(server_secret)
    metrics = PrometheusMetrics()
    lockout = Lockout(0, settings.claim_lockout_base_ms, settings.claim_lockout_max_s * 1000)
    policy = ClaimPolicy(
        settings.allow_claiming_by_default,
        settings.claim_duration_ms,
        settings.challenge_ttl_s * 1000,
        settings.require_challenge,
    )
    guesses = Guesses(
        limiter,
        GuessPolicy(
            device=replace(lockout, free=settings.claim_lockout_free_device),
            user=replace(lockout, free=settings.claim_lockout_free_user),
            address=replace(lockout, free=settings.claim_lockout_free_address),
            account=replace(lockout, free=settings.login_lockout_free_account),
        ),
        clock,
        metrics,
    )
    keys = Es256IdentityKeys()
    claims = ClaimService(uow, hasher, policy, clock, keys, guesses, metrics)
    sealer = AesGcmSealer(server_secret)
    devices = DeviceService(uow, hasher, sealer, clock, new_token)
    accounts = AccountService(uow, hasher, Argon2PasswordHasher(), tokens, clock, guesses)
    ownership = OwnershipService(uow, devices, keys, clock)
    rows = row_handlers(claims, ownership)
    cpu = ProcessPool()
    imports = DeviceImportService(
        uow,
        RowMaker(hasher, sealer, public_key_der, new_token, new_claim_code),
        cpu,
        clock,
        chunk_rows=SQLITE_CHUNK_ROWS if database.is_sqlite else CHUNK_ROWS,
    )
    bulk = BulkService(
        uow,
        accounts,
        clock,
        rows.work,
        sealer,
        hasher,
        settings.bulk_lease_s * 1000,
        rows.refusals,
        metrics,
        {BulkEndpoint.IMPORT_DEVICES: imports},
    )
    return Container(
        settings=settings,
        database=database,
        claims=claims,
        devices=devices,
        accounts=accounts,
        directory=DirectoryService(uow, accounts, clock),
        gateways=GatewayService(devices, claims),
        ownership=ownership,
        bulk=bulk,
        imports=imports,
        cpu=cpu,
        access=AccessService(uow, hasher, accounts, clock, guesses),
        provisioning=ProvisioningService(uow, sealer, keys, clock),
        lorawan=LorawanService(uow, hasher, devices, claims, clock, new_claim_code),
        overview=OverviewService(uow, clock),
        fleet=FleetService(uow),
        tokens=tokens,
        redis=redis,
        metrics=metrics,
    )
