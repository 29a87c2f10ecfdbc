"""claimd's own MQTT codec code (entrypoints/mqtt): the fixed header (``framing``), the MQTT 3.1.1 codec
(``v311``) and the MQTT 5 adapter around the ``mqtt5`` package (``v5``).

Round trips, known byte vectors, every malformed case raising :class:`MalformedPacket`, and fuzzing:
arbitrary bytes cut by ``next_packet`` and decoded only ever raise ``MalformedPacket``.
"""

from __future__ import annotations

import struct

import mqtt5
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claimd.entrypoints.mqtt import v5, v311
from claimd.entrypoints.mqtt.framing import connect_protocol_level, encode_length, next_packet
from claimd.entrypoints.mqtt.packets import (
    CONNECT,
    DISCONNECT,
    PINGREQ,
    PUBACK,
    PUBCOMP,
    PUBREC,
    PUBREL,
    Connect,
    MalformedPacket,
    PacketId,
    PacketTooLarge,
    Publish,
    Simple,
    Subscribe,
    Unsubscribe,
)

MAX = 65_536


def decode311(data: bytes) -> object:
    """Cut exactly one whole packet off ``data`` and decode it as MQTT 3.1.1."""
    bounds = next_packet(data, MAX)
    assert bounds is not None, "incomplete packet"
    start, end = bounds
    assert end == len(data), "more than one packet"
    return v311.decode(data, start)


def packet(first: int, body: bytes) -> bytes:
    return bytes((first,)) + encode_length(len(body)) + body


