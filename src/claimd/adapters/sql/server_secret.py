"""The fingerprint of the server secret, kept in the database it was first started with.

Invariants: one row at most (``id`` 1); it holds a keyed digest of a fixed label, never the secret; it
is written once, and two nodes starting together on an empty database agree on one row (the second
insert fails and reads the first's).
"""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from claimd.adapters.sql.database import Database
from claimd.adapters.sql.tables import server_secret

_ROW = 1


async def recorded_fingerprint(database: Database) -> bytes | None:
    async with database.reader.connect() as conn:
        return (await conn.execute(select(server_secret.c.fingerprint).where(server_secret.c.id == _ROW))).scalar()


async def record_fingerprint(database: Database, fingerprint: bytes, now_ms: int) -> bytes:
    """Record ``fingerprint`` unless one is; return the one on record (this one, or a racing node's)."""
    try:
        async with database.write_turn(), database.writer.begin() as conn:
            await conn.execute(insert(server_secret).values(id=_ROW, fingerprint=fingerprint, created_time=now_ms))
        return fingerprint
    except IntegrityError:
        recorded = await recorded_fingerprint(database)
        assert recorded is not None
        return recorded
