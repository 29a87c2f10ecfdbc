"""MQTT 5 PUBACK and CONNACK reason codes (issue 3, reference §1.2–§1.3), seen by a raw paho MQTT 5
client (callback API VERSION2: ``on_publish`` gets the PUBACK's reason code) and raw sockets.

0x00 accepted · 0x99 payload rejected (the connection stays open) · 0x87 a window the server refused
(device already claimed, ``claimingAllowed`` missing, not a gateway) · 0x90 unknown topic.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mqtt5
import paho.mqtt.client as mqtt
import pytest
from servers import LiveServer, start_server
from transport_helpers import (
    DEVICE_CLAIM_TOPIC,
    GATEWAY_CLAIM_TOPIC,
    GOOD_PAYLOAD,
    HOST,
    NOT_AUTHORIZED,
    PAYLOAD_INVALID,
    SECRET_BODY,
    SUCCESS,
    TOPIC_NAME_INVALID,
    PahoDevice,
    RawMqtt,
    dumps,
    make_world,
    uid,
)


@pytest.fixture
def v5(live_server) -> Iterator:
    """``v5(token)``: a connected MQTT 5 paho device, closed at teardown."""
    made: list[PahoDevice] = []

    def connect(token: str, port: int | None = None) -> PahoDevice:
        device = PahoDevice(port or live_server.mqtt_port, token, protocol=mqtt.MQTTv5)
        made.append(device)
        return device.connect()

    yield connect
    for device in made:
        device.close()


def test_accepted_claim_gets_0x00(world, v5):
    device = world.device()
    client = v5(device.token)
    assert client.publish(DEVICE_CLAIM_TOPIC, GOOD_PAYLOAD) == SUCCESS
    assert client.publish(DEVICE_CLAIM_TOPIC, GOOD_PAYLOAD) == SUCCESS  # a live window is kept: still accepted
    world.expect_success(device.name, SECRET_BODY, device.id)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(b"{not json", id="invalid-json"),
        pytest.param(b"\xff\xfe", id="not-utf8"),
        pytest.param(b"[1, 2]", id="array"),
        pytest.param(b'"value"', id="string"),
        pytest.param(b"null", id="json-null"),
        pytest.param(b'{"secretKey": null, "durationMs": 60000}', id="secretKey-null"),
        pytest.param(b'{"secretKey": {"a": 1}}', id="secretKey-object"),
        pytest.param(b'{"secretKey": "v", "durationMs": "soon"}', id="durationMs-not-numeric"),
    ],
)
def test_rejected_payload_gets_0x99_and_the_connection_stays_open(world, v5, payload):
    device = world.device()
    client = v5(device.token)
    assert client.publish(DEVICE_CLAIM_TOPIC, payload) == PAYLOAD_INVALID
    assert not client.wait_disconnected(0.3), f"disconnected with reason {client.disconnect_reason}"
    assert client.is_connected
    # the same session goes on: a good message is accepted
    assert client.publish(DEVICE_CLAIM_TOPIC, GOOD_PAYLOAD) == SUCCESS
    world.expect_success(device.name, SECRET_BODY, device.id)


def test_mqtt5_properties_that_clients_send_are_accepted(world, live_server):
    """CONNECT and PUBLISH properties (session expiry, receive maximum, maximum packet size, user
    properties, content type, payload format, message expiry) do not disturb the claim."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    device = world.device()
    client = PahoDevice(live_server.mqtt_port, device.token, protocol=mqtt.MQTTv5)
    connect_props = Properties(PacketTypes.CONNECT)
    connect_props.SessionExpiryInterval = 0
    connect_props.ReceiveMaximum = 20
    connect_props.MaximumPacketSize = 4096
    connect_props.UserProperty = [("firmware", "1.2.3")]
    client.client.connect(HOST, live_server.mqtt_port, properties=connect_props)
    client.client.loop_start()
    try:
        assert client.connack.wait(5) and client.connack_reason == 0
        publish_props = Properties(PacketTypes.PUBLISH)
        publish_props.ContentType = "application/json"
        publish_props.PayloadFormatIndicator = 1
        publish_props.MessageExpiryInterval = 60
        publish_props.UserProperty = [("k", "v")]
        info = client.client.publish(DEVICE_CLAIM_TOPIC, dumps(GOOD_PAYLOAD), qos=1, properties=publish_props)
        info.wait_for_publish(5)
        assert client.acks.get(info.mid) == SUCCESS
    finally:
        client.close()
    world.expect_success(device.name, SECRET_BODY, device.id)


