"""Shared fixtures of claimd's test suite.

Fixtures (function-scoped unless noted: each test gets an empty store, its own Redis prefix and clock):

``clock``
    A :class:`FakeClock`: ``clock()`` returns epoch milliseconds, ``clock.advance(ms)`` moves it on.
    Expiry tests advance it instead of sleeping.

``backend``
    A :class:`claimd.config.Settings`, parametrized over the four stores claimd runs on:

    * ``sqlite``          a fresh SQLite file in ``tmp_path``;
    * ``postgres``        PostgreSQL: the session's database ``claimd_t_<hex>`` (see
                          ``postgres_database``), every row deleted before the test;
    * ``sqlite+redis``    SQLite, claim windows in Redis under a unique key prefix (deleted afterwards);
    * ``postgres+redis``  both.

    The PostgreSQL params carry the ``postgres`` marker and the Redis params the ``redis`` marker,
    so ``-m "not postgres"`` etc. select backends. When a server is unreachable its params are
    skipped, except when the environment variable ``CI`` is ``"true"``: then they fail.
    Where the servers are, and how they are checked, is said once, in ``tests/support/servers.py``
    (``CLAIMD_TEST_POSTGRES_URL``, ``CLAIMD_TEST_REDIS_URL``, :func:`servers.require_server`).

``postgres_database`` (session)
    The name of the PostgreSQL database the ``postgres`` backends share, created on first use and
    dropped ``WITH (FORCE)`` at the end of the session. (A database per test costs ~0.25 s to
    create here; deleting every row costs ~2 ms.)

``make_container`` / ``container``
    ``await make_container(settings=None, **overrides)`` builds a wired claimd
    (:func:`claimd.bootstrap.build`) on the test's backend and clock; every container built is
    closed at teardown. ``container`` is the one built from ``backend`` unchanged. Both hash
    passwords with :class:`FastPasswordHasher` (cheap argon2id) unless ``fast_passwords=False``.

``world``
    A :class:`World` made through the services: the first tenant's admin, two customers C1 and C2
    each with one activated customer user, and ``world.device(...)`` to provision devices.
    ``make_device`` is the same as ``world.device``; ``make_customer_user(admin, customer, email)``
    makes one more activated customer user.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from servers import REDIS_URL, in_thread, pg_admin, pg_url, require_server

from claimd.bootstrap import Container, build
from claimd.config import Settings
from claimd.domain.model import Authority, Customer, Device, Principal
from claimd.services.devices import DeviceDraft

#: Fixed server secret: tokens and digests are reproducible, and two containers built from the
#: same settings (two "processes") understand each other.
TEST_SECRET = "claimd-test-secret-0123456789abcdef"
#: Where FakeClock starts (2025-06-15T00:00:00Z), in epoch milliseconds.
CLOCK_START_MS = 1_749_945_600_000

ADMIN_EMAIL = "admin@tenant.test"
ADMIN_PASSWORD = "admin-password"
USER_PASSWORD = "user-password"


# clock -----------------------------------------------------------------------------------------
class FakeClock:
    """A controllable :data:`claimd.services.ports.Clock`: ``clock()`` is ``clock.now`` (epoch ms)."""

    def __init__(self, now: int = CLOCK_START_MS) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> int:
        """Move the clock ``ms`` milliseconds forward; returns the new time."""
        self.now += ms
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# backend ---------------------------------------------------------------------------------------
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    pytest.param("sqlite+redis", id="sqlite+redis", marks=pytest.mark.redis),
    pytest.param("postgres+redis", id="postgres+redis", marks=[pytest.mark.postgres, pytest.mark.redis]),
]


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """One PostgreSQL database ``claimd_t_<hex>`` for the whole session (dropped at its end).

    Creating a database costs ~0.25 s here, more than most tests, so the PostgreSQL backends share
    this one and :func:`_empty_postgres` deletes every row before each test. Its schema is made by
    claimd's own migrations, run by the first container built on it.
    """
    name = f"claimd_t_{secrets.token_hex(6)}"
    in_thread(lambda: asyncio.run(pg_admin(f'CREATE DATABASE "{name}"')))
    try:
        yield name
    finally:
        in_thread(lambda: asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')))


async def _empty_postgres(database: str) -> None:
    """Delete every row of every table but ``alembic_version`` (FK triggers off: any order works)."""
    import asyncpg

    conn = await asyncpg.connect(pg_url(database, "postgresql"), timeout=10)
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        )
        if tables:
            async with conn.transaction():
                await conn.execute("SET LOCAL lock_timeout = '10s'")
                await conn.execute("SET LOCAL session_replication_role = replica")
                for row in tables:
                    await conn.execute(f'DELETE FROM "{row["tablename"]}"')
    finally:
        await conn.close()


async def _delete_redis_prefix(prefix: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Settings]:
    """Settings for an empty store of the kind named by the param id (see the module docstring)."""
    kinds = request.param.split("+")
    for kind in kinds:
        if kind != "sqlite":
            require_server(kind)

    if "postgres" in kinds:
        database = request.getfixturevalue("postgres_database")
        await _empty_postgres(database)
        database_url = pg_url(database)
    else:
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'claimd.db'}"
    redis_prefix = f"claimd-test-{secrets.token_hex(6)}"

    # Every value a test may depend on is given explicitly, so CLAIMD_* variables of the
    # environment running the tests cannot change them.
    settings = Settings(
        database_url=database_url,
        redis_url=REDIS_URL if "redis" in kinds else None,
        redis_prefix=redis_prefix,
        secret=TEST_SECRET,
        allow_claiming_by_default=True,
        claim_duration_ms=86_400_000,
        admin_email=None,
        admin_password=None,
        db_pool_size=5,
    )
    try:
        yield settings
    finally:
        if "redis" in kinds:
            await _delete_redis_prefix(redis_prefix)


# containers ------------------------------------------------------------------------------------
class FastPasswordHasher:
    """argon2id at its lowest cost (1 pass, 1 MiB): ~1 ms instead of ~30 ms per hash.

    Every test logs users in and activates them; with the production profile that alone would be
    most of the suite's time. Hashes are still real argon2id, and verifying reads the parameters from
    the hash, so hashes made by :class:`claimd.adapters.crypto.Argon2PasswordHasher` verify too.
    """

    def __init__(self) -> None:
        import argon2

        self._hasher = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

    async def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    async def verify(self, password_hash: str, password: str) -> bool:
        from argon2.exceptions import InvalidHashError, VerificationError

        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


MakeContainer = Callable[..., Awaitable[Container]]


@pytest.fixture
async def make_container(backend: Settings, clock: FakeClock) -> AsyncIterator[MakeContainer]:
    """``await make_container(settings=None, *, clock=None, fast_passwords=True, **overrides)``: a
    container built by :func:`claimd.bootstrap.build` on the test's backend (or ``settings``) and
    clock, with ``overrides`` applied to the settings; closed at teardown. With ``fast_passwords``
    its password hasher is swapped for :class:`FastPasswordHasher`."""
    built: list[Container] = []
    test_clock = clock

    async def make(
        settings: Settings | None = None, *, clock: Any = None, fast_passwords: bool = True, **overrides: Any
    ) -> Container:
        chosen = (settings or backend).model_copy(update=overrides)
        container = await build(chosen, clock=clock or test_clock)
        built.append(container)
        if fast_passwords:
            container.accounts.passwords = FastPasswordHasher()
        return container

    try:
        yield make
    finally:
        for container in reversed(built):
            await container.close()


@pytest.fixture
async def container(make_container: MakeContainer) -> Container:
    """claimd wired on the test's backend and clock, migrations run (fast password hashing)."""
    return await make_container()


