"""Claim tokens (nRF91 identity attestation tokens): parsing, shape checks, encoding
(domain/attestation.py) and P-256 keys, minting and ES256 verification (adapters/attestation.py).

Pure unit tests: no database, no network. Malformed tokens are built with cbor2 + base64 here.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import string
import uuid

import cbor2
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claimd.adapters.attestation import (
    Es256IdentityKeys,
    load_private_key,
    mint_token,
    new_private_key,
    private_key_pem,
    public_key_der,
    public_pem_of,
)
from claimd.domain.attestation import (
    MAX_TOKEN_LENGTH,
    PROTECTED_ES256,
    ClaimToken,
    ClaimTokenError,
    TokenErrorCode,
    clean_token_text,
    device_type_name,
    encode_message,
    encode_sign1,
    parse_claim_token,
    signed_bytes,
)
from claimd.domain.errors import InvalidArgument

# The example token of nRF Cloud's "Claim device ownership" docs (a real nRF91 token).
DOCS_TOKEN = (
    "2dn3hQFQSWHIc0CMRc6xunwNmdiBeQNQpNWAuar7SSW8jduV9zfUrlDi2RpLvSI7Lpj6UEpyjZUy."
    "0oRDoQEmoQRBIfZYQOOK3tk8JPbQj97vYSUwvg2l4RWnI-HkW870dxWy6pirvWJ5ZfjLtJsP-R5C9MJNtMHkZEZNjI1bmMaMLInZWTE"
)
DOCS_DEVICE = uuid.UUID("4961c873-408c-45ce-b1ba-7c0d99d88179")
DOCS_FIRMWARE = uuid.UUID("a4d580b9-aafb-4925-bc8d-db95f737d4ae")
DOCS_NONCE_HEX = "e2d91a4bbd223b2e98fa504a728d9532"

DEVICE = uuid.UUID("11111111-2222-4333-8444-555555555555")
FIRMWARE = uuid.UUID("66666666-7777-4888-9999-aaaaaaaaaaaa")
NONCE = bytes(range(16))
KID_IDENTITY = cbor2.dumps(-2)  # h'21'
SIG64 = bytes(range(64))
B64URL = string.ascii_letters + string.digits + "-_"


# --- helpers -------------------------------------------------------------------------------------


def b64u(data: bytes, *, pad: bool = False) -> str:
    text = base64.urlsafe_b64encode(data).decode()
    return text if pad else text.rstrip("=")


def unb64u(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def message_bytes(*items, tag: int | None = 55799) -> bytes:
    if not items:
        items = (1, DEVICE.bytes, 3, FIRMWARE.bytes, NONCE)
    body = list(items)
    return cbor2.dumps(cbor2.CBORTag(tag, body) if tag is not None else body)


def sign1_bytes(*items, tag: int | None = 18) -> bytes:
    if not items:
        items = (PROTECTED_ES256, {4: KID_IDENTITY}, None, SIG64)
    body = list(items)
    return cbor2.dumps(cbor2.CBORTag(tag, body) if tag is not None else body)


def make_token(message: bytes | None = None, sign1: bytes | None = None) -> str:
    return f"{b64u(message if message is not None else message_bytes())}.{b64u(sign1 if sign1 is not None else sign1_bytes())}"


def error_of(text) -> ClaimTokenError:
    with pytest.raises(ClaimTokenError) as info:
        parse_claim_token(text)
    return info.value


def flip_bit(data: bytes, index: int, bit: int = 0) -> bytes:
    return data[:index] + bytes([data[index] ^ (1 << bit)]) + data[index + 1 :]


def spki_der(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


# --- the docs example token ----------------------------------------------------------------------


def test_docs_token_parses_to_its_device_type_and_firmware():
    token = parse_claim_token(DOCS_TOKEN)
    assert isinstance(token, ClaimToken)
    assert token.device_id == DOCS_DEVICE
    assert token.device_type == 3
    assert token.device_type_name == "nrf9160_SICA"
    assert token.firmware_id == DOCS_FIRMWARE
    assert token.nonce.hex() == DOCS_NONCE_HEX
    assert len(token.nonce) == 16
    assert len(token.signature) == 64
    assert token.protected == b"\xa1\x01\x26"  # {1: -7}
    assert token.message == unb64u(DOCS_TOKEN.split(".")[0])


def test_docs_token_is_re_encoded_byte_for_byte_by_the_encoders():
    token = parse_claim_token(DOCS_TOKEN)
    part_a, part_b = DOCS_TOKEN.split(".")
    assert encode_message(token.device_id, token.device_type, token.firmware_id, token.nonce) == unb64u(part_a)
    assert encode_sign1(token.protected, token.signature) == unb64u(part_b)


def test_docs_token_does_not_verify_with_a_random_key():
    token = parse_claim_token(DOCS_TOKEN)
    der = spki_der(new_private_key().public_key())
    assert Es256IdentityKeys().verify(der, token) is False


def test_corrupted_csv_example_of_old_docs_is_a_claim_token_error():
    # The old docs' CSV example lost the leading '0' of part B ("0oRD..." -> "oRD...").
    part_a, part_b = DOCS_TOKEN.split(".")
    assert part_b.startswith("0oRD")
    error = error_of(f"{part_a}.{part_b[1:]}")
    assert error.code in {c.value for c in TokenErrorCode}
    assert error.code != TokenErrorCode.NOT_BASE64URL.value  # it is base64url; what it holds is wrong


def test_corrupted_csv_row_with_tags_is_refused_too():
    part_a, part_b = DOCS_TOKEN.split(".")
    with pytest.raises(ClaimTokenError):
        parse_claim_token(f'"{part_a}.{part_b[1:]}"')


# --- tolerant parsing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        f'%ATTESTTOKEN: "{DOCS_TOKEN}"',
        f'%attesttoken: "{DOCS_TOKEN}"',
        f'%AttestToken:"{DOCS_TOKEN}"',
        f"%ATTESTTOKEN: {DOCS_TOKEN}",
        f"  %ATTESTTOKEN:   '{DOCS_TOKEN}'  \r\n",
        f'"{DOCS_TOKEN}"',
        f"'{DOCS_TOKEN}'",
        f"  {DOCS_TOKEN}\n",
        f"\n\t{DOCS_TOKEN}\r\n",
        f'\n "{DOCS_TOKEN}" \n',
    ],
)
def test_prefix_quotes_and_white_space_are_tolerated(text):
    assert parse_claim_token(text) == parse_claim_token(DOCS_TOKEN)


def test_padded_base64url_is_accepted_and_equal_to_unpadded():
    token = make_token()
    padded = f"{b64u(message_bytes(), pad=True)}.{b64u(sign1_bytes(), pad=True)}"
    assert "=" in padded  # the parts of this token do need padding
    assert parse_claim_token(padded) == parse_claim_token(token)


def test_padded_docs_token_is_accepted():
    part_a, part_b = DOCS_TOKEN.split(".")
    padded = f"{part_a}{'=' * (-len(part_a) % 4)}.{part_b}{'=' * (-len(part_b) % 4)}"
    assert padded != DOCS_TOKEN
    assert parse_claim_token(padded) == parse_claim_token(DOCS_TOKEN)


def test_clean_token_text_strips_prefix_quotes_and_space():
    assert clean_token_text(f'%ATTESTTOKEN: "{DOCS_TOKEN}"\r\n') == DOCS_TOKEN
    assert clean_token_text(f"  '{DOCS_TOKEN}'  ") == DOCS_TOKEN
    assert clean_token_text(DOCS_TOKEN) == DOCS_TOKEN
    assert clean_token_text("") == ""
    assert clean_token_text(None) == ""


def test_a_well_formed_built_token_parses_to_its_fields():
    token = parse_claim_token(make_token())
    assert (token.device_id, token.device_type, token.firmware_id, token.nonce) == (DEVICE, 3, FIRMWARE, NONCE)
    assert token.signature == SIG64
    assert token.protected == PROTECTED_ES256


def test_token_without_a_kid_is_accepted():
    token = parse_claim_token(make_token(sign1=sign1_bytes(PROTECTED_ES256, {}, None, SIG64)))
    assert token.device_id == DEVICE


def test_identity_kid_in_the_protected_header_is_accepted():
    protected = cbor2.dumps({1: -7, 4: KID_IDENTITY})
    token = parse_claim_token(make_token(sign1=sign1_bytes(protected, {}, None, SIG64)))
    assert token.protected == protected


def test_token_of_exactly_the_maximum_length_is_not_refused_for_length():
    text = make_token()
    text = " " * (MAX_TOKEN_LENGTH - len(text)) + text
    assert len(text) == MAX_TOKEN_LENGTH
    assert parse_claim_token(text).device_id == DEVICE


# --- error codes ---------------------------------------------------------------------------------


def test_error_codes_are_stable_strings():
    assert TokenErrorCode.NOT_BASE64URL.value == "CLAIM_TOKEN_NOT_BASE64URL"
    assert TokenErrorCode.NOT_CBOR.value == "CLAIM_TOKEN_NOT_CBOR"
    assert TokenErrorCode.WRONG_SHAPE.value == "CLAIM_TOKEN_WRONG_SHAPE"
    assert TokenErrorCode.UNSUPPORTED_KEY.value == "CLAIM_TOKEN_UNSUPPORTED_KEY"


def test_claim_token_error_is_an_invalid_argument_with_a_code_and_message():
    error = error_of("no-dot-here")
    assert isinstance(error, InvalidArgument)
    assert error.code == "CLAIM_TOKEN_NOT_BASE64URL"
    assert isinstance(error.code, str)
    assert error.message and str(error) == error.message


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "abcdef",  # no dot
        DOCS_TOKEN.replace(".", ""),  # no dot
        f"{DOCS_TOKEN}.AAAA",  # three parts
        "AAAA.AAAA.AAAA",
        ".",  # two empty parts
        f".{DOCS_TOKEN.split('.')[1]}",  # empty part A
        f"{DOCS_TOKEN.split('.')[0]}.",  # empty part B
        DOCS_TOKEN.replace("-", "+"),  # standard base64 alphabet
        DOCS_TOKEN.replace("-", "/"),
        DOCS_TOKEN[:10] + "$" + DOCS_TOKEN[11:],
        DOCS_TOKEN[:100] + "$" + DOCS_TOKEN[101:],
        DOCS_TOKEN[:10] + " " + DOCS_TOKEN[10:],  # space inside a part
        DOCS_TOKEN[:10] + "\n" + DOCS_TOKEN[10:],  # newline inside a part
        "A.AAAA",  # a single base64 character is no byte
        "AAAA.AAAAA",  # length 1 mod 4
        "AA===.AAAA",  # too much padding
        "=.=",
        "AA=A.AAAA",  # padding inside
        "ÄÄÄÄ.AAAA",  # non-ASCII letters
        "２dn3.AAAA",  # full-width digit
    ],
)
def test_not_base64url(text):
    assert error_of(text).code == TokenErrorCode.NOT_BASE64URL.value


@pytest.mark.parametrize(
    ("part_a", "part_b"),
    [
        (b"\xff", sign1_bytes()),  # a lone break code
        (b"\x1c", sign1_bytes()),  # reserved additional info
        (b"\xd9\xd9\xf7\x85\x01\x50", sign1_bytes()),  # truncated
        (b"\x5f\x41\x00", sign1_bytes()),  # indefinite bytes without break
        (message_bytes() + b"\x00", sign1_bytes()),  # trailing byte after the message
        (message_bytes() + message_bytes(), sign1_bytes()),  # two items
        (message_bytes(), b"\xff\xff"),
        (message_bytes(), sign1_bytes()[:-1]),  # truncated signature
        (message_bytes(), sign1_bytes() + b"\xf6"),  # trailing byte after the COSE_Sign1
        (message_bytes(), sign1_bytes(b"\xff", {}, None, SIG64)),  # protected header not CBOR
    ],
)
def test_not_cbor(part_a, part_b):
    assert error_of(make_token(part_a, part_b)).code == TokenErrorCode.NOT_CBOR.value


def test_not_cbor_names_the_trailing_bytes():
    error = error_of(make_token(message_bytes() + b"\x00"))
    assert error.code == TokenErrorCode.NOT_CBOR.value
    assert "after" in error.message


WRONG_SHAPE_CASES = {
    "no tag 55799": make_token(message_bytes(tag=None)),
    "other tag than 55799": make_token(message_bytes(tag=24)),
    "array of 4": make_token(message_bytes(1, DEVICE.bytes, 3, FIRMWARE.bytes)),
    "array of 6": make_token(message_bytes(1, DEVICE.bytes, 3, FIRMWARE.bytes, NONCE, NONCE)),
    "array of 0": make_token(cbor2.dumps(cbor2.CBORTag(55799, []))),
    "message is a map": make_token(cbor2.dumps(cbor2.CBORTag(55799, {1: 1}))),
    "message is bytes": make_token(cbor2.dumps(cbor2.CBORTag(55799, b"x" * 57))),
    "msg type 2": make_token(message_bytes(2, DEVICE.bytes, 3, FIRMWARE.bytes, NONCE)),
    "msg type 0": make_token(message_bytes(0, DEVICE.bytes, 3, FIRMWARE.bytes, NONCE)),
    "msg type true": make_token(message_bytes(True, DEVICE.bytes, 3, FIRMWARE.bytes, NONCE)),
    "msg type 1.0": make_token(message_bytes(1.0, DEVICE.bytes, 3, FIRMWARE.bytes, NONCE)),
    "msg type '1'": make_token(message_bytes("1", DEVICE.bytes, 3, FIRMWARE.bytes, NONCE)),
    "device uuid 15 bytes": make_token(message_bytes(1, DEVICE.bytes[:15], 3, FIRMWARE.bytes, NONCE)),
    "device uuid 17 bytes": make_token(message_bytes(1, DEVICE.bytes + b"\x00", 3, FIRMWARE.bytes, NONCE)),
    "device uuid as text": make_token(message_bytes(1, str(DEVICE), 3, FIRMWARE.bytes, NONCE)),
    "firmware uuid 15 bytes": make_token(message_bytes(1, DEVICE.bytes, 3, FIRMWARE.bytes[:15], NONCE)),
    "firmware uuid 17 bytes": make_token(message_bytes(1, DEVICE.bytes, 3, FIRMWARE.bytes + b"\x00", NONCE)),
    "device type text": make_token(message_bytes(1, DEVICE.bytes, "3", FIRMWARE.bytes, NONCE)),
    "device type float": make_token(message_bytes(1, DEVICE.bytes, 3.0, FIRMWARE.bytes, NONCE)),
    "device type bool": make_token(message_bytes(1, DEVICE.bytes, True, FIRMWARE.bytes, NONCE)),
    "device type nil": make_token(message_bytes(1, DEVICE.bytes, None, FIRMWARE.bytes, NONCE)),
    "device type negative": make_token(message_bytes(1, DEVICE.bytes, -1, FIRMWARE.bytes, NONCE)),
    "nonce 15 bytes": make_token(message_bytes(1, DEVICE.bytes, 3, FIRMWARE.bytes, NONCE[:15])),
    "nonce 17 bytes": make_token(message_bytes(1, DEVICE.bytes, 3, FIRMWARE.bytes, NONCE + b"\x00")),
    "nonce empty": make_token(message_bytes(1, DEVICE.bytes, 3, FIRMWARE.bytes, b"")),
    "nonce as hex text": make_token(message_bytes(1, DEVICE.bytes, 3, FIRMWARE.bytes, NONCE.hex())),
    "cose without tag": make_token(sign1=sign1_bytes(tag=None)),
    "cose tag 98 (COSE_Sign)": make_token(sign1=sign1_bytes(tag=98)),
    "cose tag 17 (COSE_Mac0)": make_token(sign1=sign1_bytes(tag=17)),
    "cose array of 3": make_token(sign1=sign1_bytes(PROTECTED_ES256, {4: KID_IDENTITY}, None)),
    "cose array of 5": make_token(sign1=sign1_bytes(PROTECTED_ES256, {4: KID_IDENTITY}, None, SIG64, b"")),
    "cose is a map": make_token(sign1=cbor2.dumps(cbor2.CBORTag(18, {1: 2}))),
    "protected header not bytes": make_token(sign1=sign1_bytes({1: -7}, {}, None, SIG64)),
    "unprotected header not a map": make_token(sign1=sign1_bytes(PROTECTED_ES256, [], None, SIG64)),
    "payload present": make_token(sign1=sign1_bytes(PROTECTED_ES256, {4: KID_IDENTITY}, message_bytes(), SIG64)),
    "payload empty bytes": make_token(sign1=sign1_bytes(PROTECTED_ES256, {4: KID_IDENTITY}, b"", SIG64)),
    "signature 63 bytes": make_token(sign1=sign1_bytes(PROTECTED_ES256, {4: KID_IDENTITY}, None, SIG64[:63])),
    "signature 65 bytes": make_token(sign1=sign1_bytes(PROTECTED_ES256, {4: KID_IDENTITY}, None, SIG64 + b"\x00")),
    "signature DER-sized": make_token(sign1=sign1_bytes(PROTECTED_ES256, {4: KID_IDENTITY}, None, b"\x30" * 70)),
    "signature as text": make_token(sign1=sign1_bytes(PROTECTED_ES256, {4: KID_IDENTITY}, None, "x" * 64)),
}


@pytest.mark.parametrize("text", list(WRONG_SHAPE_CASES.values()), ids=list(WRONG_SHAPE_CASES))
def test_wrong_shape(text):
    assert error_of(text).code == TokenErrorCode.WRONG_SHAPE.value


def test_token_longer_than_the_maximum_is_wrong_shape_even_if_only_by_padding():
    text = make_token()
    too_long = " " * (MAX_TOKEN_LENGTH + 1 - len(text)) + text
    assert len(too_long) == MAX_TOKEN_LENGTH + 1
    assert error_of(too_long).code == TokenErrorCode.WRONG_SHAPE.value
    assert error_of("A" * 5000 + "." + "A" * 5000).code == TokenErrorCode.WRONG_SHAPE.value


@pytest.mark.parametrize("value", [None, b"2dn3.0oRD", 42, ["a", "b"]])
def test_non_string_input_is_wrong_shape(value):
    assert error_of(value).code == TokenErrorCode.WRONG_SHAPE.value


def test_large_unknown_device_type_passes_through():
    token = parse_claim_token(make_token(message_bytes(1, DEVICE.bytes, 2**40, FIRMWARE.bytes, NONCE)))
    assert token.device_type == 2**40
    assert token.device_type_name == f"unknown_{2**40}"


UNSUPPORTED_KEY_CASES = {
    "alg ES384 (-35)": sign1_bytes(cbor2.dumps({1: -35}), {4: KID_IDENTITY}, None, SIG64),
    "alg EdDSA (-8)": sign1_bytes(cbor2.dumps({1: -8}), {4: KID_IDENTITY}, None, SIG64),
    "alg as text": sign1_bytes(cbor2.dumps({1: "ES256"}), {4: KID_IDENTITY}, None, SIG64),
    "alg only in unprotected": sign1_bytes(b"", {1: -7, 4: KID_IDENTITY}, None, SIG64),
    "empty protected header": sign1_bytes(cbor2.dumps({}), {4: KID_IDENTITY}, None, SIG64),
    "kid nordic_base_production_key (-4)": sign1_bytes(PROTECTED_ES256, {4: cbor2.dumps(-4)}, None, SIG64),
    "kid nordic_base_rd_key (-5)": sign1_bytes(PROTECTED_ES256, {4: cbor2.dumps(-5)}, None, SIG64),
    "kid -4 in protected header": sign1_bytes(cbor2.dumps({1: -7, 4: cbor2.dumps(-4)}), {}, None, SIG64),
    "kid as plain int -2": sign1_bytes(PROTECTED_ES256, {4: -2}, None, SIG64),
    "kid empty bytes": sign1_bytes(PROTECTED_ES256, {4: b""}, None, SIG64),
    "kid text": sign1_bytes(PROTECTED_ES256, {4: "identity_key"}, None, SIG64),
}


@pytest.mark.parametrize("sign1", list(UNSUPPORTED_KEY_CASES.values()), ids=list(UNSUPPORTED_KEY_CASES))
def test_unsupported_key(sign1):
    assert error_of(make_token(sign1=sign1)).code == TokenErrorCode.UNSUPPORTED_KEY.value


def test_unsupported_kid_is_named_in_the_message():
    error = error_of(make_token(sign1=sign1_bytes(PROTECTED_ES256, {4: cbor2.dumps(-4)}, None, SIG64)))
    assert error.code == TokenErrorCode.UNSUPPORTED_KEY.value
    assert "nordic_base_production_key" in error.message


def test_docs_token_with_its_kid_changed_to_production_key_is_unsupported():
    token = parse_claim_token(DOCS_TOKEN)
    sign1 = sign1_bytes(token.protected, {4: cbor2.dumps(-4)}, None, token.signature)
    error = error_of(f"{DOCS_TOKEN.split('.')[0]}.{b64u(sign1)}")
    assert error.code == TokenErrorCode.UNSUPPORTED_KEY.value


@pytest.mark.parametrize(
    "kid",
    [b"\xff", b"\x18", b"\x1c", b"\x5f", cbor2.dumps([]), cbor2.dumps([1]), cbor2.dumps({1: 2})],
    ids=["break", "truncated-int", "reserved", "indefinite-bytes", "empty-array", "array", "map"],
)
def test_kid_bytes_that_are_not_a_cbor_int_are_a_claim_token_error(kid):
    sign1 = sign1_bytes(PROTECTED_ES256, {4: kid}, None, SIG64)
    assert error_of(make_token(sign1=sign1)).code == TokenErrorCode.UNSUPPORTED_KEY.value


def _single_character_mutations(token: str):
    for index, char in enumerate(token):
        if char == ".":
            continue
        for other in B64URL:
            if other != char:
                yield index, token[:index] + other + token[index + 1 :]


# Byte 9 of the docs token's part B is the kid value (d2 84 43 a1 01 26 a1 04 41 [21] f6 58 40 ...).
_DOCS_B = unb64u(DOCS_TOKEN.split(".")[1])
assert _DOCS_B[:10] == bytes.fromhex("d28443a10126a1044121")


def _kid_byte_changed(mutated: str) -> bool:
    part_b = mutated.split(".")[1]
    try:
        return unb64u(part_b)[9] != _DOCS_B[9]
    except (ValueError, IndexError):
        return False


def test_every_single_character_corruption_of_the_docs_token_is_parsed_or_a_claim_token_error():
    # 180 positions x 63 characters; a kid byte changed to non-CBOR is covered below.
    outcomes = {"parsed": 0, "refused": 0}
    for index, mutated in _single_character_mutations(DOCS_TOKEN):
        if _kid_byte_changed(mutated):
            continue
        try:
            parse_claim_token(mutated)
            outcomes["parsed"] += 1
        except ClaimTokenError:
            outcomes["refused"] += 1
        except Exception as exc:  # pragma: no cover - the failure message
            pytest.fail(f"position {index}: {mutated!r} raised {type(exc).__name__}: {exc}")
    assert outcomes["parsed"] > 0 and outcomes["refused"] > 0


def test_single_character_corruptions_of_the_docs_token_kid_are_claim_token_errors():
    changed = [m for _, m in _single_character_mutations(DOCS_TOKEN) if _kid_byte_changed(m)]
    assert changed
    for mutated in changed:
        with contextlib.suppress(ClaimTokenError):
            parse_claim_token(mutated)


# --- encoders ------------------------------------------------------------------------------------


def test_encode_message_is_tagged_self_described_cbor_array_of_five():
    data = encode_message(DEVICE, 5, FIRMWARE, NONCE)
    assert data[:3] == b"\xd9\xd9\xf7"  # tag 55799
    assert data[3] == 0x85  # array(5)
    assert data[4] == 0x01  # message type 1
    assert cbor2.loads(data[3:]) == [1, DEVICE.bytes, 5, FIRMWARE.bytes, NONCE]
    assert len(data) == 57


def test_encode_sign1_is_cose_sign1_with_identity_kid_and_detached_payload():
    data = encode_sign1(PROTECTED_ES256, SIG64)
    assert data[:2] == b"\xd2\x84"  # tag 18, array(4)
    decoded = cbor2.loads(data)
    assert isinstance(decoded, cbor2.CBORTag) and decoded.tag == 18
    protected, unprotected, payload, signature = decoded.value
    assert protected == PROTECTED_ES256 == b"\xa1\x01\x26"
    assert dict(unprotected) == {4: b"\x21"}
    assert payload is None
    assert signature == SIG64
    assert len(data) == 77


def test_encoded_parts_make_a_token_that_parses_back():
    message = encode_message(DEVICE, 4, FIRMWARE, NONCE)
    text = make_token(message, encode_sign1(PROTECTED_ES256, SIG64))
    token = parse_claim_token(text)
    assert (token.device_id, token.device_type, token.firmware_id, token.nonce) == (DEVICE, 4, FIRMWARE, NONCE)
    assert token.message == message
    assert token.signature == SIG64


def test_signed_bytes_is_the_cose_sig_structure_for_signature1():
    message = encode_message(DEVICE, 3, FIRMWARE, NONCE)
    data = signed_bytes(PROTECTED_ES256, message)
    assert cbor2.loads(data) == ["Signature1", PROTECTED_ES256, b"", message]
    assert data[0] == 0x84  # array(4), untagged
    assert signed_bytes(PROTECTED_ES256, message) == data  # deterministic
    assert signed_bytes(PROTECTED_ES256, message + b"\x00") != data
    assert signed_bytes(cbor2.dumps({1: -35}), message) != data


@pytest.mark.parametrize(
    ("number", "name"),
    [
        (1, "nrf9160_SIAA"),
        (2, "nrf9160_SIBA"),
        (3, "nrf9160_SICA"),
        (4, "nrf9161_LACA"),
        (5, "nrf9131_LACA"),
        (6, "nrf9151_LACA"),
        (0, "unknown_0"),
        (7, "unknown_7"),
        (1234, "unknown_1234"),
    ],
)
def test_device_type_name(number, name):
    assert device_type_name(number) == name


# --- minting and verifying -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def key():
    return new_private_key()


@pytest.fixture(scope="module")
def other_key():
    return new_private_key()


@pytest.fixture(scope="module")
def der(key):
    return public_key_der(public_pem_of(key))


def test_minted_token_is_180_characters_of_two_unpadded_base64url_parts(key):
    text = mint_token(key, DEVICE)
    assert len(text) == 180
    part_a, part_b = text.split(".")
    assert (len(part_a), len(part_b)) == (76, 103)
    assert set(part_a + part_b) <= set(B64URL)


def test_minted_token_round_trips_its_fields(key):
    text = mint_token(key, DEVICE, device_type=6, firmware_id=FIRMWARE, nonce=NONCE)
    token = parse_claim_token(text)
    assert token.device_id == DEVICE
    assert token.device_type == 6
    assert token.device_type_name == "nrf9151_LACA"
    assert token.firmware_id == FIRMWARE
    assert token.nonce == NONCE
    assert token.protected == PROTECTED_ES256
    assert token.message == encode_message(DEVICE, 6, FIRMWARE, NONCE)


def test_minted_token_defaults(key):
    first, second = parse_claim_token(mint_token(key, DEVICE)), parse_claim_token(mint_token(key, DEVICE))
    assert first.device_type == 3
    assert first.firmware_id == uuid.UUID(int=0)
    assert len(first.nonce) == 16
    assert first.nonce != second.nonce  # a fresh random nonce each time


@pytest.mark.parametrize("nonce", [b"", b"\x00" * 15, b"\x00" * 17, b"\x00" * 32])
def test_mint_token_refuses_a_nonce_that_is_not_16_bytes(key, nonce):
    with pytest.raises(InvalidArgument):
        mint_token(key, DEVICE, nonce=nonce)


def test_minted_token_verifies_with_the_right_key_only(key, other_key, der):
    token = parse_claim_token(mint_token(key, DEVICE, nonce=NONCE))
    keys = Es256IdentityKeys()
    assert keys.verify(der, token) is True
    assert keys.verify(spki_der(other_key.public_key()), token) is False


def test_minted_token_with_prefix_and_quotes_still_verifies(key, der):
    text = f'%ATTESTTOKEN: "{mint_token(key, DEVICE)}"\r\n'
    assert Es256IdentityKeys().verify(der, parse_claim_token(text)) is True


def test_minted_signature_covers_signed_bytes_not_the_bare_message(key):
    token = parse_claim_token(mint_token(key, DEVICE, nonce=NONCE))
    der_signature = encode_dss_signature(int.from_bytes(token.signature[:32]), int.from_bytes(token.signature[32:]))
    public = key.public_key()
    public.verify(der_signature, signed_bytes(token.protected, token.message), ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        public.verify(der_signature, token.message, ec.ECDSA(hashes.SHA256()))


# Message bytes: d9d9f7 85 01 | 50 device(6..21) | type(22) | 50 firmware(24..39) | 50 nonce(41..56)
@pytest.mark.parametrize("byte_index", [6, 21, 22, 30, 41, 56])
def test_flipping_one_bit_of_the_message_breaks_the_signature(key, der, byte_index):
    token = parse_claim_token(mint_token(key, DEVICE, device_type=3, firmware_id=FIRMWARE, nonce=NONCE))
    part_b = b64u(encode_sign1(token.protected, token.signature))
    tampered_message = flip_bit(token.message, byte_index, bit=1)
    tampered = parse_claim_token(f"{b64u(tampered_message)}.{part_b}")  # still a well-formed token
    assert tampered.message == tampered_message
    assert tampered.signature == token.signature
    assert Es256IdentityKeys().verify(der, tampered) is False


@pytest.mark.parametrize(("byte_index", "bit"), [(0, 0), (0, 7), (31, 0), (32, 0), (47, 3), (63, 7)])
def test_flipping_one_bit_of_the_signature_breaks_it(key, der, byte_index, bit):
    text = mint_token(key, DEVICE, nonce=NONCE)
    token = parse_claim_token(text)
    tampered_signature = flip_bit(token.signature, byte_index, bit)
    tampered = parse_claim_token(f"{text.split('.')[0]}.{b64u(encode_sign1(token.protected, tampered_signature))}")
    assert tampered.signature == tampered_signature
    assert tampered.message == token.message
    assert Es256IdentityKeys().verify(der, tampered) is False


def test_signature_spliced_from_another_token_of_the_same_key_fails(key, der):
    one = parse_claim_token(mint_token(key, DEVICE))
    two = parse_claim_token(mint_token(key, FIRMWARE))
    spliced = parse_claim_token(f"{b64u(one.message)}.{b64u(encode_sign1(two.protected, two.signature))}")
    assert Es256IdentityKeys().verify(der, spliced) is False
    assert Es256IdentityKeys().verify(der, one) is True


def test_protected_header_is_covered_by_the_signature(key, der):
    token = parse_claim_token(mint_token(key, DEVICE))
    # Same meaning ({1: -7}) serialized differently (non-minimal int length): must not verify.
    other_protected = b"\xa1\x18\x01\x26"
    assert cbor2.loads(other_protected) == {1: -7}
    tampered = dataclasses.replace(token, protected=other_protected)
    assert Es256IdentityKeys().verify(der, tampered) is False


@pytest.mark.parametrize("signature", [b"\x00" * 64, b"\xff" * 64, b"\x00" * 32 + b"\x01" * 32])
def test_degenerate_signatures_are_false_not_an_exception(der, signature):
    token = parse_claim_token(make_token(sign1=sign1_bytes(PROTECTED_ES256, {4: KID_IDENTITY}, None, signature)))
    assert Es256IdentityKeys().verify(der, token) is False


def test_mint_with_loaded_private_key_verifies(key, der):
    loaded = load_private_key(private_key_pem(key))
    assert Es256IdentityKeys().verify(der, parse_claim_token(mint_token(loaded, DEVICE))) is True


# --- public keys ---------------------------------------------------------------------------------


def _p256_forms(public) -> dict[str, str]:
    der = spki_der(public)
    point = public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return {
        "pem": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode(),
        "pem with blank lines": "\n\n  "
        + public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        + "\n\n",
        "hex 65": point.hex(),
        "HEX 65": point.hex().upper(),
        "hex 64": point[1:].hex(),
        "hex 65 wrapped": "\n".join(point.hex()[i : i + 32] for i in range(0, 130, 32)),
        "hex 64 spaced": " ".join(point[1:].hex()[i : i + 8] for i in range(0, 128, 8)),
        "base64 65": base64.b64encode(point).decode(),
        "base64 64": base64.b64encode(point[1:]).decode(),
        "base64url 65 unpadded": base64.urlsafe_b64encode(point).decode().rstrip("="),
        "base64url 64 unpadded": base64.urlsafe_b64encode(point[1:]).decode().rstrip("="),
        "DER base64": base64.b64encode(der).decode(),
        "DER base64url": base64.urlsafe_b64encode(der).decode(),
        "DER base64 wrapped": "\n".join(base64.b64encode(der).decode()[i : i + 64] for i in range(0, 124, 64)),
    }


_P256_PUBLIC = ec.generate_private_key(ec.SECP256R1()).public_key()
_P256_FORMS = _p256_forms(_P256_PUBLIC)


@pytest.mark.parametrize("form", list(_P256_FORMS))
def test_public_key_der_accepts_every_p256_form(form):
    der = public_key_der(_P256_FORMS[form])
    assert der == spki_der(_P256_PUBLIC)
    loaded = serialization.load_der_public_key(der)
    assert isinstance(loaded.curve, ec.SECP256R1)


def test_normalize_is_public_key_der():
    keys = Es256IdentityKeys()
    for text in _P256_FORMS.values():
        assert keys.normalize(text) == spki_der(_P256_PUBLIC)


def test_public_key_der_of_a_raw_point_verifies_a_minted_token(key):
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    der = public_key_der(point[1:].hex())
    assert Es256IdentityKeys().verify(der, parse_claim_token(mint_token(key, DEVICE))) is True


def _spki(public, encoding=serialization.Encoding.PEM) -> bytes:
    return public.public_bytes(encoding, serialization.PublicFormat.SubjectPublicKeyInfo)


_P384 = ec.generate_private_key(ec.SECP384R1())
_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_ED25519 = ed25519.Ed25519PrivateKey.generate()
_REFUSED_PUBLIC = {
    "P-384 PEM": _spki(_P384.public_key()).decode(),
    "P-384 DER base64": base64.b64encode(_spki(_P384.public_key(), serialization.Encoding.DER)).decode(),
    "P-384 raw point hex": _P384.public_key()
    .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    .hex(),
    "P-384 raw point base64": base64.b64encode(
        _P384.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    ).decode(),
    "RSA PEM": _spki(_RSA.public_key()).decode(),
    "RSA DER base64": base64.b64encode(_spki(_RSA.public_key(), serialization.Encoding.DER)).decode(),
    "Ed25519 PEM": _spki(_ED25519.public_key()).decode(),
    "P-256 private key PEM": private_key_pem(ec.generate_private_key(ec.SECP256R1())),
    "garbage": "hello world!",
    "garbage base64": base64.b64encode(b"not a key at all, not at all").decode(),
    "empty": "",
    "white space": "  \n ",
    "None": None,
    "65 bytes off the curve": "04" + "00" * 64,
    "64 zero bytes": "00" * 64,
    "65 bytes with prefix 05": "05" + _P256_FORMS["hex 64"],
    "63 bytes hex": "11" * 63,
    "66 bytes hex": "04" + _P256_FORMS["hex 64"] + "00",
    "PEM with empty body": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
    "truncated PEM": _P256_FORMS["pem"][:60],
}


@pytest.mark.parametrize("text", list(_REFUSED_PUBLIC.values()), ids=list(_REFUSED_PUBLIC))
def test_public_key_der_refuses_what_is_not_a_p256_public_key(text):
    with pytest.raises(InvalidArgument):
        public_key_der(text)


def test_public_key_der_names_the_curve_for_other_ec_curves():
    with pytest.raises(InvalidArgument, match="P-256"):
        public_key_der(_REFUSED_PUBLIC["P-384 PEM"])


# --- private keys --------------------------------------------------------------------------------


def test_load_private_key_round_trips_str_and_bytes(key):
    pem = private_key_pem(key)
    assert pem.startswith("-----BEGIN PRIVATE KEY-----")
    for form in (pem, pem.encode()):
        loaded = load_private_key(form)
        assert isinstance(loaded.curve, ec.SECP256R1)
        assert loaded.private_numbers() == key.private_numbers()


def test_load_private_key_accepts_sec1_ec_pem(key):
    sec1 = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    assert b"BEGIN EC PRIVATE KEY" in sec1
    assert load_private_key(sec1).private_numbers() == key.private_numbers()


def _private_pem(private, encryption=None) -> bytes:
    return private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption or serialization.NoEncryption()
    )


@pytest.mark.parametrize(
    "pem",
    [
        _private_pem(_P384),
        _private_pem(_RSA),
        _private_pem(_ED25519),
        _private_pem(
            ec.generate_private_key(ec.SECP256R1()), serialization.BestAvailableEncryption(b"secret-password")
        ),
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        "not a pem",
        "",
        _P256_FORMS["pem"],  # a public key is not a private key
    ],
    ids=["P-384", "RSA", "Ed25519", "encrypted", "empty-body", "garbage", "empty", "public-key"],
)
def test_load_private_key_refuses_other_keys(pem):
    with pytest.raises(InvalidArgument):
        load_private_key(pem)


# --- property: never anything but a ClaimToken or a ClaimTokenError ------------------------------

_cbor_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.binary(max_size=20),
    st.text(max_size=10),
)
_cbor_value = st.recursive(
    _cbor_leaf,
    lambda inner: st.one_of(st.lists(inner, max_size=6), st.dictionaries(st.integers(-10, 10), inner, max_size=4)),
    max_leaves=12,
)

_texts = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=300).map(lambda data: data.decode("latin-1")),
    st.tuples(st.binary(max_size=120), st.binary(max_size=120)).map(lambda ab: f"{b64u(ab[0])}.{b64u(ab[1])}"),
    st.tuples(st.binary(max_size=80), st.binary(max_size=120)).map(
        lambda ab: b64u(b"\xd9\xd9\xf7" + ab[0]) + "." + b64u(b"\xd2\x84" + ab[1])
    ),
    st.tuples(st.lists(_cbor_value, max_size=7), st.lists(_cbor_value, max_size=5)).map(
        lambda ab: f"{b64u(cbor2.dumps(cbor2.CBORTag(55799, ab[0])))}.{b64u(cbor2.dumps(cbor2.CBORTag(18, ab[1])))}"
    ),
    st.tuples(
        st.sampled_from(["", "%ATTESTTOKEN: ", '"', "'", " \n"]),
        st.text(alphabet=B64URL + ".=+/ ", max_size=200),
        st.sampled_from(["", '"', "'", "\r\n"]),
    ).map("".join),
)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(_texts)
def test_parse_claim_token_returns_a_token_or_raises_claim_token_error(text):
    try:
        result = parse_claim_token(text)
    except ClaimTokenError as error:
        assert error.code in {c.value for c in TokenErrorCode}  # noqa: PT017 - either outcome is allowed; both are checked
    else:
        assert isinstance(result, ClaimToken)
        assert len(result.nonce) == 16 and len(result.signature) == 64
