"""MQTT's fixed header, the same in 3.1.1 and 5: cut whole packets off a byte stream."""

from __future__ import annotations

from claimd.entrypoints.mqtt.packets import CONNECT, MQTT_5, MQTT_311, MalformedPacket, PacketTooLarge


def encode_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def next_packet(buffer: bytearray | bytes, max_size: int) -> tuple[int, int] | None:
    """(start of the variable header, end of the packet) of the first packet in ``buffer``, or None
    while it is incomplete. Raises MalformedPacket for a bad length, PacketTooLarge past ``max_size``."""
    multiplier, length, index = 1, 0, 1
    while True:
        if index >= len(buffer):
            return None
        byte = buffer[index]
        length += (byte & 0x7F) * multiplier
        index += 1
        if not byte & 0x80:
            break
        multiplier *= 128
        if index > 4:
            raise MalformedPacket("remaining length longer than 4 bytes")
    if index + length > max_size:
        raise PacketTooLarge(f"packet of {index + length} bytes exceeds the maximum of {max_size}")
    end = index + length
    return (index, end) if len(buffer) >= end else None


def connect_protocol_level(packet: bytes) -> int:
    """The protocol level of a CONNECT packet (3 for 3.1, 4 for 3.1.1, 5 for 5), read before decoding."""
    if packet[0] >> 4 != CONNECT:
        raise MalformedPacket("the first packet must be CONNECT")
    header_end = 1
    while packet[header_end] & 0x80:
        header_end += 1
    body = packet[header_end + 1 :]
    if len(body) < 2:
        raise MalformedPacket("CONNECT too short")
    name_len = int.from_bytes(body[0:2], "big")
    if len(body) < 3 + name_len:
        raise MalformedPacket("CONNECT too short")
    name, level = bytes(body[2 : 2 + name_len]), body[2 + name_len]
    if (name, level) in ((b"MQTT", MQTT_311), (b"MQTT", MQTT_5), (b"MQIsdp", 3)):
        return level
    if name in (b"MQTT", b"MQIsdp"):
        return level  # a known protocol name with a level claimd does not speak: refused at CONNACK
    raise MalformedPacket(f"unknown protocol name {name!r}")