# world -----------------------------------------------------------------------------------------
@dataclass
class World:
    """A tenant with an admin, and two customers each with one activated customer user."""

    container: Container
    admin: Principal
    c1: Customer
    c2: Customer
    u1: Principal  # the customer user of C1
    u2: Principal  # the customer user of C2
    access_tokens: dict[uuid.UUID, str] = field(default_factory=dict)

    async def device(
        self, name: str | None = None, *, access_token: str | None = None, type: str = "default", gateway: bool = False
    ) -> Device:
        """Provision an unassigned device as the tenant admin. ``name`` defaults to a unique one; the
        access token (``access_token`` or a random one) is kept in ``access_tokens[device.id]``."""
        name = name or f"device-{uuid.uuid4().hex[:12]}"
        token = access_token or f"token-{uuid.uuid4().hex}"
        draft = DeviceDraft(name=name, type=type, additional_info={"gateway": True} if gateway else None)
        device = await self.container.devices.create(self.admin, draft, token)
        self.access_tokens[device.id] = token
        return device


async def activated_customer_user(
    container: Container, admin: Principal, customer: Customer, email: str, password: str = USER_PASSWORD
) -> Principal:
    """create_user → new_activation_token → activate → the user's principal."""
    user = await container.directory.create_user(admin, email, Authority.CUSTOMER_USER, customer.id)
    token = await container.accounts.new_activation_token(admin, user.id)
    access, _refresh = await container.accounts.activate(token, password)
    return container.tokens.principal(access)


async def make_world(container: Container) -> World:
    """Populate an empty store through the services (see :class:`World`)."""
    accounts = container.accounts
    directory = container.directory
    await accounts.ensure_first_tenant(ADMIN_EMAIL, ADMIN_PASSWORD)
    access, _refresh = await accounts.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    admin = container.tokens.principal(access)
    c1 = await directory.save_customer(admin, "Customer C1")
    c2 = await directory.save_customer(admin, "Customer C2")
    u1, u2 = await asyncio.gather(
        activated_customer_user(container, admin, c1, "user@c1.test"),
        activated_customer_user(container, admin, c2, "user@c2.test"),
    )
    return World(container, admin, c1, c2, u1, u2)


@pytest.fixture
async def world(container: Container) -> World:
    return await make_world(container)


@pytest.fixture
def make_customer_user(container: Container) -> Callable[..., Awaitable[Principal]]:
    """``await make_customer_user(admin, customer, email, password=USER_PASSWORD)``: an activated
    customer user of ``customer``, made by ``admin``, as a principal."""

    async def make(admin: Principal, customer: Customer, email: str, password: str = USER_PASSWORD) -> Principal:
        return await activated_customer_user(container, admin, customer, email, password)

    return make


@pytest.fixture
def make_device(world: World) -> Callable[..., Awaitable[Device]]:
    """``await make_device(name=None, *, access_token=None)``: see :meth:`World.device`."""
    return world.device
