"""Alembic migrations of the SQL store, run on start (or alone with ``claimd db upgrade``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from claimd.adapters.sql.database import Database

HERE = Path(__file__).parent


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["connection"] = connection
    return config


async def upgrade(database: Database, revision: str = "head") -> None:
    """Bring the schema to ``revision``; safe to run from several nodes (PostgreSQL takes a lock).

    On SQLite, a migration that changes a column or a constraint copies the table and drops the old
    one (alembic's batch mode); with foreign keys enforced, that drop would delete every row that
    refers to it through ON DELETE CASCADE (a user's API keys, a device's attributes). So foreign keys
    are off while SQLite migrates (the pragma only takes effect outside a transaction), checked once the
    migration is done, and on again before the connection goes back to the pool."""

    def run(connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7307146)")  # one migrator at a time
        command.upgrade(alembic_config(connection), revision)

    if database.writer.dialect.name != "sqlite":
        async with database.writer.begin() as conn:
            await conn.run_sync(run)
        return

    def run_sqlite(connection: Connection) -> None:
        raw = connection.connection.dbapi_connection  # autocommit: the pragma runs outside a transaction
        assert raw is not None
        pragma = raw.cursor()
        try:
            pragma.execute("PRAGMA foreign_keys=OFF")
            with connection.begin():
                run(connection)
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").first()
                if broken is not None:  # rolls the migration back
                    raise RuntimeError(f"migration left a row of {broken[0]} pointing at a missing {broken[2]} row")
        finally:
            pragma.execute("PRAGMA foreign_keys=ON")
            pragma.close()

    async with database.writer.connect() as conn:
        await conn.run_sync(run_sqlite)


async def current_revision(database: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with database.reader.connect() as conn:
        return await conn.run_sync(read)
