"""The MQTT device endpoint: one asyncio Protocol per connection, one sweeper for every timeout.

A connection is cheap while idle: no task, an empty buffer, a few slots. Work that needs the
database (CONNECT, PUBLISH) runs in a task created on demand and ended when the queue is empty, so
PUBACKs leave in the order the PUBLISHes came (MQTT 4.6). A client that sends garbage, a half
packet it never finishes, no CONNECT, or more than the session's limits is disconnected; others are
not disturbed.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import secrets
import socket
import ssl
from dataclasses import dataclass
from typing import Any, cast

from claimd.domain.claiming import EmptyGatewayClaim, parse_device_claim, parse_gateway_claim
from claimd.domain.errors import AuthenticationFailed, ClaimdError, InvalidPayload
from claimd.domain.model import Device, Door
from claimd.entrypoints.mqtt import v5, v311
from claimd.entrypoints.mqtt.framing import connect_protocol_level, next_packet
from claimd.entrypoints.mqtt.packets import (
    CONNECT,
    DISCONNECT,
    MQTT_5,
    PINGREQ,
    PUBACK,
    PUBCOMP,
    PUBREC,
    PUBREL,
    Connect,
    MalformedPacket,
    Packet,
    PacketId,
    PacketTooLarge,
    Publish,
    Simple,
    Subscribe,
    Unsubscribe,
)
from claimd.services.claiming import ClaimService, WindowResult
from claimd.services.common import Origin
from claimd.services.devices import DeviceService
from claimd.services.gateways import GatewayClaimOutcome, GatewayService
from claimd.services.ports import Metrics

log = logging.getLogger("claimd.mqtt")

DEVICE_CLAIM_TOPIC = "v1/devices/me/claim"
GATEWAY_CLAIM_TOPIC = "v1/gateway/claim"
GATEWAY_CONNECT_TOPIC = "v1/gateway/connect"
GATEWAY_DISCONNECT_TOPIC = "v1/gateway/disconnect"
RPC_REQUEST_PREFIX = "v1/devices/me/rpc/request/"
RPC_RESPONSE_PREFIX = "v1/devices/me/rpc/response/"
#: Topic filters a ThingsBoard device or gateway subscribes to; others are refused in the SUBACK.
KNOWN_FILTERS = frozenset(
    {
        "v1/devices/me/attributes",
        "v1/devices/me/attributes/response/+",
        "v1/devices/me/rpc/request/+",
        "v1/devices/me/rpc/response/+",
        "v1/gateway/attributes",
        "v1/gateway/attributes/response",
        "v1/gateway/rpc",
        "v2/fw/response/+",
    }
)

# MQTT 5 reason codes used here
SUCCESS, UNSPECIFIED_ERROR, MALFORMED, PROTOCOL_ERROR, IMPLEMENTATION_ERROR = 0x00, 0x80, 0x81, 0x82, 0x83
CLIENT_ID_NOT_VALID, BAD_CREDENTIALS, NOT_AUTHORIZED, SERVER_UNAVAILABLE, SERVER_BUSY = 0x85, 0x86, 0x87, 0x88, 0x89
KEEP_ALIVE_TIMEOUT, TOPIC_FILTER_INVALID, TOPIC_NAME_INVALID, PACKET_TOO_LARGE, PAYLOAD_INVALID = (
    0x8D,
    0x8F,
    0x90,
    0x95,
    0x99,
)
UNSUPPORTED_PROTOCOL = 0x84
#: the errors a refusing MQTT 5 CONNACK can name when the CONNECT itself is at fault (§3.2.2.2)
_CONNACK_ERRORS = frozenset({MALFORMED, PROTOCOL_ERROR, IMPLEMENTATION_ERROR, PACKET_TOO_LARGE})
#: the ``protocol`` label of the MQTT metrics, by CONNECT protocol level
PROTOCOLS = {3: "3.1", 4: "3.1.1", 5: "5.0"}
_V311_CONNACK = {
    BAD_CREDENTIALS: v311.NOT_AUTHORIZED,
    NOT_AUTHORIZED: v311.NOT_AUTHORIZED,
    CLIENT_ID_NOT_VALID: v311.IDENTIFIER_REJECTED,
    SERVER_UNAVAILABLE: v311.SERVER_UNAVAILABLE,
}


@dataclass(frozen=True)
class MqttLimits:
    max_connections: int = 50_000
    max_packet_size: int = 65_536  # also ThingsBoard's default maxPayloadSize
    receive_max: int = 100  # unacknowledged QoS 1/2 PUBLISHes a client may have in flight
    connect_timeout_s: float = 10.0


def refusal_reason(c: Connect) -> int:
    """ThingsBoard's CONNACK reason for an unknown device (reference §1.2)."""
    has_user, has_password = c.username is not None, c.password is not None
    if (has_user and has_password and c.client_id is not None) or (has_user != has_password):
        return BAD_CREDENTIALS
    if c.client_id.strip():
        return CLIENT_ID_NOT_VALID
    return NOT_AUTHORIZED


