"""What one row of each kind of bulk upload does (the handlers the bulk worker runs, see
:mod:`claimd.services.bulk`): the same service calls as a single request, from the row's cells.

The claim service is taken as a parameter and described here only by what the rows call of it
(:class:`RowClaims`), so that this module does not depend on where the claim core lives.
"""

from __future__ import annotations

import uuid
from typing import Any, NamedTuple, Protocol

from claimd.domain.bulk import BulkEndpoint, BulkOp, BulkRow, claim_row, identity_row, lorawan_claim_row
from claimd.domain.errors import InvalidArgument
from claimd.domain.model import Device, Principal
from claimd.domain.ownership import parse_tags
from claimd.services.bulk import BULK, RefusalHandler, RowHandler
from claimd.services.common import Origin, RowDone
from claimd.services.lorawan import proof_from_cells
from claimd.services.ownership import IdentityDraft, OwnershipService


class Claimed(Protocol):
    """A claim's result, as far as a row needs it: the device claimed."""

    @property
    def device(self) -> Device: ...


class RowClaims(Protocol):
    """What the rows call of the claim service (``container.claims``)."""

    async def claim_with_token(
        self, principal: Principal, token_text: str, tags: object, origin: Origin, /, *, done: RowDone | None = None
    ) -> Claimed: ...

    async def claim_with_code(
        self,
        principal: Principal,
        proof: Any,  # what services.lorawan.proof_from_cells makes of the row's proof cells
        application_id: str,
        device_id: str | None,
        origin: Origin,
        /,
        *,
        done: RowDone | None = None,
    ) -> Claimed: ...

    async def void_token(self, tenant_id: uuid.UUID, token_text: str, /) -> bool: ...


class RowHandlers(NamedTuple):
    """The bulk worker's handlers (:class:`claimd.services.bulk.BulkService`): per endpoint, what a
    row does, and what becomes of the secret of a row it refused."""

    work: dict[BulkEndpoint, RowHandler]
    refusals: dict[BulkEndpoint, RefusalHandler]


def row_handlers(claims: RowClaims, ownership: OwnershipService) -> RowHandlers:
    """Every endpoint's row handlers, on these services."""
    return RowHandlers(_work(claims, ownership), _refusals(claims))


def _work(claims: RowClaims, ownership: OwnershipService) -> dict[BulkEndpoint, RowHandler]:

    async def claim(principal: Principal, op: BulkOp, row: BulkRow, done: RowDone) -> uuid.UUID:
        token, tags = claim_row(row.line)
        return (await claims.claim_with_token(principal, token, tags, BULK, done=done)).device.id

    async def register(principal: Principal, op: BulkOp, row: BulkRow, done: RowDone) -> uuid.UUID:
        cells = identity_row(row.line)
        try:
            device_id = uuid.UUID(cells["id"])
            firmware = uuid.UUID(cells["firmwareId"]) if "firmwareId" in cells else None
        except ValueError:
            raise InvalidArgument("id and firmwareId must be UUIDs") from None
        draft = IdentityDraft(
            device_id,
            cells["publicKey"],
            cells.get("name"),
            cells.get("deviceType"),
            firmware,
            cells.get("imei"),
            parse_tags(cells.get("tags")),
        )
        return (await ownership.register_identity(principal, draft, done=done)).device.id

    async def claim_lorawan(principal: Principal, op: BulkOp, row: BulkRow, done: RowDone) -> uuid.UUID:
        proof_cells, application_id, device_id = lorawan_claim_row(row.line)
        proof = proof_from_cells(proof_cells)
        application_id = application_id or op.application_id
        if not application_id:
            raise InvalidArgument("the row names no application_id and the upload gave none (?application_id=)")
        return (await claims.claim_with_code(principal, proof, application_id, device_id, BULK, done=done)).device.id

    return {
        BulkEndpoint.CLAIM_DEVICE_OWNERSHIP: claim,
        BulkEndpoint.REGISTER_PUBLIC_KEYS: register,
        BulkEndpoint.CLAIM_LORAWAN_DEVICES: claim_lorawan,
    }


def _refusals(claims: RowClaims) -> dict[BulkEndpoint, RefusalHandler]:
    """What a refused row's secret becomes: a claim token is spent (it was uploaded, so it may have
    been seen). A LoRaWAN code is not: it is the device's own, and its guesses have their lockouts."""

    async def void_token(op: BulkOp, row: BulkRow) -> None:
        try:
            token, _tags = claim_row(row.line)
        except InvalidArgument:  # no token in the row
            return
        await claims.void_token(op.tenant_id, token)

    return {BulkEndpoint.CLAIM_DEVICE_OWNERSHIP: void_token}