def test_rejected_payload_opens_no_window(world, v5):
    device = world.device()
    client = v5(device.token)
    assert client.publish(DEVICE_CLAIM_TOPIC, b'{"secretKey": null}') == PAYLOAD_INVALID
    world.expect_outcome(device.name, {"secretKey": None}, "FAILURE")


def test_device_assigned_over_rest_gets_0x87(world, v5):
    device = world.device()
    world.assign(device, world.new_customer())
    client = v5(device.token)
    assert client.publish(DEVICE_CLAIM_TOPIC, GOOD_PAYLOAD) == NOT_AUTHORIZED
    assert client.is_connected
    world.expect_outcome(device.name, SECRET_BODY, "CLAIMED")


def test_device_claimed_by_a_customer_gets_0x87_afterwards(world, v5):
    device = world.device()
    client = v5(device.token)
    assert client.publish(DEVICE_CLAIM_TOPIC, GOOD_PAYLOAD) == SUCCESS
    world.expect_success(device.name, SECRET_BODY, device.id)
    assert client.publish(DEVICE_CLAIM_TOPIC, GOOD_PAYLOAD) == NOT_AUTHORIZED
    assert client.is_connected


@pytest.mark.parametrize("topic", ["v1/devices/me/unknown", "v1/devices/me/telemetry", "a/b/c"])
def test_unknown_topic_gets_0x90_and_stays_open(world, v5, topic):
    device = world.device()
    client = v5(device.token)
    assert client.publish(topic, b'{"a": 1}') == TOPIC_NAME_INVALID
    assert client.is_connected
    assert client.publish(DEVICE_CLAIM_TOPIC, GOOD_PAYLOAD) == SUCCESS


def test_non_gateway_device_on_the_gateway_topic_gets_0x87(world, v5):
    device = world.device()
    child = uid("would-be child")
    client = v5(device.token)
    assert client.publish(GATEWAY_CLAIM_TOPIC, {child: GOOD_PAYLOAD}) == NOT_AUTHORIZED
    assert client.is_connected
    assert world.tenant_device(child).status_code == 404  # nothing was created


def test_gateway_child_already_claimed_gets_0x87(world, v5):
    gateway = world.device(gateway=True)
    owned = world.device()
    world.assign(owned, world.new_customer())
    client = v5(gateway.token)
    assert client.publish(GATEWAY_CLAIM_TOPIC, {owned.name: GOOD_PAYLOAD}) == NOT_AUTHORIZED
    world.expect_outcome(owned.name, SECRET_BODY, "CLAIMED")


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        pytest.param(b"{not json", PAYLOAD_INVALID, id="invalid-json-0x99"),
        pytest.param(b'{"Dev": {"secretKey": null}}', PAYLOAD_INVALID, id="bad-entry-0x99"),
        # Child names become device names: the text rule (claimd.domain.inputs) refuses what cannot be stored.
        pytest.param(b'{"a\\u0000b": {"secretKey": "k"}}', PAYLOAD_INVALID, id="nul-in-child-name-0x99"),
        pytest.param(b'{"\\ud800": {"secretKey": "k"}}', PAYLOAD_INVALID, id="lone-surrogate-child-name-0x99"),
        pytest.param(b'{"Dev": {"secretKey": "\\udfff"}}', PAYLOAD_INVALID, id="lone-surrogate-key-0x99"),
    ],
)
def test_gateway_rejected_payloads(world, v5, payload, reason):
    gateway = world.device(gateway=True)
    client = v5(gateway.token)
    assert client.publish(GATEWAY_CLAIM_TOPIC, payload) == reason
    assert client.is_connected


