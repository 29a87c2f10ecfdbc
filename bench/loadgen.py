"""claimd's load generator: a separate process that drives HTTP, MQTT or CoAP load and prints what it saw.

    python bench/loadgen.py SPEC.json        # prints one JSON object: count, errors, seconds, rate, p50/p99 ms

It runs on uvloop over raw sockets with pre-built messages, so that its own cost per message (a few tens of
µs) stays small next to the server's. The spec (written by ``bench/run.py``) is one of:

* ``{"kind": "http", "port", "connections", "total", "requests": [...], "conn_headers": [...], "expect": [200],
  "body_marker": "SUCCESS"}`` — each connection keeps one HTTP/1.1 keep-alive connection and sends requests
  (raw text, without their ``Content-Length`` and the connection's header line, which are added) taken in turn
  from ``requests`` (cycled until ``total``), one at a time; a response is an error unless its status is in
  ``expect`` and its body holds ``body_marker`` (when given).
* ``{"kind": "mqtt", "port", "version": 4|5, "clients": [username...], "messages", "topic", "payload",
  "inflight"}`` — each client connects, then publishes ``messages`` QoS 1 messages with up to ``inflight``
  unacknowledged; a PUBACK with a reason code ≥ 0x80 (MQTT 5) is an error.
* ``{"kind": "coap", "port", "paths": [...], "messages", "payload"}`` — one UDP socket per path, each sending
  confirmable POSTs one at a time (NSTART = 1, as RFC 7252 asks); a response class other than 2 is an error.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
import sys
import time
from collections import Counter

HOST = "127.0.0.1"


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, round(p / 100 * (len(sorted_values) - 1)))]


def summary(count: int, errors: Counter, seconds: float, latencies: list[float], sample: str | None) -> dict:
    latencies.sort()
    return {
        "count": count,
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "error_sample": sample,
        "seconds": round(seconds, 3),
        "rate": round(count / seconds, 1) if seconds else 0.0,
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
    }


# HTTP ------------------------------------------------------------------------------------------


def build_http(raw: str, conn_header: str | None) -> bytes:
    head, _, body = raw.partition("\r\n\r\n")
    line, _, headers = head.partition("\r\n")
    lines = [line, f"Host: {HOST}"] + ([headers] if headers else []) + ([conn_header] if conn_header else [])
    if body or line.startswith(("POST", "PUT")):
        lines.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


async def run_http(spec: dict) -> dict:
    requests: list[str] = spec["requests"]
    total = int(spec.get("total", len(requests)))
    expect = set(spec.get("expect", [200]))
    marker = spec.get("body_marker", "").encode()
    conn_headers: list[str | None] = spec.get("conn_headers") or [None]
    built = {}  # (request index, connection header index) -> bytes
    next_index = 0
    latencies: list[float] = []
    errors: Counter = Counter()
    sample: list[str] = []

    async def connection(slot: int) -> None:
        nonlocal next_index
        header_index = slot % len(conn_headers)
        reader, writer = await asyncio.open_connection(HOST, spec["port"])
        writer.transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while next_index < total:
                i = next_index % len(requests)
                next_index += 1
                key = (i, header_index)
                data = built.get(key) or built.setdefault(key, build_http(requests[i], conn_headers[header_index]))
                started = time.perf_counter()
                writer.write(data)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = await reader.readexactly(length) if length else b""
                latencies.append(time.perf_counter() - started)
                status = int(head[9:12])
                if status not in expect or (marker and marker not in body):
                    errors[str(status)] += 1
                    if not sample:
                        sample.append(f"{status} {body[:300].decode(errors='replace')}")
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection(slot) for slot in range(spec["connections"])))
    return summary(len(latencies), errors, time.perf_counter() - started, latencies, sample[0] if sample else None)


# MQTT ------------------------------------------------------------------------------------------


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = n >> 7, n & 0x7F
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _str(text: str) -> bytes:
    data = text.encode()
    return struct.pack("!H", len(data)) + data


def mqtt_connect(client_id: str, username: str, version: int) -> bytes:
    props = b"\x00" if version == 5 else b""
    body = _str("MQTT") + bytes([version, 0x82]) + struct.pack("!H", 60) + props + _str(client_id) + _str(username)
    return b"\x10" + _varint(len(body)) + body


def mqtt_publish(topic: str, packet_id: int, payload: bytes, version: int) -> bytes:
    body = _str(topic) + struct.pack("!H", packet_id) + (b"\x00" if version == 5 else b"") + payload
    return b"\x32" + _varint(len(body)) + body


async def read_packet(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    first = (await reader.readexactly(1))[0]
    length, shift = 0, 0
    while True:
        byte = (await reader.readexactly(1))[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return first >> 4, await reader.readexactly(length)


async def run_mqtt(spec: dict) -> dict:
    version, topic, messages = spec["version"], spec["topic"], spec["messages"]
    payload = spec["payload"].encode()
    inflight = spec.get("inflight", 20)
    errors: Counter = Counter()
    latencies: list[float] = []
    sample: list[str] = []
    done = 0

    async def client(index: int, username: str) -> None:
        reader, writer = await asyncio.open_connection(HOST, spec["port"])
        writer.write(mqtt_connect(f"bench-{os.getpid()}-{index}", username, version))
        kind, body = await read_packet(reader)
        if kind != 2 or body[1] != 0:
            raise RuntimeError(f"CONNACK refused: {body.hex()}")
        window = asyncio.Semaphore(inflight)
        sent: dict[int, float] = {}

        async def acks() -> None:
            nonlocal done
            for _ in range(messages):
                kind, body = await read_packet(reader)
                if kind != 4:
                    raise RuntimeError(f"expected PUBACK, got packet type {kind}")
                packet_id = struct.unpack("!H", body[:2])[0]
                latencies.append(time.perf_counter() - sent.pop(packet_id))
                if len(body) > 2 and body[2] >= 0x80:
                    errors[f"0x{body[2]:02x}"] += 1
                    if not sample:
                        sample.append(f"PUBACK reason 0x{body[2]:02x}")
                done += 1
                window.release()

        reading = asyncio.create_task(acks())
        for n in range(messages):
            await window.acquire()
            packet_id = n % 65535 + 1
            sent[packet_id] = time.perf_counter()
            writer.write(mqtt_publish(topic, packet_id, payload, version))
        await reading
        writer.write(b"\xe0\x00")  # DISCONNECT
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(i, name) for i, name in enumerate(spec["clients"])))
    return summary(done, errors, time.perf_counter() - started, latencies, sample[0] if sample else None)


# CoAP ------------------------------------------------------------------------------------------


def coap_post(message_id: int, token: bytes, path: str, payload: bytes) -> bytes:
    out = bytearray([0x40 | len(token), 0x02]) + struct.pack("!H", message_id) + token
    last = 0
    for segment in path.strip("/").split("/"):
        value = segment.encode()
        delta, last = 11 - last, 11  # Uri-Path
        out += _coap_option(delta, value)
    out += _coap_option(12 - last, b"\x32")  # Content-Format 50 (application/json)
    return bytes(out + b"\xff" + payload)


def _coap_option(delta: int, value: bytes) -> bytes:
    def nibble(n: int) -> tuple[int, bytes]:
        if n < 13:
            return n, b""
        if n < 269:
            return 13, bytes([n - 13])
        return 14, struct.pack("!H", n - 269)

    d, dx = nibble(delta)
    length, lx = nibble(len(value))
    return bytes([(d << 4) | length]) + dx + lx + value


class _CoapClient(asyncio.DatagramProtocol):
    """One client endpoint with one request outstanding: an empty ACK stops the retransmissions, and
    a separate (confirmable) response is acknowledged, as RFC 7252 §5.2.2 asks."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.token = b""
        self.answer: asyncio.Future | None = None
        self.acked: asyncio.Event = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: object) -> None:
        if len(data) < 4:
            return
        kind, code, token = (data[0] >> 4) & 3, data[1], data[4 : 4 + (data[0] & 15)]
        if kind == 0 and self.transport is not None:  # a confirmable (separate) response: acknowledge it
            self.transport.sendto(bytes([0x60, 0]) + data[2:4])
        if kind == 2 and code == 0:  # empty ACK: the answer comes later
            self.acked.set()
        elif (token == self.token or kind == 3) and self.answer is not None and not self.answer.done():
            self.answer.set_result(data)


