"""Failed-claim limits under parallel guessing: check and count are one atomic step, so a burst of
simultaneous guesses cannot all pass the check before the first of them is counted. For the memory
limiter (one process) and the Redis limiter (many nodes, one Lua script per attempt)."""

from __future__ import annotations

import asyncio
import secrets

import pytest
from redis.asyncio import Redis
from servers import REDIS_URL, require_server

from claimd.adapters.limits import MemoryFailureLimiter, RedisFailureLimiter
from claimd.domain.lorawan import Lockout

FREE = 5


async def burst(limiter, keys, n: int = 50) -> list[int]:
    return list(await asyncio.gather(*(limiter.attempt(keys, 1_000_000) for _ in range(n))))


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def limiter(request):
    if request.param == "memory":
        yield MemoryFailureLimiter()
        return
    require_server("redis")
    redis = Redis.from_url(REDIS_URL)
    try:
        yield RedisFailureLimiter(redis, f"claimd-burst-{secrets.token_hex(4)}")
    finally:
        await redis.aclose()


async def test_a_burst_of_parallel_guesses_passes_at_most_free_plus_one(limiter) -> None:
    keys = [(f"dev:{secrets.token_hex(4)}", Lockout(FREE, base_ms=60_000))]
    waits = await burst(limiter, keys)
    assert waits.count(0) == FREE + 1  # the free ones, and the one whose failure sets the first lock
    assert all(w > 0 for w in waits if w)
    assert max(waits) <= 60_000


async def test_a_refunded_attempt_gives_its_place_back(limiter) -> None:
    keys = [(f"user:{secrets.token_hex(4)}", Lockout(FREE, base_ms=60_000))]
    for _ in range(FREE):
        assert await limiter.attempt(keys, 1_000_000) == 0
        await limiter.refund(keys, 1_000_000)  # right codes: nothing counts
    assert (await burst(limiter, keys)).count(0) == FREE + 1


async def test_the_most_locked_key_decides_and_other_keys_are_not_counted_while_locked(limiter) -> None:
    device, user = f"dev:{secrets.token_hex(4)}", f"user:{secrets.token_hex(4)}"
    strict, loose = Lockout(0, base_ms=60_000), Lockout(100, base_ms=60_000)
    assert await limiter.attempt([(device, strict), (user, loose)], 1_000_000) == 0  # counted; locks device
    assert await limiter.attempt([(device, strict), (user, loose)], 1_000_001) > 0
    # The refused attempt was not counted for the user: at 1 failure, 100 more pass (the 100th, the
    # 101st failure, sets the lock); had it been counted, the 100th would be refused.
    other = [(f"dev:{secrets.token_hex(4)}", loose), (user, loose)]
    assert (await burst(limiter, other, 100)).count(0) == 100
    assert await limiter.attempt(other, 1_000_002) > 0
