"""Claim windows in Redis: one key per device, exact expiry across every claimd node."""

from __future__ import annotations

import uuid

from redis.asyncio import Redis

from claimd.domain.claiming import ClaimData

#: An expired window is kept this long after its expiry, so that a claim attempt still finds it and
#: answers FAILURE (as ThingsBoard does) rather than CLAIMED; the next device message replaces it.
EXPIRED_RETENTION_MS = 24 * 3600 * 1000

# Store unless a live window exists: one round trip, atomic on the Redis server.
_OPEN = """
local current = redis.call('GET', KEYS[1])
if current then
  local expires = tonumber(string.match(current, '^(%d+):'))
  if expires and expires >= tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
"""


class RedisClaimWindows:
    def __init__(self, redis: Redis, prefix: str = "claimd") -> None:
        self.redis = redis
        self.prefix = prefix
        self._open = redis.register_script(_OPEN)

    def _key(self, device_id: uuid.UUID) -> str:
        return f"{self.prefix}:claim-window:{device_id}"

    async def open(self, device_id: uuid.UUID, data: ClaimData, now_ms: int) -> bool:
        value = f"{data.expiration_time}:{data.secret_digest.hex()}"
        ttl_ms = max(data.expiration_time - now_ms, 0) + EXPIRED_RETENTION_MS
        return bool(await self._open(keys=[self._key(device_id)], args=[value, now_ms, ttl_ms]))

    async def take(self, device_id: uuid.UUID) -> ClaimData | None:
        raw = await self.redis.getdel(self._key(device_id))
        if raw is None:
            return None
        text = raw.decode() if isinstance(raw, bytes) else raw
        expires, _, digest = text.partition(":")
        return ClaimData(bytes.fromhex(digest), int(expires))

    async def discard(self, device_id: uuid.UUID) -> None:
        await self.redis.delete(self._key(device_id))