def s(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack(">H", len(raw)) + raw


# framing -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("n", "encoded"),
    [
        (0, b"\x00"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (16_383, b"\xff\x7f"),
        (16_384, b"\x80\x80\x01"),
        (2_097_151, b"\xff\xff\x7f"),
        (2_097_152, b"\x80\x80\x80\x01"),
        (268_435_455, b"\xff\xff\xff\x7f"),
    ],
)
def test_remaining_length_vectors(n, encoded):
    assert encode_length(n) == encoded
    header = b"\x30" + encoded
    if n <= 16_384:
        assert next_packet(header + b"\x00" * n, 300_000_000) == (len(header), len(header) + n)
    assert next_packet(header, 300_000_000) == ((len(header), len(header)) if n == 0 else None)


@given(st.integers(0, 268_435_455))
def test_remaining_length_round_trip(n):
    header = b"\x30" + encode_length(n)
    assert len(header) <= 5
    bounds = next_packet(header + b"\x00" * min(n, 10), 300_000_000)
    if n <= 10:
        assert bounds == (len(header), len(header) + n)
    else:
        assert bounds is None


def test_next_packet_waits_for_the_whole_packet():
    whole = v311.encode_publish("a/b", b"payload", 1, 7)
    for cut in range(len(whole)):
        assert next_packet(whole[:cut], MAX) is None
    assert next_packet(whole, MAX) == (2, len(whole))
    assert next_packet(whole + b"\xc0", MAX) == (2, len(whole))  # a following packet's first byte is not read


def test_next_packet_refuses_a_length_of_five_bytes():
    with pytest.raises(MalformedPacket):
        next_packet(b"\x30\xff\xff\xff\xff\x01", MAX)
    with pytest.raises(MalformedPacket):
        next_packet(b"\x30\x80\x80\x80\x80", MAX)  # even before the fifth byte's value is known to end it


@pytest.mark.parametrize("declared", [MAX, MAX + 1, 70_000, 268_435_455])
def test_next_packet_refuses_more_than_the_maximum_before_the_body_arrives(declared):
    with pytest.raises(PacketTooLarge):
        next_packet(b"\x30" + encode_length(declared), MAX)
    assert issubclass(PacketTooLarge, MalformedPacket)


def test_next_packet_accepts_exactly_the_maximum():
    body_len = MAX - 1 - len(encode_length(MAX - 4))
    data = b"\x30" + encode_length(body_len)
    assert len(data) + body_len == MAX
    assert next_packet(data + b"\x00" * body_len, MAX) == (len(data), MAX)


@pytest.mark.parametrize(
    ("data", "level"),
    [
        (v311.encode_connect("c", "u"), 4),
        (v311.encode_connect("c", "u", level=3), 3),
        (mqtt5.ConnectPacket(client_id="c", username="u").write(), 5),
        (packet(0x10, s("MQTT") + b"\x06\x02\x00\x3c" + s("c")), 6),  # a known name, a level claimd does not speak
    ],
)
def test_connect_protocol_level(data, level):
    assert connect_protocol_level(data) == level


@pytest.mark.parametrize(
    "data",
    [
        packet(0x10, s("HTTP") + b"\x04\x02\x00\x3c" + s("c")),
        packet(0x10, b"\x00"),
        packet(0x10, s("MQTT")),
        packet(0x10, b""),
        v311.encode_publish("t", b"", 0),
    ],
)
def test_connect_protocol_level_refuses(data):
    with pytest.raises(MalformedPacket):
        connect_protocol_level(data)


# MQTT 3.1.1 round trips ----------------------------------------------------------------------------------
def test_connect_round_trip_vector():
    data = v311.encode_connect("dev-1", "token", b"secret", keep_alive=30)
    assert data == (b"\x10\x20\x00\x04MQTT\x04\xc2\x00\x1e\x00\x05dev-1\x00\x05token\x00\x06secret")
    assert decode311(data) == Connect(4, "dev-1", "token", b"secret", 30, True)


text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
topics = text.filter(lambda t: t and "+" not in t and "#" not in t)


@given(
    client_id=text,
    username=st.none() | text,
    password=st.none() | st.binary(max_size=40),
    keep_alive=st.integers(0, 65535),
    clean=st.booleans(),
    level=st.sampled_from([3, 4]),
)
def test_connect_round_trip(client_id, username, password, keep_alive, clean, level):
    if password is not None and username is None:
        username = "u"  # MQTT-3.1.2-22: a password needs a user name
    data = v311.encode_connect(client_id, username, password, keep_alive, clean, level)
    assert connect_protocol_level(data) == level
    assert decode311(data) == Connect(level, client_id, username, password, keep_alive, clean)


@given(topic=topics, payload=st.binary(max_size=300), qos=st.sampled_from([0, 1, 2]), packet_id=st.integers(1, 65535))
def test_publish_round_trip(topic, payload, qos, packet_id):
    data = v311.encode_publish(topic, payload, qos, packet_id if qos else None)
    assert decode311(data) == Publish(topic, payload, qos, packet_id if qos else None)


def test_publish_flags():
    body = s("a/b") + b"\x00\x09" + b"{}"
    assert decode311(packet(0x3B, body)) == Publish("a/b", b"{}", 1, 9, dup=True, retain=True)
    assert decode311(packet(0x34, body)) == Publish("a/b", b"{}", 2, 9)


def test_server_publish_vector_decodes_as_qos0():
    data = v311.publish("v1/devices/me/rpc/response/1", b'{"a":1}')
    assert data == b'\x30\x25\x00\x1cv1/devices/me/rpc/response/1{"a":1}'
    assert decode311(data) == Publish("v1/devices/me/rpc/response/1", b'{"a":1}', 0, None)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\x40\x02\x00\x01", PacketId(PUBACK, 1)),
        (b"\x50\x02\xff\xff", PacketId(PUBREC, 65535)),
        (b"\x62\x02\x12\x34", PacketId(PUBREL, 0x1234)),
        (b"\x70\x02\x00\x07", PacketId(PUBCOMP, 7)),
        (b"\xc0\x00", Simple(PINGREQ)),
        (b"\xe0\x00", Simple(DISCONNECT)),
        (
            packet(0x82, b"\x00\x05" + s("a/+") + b"\x01" + s("#") + b"\x00" + s("x") + b"\x02"),
            Subscribe(5, [("a/+", 1), ("#", 0), ("x", 2)]),
        ),
        (packet(0xA2, b"\x00\x06" + s("a/+") + s("b")), Unsubscribe(6, ["a/+", "b"])),
    ],
)
def test_client_packets_decode(data, expected):
    assert decode311(data) == expected


# MQTT 3.1.1 server packets: known byte vectors -------------------------------------------------------------
@pytest.mark.parametrize(
    ("made", "expected"),
    [
        (v311.connack(v311.ACCEPTED), b"\x20\x02\x00\x00"),
        (v311.connack(v311.ACCEPTED, session_present=True), b"\x20\x02\x01\x00"),
        (v311.connack(v311.UNACCEPTABLE_PROTOCOL), b"\x20\x02\x00\x01"),
        (v311.connack(v311.IDENTIFIER_REJECTED), b"\x20\x02\x00\x02"),
        (v311.connack(v311.SERVER_UNAVAILABLE), b"\x20\x02\x00\x03"),
        (v311.connack(v311.BAD_CREDENTIALS), b"\x20\x02\x00\x04"),
        (v311.connack(v311.NOT_AUTHORIZED), b"\x20\x02\x00\x05"),
        (v311.ack(PUBACK, 1), b"\x40\x02\x00\x01"),
        (v311.ack(PUBACK, 0xABCD), b"\x40\x02\xab\xcd"),
        (v311.ack(PUBREC, 2), b"\x50\x02\x00\x02"),
        (v311.ack(PUBREL, 3), b"\x62\x02\x00\x03"),
        (v311.ack(PUBCOMP, 4), b"\x70\x02\x00\x04"),
        (v311.suback(10, [0]), b"\x90\x03\x00\x0a\x00"),
        (v311.suback(10, [0, 1, 2, v311.SUBACK_FAILURE]), b"\x90\x06\x00\x0a\x00\x01\x02\x80"),
        (v311.unsuback(3), b"\xb0\x02\x00\x03"),
        (v311.PINGRESP_BYTES, b"\xd0\x00"),
    ],
)
def test_server_packet_vectors(made, expected):
    assert made == expected


