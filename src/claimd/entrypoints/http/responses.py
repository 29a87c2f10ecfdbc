"""What the routes answer, for the OpenAPI document only.

The routes build their bodies as plain dicts (``schemas.device_json`` and the like) whose shapes are
fixed by ThingsBoard, nRF Cloud and The Things Stack; nothing here runs on a request. The routes name
these models in ``responses={status: {"model": X}}``, which FastAPI only copies into the document
(``response_model=X`` would validate and re-serialize every answer). Field names are the wire's keys,
camelCase or snake_case as each API writes them; every model forbids other keys, so that
tests/e2e/test_schemathesis.py, which checks real answers against the document, fails on any key the
code adds or drops without saying so here.

Errors have one shape per API family, declared for every 4xx of a route (``"4XX"``):
``thingsboard(...)`` (``/api/…``: ``{"status", "message", "errorCode", "timestamp"}``),
``problem(...)`` (``/v1/…``: RFC 9457 problem details with nRF Cloud's ``code`` and ``message``, as
``application/problem+json``) and ``tts(...)`` (``/api/v3/…``: ``{"code", "message", "details"}``).
A new route declares ``responses=thingsboard({200: {"model": X}})`` (or ``problem``/``tts``; a route
whose own media type is not JSON, ``thingsboard({...}, text_route=True)``); a route whose success has
no body declares ``{200: EMPTY}`` with ``response_class=Response``, so that the document shows no
JSON body for it (the route returns its own ``Response``, so this changes nothing on the wire).
tests/unit/test_openapi_responses.py checks that every operation does, and
tests/e2e/test_schemathesis.py that real answers match.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from claimd.domain.bulk import BulkEndpoint, BulkStatus
from claimd.domain.model import AuditAction, Authority, Door
from claimd.domain.ownership import ClaimedStatus
from claimd.domain.provisioning import CommandStatus

Responses = dict[int | str, dict[str, Any]]


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def absent(description: str) -> Any:
    """A key that is left out of the answer (never ``null``) when it does not apply."""
    return Field(None, description=description, json_schema_extra=_no_default)


class _Wire(BaseModel):
    """A JSON body as the code writes it: its keys and no others."""

    model_config = ConfigDict(extra="forbid")


# --- errors -------------------------------------------------------------------------------------


class ThingsBoardError(_Wire):
    """ThingsBoard's error body (``/api/…``)."""

    status: int = Field(description="The HTTP status")
    message: str
    errorCode: int = Field(
        description="ThingsBoard's ThingsboardErrorCode: 2 general, 10 authentication, 11 JWT expired, "
        "20 permission denied, 31 bad request, 32 not found, 33 too many requests"
    )
    timestamp: int = Field(description="Epoch milliseconds")


class ProblemDetails(_Wire):
    """RFC 9457 problem details with nRF Cloud's ``code`` and ``message`` (``/v1/…``)."""

    type: str = Field(description="urn:claimd:problem:<code>")
    title: str
    status: int
    detail: str
    instance: str = Field(description="The request's path")
    code: str = Field(description="e.g. BAD_REQUEST, NOT_FOUND, CONFLICT, UNKNOWN_DEVICE")
    message: str


class TtsErrorDetails(_Wire):
    """The Things Stack's ``ErrorDetails``: an error's ``details`` item, and a batch's failed item."""

    type_: str = Field(alias="@type", description="type.googleapis.com/ttn.lorawan.v3.ErrorDetails")
    namespace: str
    name: str
    message_format: str
    correlation_id: str
    code: int = Field(description="The gRPC status code")


class TtsError(_Wire):
    """The Things Stack's error body (``/api/v3/…``)."""

    code: int = Field(description="The gRPC status code")
    message: str
    details: list[TtsErrorDetails]


EMPTY: dict[str, Any] = {"description": "Empty body"}
_PROBLEM_SCHEMA = ProblemDetails.model_json_schema(mode="serialization")
_TB_ERRORS: dict[str, Any] = {"model": ThingsBoardError, "description": "ThingsBoard's error body"}
#: Merge into an explicit ``/v1/…`` status that answers problem details.
PROBLEM_BODY: dict[str, Any] = {"content": {"application/problem+json": {"schema": _PROBLEM_SCHEMA}}}
_PROBLEM_ERRORS: dict[str, Any] = {"description": "Problem details (RFC 9457)", **PROBLEM_BODY}
_TTS_ERRORS: dict[str, Any] = {"model": TtsError, "description": "The Things Stack's error body"}


