"""Provisioning commands over the CoAP door with the real ``aiocoap`` client:
``GET api/v1/{token}/provisioning/commands`` → 2.05 with the CDDL's CBOR (Content-Format 60; an
empty payload when there is nothing to do) or JSON with Accept 50; ``POST .../provisioning/response``
with CBOR (or JSON with Content-Format 50) → 2.04; 4.03 for a blocked or unclaimed device, 4.01 for
an unknown token, 4.05 for other methods, 4.00 with a diagnostic for a malformed payload or query.
The owner's side is the REST API."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, urlencode

import aiocoap
import cbor2
import pytest
from aiocoap import Code, Message
from transport_helpers import Device, World, uid

CBOR_FORMAT, JSON_FORMAT = 60, 50
CONFIG = {"config": {"interval": "60"}}
FINISHED: dict[str, Any] = {"finished": {}}


@pytest.fixture
async def coap() -> AsyncIterator[aiocoap.Context]:
    context = await aiocoap.Context.create_client_context()
    try:
        yield context
    finally:
        await context.shutdown()


def uri(port: int, token: str, feature: str = "provisioning/commands", **query: Any) -> str:
    tail = f"?{urlencode(query)}" if query else ""
    return f"coap://127.0.0.1:{port}/api/v1/{quote(token, safe='')}/{feature}{tail}"


async def send(
    context: aiocoap.Context, target: str, code: Code = Code.GET, payload: bytes = b"", **options: Any
) -> Message:
    message = Message(code=code, uri=target, payload=payload, **options)
    return await asyncio.wait_for(context.request(message).response, 10)


async def get_commands(context: aiocoap.Context, port: int, token: str, **kw: Any) -> Message:
    options = {"accept": kw.pop("accept")} if "accept" in kw else {}
    return await send(context, uri(port, token, **kw), **options)


async def post_response(
    context: aiocoap.Context, port: int, token: str, payload: bytes, content_format: int | None = None
) -> Message:
    options = {"content_format": content_format} if content_format is not None else {}
    return await send(context, uri(port, token, "provisioning/response"), Code.POST, payload, **options)


def owned_device(world: World) -> Device:
    device = world.device(name=uid("coap-prov"))
    world.assign(device)
    return device


def queue(world: World, device: Device, request: dict[str, Any]) -> dict[str, Any]:
    r = world.user.request("POST", f"/v1/claimed-devices/{device.id}/provisioning", json={"request": request})
    assert r.status_code == 201, r.text
    return r.json()


def command(world: World, device: Device, command_id: str) -> dict[str, Any]:
    return world.user.ok("GET", f"/v1/claimed-devices/{device.id}/provisioning/{command_id}")


def block(world: World, device: Device, blocked: bool = True) -> None:
    world.user.ok("POST", f"/v1/claimed-devices/{device.id}/{'block' if blocked else 'unblock'}")


def cbor_list(response: Message) -> list[Any]:
    assert response.code == Code.CONTENT, (response.code, response.payload)
    assert response.opt.content_format == CBOR_FORMAT, response.opt.content_format
    return cbor2.loads(response.payload)


def diagnostic(response: Message) -> str:
    text = response.payload.decode("utf-8")  # a diagnostic payload is UTF-8 text (RFC 7252 §5.5.2)
    assert text.strip(), "no diagnostic payload"
    return text


# fetching ---------------------------------------------------------------------------------------
async def test_nothing_to_do_is_2_05_with_an_empty_payload(world, live_server, coap):
    device = await asyncio.to_thread(owned_device, world)
    response = await get_commands(coap, live_server.coap_port, device.token)
    assert response.code == Code.CONTENT and response.payload == b""
    assert response.opt.content_format == CBOR_FORMAT


async def test_commands_are_cbor_and_marked_in_progress(world, live_server, coap):
    device = await asyncio.to_thread(owned_device, world)
    config, at, done = [
        await asyncio.to_thread(queue, world, device, r)
        for r in (CONFIG, {"atCommand": {"setCommand": "%XSYSTEMMODE", "parameters": "1,0,1,0"}}, FINISHED)
    ]
    response = await get_commands(coap, live_server.coap_port, device.token)
    assert cbor_list(response) == [
        [config["id"], 1, {"interval": "60"}],
        [at["id"], 0, "%XSYSTEMMODE", "1,0,1,0", []],
        [done["id"], 2],
    ]
    for c in (config, at, done):
        assert (await asyncio.to_thread(command, world, device, c["id"]))["status"] == "IN_PROGRESS"


async def test_accept_50_gets_json(world, live_server, coap):
    device = await asyncio.to_thread(owned_device, world)
    config = await asyncio.to_thread(queue, world, device, CONFIG)
    response = await get_commands(coap, live_server.coap_port, device.token, accept=JSON_FORMAT)
    assert response.code == Code.CONTENT and response.opt.content_format == JSON_FORMAT
    assert json.loads(response.payload) == [
        {"correlationId": config["id"], "type": "CONFIG", "properties": {"interval": "60"}}
    ]
    other = await asyncio.to_thread(owned_device, world)
    empty = await get_commands(coap, live_server.coap_port, other.token, accept=JSON_FORMAT)
    assert empty.code == Code.CONTENT and empty.payload == b""


async def test_the_query_after_limit_and_rx_max_size(world, live_server, coap):
    device = await asyncio.to_thread(owned_device, world)
    first, second, third = [await asyncio.to_thread(queue, world, device, {"config": {"n": str(i)}}) for i in range(3)]
    port, token = live_server.coap_port, device.token
    assert [c[0] for c in cbor_list(await get_commands(coap, port, token, limit=1))] == [first["id"]]
    assert (await asyncio.to_thread(command, world, device, second["id"]))["status"] == "PENDING"
    assert [c[0] for c in cbor_list(await get_commands(coap, port, token, after=first["id"]))] == [
        second["id"],
        third["id"],
    ]
    assert [c[0] for c in cbor_list(await get_commands(coap, port, token, rxMaxSize=1))] == [first["id"]]
    assert (await get_commands(coap, port, token, after=third["id"])).payload == b""
    for bad in ({"limit": 0}, {"limit": 101}, {"limit": "x"}, {"rxMaxSize": "big"}):
        response = await get_commands(coap, port, token, **bad)
        assert response.code == Code.BAD_REQUEST, (bad, response.code)
        diagnostic(response)


async def test_a_large_command_list_comes_in_blocks(world, live_server, coap):
    device = await asyncio.to_thread(owned_device, world)
    made = [
        await asyncio.to_thread(queue, world, device, {"serverCertificate": {"secTag": i, "content": "C" * 1500}})
        for i in range(3)
    ]
    response = await get_commands(coap, live_server.coap_port, device.token)
    items = cbor_list(response)
    assert len(response.payload) > 4096
    assert [(c[0], c[3]) for c in items] == [(m["id"], f'0,{i},0,"{"C" * 1500}"') for i, m in enumerate(made)]


# answering -------------------------------------------------------------------------------------
async def test_a_cbor_answer_is_2_04_and_the_owner_sees_the_result(world, live_server, coap):
    device = await asyncio.to_thread(owned_device, world)
    config, csr = [
        await asyncio.to_thread(queue, world, device, r)
        for r in (CONFIG, {"certificateSigningRequest": {"secTag": 4, "attributes": "CN=x"}})
    ]
    await get_commands(coap, live_server.coap_port, device.token)
    csr_text = "MII" + "B" * 3000  # more than one block
    response = await post_response(
        coap,
        live_server.coap_port,
        device.token,
        cbor2.dumps([[config["id"], 101], [csr["id"], 100, csr_text]]),
        CBOR_FORMAT,
    )
    assert response.code == Code.CHANGED, (response.code, response.payload)
    got = await asyncio.to_thread(command, world, device, config["id"])
    assert got["status"] == "SUCCEEDED"
    got = await asyncio.to_thread(command, world, device, csr["id"])
    assert got["status"] == "SUCCEEDED"
    assert got["response"] == {"messages": [csr_text], "certificateSigningRequest": {"csr": csr_text}}
    assert (await get_commands(coap, live_server.coap_port, device.token)).payload == b""

    failing = await asyncio.to_thread(queue, world, device, FINISHED)
    response = await post_response(
        coap,
        live_server.coap_port,
        device.token,  # no Content-Format: CBOR
        cbor2.dumps([[failing["id"], 99, 527, "+CME ERROR: 527"]]),
    )
    assert response.code == Code.CHANGED
    got = await asyncio.to_thread(command, world, device, failing["id"])
    assert got["status"] == "FAILED" and got["response"]["cmeError"] == 527


async def test_a_json_answer_with_content_format_50(world, live_server, coap):
    device = await asyncio.to_thread(owned_device, world)
    config, done = [await asyncio.to_thread(queue, world, device, r) for r in (CONFIG, FINISHED)]
    payload = json.dumps([{"correlationId": config["id"], "type": "CONFIG_ACK"}, [done["id"], 102]]).encode()
    response = await post_response(coap, live_server.coap_port, device.token, payload, JSON_FORMAT)
    assert response.code == Code.CHANGED, (response.code, response.payload)
    for c in (config, done):
        assert (await asyncio.to_thread(command, world, device, c["id"]))["status"] == "SUCCEEDED"


async def test_answers_to_unknown_or_closed_commands_change_nothing(world, live_server, coap):
    device = await asyncio.to_thread(owned_device, world)
    config = await asyncio.to_thread(queue, world, device, CONFIG)
    world.user.ok("DELETE", f"/v1/claimed-devices/{device.id}/provisioning/{config['id']}")
    response = await post_response(
        coap, live_server.coap_port, device.token, cbor2.dumps([[config["id"], 101], [str(uuid.uuid4()), 101]])
    )
    assert response.code == Code.CHANGED
    assert (await asyncio.to_thread(command, world, device, config["id"]))["status"] == "CANCELLED"


# refusals --------------------------------------------------------------------------------------
async def test_a_blocked_device_is_4_03_and_its_commands_stay_pending(world, live_server, coap):
    device = await asyncio.to_thread(owned_device, world)
    config = await asyncio.to_thread(queue, world, device, CONFIG)
    await asyncio.to_thread(block, world, device)
    response = await get_commands(coap, live_server.coap_port, device.token)
    assert response.code == Code.FORBIDDEN and "blocked" in diagnostic(response)
    response = await post_response(coap, live_server.coap_port, device.token, cbor2.dumps([[config["id"], 101]]))
    assert response.code == Code.FORBIDDEN
    got = await asyncio.to_thread(command, world, device, config["id"])
    assert got["status"] == "PENDING" and got["deliveredAt"] is None
    await asyncio.to_thread(block, world, device, False)
    assert [c[0] for c in cbor_list(await get_commands(coap, live_server.coap_port, device.token))] == [config["id"]]


async def test_a_device_nobody_owns_is_4_03(world, live_server, coap):
    device = await asyncio.to_thread(world.device)
    response = await get_commands(coap, live_server.coap_port, device.token)
    assert response.code == Code.FORBIDDEN and "not claimed" in diagnostic(response)
    response = await post_response(coap, live_server.coap_port, device.token, cbor2.dumps([[str(uuid.uuid4()), 101]]))
    assert response.code == Code.FORBIDDEN


async def test_an_unknown_token_is_4_01(live_server, coap):
    token = uid("unknown-token")
    assert (await get_commands(coap, live_server.coap_port, token)).code == Code.UNAUTHORIZED
    response = await post_response(coap, live_server.coap_port, token, cbor2.dumps([[str(uuid.uuid4()), 101]]))
    assert response.code == Code.UNAUTHORIZED


@pytest.mark.parametrize(
    ("feature", "method"),
    [
        ("provisioning/commands", Code.POST),
        ("provisioning/commands", Code.PUT),
        ("provisioning/commands", Code.DELETE),
        ("provisioning/response", Code.GET),
        ("provisioning/response", Code.PUT),
        ("provisioning/response", Code.DELETE),
    ],
)
async def test_other_methods_are_4_05(world, live_server, coap, feature, method):
    device = await asyncio.to_thread(owned_device, world)
    config = await asyncio.to_thread(queue, world, device, CONFIG)
    response = await send(
        coap, uri(live_server.coap_port, device.token, feature), method, cbor2.dumps([[config["id"], 101]])
    )
    assert response.code == Code.METHOD_NOT_ALLOWED
    assert (await asyncio.to_thread(command, world, device, config["id"]))["status"] == "PENDING"


async def test_the_feature_path_is_case_insensitive(world, live_server, coap):
    device = await asyncio.to_thread(owned_device, world)
    config = await asyncio.to_thread(queue, world, device, CONFIG)
    response = await send(coap, uri(live_server.coap_port, device.token, "Provisioning/COMMANDS"))
    assert [c[0] for c in cbor_list(response)] == [config["id"]]


MALFORMED = {
    "empty": (b"", None),
    "not-cbor": (b"\xff\xff", CBOR_FORMAT),
    "cbor-map": (cbor2.dumps({"a": 1}), CBOR_FORMAT),
    "empty-list": (cbor2.dumps([]), None),
    "bad-item": (cbor2.dumps([[str(uuid.UUID(int=1)), 99, "527", "x"]]), None),
    "unknown-type": (cbor2.dumps([[str(uuid.UUID(int=1)), 103]]), None),
    "bad-correlation": (cbor2.dumps([["nope", 101]]), None),
    "not-json": (b"{nope", JSON_FORMAT),
    "cbor-as-json": (cbor2.dumps([[str(uuid.UUID(int=1)), 101]]), JSON_FORMAT),
    "json-as-cbor": (b'[{"correlationId": "x", "type": "CONFIG_ACK"}]', CBOR_FORMAT),
}


@pytest.mark.parametrize(("payload", "content_format"), list(MALFORMED.values()), ids=list(MALFORMED))
async def test_a_malformed_answer_is_4_00_with_a_diagnostic(world, live_server, coap, payload, content_format):
    device = await asyncio.to_thread(owned_device, world)
    config = await asyncio.to_thread(queue, world, device, CONFIG)
    response = await post_response(coap, live_server.coap_port, device.token, payload, content_format)
    assert response.code == Code.BAD_REQUEST, (response.code, response.payload)
    diagnostic(response)
    assert (await asyncio.to_thread(command, world, device, config["id"]))["status"] == "PENDING"


@pytest.mark.parametrize("case", ["bignum-answer", "unicode-digit-after"])
async def test_odd_numbers_are_4_00_not_5_00(world, live_server, coap, case):
    device = await asyncio.to_thread(owned_device, world)
    config = await asyncio.to_thread(queue, world, device, CONFIG)
    if case == "bignum-answer":
        response = await post_response(coap, live_server.coap_port, device.token, cbor2.dumps([[10**5000, 101]]))
    else:
        response = await get_commands(coap, live_server.coap_port, device.token, after=f"{config['id']}.²")
    assert response.code.is_successful() or response.code == Code.BAD_REQUEST, response.code