def test_suback_with_many_codes_uses_a_multi_byte_length():
    data = v311.suback(1, [0] * 200)
    assert data[:4] == b"\x90\xca\x01\x00" and len(data) == 1 + 2 + 2 + 200


def test_v5_server_packets_are_read_back_by_mqtt5():
    connack, _ = mqtt5.read(memoryview(v5.connack(0, "claimd-abc", 65536, 100)))
    assert isinstance(connack, mqtt5.ConnAckPacket) and int(connack.reason_code) == 0
    assert connack.assigned_client_id == "claimd-abc" and connack.max_packet_size == 65536
    assert connack.receive_max == 100
    puback, _ = mqtt5.read(memoryview(v5.ack(PUBACK, 9, 0x99)))
    assert isinstance(puback, mqtt5.PubAckPacket) and puback.packet_id == 9 and int(puback.reason_code) == 0x99
    suback, _ = mqtt5.read(memoryview(v5.suback(3, [1, 0x8F])))
    assert [int(c) for c in suback.reason_codes] == [1, 0x8F]
    assert v5.PINGRESP_BYTES == b"\xd0\x00"


@pytest.mark.parametrize("reason", [0x80, 0x85, 0x86, 0x87, 0x88])
def test_v5_refusal_connack_encodes(reason):
    """A refusing CONNACK carries only the reason (no assigned id, no limits)."""
    connack, _ = mqtt5.read(memoryview(v5.connack(reason)))
    assert isinstance(connack, mqtt5.ConnAckPacket) and int(connack.reason_code) == reason


