"""Helpers of the device-transport tests: the customer side over REST (``httpx``), the device side over
real MQTT clients (paho, as shipped by ``tb-mqtt-client``), raw TCP sockets, and CoAP (``aiocoap``).

``Api``, ``Device``, ``uid``  are :mod:`http_helpers`' (re-exported here).
``World``        a tenant admin, one customer with one activated customer user, and ``world.device()``
                 to provision devices with a chosen access token (``gateway=True`` for gateways).
``PahoDevice``   a plain paho client (MQTT 3.1.1 or 5, callback API VERSION2) that records its CONNACK,
                 the reason code of every acknowledged PUBLISH, SUBACKs, messages and disconnection;
                 it never reconnects on its own.
``RawMqtt``      a blocking TCP socket speaking whatever bytes a test writes, with a packet reader.
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from http_helpers import FAILURE_PAYLOAD, GOOD_PAYLOAD, NULL_UUID, Api, Device, new_customer_user, uid
from paho.mqtt.enums import CallbackAPIVersion

HOST = "127.0.0.1"

DEVICE_CLAIM_TOPIC = "v1/devices/me/claim"
GATEWAY_CLAIM_TOPIC = "v1/gateway/claim"

EMPTY_FAILURE_PAYLOAD = {"durationMs": 1}
EMPTY_GOOD_PAYLOAD: dict[str, Any] = {}
SECRET_BODY = {"secretKey": "value"}
NULL_SECRET_BODY = {"secretKey": None}

# MQTT 5 reason codes the tests look for
SUCCESS, NOT_AUTHORIZED, BAD_CREDENTIALS, TOPIC_NAME_INVALID, PAYLOAD_INVALID = 0x00, 0x87, 0x86, 0x90, 0x99


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def expire() -> None:
    """Let a 1 ms claim window run out."""
    time.sleep(0.01)


# REST (the customer side; Api and Device are tests/support/http_helpers.py's) ----------------------------
@dataclass
class World:
    base_url: str
    admin: Api
    tenant_id: str
    customer_id: str
    user: Api
    apis: list[Api] = field(default_factory=list)

    def device(self, name: str | None = None, token: str | None = None, gateway: bool = False) -> Device:
        """An unassigned device of the tenant with a known access token."""
        name = name or uid("dev")
        token = token or uid("tok")
        body: dict[str, Any] = {"name": name, "type": "default"}
        if gateway:
            body["additionalInfo"] = {"gateway": True}
        created = self.admin.ok("POST", "/api/device", params={"accessToken": token}, json=body)
        return Device(created["id"]["id"], name, token, created)

    def tenant_device(self, name: str) -> httpx.Response:
        return self.admin.request("GET", "/api/tenant/devices", params={"deviceName": name})

    def owner(self, device_id: str) -> str:
        return self.admin.ok("GET", f"/api/device/{device_id}")["customerId"]["id"]

    def assign(self, device: Device, customer_id: str | None = None) -> None:
        self.admin.ok("POST", f"/api/customer/{customer_id or self.customer_id}/device/{device.id}")

    def new_customer(self) -> str:
        return self.admin.ok("POST", "/api/customer", json={"title": uid("Customer")})["id"]["id"]

    def save_server_attributes(self, device: Device, values: dict[str, Any]) -> None:
        self.admin.ok("POST", f"/api/plugins/telemetry/DEVICE/{device.id}/SERVER_SCOPE", json=values)

    # the customer side of §6 ---------------------------------------------------------------
    def claim(self, name: str, body: Any) -> httpx.Response:
        return self.user.claim(name, body)

    def expect_outcome(self, name: str, body: Any, outcome: str) -> None:
        """400 with the bare JSON string ``outcome`` (FAILURE or CLAIMED)."""
        r = self.claim(name, body)
        assert r.status_code == 400, (r.status_code, r.text)
        assert r.json() == outcome, r.text

    def expect_success(self, name: str, body: Any, device_id: str | None = None) -> dict[str, Any]:
        r = self.claim(name, body)
        assert r.status_code == 200, (r.status_code, r.text)
        payload = r.json()
        assert payload["response"] == "SUCCESS", payload
        d = payload["device"]
        assert d["name"] == name
        assert d["customerId"] == {"entityType": "CUSTOMER", "id": self.customer_id}, d
        assert d["tenantId"] == {"entityType": "TENANT", "id": self.tenant_id}, d
        if device_id is not None:
            assert d["id"] == {"entityType": "DEVICE", "id": device_id}, d
        assert self.owner(d["id"]["id"]) == self.customer_id
        return d

    def eventually_success(self, name: str, body: Any, timeout: float = 5.0) -> None:
        """For messages nothing acknowledges (QoS 0): claim until the window is there."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.claim(name, body)
            if r.status_code != 400 or time.monotonic() > deadline:
                break
            assert r.json() == "FAILURE", r.text
            time.sleep(0.05)
        assert r.status_code == 200, (r.status_code, r.text)
        assert r.json()["response"] == "SUCCESS"
        assert r.json()["device"]["customerId"] == {"entityType": "CUSTOMER", "id": self.customer_id}

    def close(self) -> None:
        for api in self.apis:
            api.close()


