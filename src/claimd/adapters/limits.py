"""Failed-attempt limits for claims by code (:class:`claimd.services.ports.FailureLimiter`): in memory
for the embedded default (one process), in Redis when it is configured (every node counts together).

Every attempt is counted as a failure *before* it is checked, in the same atomic step that refuses it
when a key is locked; an attempt that turns out not to be a wrong guess is refunded. So a burst of
parallel guesses cannot all pass the check before the first of them is counted: at most ``free`` + 1
get through. A key counts until it has had no attempt for ``forget_ms``; past ``free`` counted
failures each one locks the key (see :class:`claimd.domain.lorawan.Lockout`).
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from claimd.domain.lorawan import Lockout

MAX_MEMORY_KEYS = 100_000  # past this, keys with no recent attempt and no lock are dropped


@dataclass(slots=True)
class _Count:
    failures: int
    last_ms: int
    locked_until: int
    lock_token: str = ""  # the attempt that set the lock


class MemoryFailureLimiter:
    def __init__(self) -> None:
        self._counts: dict[str, _Count] = {}

    async def attempt(self, keys: list[tuple[str, Lockout]], now_ms: int, token: str = "") -> int:
        # no await in here: check and count are one step on the event loop
        wait = max((c.locked_until - now_ms for k, _ in keys if (c := self._counts.get(k)) is not None), default=0)
        if wait > 0:
            return wait
        if len(self._counts) > MAX_MEMORY_KEYS:
            self._forget(now_ms, keys[0][1].forget_ms)
        for key, lockout in keys:
            count = self._counts.get(key)
            if count is None or now_ms - count.last_ms > lockout.forget_ms:
                count = self._counts[key] = _Count(0, now_ms, 0)
            count.failures += 1
            count.last_ms = now_ms
            until = now_ms + lockout.lock_ms(count.failures)
            if until > count.locked_until:
                count.locked_until, count.lock_token = until, token
        return 0

    async def refund(self, keys: list[tuple[str, Lockout]], now_ms: int, token: str = "") -> None:
        for key, lockout in keys:
            count = self._counts.get(key)
            if count is not None:
                count.failures = max(0, count.failures - 1)
                if count.lock_token == token or count.failures <= lockout.free:
                    count.locked_until = 0  # the check let this attempt through: no lock was on then

    def _forget(self, now_ms: int, forget_ms: int) -> None:
        self._counts = {k: c for k, c in self._counts.items()
                        if now_ms - c.last_ms <= forget_ms or c.locked_until > now_ms}


# KEYS: per key, its count and its lock; ARGV: the attempt's token, then per key free, base, max and
# forget (ms). A lock's value is the token of the attempt that set it, so that a refund takes back its own.
# Returns how long the most locked key stays locked (nothing counted), or 0 (the attempt counted).
_ATTEMPT = """
local wait = 0
for i = 1, #KEYS / 2 do
  local ttl = redis.call('PTTL', KEYS[2 * i])
  if ttl > wait then wait = ttl end
end
if wait > 0 then return wait end
for i = 1, #KEYS / 2 do
  local fails, lock = KEYS[2 * i - 1], KEYS[2 * i]
  local free, base, max, forget = tonumber(ARGV[4 * i - 2]), tonumber(ARGV[4 * i - 1]), tonumber(ARGV[4 * i]), tonumber(ARGV[4 * i + 1])
  local n = redis.call('INCR', fails)
  redis.call('PEXPIRE', fails, forget)
  if n > free then
    local ms = math.floor(math.min(max, base * 2 ^ math.min(n - free - 1, 40)))
    if redis.call('PTTL', lock) < ms then redis.call('SET', lock, ARGV[1], 'PX', ms) end
  end
end
return 0
"""

_REFUND = """
for i = 1, #KEYS / 2 do
  local n = redis.call('DECR', KEYS[2 * i - 1])
  if n <= 0 then redis.call('DEL', KEYS[2 * i - 1]) end
  if n <= tonumber(ARGV[i + 1]) or redis.call('GET', KEYS[2 * i]) == ARGV[1] then redis.call('DEL', KEYS[2 * i]) end
end
return 1
"""


class RedisFailureLimiter:
    def __init__(self, redis: Redis, prefix: str = "claimd") -> None:
        self.redis = redis
        self.prefix = prefix
        self._attempt = redis.register_script(_ATTEMPT)
        self._refund = redis.register_script(_REFUND)

    def _names(self, keys: list[tuple[str, Lockout]]) -> list[str]:
        names: list[str] = []
        for key, _ in keys:
            names += [f"{self.prefix}:claim-fails:{key}", f"{self.prefix}:claim-lock:{key}"]
        return names

    async def attempt(self, keys: list[tuple[str, Lockout]], now_ms: int, token: str = "") -> int:
        args: list[int | str] = [token or "-"]
        for _, lockout in keys:
            args += [lockout.free, lockout.base_ms, lockout.max_ms, lockout.forget_ms]
        return int(await self._attempt(keys=self._names(keys), args=args))

    async def refund(self, keys: list[tuple[str, Lockout]], now_ms: int, token: str = "") -> None:
        await self._refund(keys=self._names(keys), args=[token or "-", *(lockout.free for _, lockout in keys)])
