"""Guessing in bursts, and the failure limiters' primitives.

A limiter's ``locked`` only reads and its ``fail`` counts a wrong guess; between the two the service
looks at the secret, so the limiter alone does not serialize a burst of parallel guesses. A claim by
code checks and counts inside the transaction that holds the device's row lock (services/claiming/
``claim_with_code``): the attempts on one device are served one at a time, so a burst of parallel
wrong codes is heard exactly ``free + 1`` times, on every backend and across nodes.

Then ``locked`` / ``fail`` themselves, for the memory limiter (one process, the time it is given) and
the Redis limiter (every node, Redis's own time: the tests sleep through short locks).
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis
from servers import REDIS_URL, require_server

from claimd.adapters.limits import MemoryFailureLimiter, RedisFailureLimiter
from claimd.domain.lockout import Lockout
from claimd.domain.lorawan import DeviceAccessDenied, LorawanDraft
from claimd.domain.model import AuditAction, Door
from claimd.services.claiming import CodeProof
from claimd.services.common import Origin
from claimd.services.guesses import ClaimLockedOut

FREE = 3
LOCK_MS = 60_000
BURST = 50
JOIN = "70B3D57ED0000000"
CODE = "C05EA29C"
REST = Origin(Door.REST, "10.0.0.1")


# ----------------------------------------------------------------------------------------------------
# a burst of wrong codes on one device, through the service


def lock_the_device_only(container) -> None:
    """The device locks after FREE wrong codes, for LOCK_MS; the user and the address never do."""
    loose = Lockout(10_000)
    container.claims.guesses.policy = dataclasses.replace(
        container.claims.guesses.policy,
        device=Lockout(FREE, base_ms=LOCK_MS, max_ms=10 * LOCK_MS),
        user=loose,
        address=loose,
    )


async def provision(container, world):
    draft = LorawanDraft(dev_eui="A0" + secrets.token_hex(7).upper(), join_eui=JOIN, code=CODE)
    return await container.lorawan.provision(world.admin, draft)


async def claim(container, principal, dev_eui: str, code: str):
    return await container.claims.claim_with_code(principal, CodeProof(JOIN, dev_eui, code), "my-app", None, REST)


def sort_outcomes(outcomes: list) -> tuple[list, list]:
    denied = [o for o in outcomes if isinstance(o, DeviceAccessDenied)]
    locked = [o for o in outcomes if isinstance(o, ClaimLockedOut)]
    assert len(denied) + len(locked) == len(outcomes), [o for o in outcomes if o not in denied + locked]
    return denied, locked


async def assert_locked_out_and_audited(container, world, made) -> None:
    with pytest.raises(ClaimLockedOut):  # the right code too
        await claim(container, world.u1, made.identity.dev_eui, CODE)
    assert (await container.devices.get(world.admin, made.device.id)).customer_id is None
    log = (await container.devices.audit_log(world.admin, 0, 100, made.device.id)).data
    assert [(e.action, e.outcome, e.repeats) for e in log if e.action is AuditAction.CLAIM] == [
        (AuditAction.CLAIM, "DEVICE_ACCESS_DENIED", FREE + 1)
    ]  # the refused ones are not audited


async def test_a_burst_of_wrong_codes_on_one_device_is_heard_free_plus_one_times(container, world):
    lock_the_device_only(container)
    made = await provision(container, world)
    outcomes = await asyncio.gather(
        *(claim(container, world.u1, made.identity.dev_eui, f"BAD{n:05d}") for n in range(BURST)),
        return_exceptions=True,
    )
    denied, locked = sort_outcomes(outcomes)
    # the free ones, and the one whose failure sets the first lock; each later one saw that lock
    assert (len(denied), len(locked)) == (FREE + 1, BURST - FREE - 1)
    # the first lock, not a longer one: refused attempts count nothing
    assert {o.retry_after_s for o in locked} == {LOCK_MS // 1000}
    await assert_locked_out_and_audited(container, world, made)


@pytest.mark.parametrize(
    "backend",
    [pytest.param("postgres+redis", id="postgres+redis", marks=[pytest.mark.postgres, pytest.mark.redis])],
    indirect=True,
)
async def test_a_burst_split_over_two_nodes_is_heard_free_plus_one_times(container, world, make_container):
    other_node = await make_container()  # same database, same Redis, its own pools and limiter client
    nodes = [container, other_node]
    for node in nodes:
        lock_the_device_only(node)
    made = await provision(container, world)
    outcomes = await asyncio.gather(
        *(claim(nodes[n % 2], world.u1, made.identity.dev_eui, f"BAD{n:05d}") for n in range(BURST)),
        return_exceptions=True,
    )
    denied, locked = sort_outcomes(outcomes)
    assert (len(denied), len(locked)) == (FREE + 1, BURST - FREE - 1)
    assert {o.retry_after_s for o in locked} == {LOCK_MS // 1000}
    await assert_locked_out_and_audited(other_node, world, made)


# ----------------------------------------------------------------------------------------------------
# locked / fail, memory and Redis


@dataclass
class Limits:
    """A limiter and its time: the memory limiter takes the time it is given, Redis keeps its own."""

    limiter: MemoryFailureLimiter | RedisFailureLimiter
    real_time: bool
    now: int = 1_000_000

    async def fail(self, *keys: tuple[str, Lockout]) -> int:
        return await self.limiter.fail(list(keys), self.now)

    async def locked(self, *keys: tuple[str, Lockout]) -> int:
        return await self.limiter.locked(list(keys), self.now)

    async def advance(self, ms: int) -> None:
        self.now += ms
        if self.real_time:
            await asyncio.sleep(ms / 1000)


def about(ms: int):
    """A wait of ``ms`` as a limiter reports it: exact in memory, Redis's TTL a moment later."""

    class About:
        def __eq__(self, wait: object) -> bool:
            return isinstance(wait, int) and (wait == 0 if ms == 0 else ms - 150 < wait <= ms)

        def __repr__(self) -> str:
            return f"about({ms})"

    return About()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def limits(request):
    if request.param == "memory":
        yield Limits(MemoryFailureLimiter(), real_time=False)
        return
    require_server("redis")
    redis = Redis.from_url(REDIS_URL)
    prefix = f"claimd-burst-{secrets.token_hex(6)}"
    try:
        yield Limits(RedisFailureLimiter(redis, prefix), real_time=True)
    finally:
        keys = [k async for k in redis.scan_iter(match=f"{prefix}:*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


def key(kind: str, lockout: Lockout) -> tuple[str, Lockout]:
    return (f"{kind}:{secrets.token_hex(4)}", lockout)


async def test_fail_is_free_up_to_free_then_locks_doubling_up_to_max(limits) -> None:
    k = key("dev", Lockout(2, base_ms=10_000, max_ms=40_000))
    assert await limits.locked(k) == 0
    waits = [await limits.fail(k) for _ in range(7)]
    assert waits == [about(ms) for ms in (0, 0, 10_000, 20_000, 40_000, 40_000, 40_000)]
    assert await limits.locked(k) == about(40_000)


async def test_locked_only_reads(limits) -> None:
    k = key("dev", Lockout(2, base_ms=10_000))
    for _ in range(20):
        assert await limits.locked(k) == 0
    assert [await limits.fail(k) for _ in range(3)] == [0, 0, about(10_000)]  # the 3rd failure, not the 23rd
    for _ in range(20):  # asking while locked does not make the lock longer
        assert await limits.locked(k) == about(10_000)
    assert await limits.fail(k) == about(20_000)  # the 4th failure, not the 24th


async def test_a_lock_runs_out_and_the_count_goes_on(limits) -> None:
    k = key("dev", Lockout(0, base_ms=200, forget_ms=60_000))
    assert await limits.fail(k) == about(200)
    await limits.advance(250)
    assert await limits.locked(k) == 0
    assert await limits.fail(k) == about(400)  # the 2nd failure: twice as long


async def test_the_count_is_forgotten_after_forget_ms_without_failure(limits) -> None:
    k = key("dev", Lockout(1, base_ms=60_000, forget_ms=200))
    assert await limits.fail(k) == 0
    await limits.advance(300)
    assert await limits.fail(k) == 0  # a first failure again: free
    assert await limits.fail(k) == about(60_000)  # within forget_ms the count goes on


async def test_keys_are_independent(limits) -> None:
    lockout = Lockout(1, base_ms=10_000)
    a, b = key("dev", lockout), key("dev", lockout)
    assert [await limits.fail(a) for _ in range(2)] == [0, about(10_000)]
    assert await limits.locked(b) == 0
    assert await limits.fail(b) == 0  # b's first failure: its own count
    assert await limits.locked(a) == about(10_000)


async def test_the_most_locked_key_decides_and_fail_counts_every_key(limits) -> None:
    device, user = key("dev", Lockout(0, base_ms=10_000)), key("user", Lockout(0, base_ms=50_000))
    address = key("addr", Lockout(1, base_ms=30_000))
    assert await limits.fail(device, user, address) == about(50_000)
    assert await limits.locked(device) == about(10_000)
    assert await limits.locked(device, user) == about(50_000)
    assert await limits.locked(user, device) == about(50_000)
    assert await limits.locked(address) == 0  # counted once: free
    assert await limits.locked(address, device) == about(10_000)
    assert await limits.fail(address) == about(30_000)  # its 2nd failure: the first was counted


async def test_parallel_failures_are_each_counted(limits) -> None:
    """``fail`` is one atomic step: a burst of parallel failures loses no count."""
    k = key("user", Lockout(BURST, base_ms=10_000))
    waits = await asyncio.gather(*(limits.fail(k) for _ in range(BURST)))
    assert waits == [0] * BURST  # exactly the free ones
    assert await limits.fail(k) == about(10_000)  # the next one is past free
    many = [key("user", Lockout(BURST - 1, base_ms=10_000)), key("addr", Lockout(10 * BURST))]
    waits = await asyncio.gather(*(limits.fail(*many) for _ in range(BURST)))
    assert sorted(waits, key=bool) == [0] * (BURST - 1) + [about(10_000)]