GATEWAY_CONNECT_TOPIC = "v1/gateway/connect"


@pytest.mark.parametrize("name", ["a\x00b", "x" * 256], ids=["nul", "too-long"])
def test_gateway_connect_with_a_name_that_cannot_be_stored(world, v5, name):
    """``v1/gateway/connect`` creates the child: a name the device-name rule refuses is an error
    answer (0x80), the session goes on and nothing is created."""
    gateway = world.device(gateway=True)
    client = v5(gateway.token)
    assert client.publish(GATEWAY_CONNECT_TOPIC, {"device": name}) == 0x80
    assert client.is_connected
    child = uid("child")
    assert client.publish(GATEWAY_CLAIM_TOPIC, {child: GOOD_PAYLOAD}) == SUCCESS


@pytest.mark.parametrize(
    "payload", [b"[1]", b'{"Dev": 1, "Other": "x"}', b"{}"], ids=["not-an-object", "no-object-entry", "empty-object"]
)
def test_gateway_message_without_entries_gets_0x83_and_is_closed(world, v5, payload):
    """§1.3: valid JSON with no object entry → PUBACK 0x83 and the connection closed."""
    gateway = world.device(gateway=True)
    client = v5(gateway.token)
    assert client.publish(GATEWAY_CLAIM_TOPIC, payload) == 0x83
    assert client.wait_disconnected(3)


# claimingAllowed (CLAIMD_ALLOW_CLAIMING_BY_DEFAULT=false) -----------------------------------------------
@pytest.fixture(scope="module")
def strict_server(tmp_path_factory) -> Iterator[LiveServer]:
    """A SQLite claimd where only devices with the server attribute ``claimingAllowed = true`` may open
    a window."""
    server = start_server(
        Path(tmp_path_factory.mktemp("strict")), extra_env={"CLAIMD_ALLOW_CLAIMING_BY_DEFAULT": "false"}
    )
    try:
        yield server
    finally:
        server.stop()


def test_claiming_allowed_missing_gets_0x87(strict_server):
    world = make_world(strict_server.base_url, strict_server.admin_email, strict_server.admin_password)
    try:
        refused, allowed = world.device(), world.device()
        world.save_server_attributes(allowed, {"claimingAllowed": True})
        for device, reason in ((refused, NOT_AUTHORIZED), (allowed, SUCCESS)):
            client = PahoDevice(strict_server.mqtt_port, device.token, protocol=mqtt.MQTTv5).connect()
            try:
                assert client.publish(DEVICE_CLAIM_TOPIC, GOOD_PAYLOAD) == reason
            finally:
                client.close()
        world.expect_outcome(refused.name, SECRET_BODY, "FAILURE")
        world.expect_success(allowed.name, SECRET_BODY, allowed.id)
    finally:
        world.close()
        assert strict_server.process.poll() is None


# CONNACK for unknown tokens (§1.2), on the wire ---------------------------------------------------------
@pytest.mark.parametrize(
    ("connect", "reason"),
    [
        pytest.param({"client_id": "", "username": "unknown"}, 0x86, id="token-only-tb-client-style"),
        pytest.param(
            {"client_id": "cid", "username": "unknown", "password": b"pw"}, 0x86, id="token-password-client-id"
        ),
        pytest.param({"client_id": "cid"}, 0x85, id="no-username-client-id"),
        pytest.param({"client_id": ""}, 0x87, id="nothing"),
    ],
)
def test_connack_refusals_on_v5(live_server, connect, reason):
    raw = RawMqtt(live_server.mqtt_port)
    try:
        raw.send(mqtt5.ConnectPacket(**connect).write())
        packet = raw.read_packet()
        assert packet is not None, "the connection was closed without a CONNACK"
        connack, _ = mqtt5.read(memoryview(packet))
        assert isinstance(connack, mqtt5.ConnAckPacket)
        assert int(connack.reason_code) == reason
        assert raw.closed_by_server(3)
    finally:
        raw.close()