#: For a route whose success is not JSON (a model would be filed under the route's media type).
_TB_ERRORS_AS_JSON: dict[str, Any] = {
    "description": "ThingsBoard's error body",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ThingsBoardError"}}},
}


def thingsboard(answers: Responses, *, text_route: bool = False) -> Responses:
    """``answers``, and ThingsBoard's error body for any 4xx. ``text_route``: the route's own media
    type is not JSON (its errors still are)."""
    return {**answers, "4XX": _TB_ERRORS_AS_JSON if text_route else _TB_ERRORS}


def problem(answers: Responses) -> Responses:
    """``answers``, and problem details for any 4xx."""
    return {**answers, "4XX": _PROBLEM_ERRORS}


def tts(answers: Responses) -> Responses:
    """``answers``, and The Things Stack's error body for any 4xx."""
    return {**answers, "4XX": _TTS_ERRORS}


# --- ThingsBoard --------------------------------------------------------------------------------


class EntityId(_Wire):
    entityType: str
    id: uuid.UUID


class IdOnly(_Wire):
    id: uuid.UUID


class _TypeOnly(_Wire):
    type: str


class DeviceData(_Wire):
    configuration: _TypeOnly
    transportConfiguration: _TypeOnly


class Device(_Wire):
    """ThingsBoard's Device."""

    id: EntityId
    createdTime: int
    tenantId: EntityId
    customerId: EntityId = Field(description="The NULL_UUID id when unassigned")
    ownerId: EntityId
    name: str
    type: str
    label: str | None
    deviceProfileId: EntityId
    deviceData: DeviceData
    firmwareId: None
    softwareId: None
    externalId: None
    version: int
    additionalInfo: dict[str, Any]


class Customer(_Wire):
    """ThingsBoard's Customer."""

    id: EntityId
    createdTime: int
    tenantId: EntityId
    title: str
    name: str
    email: str | None
    additionalInfo: dict[str, Any]
    version: int


class User(_Wire):
    """ThingsBoard's User."""

    id: EntityId
    createdTime: int
    tenantId: EntityId
    customerId: EntityId
    email: str
    name: str
    authority: Authority
    firstName: str | None
    lastName: str | None
    phone: None
    additionalInfo: dict[str, Any] = Field(description="With userCredentialsEnabled (whether the user is active)")
    version: int


class Tenant(_Wire):
    """ThingsBoard's Tenant (for tenants.py: ``schemas.tenant_json``)."""

    id: EntityId
    createdTime: int
    title: str
    name: str
    region: str
    tenantProfileId: None
    country: str | None
    state: str | None
    city: str | None
    address: str | None
    address2: str | None
    zip: str | None
    phone: str | None
    email: str | None
    additionalInfo: dict[str, Any]
    version: int


class TenantInfo(Tenant):
    """ThingsBoard's TenantInfo: a Tenant with its profile's name (claimd has no tenant profiles)."""

    tenantProfileName: None


class _PageData(_Wire):
    totalPages: int
    totalElements: int
    hasNext: bool


class DevicePageData(_PageData):
    data: list[Device]


class CustomerPageData(_PageData):
    data: list[Customer]


class UserPageData(_PageData):
    data: list[User]


class TenantPageData(_PageData):
    data: list[Tenant]


class TenantInfoPageData(_PageData):
    data: list[TenantInfo]


class DeviceCredentials(_Wire):
    id: IdOnly
    createdTime: int
    deviceId: EntityId
    credentialsType: Literal["ACCESS_TOKEN"]
    credentialsId: str = Field(description="The access token")
    credentialsValue: None
    version: int


class AuditActionData(_Wire):
    detail: str = absent("What happened, when there is more to say")
    count: int = absent("Failed guesses kept as one line: how many")
    lastTime: int = absent("Failed guesses kept as one line: when the last was (epoch ms)")


class AuditLog(_Wire):
    id: IdOnly
    createdTime: int
    tenantId: EntityId
    customerId: EntityId
    userId: EntityId | None
    entityId: EntityId | None
    entityName: str | None
    actionType: AuditAction
    actionStatus: str
    door: Door
    source: str | None
    actionData: AuditActionData


class AuditLogPageData(_PageData):
    data: list[AuditLog]


class AttributeValue(_Wire):
    lastUpdateTs: int
    key: str
    value: Any


