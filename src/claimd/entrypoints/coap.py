"""The CoAP door (aiocoap): ``POST coap://host/api/v1/{accessToken}/claim`` opens a claim window.

Answers as ThingsBoard's: 2.01 Created when accepted, 4.00 Bad Request for a payload that cannot be
decoded (with the reason as diagnostic payload), 4.01 Unauthorized for an unknown token.
"""

from __future__ import annotations

import logging

import aiocoap
from aiocoap import resource

from claimd.domain.claiming import parse_device_claim
from claimd.domain.errors import AuthenticationFailed, InvalidPayload
from claimd.domain.model import Door
from claimd.services.claims import ClaimService
from claimd.services.common import Origin
from claimd.services.devices import DeviceService

log = logging.getLogger("claimd.coap")


class DeviceApi(resource.Resource, resource.PathCapable):
    """The whole CoAP site: paths are ``api/v1/{token}/{feature}``, the feature case-insensitive."""

    def __init__(self, devices: DeviceService, claims: ClaimService) -> None:
        super().__init__()
        self.devices = devices
        self.claims = claims

    async def needs_blockwise_assembly(self, request: aiocoap.Message) -> bool:
        return True

    async def render(self, request: aiocoap.Message) -> aiocoap.Message:
        path = request.opt.uri_path
        if len(path) != 4 or path[0] != "api" or path[1] != "v1":
            return aiocoap.Message(code=aiocoap.NOT_FOUND)
        token, feature = path[2], path[3].lower()
        if feature != "claim":
            return aiocoap.Message(code=aiocoap.NOT_FOUND, payload=b"claimd serves only the claim feature")
        if request.code != aiocoap.POST:
            return aiocoap.Message(code=aiocoap.METHOD_NOT_ALLOWED)
        try:
            device = await self.devices.by_access_token(token)
        except AuthenticationFailed:
            return aiocoap.Message(code=aiocoap.UNAUTHORIZED)
        try:
            message = parse_device_claim(request.payload)
        except InvalidPayload as exc:
            return aiocoap.Message(code=aiocoap.BAD_REQUEST, payload=exc.message.encode()[:256])
        remote = getattr(request.remote, "hostinfo", None)
        result = await self.claims.open_window(device, message, Origin(Door.COAP, remote))
        log.debug("CoAP claim window for %s: %s", device.id, result.value)
        return aiocoap.Message(code=aiocoap.CREATED)


async def start_coap(devices: DeviceService, claims: ClaimService, host: str, port: int) -> aiocoap.Context:
    """Bind the CoAP door; OSError when the port is taken."""
    return await aiocoap.Context.create_server_context(DeviceApi(devices, claims), bind=(host, port),
                                                        loggername="claimd.coap.server", transports=["udp6"])
