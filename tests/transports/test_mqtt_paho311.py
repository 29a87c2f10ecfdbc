"""A plain MQTT 3.1.1 device (paho, ``protocol=MQTTv311``) against claimd: reference §6 rows 1 and 2,
the MQTT 3.1.1 error behaviour of §1.2, CONNACK return codes, QoS 0 and QoS 2.
"""

from __future__ import annotations

import paho.mqtt.client as mqtt
import pytest
from transport_helpers import (
    DEVICE_CLAIM_TOPIC,
    EMPTY_FAILURE_PAYLOAD,
    EMPTY_GOOD_PAYLOAD,
    FAILURE_PAYLOAD,
    GOOD_PAYLOAD,
    NULL_SECRET_BODY,
    SECRET_BODY,
    PahoDevice,
    RawMqtt,
    connect311,
    dumps,
    expire,
    publish311,
    pubrel311,
    uid,
)

ROWS = [
    pytest.param(FAILURE_PAYLOAD, GOOD_PAYLOAD, SECRET_BODY, id="row1-secret"),
    pytest.param(EMPTY_FAILURE_PAYLOAD, EMPTY_GOOD_PAYLOAD, NULL_SECRET_BODY, id="row2-without-secret-and-duration"),
]


def v311(port: int, token: str | None, client_id: str | None = None, **kw) -> PahoDevice:
    return PahoDevice(
        port, token, protocol=mqtt.MQTTv311, client_id=uid("cid") if client_id is None else client_id, **kw
    )


def send_and_wait(device: PahoDevice, payload: object) -> None:
    """QoS 1 PUBLISH to the claim topic; ``wait_for_publish`` returns once the PUBACK came."""
    info = device.client.publish(DEVICE_CLAIM_TOPIC, dumps(payload), qos=1)
    info.wait_for_publish(timeout=5)
    assert info.is_published(), "no PUBACK"


@pytest.mark.parametrize(("failure", "good", "body"), ROWS)
def test_rows_1_2_plain_mqtt_311_device(world, live_server, failure, good, body):
    device = world.device(name=uid("Test Claim device"))
    client = v311(live_server.mqtt_port, device.token).connect()
    try:
        send_and_wait(client, failure)
        expire()
        world.expect_outcome(device.name, body, "FAILURE")
        send_and_wait(client, good)
    finally:
        client.close()  # ThingsBoard's test disconnects before the customer claims
    world.expect_success(device.name, body, device.id)
    world.expect_outcome(device.name, body, "CLAIMED")


def test_empty_payload_opens_a_window_without_key(world, live_server):
    device = world.device()
    client = v311(live_server.mqtt_port, device.token).connect()
    try:
        assert client.publish(DEVICE_CLAIM_TOPIC, b"") == 0
    finally:
        client.close()
    world.expect_success(device.name, NULL_SECRET_BODY, device.id)


def test_empty_client_id_with_clean_session_is_accepted(world, live_server):
    device = world.device()
    client = v311(live_server.mqtt_port, device.token, client_id="").connect()
    try:
        assert client.publish(DEVICE_CLAIM_TOPIC, GOOD_PAYLOAD) == 0
    finally:
        client.close()
    world.expect_success(device.name, SECRET_BODY, device.id)


# MQTT 3.1.1 errors (§1.2) ------------------------------------------------------------------------------
@pytest.mark.parametrize("payload", [b"{not json", b"[1, 2]", b'"value"'], ids=["invalid-json", "array", "string"])
def test_rejected_payload_closes_the_311_connection_without_puback(world, live_server, payload):
    device = world.device()
    client = v311(live_server.mqtt_port, device.token).connect()
    try:
        assert client.publish(DEVICE_CLAIM_TOPIC, payload, timeout=5) is None  # no PUBACK ...
        assert client.wait_disconnected(5)  # ... the connection is closed
        assert not client.acks
    finally:
        client.close()
    world.expect_outcome(device.name, SECRET_BODY, "FAILURE")  # and no window was opened


def test_unknown_topic_gets_a_plain_puback_on_311(world, live_server):
    device = world.device()
    client = v311(live_server.mqtt_port, device.token).connect()
    try:
        assert client.publish("v1/devices/me/unknown", b'{"a":1}') == 0
        assert client.publish("v1/devices/me/telemetry", b'{"t":20}') == 0
        assert client.is_connected
        assert client.publish(DEVICE_CLAIM_TOPIC, GOOD_PAYLOAD) == 0  # the session still works
    finally:
        client.close()
    world.expect_success(device.name, SECRET_BODY, device.id)


