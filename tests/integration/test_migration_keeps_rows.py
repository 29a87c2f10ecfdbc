"""Upgrading an existing SQLite database keeps every row (found in issue 21's session).

SQLite changes a column or constraint by copying the table and dropping the old one; with foreign
keys enforced, that drop deleted every row pointing at it through ON DELETE CASCADE: upgrading to
0009 (which recreates ``users``) silently deleted every API key. The migration runner now migrates
SQLite with foreign keys off, checks them afterwards and turns them on again.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import sqlalchemy as sa

from claimd.adapters.sql.migrations import current_revision, upgrade
from claimd.bootstrap import open_store


async def test_upgrading_sqlite_keeps_rows_that_point_at_recreated_tables(tmp_path: Path) -> None:
    database = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    try:
        await upgrade(database, "0008")
        t, u, k, d = (str(uuid.uuid4()) for _ in range(4))
        async with database.writer.begin() as conn:
            run = conn.execute
            await run(sa.text("INSERT INTO tenants (id, title, created_time) VALUES (:t, 'T', 1)"), {"t": t})
            await run(
                sa.text(
                    "INSERT INTO users (id, tenant_id, email, authority, additional_info, created_time) "
                    "VALUES (:u, :t, 'a@example.com', 'TENANT_ADMIN', '{}', 1)"
                ),
                {"u": u, "t": t},
            )
            await run(
                sa.text(
                    "INSERT INTO api_keys (id, tenant_id, user_id, name, prefix, digest, created_time) "
                    "VALUES (:k, :t, :u, 'ci', 'claimd_x', randomblob(32), 1)"
                ),
                {"k": k, "t": t, "u": u},
            )
            await run(
                sa.text(
                    "INSERT INTO claim_challenges (nonce, tenant_id, user_id, expires_at) "
                    "VALUES (randomblob(16), :t, :u, 1)"
                ),
                {"t": t, "u": u},
            )
            await run(
                sa.text(
                    "INSERT INTO devices (id, tenant_id, name, type, additional_info, token_digest, "
                    "token_sealed, created_time) VALUES (:d, :t, 'dev', 'default', '{}', randomblob(32), "
                    "'x', 1)"
                ),
                {"d": d, "t": t},
            )
            await run(
                sa.text(
                    "INSERT INTO attributes (device_id, scope, key, value, last_update_ts) "
                    "VALUES (:d, 'SERVER_SCOPE', 'k', '1', 1)"
                ),
                {"d": d},
            )

        await upgrade(database)

        assert await current_revision(database) == "0012"
        async with database.reader.connect() as conn:
            for table in ("users", "api_keys", "claim_challenges", "devices", "attributes"):
                count = (await conn.execute(sa.text(f"SELECT count(*) FROM {table}"))).scalar_one()
                assert count == 1, f"{table}: {count} rows after the upgrade"
        async with database.writer.connect() as conn:  # foreign keys are enforced again afterwards
            assert (await conn.execute(sa.text("PRAGMA foreign_keys"))).scalar_one() == 1
    finally:
        await database.dispose()