class ClaimResult(_Wire):
    """The answer to a successful claim."""

    device: Device
    response: Literal["SUCCESS"]


#: The refused claim's body: a JSON string (ThingsBoard's ClaimResponse).
ClaimRefused = Literal["FAILURE", "CLAIMED"]


# --- bulk operations ----------------------------------------------------------------------------


class BulkSubmitted(_Wire):
    bulkOpsRequestId: str


#: The 202 answer to a bulk upload.
BULK_ACCEPTED: dict[str, Any] = {
    "model": BulkSubmitted,
    "description": "Accepted: the bulk operation's id",
    "headers": {
        "Location": {"required": True, "description": "The bulk operation's path", "schema": {"type": "string"}}
    },
}


class BulkOp(_Wire):
    bulkOpsRequestId: str
    status: BulkStatus
    outcome: Literal["SUCCEEDED", "PARTIAL", "FAILED"] | None
    endpoint: BulkEndpoint
    requestedAt: datetime
    completedAt: datetime | None
    total: int
    succeeded: int
    failed: int
    uploadedDataUrl: str = absent(
        "Answers 410 Gone (uploads are never served back); absent for CLAIM_LORAWAN_DEVICES and IMPORT_DEVICES"
    )
    resultDataUrl: str
    applicationId: str | None = absent("CLAIM_LORAWAN_DEVICES only: the rows' default application")
    resultsTaken: bool = absent("IMPORT_DEVICES only: whether its one-time result file was downloaded")
    errorSummaryUrl: str = absent("Present when a row failed")


class BulkOpList(_Wire):
    items: list[BulkOp]
    total: int


class BulkRowResult(_Wire):
    row: int = Field(description="From 1, the first data row")
    status: Literal["OK", "ERROR", "PENDING"]
    deviceId: str | None
    message: str | None


class BulkErrors(_Wire):
    errors: list[str] = Field(description='"[row]: message", rows counted from 1')


# --- ownership (nRF Cloud) ----------------------------------------------------------------------


class ClaimedDevice(_Wire):
    id: uuid.UUID
    name: str
    deviceType: str
    firmwareId: uuid.UUID | None
    imei: str | None
    ownerId: uuid.UUID | None
    ownershipStatus: Literal["IDENTIFIED", "ASSIGNED"]
    tags: list[str]
    status: ClaimedStatus
    claimedAt: datetime | None
    claimedBy: uuid.UUID | None
    blockedAt: datetime | None
    blockedBy: Literal["OWNER", "TENANT"] | None


class ClaimedDeviceList(_Wire):
    items: list[ClaimedDevice]
    total: int
    pageNextToken: str = absent("Present when there are more")


class ClaimCheck(_Wire):
    """``?dryrun=true``: the token would claim this device."""

    claimable: Literal[True]
    id: uuid.UUID


class Challenge(_Wire):
    challenge: str = Field(description="Hex")
    expiresAt: datetime
    atCommand: str


class Tag(_Wire):
    tag: str
    description: str | None
    deviceCount: int
    createdAt: datetime


class TagList(_Wire):
    items: list[Tag]
    total: int


class DeviceIdentity(_Wire):
    id: uuid.UUID
    name: str
    deviceType: str
    publicKey: str = Field(description="PEM")
    firmwareId: uuid.UUID | None
    imei: str | None
    tags: list[str]
    createdAt: datetime


# --- provisioning commands ----------------------------------------------------------------------


class Command(_Wire):
    id: uuid.UUID
    deviceId: uuid.UUID
    description: str | None
    request: dict[str, dict[str, Any]] = Field(
        description="{kind: parameters}; keys and passwords shown as a placeholder"
    )
    status: CommandStatus
    response: dict[str, Any] | None
    createdAt: datetime
    updatedAt: datetime
    deliveredAt: datetime | None
    createdBy: uuid.UUID | None


class CommandList(_Wire):
    items: list[Command]
    total: int
    pageNextToken: str = absent("Present when there are more")


class DeviceStep(_Wire):
    """One item of a device's command list (the JSON form of the CDDL's)."""

    correlationId: str
    type: Literal["AT", "CONFIG", "FINISHED"]
    setCommand: str = absent("AT steps")
    parameters: str = absent("AT steps")
    ignoreCmeErrors: list[int] = absent("AT steps")
    properties: dict[str, str] = absent("CONFIG steps")


class ReportOutcome(_Wire):
    applied: int
    ignored: list[str] = Field(description="The reports that matched no open command")