def test_connack_accepts_with_assigned_client_id_and_limits(world, live_server):
    device = world.device()
    raw = RawMqtt(live_server.mqtt_port)
    try:
        raw.send(mqtt5.ConnectPacket(client_id="", username=device.token).write())
        connack, _ = mqtt5.read(memoryview(raw.read_packet()))
        assert int(connack.reason_code) == 0
        assert connack.assigned_client_id
        assert connack.max_packet_size and connack.max_packet_size >= 1024
        # a client that chose its own id gets none assigned
        other = RawMqtt(live_server.mqtt_port)
        try:
            other.send(mqtt5.ConnectPacket(client_id="my-id", username=device.token).write())
            connack2, _ = mqtt5.read(memoryview(other.read_packet()))
            assert int(connack2.reason_code) == 0 and not connack2.assigned_client_id
        finally:
            other.close()
    finally:
        raw.close()


# QoS 2 on MQTT 5 ----------------------------------------------------------------------------------------
def test_qos2_with_paho_v5(world, v5):
    device = world.device()
    client = v5(device.token)
    assert client.publish(DEVICE_CLAIM_TOPIC, {"secretKey": "q2", "durationMs": 60000}, qos=2) == SUCCESS
    assert any("Received PUBREC" in line for line in client.log)
    world.expect_success(device.name, {"secretKey": "q2"}, device.id)


def test_qos2_duplicate_is_acknowledged_not_reprocessed_v5(world, live_server):
    """After the device is claimed, a resent QoS 2 message (same id, before PUBREL) gets PUBREC 0x00 —
    processing it again would have answered 0x87. A new id is processed: 0x87."""
    device = world.device()
    raw = RawMqtt(live_server.mqtt_port)
    try:
        raw.send(mqtt5.ConnectPacket(client_id="", username=device.token).write())
        assert int(mqtt5.read(memoryview(raw.read_packet()))[0].reason_code) == 0
        publish = mqtt5.PublishPacket(DEVICE_CLAIM_TOPIC, dumps(GOOD_PAYLOAD), qos=mqtt5.QoS.EXACTLY_ONCE, packet_id=5)
        raw.send(publish.write())
        pubrec, _ = mqtt5.read(memoryview(raw.read_packet()))
        assert isinstance(pubrec, mqtt5.PubRecPacket) and pubrec.packet_id == 5 and int(pubrec.reason_code) == 0
        world.expect_success(device.name, SECRET_BODY, device.id)
        raw.send(
            mqtt5.PublishPacket(
                DEVICE_CLAIM_TOPIC, dumps(GOOD_PAYLOAD), qos=mqtt5.QoS.EXACTLY_ONCE, packet_id=5, duplicate=True
            ).write()
        )
        pubrec, _ = mqtt5.read(memoryview(raw.read_packet()))
        assert isinstance(pubrec, mqtt5.PubRecPacket) and int(pubrec.reason_code) == 0
        raw.send(mqtt5.PubRelPacket(packet_id=5).write())
        pubcomp, _ = mqtt5.read(memoryview(raw.read_packet()))
        assert isinstance(pubcomp, mqtt5.PubCompPacket) and pubcomp.packet_id == 5
        raw.send(
            mqtt5.PublishPacket(
                DEVICE_CLAIM_TOPIC, dumps(GOOD_PAYLOAD), qos=mqtt5.QoS.EXACTLY_ONCE, packet_id=6
            ).write()
        )
        pubrec, _ = mqtt5.read(memoryview(raw.read_packet()))
        assert isinstance(pubrec, mqtt5.PubRecPacket) and int(pubrec.reason_code) == NOT_AUTHORIZED
    finally:
        raw.close()