# MQTT 3.1.1: malformed packets -----------------------------------------------------------------------------
GOOD_CONNECT_HEAD = s("MQTT") + b"\x04"
MALFORMED = [
    # PUBLISH
    pytest.param(packet(0x36, s("t") + b"\x00\x01"), id="publish-qos3"),
    pytest.param(packet(0x32, s("t") + b"\x00\x00"), id="publish-qos1-packet-id-0"),
    pytest.param(packet(0x34, s("t") + b"\x00\x00"), id="publish-qos2-packet-id-0"),
    pytest.param(packet(0x30, s("a/+")), id="publish-topic-plus"),
    pytest.param(packet(0x30, s("a/#")), id="publish-topic-hash"),
    pytest.param(packet(0x30, s("")), id="publish-empty-topic"),
    pytest.param(packet(0x30, s(b"a\xffb")), id="publish-topic-invalid-utf8"),
    pytest.param(packet(0x30, s(b"\xed\xa0\x80")), id="publish-topic-surrogate"),
    pytest.param(packet(0x30, s("a\x00b")), id="publish-topic-nul"),
    pytest.param(packet(0x30, b"\x00\x05ab"), id="publish-topic-truncated"),
    pytest.param(packet(0x30, b"\x00"), id="publish-topic-length-truncated"),
    pytest.param(packet(0x32, s("t") + b"\x01"), id="publish-packet-id-truncated"),
    pytest.param(packet(0x38, s("t") + b"x"), id="publish-qos0-with-dup"),
    # acks
    pytest.param(b"\x40\x02\x00\x00", id="puback-packet-id-0"),
    pytest.param(b"\x41\x02\x00\x01", id="puback-reserved-flags"),
    pytest.param(b"\x60\x02\x00\x01", id="pubrel-flags-0000"),
    pytest.param(b"\x52\x02\x00\x01", id="pubrec-reserved-flags"),
    pytest.param(b"\x40\x03\x00\x01\x00", id="puback-trailing-bytes"),
    pytest.param(b"\x70\x01\x00", id="pubcomp-truncated"),
    pytest.param(b"\x40\x00", id="puback-empty"),
    # SUBSCRIBE / UNSUBSCRIBE
    pytest.param(packet(0x80, b"\x00\x01" + s("a") + b"\x00"), id="subscribe-flags-0000"),
    pytest.param(packet(0x82, b"\x00\x00" + s("a") + b"\x00"), id="subscribe-packet-id-0"),
    pytest.param(packet(0x82, b"\x00\x01" + s("a") + b"\x03"), id="subscribe-qos3"),
    pytest.param(packet(0x82, b"\x00\x01" + s("a") + b"\x04"), id="subscribe-reserved-option-bits"),
    pytest.param(packet(0x82, b"\x00\x01"), id="subscribe-no-filter"),
    pytest.param(packet(0x82, b"\x00\x01" + s("a")), id="subscribe-options-truncated"),
    pytest.param(packet(0x82, b"\x00\x01" + s(b"\xc3\x28") + b"\x00"), id="subscribe-filter-invalid-utf8"),
    pytest.param(packet(0xA0, b"\x00\x01" + s("a")), id="unsubscribe-flags-0000"),
    pytest.param(packet(0xA2, b"\x00\x01"), id="unsubscribe-no-filter"),
    pytest.param(packet(0xA2, b"\x00\x00" + s("a")), id="unsubscribe-packet-id-0"),
    pytest.param(packet(0xA2, b"\x00\x01\x00\x09ab"), id="unsubscribe-filter-truncated"),
    # PINGREQ / DISCONNECT
    pytest.param(b"\xc1\x00", id="pingreq-reserved-flags"),
    pytest.param(b"\xc0\x01\x00", id="pingreq-trailing-bytes"),
    pytest.param(b"\xe2\x00", id="disconnect-reserved-flags"),
    pytest.param(b"\xe0\x01\x00", id="disconnect-trailing-bytes"),
    # CONNECT
    pytest.param(packet(0x11, GOOD_CONNECT_HEAD + b"\x02\x00\x3c" + s("c")), id="connect-reserved-fixed-flags"),
    pytest.param(packet(0x10, GOOD_CONNECT_HEAD + b"\x03\x00\x3c" + s("c")), id="connect-reserved-flag-bit0"),
    pytest.param(packet(0x10, GOOD_CONNECT_HEAD + b"\x0a\x00\x3c" + s("c")), id="connect-will-qos-without-will"),
    pytest.param(packet(0x10, GOOD_CONNECT_HEAD + b"\x22\x00\x3c" + s("c")), id="connect-will-retain-without-will"),
    pytest.param(packet(0x10, GOOD_CONNECT_HEAD + b"\x1e\x00\x3c" + s("c") + s("w") + s("m")), id="connect-will-qos3"),
    pytest.param(
        packet(0x10, GOOD_CONNECT_HEAD + b"\x42\x00\x3c" + s("c") + s("pw")), id="connect-password-without-username"
    ),
    pytest.param(packet(0x10, GOOD_CONNECT_HEAD + b"\x82\x00\x3c" + s("c")), id="connect-username-missing"),
    pytest.param(packet(0x10, GOOD_CONNECT_HEAD + b"\xc2\x00\x3c" + s("c") + s("u")), id="connect-password-missing"),
    pytest.param(
        packet(0x10, GOOD_CONNECT_HEAD + b"\x06\x00\x3c" + s("c") + s("w")), id="connect-will-message-missing"
    ),
    pytest.param(packet(0x10, GOOD_CONNECT_HEAD + b"\x02\x00\x3c" + s(b"\xff")), id="connect-client-id-invalid-utf8"),
    pytest.param(
        packet(0x10, GOOD_CONNECT_HEAD + b"\x82\x00\x3c" + s("c") + s(b"\xc0\xaf")), id="connect-username-invalid-utf8"
    ),
    pytest.param(packet(0x10, GOOD_CONNECT_HEAD + b"\x02\x00\x3c" + s("c") + b"\x00"), id="connect-trailing-bytes"),
    pytest.param(packet(0x10, GOOD_CONNECT_HEAD + b"\x02\x00"), id="connect-keep-alive-truncated"),
    pytest.param(packet(0x10, GOOD_CONNECT_HEAD + b"\x02\x00\x3c\x00\x05ab"), id="connect-client-id-truncated"),
    # packet types a client never sends
    pytest.param(b"\x00\x00", id="type-0"),
    pytest.param(b"\x20\x02\x00\x00", id="connack"),
    pytest.param(b"\x90\x03\x00\x01\x00", id="suback"),
    pytest.param(b"\xb0\x02\x00\x01", id="unsuback"),
    pytest.param(b"\xd0\x00", id="pingresp"),
    pytest.param(b"\xf0\x00", id="auth"),
]