def test_unknown_topic_puback_on_the_wire_is_plain(world, live_server):
    """An MQTT 3.1.1 PUBACK is exactly 4 bytes: no reason code."""
    device = world.device()
    raw = RawMqtt(live_server.mqtt_port)
    try:
        raw.send(connect311(device.token, client_id=uid("raw")))
        assert raw.read_packet() == b"\x20\x02\x00\x00"
        raw.send(publish311("no/such/topic", b"{}", qos=1, packet_id=0x1234))
        assert raw.read_packet() == b"\x40\x02\x12\x34"
        raw.send(publish311(DEVICE_CLAIM_TOPIC, dumps(GOOD_PAYLOAD), qos=1, packet_id=7))
        assert raw.read_packet() == b"\x40\x02\x00\x07"
    finally:
        raw.close()
    world.expect_success(device.name, SECRET_BODY, device.id)


# CONNACK for unknown devices (§1.2) --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("username", "password", "client_id", "code"),
    [
        pytest.param("unknown-token", None, "some-client", 5, id="token-only"),
        pytest.param("unknown-token", None, "", 5, id="token-only-empty-client-id"),
        pytest.param("unknown-token", b"pw", "some-client", 5, id="token-and-password"),
        pytest.param(None, None, "some-client", 2, id="no-username"),
    ],
)
def test_connack_refusals_on_311(live_server, username, password, client_id, code):
    raw = RawMqtt(live_server.mqtt_port)
    try:
        raw.send(connect311(username, client_id=client_id, password=password))
        assert raw.read_packet() == bytes((0x20, 0x02, 0x00, code))
        assert raw.closed_by_server(3)
    finally:
        raw.close()


def test_paho_311_sees_not_authorized(live_server):
    client = v311(live_server.mqtt_port, uid("unknown-token"))
    try:
        assert client.start() == 135  # paho's reason for return code 5 (not authorized)
        assert client.wait_disconnected(3)
    finally:
        client.close()


# QoS 0 and QoS 2 ----------------------------------------------------------------------------------------
def test_qos0_opens_the_window_without_ack(world, live_server):
    device = world.device()
    raw = RawMqtt(live_server.mqtt_port)
    try:
        raw.send(connect311(device.token, client_id=uid("raw")))
        assert raw.read_packet() == b"\x20\x02\x00\x00"
        raw.send(publish311(DEVICE_CLAIM_TOPIC, dumps({"secretKey": "q0", "durationMs": 60000}), qos=0))
        raw.send(b"\xc0\x00")  # PINGREQ: the first answer must be its PINGRESP, not an ack of the QoS 0 message
        assert raw.read_packet() == b"\xd0\x00"
        world.eventually_success(device.name, {"secretKey": "q0"})
    finally:
        raw.close()


def test_qos2_handshake_with_paho(world, live_server):
    device = world.device()
    client = v311(live_server.mqtt_port, device.token).connect()
    try:
        assert client.publish(DEVICE_CLAIM_TOPIC, {"secretKey": "q2", "durationMs": 60000}, qos=2) == 0  # PUBCOMP
        assert any("Received PUBREC" in line for line in client.log)
        assert any("Received PUBCOMP" in line for line in client.log)
    finally:
        client.close()
    world.expect_success(device.name, {"secretKey": "q2"}, device.id)


def test_qos2_resent_publish_is_not_processed_twice(world, live_server):
    """PUBLISH (QoS 2) → PUBREC; the same packet id again with DUP before PUBREL → PUBREC again but no
    second window; PUBREL → PUBCOMP. Then a new packet id is processed again."""
    device = world.device()
    raw = RawMqtt(live_server.mqtt_port)
    try:
        raw.send(connect311(device.token, client_id=uid("raw")))
        assert raw.read_packet() == b"\x20\x02\x00\x00"
        raw.send(publish311(DEVICE_CLAIM_TOPIC, dumps({"secretKey": "first", "durationMs": 60000}), qos=2, packet_id=9))
        assert raw.read_packet() == b"\x50\x02\x00\x09"  # PUBREC
        world.expect_outcome(device.name, {"secretKey": "wrong"}, "FAILURE")  # spends the window
        # the resent message (same id, DUP) must not open the window again
        raw.send(
            publish311(
                DEVICE_CLAIM_TOPIC, dumps({"secretKey": "first", "durationMs": 60000}), qos=2, packet_id=9, dup=True
            )
        )
        assert raw.read_packet() == b"\x50\x02\x00\x09"
        world.expect_outcome(device.name, {"secretKey": "first"}, "FAILURE")
        raw.send(pubrel311(9))
        assert raw.read_packet() == b"\x70\x02\x00\x09"  # PUBCOMP
        # after the release, the id is free: a new message with it is a new message
        raw.send(
            publish311(DEVICE_CLAIM_TOPIC, dumps({"secretKey": "second", "durationMs": 60000}), qos=2, packet_id=9)
        )
        assert raw.read_packet() == b"\x50\x02\x00\x09"
        raw.send(pubrel311(9))
        assert raw.read_packet() == b"\x70\x02\x00\x09"
    finally:
        raw.close()
    world.expect_success(device.name, {"secretKey": "second"}, device.id)
