"""SQL of a fleet import: a chunk's devices written set-based, whole rows or nothing of a row.

PostgreSQL: the devices are copied (``COPY``) into a staging table and moved by one ``INSERT …
SELECT … ON CONFLICT DO NOTHING RETURNING id``: a row whose name or access token is taken is skipped
and told by its absence. LoRaWAN identities go the same way (a DevEUI taken); a device whose identity
was refused is deleted again, so that a row is stored whole or not at all. What cannot conflict (new
devices' attributes, identities, tags) is copied straight into its table.

SQLite: one writer at a time, so what is taken is read first (a few ``IN`` queries) and the rest
written with ``executemany``, in the chunk's one transaction.

A mixin of :class:`claimd.adapters.sql.repository.SqlRepository`.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from claimd.adapters.sql.tables import (
    customers,
    devices,
    lorawan_identities,
)
from claimd.domain.claiming import CLAIMING_DATA
from claimd.domain.model import AttributeScope
from claimd.services.stores.imports import DeviceRecord

NAME_TAKEN = "Device with such name already exists!"
TOKEN_TAKEN = "Device credentials are already assigned to another device!"
DEV_EUI_TAKEN = "a device with this DevEUI is already registered"
_IN_BATCH = 900  # values per IN (…) list: under SQLite's older limit of 999 parameters

_DEVICE_COLUMNS = (
    "id",
    "tenant_id",
    "customer_id",
    "name",
    "type",
    "label",
    "additional_info",
    "token_digest",
    "token_sealed",
    "created_time",
    "claim_restricted",
)
_LORAWAN_COLUMNS = (
    "device_id",
    "tenant_id",
    "dev_eui",
    "join_eui",
    "code_digest",
    "valid_from",
    "valid_to",
    "vendor_id",
    "profile_id",
    "created_time",
)
_ATTRIBUTE_COLUMNS = ("device_id", "scope", "key", "value", "secret_digest", "last_update_ts")
_IDENTITY_COLUMNS = ("device_id", "tenant_id", "public_key", "created_time")
_SERVER_SCOPE = AttributeScope.SERVER_SCOPE.value


def _device(tenant: str, r: DeviceRecord, now: int) -> tuple[Any, ...]:
    return (
        r.id,
        tenant,
        r.customer_id,
        r.name,
        r.type,
        r.label,
        r.additional_info,
        r.token_digest,
        r.token_sealed,
        now,
        False,
    )


def _lorawan(tenant: str, r: DeviceRecord, now: int) -> tuple[Any, ...]:
    lw = r.lorawan
    assert lw is not None
    return (r.id, tenant, lw.dev_eui, lw.join_eui, lw.code_digest, lw.valid_from, lw.valid_to, 0, 0, now)


def _batches(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _IN_BATCH):
        yield values[start : start + _IN_BATCH]


class ImportQueries:
    conn: AsyncConnection

    if TYPE_CHECKING:  # OwnershipQueries's, beside this mixin in the repository

        async def ensure_tags(
            self, tenant_id: uuid.UUID, scope_id: uuid.UUID, names: Iterable[str], now_ms: int
        ) -> list[str]: ...

    async def customers_named(self, tenant_id: uuid.UUID, keys: Collection[str]) -> dict[str, uuid.UUID]:
        by_id: dict[str, str] = {}
        for key in keys:
            with contextlib.suppress(ValueError):  # not an id: a title
                by_id[str(uuid.UUID(key))] = key
        titles = list(keys)
        found: dict[str, uuid.UUID] = {}
        for batch in _batches(titles):
            ids = [i for i, key in by_id.items() if key in batch]
            rows = await self.conn.execute(
                select(customers.c.id, customers.c.title).where(
                    customers.c.tenant_id == str(tenant_id),
                    or_(customers.c.title.in_(batch), customers.c.id.in_(ids)),
                )
            )
            for row in rows:
                if row.title in batch:
                    found.setdefault(row.title, uuid.UUID(row.id))
                if row.id in by_id:
                    found[by_id[row.id]] = uuid.UUID(row.id)  # an id names before a title
        return found

    async def import_devices(
        self, tenant_id: uuid.UUID, records: Sequence[DeviceRecord], now_ms: int
    ) -> dict[int, str]:
        if not records:
            return {}
        tenant = str(tenant_id)
        if self.conn.dialect.name == "postgresql":
            refused, stored = await self._insert_postgres(tenant, records, now_ms)
        else:
            refused, stored = await self._insert_sqlite(tenant, records, now_ms)
        await self._add_proofs(tenant_id, stored, now_ms)
        return refused

    # PostgreSQL ------------------------------------------------------------------------------
    async def _copy(self, table: str, columns: Sequence[str], records: list[tuple[Any, ...]]) -> None:
        if records:
            raw = (await self.conn.get_raw_connection()).driver_connection
            assert raw is not None
            await raw.copy_records_to_table(table, records=records, columns=list(columns))

    async def _staged_insert(
        self, table: str, columns: Sequence[str], records: list[tuple[Any, ...]], key: str
    ) -> set[str]:
        """Copy ``records`` into a staging table like ``table`` (made once per connection, emptied at
        each commit) and move them with one INSERT … SELECT that skips every conflict; the ``key``
        of each row stored."""
        stage = f"claimd_stage_{table}"
        # this statement also starts the transaction the COPY joins (the driver begins it lazily)
        await self.conn.exec_driver_sql(
            f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        await self._copy(stage, columns, records)
        names = ", ".join(columns)
        result = await self.conn.exec_driver_sql(
            f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage} ON CONFLICT DO NOTHING RETURNING {key}"
        )
        return {row[0] for row in result}

    async def _insert_postgres(
        self, tenant: str, records: Sequence[DeviceRecord], now: int
    ) -> tuple[dict[int, str], list[DeviceRecord]]:
        made = await self._staged_insert("devices", _DEVICE_COLUMNS, [_device(tenant, r, now) for r in records], "id")
        refused: dict[int, str] = {}
        missing = [r for r in records if r.id not in made]
        if missing:
            names = await self._taken_names(tenant, [r.name for r in missing])
            refused = {r.row: NAME_TAKEN if r.name in names else TOKEN_TAKEN for r in missing}
        stored = [r for r in records if r.id in made]
        lorawan = [r for r in stored if r.lorawan is not None]
        if lorawan:
            placed = await self._staged_insert(
                "lorawan_identities", _LORAWAN_COLUMNS, [_lorawan(tenant, r, now) for r in lorawan], "device_id"
            )
            undo = [r for r in lorawan if r.id not in placed]
            if undo:
                await self.conn.execute(delete(devices).where(devices.c.id.in_([r.id for r in undo])))
                refused.update({r.row: DEV_EUI_TAKEN for r in undo})
                stored = [r for r in stored if r.row not in refused]
        return refused, stored

    # SQLite ----------------------------------------------------------------------------------
    async def _taken_names(self, tenant: str, names: Sequence[str]) -> set[str]:
        taken: set[str] = set()
        for batch in _batches(names):
            rows = await self.conn.execute(
                select(devices.c.name).where(devices.c.tenant_id == tenant, devices.c.name.in_(batch))
            )
            taken.update(rows.scalars())
        return taken

    async def _insert_sqlite(
        self, tenant: str, records: Sequence[DeviceRecord], now: int
    ) -> tuple[dict[int, str], list[DeviceRecord]]:
        names = await self._taken_names(tenant, [r.name for r in records])
        tokens: set[bytes] = set()
        for batch in _batches([r.token_digest for r in records]):
            rows = await self.conn.execute(select(devices.c.token_digest).where(devices.c.token_digest.in_(batch)))
            tokens.update(bytes(digest) for digest in rows.scalars())
        euis: set[str] = set()
        for batch in _batches([r.lorawan.dev_eui for r in records if r.lorawan is not None]):
            rows = await self.conn.execute(
                select(lorawan_identities.c.dev_eui).where(
                    and_(lorawan_identities.c.tenant_id == tenant, lorawan_identities.c.dev_eui.in_(batch))
                )
            )
            euis.update(rows.scalars())
        refused: dict[int, str] = {}
        stored: list[DeviceRecord] = []
        for r in records:
            if r.name in names:
                refused[r.row] = NAME_TAKEN
            elif r.token_digest in tokens:
                refused[r.row] = TOKEN_TAKEN
            elif r.lorawan is not None and r.lorawan.dev_eui in euis:
                refused[r.row] = DEV_EUI_TAKEN
            else:
                stored.append(r)
        await self._insert_many("devices", _DEVICE_COLUMNS, [_device(tenant, r, now) for r in stored])
        lorawan = [_lorawan(tenant, r, now) for r in stored if r.lorawan is not None]
        await self._insert_many("lorawan_identities", _LORAWAN_COLUMNS, lorawan)
        return refused, stored

    async def _insert_many(self, table: str, columns: Sequence[str], records: list[tuple[Any, ...]]) -> None:
        """One ``executemany`` of the driver's own (SQLAlchemy's per-row parameter handling would cost
        more than SQLite's insert)."""
        if records:
            marks = ", ".join("?" * len(columns))
            await self.conn.exec_driver_sql(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", records)

    # both ------------------------------------------------------------------------------------
    async def _add_proofs(self, tenant_id: uuid.UUID, stored: list[DeviceRecord], now: int) -> None:
        """What the stored devices carry besides their row: claim keys, identities, tags (new rows of new
        devices: nothing to conflict with)."""
        tenant = str(tenant_id)
        keys = [
            (r.id, _SERVER_SCOPE, CLAIMING_DATA, r.claim_value, r.claim_digest, now)
            for r in stored
            if r.claim_value is not None
        ]
        identities = [(r.id, tenant, r.public_key, now) for r in stored if r.public_key is not None]
        tag_names = list(dict.fromkeys(name for r in stored for name in r.tags))
        tagged: list[tuple[Any, ...]] = []
        if tag_names:
            ids = dict(zip(tag_names, await self.ensure_tags(tenant_id, tenant_id, tag_names, now), strict=True))
            tagged = [(ids[name], r.id) for r in stored for name in r.tags]
        write = self._copy if self.conn.dialect.name == "postgresql" else self._insert_many
        await write("attributes", _ATTRIBUTE_COLUMNS, keys)
        await write("device_identities", _IDENTITY_COLUMNS, identities)
        await write("device_tags", ("tag_id", "device_id"), tagged)