def make_world(base_url: str, admin_email: str, admin_password: str) -> World:
    admin = Api.login(base_url, admin_email, admin_password)
    tenant_id = admin.ok("GET", "/api/auth/user")["tenantId"]["id"]
    customer_id = admin.ok("POST", "/api/customer", json={"title": uid("Customer C")})["id"]["id"]
    user = new_customer_user(admin, customer_id)
    return World(base_url, admin, tenant_id, customer_id, user, [admin, user])


# paho ----------------------------------------------------------------------------------------------
def reason_value(code: Any) -> int:
    return code.value if hasattr(code, "value") else int(code)


class PahoDevice:
    """A paho client that records everything the server tells it; never reconnects by itself."""

    def __init__(
        self,
        port: int,
        username: str | None,
        *,
        protocol: int = mqtt.MQTTv5,
        client_id: str = "",
        password: str | None = None,
        keepalive: int = 60,
    ) -> None:
        self.port = port
        self.keepalive = keepalive
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol, reconnect_on_failure=False
        )
        if username is not None or password is not None:
            self.client.username_pw_set(username, password)
        self.connack = threading.Event()
        self.connack_reason: int | None = None
        self.connack_properties: Any = None
        self.disconnected = threading.Event()
        self.disconnect_reason: int | None = None
        self.acks: dict[int, int] = {}
        self.acked = threading.Condition()
        self.subacks: dict[int, list[int]] = {}
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.log: list[str] = []
        c = self.client
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        c.on_subscribe = self._on_subscribe
        c.on_message = lambda _c, _u, msg: self.messages.put(msg)
        c.on_log = lambda _c, _u, _level, text: self.log.append(text)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connack_reason = reason_value(reason_code)
        self.connack_properties = properties
        self.connack.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.disconnect_reason = reason_value(reason_code)
        self.disconnected.set()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        with self.acked:
            self.acks[mid] = reason_value(reason_code)
            self.acked.notify_all()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        self.subacks[mid] = [reason_value(rc) for rc in reason_codes]

    def start(self, timeout: float = 5.0) -> int | None:
        """Connect and wait for the CONNACK (or the connection's end); returns the CONNACK reason."""
        self.client.connect(HOST, self.port, keepalive=self.keepalive)
        self.client.loop_start()
        deadline = time.monotonic() + timeout
        while not self.connack.is_set() and not self.disconnected.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.connack_reason

    def connect(self, timeout: float = 5.0) -> PahoDevice:
        """Connect and require acceptance."""
        reason = self.start(timeout)
        assert reason == 0, f"CONNACK {reason!r}, disconnected={self.disconnected.is_set()}"
        return self

    @property
    def is_connected(self) -> bool:
        return self.client.is_connected() and not self.disconnected.is_set()

    def publish(self, topic: str, payload: Any, qos: int = 1, timeout: float = 5.0) -> int | None:
        """Publish and wait for its acknowledgement; the reason code (0 on MQTT 3.1.1), or None when
        the connection ended first or nothing came within ``timeout``."""
        data = payload if isinstance(payload, bytes) else dumps(payload)
        info = self.client.publish(topic, data, qos=qos)
        assert info.rc == mqtt.MQTT_ERR_SUCCESS, info.rc
        deadline = time.monotonic() + timeout
        with self.acked:
            while info.mid not in self.acks:
                if self.disconnected.is_set() or time.monotonic() > deadline:
                    return None
                self.acked.wait(0.02)
            return self.acks[info.mid]

    def wait_disconnected(self, timeout: float = 5.0) -> bool:
        return self.disconnected.wait(timeout)

    def close(self) -> None:
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()


