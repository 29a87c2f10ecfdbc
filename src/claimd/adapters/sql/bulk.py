"""SQL of bulk operations: the job, its rows, and the lease a worker holds while it works a job.

A mixin of :class:`claimd.adapters.sql.repository.SqlRepository`.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import and_, bindparam, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from claimd.adapters.sql.tables import bulk_chunks, bulk_ops, bulk_rows
from claimd.domain.bulk import BulkChunk, BulkEndpoint, BulkOp, BulkRow, BulkStatus

_VISIBLE = (BulkStatus.PENDING, BulkStatus.IN_PROGRESS, BulkStatus.SUCCEEDED, BulkStatus.FAILED)
# A row's outcome, once: built once, as the worker runs it for every row. The row's (sealed) line is
# dropped with it: nothing reads a done row's line again, and a secret not kept cannot leak.
_FINISH_ROW = (
    update(bulk_rows)
    .where(
        bulk_rows.c.op_id == bindparam("row_op_id"),
        bulk_rows.c.row_index == bindparam("index"),
        bulk_rows.c.outcome.is_(None),
    )
    .values(
        outcome=bindparam("new_outcome"),
        device_id=bindparam("new_device_id"),
        message=bindparam("new_message"),
        line="",
    )
)


def _op(row: Any) -> BulkOp:
    return BulkOp(
        id=row.id,
        tenant_id=uuid.UUID(row.tenant_id),
        customer_id=uuid.UUID(row.customer_id) if row.customer_id else None,
        user_id=uuid.UUID(row.user_id),
        endpoint=BulkEndpoint(row.endpoint),
        status=BulkStatus(row.status),
        requested_at=row.requested_at,
        completed_at=row.completed_at,
        total=row.total,
        succeeded=row.succeeded,
        failed=row.failed,
        application_id=row.application_id,
        options=json.loads(row.options) if row.options else {},
        results_taken=row.results_taken_at is not None,
    )


class BulkQueries:
    conn: AsyncConnection
    counts: dict[str, list[int]] | None  # set inside a batch: row outcomes counted there, not per row

    async def create_op(self, op: BulkOp, idempotency_key: str | None) -> bool:
        """Store a new job (UPLOADING); False when the user already used ``idempotency_key``."""
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(
                    insert(bulk_ops).values(
                        id=op.id,
                        tenant_id=str(op.tenant_id),
                        customer_id=str(op.customer_id) if op.customer_id else None,
                        user_id=str(op.user_id),
                        endpoint=op.endpoint.value,
                        status=op.status.value,
                        requested_at=op.requested_at,
                        total=0,
                        succeeded=0,
                        failed=0,
                        idempotency_key=idempotency_key,
                        application_id=op.application_id,
                        options=json.dumps(dict(op.options)) if op.options else None,
                    )
                )
        except IntegrityError:
            return False
        return True

    async def find_op_by_key(self, user_id: uuid.UUID, key: str) -> tuple[BulkOp, bytes | None] | None:
        row = (
            await self.conn.execute(
                select(bulk_ops).where(bulk_ops.c.user_id == str(user_id), bulk_ops.c.idempotency_key == key)
            )
        ).first()
        return (_op(row), bytes(row.upload_digest) if row.upload_digest else None) if row else None

    async def add_rows(self, op_id: str, rows: list[BulkRow]) -> None:
        if rows:
            await self.conn.execute(
                insert(bulk_rows), [{"op_id": op_id, "row_index": r.index, "line": r.line} for r in rows]
            )

    async def finish_upload(self, op_id: str, total: int, digest: bytes, options: str | None = None) -> None:
        values: dict[str, Any] = {"status": BulkStatus.PENDING.value, "total": total, "upload_digest": digest}
        if options is not None:
            values["options"] = options
        await self.conn.execute(update(bulk_ops).where(bulk_ops.c.id == op_id).values(values))

    async def delete_op(self, op_id: str) -> None:
        await self.conn.execute(delete(bulk_ops).where(bulk_ops.c.id == op_id))

    async def get_op(self, op_id: str) -> BulkOp | None:
        row = (
            await self.conn.execute(
                select(bulk_ops).where(bulk_ops.c.id == op_id, bulk_ops.c.status.in_([s.value for s in _VISIBLE]))
            )
        ).first()
        return _op(row) if row else None

    async def list_ops(self, tenant_id: uuid.UUID, customer_id: uuid.UUID | None, limit: int) -> list[BulkOp]:
        where = and_(bulk_ops.c.tenant_id == str(tenant_id), bulk_ops.c.status.in_([s.value for s in _VISIBLE]))
        if customer_id is not None:
            where = and_(where, bulk_ops.c.customer_id == str(customer_id))
        rows = await self.conn.execute(select(bulk_ops).where(where).order_by(bulk_ops.c.id.desc()).limit(limit))
        return [_op(r) for r in rows]

    async def lease_next(self, owner: str, now_ms: int, lease_ms: int) -> BulkOp | None:
        """Take the oldest job that is waiting, or whose worker's lease ran out (it died)."""
        candidates = (
            (
                await self.conn.execute(
                    select(bulk_ops.c.id)
                    .where(
                        bulk_ops.c.status.in_([BulkStatus.PENDING.value, BulkStatus.IN_PROGRESS.value]),
                        or_(bulk_ops.c.lease_until.is_(None), bulk_ops.c.lease_until < now_ms),
                    )
                    .order_by(bulk_ops.c.requested_at)
                    .limit(5)
                )
            )
            .scalars()
            .all()
        )
        for op_id in candidates:
            taken = await self.conn.execute(
                update(bulk_ops)
                .where(
                    bulk_ops.c.id == op_id,
                    or_(bulk_ops.c.lease_until.is_(None), bulk_ops.c.lease_until < now_ms),
                    bulk_ops.c.status.in_([BulkStatus.PENDING.value, BulkStatus.IN_PROGRESS.value]),
                )
                .values(lease_owner=owner, lease_until=now_ms + lease_ms, status=BulkStatus.IN_PROGRESS.value)
            )
            if taken.rowcount == 1:
                return await self.get_op(op_id)
        return None

    async def renew_lease(self, op_id: str, owner: str, until_ms: int) -> bool:
        result = await self.conn.execute(
            update(bulk_ops).where(bulk_ops.c.id == op_id, bulk_ops.c.lease_owner == owner).values(lease_until=until_ms)
        )
        return result.rowcount == 1

    async def open_rows(self, op_id: str, after_index: int, limit: int) -> list[BulkRow]:
        rows = await self.conn.execute(
            select(bulk_rows.c.row_index, bulk_rows.c.line)
            .where(bulk_rows.c.op_id == op_id, bulk_rows.c.row_index > after_index, bulk_rows.c.outcome.is_(None))
            .order_by(bulk_rows.c.row_index)
            .limit(limit)
        )
        return [BulkRow(r.row_index, r.line) for r in rows]

    async def finish_row(
        self, op_id: str, index: int, ok: bool, device_id: uuid.UUID | None, message: str | None
    ) -> bool:
        """Record a row's outcome and count it, once: False if the row was already done."""
        result = await self.conn.execute(
            _FINISH_ROW,
            {
                "row_op_id": op_id,
                "index": index,
                "new_outcome": "OK" if ok else "ERROR",
                "new_device_id": str(device_id) if device_id else None,
                "new_message": message,
            },
        )
        if result.rowcount != 1:
            return False
        if self.counts is not None:  # in a batch: added to the job's counters when the batch commits
            self.counts.setdefault(op_id, [0, 0])[0 if ok else 1] += 1
            return True
        counter = bulk_ops.c.succeeded if ok else bulk_ops.c.failed
        await self.conn.execute(update(bulk_ops).where(bulk_ops.c.id == op_id).values({counter: counter + 1}))
        return True

    async def count_rows(self, op_id: str, succeeded: int, failed: int) -> None:
        """Add a batch's row outcomes to the job's counters (in the batch's transaction)."""
        await self.conn.execute(
            update(bulk_ops)
            .where(bulk_ops.c.id == op_id)
            .values(succeeded=bulk_ops.c.succeeded + succeeded, failed=bulk_ops.c.failed + failed)
        )

    async def complete_op(self, op_id: str, owner: str, now_ms: int) -> None:
        row = (await self.conn.execute(select(bulk_ops.c.failed).where(bulk_ops.c.id == op_id))).first()
        status = BulkStatus.FAILED if row and row.failed else BulkStatus.SUCCEEDED
        await self.conn.execute(
            update(bulk_ops)
            .where(bulk_ops.c.id == op_id, bulk_ops.c.lease_owner == owner)
            .values(status=status.value, completed_at=now_ms, lease_owner=None, lease_until=None)
        )

    async def result_rows(self, op_id: str, after_index: int, limit: int, errors_only: bool = False) -> list[Any]:
        where = and_(bulk_rows.c.op_id == op_id, bulk_rows.c.row_index > after_index)
        if errors_only:
            where = and_(where, bulk_rows.c.outcome == "ERROR")
        rows = await self.conn.execute(
            select(bulk_rows.c.row_index, bulk_rows.c.outcome, bulk_rows.c.device_id, bulk_rows.c.message)
            .where(where)
            .order_by(bulk_rows.c.row_index)
            .limit(limit)
        )
        return list(rows)

    # chunked jobs ----------------------------------------------------------------------------
    async def add_chunk(self, op_id: str, chunk: BulkChunk) -> None:
        await self.conn.execute(
            insert(bulk_chunks).values(
                op_id=op_id,
                chunk_index=chunk.index,
                first_row=chunk.first_row,
                row_count=chunk.row_count,
                upload=chunk.upload,
                done=False,
            )
        )

    async def next_chunk(self, op_id: str, after_index: int) -> BulkChunk | None:
        row = (
            await self.conn.execute(
                select(
                    bulk_chunks.c.chunk_index, bulk_chunks.c.first_row, bulk_chunks.c.row_count, bulk_chunks.c.upload
                )
                .where(
                    bulk_chunks.c.op_id == op_id,
                    bulk_chunks.c.chunk_index > after_index,
                    bulk_chunks.c.done.is_(False),
                )
                .order_by(bulk_chunks.c.chunk_index)
                .limit(1)
            )
        ).first()
        return BulkChunk(row.chunk_index, row.first_row, row.row_count, row.upload) if row else None

    async def finish_chunk(
        self, op_id: str, index: int, results: str, errors: list[tuple[int, str]], succeeded: int
    ) -> None:
        await self.conn.execute(
            update(bulk_chunks)
            .where(bulk_chunks.c.op_id == op_id, bulk_chunks.c.chunk_index == index)
            .values(upload="", results=results, done=True)
        )
        if errors:
            await self.conn.execute(
                insert(bulk_rows),
                [
                    {"op_id": op_id, "row_index": row, "line": "", "outcome": "ERROR", "message": message}
                    for row, message in errors
                ],
            )
        await self.count_rows(op_id, succeeded, len(errors))

    async def take_results(self, op_id: str, now_ms: int) -> bool:
        taken = await self.conn.execute(
            update(bulk_ops)
            .where(bulk_ops.c.id == op_id, bulk_ops.c.results_taken_at.is_(None))
            .values(results_taken_at=now_ms)
        )
        return taken.rowcount == 1

    async def chunk_results(self, op_id: str, after_index: int, limit: int) -> list[tuple[int, str | None]]:
        rows = await self.conn.execute(
            select(bulk_chunks.c.chunk_index, bulk_chunks.c.results)
            .where(bulk_chunks.c.op_id == op_id, bulk_chunks.c.chunk_index > after_index)
            .order_by(bulk_chunks.c.chunk_index)
            .limit(limit)
        )
        return [(row.chunk_index, row.results) for row in rows]

    async def drop_results(self, op_id: str, up_to_index: int) -> None:
        await self.conn.execute(
            update(bulk_chunks)
            .where(bulk_chunks.c.op_id == op_id, bulk_chunks.c.chunk_index <= up_to_index)
            .values(results=None)
        )
