"""The ownership API (nRF Cloud's Provisioning Service surface, issue 4) through real HTTP: device
identities, claims by token with every error code, dry runs, challenges, the claimed-device list with
paging and filters, get, block/unblock, unclaim, tags on both path families, and the RFC 9457 error
bodies. Tokens are minted in-process with ``claimd.adapters.attestation`` (the CLI path is covered by
``test_ownership_flow.py``)."""

from __future__ import annotations

import base64
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import cbor2
import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from http_helpers import GOOD_PAYLOAD, NULL_UUID, Api, World, assert_error, make_world, problem, uid
from live_fixtures import LIVE_BACKENDS, serving

from claimd.adapters.attestation import mint_token, new_private_key, public_pem_of, sign_es256

CLAIM = "/v1/claimed-devices"
CLAIM_PATHS = [CLAIM, "/v1/identities/claimed-devices"]
TAG_PREFIXES = ["/v1/claimed-devices/tags", "/v1/provisioning/tags"]
NRF_FIELDS = {"id", "deviceType", "firmwareId", "imei", "ownerId", "ownershipStatus", "tags", "status", "claimedAt"}
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
HEX32 = re.compile(r"^[0-9a-f]{32}$")


# helpers --------------------------------------------------------------------------------------


def parse_iso(value: str) -> datetime:
    assert ISO_MS.match(value), value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenDevice:
    """A device registered with an identity key; ``token()`` mints a fresh claim token."""

    id: str
    key: ec.EllipticCurvePrivateKey

    def token(self, nonce: bytes | None = None, firmware_id: uuid.UUID | None = None) -> str:
        return mint_token(self.key, uuid.UUID(self.id), nonce=nonce, firmware_id=firmware_id)


def register(world: World, **fields: Any) -> TokenDevice:
    key = new_private_key()
    device_id = str(uuid.uuid4())
    r = world.admin.post("/v1/device-identities", json={"id": device_id, "publicKey": public_pem_of(key), **fields})
    assert r.status_code == 201, r.text
    return TokenDevice(device_id, key)


def claim(api: Api, token: str, tags: list[str] | None = None, path: str = CLAIM, **kw: Any) -> httpx.Response:
    body: dict[str, Any] = {"claimToken": token}
    if tags is not None:
        body["tags"] = tags
    return api.post(path, json=body, **kw)


def claimed(api: Api, token: str, tags: list[str] | None = None) -> dict[str, Any]:
    r = claim(api, token, tags)
    assert r.status_code == 201, r.text
    return r.json()


def owner_of(world: World, device_id: str) -> str:
    return world.admin.ok("get", f"/api/device/{device_id}")["customerId"]["id"]


def listed(api: Api, **params: Any) -> dict[str, Any]:
    return api.ok("get", CLAIM, params=params)


def listed_ids(api: Api, **params: Any) -> set[str]:
    body = listed(api, pageLimit=1000, **params)
    ids = [d["id"] for d in body["items"]]
    assert len(ids) == len(set(ids)) == body["total"], body
    assert "pageNextToken" not in body
    return set(ids)


def user_id(api: Api) -> str:
    return api.ok("get", "/api/auth/user")["id"]["id"]


@pytest.fixture(scope="module")
def u1b(world: World) -> Iterator[Api]:
    """A second user of customer C1."""
    api = world.new_customer_user(world.c1_id)
    yield api
    api.close()


