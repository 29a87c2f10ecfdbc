"""Failed-attempt limits for claims by code (:class:`claimd.services.ports.FailureLimiter`): in memory
for the embedded default (one process), in Redis when it is configured (every node counts together).

A key counts failures until it has had none for ``forget_ms``; past ``free`` failures each one locks
the key (see :class:`claimd.domain.lorawan.Lockout`). Keys are opaque strings built by the service.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from claimd.domain.lorawan import Lockout

MAX_MEMORY_KEYS = 100_000  # past this, keys without a failure for their forget time are dropped


@dataclass(slots=True)
class _Count:
    failures: int
    last_ms: int
    locked_until: int


class MemoryFailureLimiter:
    def __init__(self) -> None:
        self._counts: dict[str, _Count] = {}

    async def retry_after_ms(self, keys: list[tuple[str, Lockout]], now_ms: int) -> int:
        wait = 0
        for key, _ in keys:
            count = self._counts.get(key)
            if count is not None:
                wait = max(wait, count.locked_until - now_ms)
        return wait

    async def failed(self, keys: list[tuple[str, Lockout]], now_ms: int) -> None:
        if len(self._counts) > MAX_MEMORY_KEYS:
            self._forget(now_ms, keys[0][1].forget_ms)
        for key, lockout in keys:
            count = self._counts.get(key)
            if count is None or now_ms - count.last_ms > lockout.forget_ms:
                count = self._counts[key] = _Count(0, now_ms, 0)
            count.failures += 1
            count.last_ms = now_ms
            count.locked_until = max(count.locked_until, now_ms + lockout.lock_ms(count.failures))

    def _forget(self, now_ms: int, forget_ms: int) -> None:
        self._counts = {k: c for k, c in self._counts.items()
                        if now_ms - c.last_ms <= forget_ms or c.locked_until > now_ms}


# For each key: count the failure, keep the count for the forget time, and lock the key when past
# its free failures. ARGV holds free, base, max and forget per key, in KEYS order (fail key, lock key).
_FAILED = """
for i = 1, #KEYS / 2 do
  local fails, lock = KEYS[2 * i - 1], KEYS[2 * i]
  local free, base, max, forget = tonumber(ARGV[4 * i - 3]), tonumber(ARGV[4 * i - 2]), tonumber(ARGV[4 * i - 1]), tonumber(ARGV[4 * i])
  local n = redis.call('INCR', fails)
  redis.call('PEXPIRE', fails, forget)
  if n > free then
    local ms = math.floor(math.min(max, base * 2 ^ math.min(n - free - 1, 40)))
    if redis.call('PTTL', lock) < ms then redis.call('SET', lock, n, 'PX', ms) end
  end
end
return 1
"""


class RedisFailureLimiter:
    def __init__(self, redis: Redis, prefix: str = "claimd") -> None:
        self.redis = redis
        self.prefix = prefix
        self._failed = redis.register_script(_FAILED)

    async def retry_after_ms(self, keys: list[tuple[str, Lockout]], now_ms: int) -> int:
        async with self.redis.pipeline(transaction=False) as pipe:
            for key, _ in keys:
                pipe.pttl(f"{self.prefix}:claim-lock:{key}")
            ttls = await pipe.execute()
        return max([0, *(int(t) for t in ttls)])

    async def failed(self, keys: list[tuple[str, Lockout]], now_ms: int) -> None:
        names: list[str] = []
        args: list[int] = []
        for key, lockout in keys:
            names += [f"{self.prefix}:claim-fails:{key}", f"{self.prefix}:claim-lock:{key}"]
            args += [lockout.free, lockout.base_ms, lockout.max_ms, lockout.forget_ms]
        await self._failed(keys=names, args=args)
