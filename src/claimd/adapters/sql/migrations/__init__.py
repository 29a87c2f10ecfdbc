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
    """Bring the schema to ``revision``; safe to run from several nodes (PostgreSQL takes a lock)."""

    def run(connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7307146)")  # one migrator at a time
        command.upgrade(alembic_config(connection), revision)

    async with database.writer.begin() as conn:
        await conn.run_sync(run)


async def current_revision(database: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with database.reader.connect() as conn:
        return await conn.run_sync(read)