# raw TCP -------------------------------------------------------------------------------------------
class RawMqtt:
    """A TCP socket to the MQTT port: write bytes, read whole packets, tell when the server hung up."""

    def __init__(self, port: int, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self, deadline: float) -> bool:
        """Read more bytes; False on EOF/reset. Raises TimeoutError past the deadline."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return False
        except TimeoutError:
            raise
        if not chunk:
            return False
        self.buffer += chunk
        return True

    def read_packet(self, timeout: float = 5.0) -> bytes | None:
        """The next whole packet, or None when the connection ended. TimeoutError when nothing came."""
        deadline = time.monotonic() + timeout
        while True:
            packet = self._cut()
            if packet is not None:
                return packet
            if not self._fill(deadline):
                return None

    def _cut(self) -> bytes | None:
        buf = self.buffer
        multiplier, length, index = 1, 0, 1
        while True:
            if index >= len(buf):
                return None
            byte = buf[index]
            length += (byte & 0x7F) * multiplier
            multiplier *= 128
            index += 1
            if not byte & 0x80:
                break
        if len(buf) < index + length:
            return None
        self.buffer = buf[index + length :]
        return buf[: index + length]

    def closed_by_server(self, timeout: float = 5.0) -> bool:
        """True once the server closed the connection (bytes it sent first are discarded)."""
        deadline = time.monotonic() + timeout
        try:
            while self._fill(deadline):
                self.buffer = b""
        except TimeoutError:
            return False
        except OSError:
            return True
        return True

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


# MQTT 3.1.1 packets written by hand (independent of claimd's own codec) ------------------------------
def _length(n: int) -> bytes:
    out = bytearray()
    while True:
        n, byte = divmod(n, 128)
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _str(s: str | bytes) -> bytes:
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">H", len(b)) + b


def connect311(username: str | None, client_id: str = "", password: bytes | None = None, keep_alive: int = 60) -> bytes:
    flags = 0x02 | (0x80 if username is not None else 0) | (0x40 if password is not None else 0)
    body = _str("MQTT") + bytes((4, flags)) + struct.pack(">H", keep_alive) + _str(client_id)
    if username is not None:
        body += _str(username)
    if password is not None:
        body += _str(password)
    return b"\x10" + _length(len(body)) + body


def publish311(topic: str, payload: bytes, qos: int = 0, packet_id: int = 1, dup: bool = False) -> bytes:
    body = _str(topic) + (struct.pack(">H", packet_id) if qos else b"") + payload
    return bytes((0x30 | (qos << 1) | (0x08 if dup else 0),)) + _length(len(body)) + body


def pubrel311(packet_id: int) -> bytes:
    return b"\x62\x02" + struct.pack(">H", packet_id)


PINGREQ = b"\xc0\x00"
PINGRESP = b"\xd0\x00"
CONNACK_ACCEPTED_311 = b"\x20\x02\x00\x00"


# What the transport tests take from http_helpers through this module.
__all__ = ["FAILURE_PAYLOAD", "GOOD_PAYLOAD", "NULL_UUID", "Api", "Device", "new_customer_user", "uid"]