@pytest.mark.parametrize("data", MALFORMED)
def test_malformed_311_packets(data):
    with pytest.raises(MalformedPacket):
        decode311(data)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\x30\x80\x80\x80\x80\x01", id="remaining-length-5-bytes"),
        pytest.param(b"\x30\xff\xff\xff\xff\x7f" + b"\x00" * 10, id="remaining-length-5-bytes-max"),
    ],
)
def test_remaining_length_above_4_bytes(data):
    with pytest.raises(MalformedPacket):
        next_packet(data, 300_000_000)


def test_connect_decoded_with_its_level():
    data = v311.encode_connect("c", "tok", keep_alive=0, clean=False)
    connect = decode311(data)
    assert connect == Connect(4, "c", "tok", None, 0, False)
    assert decode311(packet(0x10, GOOD_CONNECT_HEAD + b"\x06\x00\x3c" + s("c") + s("w/t") + s(b"\x00\xff")))


# MQTT 5 adapter --------------------------------------------------------------------------------------------
def test_v5_decodes_what_clients_send():
    assert v5.decode(
        mqtt5.ConnectPacket(
            client_id="", username="tok", password=b"pw", keep_alive=30, clean_start=True, max_packet_size=1000
        ).write()
    ) == Connect(5, "", "tok", b"pw", 30, True, 1000)
    assert v5.decode(
        mqtt5.PublishPacket("v1/devices/me/claim", b"{}", qos=mqtt5.QoS.AT_LEAST_ONCE, packet_id=3).write()
    ) == Publish("v1/devices/me/claim", b"{}", 1, 3)
    assert v5.decode(mqtt5.PublishPacket("t", b"", qos=mqtt5.QoS.AT_MOST_ONCE).write()) == Publish("t", b"", 0, None)
    assert v5.decode(
        mqtt5.SubscribePacket(7, [mqtt5.TopicFilter("a/+", max_qos=mqtt5.QoS.AT_LEAST_ONCE)]).write()
    ) == Subscribe(7, [("a/+", 1)])
    assert v5.decode(mqtt5.UnsubscribePacket(8, ["a/+"]).write()) == Unsubscribe(8, ["a/+"])
    assert v5.decode(mqtt5.PubRelPacket(9).write()) == PacketId(PUBREL, 9)
    assert v5.decode(mqtt5.PingReqPacket().write()) == Simple(PINGREQ)
    assert v5.decode(mqtt5.DisconnectPacket().write()) == Simple(DISCONNECT)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(
            mqtt5.PublishPacket("t", b"", qos=mqtt5.QoS.AT_MOST_ONCE, topic_alias=1).write(), id="topic-alias"
        ),
        pytest.param(packet(0x30, s("a/+") + b"\x00"), id="wildcard-topic"),
        pytest.param(packet(0x30, s(b"\xff\xfe") + b"\x00"), id="publish-topic-invalid-utf8"),
        pytest.param(
            packet(0x10, s("MQTT") + b"\x05\x02\x00\x3c\x00" + s(b"\xff")), id="connect-client-id-invalid-utf8"
        ),
        pytest.param(packet(0x36, s("t") + b"\x00\x01\x00"), id="publish-qos3"),
        pytest.param(b"\x20\x03\x00\x00\x00", id="connack-from-client"),
        pytest.param(b"\x00\x00", id="type-0"),
        pytest.param(b"\xc0\x01\x00", id="pingreq-trailing"),
        pytest.param(packet(0x30, b"\x00\x09ab"), id="truncated-topic"),
    ],
)
def test_v5_malformed(data):
    with pytest.raises(MalformedPacket):
        v5.decode(data)


# MQTT 5: claimd's decoder reads what mqtt5 (an independent encoder) writes ------------------------------
props = st.lists(st.tuples(text, text), max_size=3)


@given(
    client_id=text,
    username=st.none() | text,
    password=st.none() | st.binary(max_size=40),
    keep_alive=st.integers(0, 65535),
    clean=st.booleans(),
    max_size=st.none() | st.integers(1, 2**32 - 1),
    user_properties=props,
    will_topic=st.none() | topics,
    will_properties=props,
)
def test_v5_connect_round_trip(
    client_id, username, password, keep_alive, clean, max_size, user_properties, will_topic, will_properties
):
    will = (
        None
        if will_topic is None
        else mqtt5.Will(
            will_topic, payload=b"m", content_type="ct", will_delay_interval=5, user_properties=will_properties
        )
    )
    data = mqtt5.ConnectPacket(
        client_id=client_id,
        username=username,
        password=password,
        keep_alive=keep_alive,
        clean_start=clean,
        max_packet_size=max_size,
        will=will,
        session_expiry_interval=9,
        receive_max=10,
        user_properties=user_properties,
    ).write()
    assert v5.decode(data) == Connect(5, client_id, username, password, keep_alive, clean, max_size)


