"""Lockout (domain/lockout.py) and the in-memory failure limiter that applies it (adapters/limits.py).

Pure unit tests: no database, no network.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claimd.adapters import limits
from claimd.adapters.limits import MemoryFailureLimiter
from claimd.domain.lockout import Lockout

# 2025-06-15T00:00:00Z in epoch milliseconds
T0 = 1_749_945_600_000


# ----------------------------------------------------------------------------------------------------
# Lockout


def test_lock_ms_is_free_then_base_then_doubling_up_to_max() -> None:
    lockout = Lockout(3, base_ms=1_000, max_ms=10_000)
    assert [lockout.lock_ms(n) for n in range(-2, 10)] == [
        0,
        0,
        0,
        0,
        0,
        0,  # -2 .. 3: nothing up to the free failures
        1_000,
        2_000,
        4_000,
        8_000,  # 4 .. 7
        10_000,
        10_000,  # 8, 9: capped
    ]


def test_lock_ms_without_free_failures_locks_from_the_first() -> None:
    lockout = Lockout(0, base_ms=500, max_ms=60_000)
    assert lockout.lock_ms(0) == 0
    assert lockout.lock_ms(1) == 500
    assert lockout.lock_ms(2) == 1_000


def test_lockout_defaults() -> None:
    lockout = Lockout(5)
    assert (lockout.base_ms, lockout.max_ms, lockout.forget_ms) == (1_000, 3_600_000, 86_400_000)
    assert lockout.lock_ms(5) == 0 and lockout.lock_ms(6) == 1_000


@pytest.mark.parametrize("failures", [100, 10_000, 10**9, 2**63, 10**100])
def test_huge_failure_counts_stay_at_max(failures) -> None:
    lockout = Lockout(5, base_ms=1_000, max_ms=3_600_000)
    assert lockout.lock_ms(failures) == 3_600_000
    # an absurd max still gives a bounded, quickly computed integer
    wide = Lockout(0, base_ms=1_000, max_ms=10**40)
    value = wide.lock_ms(failures)
    assert isinstance(value, int) and 0 < value <= 10**40 and value.bit_length() < 64


@settings(max_examples=300, deadline=None, database=None)
@given(
    free=st.integers(0, 50),
    base=st.integers(1, 10**6),
    max_ms=st.integers(1, 10**10),
    a=st.integers(-5, 10**6),
    b=st.integers(-5, 10**6),
)
def test_lock_ms_is_monotone_and_bounded(free, base, max_ms, a, b) -> None:
    lockout = Lockout(free, base_ms=base, max_ms=max_ms)
    low, high = sorted((a, b))
    assert 0 <= lockout.lock_ms(low) <= lockout.lock_ms(high) <= max_ms
    if high <= free:
        assert lockout.lock_ms(high) == 0
    if high == free + 1:
        assert lockout.lock_ms(high) == min(base, max_ms)


# ----------------------------------------------------------------------------------------------------
# MemoryFailureLimiter: ``locked`` only reads (how long the most locked key stays locked, or 0);
# ``fail`` counts one failure on every key, locks those past ``free`` and returns the longest lock.

DEVICE_LOCK = Lockout(2, base_ms=1_000, max_ms=8_000, forget_ms=60_000)


async def test_memory_limiter_is_free_up_to_free_failures_then_locks_doubling_up_to_max() -> None:
    limiter = MemoryFailureLimiter()
    keys = [("dev:x", DEVICE_LOCK)]
    assert await limiter.locked(keys, T0) == 0  # never failed
    assert [await limiter.fail(keys, T0) for _ in range(2)] == [0, 0]  # the free failures cost nothing
    assert await limiter.locked(keys, T0) == 0
    assert await limiter.fail(keys, T0) == 1_000  # the 3rd, past free: locked
    assert await limiter.locked(keys, T0) == 1_000
    assert await limiter.locked(keys, T0 + 999) == 1  # the lock runs down with time
    assert await limiter.locked(keys, T0 + 1_000) == 0
    # each failure after the lock has run out locks for twice as long, up to max_ms
    now, locks = T0 + 1_000, []
    for _ in range(5):
        locks.append(await limiter.fail(keys, now))
        assert await limiter.locked(keys, now) == locks[-1]
        now += locks[-1]
    assert locks == [2_000, 4_000, 8_000, 8_000, 8_000]


async def test_memory_limiter_locked_only_reads() -> None:
    limiter = MemoryFailureLimiter()
    keys = [("dev:x", DEVICE_LOCK)]
    for _ in range(20):  # asking, however often, counts nothing...
        assert await limiter.locked(keys, T0) == 0
    assert [await limiter.fail(keys, T0) for _ in range(3)] == [0, 0, 1_000]  # ...the 3rd failure is the 3rd
    for _ in range(20):  # nor does asking while locked make the lock longer
        assert await limiter.locked(keys, T0 + 500) == 500
    assert await limiter.fail(keys, T0 + 1_000) == 2_000  # the 4th failure, not the 24th


async def test_memory_limiter_a_failure_while_locked_counts_and_never_shortens_the_lock() -> None:
    """Keys spanning devices (a user, an address) may fail while another attempt has just locked them."""
    limiter = MemoryFailureLimiter()
    keys = [("user:u", Lockout(1, base_ms=1_000, max_ms=60_000))]
    assert await limiter.fail(keys, T0) == 0
    assert await limiter.fail(keys, T0) == 1_000  # 2nd: locked until T0 + 1 s
    assert await limiter.fail(keys, T0 + 100) == 2_000  # 3rd: counted although locked, until T0 + 2.1 s
    assert await limiter.fail(keys, T0 + 200) == 4_000  # 4th
    short = [("user:v", Lockout(0, base_ms=1_000, max_ms=1_000))]
    assert await limiter.fail(short, T0) == 1_000
    assert await limiter.fail(short, T0 + 500) == 1_000  # a new lock of 1 s from now: until T0 + 1.5 s
    assert await limiter.locked(short, T0 + 1_400) == 100


async def test_memory_limiter_the_most_locked_key_decides() -> None:
    limiter = MemoryFailureLimiter()
    device, user = ("dev:x", Lockout(0, base_ms=1_000)), ("user:u", Lockout(0, base_ms=5_000))
    assert await limiter.fail([device, user], T0) == 5_000  # counted on both: both locked
    assert await limiter.locked([device, user], T0) == 5_000
    assert await limiter.locked([user, device], T0) == 5_000
    assert await limiter.locked([device], T0) == 1_000
    assert await limiter.locked([user], T0) == 5_000
    assert await limiter.locked([("addr:a", Lockout(5)), device], T0 + 100) == 900
    assert await limiter.locked([], T0) == 0
    # fail counts every key, and returns the longest lock even when the key that holds it is free
    address = ("addr:a", Lockout(5))
    assert await limiter.fail([address, device], T0 + 100) == 2_000  # device's 2nd failure: 2 s from now
    assert await limiter.fail([address, user], T0 + 100) == 10_000  # user's 2nd failure: 10 s
    assert [await limiter.fail([address], T0 + 100) for _ in range(3)] == [0, 0, 0]  # address: 3rd..5th
    assert await limiter.fail([address], T0 + 100) == 1_000  # its 6th: both earlier calls counted it


async def test_memory_limiter_keys_are_independent() -> None:
    limiter = MemoryFailureLimiter()
    a, b = ("dev:a", DEVICE_LOCK), ("dev:b", DEVICE_LOCK)
    assert [await limiter.fail([a], T0) for _ in range(3)] == [0, 0, 1_000]
    assert await limiter.locked([b], T0) == 0  # b has its own count
    assert [await limiter.fail([b], T0) for _ in range(3)] == [0, 0, 1_000]
    assert await limiter.locked([("dev:c", DEVICE_LOCK)], T0) == 0
    assert await limiter.fail([("dev:c", DEVICE_LOCK)], T0) == 0


async def test_memory_limiter_forgets_after_forget_ms_without_failure() -> None:
    limiter = MemoryFailureLimiter()
    keys = [("dev:x", Lockout(1, base_ms=1_000, forget_ms=60_000))]
    assert await limiter.fail(keys, T0) == 0
    # within forget_ms the count goes on: the 2nd failure locks
    assert await limiter.fail(keys, T0 + 60_000) == 1_000
    # more than forget_ms after the last failure the count starts again
    later = T0 + 60_000 + 60_001
    assert await limiter.fail(keys, later) == 0
    assert await limiter.fail(keys, later + 1) == 1_000  # the 2nd failure of the new count


async def test_memory_limiter_drops_forgotten_keys_past_its_size_but_keeps_locks(monkeypatch) -> None:
    monkeypatch.setattr(limits, "MAX_MEMORY_KEYS", 3)
    limiter = MemoryFailureLimiter()
    forgetful, locking = Lockout(5, forget_ms=1_000), Lockout(0, base_ms=60_000, forget_ms=1_000)
    for name in ("a", "b", "c"):
        await limiter.fail([(f"dev:{name}", forgetful)], T0)
    await limiter.fail([("dev:locked", locking)], T0)
    assert len(limiter._counts) == 4
    await limiter.fail([("dev:recent", forgetful)], T0 + 1_500)  # past the size: a, b and c are forgotten
    assert sorted(limiter._counts) == ["dev:locked", "dev:recent"]
    assert await limiter.locked([("dev:locked", locking)], T0 + 1_500) == 58_500  # a lock is never dropped


@settings(max_examples=100, deadline=None, database=None)
@given(free=st.integers(0, 5), base=st.integers(1, 10_000), max_ms=st.integers(1, 100_000), n=st.integers(1, 30))
async def test_memory_limiter_n_failures_at_once_lock_for_lock_ms_n(free, base, max_ms, n) -> None:
    limiter = MemoryFailureLimiter()
    lockout = Lockout(free, base_ms=base, max_ms=max_ms)
    waits = [await limiter.fail([("k", lockout)], T0) for _ in range(n)]
    assert waits == [lockout.lock_ms(i) for i in range(1, n + 1)]
    assert await limiter.locked([("k", lockout)], T0) == lockout.lock_ms(n)
