"""The CoAP door (aiocoap): ``POST coap://host/api/v1/{accessToken}/claim`` opens a claim window.

Answers as ThingsBoard's: 2.01 Created when accepted, 4.00 Bad Request for a payload that cannot be
decoded (with the reason as diagnostic payload), 4.01 Unauthorized for an unknown token. Where
ThingsBoard answers 2.01 to a window it refuses, claimd says so as its other doors do (MQTT 5: PUBACK
0x87, HTTP: the ``X-Claimd-Claim-Window`` header): 4.03 Forbidden with a diagnostic payload that starts
with the reason (``already-claimed``, ``claiming-not-allowed``). Too many attempts are 4.29 with Max-Age
as the retry time (RFC 8516).

Provisioning commands: ``GET api/v1/{accessToken}/provisioning/commands[?after=&limit=&rxMaxSize=]``
answers 2.05 Content with the CDDL's CBOR command list (empty when there is nothing to do, as nRF's
CoAP service), or JSON when the request's Accept option is 50; ``POST .../provisioning/response``
takes the CBOR (or, with Content-Format 50, JSON) responses and answers 2.04 Changed. A blocked or
unclaimed device gets 4.03 Forbidden with the reason.
"""

from __future__ import annotations

import logging
import os

import aiocoap
from aiocoap import resource

from claimd.domain.claiming import parse_device_claim
from claimd.domain.errors import (
    AuthenticationFailed,
    ClaimdError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    TooManyRequests,
)
from claimd.domain.model import Device, Door
from claimd.domain.provisioning_wire import decode_reports, encode_steps
from claimd.services.claiming import ClaimService, WindowResult
from claimd.services.common import Origin
from claimd.services.devices import DeviceService
from claimd.services.provisioning import ProvisioningService

log = logging.getLogger("claimd.coap")


class DeviceApi(resource.Resource, resource.PathCapable):  # type: ignore[misc]  # aiocoap is untyped (Any)
    """The whole CoAP site: paths are ``api/v1/{token}/{feature}``, the feature case-insensitive."""

    def __init__(self, devices: DeviceService, claims: ClaimService, provisioning: ProvisioningService) -> None:
        super().__init__()
        self.devices = devices
        self.claims = claims
        self.provisioning = provisioning

    async def needs_blockwise_assembly(self, request: aiocoap.Message) -> bool:
        return True

    async def render(self, request: aiocoap.Message) -> aiocoap.Message:
        path = request.opt.uri_path
        if len(path) not in (4, 5) or path[0] != "api" or path[1] != "v1":
            return aiocoap.Message(code=aiocoap.NOT_FOUND)
        token, feature = path[2], "/".join(path[3:]).lower()
        if feature in ("provisioning/commands", "provisioning/response"):
            return await self._provisioning(request, token, feature)
        if feature != "claim":
            return aiocoap.Message(code=aiocoap.NOT_FOUND, payload=b"claimd serves the claim and provisioning features")
        if request.code != aiocoap.POST:
            return aiocoap.Message(code=aiocoap.METHOD_NOT_ALLOWED)
        try:
            device = await self.devices.by_access_token(token)
            message = parse_device_claim(request.payload)
            remote = getattr(request.remote, "hostinfo", None)
            result = await self.claims.open_window(device, message, Origin(Door.COAP, remote), fresh=True)
        except ClaimdError as exc:
            return error_message(exc)
        log.debug("CoAP claim window for %s: %s", device.id, result.value)
        if result in (WindowResult.OPENED, WindowResult.KEPT):
            return aiocoap.Message(code=aiocoap.CREATED)
        return aiocoap.Message(code=aiocoap.FORBIDDEN, payload=_REFUSALS[result].encode())

    async def _provisioning(self, request: aiocoap.Message, token: str, feature: str) -> aiocoap.Message:
        fetch = feature.endswith("commands")
        if request.code != (aiocoap.GET if fetch else aiocoap.POST):
            return aiocoap.Message(code=aiocoap.METHOD_NOT_ALLOWED)
        try:
            device = await self.devices.by_access_token(token)
            if fetch:
                return await self._commands(request, device)
            json_form = request.opt.content_format == _JSON
            await self.provisioning.report(device, decode_reports(request.payload, cbor=not json_form))
            return aiocoap.Message(code=aiocoap.CHANGED)
        except ClaimdError as exc:
            return error_message(exc)

    async def _commands(self, request: aiocoap.Message, device: Device) -> aiocoap.Message:
        query = dict(q.partition("=")[::2] for q in request.opt.uri_query)
        try:
            limit = int(query["limit"]) if query.get("limit") else None
            rx_max = int(query["rxMaxSize"]) if query.get("rxMaxSize") else None
        except ValueError:
            raise InvalidArgument("limit and rxMaxSize are integers") from None
        cbor = request.opt.accept != _JSON
        steps = await self.provisioning.fetch(device, query.get("after") or None, limit, rx_max, cbor)
        payload = encode_steps(steps, cbor=cbor) if steps else b""
        return aiocoap.Message(code=aiocoap.CONTENT, payload=payload, content_format=_CBOR if cbor else _JSON)


_JSON, _CBOR = 50, 60  # CoAP Content-Formats
_REFUSALS = {
    WindowResult.ALREADY_CLAIMED: f"{WindowResult.ALREADY_CLAIMED.value}: the device already has an owner",
    WindowResult.NOT_ALLOWED: f"{WindowResult.NOT_ALLOWED.value}: claimingAllowed is not set for this device",
}


def error_message(exc: ClaimdError) -> aiocoap.Message:
    """A client's error as CoAP answers it, with the reason as diagnostic payload (RFC 7252 §5.5.2);
    an unknown token gets an empty 4.01, as ThingsBoard's."""
    if isinstance(exc, AuthenticationFailed):
        return aiocoap.Message(code=aiocoap.UNAUTHORIZED)
    # cut at 256 bytes without splitting a character: a diagnostic payload is UTF-8 text
    diagnostic = exc.message.encode()[:256].decode(errors="ignore").encode()
    if isinstance(exc, TooManyRequests):
        answer = aiocoap.Message(code=aiocoap.Code.TOO_MANY_REQUESTS, payload=diagnostic)
        answer.opt.max_age = max(1, exc.retry_after_s)
        return answer
    if isinstance(exc, PermissionDenied):
        return aiocoap.Message(code=aiocoap.FORBIDDEN, payload=diagnostic)
    if isinstance(exc, NotFound):
        return aiocoap.Message(code=aiocoap.NOT_FOUND, payload=diagnostic)
    return aiocoap.Message(code=aiocoap.BAD_REQUEST, payload=diagnostic)


async def start_coap(
    devices: DeviceService, claims: ClaimService, provisioning: ProvisioningService, host: str, port: int
) -> aiocoap.Context:
    """Bind the CoAP door; OSError when the port is taken.

    aiocoap binds servers with SO_REUSEPORT, so a second process on the same port started too and the
    kernel split the datagrams between the two (a claim answered by one, its retry by the other).
    AIOCOAP_REUSE_PORT=0 is aiocoap's own switch for it: without the option, a taken port is EADDRINUSE
    as it is for the TCP doors, and no later process can share this one's port."""
    os.environ["AIOCOAP_REUSE_PORT"] = "0"
    return await aiocoap.Context.create_server_context(
        DeviceApi(devices, claims, provisioning),
        bind=(host, port),
        loggername="claimd.coap.server",
        transports=["udp6"],
    )
