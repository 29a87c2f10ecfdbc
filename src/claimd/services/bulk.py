"""Bulk operations: a CSV upload becomes a durable job that any node's worker carries out row by row.

* Upload: the body is streamed into ``bulk_rows`` in batches (memory does not grow with the file),
  then the job becomes PENDING. The same ``Idempotency-Key`` from the same user is one job.
* Work: a worker leases a job (a lease that runs out when its worker dies) and takes open rows in
  order, in batches: one write transaction per batch, one savepoint per row. Each row's effect (a
  claim, a registration) and the row's outcome are in the same savepoint and commit together, with
  the job's counters, when the batch commits, so a restart never does a row twice. The services do
  not know about batches: their units of work become the rows' savepoints.
* Secrets: every row is sealed at rest (claim rows hold tokens, LoRaWAN rows codes), its line is
  dropped once the row is done, and no upload is served back. A refused row's secret was uploaded
  and may have been seen, so the endpoint's refusal hook spends it (a claim token: its nonce is
  recorded as used) before the row's error is recorded: it never claims later.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import hashlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace

from claimd.domain.bulk import (
    BulkEndpoint,
    BulkOp,
    BulkRow,
    BulkStatus,
    RecordSplitter,
    is_header,
    is_ulid,
    new_ulid,
)
from claimd.domain.errors import ClaimdError, Conflict, InvalidArgument, NotFound, PermissionDenied
from claimd.domain.inputs import check_text
from claimd.domain.lorawan import check_tts_id
from claimd.domain.model import Door, Principal
from claimd.domain.roles import BULK_READ, BULK_WRITE, DEVICE_CLAIM
from claimd.services.accounts import AccountService
from claimd.services.common import Origin, RowDone
from claimd.services.ports import NO_METRICS, Clock, Metrics, Sealer, SecretHasher
from claimd.services.stores import Repository, ResultRow
from claimd.services.uow import UnitOfWorkFactory

log = logging.getLogger("claimd.bulk")

UPLOAD_BATCH = 1000
# A worker works rows in batches: one write transaction of at most BATCH_ROWS rows or BATCH_S seconds,
# whichever comes first, a savepoint per row. A row then costs a savepoint instead of a transaction of
# its own (on PostgreSQL, no commit to wait for per row) and the job's counters are written once per
# batch. The batch holds the writer for its whole length: on SQLite the one write connection and the
# write lock, so a single claim (through the API, MQTT, CoAP) waits for the batch to end; on
# PostgreSQL a claim waits only for a device the batch has locked. Measured with bench/bulk_claims.py
# (2,000 rows on SQLite, a single claim through the API every 0.5 s meanwhile): rows/s is flat from
# 10 rows per batch up (a row costs ~3-5 ms of statements whatever the batch), while the slowest
# single claim grows with the batch: ~90 ms at 10 rows, ~260 ms at 0.25 s, ~520 ms at 0.5 s. On
# PostgreSQL one row per transaction was ~25% slower than 10 or more. Hence 0.1 s: ~20-30 rows, the
# commit cost spread thin, and a claim waits ~50 ms on average (slowest seen: 163 ms over 100,000
# rows); the 100-row cap only matters for rows much cheaper than a claim.
BATCH_ROWS = 100
BATCH_S = 0.1
MAX_ROWS = 1_000_000
BULK = Origin(Door.BULK)


class IdempotencyMismatch(Conflict):
    code = "IDEMPOTENCY_KEY_REUSED"


class LeaseLost(Exception):
    """Another worker took the job over (this worker's lease ran out)."""


RowHandler = Callable[[Principal, BulkOp, BulkRow, RowDone], Awaitable[uuid.UUID | None]]
# What an endpoint does with a row it refused (the row as uploaded): spend the secret it carried.
RefusalHandler = Callable[[BulkOp, BulkRow], Awaitable[None]]


def _row_error(exc: ClaimdError) -> str:
    return f"{exc.code}: {exc.message}" if exc.code else exc.message


class BulkService:
    def __init__(
        self,
        uow: UnitOfWorkFactory[Repository],
        accounts: AccountService,
        clock: Clock,
        handlers: dict[BulkEndpoint, RowHandler],
        sealer: Sealer,
        hasher: SecretHasher,
        lease_ms: int = 30_000,
        refusals: dict[BulkEndpoint, RefusalHandler] | None = None,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self.uow = uow
        self.metrics = metrics
        self.sealer = sealer
        self.hasher = hasher
        self.accounts = accounts
        self.clock = clock
        self.handlers = handlers
        self.refusals = refusals or {}
        self.lease_ms = lease_ms
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.wakeup = asyncio.Event()

    # submitting ------------------------------------------------------------------------------
    @staticmethod
    def check_submitter(principal: Principal, endpoint: BulkEndpoint) -> None:
        if endpoint is BulkEndpoint.REGISTER_PUBLIC_KEYS:
            if not principal.is_tenant_admin:
                raise PermissionDenied()
        elif not principal.is_customer_user or not principal.can(DEVICE_CLAIM):
            raise PermissionDenied("Bulk claims are for customer users whose role may claim (Device × Claim)")
        if not principal.can(BULK_WRITE):
            raise PermissionDenied("Your role does not allow bulk operations (Bulk × Write)")

    async def submit(
        self,
        principal: Principal,
        endpoint: BulkEndpoint,
        body: AsyncIterator[bytes],
        idempotency_key: str | None = None,
        application_id: str | None = None,
    ) -> tuple[BulkOp, bool]:
        """Store an uploaded CSV as a job; returns it and whether it is new (False: the same upload
        with the same Idempotency-Key was received before). ``application_id``: the default
        application of a LoRaWAN claim job's rows."""
        self.check_submitter(principal, endpoint)
        if idempotency_key is not None and not (0 < len(idempotency_key) <= 255):
            raise InvalidArgument("Idempotency-Key must be 1-255 characters")
        if application_id is not None:
            check_tts_id(application_id, "application_id")
        op = BulkOp(
            new_ulid(self.clock()),
            principal.tenant_id,
            principal.customer_id,
            principal.user_id,
            endpoint,
            BulkStatus.UPLOADING,
            self.clock(),
            application_id=application_id,
        )
        async with self.uow(write=True) as tx:
            created = await tx.repo.create_op(op, idempotency_key)
        if not created:
            assert idempotency_key is not None
            return await self._repeat(principal, idempotency_key, body), False
        try:
            total = await self._store_rows(op, body)
        except BaseException:
            async with self.uow(write=True) as tx:
                await tx.repo.delete_op(op.id)
            raise
        self.wakeup.set()
        return replace(op, status=BulkStatus.PENDING, total=total), True

    def _upload_digest(self, user_id: uuid.UUID, sha256_hex: str) -> bytes:
        """What tells a repeated upload, keyed: the upload holds secrets (a one-row upload of a short
        LoRaWAN code could be guessed offline against a plain SHA-256)."""
        return self.hasher.digest("bulk-upload", str(user_id), sha256_hex)

    async def _repeat(self, principal: Principal, key: str, body: AsyncIterator[bytes]) -> BulkOp:
        sha256 = hashlib.sha256()
        async for chunk in body:
            sha256.update(chunk)
        async with self.uow() as tx:
            found = await tx.repo.find_op_by_key(principal.user_id, key)
        if found is None or found[0].status is BulkStatus.UPLOADING:
            raise Conflict("An upload with this Idempotency-Key is still being received; retry shortly")
        op, stored = found
        if stored != self._upload_digest(principal.user_id, sha256.hexdigest()):
            raise IdempotencyMismatch("This Idempotency-Key was used for a different upload")
        return op

    async def _store_rows(self, op: BulkOp, body: AsyncIterator[bytes]) -> int:
        sha256 = hashlib.sha256()
        decoder = codecs.getincrementaldecoder("utf-8-sig")()
        splitter = RecordSplitter()
        batch: list[BulkRow] = []
        total = 0  # also the number of the last row taken: rows are numbered from 1

        async def flush() -> None:
            nonlocal batch
            async with self.uow(write=True) as tx:
                await tx.repo.add_rows(op.id, batch)
            batch = []

        async def take(rows: object) -> None:
            nonlocal total
            for row in rows:  # type: ignore[attr-defined]
                if total == 0 and is_header(op.endpoint, row):
                    continue
                total += 1
                if total > MAX_ROWS:
                    raise InvalidArgument(f"A bulk upload has at most {MAX_ROWS} rows")
                batch.append(BulkRow(total, self.sealer.seal(row.line)))
                if len(batch) >= UPLOAD_BATCH:
                    await flush()

        try:
            async for chunk in body:
                sha256.update(chunk)
                await take(splitter.feed(decoder.decode(chunk)))
            await take(splitter.feed(decoder.decode(b"", final=True)))
            await take(splitter.close())
        except UnicodeDecodeError:
            raise InvalidArgument("The upload is not UTF-8 text") from None
        if total == 0:
            raise InvalidArgument("The upload has no rows")
        await flush()
        async with self.uow(write=True) as tx:
            await tx.repo.finish_upload(op.id, total, self._upload_digest(op.user_id, sha256.hexdigest()))
        return total

    # reading ---------------------------------------------------------------------------------
    async def get(self, principal: Principal, op_id: str) -> BulkOp:
        if not principal.can(BULK_READ) or not is_ulid(op_id):
            raise NotFound("No bulk operation with this id")
        async with self.uow() as tx:
            op = await tx.repo.get_op(op_id)
        if (
            op is None
            or op.tenant_id != principal.tenant_id
            or (principal.is_customer_user and op.customer_id != principal.customer_id)
        ):
            raise NotFound("No bulk operation with this id")
        return op

    async def list(self, principal: Principal, limit: int = 100) -> list[BulkOp]:
        if not principal.can(BULK_READ):
            raise PermissionDenied()
        async with self.uow() as tx:
            return await tx.repo.list_ops(principal.tenant_id, principal.customer_id, limit)

    async def rows(self, op: BulkOp, errors_only: bool = False) -> AsyncIterator[ResultRow]:
        """The rows of a job (as :meth:`get` returned it to its reader) with their outcomes, streamed
        in pages for the result files."""
        op_id = op.id
        after = -1
        while True:
            async with self.uow() as tx:
                page = await tx.repo.result_rows(op_id, after, 1000, errors_only)
            for row in page:
                yield row
            if len(page) < 1000:
                return
            after = page[-1].row_index

    # working ---------------------------------------------------------------------------------
    async def run_once(self) -> bool:
        """Lease one job and work it to the end; False when no job was waiting."""
        now = self.clock()
        async with self.uow(write=True) as tx:
            op = await tx.repo.lease_next(self.owner, now, self.lease_ms)
        if op is None:
            return False
        self.metrics.bulk_job(op.endpoint, "started")
        ended = "stopped"  # cancelled: the process is stopping
        try:
            ended = await self._work(op)
        except Exception:
            ended = "error"
            raise
        finally:
            self.metrics.bulk_job(op.endpoint, ended)
        return True

    async def _principal(self, op: BulkOp) -> Principal | None:
        async with self.uow() as tx:
            access = await tx.repo.get_user_access(op.user_id)
        return self.accounts.principal_of(access) if access is not None else None

    async def _work(self, op: BulkOp) -> str:
        """Work ``op`` to its end: "completed", or "lease_lost" when another worker took it over."""
        handler = self.handlers[op.endpoint]
        principal = await self._principal(op)
        after = -1
        while True:
            try:
                last = await self._batch(op, principal, handler, after)
            except LeaseLost:
                log.warning("bulk operation %s: lease lost; another worker continues it", op.id)
                return "lease_lost"
            if last is None:
                break
            after = last
            # The batch gave the writer back; a request waiting for it (on SQLite, for the one write
            # connection) takes it now, before the next batch does.
            await asyncio.sleep(0)
        async with self.uow(write=True) as tx:
            await tx.repo.complete_op(op.id, self.owner, self.clock())
        return "completed"

    async def _batch(self, op: BulkOp, principal: Principal | None, handler: RowHandler, after: int) -> int | None:
        """Work the next open rows (after row ``after``) in one write transaction, each row in its own
        savepoint; returns the index of the last row worked, or None when no row was open.

        The batch renews the job's lease first, in the same transaction: on PostgreSQL that locks the
        job's row, so no other worker can lease the job until the batch has committed. A batch that
        fails as a whole (an unexpected error, which on PostgreSQL spoils the whole transaction) is
        rolled back and its rows are worked again one transaction each, where the failing row fails
        alone."""
        rows: list[BulkRow] = []
        tried = ok = 0
        loop = asyncio.get_running_loop()
        try:
            async with self.uow.batch():
                async with self.uow(write=True) as tx:
                    if not await tx.repo.renew_lease(op.id, self.owner, self.clock() + self.lease_ms):
                        raise LeaseLost()
                    rows = await tx.repo.open_rows(op.id, after, BATCH_ROWS)
                deadline = loop.time() + BATCH_S
                for row in rows:
                    tried += 1
                    ok += await self._one(op, principal, handler, row, batched=True)
                    if loop.time() >= deadline:
                        break
            self._count_rows(op, ok, tried - ok)  # counted once committed
        except LeaseLost:
            raise
        except Exception:
            if not tried:
                raise
            log.warning(
                "bulk operation %s: a batch of rows %d-%d failed; working them one by one",
                op.id,
                rows[0].index,
                rows[tried - 1].index,
                exc_info=True,
            )
            for row in rows[:tried]:
                done = await self._one(op, principal, handler, row, batched=False)
                self._count_rows(op, done, not done)
        return rows[tried - 1].index if tried else None

    def _count_rows(self, op: BulkOp, ok: int, failed: int) -> None:
        if ok:
            self.metrics.bulk_rows(op.endpoint, "ok", ok)
        if failed:
            self.metrics.bulk_rows(op.endpoint, "failed", failed)

    async def _one(
        self, op: BulkOp, principal: Principal | None, handler: RowHandler, row: BulkRow, *, batched: bool
    ) -> bool:
        """One row: its effect and its outcome commit together (in a batch, in the row's savepoint); a
        row that fails rolls back, has its secret spent and records its error instead. True: the row
        succeeded."""
        done = RowDone(op.id, row.index)
        plain: BulkRow | None = None
        try:
            plain = BulkRow(row.index, self._unseal(row.line))
            check_text(plain.line, "the row")  # a NUL must be this row's error, not the database's
            if principal is None:
                raise PermissionDenied("The user who uploaded this file no longer exists")
            await handler(principal, op, plain, done)
            return True
        except ClaimdError as exc:
            message = _row_error(exc)
        except Exception:
            if batched:  # the batch is redone row by row; there this row fails alone
                raise
            # one bad row must not stop the job; the log has the trace, not the row
            log.exception("bulk operation %s: row %d failed unexpectedly", op.id, row.index)
            message = "internal error"
        if plain is not None:
            await self._spend(op, plain, batched=batched)
        async with self.uow(write=True) as tx:
            await tx.repo.finish_row(op.id, row.index, False, None, message)
        return False

    def _unseal(self, sealed: str) -> str:
        try:
            return self.sealer.unseal(sealed)
        except Exception:  # stored by a claimd that kept rows readable, or under another server secret
            raise InvalidArgument(
                "the row cannot be unsealed (stored by an older claimd or under another server secret); upload it again"
            ) from None

    async def _spend(self, op: BulkOp, row: BulkRow, *, batched: bool) -> None:
        """Spend the secret of a refused row through its endpoint's refusal hook. It never makes the
        row fail otherwise; in a batch an unexpected error redoes the batch row by row, as for rows."""
        hook = self.refusals.get(op.endpoint)
        if hook is None:
            return
        try:
            await hook(op, row)
        except Exception:
            if batched:
                raise
            log.exception("bulk operation %s: row %d: the refused row's secret could not be spent", op.id, row.index)

    async def run_forever(self, poll_s: float = 1.0) -> None:
        """The worker loop of ``claimd serve``: work jobs while there are some, else wait for a new
        upload (or poll, for jobs of other nodes and jobs whose worker died)."""
        while True:
            try:
                while await self.run_once():
                    pass
            except Exception:
                log.exception("bulk worker: unexpected error; retrying")
            self.wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), poll_s)
