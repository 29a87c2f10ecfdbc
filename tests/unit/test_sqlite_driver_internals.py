"""The private names that ``adapters/sql/database.py``'s one-trip SQLite cursor relies on, checked
against the installed SQLAlchemy and aiosqlite: the cursor subclasses SQLAlchemy's aiosqlite adapter
(without its ``__init__``: no driver cursor is opened) and runs each statement through aiosqlite's own
thread hand-off. Neither has a public equivalent, so pyproject.toml allows one minor series of each;
when a new one is allowed, this file says what moved. tests/integration/test_sqlite_writer.py checks
the behaviour itself (rows, counts, errors, one trip a statement)."""

from __future__ import annotations

import asyncio
import collections
import inspect
import sqlite3
from collections.abc import Callable

import aiosqlite
import sqlalchemy
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)

from claimd.adapters.sql.database import _ONE_TRIP_DBAPI, _OneTripConnection, _OneTripCursor

# Every name SQLAlchemy's cursor adapter defines, as of the series pyproject.toml allows. _OneTripCursor
# sets only _adapt_connection, _connection and _rows (and its own slots) and overrides what reads the
# driver cursor (_cursor, which it never opens): a name added here may read it, so review the override.
CURSOR_NAMES = {
    "__enter__",
    "__exit__",
    "__init__",
    "__iter__",
    "_adapt_connection",
    "_aenter_cursor",
    "_async_soft_close",
    "_awaitable_cursor_close",
    "_connection",
    "_cursor",
    "_execute_async",
    "_executemany_async",
    "_make_new_cursor",
    "_rows",
    "_soft_closed_memoized",
    "arraysize",
    "close",
    "description",
    "execute",
    "executemany",
    "fetchall",
    "fetchmany",
    "fetchone",
    "lastrowid",
    "nextset",
    "rowcount",
    "server_side",
    "setinputsizes",
}
DUNDERS_KEPT = {"__init__", "__iter__", "__enter__", "__exit__"}


def _parameters(function: Callable[..., object]) -> list[str]:
    return list(inspect.signature(function).parameters)


def _defined_names(cls: type) -> set[str]:
    return {
        name
        for klass in cls.__mro__
        if klass.__module__.startswith("sqlalchemy.")
        for name in vars(klass)
        if not name.startswith("__") or name in DUNDERS_KEPT
    }


def _slots(cls: type) -> set[str]:
    return {slot for klass in cls.__mro__ for slot in getattr(klass, "__slots__", ())}


def test_the_installed_versions_are_the_series_pinned():
    assert sqlalchemy.__version__.split(".")[:2] == ["2", "1"], sqlalchemy.__version__
    assert aiosqlite.__version__.split(".")[:2] == ["0", "22"], aiosqlite.__version__


def test_sqlalchemy_cursor_adapter_is_as_the_one_trip_cursor_expects():
    assert _defined_names(AsyncAdapt_aiosqlite_cursor) == CURSOR_NAMES
    assert AsyncAdapt_aiosqlite_cursor.server_side is False
    assert _parameters(AsyncAdapt_aiosqlite_cursor.__init__) == ["self", "adapt_connection"]
    # what execute() and executemany() await (awaiting it from a greenlet), overridden by _OneTripCursor
    assert inspect.iscoroutinefunction(AsyncAdapt_aiosqlite_cursor._execute_async)
    assert _parameters(AsyncAdapt_aiosqlite_cursor._execute_async) == ["self", "operation", "parameters"]
    assert inspect.iscoroutinefunction(AsyncAdapt_aiosqlite_cursor._executemany_async)
    assert _parameters(AsyncAdapt_aiosqlite_cursor._executemany_async) == ["self", "operation", "seq_of_parameters"]
    assert inspect.iscoroutinefunction(AsyncAdapt_aiosqlite_cursor._async_soft_close)
    assert _parameters(AsyncAdapt_aiosqlite_cursor._async_soft_close) == ["self"]
    # the attributes _OneTripCursor.__init__ sets are the adapter's slots (no instance dict to fall back on)
    assert {"_adapt_connection", "_connection", "_rows"} <= _slots(AsyncAdapt_aiosqlite_cursor)
    assert "__dict__" not in _slots(_OneTripCursor)


def test_the_adapter_fetches_from_the_rows_the_one_trip_cursor_fills():
    cursor = object.__new__(_OneTripCursor)  # as _run leaves it, without a connection
    cursor._rows = collections.deque([(1,), (2,), (3,), (4,)])
    assert cursor.fetchone() == (1,)
    assert cursor.fetchmany(2) == [(2,), (3,)]
    assert cursor.fetchall() == [(4,)]
    assert cursor.fetchone() is None
    cursor._rows = collections.deque([(5,)])
    assert list(cursor) == [(5,)]


def test_sqlalchemy_connection_adapter_makes_its_cursors_from_cursor_cls():
    assert _parameters(AsyncAdapt_aiosqlite_connection.__init__) == ["self", "dbapi", "connection"]
    assert {"_connection", "_execute_mutex"} <= _slots(AsyncAdapt_aiosqlite_connection)
    assert callable(AsyncAdapt_aiosqlite_connection._handle_exception)
    driver = object()
    connection = _OneTripConnection(_ONE_TRIP_DBAPI, driver)  # type: ignore[arg-type]
    assert connection._connection is driver
    assert isinstance(connection._execute_mutex, asyncio.Lock)
    cursor = connection.cursor()
    assert type(cursor) is _OneTripCursor
    assert cursor._adapt_connection is connection and cursor._connection is driver
    assert connection._ss_cursor_cls.server_side is True  # cursor(server_side=True): streaming stays SQLAlchemy's
    assert not issubclass(connection._ss_cursor_cls, _OneTripCursor)


def test_sqlalchemy_dbapi_adapter_is_built_from_the_two_modules():
    assert _parameters(AsyncAdapt_aiosqlite_dbapi.__init__) == ["self", "aiosqlite", "sqlite"]
    assert _parameters(AsyncAdapt_aiosqlite_dbapi.connect) == ["self", "arg", "kw"]
    assert _ONE_TRIP_DBAPI.paramstyle == "qmark"


async def test_aiosqlite_runs_a_function_in_its_thread_on_the_sqlite3_connection():
    assert inspect.iscoroutinefunction(aiosqlite.Connection._execute)
    assert _parameters(aiosqlite.Connection._execute) == ["self", "fn", "args", "kwargs"]
    assert isinstance(inspect.getattr_static(aiosqlite.Connection, "_conn"), property)
    async with aiosqlite.connect(":memory:") as connection:
        raw = connection._conn
        assert isinstance(raw, sqlite3.Connection)

        def in_thread(conn: sqlite3.Connection) -> list[tuple[int]]:
            return conn.execute("SELECT 1 UNION SELECT 2").fetchall()

        assert await connection._execute(in_thread, raw) == [(1,), (2,)]
