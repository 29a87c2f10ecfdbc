"""The ownership API at nRF Cloud's Provisioning Service paths: claim by token, list, get, block,
unblock, unclaim, tags; plus claimd's challenges and device identities.

Nordic's docs moved some paths between versions; both variants are served (``/v1/identities/
claimed-devices`` and ``/v1/claimed-devices``; tags under ``/v1/claimed-devices/tags`` and
``/v1/provisioning/tags``). Errors are RFC 9457 problem details with ``code`` and ``message``.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from claimd.domain.bulk import BulkEndpoint
from claimd.domain.ownership import IDENTIFIED, ClaimedDevice, ClaimedFilter, Tag
from claimd.entrypoints.http.bodies import read_token_claim
from claimd.entrypoints.http.responses import (
    BulkSubmitted,
    Challenge,
    ClaimCheck,
    ClaimedDeviceList,
    DeviceIdentity,
    TagList,
    problem,
)
from claimd.entrypoints.http.responses import (
    ClaimedDevice as ClaimedDeviceOut,
)
from claimd.entrypoints.http.responses import (
    Tag as TagOut,
)
from claimd.entrypoints.http.security import ContainerDep, OriginDep, PrincipalDep
from claimd.entrypoints.http.uploads import submit_bulk
from claimd.entrypoints.http.wire import is_csv, iso_ms, parse_time
from claimd.services.ownership import IdentityDraft

router = APIRouter(tags=["ownership (nRF Cloud compatible)"])


def claimed_json(item: ClaimedDevice) -> dict[str, Any]:
    d, identity = item.device, item.identity
    return {
        "id": str(d.id),
        "name": d.name,
        "deviceType": d.type,
        "firmwareId": str(identity.firmware_id) if identity and identity.firmware_id else None,
        "imei": identity.imei if identity else None,
        "ownerId": str(d.customer_id) if d.customer_id else None,
        "ownershipStatus": IDENTIFIED if d.claimed_at is not None else "ASSIGNED",
        "tags": list(item.tags),
        "status": item.status.value,
        "claimedAt": iso_ms(d.claimed_at),
        "claimedBy": str(d.claimed_by) if d.claimed_by else None,
        "blockedAt": iso_ms(d.blocked_at),
        "blockedBy": d.blocked_by,
    }


def identity_json(item: ClaimedDevice) -> dict[str, Any]:
    """A device identity as registering answers it and reading gives it back: one shape for both."""
    from claimd.adapters.attestation import public_key_pem

    identity = item.identity
    assert identity is not None
    return {
        "id": str(identity.device_id),
        "name": item.device.name,
        "deviceType": item.device.type,
        "publicKey": public_key_pem(identity.public_key),
        "firmwareId": str(identity.firmware_id) if identity.firmware_id else None,
        "imei": identity.imei,
        "tags": list(item.tags),
        "createdAt": iso_ms(identity.created_time),
    }


def tag_json(tag: Tag) -> dict[str, Any]:
    return {
        "tag": tag.name,
        "description": tag.description,
        "deviceCount": tag.device_count,
        "createdAt": iso_ms(tag.created_time),
    }


# claims ----------------------------------------------------------------------------------------
async def _claim(
    request: Request, principal: PrincipalDep, c: ContainerDep, origin: OriginDep, dryrun: bool
) -> Response:
    if is_csv(request):  # the same path takes CSV (newer nRF docs): a bulk operation
        return await submit_bulk(request, principal, c, BulkEndpoint.CLAIM_DEVICE_OWNERSHIP)
    token, tags = await read_token_claim(request)
    result = await c.claims.claim_with_token(principal, token, tags, origin, dry_run=dryrun)
    if dryrun and not result.device.is_assigned:
        return JSONResponse({"claimable": True, "id": str(result.device.id)}, status_code=202)
    view = await c.ownership.describe(principal, result.device)
    return JSONResponse(claimed_json(view), status_code=201 if result.created else 200)


DryRun = Annotated[bool, Query(description="Only check that the token would claim the device (202)")]
_CLAIM_DOC = {
    "requestBody": {
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["claimToken"],
                    "properties": {
                        "claimToken": {"type": "string"},
                        "tags": {"type": "array", "items": {"type": "string"}},
                    },
                }
            },
            "text/csv": {"schema": {"type": "string"}, "example": 'token,"location=Oslo,color=white"'},
        }
    },
}
_CLAIM_ANSWERS = problem(
    {
        201: {"model": ClaimedDeviceOut, "description": "Claimed"},
        200: {"model": ClaimedDeviceOut, "description": "Already yours: the token's device, as it is"},
        202: {
            "model": ClaimCheck | BulkSubmitted,
            "description": "?dryrun=true: the token would claim the device; or a CSV body: its bulk operation",
        },
    }
)


@router.post(
    "/v1/claimed-devices",
    openapi_extra=_CLAIM_DOC,
    status_code=201,
    responses=_CLAIM_ANSWERS,
    summary="Claim a device with its claim token (JSON), or many (text/csv: a bulk operation)",
)
async def claim_device(
    request: Request, principal: PrincipalDep, c: ContainerDep, origin: OriginDep, dryrun: DryRun = False
) -> Response:
    return await _claim(request, principal, c, origin, dryrun)


@router.post(
    "/v1/identities/claimed-devices",
    openapi_extra=_CLAIM_DOC,
    status_code=201,
    responses=_CLAIM_ANSWERS,
    summary="Claim a device with its claim token (the path of older nRF Cloud docs)",
)
async def claim_device_alias(
    request: Request, principal: PrincipalDep, c: ContainerDep, origin: OriginDep, dryrun: DryRun = False
) -> Response:
    return await _claim(request, principal, c, origin, dryrun)


@router.post(
    "/v1/claim-challenges",
    status_code=201,
    responses=problem({201: {"model": Challenge}}),
    summary="A single-use challenge: give it to the device as AT%ATTESTTOKEN=<challenge>",
)
async def create_challenge(principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    nonce, expires = await c.claims.create_challenge(principal)
    return {"challenge": nonce.hex(), "expiresAt": iso_ms(expires), "atCommand": f'AT%ATTESTTOKEN="{nonce.hex()}"'}


# tags (before /{deviceId}: "tags" is not a device id) -----------------------------------------
class TagBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tag: str = Field(..., description="At most 100 characters, no commas; key=value by convention")
    description: str | None = None


class TagUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tag: str | None = Field(None, description="The new name (rename): every device with the tag follows")
    description: str | None = None


def _tag_routes(prefix: str, include_in_schema: bool) -> None:
    @router.get(
        f"{prefix}/tags",
        include_in_schema=include_in_schema,
        responses=problem({200: {"model": TagList}}),
        summary="List tags",
    )
    async def list_tags(principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
        found = await c.ownership.list_tags(principal)
        return {"items": [tag_json(t) for t in found], "total": len(found)}

    @router.post(
        f"{prefix}/tags",
        include_in_schema=include_in_schema,
        status_code=201,
        responses=problem({201: {"model": TagOut}, 200: {"model": TagOut, "description": "The tag existed"}}),
        summary="Create a tag (creating an existing tag changes nothing: 200)",
    )
    async def create_tag(body: TagBody, principal: PrincipalDep, c: ContainerDep) -> Response:
        tag, created = await c.ownership.create_tag(principal, body.tag, body.description)
        return JSONResponse(tag_json(tag), status_code=201 if created else 200)

    @router.get(
        f"{prefix}/tags/{{tag:path}}",
        include_in_schema=include_in_schema,
        responses=problem({200: {"model": TagOut}}),
        summary="Get a tag",
    )
    async def get_tag(tag: str, principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
        return tag_json(await c.ownership.get_tag(principal, tag))

    @router.put(
        f"{prefix}/tags/{{tag:path}}",
        include_in_schema=include_in_schema,
        responses=problem({200: {"model": TagOut}}),
        summary="Rename a tag or change its description, on every device that has it",
    )
    async def update_tag(tag: str, body: TagUpdate, principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
        return tag_json(await c.ownership.update_tag(principal, tag, body.tag, body.description))

    @router.delete(
        f"{prefix}/tags/{{tag:path}}",
        include_in_schema=include_in_schema,
        status_code=204,
        responses=problem({}),
        summary="Delete a tag: it leaves every device",
    )
    async def delete_tag(tag: str, principal: PrincipalDep, c: ContainerDep) -> Response:
        await c.ownership.delete_tag(principal, tag)
        return Response(status_code=204)


_tag_routes("/v1/claimed-devices", include_in_schema=True)
_tag_routes("/v1/provisioning", include_in_schema=False)


# claimed devices ------------------------------------------------------------------------------
@router.get(
    "/v1/claimed-devices",
    responses=problem({200: {"model": ClaimedDeviceList}}),
    summary="List claimed devices (pageLimit/pageNextToken paging, filters)",
)
async def list_claimed(
    principal: PrincipalDep,
    c: ContainerDep,
    pageLimit: Annotated[int | None, Query(ge=1, le=1000)] = None,
    pageNextToken: str | None = None,
    tags: Annotated[str | None, Query(description="Comma-separated tags")] = None,
    tagsMatch: Annotated[str, Query(pattern="^(any|all)$")] = "any",
    status: Annotated[str | None, Query(pattern="^(READY|BLOCKED)$")] = None,
    deviceType: str | None = None,
    claimedAfter: str | None = None,
    claimedBefore: str | None = None,
) -> dict[str, Any]:
    where = ClaimedFilter(
        tags=tuple(t for t in (tags or "").split(",") if t.strip()),
        all_tags=tagsMatch == "all",
        status=status,
        device_type=deviceType,
        claimed_after=parse_time(claimedAfter, "claimedAfter"),
        claimed_before=parse_time(claimedBefore, "claimedBefore"),
    )
    page = await c.ownership.list_claimed(principal, where, pageLimit, pageNextToken)
    body: dict[str, Any] = {"items": [claimed_json(i) for i in page.items], "total": page.total}
    if page.next_token:
        body["pageNextToken"] = page.next_token
    return body


@router.get(
    "/v1/claimed-devices/{deviceId}",
    responses=problem({200: {"model": ClaimedDeviceOut}}),
    summary="Get a claimed device",
)
async def get_claimed(deviceId: uuid.UUID, principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    return claimed_json(await c.ownership.get_claimed(principal, deviceId))


@router.delete(
    "/v1/claimed-devices/{deviceId}",
    status_code=204,
    responses=problem({}),
    summary="Unclaim: the device is released and may be claimed by another customer",
)
async def unclaim(deviceId: uuid.UUID, principal: PrincipalDep, c: ContainerDep, origin: OriginDep) -> Response:
    await c.claims.unclaim(principal, deviceId, origin)
    return Response(status_code=204)


@router.post(
    "/v1/claimed-devices/{deviceId}/block",
    responses=problem({200: {"model": ClaimedDeviceOut}}),
    summary="Block a device (idempotent)",
)
async def block(deviceId: uuid.UUID, principal: PrincipalDep, c: ContainerDep, origin: OriginDep) -> dict[str, Any]:
    return claimed_json(await c.ownership.set_blocked(principal, deviceId, True, origin))


@router.post(
    "/v1/claimed-devices/{deviceId}/unblock",
    responses=problem({200: {"model": ClaimedDeviceOut}}),
    summary="Unblock a device (idempotent)",
)
async def unblock(deviceId: uuid.UUID, principal: PrincipalDep, c: ContainerDep, origin: OriginDep) -> dict[str, Any]:
    return claimed_json(await c.ownership.set_blocked(principal, deviceId, False, origin))


class DeviceTags(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tags: list[str]


@router.put(
    "/v1/claimed-devices/{deviceId}/tags",
    responses=problem({200: {"model": ClaimedDeviceOut}}),
    summary="Set a device's tags (replaces your tags on it)",
)
async def set_device_tags(
    deviceId: uuid.UUID, body: DeviceTags, principal: PrincipalDep, c: ContainerDep
) -> dict[str, Any]:
    return claimed_json(await c.ownership.tag_device(principal, deviceId, body.tags, replace_all=True))


@router.post(
    "/v1/claimed-devices/{deviceId}/tags",
    responses=problem({200: {"model": ClaimedDeviceOut}}),
    summary="Add tags to a device",
)
async def add_device_tags(
    deviceId: uuid.UUID, body: DeviceTags, principal: PrincipalDep, c: ContainerDep
) -> dict[str, Any]:
    return claimed_json(await c.ownership.tag_device(principal, deviceId, body.tags, replace_all=False))


# device identities (tenant admins) ------------------------------------------------------------
class IdentityBody(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    id: uuid.UUID = Field(..., description="The device UUID (as in its claim tokens)")
    publicKey: str = Field(..., description="P-256 public key: PEM, or a raw point in hex or base64")  # noqa: N815
    name: str | None = Field(None, description="Device name (default: the UUID)")
    deviceType: str | None = None  # noqa: N815
    firmwareId: uuid.UUID | None = None  # noqa: N815
    imei: str | None = None
    tags: list[str] = Field(default_factory=list)


@router.post(
    "/v1/device-identities",
    status_code=201,
    responses=problem({201: {"model": DeviceIdentity}}),
    summary="Register a device that claims with tokens: its UUID and identity public key",
)
async def register_identity(body: IdentityBody, principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    created = await c.ownership.register_identity(
        principal,
        IdentityDraft(
            body.id, body.publicKey, body.name, body.deviceType, body.firmwareId, body.imei, tuple(body.tags)
        ),
    )
    return identity_json(created)


@router.get(
    "/v1/device-identities/{deviceId}",
    responses=problem({200: {"model": DeviceIdentity}}),
    summary="A registered device identity",
)
async def get_identity(deviceId: uuid.UUID, principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    return identity_json(await c.ownership.get_identity(principal, deviceId))