# device identities ----------------------------------------------------------------------------
def test_register_identity_and_get_it_back(world):
    key, device_id, firmware_id = new_private_key(), str(uuid.uuid4()), str(uuid.uuid4())
    device_type, name, tag = uid("type"), uid("name"), uid("batch") + "=7"
    r = world.admin.post(
        "/v1/device-identities",
        json={
            "id": device_id,
            "publicKey": public_pem_of(key),
            "name": name,
            "deviceType": device_type,
            "firmwareId": firmware_id,
            "imei": "352656106118683",
            "tags": [tag],
        },
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["id"] == device_id and body["name"] == name and body["deviceType"] == device_type
    assert body["publicKey"] == public_pem_of(key) and body["imei"] == "352656106118683"
    assert body["firmwareId"] == firmware_id and body["tags"] == [tag]
    assert abs(parse_iso(body["createdAt"]).timestamp() - time.time()) < 120

    got = world.admin.ok("get", f"/v1/device-identities/{device_id}")
    assert got == body  # the same shape as the POST answered: name, tags and deviceType included
    assert got["id"] == device_id and got["publicKey"] == public_pem_of(key)
    assert got["publicKey"].startswith("-----BEGIN PUBLIC KEY-----")
    assert got["imei"] == "352656106118683" and got["firmwareId"] == firmware_id
    # the identity is a device of the tenant like any other, not owned yet
    device = world.admin.ok("get", f"/api/device/{device_id}")
    assert device["name"] == name and device["type"] == device_type and device["customerId"]["id"] == NULL_UUID

    problem(world.admin.get(f"/v1/device-identities/{uuid.uuid4()}"), 404, "NOT_FOUND")
    problem(world.admin.get("/v1/device-identities/not-a-uuid"), 400)
    problem(world.u1.get(f"/v1/device-identities/{device_id}"), 403, "FORBIDDEN")


def test_register_identity_refusals(world):
    pem = public_pem_of(new_private_key())

    def post(api: Api, **fields: Any) -> httpx.Response:
        return api.post("/v1/device-identities", json={"id": str(uuid.uuid4()), "publicKey": pem, **fields})

    problem(post(world.u1), 403, "FORBIDDEN")
    problem(post(world.admin, publicKey="not a key"), 400, "BAD_REQUEST")
    p384 = (
        ec.generate_private_key(ec.SECP384R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    assert "P-256" in problem(post(world.admin, publicKey=p384), 400)["message"]
    problem(post(world.admin, publicKey="ab" * 65), 400)  # 65 bytes but not a point on the curve
    for imei in ("12345", "35265610611868X", "3526561061186830"):
        assert "IMEI" in problem(post(world.admin, imei=imei), 400)["message"], imei
    problem(world.admin.post("/v1/device-identities", json={"id": "not-a-uuid", "publicKey": pem}), 400)
    problem(world.admin.post("/v1/device-identities", json={"id": str(uuid.uuid4())}), 400)

    device = register(world)
    original = world.admin.ok("get", f"/v1/device-identities/{device.id}")["publicKey"]
    dup = problem(world.admin.post("/v1/device-identities", json={"id": device.id, "publicKey": pem}), 409)
    assert device.id in dup["message"]
    # the refused duplicate changed nothing: the first key still verifies the device's tokens
    assert world.admin.ok("get", f"/v1/device-identities/{device.id}")["publicKey"] == original
    # a refused registration stores nothing
    refused_id = str(uuid.uuid4())
    problem(world.admin.post("/v1/device-identities", json={"id": refused_id, "publicKey": pem, "imei": "1"}), 400)
    problem(world.admin.get(f"/v1/device-identities/{refused_id}"), 404)


@pytest.mark.parametrize("drop_prefix", [False, True], ids=["hex65", "hex64"])
def test_raw_hex_public_key_is_accepted_and_verifies_tokens(world, drop_prefix):
    key = new_private_key()
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    raw = point[1:] if drop_prefix else point
    device_id = str(uuid.uuid4())
    r = world.admin.post("/v1/device-identities", json={"id": device_id, "publicKey": raw.hex().upper()})
    assert r.status_code == 201, r.text
    assert r.json()["publicKey"] == public_pem_of(key)
    body = claimed(world.u1, mint_token(key, uuid.UUID(device_id)))
    assert body["id"] == device_id and body["ownerId"] == world.c1_id


# claims ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", CLAIM_PATHS, ids=["claimed-devices", "identities-alias"])
def test_claim_answers_an_nrf_claimed_device(world, path):
    firmware_id = uuid.uuid4()
    device = register(world, deviceType="nrf9161_LACA", imei="352656106118684")
    before = time.time()
    r = claim(world.u1, device.token(firmware_id=firmware_id), [f"location={uid('oslo')}"], path=path)
    assert r.status_code == 201, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) >= NRF_FIELDS, body
    assert body["id"] == device.id and body["deviceType"] == "nrf9161_LACA"
    assert body["firmwareId"] == str(firmware_id) and body["imei"] == "352656106118684"
    assert body["ownerId"] == world.c1_id and body["ownershipStatus"] == "IDENTIFIED" and body["status"] == "READY"
    assert len(body["tags"]) == 1 and body["tags"][0].startswith("location=oslo-")
    assert before - 2 <= parse_iso(body["claimedAt"]).timestamp() <= time.time() + 2
    assert body["claimedBy"] == user_id(world.u1)
    # the same device as the ownership API's get shows it, and as ThingsBoard's API owns it
    got = world.u1.ok("get", f"{CLAIM}/{device.id}")
    assert {k: got[k] for k in NRF_FIELDS} == {k: body[k] for k in NRF_FIELDS}
    assert owner_of(world, device.id) == world.c1_id


def test_tolerant_token_parsing(world):
    """What people paste: the AT response prefix, quotes, white space, '=' padding."""
    for dressed in ('%ATTESTTOKEN: "{}"', "  '{}'\n", "{}"):
        device = register(world)
        a, b = device.token().split(".")
        padded = f"{a}{'=' * (-len(a) % 4)}.{b}{'=' * (-len(b) % 4)}"
        token = dressed.format(padded if dressed == "{}" else f"{a}.{b}")
        assert claimed(world.u1, token)["id"] == device.id, dressed


def test_comma_joined_tags_are_split_and_a_tag_is_at_most_100_characters(world):
    device = register(world)
    a, b = f"a={uid()}", f"b={uid()}"
    token = device.token()
    too_long = "t" * 101
    assert "100" in problem(claim(world.u1, token, [too_long]), 400, "BAD_REQUEST")["message"]
    problem(claim(world.u1, token, [f"{a},{too_long}"]), 400)
    problem(claim(world.u1, token, ["ok", 5]), 400)
    assert owner_of(world, device.id) == NULL_UUID  # refused before anything was written
    body = claimed(world.u1, token, [f"{a},{b}", a])
    assert body["tags"] == sorted([a, b])
    exactly_100 = register(world)
    assert claimed(world.u1, exactly_100.token(), ["x" * 100])["tags"] == ["x" * 100]


def _cose(
    protected: dict[int, Any] | None = None,
    unprotected: dict[int, Any] | None = None,
    payload: Any = None,
    signature: bytes = b"\x01" * 64,
    tag: int = 18,
) -> bytes:
    protected_bytes = cbor2.dumps(protected if protected is not None else {1: -7})
    unprotected = unprotected if unprotected is not None else {4: cbor2.dumps(-2)}
    return cbor2.dumps(cbor2.CBORTag(tag, [protected_bytes, unprotected, payload, signature]))


def _message(device_id: str, *, items: list[Any] | None = None, tagged: bool = True) -> bytes:
    items = items if items is not None else [1, uuid.UUID(device_id).bytes, 3, bytes(16), bytes(16)]
    return cbor2.dumps(cbor2.CBORTag(55799, items) if tagged else items)


def test_malformed_tokens_have_distinct_codes(world):
    device = register(world)
    good_a, good_b = device.token().split(".")
    d = uuid.UUID(device.id).bytes
    message = _message(device.id)
    not_cbor, trailing, reserved = b64u(b"\xff\xff"), b64u(message + b"\x00"), b64u(b"\x1c")
    cases: dict[str, tuple[str, str]] = {
        "no dot": (good_a + good_b, "CLAIM_TOKEN_NOT_BASE64URL"),
        "three parts": (f"{good_a}.{good_b}.{good_b}", "CLAIM_TOKEN_NOT_BASE64URL"),
        "bad character": (f"{good_a[:-1]}$.{good_b}", "CLAIM_TOKEN_NOT_BASE64URL"),
        "standard base64": (f"{good_a}+/.{good_b}", "CLAIM_TOKEN_NOT_BASE64URL"),
        "empty part": (f".{good_b}", "CLAIM_TOKEN_NOT_BASE64URL"),
        "message not CBOR": (f"{not_cbor}.{good_b}", "CLAIM_TOKEN_NOT_CBOR"),
        "bytes after the message": (f"{trailing}.{good_b}", "CLAIM_TOKEN_NOT_CBOR"),
        "signature not CBOR": (f"{good_a}.{reserved}", "CLAIM_TOKEN_NOT_CBOR"),
        "no tag 55799": (f"{b64u(_message(device.id, tagged=False))}.{good_b}", "CLAIM_TOKEN_WRONG_SHAPE"),
        "array of 4": (f"{b64u(_message(device.id, items=[1, d, 3, bytes(16)]))}.{good_b}", "CLAIM_TOKEN_WRONG_SHAPE"),
        "message type 2": (
            f"{b64u(_message(device.id, items=[2, d, 3, bytes(16), bytes(16)]))}.{good_b}",
            "CLAIM_TOKEN_WRONG_SHAPE",
        ),
        "15-byte uuid": (
            f"{b64u(_message(device.id, items=[1, d[:15], 3, bytes(16), bytes(16)]))}.{good_b}",
            "CLAIM_TOKEN_WRONG_SHAPE",
        ),
        "15-byte nonce": (
            f"{b64u(_message(device.id, items=[1, d, 3, bytes(16), bytes(15)]))}.{good_b}",
            "CLAIM_TOKEN_WRONG_SHAPE",
        ),
        "signature part a map (the docs' corrupt CSV example)": (
            f"{good_a}.{b64u(cbor2.dumps({1: 2}))}",
            "CLAIM_TOKEN_WRONG_SHAPE",
        ),
        "COSE tag 17": (f"{good_a}.{b64u(_cose(tag=17))}", "CLAIM_TOKEN_WRONG_SHAPE"),
        "attached payload": (f"{good_a}.{b64u(_cose(payload=message))}", "CLAIM_TOKEN_WRONG_SHAPE"),
        "63-byte signature": (f"{good_a}.{b64u(_cose(signature=bytes(63)))}", "CLAIM_TOKEN_WRONG_SHAPE"),
        "ES384": (f"{good_a}.{b64u(_cose(protected={1: -35}))}", "CLAIM_TOKEN_UNSUPPORTED_KEY"),
        "Nordic production key kid": (
            f"{good_a}.{b64u(_cose(unprotected={4: cbor2.dumps(-4)}))}",
            "CLAIM_TOKEN_UNSUPPORTED_KEY",
        ),
    }
    for name, (token, code) in cases.items():
        r = claim(world.u1, token)
        assert r.status_code == 400, (name, r.status_code, r.text)
        body = problem(r, 400)
        assert body["code"] == code, (name, body)
    kid = problem(claim(world.u1, f"{good_a}.{b64u(_cose(unprotected={4: cbor2.dumps(-4)}))}"), 400)
    assert "nordic_base_production_key" in kid["message"]
    # none of them touched the device: its genuine token still claims
    assert claimed(world.u1, f"{good_a}.{good_b}")["id"] == device.id


def test_unknown_device_and_bad_signature(world):
    stranger = TokenDevice(str(uuid.uuid4()), new_private_key())
    problem(claim(world.u1, stranger.token()), 404, "UNKNOWN_DEVICE")
    # a ThingsBoard device without an identity key cannot be claimed by token either
    plain = world.device()
    problem(claim(world.u1, TokenDevice(plain.id, new_private_key()).token()), 404, "UNKNOWN_DEVICE")

    device = register(world)
    forged = TokenDevice(device.id, new_private_key()).token()  # right device, another key
    problem(claim(world.u1, forged), 403, "CLAIM_TOKEN_BAD_SIGNATURE")
    problem(claim(world.u1, forged), 403, "CLAIM_TOKEN_BAD_SIGNATURE")  # a forgery does not spend anything
    # a genuine token whose nonce was changed after signing
    a, b = device.token().split(".")
    raw = bytearray(base64.urlsafe_b64decode(a + "=" * (-len(a) % 4)))
    raw[-1] ^= 0x01
    problem(claim(world.u1, f"{b64u(bytes(raw))}.{b}"), 403, "CLAIM_TOKEN_BAD_SIGNATURE")
    # a signature over other bytes (the message hash instead of the COSE Sig_structure)
    message = base64.urlsafe_b64decode(a + "=" * (-len(a) % 4))
    wrong = sign_es256(device.key, message)
    problem(claim(world.u1, f"{a}.{b64u(_cose(signature=wrong))}"), 403, "CLAIM_TOKEN_BAD_SIGNATURE")
    assert owner_of(world, device.id) == NULL_UUID
    assert claimed(world.u2, device.token())["ownerId"] == world.c2_id


def test_replayed_token_and_owned_by_another(world):
    device = register(world, deviceType=uid("type"))
    token = device.token()
    first = claimed(world.u1, token)
    # the owner again: 200 with the same record, never a duplicate
    again = claim(world.u1, token)
    assert again.status_code == 200 and again.json() == first
    assert listed_ids(world.u1, deviceType=first["deviceType"]) == {device.id}
    # another customer, old or fresh token: 409, ownership unchanged
    problem(claim(world.u2, token), 409, "DEVICE_OWNED_BY_ANOTHER")
    problem(claim(world.u2, device.token()), 409, "DEVICE_OWNED_BY_ANOTHER")
    assert owner_of(world, device.id) == world.c1_id
    # released: the spent token is a replay for everyone, its first owner included; a fresh one claims
    assert world.u1.delete(f"{CLAIM}/{device.id}").status_code == 204
    problem(claim(world.u2, token), 403, "CLAIM_TOKEN_REPLAYED")
    problem(claim(world.u1, token), 403, "CLAIM_TOKEN_REPLAYED")
    problem(claim(world.u2, token, path=CLAIM + "?dryrun=true"), 403, "CLAIM_TOKEN_REPLAYED")
    assert claimed(world.u2, device.token())["ownerId"] == world.c2_id


def test_claim_body_errors(world):
    device = register(world)
    token = device.token()
    json_header = {"Content-Type": "application/json"}
    problem(world.u1.post(CLAIM), 400, "BAD_REQUEST")
    problem(world.u1.post(CLAIM, content=b"   ", headers=json_header), 400)
    problem(world.u1.post(CLAIM, content=b'{"claimToken": ', headers=json_header), 400)
    problem(world.u1.post(CLAIM, content=b"\xff\xfe", headers=json_header), 400)
    problem(world.u1.post(CLAIM, json=[token]), 400)
    problem(world.u1.post(CLAIM, json=token), 400)
    problem(world.u1.post(CLAIM, json={"tags": ["a"]}), 400)
    problem(world.u1.post(CLAIM, json={"token": token}), 400)
    for bad in (123, None, ["x"], {"t": token}, "", "   "):
        assert "claimToken" in problem(world.u1.post(CLAIM, json={"claimToken": bad}), 400)["message"], bad
    problem(world.u1.post(CLAIM, json={"claimToken": token, "tags": 5}), 400)
    problem(world.u1.post(CLAIM, json={"claimToken": token, "tags": {"a": 1}}), 400)
    problem(world.u1.post(CLAIM, content=b"{" + b" " * 70_000 + b"}", headers=json_header), 413)
    # all refused without effect: the token still claims
    assert owner_of(world, device.id) == NULL_UUID
    assert claimed(world.u1, token)["id"] == device.id


def test_tenant_admin_and_anonymous_cannot_claim(world):
    device = register(world)
    problem(claim(world.admin, device.token()), 403, "FORBIDDEN")
    problem(world.admin.post("/v1/claim-challenges"), 403, "FORBIDDEN")
    problem(claim(Api(world.base_url), device.token()), 401, "UNAUTHENTICATED")
    problem(claim(Api(world.base_url, "not-a-jwt"), device.token()), 401, "UNAUTHENTICATED")
    assert owner_of(world, device.id) == NULL_UUID


# blocks ---------------------------------------------------------------------------------------
def test_a_device_blocked_by_its_tenant_refuses_claims(world):
    device = register(world)
    token = device.token()
    blocked = world.admin.post(f"{CLAIM}/{device.id}/block")  # a tenant may block a device nobody owns
    assert blocked.status_code == 200, blocked.text
    assert blocked.json()["status"] == "BLOCKED" and blocked.json()["blockedBy"] == "TENANT"
    assert blocked.json()["ownerId"] is None
    problem(claim(world.u1, token), 403, "DEVICE_BLOCKED")
    problem(claim(world.u1, token, path=CLAIM + "?dryrun=true"), 403, "DEVICE_BLOCKED")
    assert owner_of(world, device.id) == NULL_UUID
    unblocked = world.admin.post(f"{CLAIM}/{device.id}/unblock")
    assert unblocked.status_code == 200 and unblocked.json()["status"] == "READY"
    body = claimed(world.u1, token)  # the refused attempts did not spend the token
    assert body["status"] == "READY"


def test_tenant_block_outlives_the_claim_and_only_the_tenant_lifts_it(world):
    device = register(world)
    claimed(world.u1, device.token())
    assert world.admin.post(f"{CLAIM}/{device.id}/block").json()["status"] == "BLOCKED"
    seen = world.u1.ok("get", f"{CLAIM}/{device.id}")
    assert seen["status"] == "BLOCKED" and seen["blockedBy"] == "TENANT" and ISO_MS.match(seen["blockedAt"])
    problem(world.u1.post(f"{CLAIM}/{device.id}/unblock"), 403, "FORBIDDEN")
    assert world.u1.ok("post", f"{CLAIM}/{device.id}/block")["status"] == "BLOCKED"  # already blocked: 200
    assert world.u1.ok("get", f"{CLAIM}/{device.id}")["blockedBy"] == "TENANT"
    assert world.u1.delete(f"{CLAIM}/{device.id}").status_code == 204
    problem(claim(world.u2, device.token()), 403, "DEVICE_BLOCKED")
    assert world.admin.ok("post", f"{CLAIM}/{device.id}/unblock")["status"] == "READY"
    assert claimed(world.u2, device.token())["status"] == "READY"


def test_block_and_unblock_are_idempotent_and_an_owner_block_goes_with_the_claim(world):
    device = register(world)
    claimed(world.u1, device.token())
    for _ in range(2):
        r = world.u1.post(f"{CLAIM}/{device.id}/block")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "BLOCKED" and r.json()["blockedBy"] == "OWNER"
    blocked_at = r.json()["blockedAt"]
    assert ISO_MS.match(blocked_at)
    assert world.u1.ok("post", f"{CLAIM}/{device.id}/block")["blockedAt"] == blocked_at  # not re-blocked
    assert device.id in listed_ids(world.u1, status="BLOCKED")
    for _ in range(2):
        r = world.u1.post(f"{CLAIM}/{device.id}/unblock")
        assert r.status_code == 200 and r.json()["status"] == "READY" and r.json()["blockedAt"] is None
    assert device.id not in listed_ids(world.u1, status="BLOCKED")
    # others cannot touch it; malformed ids are 400
    problem(world.u2.post(f"{CLAIM}/{device.id}/block"), 404, "NOT_FOUND")
    problem(world.u2.post(f"{CLAIM}/{device.id}/unblock"), 404)
    problem(world.u1.post(f"{CLAIM}/not-a-uuid/block"), 400)
    unowned = register(world)
    problem(world.u1.post(f"{CLAIM}/{unowned.id}/block"), 404)
    # an owner's block is released with the claim: the next owner starts READY
    assert world.u1.ok("post", f"{CLAIM}/{device.id}/block")["status"] == "BLOCKED"
    assert world.u1.delete(f"{CLAIM}/{device.id}").status_code == 204
    assert claimed(world.u2, device.token())["status"] == "READY"


# dry runs -------------------------------------------------------------------------------------
def test_dry_run_checks_without_claiming(world):
    device = register(world, deviceType=uid("type"))
    token = device.token()
    for path in (CLAIM + "?dryrun=true", "/v1/identities/claimed-devices?dryrun=true"):
        r = claim(world.u1, token, path=path)
        assert r.status_code == 202, r.text
        assert r.json()["claimable"] is True and r.json().get("id", device.id) == device.id
    # nothing changed: unowned, not listed, the token not spent
    assert owner_of(world, device.id) == NULL_UUID
    problem(world.u1.get(f"{CLAIM}/{device.id}"), 404)
    assert world.u2.post(CLAIM, params={"dryrun": "true"}, json={"claimToken": token}).status_code == 202
    r = claim(world.u1, token, ["dry=" + uid()])
    assert r.status_code == 201 and r.json()["ownerId"] == world.c1_id
    # now: your own device → 200 with the record; another customer's → 409
    mine = claim(world.u1, device.token(), path=CLAIM + "?dryrun=true")
    assert mine.status_code == 200 and mine.json()["id"] == device.id and mine.json()["ownerId"] == world.c1_id
    problem(claim(world.u2, device.token(), path=CLAIM + "?dryrun=true"), 409, "DEVICE_OWNED_BY_ANOTHER")
    problem(claim(world.u1, "garbage", path=CLAIM + "?dryrun=true"), 400, "CLAIM_TOKEN_NOT_BASE64URL")
    assert owner_of(world, device.id) == world.c1_id


# challenges -----------------------------------------------------------------------------------
def new_challenge(api: Api) -> dict[str, Any]:
    r = api.post("/v1/claim-challenges")
    assert r.status_code == 201, r.text
    return r.json()


def test_challenge_binds_a_token_to_its_user(world, u1b):
    before = time.time()
    c = new_challenge(world.u1)
    assert set(c) >= {"challenge", "expiresAt", "atCommand"}
    assert HEX32.match(c["challenge"]), c
    assert c["atCommand"] == f'AT%ATTESTTOKEN="{c["challenge"]}"'
    assert before + 290 <= parse_iso(c["expiresAt"]).timestamp() <= time.time() + 310  # the default 300 s
    assert new_challenge(world.u1)["challenge"] != c["challenge"]

    device = register(world)
    token = device.token(nonce=bytes.fromhex(c["challenge"]))
    # another user of the same customer, and another customer's user: refused, dry run too
    problem(claim(u1b, token), 403, "CLAIM_CHALLENGE_REQUIRED")
    problem(claim(world.u2, token), 403, "CLAIM_CHALLENGE_REQUIRED")
    problem(claim(world.u2, token, path=CLAIM + "?dryrun=true"), 403, "CLAIM_CHALLENGE_REQUIRED")
    assert owner_of(world, device.id) == NULL_UUID
    # its user: claimed; single use: after an unclaim the same token is a replay
    assert claim(world.u1, token, path=CLAIM + "?dryrun=true").status_code == 202
    assert claimed(world.u1, token)["id"] == device.id
    assert world.u1.delete(f"{CLAIM}/{device.id}").status_code == 204
    problem(claim(world.u1, token), 403, "CLAIM_TOKEN_REPLAYED")


def test_a_spent_challenge_binds_no_more_tokens(world):
    """A challenge answers one claim: another device's token for the same challenge is refused to its
    user (spent) and still to everyone else (not theirs)."""
    x, y = register(world), register(world)
    nonce = bytes.fromhex(new_challenge(world.u1)["challenge"])
    token_x, token_y = x.token(nonce=nonce), y.token(nonce=nonce)
    problem(claim(world.u2, token_y), 403, "CLAIM_CHALLENGE_REQUIRED")  # bound to u1 while unspent
    assert claimed(world.u1, token_x)["id"] == x.id  # the challenge's one use
    problem(claim(world.u2, token_y), 403, "CLAIM_CHALLENGE_REQUIRED")
    problem(claim(world.u1, token_y), 403, "CLAIM_CHALLENGE_EXPIRED")
    problem(claim(world.u1, token_y, path=CLAIM + "?dryrun=true"), 403, "CLAIM_CHALLENGE_EXPIRED")
    assert owner_of(world, y.id) == NULL_UUID
    assert claimed(world.u1, y.token())["id"] == y.id  # a token without the spent challenge claims


def test_racing_claims_of_one_device_have_one_winner(world, u1b):
    from concurrent.futures import ThreadPoolExecutor

    device = register(world)
    token = device.token()
    users = [world.u1, world.u2, u1b, world.u2] * 3

    def attempt(api: Api) -> tuple[Api, httpx.Response]:
        with httpx.Client(base_url=world.base_url, timeout=30) as http:
            return api, http.post(CLAIM, headers=api._headers(None), json={"claimToken": token})

    with ThreadPoolExecutor(len(users)) as pool:
        results = list(pool.map(attempt, users))
    winners = [api for api, r in results if r.status_code == 201]
    assert len(winners) == 1, [(r.status_code, r.text) for _, r in results]
    owner = world.c2_id if winners[0] is world.u2 else world.c1_id
    assert owner_of(world, device.id) == owner
    for api, r in results:
        if r.status_code == 201:
            continue
        same_customer = (api is world.u2) == (owner == world.c2_id)
        if same_customer:
            assert r.status_code == 200 and r.json()["ownerId"] == owner, r.text
        else:
            problem(r, 409, "DEVICE_OWNED_BY_ANOTHER")


@pytest.fixture(scope="module", params=LIVE_BACKENDS)
def short_ttl_world(request, tmp_path_factory) -> Iterator[World]:
    """A server of its own whose challenges live 1 s."""
    with serving(request.param, tmp_path_factory.mktemp("short-ttl"), {"CLAIMD_CHALLENGE_TTL_S": "1"}) as server:
        w = make_world(server.base_url, server.admin_email, server.admin_password)
        yield w
        for api in w.apis:
            api.close()


def test_an_expired_challenge_is_refused(short_ttl_world):
    w = short_ttl_world
    fresh, late = register(w), register(w)
    c = new_challenge(w.u1)
    assert parse_iso(c["expiresAt"]).timestamp() - time.time() < 3
    assert claimed(w.u1, fresh.token(nonce=bytes.fromhex(c["challenge"])))["id"] == fresh.id  # in time
    c = new_challenge(w.u1)
    token = late.token(nonce=bytes.fromhex(c["challenge"]))
    time.sleep(1.5)
    problem(claim(w.u1, token), 403, "CLAIM_CHALLENGE_EXPIRED")
    problem(claim(w.u1, token, path=CLAIM + "?dryrun=true"), 403, "CLAIM_CHALLENGE_EXPIRED")
    assert owner_of(w, late.id) == NULL_UUID
    assert claimed(w.u1, late.token())["id"] == late.id  # a token without a challenge is still accepted


# the list -------------------------------------------------------------------------------------
def test_paging_walks_every_device_once(world):
    customer = world.admin.ok("post", "/api/customer", json={"title": uid("Pager")})
    pager = world.new_customer_user(customer["id"]["id"])
    try:
        ids = {claimed(pager, register(world).token())["id"] for _ in range(7)}
        everything = listed(pager)
        assert everything["total"] == 7 and {d["id"] for d in everything["items"]} == ids
        assert "pageNextToken" not in everything

        seen: list[dict[str, Any]] = []
        params: dict[str, Any] = {"pageLimit": 2}
        pages = 0
        while True:
            page = listed(pager, **params)
            pages += 1
            assert page["total"] == 7 and 1 <= len(page["items"]) <= 2, page
            seen.extend(page["items"])
            if "pageNextToken" not in page:
                break
            assert len(page["items"]) == 2
            params["pageNextToken"] = page["pageNextToken"]
            assert pages < 10
        assert pages == 4 and len(seen) == 7 and {d["id"] for d in seen} == ids
        keys = [(parse_iso(d["claimedAt"]), d["id"]) for d in seen]
        assert keys == sorted(keys)  # stable order: claim time, then id

        singles, token = [], None
        for _ in range(8):
            page = listed(pager, pageLimit=1, **({"pageNextToken": token} if token else {}))
            singles.extend(d["id"] for d in page["items"])
            token = page.get("pageNextToken")
            if token is None:
                break
        assert singles == [d["id"] for d in seen]

        exact = listed(pager, pageLimit=7)
        assert len(exact["items"]) == 7 and "pageNextToken" not in exact
        assert [d["id"] for d in listed(pager, pageLimit=1000)["items"]] == [d["id"] for d in seen]
        for bad in (0, 1001, -1, "many"):
            problem(pager.get(CLAIM, params={"pageLimit": bad}), 400)
        for bad in ("garbage", "!!!", b64u(b'{"a": 1}'), b64u(b'[1, "not-a-uuid"]'), b64u(b'["1", "x"]')):
            assert "pageNextToken" in problem(pager.get(CLAIM, params={"pageNextToken": bad}), 400)["message"], bad
    finally:
        pager.close()


def test_filters_by_tags_status_type_and_claim_time(world):
    device_type = uid("type")
    tx, ty = f"x={uid()}", f"y={uid()}"
    devices = [register(world, deviceType=device_type) for _ in range(4)]
    d1, d2, d3, d4 = (d.id for d in devices)
    times: dict[str, datetime] = {}
    for device, tags in zip(devices, ([tx], [tx, ty], [ty], []), strict=True):
        times[device.id] = parse_iso(claimed(world.u1, device.token(), tags)["claimedAt"])
        time.sleep(0.01)
    assert len(set(times.values())) == 4

    assert listed_ids(world.u1, tags=tx) == {d1, d2}
    assert listed_ids(world.u1, tags=f"{tx},{ty}") == {d1, d2, d3}
    assert listed_ids(world.u1, tags=f"{tx},{ty}", tagsMatch="any") == {d1, d2, d3}
    assert listed_ids(world.u1, tags=f"{tx},{ty}", tagsMatch="all") == {d2}
    assert listed_ids(world.u1, tags=f"{tx},{uid('nobody')}", tagsMatch="all") == set()
    problem(world.u1.get(CLAIM, params={"tags": tx, "tagsMatch": "some"}), 400)

    assert listed_ids(world.u1, deviceType=device_type) == {d1, d2, d3, d4}
    assert listed_ids(world.u1, deviceType=uid("type")) == set()

    assert world.u1.ok("post", f"{CLAIM}/{d3}/block")["status"] == "BLOCKED"
    assert listed_ids(world.u1, deviceType=device_type, status="BLOCKED") == {d3}
    assert listed_ids(world.u1, deviceType=device_type, status="READY") == {d1, d2, d4}
    assert all(d["status"] == "BLOCKED" for d in listed(world.u1, status="BLOCKED", pageLimit=1000)["items"])
    problem(world.u1.get(CLAIM, params={"status": "blocked-ish"}), 400)

    pivot = times[d3]
    stamp = pivot.strftime("%Y-%m-%dT%H:%M:%S.") + f"{pivot.microsecond // 1000:03d}Z"
    after = {d for d, t in times.items() if t >= pivot}
    before = {d for d, t in times.items() if t < pivot}
    assert after and before
    assert listed_ids(world.u1, deviceType=device_type, claimedAfter=stamp) == after
    assert listed_ids(world.u1, deviceType=device_type, claimedBefore=stamp) == before
    offset = pivot.astimezone(UTC).isoformat(timespec="milliseconds")  # "+00:00" form
    assert listed_ids(world.u1, deviceType=device_type, claimedAfter=offset) == after
    assert listed_ids(world.u1, deviceType=device_type, claimedAfter=stamp, claimedBefore=stamp) == set()
    assert listed_ids(world.u1, deviceType=device_type, tags=ty, claimedAfter=stamp) == {d3}
    for name in ("claimedAfter", "claimedBefore"):
        assert name in problem(world.u1.get(CLAIM, params={name: "yesterday"}), 400)["message"]
        problem(world.u1.get(CLAIM, params={name: "2026-13-45T00:00:00Z"}), 400)


def test_customers_see_their_own_claimed_devices_and_the_tenant_sees_all(world):
    device_type = uid("type")
    mine = [register(world, deviceType=device_type) for _ in range(2)]
    theirs = register(world, deviceType=device_type)
    register(world, deviceType=device_type)  # registered, never claimed
    for device in mine:
        claimed(world.u1, device.token())
    claimed(world.u2, theirs.token())
    assert listed_ids(world.u1, deviceType=device_type) == {d.id for d in mine}
    assert listed_ids(world.u2, deviceType=device_type) == {theirs.id}
    admin_view = listed(world.admin, deviceType=device_type)
    assert {d["id"] for d in admin_view["items"]} == {theirs.id, *(d.id for d in mine)}
    assert admin_view["total"] == 3
    assert {d["ownerId"] for d in admin_view["items"]} == {world.c1_id, world.c2_id}
    # nobody's list holds another customer's device
    assert all(d["ownerId"] == world.c1_id for d in listed(world.u1, pageLimit=1000)["items"])
    assert all(d["ownerId"] == world.c2_id for d in listed(world.u2, pageLimit=1000)["items"])


# get and unclaim ------------------------------------------------------------------------------
def test_get_claimed_device(world):
    device = register(world)
    problem(world.u1.get(f"{CLAIM}/{device.id}"), 404, "NOT_FOUND")  # registered, not claimed
    claimed(world.u1, device.token())
    assert world.u1.ok("get", f"{CLAIM}/{device.id}")["ownerId"] == world.c1_id
    assert world.admin.ok("get", f"{CLAIM}/{device.id}")["ownerId"] == world.c1_id
    problem(world.u2.get(f"{CLAIM}/{device.id}"), 404, "NOT_FOUND")
    problem(world.u1.get(f"{CLAIM}/{uuid.uuid4()}"), 404, "NOT_FOUND")
    problem(world.u1.get(f"{CLAIM}/not-a-uuid"), 400, "BAD_REQUEST")
    problem(world.u1.get(f"{CLAIM}/{device.id[:-1]}"), 400)


def test_unclaim(world):
    device = register(world)
    claimed(world.u1, device.token(), [f"gone={uid()}"])
    problem(world.u2.delete(f"{CLAIM}/{device.id}"), 404, "NOT_FOUND")
    assert owner_of(world, device.id) == world.c1_id
    r = world.u1.delete(f"{CLAIM}/{device.id}")
    assert r.status_code == 204 and r.content == b""
    problem(world.u1.get(f"{CLAIM}/{device.id}"), 404)
    problem(world.admin.get(f"{CLAIM}/{device.id}"), 404)
    assert owner_of(world, device.id) == NULL_UUID
    problem(world.u1.delete(f"{CLAIM}/{device.id}"), 404)  # not yours any more
    problem(world.u1.delete(f"{CLAIM}/{uuid.uuid4()}"), 404)
    problem(world.u1.delete(f"{CLAIM}/not-a-uuid"), 400)
    # the owner's tags went with the claim
    gone = [t for t in world.u1.ok("get", TAG_PREFIXES[0])["items"] if t["tag"].startswith("gone=")]
    assert gone and all(t["deviceCount"] == 0 for t in gone)
    assert claimed(world.u1, device.token())["tags"] == []

    # a tenant admin may release any customer's device
    other = register(world)
    claimed(world.u2, other.token())
    assert world.admin.delete(f"{CLAIM}/{other.id}").status_code == 204
    problem(world.u2.get(f"{CLAIM}/{other.id}"), 404)
    assert owner_of(world, other.id) == NULL_UUID
    assert claimed(world.u1, other.token())["ownerId"] == world.c1_id


# tags -----------------------------------------------------------------------------------------
def tag_path(prefix: str, name: str) -> str:
    return f"{prefix}/{quote(name, safe='')}"


def device_tags(api: Api, device_id: str) -> list[str]:
    return api.ok("get", f"{CLAIM}/{device_id}")["tags"]


@pytest.mark.parametrize("prefix", TAG_PREFIXES, ids=["claimed-devices", "provisioning"])
def test_tag_lifecycle(world, prefix):
    name = f"site={uid()}/hall A"
    created = world.u1.post(prefix, json={"tag": name, "description": "first"})
    assert created.status_code == 201, created.text
    first = created.json()
    assert first["tag"] == name and first["description"] == "first" and first["deviceCount"] == 0
    assert ISO_MS.match(first["createdAt"])
    again = world.u1.post(prefix, json={"tag": name, "description": "second"})
    assert again.status_code == 200 and again.json() == first  # idempotent: nothing changed
    assert world.u1.ok("get", tag_path(prefix, name))["description"] == "first"

    tagged = [register(world) for _ in range(2)]
    for device in tagged:
        claimed(world.u1, device.token(), [name])
    untagged = register(world)
    claimed(world.u1, untagged.token())
    listing = world.u1.ok("get", prefix)
    assert listing["total"] == len(listing["items"])
    assert [t["deviceCount"] for t in listing["items"] if t["tag"] == name] == [2]
    assert world.u1.ok("get", tag_path(prefix, name))["deviceCount"] == 2
    assert world.u1.ok("get", f"{prefix}/{name}")["tag"] == name  # an unencoded '/' works too
    assert listed_ids(world.u1, tags=name) == {d.id for d in tagged}

    # private to the customer
    assert name not in [t["tag"] for t in world.u2.ok("get", prefix)["items"]]
    problem(world.u2.get(tag_path(prefix, name)), 404, "NOT_FOUND")
    problem(world.u2.put(tag_path(prefix, name), json={"tag": "stolen"}), 404)
    problem(world.u2.delete(tag_path(prefix, name)), 404)
    assert world.u1.ok("get", tag_path(prefix, name))["deviceCount"] == 2

    # rename: every device follows
    new_name = f"site={uid()}/hall B"
    r = world.u1.put(tag_path(prefix, name), json={"tag": new_name, "description": "renamed"})
    assert r.status_code == 200, r.text
    assert r.json()["tag"] == new_name and r.json()["description"] == "renamed" and r.json()["deviceCount"] == 2
    problem(world.u1.get(tag_path(prefix, name)), 404)
    for device in tagged:
        assert device_tags(world.u1, device.id) == [new_name]
    assert device_tags(world.u1, untagged.id) == []
    assert listed_ids(world.u1, tags=new_name) == {d.id for d in tagged}
    assert listed_ids(world.u1, tags=name) == set()
    # description only
    r = world.u1.put(tag_path(prefix, new_name), json={"description": "only this"})
    assert r.status_code == 200 and r.json()["tag"] == new_name and r.json()["description"] == "only this"
    # renaming onto another tag is a conflict; unknown tags are 404
    other = f"other={uid()}"
    assert world.u1.post(prefix, json={"tag": other}).status_code == 201
    problem(world.u1.put(tag_path(prefix, new_name), json={"tag": other}), 409)
    problem(world.u1.put(tag_path(prefix, uid("none")), json={"tag": uid()}), 404)
    problem(world.u1.put(tag_path(prefix, new_name), json={"tag": "t" * 101}), 400)

    # delete: it leaves every device
    r = world.u1.delete(tag_path(prefix, new_name))
    assert r.status_code == 204 and r.content == b""
    problem(world.u1.get(tag_path(prefix, new_name)), 404)
    assert new_name not in [t["tag"] for t in world.u1.ok("get", prefix)["items"]]
    for device in tagged:
        assert device_tags(world.u1, device.id) == []
    problem(world.u1.delete(tag_path(prefix, new_name)), 404)


@pytest.mark.parametrize("prefix", TAG_PREFIXES, ids=["claimed-devices", "provisioning"])
def test_tag_validation(world, prefix):
    problem(world.u1.post(prefix, json={"tag": "t" * 101}), 400, "BAD_REQUEST")
    hundred = "h" * 99 + uid()[-1]
    assert world.u1.post(prefix, json={"tag": hundred}).status_code in (200, 201)
    problem(world.u1.post(prefix, json={"tag": "a,b"}), 400)
    problem(world.u1.post(prefix, json={"tag": "   "}), 400)
    problem(world.u1.post(prefix, json={"tag": 5}), 400)
    problem(world.u1.post(prefix, json={}), 400)
    problem(world.u1.post(prefix, json={"tag": uid(), "unknown": 1}), 400)
    problem(world.u1.get(tag_path(prefix, uid("none"))), 404, "NOT_FOUND")


def test_renaming_a_tag_keeps_its_description(world):
    name = f"keep={uid()}"
    assert world.u1.post(TAG_PREFIXES[0], json={"tag": name, "description": "kept"}).status_code == 201
    new_name = f"keep={uid()}"
    r = world.u1.put(tag_path(TAG_PREFIXES[0], name), json={"tag": new_name})
    assert r.status_code == 200, r.text
    assert r.json()["tag"] == new_name
    assert r.json()["description"] == "kept"
    assert world.u1.ok("get", tag_path(TAG_PREFIXES[1], new_name))["description"] == "kept"
    r = world.u1.put(tag_path(TAG_PREFIXES[1], new_name), json={"description": ""})  # "" clears it
    assert r.status_code == 200 and r.json()["tag"] == new_name and r.json()["description"] is None, r.text


def test_tags_of_one_device(world):
    device = register(world)
    claimed(world.u1, device.token())
    a, b, c = (f"{k}={uid()}" for k in "abc")
    path = f"{CLAIM}/{device.id}/tags"
    r = world.u1.put(path, json={"tags": [b, a]})
    assert r.status_code == 200 and r.json()["tags"] == sorted([a, b]) and r.json()["id"] == device.id
    r = world.u1.post(path, json={"tags": [f"{c},{a}"]})  # add; comma-joined items split
    assert r.status_code == 200 and r.json()["tags"] == sorted([a, b, c])
    assert device_tags(world.u1, device.id) == sorted([a, b, c])
    assert world.u1.ok("get", tag_path(TAG_PREFIXES[1], c))["deviceCount"] == 1  # created on the fly
    assert world.u1.put(path, json={"tags": [c]}).json()["tags"] == [c]
    assert world.u1.ok("get", tag_path(TAG_PREFIXES[0], a))["deviceCount"] == 0  # the tag itself stays
    assert world.u1.put(path, json={"tags": []}).json()["tags"] == []
    problem(world.u1.post(path, json={"tags": ["t" * 101]}), 400)
    problem(world.u1.post(path, json={"tags": "a"}), 400)
    problem(world.u1.post(path, json={}), 400)
    problem(world.u2.put(path, json={"tags": [a]}), 404, "NOT_FOUND")
    problem(world.u2.post(path, json={"tags": [a]}), 404)
    problem(world.u1.put(f"{CLAIM}/not-a-uuid/tags", json={"tags": [a]}), 400)
    assert device_tags(world.u1, device.id) == []


def test_tags_are_private_per_customer_and_tenant(world):
    shared_name = f"shared={uid()}"
    tenant_tag = f"batch={uid()}"
    device = register(world, tags=[tenant_tag])
    claimed(world.u1, device.token(), [shared_name])
    other = register(world)
    claimed(world.u2, other.token(), [shared_name])  # the same name is another tag of another customer
    mine = {t["tag"]: t for t in world.u1.ok("get", TAG_PREFIXES[0])["items"]}
    theirs = {t["tag"]: t for t in world.u2.ok("get", TAG_PREFIXES[1])["items"]}
    assert mine[shared_name]["deviceCount"] == 1 and theirs[shared_name]["deviceCount"] == 1
    assert tenant_tag not in mine and tenant_tag not in theirs
    assert device_tags(world.u1, device.id) == [shared_name]  # the tenant's tag is not shown to the owner
    assert world.admin.ok("get", f"{CLAIM}/{device.id}")["tags"] == [tenant_tag]
    assert world.admin.ok("get", tag_path(TAG_PREFIXES[0], tenant_tag))["deviceCount"] == 1
    # deleting C2's tag leaves C1's tag of the same name alone
    assert world.u2.delete(tag_path(TAG_PREFIXES[0], shared_name)).status_code == 204
    assert device_tags(world.u2, other.id) == []
    assert device_tags(world.u1, device.id) == [shared_name]
    assert listed_ids(world.u1, tags=shared_name) == {device.id}


# error bodies ---------------------------------------------------------------------------------
def test_every_v1_error_is_a_problem_document(world):
    anonymous = Api(world.base_url)
    try:
        problem(anonymous.get(CLAIM), 401, "UNAUTHENTICATED")
        problem(anonymous.get("/v1/claimed-devices/tags"), 401)
        problem(world.u1.get("/v1/no-such-thing"), 404, "NOT_FOUND")
        problem(world.u1.http.patch(CLAIM, headers=world.u1._headers(None)), 405)
        body = problem(world.u1.get(f"{CLAIM}/not-a-uuid"), 400, "BAD_REQUEST")
        assert body["instance"] == f"{CLAIM}/not-a-uuid" and body["title"] == "Bad Request"
        assert body["type"] == "urn:claimd:problem:BAD_REQUEST"
    finally:
        anonymous.close()
    # ThingsBoard's paths keep ThingsBoard's error body
    assert_error(world.u1.get("/api/device/not-a-uuid"), 400)


def test_claimed_device_is_the_same_device_for_thingsboard_claims(world):
    """A device claimed by token is owned like one claimed through ThingsBoard's API: its window is
    discarded and ThingsBoard's claim by name then says CLAIMED."""
    device = register(world)
    name = world.admin.ok("get", f"/api/device/{device.id}")["name"]
    token = world.admin.ok("get", f"/api/device/{device.id}/credentials")["credentialsId"]
    r = httpx.post(f"{world.base_url}/api/v1/{quote(token, safe='')}/claim", json=GOOD_PAYLOAD, timeout=30)
    assert r.status_code == 200, r.text
    claimed(world.u1, device.token())
    tb = world.u2.post(f"/api/customer/device/{quote(name, safe='')}/claim", json={"secretKey": "value"})
    assert tb.status_code == 400 and tb.json() == "CLAIMED", tb.text
    assert owner_of(world, device.id) == world.c1_id


def test_device_type_comes_from_the_token_when_none_was_registered(world):
    key, device_id = new_private_key(), uuid.uuid4()
    r = world.admin.post("/v1/device-identities", json={"id": str(device_id), "publicKey": public_pem_of(key)})
    assert r.status_code == 201, r.text
    body = claimed(world.u1, mint_token(key, device_id, device_type=4))
    assert body["deviceType"] == "nrf9161_LACA"
    assert world.u1.ok("get", f"{CLAIM}/{device_id}")["deviceType"] == "nrf9161_LACA"
    assert str(device_id) not in listed_ids(world.u1, deviceType="default")
    assert str(device_id) in listed_ids(world.u1, deviceType="nrf9161_LACA")
    # an unknown number passes through; a registered type is never overwritten by the token's
    key2, other = new_private_key(), uuid.uuid4()
    assert (
        world.admin.post("/v1/device-identities", json={"id": str(other), "publicKey": public_pem_of(key2)}).status_code
        == 201
    )
    assert claimed(world.u2, mint_token(key2, other, device_type=77))["deviceType"] == "unknown_77"
    typed = register(world, deviceType="my-type")
    assert claimed(world.u1, typed.token())["deviceType"] == "my-type"
