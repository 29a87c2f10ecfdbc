"""Every row of a live server's database as text: for tests that check a secret is stored nowhere."""

from __future__ import annotations

import asyncio
import sqlite3

from servers import LiveServer


async def _postgres_rows(url: str) -> list[str]:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"), timeout=10)
    try:
        tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        rows: list[str] = []
        for table in tables:
            rows += [r[0] for r in await conn.fetch(f'SELECT t::text FROM "{table["tablename"]}" t')]
        return rows
    finally:
        await conn.close()


def database_rows(server: LiveServer) -> list[str]:
    """Every row of every table of the server's database, as text (SQLite opened read-only)."""
    url = server.env.get("CLAIMD_DATABASE_URL")
    if url:
        return asyncio.run(_postgres_rows(url))
    db = server.workdir / "claimd.db"
    assert db.exists(), list(server.workdir.iterdir())
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return [repr(row) for table in tables for row in conn.execute(f'SELECT * FROM "{table}"')]
    finally:
        conn.close()
