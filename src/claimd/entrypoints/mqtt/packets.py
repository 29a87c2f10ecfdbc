"""MQTT packets as the session sees them, whichever protocol version carried them."""

from __future__ import annotations

from dataclasses import dataclass, field

CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, AUTH = 8, 9, 10, 11, 12, 13, 14, 15

MQTT_311, MQTT_5 = 4, 5


class MalformedPacket(ValueError):
    """The bytes are not a valid MQTT packet: the connection is closed."""


class PacketTooLarge(MalformedPacket):
    pass


@dataclass(slots=True)
class Connect:
    protocol_level: int
    client_id: str
    username: str | None
    password: bytes | None
    keep_alive: int
    clean_start: bool
    max_packet_size: int | None = None  # MQTT 5: the most the client accepts


@dataclass(slots=True)
class Publish:
    topic: str
    payload: bytes
    qos: int
    packet_id: int | None
    dup: bool = False
    retain: bool = False


@dataclass(slots=True)
class Subscribe:
    packet_id: int
    filters: list[tuple[str, int]] = field(default_factory=list)  # (topic filter, requested QoS)


@dataclass(slots=True)
class Unsubscribe:
    packet_id: int
    filters: list[str] = field(default_factory=list)


@dataclass(slots=True)
class PacketId:
    """PUBACK, PUBREC, PUBREL or PUBCOMP from the client."""

    kind: int
    packet_id: int


@dataclass(slots=True)
class Simple:
    """PINGREQ or DISCONNECT."""

    kind: int


Packet = Connect | Publish | Subscribe | Unsubscribe | PacketId | Simple
