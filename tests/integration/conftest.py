"""Helpers of the integration tests that look at the stores directly (below the services).

``stored_window(container, device_id)``
    Whether a claim window for the device is stored (SQL table or Redis key), without spending it.
``sql_rows(container)``
    Every row of every SQL table (found by reflection, not from claimd's own table list), as
    ``(table, {column: value})``.
``redis_items(container)``
    Every Redis key under the container's prefix with its raw value.
"""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import inspect, select, table, text
from sqlalchemy.engine import Connection

from claimd.bootstrap import Container


async def sql_rows(container: Container) -> list[tuple[str, dict[str, Any]]]:
    def tables(connection: Connection) -> list[tuple[str, list[str]]]:
        insp = inspect(connection)
        return [(name, [c["name"] for c in insp.get_columns(name)]) for name in insp.get_table_names()]

    out: list[tuple[str, dict[str, Any]]] = []
    async with container.database.reader.connect() as conn:
        for name, columns in await conn.run_sync(tables):
            quoted = conn.dialect.identifier_preparer.quote
            rows = await conn.execute(text(f"SELECT {', '.join(quoted(c) for c in columns)} FROM {quoted(name)}"))
            out.extend((name, dict(zip(columns, row, strict=True))) for row in rows)
    return out


async def redis_items(container: Container) -> dict[str, bytes]:
    redis = container.redis
    assert redis is not None
    prefix = container.settings.redis_prefix
    items: dict[str, bytes] = {}
    async for key in redis.scan_iter(match=f"{prefix}:*"):  # type: ignore[attr-defined]
        value = await redis.get(key)  # type: ignore[attr-defined]
        items[key.decode() if isinstance(key, bytes) else key] = value
    return items


async def stored_window(container: Container, device_id: uuid.UUID) -> bool:
    if container.redis is not None:
        return any(f"claim-window:{device_id}" in key for key in await redis_items(container))
    windows = table("claim_windows")
    async with container.database.reader.connect() as conn:
        rows = await conn.execute(
            select(text("device_id")).select_from(windows).where(text("device_id = :d")), {"d": str(device_id)}
        )
        return rows.first() is not None


def contains(value: Any, needle: str) -> bool:
    """Whether a stored column value holds ``needle`` as text, bytes, or hex of the bytes."""
    if value is None:
        return False
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        return needle.encode() in raw or needle.encode().hex() in raw.hex()
    return needle in str(value)


@pytest.fixture
def store_probe() -> SimpleNamespace:
    """The helpers above as one object: ``store_probe.sql_rows(c)``, ``.redis_items(c)``,
    ``.stored_window(c, device_id)``, ``.contains(value, needle)``."""
    return SimpleNamespace(sql_rows=sql_rows, redis_items=redis_items, stored_window=stored_window, contains=contains)
