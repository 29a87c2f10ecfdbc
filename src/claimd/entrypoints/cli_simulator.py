"""``claimd device send-key``: be the device. It sends ThingsBoard's device-side claim message,
``{"secretKey", "durationMs"}``, which opens the device's claim window for a customer to claim it with that
key, over one of the three device doors:

- HTTP: ``POST {url}/api/v1/{accessToken}/claim`` (claimd says what became of the window in the
  ``X-Claimd-Claim-Window`` header);
- MQTT: a publish to ``v1/devices/me/claim`` with the access token as the user name (MQTT 5 at QoS 1,
  so that the PUBACK's reason code says whether the window opened; paho-mqtt);
- CoAP: ``POST coap://host:port/api/v1/{accessToken}/claim`` (2.01 opened, 4.03 refused; aiocoap).

It tests a production line's devices (and claimd's doors) without the devices' firmware. The access token
and the key are secrets of the device: they come from files or ``CLAIMD_ACCESS_TOKEN`` and
``CLAIMD_SECRET_KEY``, never from command-line values. Exit 0 when the window is open (opened, or an open
one kept), 2 when it is not (refused token, claimed device, claiming not allowed, no answer).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from urllib.parse import quote, urlsplit

import typer

from claimd.entrypoints.cli_remote import DEFAULT_URL, ConfigError, echo_json, fail, read_secret

WINDOW_HEADER = "X-Claimd-Claim-Window"
OPEN = ("opened", "kept")
TIMEOUT_S = 10.0
MQTT_CLAIM_TOPIC = "v1/devices/me/claim"


class Door(StrEnum):
    HTTP = "http"
    MQTT = "mqtt"
    COAP = "coap"


@dataclass(frozen=True)
class Sent:
    """What became of the message: ``window`` is claimd's word (``opened``, ``kept``, ``already-claimed``,
    ``claiming-not-allowed``) where the door says it, ``accepted`` whether the window is open."""

    door: Door
    accepted: bool
    window: str
    detail: str = ""


def _secret(path: Path | None, env: str, what: str, flag: str) -> str:
    if path is not None:
        try:
            return read_secret(path, what)
        except ConfigError as exc:
            fail(str(exc))
    value = os.environ.get(env)
    if not value:
        fail(f"no {what}: give {flag} FILE or set {env}")
    return value


def _over_http(url: str, token: str, payload: bytes) -> Sent:
    import httpx

    target = f"{url.rstrip('/')}/api/v1/{quote(token, safe='')}/claim"
    try:
        answer = httpx.post(target, content=payload, headers={"Content-Type": "application/json"}, timeout=TIMEOUT_S)
    except httpx.HTTPError as exc:
        fail(f"cannot reach claimd at {url}: is `claimd serve` running? ({exc})")
    if answer.status_code == 401:
        fail(f"the access token was refused by {url} (401): no device has it")
    if answer.status_code != 200:
        fail(f"{answer.status_code}: {answer.text[:200] or answer.reason_phrase}")
    window = answer.headers.get(WINDOW_HEADER, "")
    # A ThingsBoard (no header) accepts without saying more: taken as opened.
    return Sent(Door.HTTP, window in OPEN or not window, window or "accepted")


def _over_mqtt(host: str, port: int, token: str, payload: bytes) -> Sent:
    try:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion
    except ImportError:
        fail("sending over MQTT needs paho-mqtt: `pip install paho-mqtt` (or use --over http or --over coap)")
    import threading

    connected, published = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def on_connect(client: object, userdata: object, flags: object, reason: object, properties: object) -> None:
        outcome["connect"] = reason
        connected.set()

    def on_publish(client: object, userdata: object, mid: int, reason: object, properties: object) -> None:
        outcome["publish"] = reason
        published.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.username_pw_set(token)
    client.on_connect, client.on_publish = on_connect, on_publish
    try:
        client.connect(host, port, keepalive=30)
    except OSError as exc:
        fail(f"cannot reach claimd's MQTT door at {host}:{port}: {exc.strerror or exc}")
    client.loop_start()
    try:
        if not connected.wait(TIMEOUT_S):
            fail(f"no CONNACK from {host}:{port} within {TIMEOUT_S:g} s: is it claimd's MQTT door?")
        reason = outcome["connect"]
        if getattr(reason, "is_failure", False):
            fail(f"the MQTT door at {host}:{port} refused the access token ({reason})")
        client.publish(MQTT_CLAIM_TOPIC, payload, qos=1)
        if not published.wait(TIMEOUT_S):
            fail(f"no PUBACK from {host}:{port} within {TIMEOUT_S:g} s")
    finally:
        client.disconnect()
        client.loop_stop()
    reason = outcome["publish"]
    refused = bool(getattr(reason, "is_failure", False))
    # MQTT 5's PUBACK says whether the window opened, not why not: "Not authorized" covers both refusals.
    return Sent(Door.MQTT, not refused, str(reason) if refused else "opened", f"PUBACK {reason}")


def _over_coap(host: str, port: int, token: str, payload: bytes) -> Sent:
    import asyncio

    import aiocoap

    where = f"[{host}]" if ":" in host else host

    async def send() -> aiocoap.Message:
        context = await aiocoap.Context.create_client_context()
        try:
            request = aiocoap.Message(
                code=aiocoap.POST, uri=f"coap://{where}:{port}/api/v1/{quote(token, safe='')}/claim", payload=payload
            )
            return await asyncio.wait_for(context.request(request).response, TIMEOUT_S)
        finally:
            await context.shutdown()

    try:
        answer = asyncio.run(send())
    except TimeoutError:
        fail(f"no answer from claimd's CoAP door at {host}:{port} within {TIMEOUT_S:g} s: is it running?")
    except OSError as exc:  # aiocoap's network errors are OSErrors
        fail(f"cannot reach claimd's CoAP door at {host}:{port}: {exc}")
    text = answer.payload.decode(errors="replace")
    if answer.code == aiocoap.CREATED:
        return Sent(Door.COAP, True, "opened")
    if answer.code == aiocoap.UNAUTHORIZED:
        fail(f"the access token was refused by the CoAP door at {host}:{port} (4.01): no device has it")
    if answer.code == aiocoap.FORBIDDEN:
        return Sent(Door.COAP, False, text.partition(":")[0] or "refused", text)
    fail(f"{answer.code}: {text[:200]}")


def send_key(
    access_token_file: Annotated[
        Path | None,
        typer.Option(
            "--access-token-file",
            help="The device's access token, from this file (or set CLAIMD_ACCESS_TOKEN)",
            dir_okay=False,
        ),
    ] = None,
    secret_key_file: Annotated[
        Path | None,
        typer.Option(
            "--secret-key-file",
            help="The secret key a customer will claim with, from this file (or set CLAIMD_SECRET_KEY)",
            dir_okay=False,
        ),
    ] = None,
    duration_ms: Annotated[
        int | None,
        typer.Option("--duration-ms", min=1, help="How long the window stays open, in ms (default: the server's)"),
    ] = None,
    over: Annotated[Door, typer.Option("--over", help="The device door to send through")] = Door.HTTP,
    url: Annotated[
        str | None, typer.Option(help=f"HTTP: claimd's base URL (or set CLAIMD_URL; default {DEFAULT_URL})")
    ] = None,
    mqtt_host: Annotated[str | None, typer.Option(help="MQTT: the host (default: the --url's host)")] = None,
    mqtt_port: Annotated[int, typer.Option(help="MQTT: the port")] = 1883,
    coap_host: Annotated[str | None, typer.Option(help="CoAP: the host (default: the --url's host)")] = None,
    coap_port: Annotated[int, typer.Option(help="CoAP: the UDP port")] = 5683,
    token_value: Annotated[str | None, typer.Option("--access-token", hidden=True)] = None,
    key_value: Annotated[str | None, typer.Option("--secret-key", hidden=True)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON (machine-readable)")] = False,
) -> None:
    """Be the device: send its claim message (secret key and window length), opening its claim window.

    Exit 0 when the window is open, 2 when it is not (a refused token, an already claimed device, claiming not allowed) or the door did not answer.
    """
    for value, flag, hint in (
        (token_value, "--access-token", "give --access-token-file or set CLAIMD_ACCESS_TOKEN"),
        (key_value, "--secret-key", "give --secret-key-file or set CLAIMD_SECRET_KEY"),
    ):
        if value is not None:
            fail(f"{flag} is not accepted: a command line shows in `ps` to every local user; {hint}")
    token = _secret(access_token_file, "CLAIMD_ACCESS_TOKEN", "access token", "--access-token-file")
    key = _secret(secret_key_file, "CLAIMD_SECRET_KEY", "secret key", "--secret-key-file")
    message: dict[str, object] = {"secretKey": key}
    if duration_ms is not None:
        message["durationMs"] = duration_ms
    payload = json.dumps(message).encode()
    base = url or os.environ.get("CLAIMD_URL") or DEFAULT_URL
    default_host = urlsplit(base).hostname or "127.0.0.1"
    if over is Door.HTTP:
        sent = _over_http(base, token, payload)
        where = base
    elif over is Door.MQTT:
        sent = _over_mqtt(mqtt_host or default_host, mqtt_port, token, payload)
        where = f"mqtt://{mqtt_host or default_host}:{mqtt_port}"
    else:
        sent = _over_coap(coap_host or default_host, coap_port, token, payload)
        where = f"coap://{coap_host or default_host}:{coap_port}"
    if as_json:
        echo_json(
            {
                "over": sent.door.value,
                "to": where,
                "accepted": sent.accepted,
                "window": sent.window,
                "detail": sent.detail,
            }
        )
    elif sent.accepted:
        typer.echo(f"claim window {sent.window} over {sent.door.value} ({where})")
    if not sent.accepted:
        fail(f"the claim window did not open over {sent.door.value}: {sent.detail or sent.window}")
