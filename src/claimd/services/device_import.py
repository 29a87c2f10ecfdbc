"""A fleet import: every kind of device from one CSV or JSON-lines file, as a durable bulk job.

The bulk engine (:class:`claimd.services.bulk.BulkService`) stores the upload in sealed chunks of
:data:`CHUNK_ROWS` rows (cut by :class:`claimd.domain.device_import.LineChunker`) and works it a chunk
at a time. This module does what a chunk means:

* :meth:`DeviceImportService.prepare`, outside any write transaction: :func:`make_chunk`, in a worker
  process (the CPU work of a row, ~30 µs, is then off the event loop and on the other core), reads the
  rows (:mod:`claimd.domain.device_import`), generates what a row asks claimd to generate (access
  tokens, claim keys, LoRaWAN codes) and turns every secret into what is stored — keyed digests (HMAC,
  microseconds; never a password hash), the access token also sealed, as every device's is; then the
  customers the rows name are looked up (one query).
* :meth:`DeviceImportService.write`, in the chunk's write transaction: the store writes the devices
  set-based (``COPY`` into a staging table and one ``INSERT … SELECT`` on PostgreSQL, ``executemany``
  on SQLite) and says which rows it could not store; the rows' results are made then.

Each row's result (:data:`RESULT_FIELDS`) carries the secrets it was given or generated: the result
file is the one place they exist in plain text, and it is downloaded once (the bulk engine seals it
until then and drops it after).
"""

from __future__ import annotations

import functools
import json
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from claimd.domain.attributes import ClaimingData
from claimd.domain.bulk import BulkOp
from claimd.domain.claim_keys import KeyPolicy, random_keys
from claimd.domain.claim_page import claim_link
from claimd.domain.claiming import MAX_EXPIRATION_MS
from claimd.domain.device_import import (
    GENERATE,
    ImportFormat,
    ImportRow,
    LineChunk,
    LineChunker,
    RowError,
    read_chunk,
)
from claimd.domain.errors import ClaimdError, InvalidArgument, PermissionDenied
from claimd.domain.lorawan_qr import format_tr005
from claimd.domain.model import Principal
from claimd.domain.roles import BULK_WRITE
from claimd.services.bulk import ChunkOutcome
from claimd.services.claiming import code_digest
from claimd.services.claiming.secret_key import claim_digest
from claimd.services.devices import ACCESS_TOKEN, require_tenant_admin
from claimd.services.lorawan import DEVICE_TYPE as LORAWAN_TYPE
from claimd.services.ports import Clock, CpuPool, Sealer, SecretHasher
from claimd.services.stores import Repository
from claimd.services.stores.imports import DeviceRecord, LorawanRecord
from claimd.services.uow import UnitOfWorkFactory

#: Rows per chunk: one chunk is one write transaction. On SQLite a transaction holds the one write lock,
#: which every claim waits for: its chunks are short. Measured with bench/device_import.py.
CHUNK_ROWS = 2_000
SQLITE_CHUNK_ROWS = 250
DEFAULT_TYPE = "default"
RESULT_FIELDS = ("row", "name", "deviceId", "accessToken", "claimKey", "claimCode", "claimLink", "qrText", "error")
CONTENT_TYPES = {
    "text/csv": ImportFormat.CSV,
    "application/x-ndjson": ImportFormat.NDJSON,
    "application/jsonl": ImportFormat.NDJSON,
    "application/json-lines": ImportFormat.NDJSON,
}


@dataclass(frozen=True, slots=True)
class ImportRequest:
    """What the worker needs of an import's request, kept with the job (``BulkOp.options``)."""

    format: ImportFormat
    key_policy: KeyPolicy
    claim_base_url: str  # the claim links' server (the public URL, or the one the upload came to)
    header: str | None = None  # CSV: the file's header line, read during the upload

    def options(self) -> dict[str, Any]:
        return {
            "format": self.format.value,
            "claimKeyLength": self.key_policy.claim_key_length,
            "claimKeyAlphabet": self.key_policy.claim_key_alphabet,
            "claimBaseUrl": self.claim_base_url,
            "header": self.header,
        }

    @classmethod
    def of_options(cls, o: dict[str, Any]) -> ImportRequest:
        return cls(
            ImportFormat(o["format"]),
            KeyPolicy(o["claimKeyLength"], o["claimKeyAlphabet"]),
            o["claimBaseUrl"],
            o.get("header"),
        )


