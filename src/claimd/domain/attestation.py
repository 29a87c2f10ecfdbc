"""Claim tokens: the identity attestation tokens that nRF91 devices print (``AT%ATTESTTOKEN``).

A token is ``base64url(A) "." base64url(B)``:

* A, the attestation message: CBOR tag 55799 around ``[1, device UUID (16 bytes), device type (int),
  modem firmware UUID (16 bytes), nonce (16 bytes)]``;
* B, a COSE_Sign1 (RFC 9052, tag 18) with protected header ``{1: -7}`` (ES256), an optional key id
  that must name the device identity key, a detached (nil) payload and a raw 64-byte ``r || s``
  signature.

**What is signed.** Nordic does not publish it. claimd verifies the COSE ``Sig_structure`` for
Signature1 with an empty external AAD and, as the detached payload, the decoded bytes of A (tag
included): ``["Signature1", protected, h'', A]``. :func:`signed_bytes` is the one place that says
so; claimd's own token minter signs the same bytes.

This module only parses and checks the shape (pure, no crypto); ``adapters/attestation.py`` verifies
the signature with the public key that the tenant registered for the device.
"""

from __future__ import annotations

import base64
import binascii
import enum
import io
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

import cbor2

from claimd.domain.errors import InvalidArgument

SELF_DESCRIBE_CBOR = 55799
SELF_DESCRIBE_PREFIX = b"\xd9\xd9\xf7"
COSE_SIGN1 = 18
MSG_IDENTITY_V1 = 1
ALG_ES256 = -7
HEADER_ALG = 1
HEADER_KID = 4
KID_IDENTITY_KEY = cbor2.dumps(-2)  # nRF kid values are CBOR-encoded ints: -2 is the identity key
KID_NAMES = {-2: "identity_key", -4: "nordic_base_production_key", -5: "nordic_base_rd_key"}

#: Device type numbers as Nordic's SDK and tools name them; unknown numbers pass through.
DEVICE_TYPES = {
    1: "nrf9160_SIAA",
    2: "nrf9160_SIBA",
    3: "nrf9160_SICA",
    4: "nrf9161_LACA",
    5: "nrf9131_LACA",
    6: "nrf9151_LACA",
}

MAX_TOKEN_LENGTH = 4096
_PREFIX = re.compile(r"^\s*(?:%ATTESTTOKEN:\s*)?", re.IGNORECASE)


class TokenErrorCode(enum.StrEnum):
    NOT_BASE64URL = "CLAIM_TOKEN_NOT_BASE64URL"
    NOT_CBOR = "CLAIM_TOKEN_NOT_CBOR"
    WRONG_SHAPE = "CLAIM_TOKEN_WRONG_SHAPE"
    UNSUPPORTED_KEY = "CLAIM_TOKEN_UNSUPPORTED_KEY"