@given(
    topic=topics,
    payload=st.binary(max_size=300),
    qos=st.sampled_from([0, 1, 2]),
    packet_id=st.integers(1, 65535),
    user_properties=props,
    content_type=st.none() | text,
    response_topic=st.none() | topics,
    correlation=st.none() | st.binary(max_size=20),
    retain=st.booleans(),
)
def test_v5_publish_round_trip(
    topic, payload, qos, packet_id, user_properties, content_type, response_topic, correlation, retain
):
    data = mqtt5.PublishPacket(
        topic,
        payload,
        qos=mqtt5.QoS(qos),
        packet_id=packet_id if qos else None,
        retain=retain,
        payload_format_indicator=1,
        message_expiry_interval=60,
        content_type=content_type,
        response_topic=response_topic,
        correlation_data=correlation,
        user_properties=user_properties,
    ).write()
    assert v5.decode(data) == Publish(topic, payload, qos, packet_id if qos else None, retain=retain)


filters = st.one_of(topics.filter(lambda t: not t.startswith("$")), st.sampled_from(["a/+", "#", "+/b/#"]))


@given(
    packet_id=st.integers(1, 65535),
    filters=st.lists(st.tuples(filters, st.sampled_from([0, 1, 2])), min_size=1, max_size=4),
    user_properties=props,
)
def test_v5_subscribe_round_trip(packet_id, filters, user_properties):
    data = mqtt5.SubscribePacket(
        packet_id,
        [mqtt5.TopicFilter(f, max_qos=mqtt5.QoS(q), no_local=True) for f, q in filters],
        subscription_id=3,
        user_properties=user_properties,
    ).write()
    assert v5.decode(data) == Subscribe(packet_id, filters)
    names = [f for f, _ in filters]
    assert v5.decode(mqtt5.UnsubscribePacket(packet_id, names, user_properties=user_properties).write()) == Unsubscribe(
        packet_id, names
    )


def test_v5_acks_and_disconnect_with_reasons_and_properties():
    assert v5.decode(
        mqtt5.PubAckPacket(
            5, reason_code=mqtt5.PubAckReasonCode(0x10), reason_str="r", user_properties=[("a", "b")]
        ).write()
    ) == PacketId(PUBACK, 5)
    assert v5.decode(mqtt5.PubRecPacket(6, reason_code=mqtt5.PubRecReasonCode(0x80)).write()) == PacketId(PUBREC, 6)
    assert v5.decode(mqtt5.PubCompPacket(7, reason_code=mqtt5.PubCompReasonCode(0x92)).write()) == PacketId(PUBCOMP, 7)
    assert v5.decode(
        mqtt5.DisconnectPacket(
            reason_code=mqtt5.DisconnectReasonCode(0x04), reason_str="bye", session_expiry_interval=0
        ).write()
    ) == Simple(DISCONNECT)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(
            packet(0x10, s("MQTT") + b"\x05\x02\x00\x3c\x02\x21\x00" + s("c")), id="connect-property-truncated"
        ),
        pytest.param(packet(0x10, s("MQTT") + b"\x05\x02\x00\x3c\x03\x21\x00\x00" + s("c")), id="receive-max-0"),
        pytest.param(packet(0x10, s("MQTT") + b"\x05\x02\x00\x3c\x05\x27\x00\x00\x00\x00" + s("c")), id="max-size-0"),
        pytest.param(packet(0x10, s("MQTT") + b"\x05\x02\x00\x3c\x02\x17\x02" + s("c")), id="problem-info-2"),
        pytest.param(
            packet(0x10, s("MQTT") + b"\x05\x02\x00\x3c\x06\x21\x00\x01\x21\x00\x01" + s("c")), id="property-twice"
        ),
        pytest.param(
            packet(0x10, s("MQTT") + b"\x05\x02\x00\x3c\x03\x23\x00\x01" + s("c")), id="topic-alias-in-connect"
        ),
        pytest.param(packet(0x10, s("MQTT") + b"\x05\x02\x00\x3c\x02\x7f\x00" + s("c")), id="unknown-property"),
        pytest.param(
            packet(0x10, s("MQTT") + b"\x05\x02\x00\x3c\xff\xff\xff\xff\x7f" + s("c")), id="property-length-5-bytes"
        ),
        pytest.param(packet(0x32, s("t") + b"\x00\x01\x02\x0b\x01"), id="publish-subscription-id-from-client"),
        pytest.param(packet(0x82, b"\x00\x01\x00" + s("a") + b"\x40"), id="subscribe-reserved-option-bits"),
        pytest.param(packet(0x82, b"\x00\x01\x00" + s("a") + b"\x30"), id="subscribe-retain-handling-3"),
        pytest.param(b"\x40\x03\x00\x01\x05", id="puback-unknown-reason"),
        pytest.param(b"\x40\x05\x00\x01\x00\x00\x00", id="puback-trailing-bytes"),
        pytest.param(b"\xf0\x00", id="auth"),
    ],
)
def test_v5_protocol_errors(data):
    with pytest.raises(MalformedPacket):
        v5.decode(data)


