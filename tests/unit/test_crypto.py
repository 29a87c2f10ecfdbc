"""Keyed digests, sealing, JWTs and password hashing (adapters/crypto.py)."""

from __future__ import annotations

import base64
import json
import uuid

import jwt
import pytest
from cryptography.exceptions import InvalidTag

from claimd.adapters.crypto import (
    AesGcmSealer,
    Argon2PasswordHasher,
    HmacSecretHasher,
    JwtCodec,
    derive_key,
    new_token,
)
from claimd.domain.errors import AuthenticationFailed
from claimd.domain.model import Authority, User

SECRET = b"server-secret-one-0123456789abcdef"
OTHER_SECRET = b"server-secret-two-0123456789abcdef"

# --- HmacSecretHasher ----------------------------------------------------------------------------


def test_digest_is_32_bytes_and_deterministic():
    hasher = HmacSecretHasher(SECRET)
    first = hasher.digest("claim", "device-1", "key")
    assert isinstance(first, bytes) and len(first) == 32
    assert first == hasher.digest("claim", "device-1", "key")
    assert first == HmacSecretHasher(SECRET).digest("claim", "device-1", "key")


@pytest.mark.parametrize(
    "other",
    [
        ("access", "device-1", "key"),
        ("claim", "device-2", "key"),
        ("claim", "device-1", "Key"),
        ("claim", "device-1", ""),
        ("claim", "device-1", "key "),
    ],
)
def test_digest_differs_by_purpose_subject_and_secret(other):
    hasher = HmacSecretHasher(SECRET)
    assert hasher.digest("claim", "device-1", "key") != hasher.digest(*other)


def test_digest_differs_by_server_secret():
    assert HmacSecretHasher(SECRET).digest("claim", "d", "k") != HmacSecretHasher(OTHER_SECRET).digest(
        "claim", "d", "k"
    )


def test_digest_of_lone_surrogate_does_not_crash():
    # A JSON "\ud800" escape decodes to a lone surrogate; a device may send one as its key.
    hasher = HmacSecretHasher(SECRET)
    odd = hasher.digest("claim", "d", "\ud800")
    assert len(odd) == 32
    assert odd != hasher.digest("claim", "d", "\ud801")
    assert odd != hasher.digest("claim", "d", "")


def test_digest_non_ascii_secret():
    hasher = HmacSecretHasher(SECRET)
    assert hasher.digest("claim", "d", "ключ") != hasher.digest("claim", "d", "ключ2")


def test_derive_key_per_purpose():
    assert len(derive_key(SECRET, "a")) == 32
    assert derive_key(SECRET, "a") != derive_key(SECRET, "b")
    assert derive_key(SECRET, "a") != derive_key(OTHER_SECRET, "a")


# --- AesGcmSealer --------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["device-token-123", "", "ünïcødé ✓"])
def test_seal_round_trip(text):
    sealer = AesGcmSealer(SECRET)
    sealed = sealer.seal(text)
    assert text == sealer.unseal(sealed)
    assert AesGcmSealer(SECRET).unseal(sealed) == text  # a restarted server can still unseal


def test_seal_is_randomised_and_hides_plaintext():
    sealer = AesGcmSealer(SECRET)
    a, b = sealer.seal("same-token"), sealer.seal("same-token")
    assert a != b
    assert "same-token" not in a


def test_unseal_with_another_server_secret_fails():
    sealed = AesGcmSealer(SECRET).seal("token")
    with pytest.raises(InvalidTag):
        AesGcmSealer(OTHER_SECRET).unseal(sealed)


def test_unseal_tampered_fails():
    sealer = AesGcmSealer(SECRET)
    raw = bytearray(base64.urlsafe_b64decode(sealer.seal("token")))
    raw[-1] ^= 1
    with pytest.raises(InvalidTag):
        sealer.unseal(base64.urlsafe_b64encode(bytes(raw)).decode())


def test_new_token_is_random_and_url_safe():
    tokens = {new_token() for _ in range(20)}
    assert len(tokens) == 20
    assert all(len(t) == 20 and all(c.isalnum() or c in "-_" for c in t) for t in tokens)


# --- JwtCodec ------------------------------------------------------------------------------------


def _user(authority=Authority.CUSTOMER_USER, customer=True) -> User:
    return User(
        id=uuid.uuid4(),
        tenant_id=uuid.uuid4(),
        customer_id=uuid.uuid4() if customer else None,
        email="user@example.com",
        authority=authority,
        created_time=0,
        enabled=True,
    )


def test_issue_and_read_principal_customer_user():
    codec = JwtCodec(SECRET)
    user = _user()
    access, _refresh = codec.issue(user)
    principal = codec.principal(access)
    assert principal.user_id == user.id
    assert principal.tenant_id == user.tenant_id
    assert principal.customer_id == user.customer_id
    assert principal.authority is Authority.CUSTOMER_USER
    assert principal.email == user.email
    assert principal.is_customer_user and not principal.is_tenant_admin
    # Read again (the cache path) gives the same principal.
    assert codec.principal(access) == principal
    # A fresh codec with the same server secret (no cache) reads it too.
    assert JwtCodec(SECRET).principal(access) == principal