# --- roles and API keys -------------------------------------------------------------------------


class Role(_Wire):
    name: str
    description: str | None
    builtIn: bool
    permissions: list[str]


class RoleList(_Wire):
    items: list[Role]
    total: int


class UserRoleSet(_Wire):
    userId: uuid.UUID
    role: str


class ApiKey(_Wire):
    id: uuid.UUID
    name: str
    prefix: str
    userId: uuid.UUID
    createdAt: datetime


class ApiKeyList(_Wire):
    items: list[ApiKey]
    total: int


class NewApiKey(ApiKey):
    key: str = Field(description="The key itself: shown this once")


# --- The Things Stack ---------------------------------------------------------------------------


class ApplicationIds(_Wire):
    application_id: str | None


class EndDeviceIds(_Wire):
    device_id: str | None
    application_ids: ApplicationIds
    dev_eui: str
    join_eui: str


class ClaimedInBatch(_Wire):
    end_device_ids: EndDeviceIds
    created: bool


class FailedInBatch(_Wire):
    error: TtsErrorDetails


class ClaimBatch(_Wire):
    results: list[ClaimedInBatch | FailedInBatch] = Field(description="One per request, in order")


class ClaimInfo(_Wire):
    join_eui: str
    supports_claiming: bool


class ClaimInfoBatch(_Wire):
    infos: list[ClaimInfo]


class UnclaimBatch(_Wire):
    application_ids: ApplicationIds
    failed: dict[str, TtsErrorDetails] = Field(description="By device id: the devices that could not be unclaimed")


class ClaimStatus(_Wire):
    end_device_ids: EndDeviceIds
    locked: bool
    claimed_at: datetime | None


class TtsEmpty(_Wire):
    """``{}``"""


class _ApplicationIdOnly(_Wire):
    application_id: str


class Application(_Wire):
    ids: _ApplicationIdOnly
    created_at: datetime | None
    end_device_count: int


class Applications(_Wire):
    applications: list[Application]


class ProfileIds(_Wire):
    vendor_id: int
    vendor_profile_id: int


class EndDevice(_Wire):
    ids: EndDeviceIds
    name: str
    created_at: datetime | None
    lora_alliance_profile_ids: ProfileIds
    serial_number: str | None


class EndDevices(_Wire):
    end_devices: list[EndDevice]


class FieldMask(_Wire):
    paths: list[str]


class QrFormat(_Wire):
    name: str
    description: str
    field_mask: FieldMask


class QrFormats(_Wire):
    formats: dict[str, QrFormat]


class EmbeddedImage(_Wire):
    mime_type: Literal["image/png", "image/svg+xml"]
    data: str = Field(description="base64")


class QrImage(_Wire):
    embedded: EmbeddedImage


class QrCode(_Wire):
    text: str
    image: QrImage = absent("When the request asked for an image")


class _ParsedIds(_Wire):
    dev_eui: str
    join_eui: str = absent("When the format carries it")


class CodeValue(_Wire):
    value: str


class _TemplateDevice(_Wire):
    ids: _ParsedIds
    claim_authentication_code: CodeValue = absent("When the QR code carries it")
    lora_alliance_profile_ids: ProfileIds = absent("When the QR code carries them")
    serial_number: str = absent("When the QR code carries it")


class _Template(_Wire):
    end_device: _TemplateDevice
    field_mask: FieldMask


class ParsedQr(_Wire):
    format_id: str
    end_device_template: _Template


# --- claimd's LoRaWAN devices -------------------------------------------------------------------


class _Euis(_Wire):
    dev_eui: str
    join_eui: str


class CodeState(_Wire):
    valid_from: datetime | None
    valid_to: datetime | None
    spent_at: datetime | None


class CodeShown(CodeState):
    value: str = Field(description="Shown this once")


class LorawanDevice(_Wire):
    """A tenant's LoRaWAN device: never its code."""

    id: uuid.UUID
    name: str
    ids: _Euis
    claim_authentication_code: CodeState
    lora_alliance_profile_ids: ProfileIds
    serial_number: str | None
    owner_id: uuid.UUID | None
    claimed_at: datetime | None
    blocked: bool
    created_at: datetime


class LorawanDeviceWithCode(LorawanDevice):
    """The answer to the request that set a code: the only time the code and its QR text are shown."""

    claim_authentication_code: CodeShown
    qr_code: str