class MqttSession(asyncio.Protocol):
    __slots__ = (
        "awaiting_release",
        "buffer",
        "client_max",
        "closed",
        "counted",
        "device",
        "keep_alive",
        "last_seen",
        "peer",
        "queue",
        "server",
        "transport",
        "version",
        "worker",
    )

    def __init__(self, server: MqttServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.version = 0  # 0 until CONNECT: then 3, 4 or 5
        self.device: Device | None = None
        self.keep_alive = 0
        self.last_seen = 0.0
        self.queue: collections.deque[Packet] = collections.deque()
        self.worker: asyncio.Task[None] | None = None
        self.awaiting_release: set[int] = set()  # QoS 2 packet ids between PUBREC and PUBREL
        self.peer: str | None = None
        self.closed = False
        self.client_max: int | None = None  # MQTT 5: the largest packet the client accepts
        self.counted = False  # in the metrics' open sessions

    # asyncio.Protocol ------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # a stream server's connections are Transports
        self.last_seen = self.server.loop.time()
        peer = transport.get_extra_info("peername")
        self.peer = peer[0] if peer else None
        if len(self.server.sessions) >= self.server.limits.max_connections:
            log.warning("MQTT connection from %s refused: %d connections open", self.peer, len(self.server.sessions))
            self.transport.abort()
            self.closed = True
            self.server.metrics.mqtt_connection("none", "over_limit")
            return
        self.server.sessions.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.server.sessions.discard(self)
        if self.counted:
            self.counted = False
            self.server.metrics.mqtt_session(-1)
        if self.worker is not None:
            self.worker.cancel()
        self.buffer = bytearray()
        self.queue.clear()

    def pause_writing(self) -> None:  # a client that does not read its answers stops being read
        if self.transport:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport and not self.closed:
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        self.last_seen = self.server.loop.time()
        self.buffer += data
        limit = self.server.limits.max_packet_size
        try:
            while self.buffer:
                bounds = next_packet(self.buffer, limit)
                if bounds is None:
                    return
                body_start, end = bounds
                raw = bytes(self.buffer[:end])
                del self.buffer[:end]
                self._received(self._decode(raw, body_start))
                if self.closed:
                    return
        except PacketTooLarge as exc:
            self._protocol_violation(PACKET_TOO_LARGE, str(exc))
        except MalformedPacket as exc:
            self._protocol_violation(MALFORMED, str(exc))

    # decoding and dispatch -------------------------------------------------------------------
    def _decode(self, raw: bytes, body_start: int) -> Packet:
        if self.version == 0:
            if raw[0] >> 4 != CONNECT:
                raise MalformedPacket("the first packet must be CONNECT")
            self.version = connect_protocol_level(raw)
            if self.version not in (3, 4, 5):
                # MQTT-3.1.2-2: CONNACK 0x01 (unacceptable protocol level), in the 3.1.1 form every level reads
                self._send(v311.connack(v311.UNACCEPTABLE_PROTOCOL))
                self.server.metrics.mqtt_connection("other", "unsupported_protocol")
                raise MalformedPacket(f"unsupported protocol level {self.version}")
        elif raw[0] >> 4 == CONNECT:
            raise MalformedPacket("a second CONNECT")
        return v5.decode(raw, body_start) if self.version == MQTT_5 else v311.decode(raw, body_start)

    def _received(self, packet: Packet) -> None:
        if isinstance(packet, Connect | Publish) or self.queue or self.worker is not None:
            self.queue.append(packet)
            if self.worker is None:
                self.worker = self.server.loop.create_task(self._drain())
            if len(self.queue) > self.server.limits.receive_max and self.transport:
                self.transport.pause_reading()
        else:
            self._handle_now(packet)

    async def _drain(self) -> None:
        try:
            while self.queue and not self.closed:
                packet = self.queue.popleft()
                if isinstance(packet, Connect):
                    await self._connect(packet)
                elif isinstance(packet, Publish):
                    await self._publish(packet)
                else:
                    self._handle_now(packet)
                if len(self.queue) <= self.server.limits.receive_max // 2 and self.transport and not self.closed:
                    self.transport.resume_reading()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("MQTT session from %s failed", self.peer)
            self.close(IMPLEMENTATION_ERROR)
        finally:
            self.worker = None

    def _handle_now(self, packet: Packet) -> None:
        if self.device is None:
            self._protocol_violation(PROTOCOL_ERROR, "packet before a successful CONNECT")
            return
        if isinstance(packet, Simple):
            if packet.kind == PINGREQ:
                self._send(v5.PINGRESP_BYTES if self.version == MQTT_5 else v311.PINGRESP_BYTES)
            elif packet.kind == DISCONNECT:
                self.close()
        elif isinstance(packet, Subscribe):
            granted = [
                min(qos, 1)
                if topic in KNOWN_FILTERS
                else (TOPIC_FILTER_INVALID if self.version == MQTT_5 else v311.SUBACK_FAILURE)
                for topic, qos in packet.filters
            ]
            self._send(
                v5.suback(packet.packet_id, granted)
                if self.version == MQTT_5
                else v311.suback(packet.packet_id, granted)
            )
        elif isinstance(packet, Unsubscribe):
            self._send(
                v5.unsuback(packet.packet_id, len(packet.filters))
                if self.version == MQTT_5
                else v311.unsuback(packet.packet_id)
            )
        elif isinstance(packet, PacketId) and packet.kind == PUBREL:
            self.awaiting_release.discard(packet.packet_id)
            self._send(self._ack(PUBCOMP, packet.packet_id, SUCCESS))
        # PUBACK/PUBREC/PUBCOMP from the client: claimd publishes at QoS 0 only, nothing to track.

    # CONNECT ---------------------------------------------------------------------------------
    async def _connect(self, c: Connect) -> None:
        self.keep_alive = c.keep_alive
        assigned = None
        if not c.client_id:
            if self.version != MQTT_5 and not c.clean_start:
                self._refuse(CLIENT_ID_NOT_VALID)  # MQTT-3.1.3-8: an empty id needs a clean session
                return
            assigned = "claimd-" + secrets.token_hex(8)
        if not c.username:
            self._refuse(refusal_reason(c))
            return
        try:
            self.device = await self.server.devices.by_access_token(c.username)
        except AuthenticationFailed:
            self._refuse(refusal_reason(c))
            return
        except Exception:
            log.exception("MQTT CONNECT: device lookup failed")
            self._refuse(SERVER_UNAVAILABLE)
            return
        if self.version == MQTT_5:
            self._send(
                v5.connack(SUCCESS, assigned, self.server.limits.max_packet_size, self.server.limits.receive_max)
            )
            self.client_max = c.max_packet_size  # from now on: the CONNACK itself goes whatever its size
        else:
            self._send(v311.connack(v311.ACCEPTED))
        self.server.metrics.mqtt_connection(PROTOCOLS[self.version], "accepted")
        if not self.closed:  # the client may have gone while its device was looked up
            self.counted = True
            self.server.metrics.mqtt_session(1)

    def _refuse(self, reason: int) -> None:
        self.server.metrics.mqtt_connection(
            PROTOCOLS[self.version], "error" if reason == SERVER_UNAVAILABLE else "refused"
        )
        if self.version == MQTT_5:
            self._send(v5.connack(reason))
        else:
            self._send(v311.connack(_V311_CONNACK.get(reason, v311.NOT_AUTHORIZED)))
        self.close()

    # PUBLISH ---------------------------------------------------------------------------------
    async def _publish(self, p: Publish) -> None:
        if self.device is None:
            self._protocol_violation(PROTOCOL_ERROR, "PUBLISH before a successful CONNECT")
            return
        if p.qos == 2 and p.packet_id in self.awaiting_release:
            self._send(self._ack(PUBREC, p.packet_id, SUCCESS))  # a resent QoS 2 message: not processed twice
            return
        reason, close = await self._route(p)
        if close and self.version != MQTT_5:
            self.close()  # MQTT 3.1.1 cannot tell the reason: ThingsBoard closes the connection
            return
        if p.qos == 1:
            self._send(self._ack(PUBACK, p.packet_id, reason))  # type: ignore[arg-type]
        elif p.qos == 2:
            if reason < 0x80:
                self.awaiting_release.add(p.packet_id)  # type: ignore[arg-type]
            self._send(self._ack(PUBREC, p.packet_id, reason))  # type: ignore[arg-type]
        if close:
            self.close()

    async def _route(self, p: Publish) -> tuple[int, bool]:
        """(reason code, close the connection afterwards) for one PUBLISH."""
        device = self.device
        assert device is not None
        origin = Origin(Door.MQTT, self.peer)
        try:
            if p.topic == DEVICE_CLAIM_TOPIC:
                result = await self.server.claims.open_window(device, parse_device_claim(p.payload), origin)
                return (SUCCESS if result in (WindowResult.OPENED, WindowResult.KEPT) else NOT_AUTHORIZED), False
            if p.topic.startswith(RPC_REQUEST_PREFIX):
                self._answer_rpc(p.topic[len(RPC_REQUEST_PREFIX) :], p.payload)
                return SUCCESS, False
            if p.topic in (GATEWAY_CLAIM_TOPIC, GATEWAY_CONNECT_TOPIC, GATEWAY_DISCONNECT_TOPIC):
                return await self._gateway(p)
        except EmptyGatewayClaim:
            return IMPLEMENTATION_ERROR, True
        except InvalidPayload:
            # MQTT 5 says why in the PUBACK and keeps the session; 3.1.1 cannot, so it is closed.
            return PAYLOAD_INVALID, self.version != MQTT_5
        return TOPIC_NAME_INVALID, False

    async def _gateway(self, p: Publish) -> tuple[int, bool]:
        device = self.device
        assert device is not None
        if not device.is_gateway:
            return NOT_AUTHORIZED, False
        origin = Origin(Door.MQTT_GATEWAY, self.peer)
        if p.topic == GATEWAY_CLAIM_TOPIC:
            outcome = await self.server.gateways.claim(device, parse_gateway_claim(p.payload), origin)
            return {
                GatewayClaimOutcome.ACCEPTED: SUCCESS,
                GatewayClaimOutcome.REFUSED: NOT_AUTHORIZED,
                GatewayClaimOutcome.DEVICE_FAILED: UNSPECIFIED_ERROR,
            }[outcome], False
        if p.topic == GATEWAY_CONNECT_TOPIC:
            try:
                message = json.loads(p.payload)
                name = message["device"]
            except (ValueError, TypeError, KeyError, RecursionError):
                return PAYLOAD_INVALID, self.version != MQTT_5
            if not isinstance(name, str):
                return PAYLOAD_INVALID, self.version != MQTT_5
            try:
                await self.server.gateways.connect_child(device, name)
            except ClaimdError:
                return UNSPECIFIED_ERROR, False
        return SUCCESS, False

    def _answer_rpc(self, request_id: str, payload: bytes) -> None:
        try:
            method = json.loads(payload).get("method")
        except (ValueError, AttributeError, RecursionError):
            method = None
        if method == "getSessionLimits":
            limits = self.server.limits
            rate = {"messages": None, "telemetryMessages": None, "telemetryDataPoints": None}
            answer: dict[str, Any] = {
                "maxPayloadSize": limits.max_packet_size,
                "maxInflightMessages": limits.receive_max,
                "rateLimits": rate,
            }
            if self.device is not None and self.device.is_gateway:
                answer["gatewayRateLimits"] = dict(rate)
        else:
            answer = {"error": f"claimd answers only getSessionLimits, not {method!r}"}
        body = json.dumps(answer, separators=(",", ":")).encode()
        topic = RPC_RESPONSE_PREFIX + request_id
        self._send(v5.publish(topic, body) if self.version == MQTT_5 else v311.publish(topic, body))

    # output and closing ----------------------------------------------------------------------
    def _ack(self, kind: int, packet_id: int, reason: int) -> bytes:
        return v5.ack(kind, packet_id, reason) if self.version == MQTT_5 else v311.ack(kind, packet_id)

    def _send(self, data: bytes) -> None:
        """Write ``data``, unless it is larger than the client's Maximum Packet Size: then it is dropped
        (MQTT-3.1.2-24/25; only an RPC answer or a long SUBACK can be that large)."""
        if self.client_max is not None and len(data) > self.client_max:
            log.info(
                "MQTT client %s: a %d-byte packet over its maximum of %d dropped", self.peer, len(data), self.client_max
            )
            return
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def _protocol_violation(self, reason: int, detail: str) -> None:
        log.info("MQTT client %s disconnected: %s", self.peer, detail)
        self.close(reason)

    def close(self, reason: int | None = None) -> None:
        """Disconnect; on MQTT 5 with a reason, a DISCONNECT packet says why, or, while the CONNECT is
        being read (no CONNACK sent yet), a refusing CONNACK (MQTT 5 §3.1.4: 0x81 for a malformed
        CONNECT). MQTT 3.1.1 has no code for these: the connection is just closed (§4.8)."""
        if self.closed or self.transport is None:
            return
        if reason is not None and self.version == MQTT_5 and self.device is not None:
            self.transport.write(v5.disconnect(reason))
        elif reason in _CONNACK_ERRORS and self.version == MQTT_5 and not self.queue and self.worker is None:
            self.transport.write(v5.connack(reason))
        self.closed = True
        self.buffer = bytearray()
        self.queue.clear()
        self.transport.close()

    def expired(self, now: float, connect_timeout: float) -> bool:
        if self.device is None:
            return now - self.last_seen > connect_timeout and self.worker is None
        return self.keep_alive > 0 and now - self.last_seen > self.keep_alive * 1.5


class MqttServer:
    """All MQTT listeners of one process and the sweeper that enforces their timeouts."""

    def __init__(
        self,
        devices: DeviceService,
        claims: ClaimService,
        gateways: GatewayService,
        limits: MqttLimits | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.devices = devices
        self.claims = claims
        self.metrics: Metrics = metrics or claims.metrics  # the container's, through the claim core
        self.gateways = gateways
        self.limits = limits or MqttLimits()
        self.sessions: set[MqttSession] = set()
        self.servers: list[asyncio.base_events.Server] = []
        self._sweeper: asyncio.Task[None] | None = None
        self.loop = asyncio.get_running_loop()

    async def listen(self, sock: socket.socket, ssl_context: ssl.SSLContext | None = None) -> None:
        server = await self.loop.create_server(lambda: MqttSession(self), sock=sock, ssl=ssl_context)
        self.servers.append(server)
        if self._sweeper is None:
            self._sweeper = self.loop.create_task(self._sweep())

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            now = self.loop.time()
            for session in [s for s in self.sessions if s.expired(now, self.limits.connect_timeout_s)]:
                log.info("MQTT client %s timed out", session.peer)
                session.close(KEEP_ALIVE_TIMEOUT)

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        for server in self.servers:
            server.close()
        for session in list(self.sessions):
            session.close()
        for server in self.servers:
            await server.wait_closed()
