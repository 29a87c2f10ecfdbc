"""One bad MQTT client is disconnected and never disturbs the others (issue 3): raw TCP sockets sending
garbage, half packets, oversized packets, a second CONNECT, a PINGREQ flood; 200 clients at once;
a client that never sends CONNECT. Meanwhile a well-behaved client still gets its PUBACK, REST claims
work, and the server process stays up.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import mqtt5
import paho.mqtt.client as mqtt
import pytest
from servers import LiveServer, start_server
from transport_helpers import (
    CONNACK_ACCEPTED_311,
    DEVICE_CLAIM_TOPIC,
    GOOD_PAYLOAD,
    HOST,
    PINGREQ,
    PINGRESP,
    SECRET_BODY,
    SUCCESS,
    PahoDevice,
    RawMqtt,
    connect311,
    dumps,
    make_world,
    publish311,
    uid,
)

HTTP_GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def alive(live_server) -> None:
    assert live_server.process.poll() is None, live_server.log()[-3000:]


def well_behaved_claim(world, live_server, protocol: int = mqtt.MQTTv5) -> None:
    """A fresh device connects, sends its window (PUBACK within 5 s) and is claimed over REST."""
    device = world.device()
    client = PahoDevice(live_server.mqtt_port, device.token, protocol=protocol, client_id=uid("good"))
    try:
        client.connect()
        assert client.publish(DEVICE_CLAIM_TOPIC, GOOD_PAYLOAD, timeout=5) == SUCCESS
    finally:
        client.close()
    world.expect_success(device.name, SECRET_BODY, device.id)


def connected_raw(live_server, token: str, version: int = 4, keep_alive: int = 60) -> RawMqtt:
    raw = RawMqtt(live_server.mqtt_port)
    if version == 5:
        raw.send(mqtt5.ConnectPacket(client_id="", username=token, keep_alive=keep_alive).write())
        connack, _ = mqtt5.read(memoryview(raw.read_packet()))
        assert int(connack.reason_code) == 0
    else:
        raw.send(connect311(token, client_id=uid("raw"), keep_alive=keep_alive))
        assert raw.read_packet() == CONNACK_ACCEPTED_311
    return raw


# garbage -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "garbage",
    [
        pytest.param(b"\x00\x00", id="reserved-type-0"),
        pytest.param(b"\xff" * 64, id="length-longer-than-4-bytes"),
        pytest.param(b"\x30\x05\x00\x01a\x00\x00", id="publish-before-connect"),
        pytest.param(b"\xc0\x00", id="pingreq-before-connect"),
        pytest.param(b"\x10\x0a\x00\x04HTTP\x04\x02\x00\x3c", id="unknown-protocol-name"),
        pytest.param(b"\x10\x0c\x00\x04MQTT\x04\x03\x00\x3c\x00\x00", id="connect-reserved-flag"),
        pytest.param(HTTP_GET + b"x" * 200, id="http-request"),
        pytest.param(bytes(random.Random(3).randrange(256) for _ in range(4096)), id="random-bytes"),
    ],
)
def test_garbage_before_connect_is_disconnected(live_server, garbage):
    raw = RawMqtt(live_server.mqtt_port)
    try:
        raw.send(garbage)
        assert raw.closed_by_server(3)
    finally:
        raw.close()
    alive(live_server)


@pytest.mark.parametrize("version", [4, 5], ids=["v311", "v5"])
@pytest.mark.parametrize(
    "garbage",
    [
        pytest.param(b"\x00\x00", id="reserved-type-0"),
        pytest.param(b"\xff\xff\xff\xff\xff", id="bad-length"),
        pytest.param(b"\x20\x02\x00\x00", id="connack-from-client"),
        pytest.param(b"\x36\x07\x00\x01a\x00\x01zz", id="publish-qos3"),
        pytest.param(b"\x32\x05\x00\x01#\x00\x01", id="wildcard-topic"),
        pytest.param(b"\x82\x04\x00\x00\x00\x00", id="subscribe-packet-id-0"),
        pytest.param(b"\xc1\x00", id="pingreq-reserved-flags"),
    ],
)
def test_garbage_after_connect_is_disconnected(world, live_server, version, garbage):
    device = world.device()
    raw = connected_raw(live_server, device.token, version)
    try:
        raw.send(garbage)
        assert raw.closed_by_server(3)
    finally:
        raw.close()
    alive(live_server)


def test_v5_invalid_utf8_is_a_malformed_packet_not_a_crash(world, live_server):
    """Invalid UTF-8 in an MQTT 5 string (a CONNECT's client id, a PUBLISH topic) is a malformed packet:
    a CONNECT gets CONNACK 0x81 (MQTT 5 §3.2.2.2), a later packet a disconnect, without an unhandled
    exception (or a Rust panic printed by a codec) in the server."""
    log_start = len(live_server.log())
    raw = RawMqtt(live_server.mqtt_port)
    try:
        raw.send(b"\x10\x12\x00\x04MQTT\x05\x80\x00\x3c\x00\x00\x02\xff\xfe\x00\x01t")
        packet = raw.read_packet()
        assert packet is not None, "the connection was closed without a CONNACK"
        connack, _ = mqtt5.read(memoryview(packet))
        assert isinstance(connack, mqtt5.ConnAckPacket) and int(connack.reason_code) == 0x81
        assert raw.closed_by_server(3)
    finally:
        raw.close()
    raw = connected_raw(live_server, world.device().token, 5)
    try:
        raw.send(b"\x30\x06\x00\x02\xff\xfe\x00x")  # PUBLISH QoS 0, topic b"\xff\xfe"
        assert raw.closed_by_server(3)
    finally:
        raw.close()
    well_behaved_claim(world, live_server)
    alive(live_server)
    time.sleep(0.2)
    new_log = live_server.log()[log_start:]
    # no exception escaped the MQTT session into the event loop (asyncio's "Fatal error on transport")
    for sign in ("Fatal error", "PanicException", "panicked", "Unhandled exception", "MQTT session from"):
        assert sign not in new_log, new_log[-3000:]


@pytest.mark.parametrize("level", [2, 6, 255])
def test_unsupported_protocol_level_gets_connack_0x01(live_server, level):
    """MQTT-3.1.2-2: a protocol level the server does not speak gets CONNACK return code 0x01
    (unacceptable protocol level), then the connection is closed."""
    raw = RawMqtt(live_server.mqtt_port)
    try:
        raw.send(b"\x10\x0c\x00\x04MQTT" + bytes((level,)) + b"\x02\x00\x3c\x00\x00")
        assert raw.read_packet(3) == b"\x20\x02\x00\x01"
        assert raw.closed_by_server(3)
    finally:
        raw.close()
    alive(live_server)


def test_v5_nothing_larger_than_the_clients_maximum_packet_size_is_sent(world, live_server):
    """MQTT-3.1.2-24/25: a client's Maximum Packet Size bounds what the server sends it; a larger answer
    (here the getSessionLimits RPC answer) is dropped, and the session goes on."""
    raw = RawMqtt(live_server.mqtt_port)
    try:
        raw.send(mqtt5.ConnectPacket(client_id="", username=world.device().token, max_packet_size=64).write())
        connack, _ = mqtt5.read(memoryview(raw.read_packet()))
        assert int(connack.reason_code) == 0
        raw.send(
            mqtt5.PublishPacket(
                "v1/devices/me/rpc/request/1", b'{"method":"getSessionLimits"}', qos=mqtt5.QoS.AT_MOST_ONCE
            ).write()
        )
        raw.send(PINGREQ)
        assert raw.read_packet() == PINGRESP  # the RPC answer (over 64 bytes) was not sent before it
    finally:
        raw.close()
    alive(live_server)


def test_v311_invalid_utf8_client_id_closes_without_connack(live_server):
    """MQTT 3.1.1 has no CONNACK code for a malformed CONNECT: the server closes the connection
    (§4.8, MQTT-1.5.3-1)."""
    raw = RawMqtt(live_server.mqtt_port)
    try:
        raw.send(b"\x10\x0e\x00\x04MQTT\x04\x02\x00\x3c\x00\x02\xff\xfe")
        assert raw.read_packet(3) is None
        assert raw.closed_by_server(3)
    finally:
        raw.close()
    alive(live_server)


def test_second_connect_is_disconnected(world, live_server):
    device = world.device()
    for version in (4, 5):
        raw = connected_raw(live_server, device.token, version)
        try:
            again = (
                mqtt5.ConnectPacket(client_id="", username=device.token).write()
                if version == 5
                else connect311(device.token, client_id=uid("raw"))
            )
            raw.send(again)
            assert raw.closed_by_server(3)
        finally:
            raw.close()
    alive(live_server)


@pytest.mark.parametrize("connected", [False, True], ids=["before-connect", "after-connect"])
def test_declared_length_above_64k_is_disconnected(world, live_server, connected):
    """The remaining length says 70,000 bytes (or the 4-byte maximum): refused at once, without waiting
    for (or buffering) the body."""
    for declared in (70_000, 268_435_455):
        raw = connected_raw(live_server, world.device().token) if connected else RawMqtt(live_server.mqtt_port)
        try:
            header = bytearray()
            n = declared
            while True:
                n, byte = divmod(n, 128)
                header.append(byte | (0x80 if n else 0))
                if not n:
                    break
            raw.send(bytes((0x30 if connected else 0x10,)) + bytes(header) + b"\x00\x04MQTT")
            assert raw.closed_by_server(3)
        finally:
            raw.close()
    alive(live_server)


def test_v5_oversized_packet_gets_disconnect_0x95_or_close(world, live_server):
    raw = connected_raw(live_server, world.device().token, 5)
    try:
        body = struct.pack(">H", len(DEVICE_CLAIM_TOPIC)) + DEVICE_CLAIM_TOPIC.encode() + b"\x00" + b"x" * 70_000
        length = bytearray()
        n = len(body)
        while True:
            n, byte = divmod(n, 128)
            length.append(byte | (0x80 if n else 0))
            if not n:
                break
        raw.send(b"\x30" + bytes(length) + body[:100])
        packet = raw.read_packet(3)
        if packet is not None:  # a DISCONNECT saying why is allowed, nothing else
            disconnect, _ = mqtt5.read(memoryview(packet))
            assert isinstance(disconnect, mqtt5.DisconnectPacket)
            assert int(disconnect.reason_code) == 0x95
        assert raw.closed_by_server(3)
    finally:
        raw.close()


def test_keep_alive_timeout_disconnects_a_silent_client(world, live_server):
    """keep_alive = 1 s and then silence: closed after one and a half keep-alive periods (MQTT 3.1.2.10)."""
    raw = connected_raw(live_server, world.device().token, 4, keep_alive=1)
    try:
        started = time.monotonic()
        assert raw.closed_by_server(6)
        assert time.monotonic() - started >= 1.0
    finally:
        raw.close()


def test_pings_keep_a_short_keep_alive_session_up(world, live_server):
    raw = connected_raw(live_server, world.device().token, 4, keep_alive=1)
    try:
        for _ in range(5):
            time.sleep(0.5)
            raw.send(PINGREQ)
            assert raw.read_packet(2) == PINGRESP
    finally:
        raw.close()


def test_disconnect_packet_closes_the_session(world, live_server):
    raw = connected_raw(live_server, world.device().token, 4)
    try:
        raw.send(b"\xe0\x00")
        assert raw.closed_by_server(3)
    finally:
        raw.close()


# floods and crowds -------------------------------------------------------------------------------------
def test_pingreq_flood_without_reading_does_not_hurt_others(world, live_server):
    flooder = connected_raw(live_server, world.device().token, 4)
    try:
        flooder.sock.settimeout(10)
        with contextlib.suppress(OSError):  # the server may hang up on the flooder: allowed
            flooder.send(PINGREQ * 10_000)
        well_behaved_claim(world, live_server)
        well_behaved_claim(world, live_server, mqtt.MQTTv311)
        alive(live_server)
    finally:
        flooder.close()


async def _read_packet(reader: asyncio.StreamReader) -> bytes:
    first = await reader.readexactly(1)
    length, multiplier, header = 0, 1, b""
    while True:
        byte = await reader.readexactly(1)
        header += byte
        length += (byte[0] & 0x7F) * multiplier
        multiplier *= 128
        if not byte[0] & 0x80:
            break
    return first + header + await reader.readexactly(length)


async def _crowd_member(
    port: int, token: str, secret: str, version: int, connected: asyncio.Barrier, published: asyncio.Barrier
) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        if version == 5:
            writer.write(mqtt5.ConnectPacket(client_id="", username=token, keep_alive=60).write())
            connack, _ = mqtt5.read(memoryview(await _read_packet(reader)))
            assert int(connack.reason_code) == 0
        else:
            writer.write(connect311(token, client_id=""))
            assert await _read_packet(reader) == CONNACK_ACCEPTED_311
        await connected.wait()  # all 200 are connected at the same time
        payload = dumps({"secretKey": secret, "durationMs": 120_000})
        if version == 5:
            writer.write(
                mqtt5.PublishPacket(DEVICE_CLAIM_TOPIC, payload, qos=mqtt5.QoS.AT_LEAST_ONCE, packet_id=1).write()
            )
            puback, _ = mqtt5.read(memoryview(await _read_packet(reader)))
            assert isinstance(puback, mqtt5.PubAckPacket) and int(puback.reason_code) == 0
        else:
            writer.write(publish311(DEVICE_CLAIM_TOPIC, payload, qos=1, packet_id=1))
            assert await _read_packet(reader) == b"\x40\x02\x00\x01"
        await published.wait()
    finally:
        writer.close()


def _create_devices(world, count: int) -> list:
    # Sequential on purpose: the world's httpx.Client is not thread-safe.
    return [world.device(name=uid(f"crowd-{i}")) for i in range(count)]


def test_200_clients_at_once_amid_bad_clients(world, live_server):
    """200 devices (half MQTT 3.1.1, half MQTT 5) connect at once and each opens its window, while bad
    clients misbehave: a PINGREQ flooder that never reads, garbage, half packets. A well-behaved client
    still gets its PUBACK; REST claims work for every crowd device."""
    devices = _create_devices(world, 200)
    bad: list[RawMqtt] = []
    try:
        flooder = connected_raw(live_server, world.device().token, 5)
        bad.append(flooder)
        flooder.sock.settimeout(10)
        with contextlib.suppress(OSError):
            flooder.send(PINGREQ * 10_000)
        for _ in range(10):
            half = RawMqtt(live_server.mqtt_port)
            half.send(b"\x10\x30\x00\x04MQ")  # half a CONNECT, then silence
            bad.append(half)
            junk = RawMqtt(live_server.mqtt_port)
            junk.send(b"\x00\x00\xde\xad\xbe\xef")
            bad.append(junk)

        async def crowd() -> None:
            connected, published = asyncio.Barrier(len(devices)), asyncio.Barrier(len(devices))
            members = [
                _crowd_member(
                    live_server.mqtt_port, d.token, f"secret-{d.name}", 5 if i % 2 else 4, connected, published
                )
                for i, d in enumerate(devices)
            ]
            await asyncio.wait_for(asyncio.gather(*members), 60)

        crowd_error: list[BaseException] = []

        def run_crowd() -> None:
            try:
                asyncio.run(crowd())
            except BaseException as exc:
                crowd_error.append(exc)

        runner = threading.Thread(target=run_crowd)
        runner.start()
        well_behaved_claim(world, live_server)  # during the crowd
        runner.join(90)
        assert not runner.is_alive(), "the 200 clients did not finish"
        assert not crowd_error, repr(crowd_error[0])

        async def claim_all() -> list[httpx.Response]:
            async with httpx.AsyncClient(
                base_url=live_server.base_url, timeout=30, headers={"X-Authorization": f"Bearer {world.user.token}"}
            ) as http:
                sem = asyncio.Semaphore(20)

                async def claim(d) -> httpx.Response:
                    async with sem:
                        return await http.post(
                            f"/api/customer/device/{d.name}/claim", json={"secretKey": f"secret-{d.name}"}
                        )

                return await asyncio.gather(*(claim(d) for d in devices))

        responses = asyncio.run(claim_all())
        bad_claims = [
            (d.name, r.status_code, r.text)
            for d, r in zip(devices, responses, strict=True)
            if r.status_code != 200 or r.json()["response"] != "SUCCESS"
        ]
        assert not bad_claims, bad_claims[:5]
        well_behaved_claim(world, live_server, mqtt.MQTTv311)
    finally:
        for raw in bad:
            raw.close()
    alive(live_server)


# a client that never sends CONNECT (the one slow test) ----------------------------------------------------
@pytest.fixture(scope="module")
def timeout_server(tmp_path_factory) -> Iterator[LiveServer]:
    """A claimd of its own (SQLite) for the connect-timeout test: the timeout belongs to the MQTT door,
    not to the store, so the 10 s wait runs once rather than once per backend."""
    server = start_server(Path(tmp_path_factory.mktemp("connect-timeout")))
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.slow
def test_half_packet_and_silent_client_are_dropped_after_the_connect_timeout(timeout_server):
    world = make_world(timeout_server.base_url, timeout_server.admin_email, timeout_server.admin_password)
    silent = RawMqtt(timeout_server.mqtt_port)  # connects and never says anything
    half = RawMqtt(timeout_server.mqtt_port)
    half.send(b"\x10\x20\x00\x04MQTT\x04")  # a CONNECT cut short, then silence
    started = time.monotonic()
    try:
        # while they idle, the server serves others
        well_behaved_claim(world, timeout_server)
        well_behaved_claim(world, timeout_server, mqtt.MQTTv311)
        assert not silent.closed_by_server(max(0.0, 7.5 - (time.monotonic() - started))), "closed well before 10 s"
        assert silent.closed_by_server(15 - (time.monotonic() - started)), "still open after 15 s"
        assert half.closed_by_server(max(0.1, 15 - (time.monotonic() - started))), "still open after 15 s"
        assert time.monotonic() - started >= 7.5
        well_behaved_claim(world, timeout_server)
    finally:
        silent.close()
        half.close()
        world.close()
    alive(timeout_server)


def test_server_is_alive_at_the_end(world, live_server):
    r = httpx.get(live_server.base_url + "/healthz", timeout=5)
    assert r.status_code == 200
    well_behaved_claim(world, live_server)
    alive(live_server)
