"""MQTT 3.1.1 (and 3.1) packets, decoded and encoded here: no maintained sans-I/O codec exists for
3.1.1 (``mqtt5`` refuses it). Fuzzed by ``tests/unit/test_mqtt_codec.py``."""

from __future__ import annotations

import struct

from claimd.entrypoints.mqtt.fields import Reader
from claimd.entrypoints.mqtt.framing import encode_length
from claimd.entrypoints.mqtt.packets import (
    CONNACK,
    CONNECT,
    DISCONNECT,
    PINGREQ,
    PINGRESP,
    PUBACK,
    PUBCOMP,
    PUBLISH,
    PUBREC,
    PUBREL,
    SUBACK,
    SUBSCRIBE,
    UNSUBACK,
    UNSUBSCRIBE,
    Connect,
    MalformedPacket,
    Packet,
    PacketId,
    Publish,
    Simple,
    Subscribe,
    Unsubscribe,
)

# CONNACK return codes
ACCEPTED, UNACCEPTABLE_PROTOCOL, IDENTIFIER_REJECTED, SERVER_UNAVAILABLE, BAD_CREDENTIALS, NOT_AUTHORIZED = range(6)
SUBACK_FAILURE = 0x80


def _packet_id(r: Reader) -> int:
    pid = r.u16()
    if pid == 0:
        raise MalformedPacket("packet identifier 0")
    return pid


def decode(packet: bytes | memoryview, body_start: int) -> Packet:
    """Decode one whole packet; ``body_start`` is where its variable header begins."""
    kind, flags = packet[0] >> 4, packet[0] & 0x0F
    r = Reader(packet, body_start)
    if kind == CONNECT:
        return _connect(r, flags)
    if kind == PUBLISH:
        qos = (flags >> 1) & 0x03
        if qos == 3:
            raise MalformedPacket("PUBLISH with QoS 3")
        if qos == 0 and flags & 0x08:
            raise MalformedPacket("PUBLISH with QoS 0 and DUP set")  # MQTT-3.3.1-2
        topic = r.string()
        if not topic or "+" in topic or "#" in topic:
            raise MalformedPacket("PUBLISH topic is empty or has a wildcard")
        pid = _packet_id(r) if qos else None
        return Publish(topic, r.rest(), qos, pid, dup=bool(flags & 0x08), retain=bool(flags & 0x01))
    if kind in (PUBACK, PUBREC, PUBREL, PUBCOMP):
        if flags != (0x02 if kind == PUBREL else 0):
            raise MalformedPacket("reserved flags set")
        pid = _packet_id(r)
        if not r.done():
            raise MalformedPacket("trailing bytes")
        return PacketId(kind, pid)
    if kind in (SUBSCRIBE, UNSUBSCRIBE):
        if flags != 0x02:
            raise MalformedPacket("reserved flags set")
        pid = _packet_id(r)
        if kind == SUBSCRIBE:
            subscribe = Subscribe(pid)
            while not r.done():
                topic_filter, options = r.string(), r.u8()
                if options > 2:
                    raise MalformedPacket("bad requested QoS")
                subscribe.filters.append((topic_filter, options))
            if not subscribe.filters:
                raise MalformedPacket("SUBSCRIBE without topic filters")
            return subscribe
        unsubscribe = Unsubscribe(pid)
        while not r.done():
            unsubscribe.filters.append(r.string())
        if not unsubscribe.filters:
            raise MalformedPacket("UNSUBSCRIBE without topic filters")
        return unsubscribe
    if kind in (PINGREQ, DISCONNECT):
        if flags or not r.done():
            raise MalformedPacket("malformed PINGREQ or DISCONNECT")
        return Simple(kind)
    raise MalformedPacket(f"packet type {kind} is not sent by clients")


def _connect(r: Reader, flags: int) -> Connect:
    if flags:
        raise MalformedPacket("reserved flags set")
    r.string()  # protocol name, checked by framing.connect_protocol_level
    level, connect_flags, keep_alive = r.u8(), r.u8(), r.u16()
    if connect_flags & 0x01:
        raise MalformedPacket("reserved CONNECT flag set")
    client_id = r.string()
    if (connect_flags >> 3) & 0x03 == 3:
        raise MalformedPacket("will QoS 3")  # MQTT-3.1.2-14
    if connect_flags & 0x40 and not connect_flags & 0x80:
        raise MalformedPacket("password without a user name")  # MQTT-3.1.2-22
    if connect_flags & 0x04:  # will flag: topic and message, ignored (claimd publishes nothing on behalf of devices)
        r.string()
        r.binary()
    elif connect_flags & 0x38:
        raise MalformedPacket("will QoS or retain without a will")
    username = r.string() if connect_flags & 0x80 else None
    password = r.binary() if connect_flags & 0x40 else None
    if not r.done():
        raise MalformedPacket("trailing bytes in CONNECT")
    return Connect(level, client_id, username, password, keep_alive, clean_start=bool(connect_flags & 0x02))


def _fixed(kind_flags: int, body: bytes) -> bytes:
    return bytes((kind_flags,)) + encode_length(len(body)) + body


def connack(return_code: int, session_present: bool = False) -> bytes:
    return bytes((CONNACK << 4, 2, 1 if session_present else 0, return_code))


def ack(kind: int, packet_id: int) -> bytes:
    """PUBACK, PUBREC, PUBREL (flags 0010) or PUBCOMP."""
    return bytes(((kind << 4) | (0x02 if kind == PUBREL else 0), 2)) + struct.pack(">H", packet_id)


def suback(packet_id: int, codes: list[int]) -> bytes:
    return _fixed(SUBACK << 4, struct.pack(">H", packet_id) + bytes(codes))


def unsuback(packet_id: int) -> bytes:
    return bytes((UNSUBACK << 4, 2)) + struct.pack(">H", packet_id)


PINGRESP_BYTES = bytes((PINGRESP << 4, 0))


def publish(topic: str, payload: bytes) -> bytes:
    """A QoS 0 PUBLISH (claimd sends only RPC answers, at QoS 0)."""
    encoded = topic.encode()
    return _fixed(PUBLISH << 4, struct.pack(">H", len(encoded)) + encoded + payload)


def encode_connect(
    client_id: str,
    username: str | None = None,
    password: bytes | None = None,
    keep_alive: int = 60,
    clean: bool = True,
    level: int = 4,
) -> bytes:
    """A client's CONNECT: for tests and benchmarks."""
    flags = (0x02 if clean else 0) | (0x80 if username is not None else 0) | (0x40 if password is not None else 0)
    name = b"MQTT" if level == 4 else b"MQIsdp"
    body = struct.pack(">H", len(name)) + name + bytes((level, flags)) + struct.pack(">H", keep_alive)
    for item in (client_id.encode(), username.encode() if username is not None else None, password):
        if item is not None:
            body += struct.pack(">H", len(item)) + item
    return _fixed(CONNECT << 4, body)


def encode_publish(topic: str, payload: bytes, qos: int, packet_id: int | None = None) -> bytes:
    """A client's PUBLISH: for tests and benchmarks."""
    encoded = topic.encode()
    body = struct.pack(">H", len(encoded)) + encoded + (struct.pack(">H", packet_id) if qos else b"") + payload
    return _fixed((PUBLISH << 4) | (qos << 1), body)
