"""The CoAP door with the real ``aiocoap`` client: reference §6 rows 9/10 (2.01 CREATED each time) and
§1.5's answers — 4.01 for an unknown token, 4.00 with a diagnostic payload for a bad payload, an empty
payload accepted, the feature segment case-insensitive; 4.05 for other methods, 4.04 elsewhere; a window
the server refuses (device already claimed, ``claimingAllowed`` missing) is 4.03 with the reason, as MQTT 5
answers 0x87 and HTTP names it in its header.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import quote

import aiocoap
import pytest
from aiocoap import Code, Message
from servers import LiveServer, start_server
from transport_helpers import (
    EMPTY_FAILURE_PAYLOAD,
    EMPTY_GOOD_PAYLOAD,
    FAILURE_PAYLOAD,
    GOOD_PAYLOAD,
    NULL_SECRET_BODY,
    SECRET_BODY,
    dumps,
    make_world,
    uid,
)


@pytest.fixture
async def coap() -> AsyncIterator[aiocoap.Context]:
    context = await aiocoap.Context.create_client_context()
    try:
        yield context
    finally:
        await context.shutdown()


def claim_uri(port: int, token: str, feature: str = "claim") -> str:
    return f"coap://127.0.0.1:{port}/api/v1/{quote(token, safe='')}/{feature}"


async def request(context: aiocoap.Context, uri: str, payload: bytes = b"", code: Code = Code.POST) -> Message:
    return await asyncio.wait_for(context.request(Message(code=code, uri=uri, payload=payload)).response, 10)


async def post_claim(context: aiocoap.Context, port: int, token: str, payload: object) -> None:
    response = await request(context, claim_uri(port, token), dumps(payload))
    assert response.code == Code.CREATED, (response.code, response.payload)


ROWS = [
    pytest.param(FAILURE_PAYLOAD, GOOD_PAYLOAD, SECRET_BODY, id="row9-secret"),
    pytest.param(EMPTY_FAILURE_PAYLOAD, EMPTY_GOOD_PAYLOAD, NULL_SECRET_BODY, id="row10-without-secret-and-duration"),
]


@pytest.mark.parametrize(("failure", "good", "body"), ROWS)
async def test_rows_9_10_coap_device(world, live_server, coap, failure, good, body):
    device = world.device(name=uid("Test Claim device coap"))
    await post_claim(coap, live_server.coap_port, device.token, failure)
    await asyncio.sleep(0.01)  # the 1 ms window is over
    await asyncio.to_thread(world.expect_outcome, device.name, body, "FAILURE")
    await post_claim(coap, live_server.coap_port, device.token, good)
    await asyncio.to_thread(world.expect_success, device.name, body, device.id)
    await asyncio.to_thread(world.expect_outcome, device.name, body, "CLAIMED")


async def test_unknown_token_is_4_01(live_server, coap):
    response = await request(coap, claim_uri(live_server.coap_port, uid("unknown-token")), dumps(GOOD_PAYLOAD))
    assert response.code == Code.UNAUTHORIZED


@pytest.mark.parametrize(
    "payload",
    [b"{not json", b"[1]", b'"value"', b'{"secretKey": null}', b"\xff"],
    ids=["invalid-json", "array", "string", "secretKey-null", "not-utf8"],
)
async def test_bad_payload_is_4_00_with_a_diagnostic(world, live_server, coap, payload):
    device = world.device()
    response = await request(coap, claim_uri(live_server.coap_port, device.token), payload)
    assert response.code == Code.BAD_REQUEST
    assert response.payload.strip(), "4.00 without a diagnostic payload"
    response.payload.decode("utf-8")  # a diagnostic payload is UTF-8 text (RFC 7252 §5.5.2)
    await asyncio.to_thread(world.expect_outcome, device.name, {"secretKey": None}, "FAILURE")


async def test_empty_payload_is_2_01_and_opens_a_window(world, live_server, coap):
    device = world.device()
    response = await request(coap, claim_uri(live_server.coap_port, device.token), b"")
    assert response.code == Code.CREATED
    await asyncio.to_thread(world.expect_success, device.name, NULL_SECRET_BODY, device.id)


@pytest.mark.parametrize("feature", ["CLAIM", "Claim"])
async def test_feature_segment_is_case_insensitive(world, live_server, coap, feature):
    device = world.device()
    response = await request(coap, claim_uri(live_server.coap_port, device.token, feature), dumps(GOOD_PAYLOAD))
    assert response.code == Code.CREATED
    await asyncio.to_thread(world.expect_success, device.name, SECRET_BODY, device.id)


@pytest.mark.parametrize("method", [Code.GET, Code.PUT, Code.DELETE])
async def test_other_methods_are_4_05(world, live_server, coap, method):
    device = world.device()
    response = await request(coap, claim_uri(live_server.coap_port, device.token), dumps(GOOD_PAYLOAD), method)
    assert response.code == Code.METHOD_NOT_ALLOWED
    await asyncio.to_thread(world.expect_outcome, device.name, SECRET_BODY, "FAILURE")


@pytest.mark.parametrize(
    "path", ["api/v1/tok/telemetry", "api/v2/tok/claim", "other", "api/v1/claim", "api/v1/tok/claim/extra"]
)
async def test_unknown_paths_are_4_04(live_server, coap, path):
    response = await request(coap, f"coap://127.0.0.1:{live_server.coap_port}/{path}", dumps(GOOD_PAYLOAD))
    assert response.code == Code.NOT_FOUND


async def test_many_devices_over_coap_at_once(world, live_server, coap):
    devices = [world.device() for _ in range(20)]
    await asyncio.gather(*(post_claim(coap, live_server.coap_port, d.token, {"secretKey": d.name}) for d in devices))
    for d in devices:
        await asyncio.to_thread(world.expect_success, d.name, {"secretKey": d.name}, d.id)


# refused windows: 4.03 with the reason, not 2.01 ---------------------------------------------------
async def test_device_already_claimed_is_4_03_with_the_reason(world, live_server, coap):
    device = world.device()
    await asyncio.to_thread(world.assign, device, world.new_customer())
    response = await request(coap, claim_uri(live_server.coap_port, device.token), dumps(GOOD_PAYLOAD))
    assert response.code == Code.FORBIDDEN, (response.code, response.payload)
    assert response.payload.decode("utf-8").startswith("already-claimed")
    await asyncio.to_thread(world.expect_outcome, device.name, SECRET_BODY, "CLAIMED")


async def test_claimed_over_coap_then_4_03_afterwards(world, live_server, coap):
    device = world.device()
    await post_claim(coap, live_server.coap_port, device.token, GOOD_PAYLOAD)
    await asyncio.to_thread(world.expect_success, device.name, SECRET_BODY, device.id)
    response = await request(coap, claim_uri(live_server.coap_port, device.token), dumps(GOOD_PAYLOAD))
    assert response.code == Code.FORBIDDEN


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory) -> Iterator[LiveServer]:
    """A SQLite claimd where only devices with ``claimingAllowed = true`` may open a window."""
    server = start_server(
        Path(tmp_path_factory.mktemp("strict-coap")), extra_env={"CLAIMD_ALLOW_CLAIMING_BY_DEFAULT": "false"}
    )
    try:
        yield server
    finally:
        server.stop()


async def test_claiming_not_allowed_is_4_03_with_the_reason(strict_server, coap):
    world = await asyncio.to_thread(
        make_world, strict_server.base_url, strict_server.admin_email, strict_server.admin_password
    )
    try:
        refused, allowed = world.device(), world.device()
        await asyncio.to_thread(world.save_server_attributes, allowed, {"claimingAllowed": True})
        response = await request(coap, claim_uri(strict_server.coap_port, refused.token), dumps(GOOD_PAYLOAD))
        assert response.code == Code.FORBIDDEN, (response.code, response.payload)
        assert response.payload.decode("utf-8").startswith("claiming-not-allowed")
        await post_claim(coap, strict_server.coap_port, allowed.token, GOOD_PAYLOAD)
        await asyncio.to_thread(world.expect_outcome, refused.name, SECRET_BODY, "FAILURE")
        await asyncio.to_thread(world.expect_success, allowed.name, SECRET_BODY, allowed.id)
    finally:
        world.close()
