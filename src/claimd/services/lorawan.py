"""LoRaWAN use cases around the claim core: a tenant registers devices with claim authentication
codes (one by one or by file) and renews codes; a customer reads a QR code, files its devices in
applications, looks at their claim status and unclaims them. The claim itself is
:meth:`claimd.services.claiming.ClaimService.claim_with_code`, the one claim core.

The Things Stack's applications are groups of one customer's devices: an application id names a
group of the claiming customer, made on its first use; the device's id in it defaults to
``eui-<deveui>``. Unclaiming (or any release or reassignment) takes the device out of the group.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace

from claimd.domain.errors import ClaimdError, InvalidArgument, NotFound
from claimd.domain.lorawan import (
    DevEuiTaken,
    LorawanDraft,
    LorawanIdentity,
    check_code_window,
    check_tts_id,
    normalize_code,
    parse_eui,
)
from claimd.domain.lorawan_qr import format_tr005, parse_qr
from claimd.domain.model import Device, Principal
from claimd.domain.roles import DEVICE_READ
from claimd.services.claiming import ClaimService, CodeProof, code_digest
from claimd.services.common import Origin, RowDone, record_row, require
from claimd.services.devices import DeviceDraft, DeviceService, require_tenant_admin
from claimd.services.ports import Clock, SecretHasher
from claimd.services.stores import Repository
from claimd.services.uow import UnitOfWorkFactory

log = logging.getLogger("claimd.lorawan")

DEVICE_TYPE = "lorawan"
MAX_BATCH = 20  # TTS's batch limit (unclaim, info); claimd's batch claim takes up to MAX_BATCH_CLAIMS
MAX_BATCH_CLAIMS = 100
IMPORT_BATCH_ROWS = 100


class QRCodeWithoutCode(InvalidArgument):
    code = "QR_NO_CLAIM_CODE"


def proof_from_qr(text: str | bytes) -> CodeProof:
    """The claim identifiers a device QR code carries (TTS's ``qr_code`` claim source)."""
    _, qr = parse_qr(text)
    if qr.join_eui is None or not qr.owner_token:
        raise QRCodeWithoutCode(
            "the QR code carries no JoinEUI and claim authentication code (owner token); "
            "a TR005 code with an O extension does"
        )
    return CodeProof(qr.join_eui, qr.dev_eui, qr.owner_token)


def proof_from_cells(cells: list[str]) -> CodeProof:
    """A claim row's proof (:func:`claimd.domain.bulk.lorawan_claim_row`): one cell is a device QR
    code, three are the JoinEUI, the DevEUI and the claim authentication code."""
    return proof_from_qr(cells[0]) if len(cells) == 1 else CodeProof(*cells)


def qr_text(identity: LorawanIdentity, code: str) -> str:
    """The device's TR005 QR code text, with its code as owner token and its checksum."""
    return format_tr005(
        identity.join_eui,
        identity.dev_eui,
        vendor_id=identity.vendor_id,
        profile_id=identity.profile_id,
        owner_token=code,
        serial=identity.serial or "",
    )


@dataclass(frozen=True, slots=True)
class Provisioned:
    device: Device
    identity: LorawanIdentity
    code: str  # shown once, in the answer to the request that set it

    @property
    def qr_text(self) -> str:
        return qr_text(self.identity, self.code)


@dataclass(frozen=True, slots=True)
class ImportResult:
    index: int
    provisioned: Provisioned | None = None
    error: ClaimdError | None = None


class LorawanService:
    def __init__(
        self,
        uow: UnitOfWorkFactory[Repository],
        hasher: SecretHasher,
        devices: DeviceService,
        claims: ClaimService,
        clock: Clock,
        new_code: Callable[[], str],
    ) -> None:
        self.uow = uow
        self.hasher = hasher
        self.devices = devices
        self.claims = claims
        self.clock = clock
        self.new_code = new_code

    # tenant ----------------------------------------------------------------------------------
    async def provision(self, principal: Principal, draft: LorawanDraft, done: RowDone | None = None) -> Provisioned:
        """A new device with its LoRaWAN identity; its code is ``draft.code`` or 8 random hex digits."""
        require_tenant_admin(principal)
        code = draft.code or self.new_code()
        async with self.uow(write=True) as tx:
            if await tx.repo.get_lorawan(principal.tenant_id, draft.dev_eui) is not None:  # before the name clash
                raise DevEuiTaken(f"a device with DevEUI {draft.dev_eui} is already registered")
            device = await self.devices.add(
                tx,
                principal.tenant_id,
                DeviceDraft(name=draft.name or f"eui-{draft.dev_eui.lower()}", type=DEVICE_TYPE),
            )
            identity = LorawanIdentity(
                device_id=device.id,
                tenant_id=principal.tenant_id,
                dev_eui=draft.dev_eui,
                join_eui=draft.join_eui,
                created_time=device.created_time,
                vendor_id=draft.vendor_id,
                profile_id=draft.profile_id,
                serial=draft.serial,
                valid_from=draft.valid_from,
                valid_to=draft.valid_to,
            )
            await tx.repo.add_lorawan(identity, code_digest(self.hasher, principal.tenant_id, draft.dev_eui, code))
            await record_row(tx.repo, done, device.id)
        return Provisioned(device, identity, code)

    def check_importer(self, principal: Principal) -> None:
        """Refuse a caller who may not import devices before the upload is read."""
        require_tenant_admin(principal)

    async def import_devices(
        self, principal: Principal, rows: AsyncIterator[tuple[int, LorawanDraft | ClaimdError]]
    ) -> AsyncIterator[ImportResult]:
        """Register the devices of a file as they are read: each row on its own (a bad row fails
        alone), in write batches of up to 100 rows; a batch's results come once it has committed."""
        require_tenant_admin(principal)
        pending: list[tuple[int, LorawanDraft | ClaimdError]] = []

        async def one(index: int, draft: LorawanDraft | ClaimdError, alone: bool) -> ImportResult:
            if isinstance(draft, ClaimdError):
                return ImportResult(index, error=draft)
            try:
                return ImportResult(index, await self.provision(principal, draft))
            except ClaimdError as exc:
                return ImportResult(index, error=exc)
            except Exception:
                if not alone:
                    raise
                log.exception("LoRaWAN import: row %d failed unexpectedly", index)
                return ImportResult(index, error=ClaimdError("internal error"))

        async def flush() -> list[ImportResult]:
            try:
                async with self.uow.batch():
                    results = [await one(index, draft, False) for index, draft in pending]
            except Exception:  # the batch is rolled back whole; row by row, the failing row fails alone
                log.warning("LoRaWAN import: a batch failed; working its rows one by one", exc_info=True)
                results = [await one(index, draft, True) for index, draft in pending]
            pending.clear()
            return results

        async for row in rows:
            pending.append(row)
            if len(pending) >= IMPORT_BATCH_ROWS:
                for result in await flush():
                    yield result
        if pending:
            for result in await flush():
                yield result

    async def get(self, principal: Principal, dev_eui: str) -> tuple[Device, LorawanIdentity]:
        require_tenant_admin(principal)
        async with self.uow() as tx:
            found = await tx.repo.get_lorawan(principal.tenant_id, parse_eui(dev_eui, what="DevEUI"))
        if found is None:
            raise NotFound(f"No LoRaWAN device with DevEUI {dev_eui}")
        return found

    async def set_code(
        self, principal: Principal, dev_eui: str, code: str | None, valid_from: int | None, valid_to: int | None
    ) -> Provisioned:
        """A new claim authentication code (given or generated) and window for a device: the old code
        stops claiming it, and a spent one is replaced (after an unclaim, the device is claimable
        again with the new code)."""
        require_tenant_admin(principal)
        check_code_window(valid_from, valid_to)
        code = normalize_code(code) if code else self.new_code()
        dev_eui = parse_eui(dev_eui, what="DevEUI")
        async with self.uow(write=True) as tx:
            found = await tx.repo.get_lorawan(principal.tenant_id, dev_eui)
            if found is None:
                raise NotFound(f"No LoRaWAN device with DevEUI {dev_eui}")
            device, identity = found
            await tx.repo.set_code(
                device.id, code_digest(self.hasher, principal.tenant_id, dev_eui, code), valid_from, valid_to
            )
        return Provisioned(
            device, replace(identity, valid_from=valid_from, valid_to=valid_to, code_spent_at=None), code
        )

    # customer --------------------------------------------------------------------------------
    async def supports_claiming(self, principal: Principal, join_euis: list[str]) -> dict[str, bool]:
        """TTS's GetInfoByJoinEUI: whether claimd claims devices of this JoinEUI for the caller, i.e.
        whether the caller's tenant registered any device with it."""
        euis = [parse_eui(e, what="JoinEUI") for e in join_euis]
        async with self.uow() as tx:
            known = await tx.repo.known_join_euis(principal.tenant_id, euis)
        return {e: e in known for e in euis}

    def _customer(self, principal: Principal) -> uuid.UUID:
        require(principal, DEVICE_READ)
        if principal.customer_id is None:
            raise NotFound("Applications belong to customers; a tenant administrator has none")
        return principal.customer_id

    async def applications(self, principal: Principal) -> list[tuple[str, int, int]]:
        customer = self._customer(principal)
        async with self.uow() as tx:
            return await tx.repo.list_applications(customer)

    async def list_devices(
        self, principal: Principal, application_id: str, page: int, limit: int
    ) -> tuple[list[tuple[Device, LorawanIdentity]], int]:
        customer = self._customer(principal)
        check_tts_id(application_id, "application_id")
        if not 1 <= limit <= 1000 or not 1 <= page <= 2**31:
            raise InvalidArgument("limit is 1 to 1000 and page (1-based) at least 1")
        async with self.uow() as tx:
            return await tx.repo.list_lorawan(customer, application_id, (page - 1) * limit, limit)

    async def find(
        self, principal: Principal, application_id: str, device_ids: list[str]
    ) -> dict[str, tuple[Device, LorawanIdentity]]:
        """The caller's customer's devices of an application, by their ids in it (unknown ids left out)."""
        customer = self._customer(principal)
        check_tts_id(application_id, "application_id")
        async with self.uow() as tx:
            return await tx.repo.lorawan_in_application(customer, application_id, device_ids)

    async def status(self, principal: Principal, application_id: str, device_id: str) -> tuple[Device, LorawanIdentity]:
        found = (await self.find(principal, application_id, [device_id])).get(device_id)
        if found is None:
            raise NotFound(f"end device `{device_id}` not found in application `{application_id}`")
        return found

    async def unclaim(
        self, principal: Principal, application_id: str, device_ids: list[str], origin: Origin
    ) -> dict[str, ClaimdError]:
        """Release devices of an application, each on its own; the devices that could not be, with why.
        The codes stay spent: the tenant sets a new one to make a device claimable again."""
        found = await self.find(principal, application_id, device_ids)
        failed: dict[str, ClaimdError] = {}
        for device_id in device_ids:
            if device_id not in found:
                failed[device_id] = NotFound(f"end device `{device_id}` not found in application `{application_id}`")
                continue
            try:
                await self.claims.unclaim(principal, found[device_id][0].id, origin)
            except ClaimdError as exc:
                failed[device_id] = exc
        return failed
