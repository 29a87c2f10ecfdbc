"""Bulk operations: a CSV upload becomes a durable job that any node's worker carries out row by row.

* Upload: the body is streamed into ``bulk_rows`` in batches (memory does not grow with the file),
  then the job becomes PENDING. The same ``Idempotency-Key`` from the same user is one job.
* Work: a worker leases a job (a lease that runs out when its worker dies) and takes open rows in
  order, in batches: one write transaction per batch, one savepoint per row. Each row's effect (a
  claim, a registration) and the row's outcome are in the same savepoint and commit together, with
  the job's counters, when the batch commits, so a restart never does a row twice. The services do
  not know about batches: their units of work become the rows' savepoints.
* Chunked jobs (a fleet import, :mod:`claimd.services.device_import`): the upload is cut into chunks
  of thousands of rows, each sealed and stored as one record, and worked a chunk per write
  transaction by the endpoint's :class:`ChunkWork`, set-based; the chunk's results (they hold the
  secrets the rows were given or generated) are kept sealed until the result file is downloaded, once
  (:meth:`BulkService.take_results`), and dropped then.
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
import json
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from claimd.domain.bulk import (
    BulkChunk,
    BulkEndpoint,
    BulkOp,
    BulkRow,
    BulkStatus,
    RecordSplitter,
    is_header,
    is_ulid,
    new_ulid,
)
from claimd.domain.device_import import LineChunk, LineChunker
from claimd.domain.errors import ClaimdError, Conflict, Gone, InvalidArgument, NotFound, PermissionDenied
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


class NotFinished(Conflict):
    code = "BULK_NOT_FINISHED"


@dataclass(frozen=True, slots=True)
class ChunkOutcome:
    """A chunk worked: its result lines (JSON lines, in row order), its failed rows with why, and how
    many rows succeeded."""

    results: str
    errors: list[tuple[int, str]]
    succeeded: int


class ChunkWork(Protocol):
    """What a chunked endpoint does with its chunks (:class:`claimd.services.device_import.DeviceImportService`)."""

    def chunker(self, op: BulkOp) -> LineChunker:
        """How the endpoint's uploads are cut into chunks (and checked as they arrive)."""
        ...

    async def prepare(self, principal: Principal | None, op: BulkOp, chunk: LineChunk) -> Any:
        """The CPU work of a chunk, before its write transaction (``principal``: the uploader, if still there)."""
        ...

    async def write(self, repo: Repository, op: BulkOp, prepared: Any) -> ChunkOutcome:
        """Store a prepared chunk in the chunk's write transaction."""
        ...

    def failed(self, first_row: int, row_count: int, message: str) -> ChunkOutcome:
        """The outcome of a chunk none of whose rows could be worked."""
        ...


RowHandler = Callable[[Principal, BulkOp, BulkRow, RowDone], Awaitable[uuid.UUID | None]]
# What an endpoint does with a row it refused (the row as uploaded): spend the secret it carried.
RefusalHandler = Callable[[BulkOp, BulkRow], Awaitable[None]]


