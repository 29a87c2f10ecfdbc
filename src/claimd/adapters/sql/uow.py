"""Units of work over SQL: one transaction each (:class:`SqlUnitOfWork`), or savepoints of a batch's
transaction (:class:`BatchUnitOfWork`), and the factory that opens them; claim windows in SQL or Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Self

from sqlalchemy.ext.asyncio import AsyncConnection

from claimd.adapters.sql.claims import SqlClaimWindows
from claimd.adapters.sql.database import Database
from claimd.adapters.sql.repository import SqlRepository
from claimd.services.uow import ClaimWindows


class SqlUnitOfWork:
    """One transaction on the writer (or reader) engine; claim windows in SQL or in Redis."""

    repo: SqlRepository
    windows: ClaimWindows

    def __init__(self, db: Database, write: bool, external_windows: ClaimWindows | None) -> None:
        self._engine = db.writer if write else db.reader
        self._turn = db.write_turn() if write and db.write_turns is not None else None
        self._external_windows = external_windows
        self._conn: AsyncConnection | None = None

    async def __aenter__(self) -> Self:
        if self._turn is not None:
            await self._turn.__aenter__()
        try:
            self._conn = await self._engine.connect()
            await self._conn.begin()
        except BaseException:
            await self._close()
            raise
        self.repo = SqlRepository(self._conn)
        self.windows = self._external_windows or SqlClaimWindows(self._conn)
        return self

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        assert self._conn is not None
        try:
            if exc_type is None:
                await self._conn.commit()
            else:
                await self._conn.rollback()
        finally:
            await self._close()

    async def _close(self) -> None:
        try:
            if self._conn is not None:
                await self._conn.close()
                self._conn = None
        finally:
            if self._turn is not None:
                await self._turn.__aexit__(None, None, None)


@dataclass(eq=False)
class _Batch:
    """The write transaction of :meth:`SqlUnitOfWorkFactory.batch`, and what it commits at its end."""

    factory: SqlUnitOfWorkFactory
    conn: AsyncConnection
    task: asyncio.Task[Any] | None
    counts: dict[str, list[int]] = field(default_factory=dict)  # bulk job id -> [succeeded, failed]
    units: list[BatchUnitOfWork] = field(default_factory=list)  # the savepoints open now, innermost last


_batch: ContextVar[_Batch | None] = ContextVar("claimd_sql_batch", default=None)
_SAVEPOINT = "claimd_unit"


class BatchUnitOfWork:
    """A unit of work inside a batch: a savepoint on the batch's connection, released when the block
    ends normally (its changes then commit with the batch) and rolled back on an exception, which
    undoes this unit's changes and nothing else of the batch.

    The savepoint always has the same name (each is released before the next is taken): SQLAlchemy's
    ``begin_nested()`` numbers them, and a thousand distinct statements a minute would crowd the real
    ones out of the driver's prepared-statement cache. A read (``uow()``) takes no savepoint: it has
    nothing to undo, and the two statements would cost more than the read. Should a read fail on
    PostgreSQL (which then refuses every further statement of the transaction), the batch fails as a
    whole and its caller works its rows again without a batch.

    Bulk row outcomes (:meth:`BulkQueries.finish_row`) are counted here and added to the job's
    counters once, when the batch commits, rather than by one ``UPDATE`` per row.
    """

    repo: SqlRepository
    windows: ClaimWindows

    def __init__(self, batch: _Batch, write: bool, external_windows: ClaimWindows | None) -> None:
        self._batch = batch
        self._write = write
        self._external_windows = external_windows
        self._open = False
        self._counts: dict[str, list[int]] = {}

    async def __aenter__(self) -> Self:
        conn = self._batch.conn
        if self._write:
            await conn.exec_driver_sql(f"SAVEPOINT {_SAVEPOINT}")  # a nested one hides the outer one
            self._open = True
            self._batch.units.append(self)
        self.repo = SqlRepository(conn, counts=self._counts if self._write else None)
        self.windows = self._external_windows or SqlClaimWindows(conn)
        return self

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        if not self._open:
            return
        self._open = False
        units = self._batch.units
        assert units and units[-1] is self, "units of work of a batch end in the reverse order they began"
        units.pop()
        conn = self._batch.conn
        if exc_type is not None:
            await conn.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
            await conn.exec_driver_sql(f"RELEASE SAVEPOINT {_SAVEPOINT}")
            return
        await conn.exec_driver_sql(f"RELEASE SAVEPOINT {_SAVEPOINT}")
        # the counts now belong to the enclosing savepoint (they go if it is rolled back), else the batch
        into = units[-1]._counts if units else self._batch.counts
        for op_id, (succeeded, failed) in self._counts.items():
            total = into.setdefault(op_id, [0, 0])
            total[0] += succeeded
            total[1] += failed


class SqlUnitOfWorkFactory:
    def __init__(self, db: Database, external_windows: ClaimWindows | None = None) -> None:
        self.db = db
        self.external_windows = external_windows

    @property
    def windows_need_write(self) -> bool:
        return self.external_windows is None

    def __call__(self, *, write: bool = False) -> SqlUnitOfWork | BatchUnitOfWork:
        batch = _batch.get()
        if batch is not None and batch.factory is self and batch.task is asyncio.current_task():
            return BatchUnitOfWork(batch, write, self.external_windows)
        return SqlUnitOfWork(self.db, write, self.external_windows)

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[None]:
        """One write transaction for many units of work (a bulk job's rows): inside the block, the
        units of work this task opens are savepoints of it (:class:`BatchUnitOfWork`). It commits
        when the block ends normally and rolls back, whole, on an exception.

        It holds the writer for its whole length (on SQLite the one write connection and the database's
        write lock), so callers keep batches short."""
        if _batch.get() is not None:
            raise RuntimeError("batches do not nest")
        async with self.db.write_turn(), self.db.writer.connect() as conn, conn.begin():
            state = _Batch(self, conn, asyncio.current_task())
            token = _batch.set(state)
            try:
                yield
            finally:
                _batch.reset(token)
            repo = SqlRepository(conn)
            for op_id, (succeeded, failed) in state.counts.items():
                await repo.count_rows(op_id, succeeded, failed)