async def run_coap(spec: dict) -> dict:
    loop = asyncio.get_running_loop()
    payload = spec["payload"].encode()
    errors: Counter = Counter()
    latencies: list[float] = []
    sample: list[str] = []

    async def exchange(protocol: _CoapClient, packet: bytes) -> bytes | None:
        assert protocol.transport is not None
        protocol.answer, protocol.acked = loop.create_future(), asyncio.Event()
        for _attempt in range(4):  # CON retransmission (shortened), until an answer or an empty ACK
            protocol.transport.sendto(packet)
            try:
                return await asyncio.wait_for(asyncio.shield(protocol.answer), 2.0)
            except TimeoutError:
                if protocol.acked.is_set():
                    break
        try:
            return await asyncio.wait_for(protocol.answer, 30.0)
        except TimeoutError:
            return None

    async def client(index: int, path: str) -> None:
        transport, protocol = await loop.create_datagram_endpoint(_CoapClient, remote_addr=(HOST, spec["port"]))
        try:
            for n in range(spec["messages"]):
                protocol.token = struct.pack("!HH", index, n)
                packet = coap_post((index * 7919 + n) % 65536, protocol.token, path, payload)
                started = time.perf_counter()
                answer = await exchange(protocol, packet)
                if answer is None:
                    errors["timeout"] += 1
                    continue
                latencies.append(time.perf_counter() - started)
                if answer[1] >> 5 != 2:
                    code = f"{answer[1] >> 5}.{answer[1] & 31:02d}"
                    errors[code] += 1
                    if not sample:
                        sample.append(f"CoAP {code} {answer[4 + (answer[0] & 15) :][:200]!r}")
        finally:
            transport.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(i, path) for i, path in enumerate(spec["paths"])))
    return summary(len(latencies), errors, time.perf_counter() - started, latencies, sample[0] if sample else None)


RUNNERS = {"http": run_http, "mqtt": run_mqtt, "coap": run_coap}


def main() -> None:
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        pass
    print(json.dumps(asyncio.run(RUNNERS[spec["kind"]](spec))))


if __name__ == "__main__":
    main()