async def _text(body: AsyncIterator[bytes], sha256: Any) -> AsyncIterator[str]:
    """An upload as UTF-8 text (a byte order mark dropped), piece by piece, its bytes added to ``sha256``."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        async for piece in body:
            sha256.update(piece)
            yield decoder.decode(piece)
        yield decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise InvalidArgument("The upload is not UTF-8 text") from None


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
        chunked: dict[BulkEndpoint, ChunkWork] | None = None,
    ) -> None:
        self.uow = uow
        self.metrics = metrics
        self.sealer = sealer
        self.hasher = hasher
        self.accounts = accounts
        self.clock = clock
        self.handlers = handlers
        self.refusals = refusals or {}
        self.chunked = chunked or {}
        self.lease_ms = lease_ms
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.wakeup = asyncio.Event()

    # submitting ------------------------------------------------------------------------------
    @staticmethod
    def check_submitter(principal: Principal, endpoint: BulkEndpoint) -> None:
        if endpoint in (BulkEndpoint.REGISTER_PUBLIC_KEYS, BulkEndpoint.IMPORT_DEVICES):
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
        options: Mapping[str, Any] | None = None,
    ) -> tuple[BulkOp, bool]:
        """Store an uploaded CSV as a job; returns it and whether it is new (False: the same upload
        with the same Idempotency-Key was received before). ``application_id``: the default
        application of a LoRaWAN claim job's rows; ``options``: what a chunked job's worker needs."""
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
            options=dict(options or {}),
        )
        async with self.uow(write=True) as tx:
            created = await tx.repo.create_op(op, idempotency_key)
        if not created:
            assert idempotency_key is not None
            return await self._repeat(principal, idempotency_key, body), False
        try:
            work = self.chunked.get(endpoint)
            total = await (self._store_chunks(op, body, work) if work else self._store_rows(op, body))
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

        async for text in _text(body, sha256):
            await take(splitter.feed(text))
        await take(splitter.close())
        if total == 0:
            raise InvalidArgument("The upload has no rows")
        await flush()
        async with self.uow(write=True) as tx:
            await tx.repo.finish_upload(op.id, total, self._upload_digest(op.user_id, sha256.hexdigest()))
        return total

    async def _store_chunks(self, op: BulkOp, body: AsyncIterator[bytes], work: ChunkWork) -> int:
        """A chunked job's upload: cut by its endpoint's chunker, each chunk sealed as one record."""
        sha256 = hashlib.sha256()
        chunker = work.chunker(op)
        index = 0

        async def store(chunks: Iterable[LineChunk]) -> None:
            nonlocal index
            for chunk in chunks:
                sealed = self.sealer.seal("\n".join(chunk.lines))
                async with self.uow(write=True) as tx:
                    await tx.repo.add_chunk(op.id, BulkChunk(index, chunk.first_row, len(chunk.lines), sealed))
                index += 1

        async for text in _text(body, sha256):
            await store(chunker.feed(text))
        await store(chunker.close())
        if chunker.rows == 0:
            raise InvalidArgument("The upload has no rows")
        options = json.dumps({**op.options, "header": chunker.header})
        async with self.uow(write=True) as tx:
            await tx.repo.finish_upload(
                op.id, chunker.rows, self._upload_digest(op.user_id, sha256.hexdigest()), options
            )
        return chunker.rows

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

    async def take_results(self, principal: Principal, op_id: str) -> AsyncIterator[str]:
        """A chunked job's result file, JSON lines, once: its rows hold the secrets they were given or
        generated, which claimd keeps nowhere else. The first call takes it (the results are dropped
        as they are streamed); later calls raise :class:`Gone`. While the job
        runs: :class:`NotFinished`, and the results stay."""
        op = await self.get(principal, op_id)
        if op.endpoint not in self.chunked:
            raise InvalidArgument("This bulk operation's results are read with its other result files")
        if op.status not in (BulkStatus.SUCCEEDED, BulkStatus.FAILED):
            raise NotFinished(
                f"The operation is {op.status.value}: its result file can be downloaded, once, when it has ended"
            )
        async with self.uow(write=True) as tx:
            taken = await tx.repo.take_results(op.id, self.clock())
        if not taken:
            raise Gone(
                "This result file was downloaded already. It held the devices' secrets, which claimd does not "
                "keep: set a new claim key or code for a device whose label was not printed"
            )
        return self._results(op.id)

    async def _results(self, op_id: str) -> AsyncIterator[str]:
        """The results, a page of chunks at a time, each page dropped before it is sent: what a
        download that breaks off did not reach stays sealed, and no request can read it any more."""
        after = -1
        while True:
            async with self.uow(write=True) as tx:
                page = await tx.repo.chunk_results(op_id, after, 20)
                if page:
                    after = page[-1][0]
                    await tx.repo.drop_results(op_id, after)
            for _, sealed in page:
                if sealed:
                    yield self.sealer.unseal(sealed)
            if len(page) < 20:
                return

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
        principal = await self._principal(op)
        work = self.chunked.get(op.endpoint)
        after = -1
        while True:
            try:
                if work is not None:
                    await self._chunks(op, principal, work)
                    last = None
                else:
                    last = await self._batch(op, principal, self.handlers[op.endpoint], after)
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

    async def _chunks(self, op: BulkOp, principal: Principal | None, work: ChunkWork) -> None:
        """Work a chunked job's open chunks in order, each in one write transaction (which renews the
        lease first). The next chunk is prepared while one is written: the CPU work of one (in the
        endpoint's worker process) and the database's work on the other overlap."""
        ahead = await self._next_chunk(op, principal, work, -1)
        try:
            while ahead is not None:
                chunk, prepared = ahead
                ahead = await self._next_chunk(op, principal, work, chunk.index)
                await self._write_chunk(op, work, chunk, prepared)
        finally:
            if ahead is not None:
                ahead[1].cancel()

    async def _next_chunk(
        self, op: BulkOp, principal: Principal | None, work: ChunkWork, after: int
    ) -> tuple[BulkChunk, asyncio.Task[Any]] | None:
        """The first open chunk after ``after``, and the task preparing it (started now)."""
        async with self.uow() as tx:
            chunk = await tx.repo.next_chunk(op.id, after)
        if chunk is None:
            return None

        async def prepare() -> Any:
            lines = LineChunk(chunk.first_row, tuple(self._unseal(chunk.upload).split("\n")))
            return await work.prepare(principal, op, lines)

        return chunk, asyncio.create_task(prepare())

    async def _write_chunk(self, op: BulkOp, work: ChunkWork, chunk: BulkChunk, prepared: asyncio.Task[Any]) -> None:
        """Store a prepared chunk with its results. A chunk that cannot be worked (its upload
        unreadable, an unexpected error) has every row fail, alone."""
        try:
            ready = await prepared
            async with self.uow(write=True) as tx:
                await self._renew(tx.repo, op)
                outcome = await work.write(tx.repo, op, ready)
                await self._finish_chunk(tx.repo, op, chunk, outcome)
        except LeaseLost:
            raise
        except ClaimdError as exc:
            outcome = work.failed(chunk.first_row, chunk.row_count, _row_error(exc))
        except Exception:
            log.exception("bulk operation %s: chunk %d failed unexpectedly", op.id, chunk.index)
            outcome = work.failed(chunk.first_row, chunk.row_count, "internal error")
        else:
            self._count_rows(op, outcome.succeeded, len(outcome.errors))
            return
        async with self.uow(write=True) as tx:
            await self._renew(tx.repo, op)
            await self._finish_chunk(tx.repo, op, chunk, outcome)
        self._count_rows(op, outcome.succeeded, len(outcome.errors))

    async def _renew(self, repo: Repository, op: BulkOp) -> None:
        if not await repo.renew_lease(op.id, self.owner, self.clock() + self.lease_ms):
            raise LeaseLost()

    async def _finish_chunk(self, repo: Repository, op: BulkOp, chunk: BulkChunk, outcome: ChunkOutcome) -> None:
        await repo.finish_chunk(
            op.id, chunk.index, self.sealer.seal(outcome.results), outcome.errors, outcome.succeeded
        )

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