# MQTT 5 strings (§1.5.4): UTF-8, no U+0000, no surrogates, in every field of every packet ---------------
def _v5_with(field: str) -> list[tuple[str, bytes]]:
    """Valid MQTT 5 packets with the placeholder ``field`` in each of their UTF-8 string fields in turn."""
    Will, F = mqtt5.Will, mqtt5.TopicFilter  # noqa: N806
    makers = {
        "connect-client-id": lambda v: mqtt5.ConnectPacket(client_id=v),
        "connect-username": lambda v: mqtt5.ConnectPacket(client_id="c", username=v, password=b"p"),
        "connect-auth-method": lambda v: mqtt5.ConnectPacket(client_id="c", authentication_method=v),
        "connect-user-property": lambda v: mqtt5.ConnectPacket(client_id="c", user_properties=[("k", v)]),
        "connect-will-topic": lambda v: mqtt5.ConnectPacket(client_id="c", will=Will(v, payload=b"m")),
        "connect-will-content-type": lambda v: mqtt5.ConnectPacket(client_id="c", will=Will("w", content_type=v)),
        "connect-will-user-property": lambda v: mqtt5.ConnectPacket(
            client_id="c", will=Will("w", user_properties=[(v, "x")])
        ),
        "publish-topic": lambda v: mqtt5.PublishPacket(v, b"{}", qos=mqtt5.QoS.AT_LEAST_ONCE, packet_id=1),
        "publish-content-type": lambda v: mqtt5.PublishPacket("t", b"", content_type=v),
        "publish-response-topic": lambda v: mqtt5.PublishPacket("t", b"", response_topic=v),
        "publish-user-property": lambda v: mqtt5.PublishPacket("t", b"", user_properties=[(v, "x")]),
        "subscribe-filter": lambda v: mqtt5.SubscribePacket(1, [F(v)]),
        "subscribe-user-property": lambda v: mqtt5.SubscribePacket(1, [F("a")], user_properties=[("k", v)]),
        "unsubscribe-filter": lambda v: mqtt5.UnsubscribePacket(1, [v]),
        "unsubscribe-user-property": lambda v: mqtt5.UnsubscribePacket(1, ["a"], user_properties=[("k", v)]),
        "puback-reason-string": lambda v: mqtt5.PubAckPacket(1, reason_code=mqtt5.PubAckReasonCode(0x10), reason_str=v),
        "pubrel-user-property": lambda v: mqtt5.PubRelPacket(1, user_properties=[("k", v)]),
        "disconnect-reason-string": lambda v: mqtt5.DisconnectPacket(reason_str=v),
        "disconnect-server-reference": lambda v: mqtt5.DisconnectPacket(server_reference=v),
    }
    return [(name, make(field).write()) for name, make in makers.items()]


BAD_STRINGS = [
    (b"\xff\xfe\xfd", "not-utf8"),
    (b"\xed\xa0\x80", "surrogate"),
    (b"a\x00b", "nul"),
    (b"\xc0\xaf\x41", "overlong"),
]


V5_STRING_FIELDS = _v5_with("Zzz")


@pytest.mark.parametrize(("name", "valid"), V5_STRING_FIELDS, ids=[n for n, _ in V5_STRING_FIELDS])
@pytest.mark.parametrize(("bad", "what"), BAD_STRINGS, ids=[w for _, w in BAD_STRINGS])
def test_v5_bad_strings_are_malformed_without_a_panic(capfd, name, valid, bad, what):
    """A bad string in any field is a MalformedPacket; the decoder must not panic (mqtt5 0.8 panics in Rust
    on invalid UTF-8 in every packet type, printing a backtrace to stderr for each packet)."""
    v5.decode(valid)  # the packet with a good string in the field decodes
    assert valid.count(b"Zzz") == 1
    with pytest.raises(MalformedPacket):
        v5.decode(valid.replace(b"Zzz", bad))
    assert "panicked" not in capfd.readouterr().err


