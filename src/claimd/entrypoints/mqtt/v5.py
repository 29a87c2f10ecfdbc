"""MQTT 5 through the maintained sans-I/O codec ``mqtt5``, translated to claimd's packet types."""

from __future__ import annotations

import mqtt5

from claimd.entrypoints.mqtt.packets import (
    DISCONNECT,
    PINGREQ,
    PUBACK,
    PUBCOMP,
    PUBREC,
    PUBREL,
    Connect,
    MalformedPacket,
    Packet,
    PacketId,
    Publish,
    Simple,
    Subscribe,
    Unsubscribe,
)

_ACKS = {mqtt5.PubAckPacket: PUBACK, mqtt5.PubRecPacket: PUBREC, mqtt5.PubRelPacket: PUBREL, mqtt5.PubCompPacket: PUBCOMP}


def decode(packet: bytes | memoryview) -> Packet:
    try:
        decoded, _ = mqtt5.read(memoryview(packet))
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - mqtt5 0.8 panics (a BaseException) on invalid UTF-8
        raise MalformedPacket(f"{type(exc).__name__}: {exc}") from exc
    if isinstance(decoded, mqtt5.PublishPacket):
        if decoded.topic_alias:
            raise MalformedPacket("topic aliases are not accepted (Topic Alias Maximum is 0)")
        if not decoded.topic or "+" in decoded.topic or "#" in decoded.topic:
            raise MalformedPacket("PUBLISH topic is empty or has a wildcard")
        return Publish(decoded.topic, bytes(decoded.payload or b""), int(decoded.qos),
                       decoded.packet_id if int(decoded.qos) else None, bool(decoded.duplicate), bool(decoded.retain))
    if isinstance(decoded, mqtt5.ConnectPacket):
        password = decoded.password
        return Connect(5, decoded.client_id or "", decoded.username,
                       password.encode() if isinstance(password, str) else password,
                       decoded.keep_alive, bool(decoded.clean_start), decoded.max_packet_size)
    if isinstance(decoded, mqtt5.SubscribePacket):
        return Subscribe(decoded.packet_id, [(f.pattern, int(f.max_qos)) for f in decoded.topic_filters])
    if isinstance(decoded, mqtt5.UnsubscribePacket):
        return Unsubscribe(decoded.packet_id, list(decoded.patterns))
    kind = _ACKS.get(type(decoded))
    if kind is not None:
        return PacketId(kind, decoded.packet_id)
    if isinstance(decoded, mqtt5.PingReqPacket):
        return Simple(PINGREQ)
    if isinstance(decoded, mqtt5.DisconnectPacket):
        return Simple(DISCONNECT)
    raise MalformedPacket(f"{type(decoded).__name__} is not sent by clients")


def connack(reason: int, assigned_client_id: str | None = None, max_packet_size: int | None = None,
            receive_max: int | None = None) -> bytes:
    properties = {"assigned_client_id": assigned_client_id, "max_packet_size": max_packet_size,
                  "receive_max": receive_max}
    return mqtt5.ConnAckPacket(reason_code=mqtt5.ConnAckReasonCode(reason), topic_alias_max=0, retain_available=False,
                               wildcard_subscription_available=True,
                               **{k: v for k, v in properties.items() if v is not None}).write()


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
    return mqtt5.UnsubAckPacket(packet_id=packet_id,
                                reason_codes=[mqtt5.UnsubAckReasonCode.SUCCESS] * count).write()


PINGRESP_BYTES = mqtt5.PingRespPacket().write()


def publish(topic: str, payload: bytes) -> bytes:
    return mqtt5.PublishPacket(topic=topic, payload=payload, qos=mqtt5.QoS.AT_MOST_ONCE).write()


def disconnect(reason: int) -> bytes:
    return mqtt5.DisconnectPacket(reason_code=mqtt5.DisconnectReasonCode(reason)).write()
