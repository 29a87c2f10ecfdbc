"""SQLite's writer: statements in one trip to aiosqlite's thread (``database._OneTripCursor``), where
what SQLAlchemy reads from a cursor stays right and a statement costs one trip, not SQLAlchemy's three
or four; and the one write connection served in turn (``Database.write_turn``)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from claimd.adapters.sql.database import open_database
from claimd.adapters.sql.uow import SqlUnitOfWorkFactory


@pytest.fixture
async def db(tmp_path):
    database = open_database(f"sqlite:///{tmp_path / 'one-trip.db'}")
    async with database.writer.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL)"))
    yield database
    await database.dispose()


async def test_rows_rowcount_lastrowid_and_returning(db):
    async with db.writer.begin() as conn:
        inserted = await conn.execute(text("INSERT INTO t (name) VALUES (:n)"), [{"n": "a"}, {"n": "b"}, {"n": "c"}])
        assert inserted.rowcount == 3  # executemany
        one = await conn.execute(text("INSERT INTO t (name) VALUES ('d')"))
        assert one.lastrowid == 4
        updated = await conn.execute(text("UPDATE t SET name = name || '!' WHERE id > :i"), {"i": 2})
        assert updated.rowcount == 2
        gone = await conn.execute(text("DELETE FROM t WHERE id = 1 RETURNING name"))
        assert gone.all() == [("a",)]
        assert (await conn.execute(text("SELECT name FROM t WHERE id > 99"))).all() == []
    async with db.reader.connect() as conn:
        assert (await conn.execute(text("SELECT id, name FROM t ORDER BY id"))).all() == [
            (2, "b"),
            (3, "c!"),
            (4, "d!"),
        ]
        streamed = [row.name async for row in await conn.stream(text("SELECT name FROM t ORDER BY id"))]
        assert streamed == ["b", "c!", "d!"]  # server-side cursors stay SQLAlchemy's


async def test_errors_are_sqlalchemy_errors_and_roll_back(db):
    with pytest.raises(IntegrityError):  # noqa: PT012 - the transaction's exit is what is tested
        async with db.writer.begin() as conn:
            await conn.execute(text("INSERT INTO t (name) VALUES ('x')"))
            await conn.execute(text("INSERT INTO t (name) VALUES ('x')"))
    async with db.reader.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0


async def test_a_statement_is_one_trip_to_the_database_thread(db):
    async with db.writer.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        trips = 0
        original = driver._execute

        async def counting(fn, *args, **kwargs):
            nonlocal trips
            trips += 1
            return await original(fn, *args, **kwargs)

        driver._execute = counting
        try:
            await conn.execute(text("SELECT 0"))  # the transaction's BEGIN IMMEDIATE is a trip of its own
            trips = 0
            assert (await conn.execute(text("SELECT 1 UNION SELECT 2"))).all() == [(1,), (2,)]
            assert trips == 1
        finally:
            driver._execute = original
            await conn.rollback()


async def test_the_writer_is_served_in_turn(db):
    """A task that gives the writer back and asks again at once queues behind those already waiting
    (the pool alone would hand it straight back)."""
    uow = SqlUnitOfWorkFactory(db)
    served: list[str] = []
    holding = asyncio.Event()

    async def busy() -> None:
        async with uow(write=True):
            holding.set()
            await asyncio.sleep(0.05)
        async with uow(write=True):
            served.append("busy again")

    async def waiting() -> None:
        await holding.wait()
        async with uow(write=True):
            served.append("waiting")

    await asyncio.gather(busy(), waiting())
    assert served == ["waiting", "busy again"]