class ClaimTokenError(InvalidArgument):
    """A claim token that cannot be read. ``code`` says which rule it broke, for machines."""

    def __init__(self, code: TokenErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code.value


def device_type_name(number: int) -> str:
    return DEVICE_TYPES.get(number, f"unknown_{number}")


@dataclass(frozen=True, slots=True)
class ClaimToken:
    device_id: uuid.UUID
    device_type: int
    firmware_id: uuid.UUID
    nonce: bytes
    message: bytes  # part A, decoded: what the signature covers (see signed_bytes)
    protected: bytes  # the COSE protected header, as serialized by the device
    signature: bytes  # raw r || s, 64 bytes

    @property
    def device_type_name(self) -> str:
        return device_type_name(self.device_type)


def signed_bytes(protected: bytes, message: bytes) -> bytes:
    """The COSE ToBeSigned of a claim token (RFC 9052 §4.4, Signature1, no external AAD)."""
    return cbor2.dumps(["Signature1", protected, b"", message])


def _b64url(part: str, which: str) -> bytes:
    if not part or not re.fullmatch(r"[A-Za-z0-9_-]+={0,2}", part):
        raise ClaimTokenError(TokenErrorCode.NOT_BASE64URL, f"The {which} of the claim token is not base64url")
    stripped = part.rstrip("=")
    try:
        return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
    except (binascii.Error, ValueError):
        raise ClaimTokenError(
            TokenErrorCode.NOT_BASE64URL, f"The {which} of the claim token is not base64url"
        ) from None


def _cbor(data: bytes, which: str) -> object:
    stream = io.BytesIO(data)
    try:
        value = cbor2.CBORDecoder(stream).decode()
    except Exception:  # cbor2 raises several types (CBORDecodeError, ValueError, RecursionError...)
        raise ClaimTokenError(TokenErrorCode.NOT_CBOR, f"The {which} of the claim token is not CBOR") from None
    if stream.tell() != len(data):
        raise ClaimTokenError(TokenErrorCode.NOT_CBOR, f"The {which} of the claim token has bytes after its CBOR item")
    return value


def _kid_name(kid: object) -> str:
    """A readable name for a key id, for the error message only: never fails."""
    try:
        return KID_NAMES.get(cbor2.loads(kid), "unknown") if isinstance(kid, bytes) else "unknown"
    except Exception:  # not CBOR, or an unhashable item: it names no key we know
        return "unknown"


def _shape(message: str) -> ClaimTokenError:
    return ClaimTokenError(TokenErrorCode.WRONG_SHAPE, message)


def _uuid16(value: object, what: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != 16:
        raise _shape(f"The claim token's {what} must be a 16-byte string")
    return value


def clean_token_text(text: str) -> str:
    """Tolerate what people paste: the ``%ATTESTTOKEN:`` prefix, quotes, white space."""
    text = _PREFIX.sub("", text or "")
    return text.strip().strip('"').strip("'").strip()


def parse_claim_token(text: str) -> ClaimToken:
    """Read a claim token and check its structure exactly (not its signature)."""
    if not isinstance(text, str):
        raise _shape("The claim token must be a string")
    if len(text) > MAX_TOKEN_LENGTH:
        raise _shape(f"The claim token is longer than {MAX_TOKEN_LENGTH} characters")
    cleaned = clean_token_text(text)
    parts = cleaned.split(".")
    if len(parts) != 2:
        raise ClaimTokenError(TokenErrorCode.NOT_BASE64URL, "A claim token is two base64url parts joined by '.'")
    message = _b64url(parts[0], "message")
    cose = _b64url(parts[1], "signature")

    body = _cbor(message, "message")  # cbor2 drops tag 55799 when decoding, so look at the bytes
    if not message.startswith(SELF_DESCRIBE_PREFIX):
        raise _shape("The claim token's message must carry CBOR tag 55799")
    if not isinstance(body, (list, tuple)) or len(body) != 5:
        raise _shape("The claim token's message must be an array of 5 items")
    msg_type, device, device_type, firmware, nonce = body
    if type(msg_type) is not int or msg_type != MSG_IDENTITY_V1:
        raise _shape("The claim token's message is not a device identity message (type 1)")
    if type(device_type) is not int or device_type < 0:
        raise _shape("The claim token's device type must be an unsigned integer")

    sign1 = _cbor(cose, "signature")
    if not isinstance(sign1, cbor2.CBORTag) or sign1.tag != COSE_SIGN1:
        raise _shape("The claim token's signature must be a COSE_Sign1 (CBOR tag 18)")
    if not isinstance(sign1.value, (list, tuple)) or len(sign1.value) != 4:
        raise _shape("The claim token's COSE_Sign1 must be an array of 4 items")
    protected, unprotected, payload, signature = sign1.value
    if not isinstance(protected, bytes) or not isinstance(unprotected, Mapping):
        raise _shape("The claim token's COSE headers are malformed")
    headers = _cbor(protected, "protected header") if protected else {}
    if not isinstance(headers, Mapping) or headers.get(HEADER_ALG) != ALG_ES256:
        raise ClaimTokenError(TokenErrorCode.UNSUPPORTED_KEY, "The claim token must be signed with ES256 (alg -7)")
    kid = unprotected.get(HEADER_KID, headers.get(HEADER_KID))
    if kid is not None and kid != KID_IDENTITY_KEY:
        name = _kid_name(kid)
        raise ClaimTokenError(
            TokenErrorCode.UNSUPPORTED_KEY,
            f"The claim token is signed by a key claimd does not accept ({name}); only the device identity key is",
        )
    if payload is not None:
        raise _shape("The claim token's COSE payload must be detached (nil)")
    if not isinstance(signature, bytes) or len(signature) != 64:
        raise _shape("The claim token's signature must be 64 bytes (r || s)")
    return ClaimToken(
        device_id=uuid.UUID(bytes=_uuid16(device, "device UUID")),
        device_type=device_type,
        firmware_id=uuid.UUID(bytes=_uuid16(firmware, "firmware UUID")),
        nonce=_uuid16(nonce, "nonce"),
        message=message,
        protected=protected,
        signature=signature,
    )


def encode_message(device_id: uuid.UUID, device_type: int, firmware_id: uuid.UUID, nonce: bytes) -> bytes:
    """Part A of a claim token, as a device writes it."""
    return cbor2.dumps(
        cbor2.CBORTag(SELF_DESCRIBE_CBOR, [MSG_IDENTITY_V1, device_id.bytes, device_type, firmware_id.bytes, nonce])
    )


def encode_sign1(protected: bytes, signature: bytes) -> bytes:
    """Part B of a claim token around a raw ``r || s`` signature."""
    return cbor2.dumps(cbor2.CBORTag(COSE_SIGN1, [protected, {HEADER_KID: KID_IDENTITY_KEY}, None, signature]))


PROTECTED_ES256 = cbor2.dumps({HEADER_ALG: ALG_ES256})


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
