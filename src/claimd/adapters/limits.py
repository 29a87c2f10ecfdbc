"""Failed-attempt limits (:class:`claimd.services.ports.FailureLimiter`): in memory for the embedded
default (one process), in Redis when it is configured (every node counts together).

A key (a device, a user, a source address, a login account) counts its failures until it has had
none for ``forget_ms``; past ``free`` failures each one locks the key for a growing time (see
:class:`claimd.domain.lockout.Lockout`). ``locked`` only reads; ``fail`` counts one failure on every
key and sets their locks, in one atomic step. Right answers cost nothing: the services check before
they look at a secret and count only wrong guesses, so legitimate traffic, however concurrent, never
meets a lock that no wrong guess set.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from claimd.domain.lockout import Lockout

MAX_MEMORY_KEYS = 100_000  # past this, keys with no recent failure and no lock are dropped

Keys = list[tuple[str, Lockout]]


@dataclass(slots=True)
class _Count:
    failures: int
    last_ms: int
    locked_until: int


class MemoryFailureLimiter:
    def __init__(self) -> None:
        self._counts: dict[str, _Count] = {}

    async def locked(self, keys: Keys, now_ms: int) -> int:
        return max([0, *(c.locked_until - now_ms for k, _ in keys if (c := self._counts.get(k)) is not None)])

    async def fail(self, keys: Keys, now_ms: int) -> int:
        # no await in here: counting every key is one step on the event loop
        if len(self._counts) > MAX_MEMORY_KEYS:
            self._forget(now_ms, keys[0][1].forget_ms)
        for key, lockout in keys:
            count = self._counts.get(key)
            if count is None or now_ms - count.last_ms > lockout.forget_ms:
                count = self._counts[key] = _Count(0, now_ms, 0)
            count.failures += 1
            count.last_ms = now_ms
            count.locked_until = max(count.locked_until, now_ms + lockout.lock_ms(count.failures))
        return await self.locked(keys, now_ms)

    def _forget(self, now_ms: int, forget_ms: int) -> None:
        self._counts = {
            k: c for k, c in self._counts.items() if now_ms - c.last_ms <= forget_ms or c.locked_until > now_ms
        }


# KEYS: the lock of each key. Returns how long the most locked of them stays locked (ms), or 0.
_LOCKED = """
local wait = 0
for i = 1, #KEYS do
  local ttl = redis.call('PTTL', KEYS[i])
  if ttl > wait then wait = ttl end
end
return wait
"""

# KEYS: per key, its count and its lock; ARGV: per key free, base, max and forget (ms).
# Counts a failure on every key, locks those past free, and returns the longest lock (ms), or 0.
_FAIL = """
local wait = 0
for i = 1, #KEYS / 2 do
  local fails, lock = KEYS[2 * i - 1], KEYS[2 * i]
  local free, base, max, forget = tonumber(ARGV[4 * i - 3]), tonumber(ARGV[4 * i - 2]), tonumber(ARGV[4 * i - 1]), tonumber(ARGV[4 * i])
  local n = redis.call('INCR', fails)
  redis.call('PEXPIRE', fails, forget)
  if n > free then
    local ms = math.floor(math.min(max, base * 2 ^ math.min(n - free - 1, 40)))
    if redis.call('PTTL', lock) < ms then redis.call('SET', lock, '1', 'PX', ms) end
  end
  local ttl = redis.call('PTTL', lock)
  if ttl > wait then wait = ttl end
end
return wait
"""


class RedisFailureLimiter:
    def __init__(self, redis: Redis, prefix: str = "claimd") -> None:
        self.redis = redis
        self.prefix = prefix
        self._locked = redis.register_script(_LOCKED)
        self._fail = redis.register_script(_FAIL)

    async def locked(self, keys: Keys, now_ms: int) -> int:
        return int(await self._locked(keys=[f"{self.prefix}:claim-lock:{key}" for key, _ in keys]))

    async def fail(self, keys: Keys, now_ms: int) -> int:
        names: list[str] = []
        args: list[int] = []
        for key, lockout in keys:
            names += [f"{self.prefix}:claim-fails:{key}", f"{self.prefix}:claim-lock:{key}"]
            args += [lockout.free, lockout.base_ms, lockout.max_ms, lockout.forget_ms]
        return int(await self._fail(keys=names, args=args))