# fuzzing: only MalformedPacket, never anything else --------------------------------------------------------
def _cut_and_decode(data: bytes, version: int) -> None:
    """Feed ``data`` as a byte stream: cut packets with next_packet and decode each one as the server
    does. Anything but MalformedPacket (or an incomplete tail) is a failure."""
    buffer = bytearray(data)
    try:
        while buffer:
            bounds = next_packet(buffer, MAX)
            if bounds is None:
                return
            start, end = bounds
            raw = bytes(buffer[:end])
            del buffer[:end]
            if raw[0] >> 4 == CONNECT:
                connect_protocol_level(raw)
            if version == 5:
                v5.decode(raw)
            else:
                v311.decode(raw, start)
    except MalformedPacket:
        return
    except BaseException as exc:  # pyo3 panics are BaseExceptions: report them as failures, not crashes
        raise AssertionError(f"{type(exc).__module__}.{type(exc).__name__}: {exc} for {data!r}") from None


SEEDS = [
    v311.encode_connect("client", "token", b"pw"),
    v311.encode_connect("", "token", keep_alive=0),
    packet(0x10, GOOD_CONNECT_HEAD + b"\xc6\x00\x3c" + s("c") + s("w/t") + s("m") + s("u") + s("p")),
    v311.encode_publish("v1/devices/me/claim", b'{"secretKey":"v","durationMs":1}', 1, 1),
    v311.encode_publish("t", b"x", 2, 2),
    packet(0x82, b"\x00\x05" + s("a/+") + b"\x01" + s("#") + b"\x00"),
    packet(0xA2, b"\x00\x06" + s("a/+")),
    b"\x62\x02\x00\x01",
    b"\xc0\x00",
    b"\xe0\x00",
    mqtt5.ConnectPacket(
        client_id="c", username="tok", password=b"pw", keep_alive=60, max_packet_size=1000, user_properties=[("k", "v")]
    ).write(),
    mqtt5.PublishPacket(
        "v1/devices/me/claim",
        b"{}",
        qos=mqtt5.QoS.AT_LEAST_ONCE,
        packet_id=3,
        content_type="application/json",
        user_properties=[("a", "b")],
    ).write(),
    mqtt5.SubscribePacket(7, [mqtt5.TopicFilter("a/+")]).write(),
    mqtt5.UnsubscribePacket(8, ["a/+"]).write(),
    mqtt5.PubAckPacket(9, reason_code=mqtt5.PubAckReasonCode(0x10)).write(),
    mqtt5.DisconnectPacket(reason_code=mqtt5.DisconnectReasonCode(0x04)).write(),
    mqtt5.ConnectPacket(
        client_id="c",
        will=mqtt5.Will("w/t", payload=b"m", content_type="ct", user_properties=[("a", "b")]),
        authentication_method="m",
        authentication_data=b"d",
    ).write(),
    mqtt5.PubRelPacket(9, reason_code=mqtt5.PubRelReasonCode(0x92), reason_str="r").write(),
    mqtt5.AuthPacket(authentication_method="m").write(),
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid packet (or two) with a few bytes replaced, inserted, deleted or truncated."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    if draw(st.booleans()):
        data += draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.integers(0, 3))
        pos = draw(st.integers(0, len(data)))
        if op == 0 and pos < len(data):
            data[pos] = draw(st.integers(0, 255))
        elif op == 1:
            data[pos:pos] = draw(st.binary(min_size=1, max_size=3))
        elif op == 2 and pos < len(data):
            del data[pos]
        elif op == 3 and pos:
            del data[pos:]
    return bytes(data)


FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)


@FUZZ
@given(st.binary(max_size=200))
def test_fuzz_v311_arbitrary_bytes(data):
    _cut_and_decode(data, 4)


@FUZZ
@given(mutated())
def test_fuzz_v311_mutated_packets(data):
    _cut_and_decode(data, 4)


@FUZZ
@given(st.binary(max_size=200))
def test_fuzz_v5_arbitrary_bytes(data):
    _cut_and_decode(data, 5)


@FUZZ
@given(mutated())
def test_fuzz_v5_mutated_packets(data):
    _cut_and_decode(data, 5)


@FUZZ
@given(st.binary(min_size=1, max_size=200))
def test_fuzz_connect_header(data):
    """Arbitrary bodies behind a CONNECT fixed header: level reading and both decoders."""
    raw = b"\x10" + encode_length(len(data)) + data
    for version in (4, 5):
        _cut_and_decode(raw, version)