class MadeChunk(NamedTuple):
    """A chunk's rows, read and with their secrets made: the records to store, the result line of each
    (the secrets in plain text: only for the result file), and the rows refused already."""

    records: list[DeviceRecord]
    results: dict[int, str]  # row -> its result line, if the row is stored
    errors: dict[int, tuple[str | None, str]]  # row -> (name, why)


def result_line(row: int, name: str | None = None, error: str | None = None, **fields: Any) -> str:
    """One row's line of the result file, every field present (``null`` when it has none)."""
    values = {"row": row, "name": name, **dict.fromkeys(RESULT_FIELDS[2:-1]), "error": error}
    values.update(fields)
    return json.dumps(values, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class RowMaker:
    """What makes a row's secrets and their stored forms. Picklable: chunks are made in a worker process."""

    hasher: SecretHasher
    sealer: Sealer
    normalize_key: Callable[[str], bytes]  # a public key as given -> its stored form (InvalidArgument)
    new_token: Callable[[], str]
    new_code: Callable[[], str]
    randbytes: Callable[[int], bytes] = os.urandom


def make_chunk(
    maker: RowMaker, options: dict[str, Any], tenant_id: str, chunk: LineChunk, refusal: str | None, now: int
) -> MadeChunk:
    """Read a chunk's rows and make their records: CPU only, no I/O (it runs in a worker process).
    ``refusal``: why no row of the chunk may be imported (the uploader lost the right), else None."""
    request = ImportRequest.of_options(options)
    made = MadeChunk([], {}, {})
    keys = random_keys(request.key_policy, maker.randbytes)
    taken = _Taken()
    for row in read_chunk(request.format, request.header, chunk):
        if isinstance(row, RowError):
            made.errors[row.row] = (None, row.message)
            continue
        try:
            if refusal is not None:
                raise PermissionDenied(refusal)
            taken.check(row)
            record, line = _record(maker, request, tenant_id, row, keys, now)
        except ClaimdError as exc:
            made.errors[row.row] = (row.name, exc.message)
            continue
        taken.add(row)
        made.records.append(record)
        made.results[row.row] = line
    return made


def _record(
    maker: RowMaker, request: ImportRequest, tenant_id: str, row: ImportRow, keys: Iterator[str], now: int
) -> tuple[DeviceRecord, str]:
    device_id = str(uuid.uuid4())
    token = row.access_token or maker.new_token()
    public_key = maker.normalize_key(row.public_key) if row.public_key is not None else None
    result: dict[str, Any] = {"deviceId": device_id, "accessToken": token}
    claim_value = claim_secret = None
    if row.claim_key is not None:
        key = next(keys) if row.claim_key is GENERATE else str(row.claim_key)
        expiry = row.claim_key_expires_at if row.claim_key_expires_at is not None else MAX_EXPIRATION_MS
        claim_value = _claim_value(expiry)
        claim_secret = claim_digest(maker.hasher, device_id, key)
        result["claimKey"] = key
        result["claimLink"] = result["qrText"] = claim_link(request.claim_base_url, row.name, key)
    lorawan = None
    if row.dev_eui is not None and row.join_eui is not None and row.claim_code is not None:
        code = maker.new_code() if row.claim_code is GENERATE else str(row.claim_code)
        lorawan = LorawanRecord(
            row.join_eui,
            row.dev_eui,
            code_digest(maker.hasher, tenant_id, row.dev_eui, code),
            row.valid_from,
            row.valid_to,
        )
        result["claimCode"] = code
        result.setdefault("qrText", format_tr005(row.join_eui, row.dev_eui, owner_token=code))
    if public_key is not None:
        result.setdefault("qrText", device_id)  # a token device: its identity's id
    record = DeviceRecord(
        row=row.row,
        id=device_id,
        name=row.name,
        type=row.device_type or (LORAWAN_TYPE if lorawan is not None else DEFAULT_TYPE),
        label=row.label,
        additional_info='{"gateway": true}' if row.gateway else "{}",
        customer=row.customer,
        customer_id=None,
        token_digest=maker.hasher.digest(ACCESS_TOKEN, "", token),
        token_sealed=maker.sealer.seal(token),
        claim_value=claim_value,
        claim_digest=claim_secret,
        lorawan=lorawan,
        public_key=public_key,
        tags=row.tags,
    )
    return record, result_line(row.row, row.name, **result)


class DeviceImportService:
    """The chunk work of ``IMPORT_DEVICES`` bulk jobs (the :class:`claimd.services.bulk.ChunkWork` of
    that endpoint)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory[Repository],
        maker: RowMaker,
        cpu: CpuPool,
        clock: Clock,
        chunk_rows: int = CHUNK_ROWS,
    ) -> None:
        self.uow = uow
        self.maker = maker
        self.cpu = cpu
        self.clock = clock
        self.chunk_rows = chunk_rows

    # the request -----------------------------------------------------------------------------
    @staticmethod
    def check_importer(principal: Principal) -> None:
        require_tenant_admin(principal)
        if not principal.can(BULK_WRITE):
            raise PermissionDenied("Your role does not allow bulk operations (Bulk × Write)")

    @staticmethod
    def request(
        content_type: str, claim_key_length: str | None, claim_key_alphabet: str | None, claim_base_url: str
    ) -> ImportRequest:
        """An import's request from its HTTP parts; InvalidArgument for a type or key policy refused."""
        fmt = CONTENT_TYPES.get(content_type.split(";")[0].strip().lower())
        if fmt is None:
            raise InvalidArgument(
                "A device import is text/csv (with a header line) or application/x-ndjson (JSON lines)"
            )
        return ImportRequest(fmt, KeyPolicy.from_query(claim_key_length, claim_key_alphabet), claim_base_url)

    def chunker(self, op: BulkOp) -> LineChunker:
        return LineChunker(ImportFormat(op.options["format"]), self.chunk_rows)

    def failed(self, first_row: int, row_count: int, message: str) -> ChunkOutcome:
        rows = range(first_row, first_row + row_count)
        return ChunkOutcome(
            "".join(result_line(r, error=message) + "\n" for r in rows), [(r, message) for r in rows], 0
        )

    # a chunk ---------------------------------------------------------------------------------
    async def prepare(self, principal: Principal | None, op: BulkOp, chunk: LineChunk) -> MadeChunk:
        """Make a chunk's records in the worker process, then name the customers they are assigned to."""
        refusal = None
        if principal is None:
            refusal = "The user who uploaded this file no longer exists"
        else:
            try:
                self.check_importer(principal)
            except ClaimdError as exc:
                refusal = exc.message
        made = await self.cpu.run(
            make_chunk, self.maker, dict(op.options), str(op.tenant_id), chunk, refusal, self.clock()
        )
        return await self._assign(op, made)

    async def _assign(self, op: BulkOp, made: MadeChunk) -> MadeChunk:
        """The customers the records name, by id: a record naming no customer of the tenant fails."""
        named = {r.customer for r in made.records if r.customer is not None}
        if not named:
            return made
        async with self.uow() as tx:
            found = await tx.repo.customers_named(op.tenant_id, named)
        records = []
        for record in made.records:
            if record.customer is None:
                records.append(record)
            elif record.customer in found:
                records.append(record._replace(customer_id=str(found[record.customer])))
            else:
                made.errors[record.row] = (
                    record.name,
                    f"no customer of this tenant has the id or title {record.customer!r}",
                )
                del made.results[record.row]
        return made._replace(records=records)

    async def write(self, repo: Repository, op: BulkOp, made: MadeChunk) -> ChunkOutcome:
        """Store a made chunk in the caller's transaction; the chunk's result lines and failures."""
        refused = await repo.import_devices(op.tenant_id, made.records, self.clock())
        names = {record.row: record.name for record in made.records}
        errors = dict(made.errors)
        for row, message in refused.items():
            errors[row] = (names[row], message)
        lines = []
        for row in sorted(errors.keys() | made.results.keys()):
            if row in errors:
                name, message = errors[row]
                lines.append(result_line(row, name, message))
            else:
                lines.append(made.results[row])
        failed = [(row, errors[row][1]) for row in sorted(errors)]
        return ChunkOutcome("".join(line + "\n" for line in lines), failed, len(made.results) - len(refused))


@functools.lru_cache(maxsize=64)
def _claim_value(expiry: int) -> str:
    """The stored ``claimingData`` of a key expiring then (redacted: the same for every key)."""
    return json.dumps(ClaimingData("set", expiry).redacted())


class _Taken:
    """What the rows of one chunk took so far: a later row repeating a name, a DevEUI or an access
    token is refused naming the first (the store is given one of each)."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], int] = {}

    @staticmethod
    def _values(row: ImportRow) -> Iterator[tuple[str, str]]:
        yield "name", row.name
        if row.dev_eui is not None:
            yield "dev_eui", row.dev_eui
        if row.access_token is not None:
            yield "access_token", row.access_token

    def check(self, row: ImportRow) -> None:
        for value in self._values(row):
            if value in self.seen:
                raise InvalidArgument(f"row {self.seen[value]} has the same {value[0]}")

    def add(self, row: ImportRow) -> None:
        for value in self._values(row):
            self.seen[value] = row.row
