"""Keyed digests for claim secrets, sealing for device tokens, argon2id for passwords, JWTs.

Claim secrets (device keys, server-side keys, activation tokens, access-token lookups) are a keyed
HMAC-SHA256 under a key derived from the server secret: 3 µs, compared in constant time. A password
hash there would let one request take both cores (see docs/performance.md). argon2id
is used for user passwords at login only, off the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import secrets
import time
import uuid
from collections import OrderedDict
from typing import Any

import jwt
from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from claimd.domain.errors import AuthenticationFailed
from claimd.domain.model import Authority, Principal, User


def derive_key(server_secret: bytes, purpose: str) -> bytes:
    """One independent 32-byte key per purpose from the one server secret."""
    return hmac.new(server_secret, b"claimd/" + purpose.encode(), hashlib.sha256).digest()


class HmacSecretHasher:
    def __init__(self, server_secret: bytes) -> None:
        self._key = derive_key(server_secret, "secret-digest")

    def digest(self, purpose: str, subject: str, secret: str) -> bytes:
        # surrogatepass: a JSON "\\ud800" escape gives a lone surrogate, which strict UTF-8 refuses;
        # every other string encodes exactly as before, so stored digests are unchanged.
        message = b"\x00".join(s.encode("utf-8", "surrogatepass") for s in (purpose, subject, secret))
        return hmac.new(self._key, message, hashlib.sha256).digest()


class AesGcmSealer:
    def __init__(self, server_secret: bytes) -> None:
        self._key = derive_key(server_secret, "seal")
        self._aead = AESGCM(self._key)

    def __reduce__(self) -> tuple[Any, ...]:
        """Picklable (the fleet import seals in a worker process): the derived key, not the secret."""
        return _sealer_of_key, (self._key,)

    def seal(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        return base64.urlsafe_b64encode(nonce + self._aead.encrypt(nonce, plaintext.encode(), None)).decode()

    def unseal(self, sealed: str) -> str:
        raw = base64.urlsafe_b64decode(sealed)
        return self._aead.decrypt(raw[:12], raw[12:], None).decode()


def _sealer_of_key(key: bytes) -> AesGcmSealer:
    sealer = AesGcmSealer.__new__(AesGcmSealer)
    sealer._key, sealer._aead = key, AESGCM(key)
    return sealer


class Argon2PasswordHasher:
    """argon2id with OWASP's second profile (t=2, 19 MiB, p=1): ~30 ms here, run in a thread."""

    def __init__(self) -> None:
        self._hasher = _Argon2(time_cost=2, memory_cost=19 * 1024, parallelism=1)

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        def check() -> bool:
            try:
                return self._hasher.verify(password_hash, password)
            except (VerificationError, InvalidHashError):
                return False

        return await asyncio.to_thread(check)


class JwtCodec:
    """HS256 JWTs shaped like ThingsBoard's (``sub`` = e-mail, ``scopes`` = [authority], ids).

    Decoded access tokens are cached until they expire: PyJWT is the largest single cost of an
    authenticated request (see docs/performance.md).
    """

    ISSUER = "claimd"

    def __init__(
        self, server_secret: bytes, access_ttl_s: int = 9000, refresh_ttl_s: int = 604800, cache_size: int = 10000
    ) -> None:
        self._key = derive_key(server_secret, "jwt")
        self.access_ttl_s = access_ttl_s
        self.refresh_ttl_s = refresh_ttl_s
        self._cache: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self._cache_size = cache_size

    def issue(self, user: User) -> tuple[str, str]:
        now_ms = time.time_ns() // 1_000_000
        now = now_ms // 1000
        # iatMs: a password change refuses tokens issued before it, to the millisecond
        common = {
            "iss": self.ISSUER,
            "iat": now,
            "iatMs": now_ms,
            "sub": user.email,
            "userId": str(user.id),
            "jti": secrets.token_hex(8),
        }
        access = {
            **common,
            "exp": now + self.access_ttl_s,
            "scopes": [user.authority.value],
            "tenantId": str(user.tenant_id),
            "customerId": str(user.customer_id) if user.customer_id else None,
            "enabled": True,
            "isPublic": False,
        }
        refresh = {**common, "exp": now + self.refresh_ttl_s, "scopes": ["REFRESH_TOKEN"]}
        return jwt.encode(access, self._key, "HS256"), jwt.encode(refresh, self._key, "HS256")

    def _decode(self, token: str) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                issuer=self.ISSUER,
                options={"require": ["exp", "sub", "scopes", "userId"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthenticationFailed("Token has expired", expired=True) from exc
        except jwt.PyJWTError as exc:
            raise AuthenticationFailed("Authentication failed") from exc

    def principal(self, token: str) -> Principal:
        cached = self._cache.get(token)
        if cached is not None:
            principal, exp = cached
            if time.time() < exp:
                return principal
            del self._cache[token]
            raise AuthenticationFailed("Token has expired", expired=True)
        claims = self._decode(token)
        scopes = claims["scopes"]
        if not isinstance(scopes, list) or len(scopes) != 1 or scopes[0] not in Authority.__members__:
            raise AuthenticationFailed("Authentication failed")
        try:
            principal = Principal(
                user_id=uuid.UUID(claims["userId"]),
                tenant_id=uuid.UUID(claims["tenantId"]),
                customer_id=uuid.UUID(claims["customerId"]) if claims.get("customerId") else None,
                authority=Authority(scopes[0]),
                email=claims["sub"],
                issued_at_ms=_issued_ms(claims),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise AuthenticationFailed("Authentication failed") from exc
        self._cache[token] = (principal, float(claims["exp"]))
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return principal

    def refresh_claims(self, refresh_token: str) -> tuple[uuid.UUID, int]:
        claims = self._decode(refresh_token)
        if claims["scopes"] != ["REFRESH_TOKEN"]:
            raise AuthenticationFailed("Invalid refresh token")
        try:
            return uuid.UUID(claims["userId"]), _issued_ms(claims)
        except (KeyError, TypeError, ValueError) as exc:
            raise AuthenticationFailed("Invalid refresh token") from exc


def _issued_ms(claims: dict[str, Any]) -> int:
    """When a token was issued, in epoch ms (tokens without iatMs: their iat second; without iat: never)."""
    iat_ms = claims.get("iatMs")
    if isinstance(iat_ms, int):
        return iat_ms
    iat = claims.get("iat")
    return int(iat) * 1000 if isinstance(iat, (int, float)) else 0


def new_token(nbytes: int = 15) -> str:
    """A random URL-safe token (20 characters for 15 bytes, like ThingsBoard's access tokens)."""
    return secrets.token_urlsafe(nbytes)