def test_issue_and_read_principal_tenant_admin():
    codec = JwtCodec(SECRET)
    user = _user(Authority.TENANT_ADMIN, customer=False)
    principal = codec.principal(codec.issue(user)[0])
    assert principal.authority is Authority.TENANT_ADMIN
    assert principal.customer_id is None
    assert principal.tenant_id == user.tenant_id
    assert principal.is_tenant_admin


def test_access_token_is_shaped_like_thingsboards():
    codec = JwtCodec(SECRET)
    user = _user()
    claims = jwt.decode(codec.issue(user)[0], options={"verify_signature": False})
    assert claims["sub"] == user.email
    assert claims["scopes"] == ["CUSTOMER_USER"]
    assert claims["userId"] == str(user.id)
    assert claims["customerId"] == str(user.customer_id)


def _tamper_payload(token: str, **changes) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    new_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{new_payload}.{signature}"


def test_tampered_token_rejected():
    codec = JwtCodec(SECRET)
    access, _ = codec.issue(_user())
    forged = _tamper_payload(access, scopes=["TENANT_ADMIN"])
    with pytest.raises(AuthenticationFailed) as info:
        codec.principal(forged)
    assert not info.value.expired


def test_token_of_another_server_rejected():
    access, _ = JwtCodec(OTHER_SECRET).issue(_user())
    with pytest.raises(AuthenticationFailed):
        JwtCodec(SECRET).principal(access)


def test_unsigned_token_rejected():
    codec = JwtCodec(SECRET)
    access, _ = codec.issue(_user())
    claims = jwt.decode(access, options={"verify_signature": False})
    with pytest.raises(AuthenticationFailed):
        codec.principal(jwt.encode(claims, None, algorithm="none"))


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c"])
def test_garbage_token_rejected(token):
    with pytest.raises(AuthenticationFailed):
        JwtCodec(SECRET).principal(token)


def test_expired_token_rejected_as_expired():
    codec = JwtCodec(SECRET, access_ttl_s=-10)
    access, _ = codec.issue(_user())
    with pytest.raises(AuthenticationFailed) as info:
        codec.principal(access)
    assert info.value.expired is True


def test_expired_refresh_token_rejected_as_expired():
    codec = JwtCodec(SECRET, refresh_ttl_s=-10)
    _, refresh = codec.issue(_user())
    with pytest.raises(AuthenticationFailed) as info:
        codec.refresh_claims(refresh)
    assert info.value.expired is True


def test_cached_token_expires(monkeypatch):
    import claimd.adapters.crypto as crypto

    codec = JwtCodec(SECRET, access_ttl_s=60)
    access, _ = codec.issue(_user())
    codec.principal(access)  # now cached
    real_time = crypto.time.time
    monkeypatch.setattr(crypto.time, "time", lambda: real_time() + 120)
    with pytest.raises(AuthenticationFailed) as info:
        codec.principal(access)
    assert info.value.expired is True


def test_refresh_token_is_not_an_access_token():
    codec = JwtCodec(SECRET)
    _, refresh = codec.issue(_user())
    with pytest.raises(AuthenticationFailed):
        codec.principal(refresh)


def test_refresh_claims_round_trip():
    codec = JwtCodec(SECRET)
    user = _user()
    _, refresh = codec.issue(user)
    assert codec.refresh_claims(refresh)[0] == user.id


def test_access_token_is_not_a_refresh_token():
    codec = JwtCodec(SECRET)
    access, _ = codec.issue(_user())
    codec.principal(access)  # even once cached as an access token
    with pytest.raises(AuthenticationFailed):
        codec.refresh_claims(access)


def test_refresh_token_of_another_server_rejected():
    _, refresh = JwtCodec(OTHER_SECRET).issue(_user())
    with pytest.raises(AuthenticationFailed):
        JwtCodec(SECRET).refresh_claims(refresh)


def test_tokens_are_unique():
    codec = JwtCodec(SECRET)
    user = _user()
    first, second = codec.issue(user), codec.issue(user)
    assert first[0] != second[0] and first[1] != second[1]


# --- Argon2PasswordHasher ------------------------------------------------------------------------


async def test_password_hash_and_verify():
    hasher = Argon2PasswordHasher()
    hashed = await hasher.hash("correct horse")
    assert hashed.startswith("$argon2id$")
    assert "correct horse" not in hashed
    assert await hasher.verify(hashed, "correct horse") is True
    assert await hasher.verify(hashed, "wrong horse") is False
    assert await hasher.verify(hashed, "") is False


async def test_password_verify_garbage_hash_is_false():
    assert await Argon2PasswordHasher().verify("not-a-hash", "anything") is False
