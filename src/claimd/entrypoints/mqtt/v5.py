"""MQTT 5: client packets decoded here, server packets encoded by the sans-I/O codec ``mqtt5``.

claimd reads client packets itself, as it does for 3.1.1 (``v311``), because ``mqtt5`` 0.8 panics in
Rust on invalid UTF-8 in any string of any packet type (a ``PanicException``, with a backtrace printed
to stderr for each packet) and accepts U+0000, which MQTT 5 §1.5.4 forbids; both were found by fuzzing
(``tests/unit/test_mqtt_codec.py``). What claimd writes comes from its own valid values, so ``mqtt5``
still encodes it. Every check here raises :class:`MalformedPacket`: the server answers CONNACK 0x81
before a session exists, DISCONNECT 0x81 after.
"""

from __future__ import annotations

import mqtt5

from claimd.entrypoints.mqtt.fields import Reader
from claimd.entrypoints.mqtt.packets import (
    AUTH,
    CONNECT,
    DISCONNECT,
    PINGREQ,
    PUBACK,
    PUBCOMP,
    PUBLISH,
    PUBREC,
    PUBREL,
    SUBSCRIBE,
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

_BYTE, _U16, _U32, _VARINT, _STRING, _BINARY, _PAIR = range(7)
_WILL = 0  # the will properties of a CONNECT: not a packet type, so 0 names them here
_ACK = PUBACK  # PUBACK, PUBREC, PUBREL and PUBCOMP take the same properties

#: property identifier → (type, the client packets that may carry it) — MQTT 5 §2.2.2.2, table 2-4
_PROPERTIES: dict[int, tuple[int, frozenset[int]]] = {
    0x01: (_BYTE, frozenset({PUBLISH, _WILL})),  # payload format indicator
    0x02: (_U32, frozenset({PUBLISH, _WILL})),  # message expiry interval
    0x03: (_STRING, frozenset({PUBLISH, _WILL})),  # content type
    0x08: (_STRING, frozenset({PUBLISH, _WILL})),  # response topic
    0x09: (_BINARY, frozenset({PUBLISH, _WILL})),  # correlation data
    0x0B: (_VARINT, frozenset({SUBSCRIBE})),  # subscription identifier (never from a client's PUBLISH)
    0x11: (_U32, frozenset({CONNECT, DISCONNECT})),  # session expiry interval
    0x15: (_STRING, frozenset({CONNECT, AUTH})),  # authentication method
    0x16: (_BINARY, frozenset({CONNECT, AUTH})),  # authentication data
    0x17: (_BYTE, frozenset({CONNECT})),  # request problem information
    0x18: (_U32, frozenset({_WILL})),  # will delay interval
    0x19: (_BYTE, frozenset({CONNECT})),  # request response information
    0x1C: (_STRING, frozenset({DISCONNECT})),  # server reference
    0x1F: (_STRING, frozenset({_ACK, DISCONNECT, AUTH})),  # reason string
    0x21: (_U16, frozenset({CONNECT})),  # receive maximum
    0x22: (_U16, frozenset({CONNECT})),  # topic alias maximum
    0x23: (_U16, frozenset({PUBLISH})),  # topic alias
    0x26: (_PAIR, frozenset({CONNECT, _WILL, PUBLISH, _ACK, SUBSCRIBE, UNSUBSCRIBE, DISCONNECT, AUTH})),
    0x27: (_U32, frozenset({CONNECT})),  # maximum packet size
}
_BOOLEANS = frozenset({0x01, 0x17, 0x19})  # 0 or 1 only
_NOT_ZERO = frozenset({0x0B, 0x21, 0x27})  # 0 is a protocol error
_ACK_REASONS = {
    PUBACK: frozenset({0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99}),
    PUBREC: frozenset({0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99}),
    PUBREL: frozenset({0x00, 0x92}),
    PUBCOMP: frozenset({0x00, 0x92}),
}


def _properties(r: Reader, where: int) -> dict[int, object]:
    """The property list at ``r``: each value checked; only a User Property may repeat (§2.2.2.2)."""
    length = r.varint()
    r.need(length)
    end = r.pos + length
    found: dict[int, object] = {}
    while r.pos < end:
        ident = r.varint()
        kind, allowed = _PROPERTIES.get(ident, (None, frozenset()))
        if kind is None or where not in allowed:
            raise MalformedPacket(f"property 0x{ident:02x} is not allowed here")
        if ident in found and ident != 0x26:
            raise MalformedPacket(f"property 0x{ident:02x} appears twice")
        value: object
        if kind == _BYTE:
            value = r.u8()
        elif kind == _U16:
            value = r.u16()
        elif kind == _U32:
            value = r.u32()
        elif kind == _VARINT:
            value = r.varint()
        elif kind == _STRING:
            value = r.string()
        elif kind == _BINARY:
            value = r.binary()
        else:
            value = (r.string(), r.string())
        if (ident in _BOOLEANS and value not in (0, 1)) or (ident in _NOT_ZERO and value == 0):
            raise MalformedPacket(f"property 0x{ident:02x} has a value MQTT 5 forbids")
        found[ident] = value
    if r.pos != end:
        raise MalformedPacket("a property runs past the property length")
    return found


def _packet_id(r: Reader) -> int:
    pid = r.u16()
    if pid == 0:
        raise MalformedPacket("packet identifier 0")
    return pid


def _body_start(packet: bytes | memoryview) -> int:
    index = 1
    while index < len(packet) and packet[index] & 0x80:
        index += 1
    return index + 1


def decode(packet: bytes | memoryview, body_start: int | None = None) -> Packet:
    """Decode one whole client packet; ``body_start`` is where its variable header begins (found when
    not given)."""
    kind, flags = packet[0] >> 4, packet[0] & 0x0F
    r = Reader(packet, _body_start(packet) if body_start is None else body_start)
    if kind == CONNECT:
        if flags:
            raise MalformedPacket("reserved flags set")
        return _connect(r)
    if kind == PUBLISH:
        return _publish(r, flags)
    if kind in (PUBACK, PUBREC, PUBREL, PUBCOMP):
        if flags != (0x02 if kind == PUBREL else 0):
            raise MalformedPacket("reserved flags set")
        pid = _packet_id(r)
        if not r.done():
            if r.u8() not in _ACK_REASONS[kind]:
                raise MalformedPacket("unknown reason code")
            if not r.done():
                _properties(r, _ACK)
        if not r.done():
            raise MalformedPacket("trailing bytes")
        return PacketId(kind, pid)
    if kind in (SUBSCRIBE, UNSUBSCRIBE):
        if flags != 0x02:
            raise MalformedPacket("reserved flags set")
        return _subscribe(r, kind)
    if kind == PINGREQ:
        if flags or not r.done():
            raise MalformedPacket("malformed PINGREQ")
        return Simple(PINGREQ)
    if kind == DISCONNECT:
        if flags:
            raise MalformedPacket("reserved flags set")
        if not r.done():
            r.u8()  # the client's reason: the connection ends whichever it is
            if not r.done():
                _properties(r, DISCONNECT)
        if not r.done():
            raise MalformedPacket("trailing bytes")
        return Simple(DISCONNECT)
    if kind == AUTH:
        raise MalformedPacket("claimd offers no enhanced authentication (AUTH)")
    raise MalformedPacket(f"packet type {kind} is not sent by clients")


def _connect(r: Reader) -> Connect:
    r.string()  # protocol name, checked by framing.connect_protocol_level
    level, connect_flags, keep_alive = r.u8(), r.u8(), r.u16()
    if connect_flags & 0x01:
        raise MalformedPacket("reserved CONNECT flag set")  # MQTT-3.1.2-3
    properties = _properties(r, CONNECT)
    client_id = r.string()
    if (connect_flags >> 3) & 0x03 == 3:
        raise MalformedPacket("will QoS 3")
    if connect_flags & 0x04:  # will: read and checked, then ignored (claimd publishes nothing for devices)
        _properties(r, _WILL)
        r.string()
        r.binary()
    elif connect_flags & 0x38:
        raise MalformedPacket("will QoS or retain without a will")
    username = r.string() if connect_flags & 0x80 else None
    password = r.binary() if connect_flags & 0x40 else None  # MQTT 5 allows a password without a user name
    if not r.done():
        raise MalformedPacket("trailing bytes in CONNECT")
    max_packet_size = properties.get(0x27)
    return Connect(
        level,
        client_id,
        username,
        password,
        keep_alive,
        bool(connect_flags & 0x02),
        max_packet_size if isinstance(max_packet_size, int) else None,
    )


def _publish(r: Reader, flags: int) -> Publish:
    qos = (flags >> 1) & 0x03
    if qos == 3:
        raise MalformedPacket("PUBLISH with QoS 3")
    if qos == 0 and flags & 0x08:
        raise MalformedPacket("PUBLISH with QoS 0 and DUP set")  # MQTT-3.3.1-2
    topic = r.string()
    pid = _packet_id(r) if qos else None
    if 0x23 in _properties(r, PUBLISH):
        raise MalformedPacket("topic aliases are not accepted (Topic Alias Maximum is 0)")
    if not topic or "+" in topic or "#" in topic:
        raise MalformedPacket("PUBLISH topic is empty or has a wildcard")
    return Publish(topic, r.rest(), qos, pid, dup=bool(flags & 0x08), retain=bool(flags & 0x01))


def _subscribe(r: Reader, kind: int) -> Subscribe | Unsubscribe:
    pid = _packet_id(r)
    _properties(r, kind)
    if kind == UNSUBSCRIBE:
        unsubscribe = Unsubscribe(pid)
        while not r.done():
            unsubscribe.filters.append(r.string())
        if not unsubscribe.filters:
            raise MalformedPacket("UNSUBSCRIBE without topic filters")
        return unsubscribe
    subscribe = Subscribe(pid)
    while not r.done():
        topic_filter, options = r.string(), r.u8()
        if options & 0xC0 or options & 0x03 == 3 or (options >> 4) & 0x03 == 3:
            raise MalformedPacket("bad subscription options")  # MQTT-3.8.3-5, QoS 3, retain handling 3
        subscribe.filters.append((topic_filter, options & 0x03))
    if not subscribe.filters:
        raise MalformedPacket("SUBSCRIBE without topic filters")
    return subscribe


def connack(
    reason: int,
    assigned_client_id: str | None = None,
    max_packet_size: int | None = None,
    receive_max: int | None = None,
) -> bytes:
    # None leaves a property out: mqtt5's defaults are None for the first two, 65535 for Receive Maximum.
    return mqtt5.ConnAckPacket(
        reason_code=mqtt5.ConnAckReasonCode(reason),
        topic_alias_max=0,
        retain_available=False,
        wildcard_subscription_available=True,
        assigned_client_id=assigned_client_id,
        max_packet_size=max_packet_size,
        receive_max=65535 if receive_max is None else receive_max,
    ).write()


def ack(kind: int, packet_id: int, reason: int = 0) -> bytes:
    if kind == PUBACK:
        return mqtt5.PubAckPacket(packet_id=packet_id, reason_code=mqtt5.PubAckReasonCode(reason)).write()
    if kind == PUBREC:
        return mqtt5.PubRecPacket(packet_id=packet_id, reason_code=mqtt5.PubRecReasonCode(reason)).write()
    if kind == PUBREL:
        return mqtt5.PubRelPacket(packet_id=packet_id, reason_code=mqtt5.PubRelReasonCode(reason)).write()
    return mqtt5.PubCompPacket(packet_id=packet_id, reason_code=mqtt5.PubCompReasonCode(reason)).write()


def suback(packet_id: int, codes: list[int]) -> bytes:
    return mqtt5.SubAckPacket(packet_id=packet_id, reason_codes=[mqtt5.SubAckReasonCode(c) for c in codes]).write()


def unsuback(packet_id: int, count: int) -> bytes:
    return mqtt5.UnsubAckPacket(packet_id=packet_id, reason_codes=[mqtt5.UnsubAckReasonCode.SUCCESS] * count).write()


PINGRESP_BYTES = mqtt5.PingRespPacket().write()


def publish(topic: str, payload: bytes) -> bytes:
    return mqtt5.PublishPacket(topic=topic, payload=payload, qos=mqtt5.QoS.AT_MOST_ONCE).write()


def disconnect(reason: int) -> bytes:
    return mqtt5.DisconnectPacket(reason_code=mqtt5.DisconnectReasonCode(reason)).write()
