"""Engines for the SQL store.

SQLite (the embedded default) allows one writer at a time. Writes therefore go through an engine
with a single connection whose transactions start with ``BEGIN IMMEDIATE``: a claim takes the write
lock before it reads, so it never fails half-way with "database is locked", and two claims of one
device run one after the other. Reads use a second engine with ordinary deferred transactions, which
WAL lets run beside the writer. On PostgreSQL both share one pool, and claims lock the device row
(``SELECT … FOR UPDATE``) instead; reads there run in autocommit: under READ COMMITTED every statement
takes its own snapshot anyway, so a ``BEGIN`` and a ``COMMIT`` around them would add two round trips and
no consistency.

Both engines hide statement parameters (``hide_parameters``): they hold claim tokens, codes and
digests, and SQLAlchemy would otherwise write them into every statement error, whose trace the logs print.
"""

from __future__ import annotations

import asyncio
import collections
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiosqlite
from sqlalchemy import event
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

WRITE_WAIT_S = 60  # how long a unit of work waits for a connection (SQLite: for the writer)

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",
)


@dataclass
class Database:
    url: str
    reader: AsyncEngine
    writer: AsyncEngine
    # SQLite's one write connection, taken in turn: the pool's queue lets a task that has just given the
    # connection back take it again ahead of those waiting, and under a steady flow (MQTT sessions each
    # sending windows) some waited 10 s while the median waited 40 ms. asyncio.Lock serves in order.
    write_turns: asyncio.Lock | None = None

    @asynccontextmanager
    async def write_turn(self) -> AsyncIterator[None]:
        """This task's turn at the writer (on PostgreSQL, at once)."""
        if self.write_turns is None:
            yield
            return
        async with asyncio.timeout(WRITE_WAIT_S):  # a task waiting on itself fails, as the pool's would
            await self.write_turns.acquire()
        try:
            yield
        finally:
            self.write_turns.release()

    @property
    def is_sqlite(self) -> bool:
        return self.writer.dialect.name == "sqlite"

    async def dispose(self) -> None:
        await self.writer.dispose()
        if self.reader.pool is not self.writer.pool:
            await self.reader.dispose()


def normalize_url(url: str) -> str:
    """Accept the plain driver-less URLs people type and pick claimd's async drivers."""
    parsed = make_url(url)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


class _OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A statement in one trip to aiosqlite's thread. SQLAlchemy's own cursor takes three or four
    (open the cursor, execute, fetch the rows, close), and each trip is a thread hand-off both ways:
    on a claim, most of SQLite's cost. Server-side (streaming) cursors stay SQLAlchemy's.

    Neither library has a public way to do this: the adapter classes are SQLAlchemy's internals and
    ``Connection._execute``/``_conn`` aiosqlite's. Hence one minor series of each in pyproject.toml,
    and tests/unit/test_sqlite_driver_internals.py, which fails when a name used here changes."""

    __slots__ = ("_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: Any) -> None:  # no cursor is opened here: see _execute_async
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._rows: collections.deque[Any] = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    @property  # type: ignore[misc]  # read-only here: every row comes in the one trip (no fetchmany batches)
    def arraysize(self) -> int:
        return 1

    def close(self) -> None:
        self._rows.clear()

    async def _async_soft_close(self) -> None:  # the rows are already here and the cursor is closed
        return None

    async def _run(self, run: Any, operation: Any, parameters: Any) -> None:
        def in_thread(connection: sqlite3.Connection) -> tuple[list[Any], Any, int, int | None]:
            cursor = connection.cursor()
            try:
                run(cursor, operation, parameters)
                return (
                    cursor.fetchall() if cursor.description else [],
                    cursor.description,
                    cursor.rowcount,
                    cursor.lastrowid,
                )
            finally:
                cursor.close()

        async with self._adapt_connection._execute_mutex:
            rows, self._description, self._rowcount, self._lastrowid = await self._connection._execute(
                in_thread, self._connection._conn
            )
        self._rows = collections.deque(rows)

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        await self._run(sqlite3.Cursor.execute, operation, () if parameters is None else parameters)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        await self._run(sqlite3.Cursor.executemany, operation, seq_of_parameters)


class _OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = _OneTripCursor


class _OneTripDbapi(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> _OneTripConnection:
        return _OneTripConnection(self, super().connect(*arg, **kw)._connection)


_ONE_TRIP_DBAPI = _OneTripDbapi(aiosqlite, sqlite3)


def _sqlite_engine(url: str, *, immediate: bool, pool_size: int) -> AsyncEngine:
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=WRITE_WAIT_S,
        module=_ONE_TRIP_DBAPI,
        hide_parameters=True,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def open_database(url: str, *, pool_size: int = 20) -> Database:
    url = normalize_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        writer = _sqlite_engine(url, immediate=True, pool_size=1)
        reader = _sqlite_engine(url, immediate=False, pool_size=pool_size)
        return Database(url, reader, writer, asyncio.Lock())
    engine = create_async_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=False, hide_parameters=True
    )
    return Database(url, engine.execution_options(isolation_level="AUTOCOMMIT"), engine)
