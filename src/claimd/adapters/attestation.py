"""Device identity keys: reading P-256 public keys, verifying claim tokens, and minting test tokens.

claimd can verify a token only with the public key a tenant registered for that device: it does not
hold Nordic's identity database, so a real nRF91 token verifies only after its device's public key
has been imported (see docs/ownership.md).
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import time
import uuid
from functools import lru_cache
from typing import Any

import jwt
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from claimd.domain.attestation import (
    PROTECTED_ES256,
    ClaimToken,
    b64url,
    encode_message,
    encode_sign1,
    signed_bytes,
)
from claimd.domain.errors import InvalidArgument

_HEX = re.compile(r"[0-9a-fA-F]+")
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())


def _raw_point(data: bytes) -> ec.EllipticCurvePublicKey:
    if len(data) == 64:  # x || y without the 0x04 prefix
        data = b"\x04" + data
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), data)


def public_key_der(text: str) -> bytes:
    """A P-256 public key given as PEM, or as a raw point (65 or 64 bytes) in hex or base64, as
    SubjectPublicKeyInfo DER (the stored form)."""
    text = (text or "").strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode())
        else:
            compact = "".join(text.split())
            if _HEX.fullmatch(compact) and len(compact) in (128, 130):
                data = bytes.fromhex(compact)
            else:
                data = base64.b64decode(compact.replace("-", "+").replace("_", "/") + "=" * (-len(compact) % 4))
            key = _raw_point(data) if len(data) in (64, 65) else serialization.load_der_public_key(data)
    except (ValueError, TypeError, binascii.Error, UnsupportedAlgorithm):
        raise InvalidArgument("The public key must be a P-256 key: PEM, or a raw point in hex or base64") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise InvalidArgument("The public key must be an ECC P-256 (secp256r1) key")
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def public_key_pem(der: bytes) -> str:
    key = serialization.load_der_public_key(der)
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def sign_es256(private_key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    r, s = decode_dss_signature(private_key.sign(data, _ECDSA_SHA256))
    return r.to_bytes(32) + s.to_bytes(32)


def new_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def private_key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def load_private_key(pem: str | bytes) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.encode() if isinstance(pem, str) else pem, password=None)
    except (ValueError, TypeError):
        raise InvalidArgument("The private key must be an unencrypted PEM key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise InvalidArgument("The private key must be an ECC P-256 (secp256r1) key")
    return key


def public_pem_of(key: ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def mint_token(
    private_key: ec.EllipticCurvePrivateKey,
    device_id: uuid.UUID,
    *,
    device_type: int = 3,
    firmware_id: uuid.UUID | None = None,
    nonce: bytes | None = None,
) -> str:
    """A claim token as a device would print it, signed by ``private_key`` (for tests and demos)."""
    nonce = secrets.token_bytes(16) if nonce is None else nonce
    if len(nonce) != 16:
        raise InvalidArgument("The nonce (challenge) must be 16 bytes (32 hex characters)")
    message = encode_message(device_id, device_type, firmware_id or uuid.UUID(int=0), nonce)
    signature = sign_es256(private_key, signed_bytes(PROTECTED_ES256, message))
    return f"{b64url(message)}.{b64url(encode_sign1(PROTECTED_ES256, signature))}"


def _load_ec_key(der: bytes) -> ec.EllipticCurvePublicKey:
    """A stored key (public_key_der made it, so it is a P-256 key) loaded."""
    key = serialization.load_der_public_key(der)
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("not an elliptic-curve public key")
    return key


class Es256IdentityKeys:
    """:class:`claimd.services.ports.IdentityKeys` for P-256 keys; loaded keys are cached."""

    def __init__(self, cache_size: int = 4096) -> None:
        self._load = lru_cache(maxsize=cache_size)(_load_ec_key)

    def normalize(self, text: str) -> bytes:
        return public_key_der(text)

    def verify(self, public_key: bytes, token: ClaimToken) -> bool:
        key = self._load(public_key)
        signature = token.signature
        der_signature = encode_dss_signature(int.from_bytes(signature[:32]), int.from_bytes(signature[32:]))
        try:
            key.verify(der_signature, signed_bytes(token.protected, token.message), _ECDSA_SHA256)
        except InvalidSignature:
            return False
        return True

    def jwt_claims(self, token: str, public_key: bytes | None) -> dict[str, Any] | None:
        try:
            if public_key is None:
                if jwt.get_unverified_header(token).get("alg") != "ES256":
                    return None
                claims = jwt.decode(token, options={"verify_signature": False})
            else:
                claims = jwt.decode(
                    token,
                    self._load(public_key),
                    algorithms=["ES256"],
                    options={"verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_aud": False},
                )
        except (jwt.PyJWTError, ValueError, TypeError):
            return None
        return claims if isinstance(claims, dict) else None


def mint_device_jwt(
    private_key: ec.EllipticCurvePrivateKey,
    device_id: uuid.UUID,
    *,
    lifetime_s: int = 300,
    issuer_prefix: str = "",
    now_s: int | None = None,
) -> str:
    """A device JWT as the nRF Provisioning library sends it (ES256, device UUID in ``iss``)."""
    now = int(time.time()) if now_s is None else now_s
    claims = {
        "iss": f"{issuer_prefix}{device_id}",
        "iat": now,
        "exp": now + lifetime_s,
        "jti": f"{issuer_prefix}{device_id}.{secrets.token_hex(8)}",
    }
    return jwt.encode(claims, private_key, algorithm="ES256")
