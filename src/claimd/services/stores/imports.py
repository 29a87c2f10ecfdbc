"""The store's side of a fleet import: the devices of a chunk of rows, written set-based, and the
customers a file names. The records are made by :mod:`claimd.services.device_import`: every secret
already a digest (or sealed, for the access token shown again to its tenant)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from typing import NamedTuple, Protocol


class LorawanRecord(NamedTuple):
    join_eui: str
    dev_eui: str
    code_digest: bytes
    valid_from: int | None
    valid_to: int | None


class DeviceRecord(NamedTuple):
    """One row's device, ready to store: what the ``devices`` row holds, and the proofs it carries.
    Tuples, with ids as text: made in a worker process, they cross to the server's in ~1 µs a row."""

    row: int  # the row's number in its file (from 1)
    id: str
    name: str
    type: str
    label: str | None
    additional_info: str  # JSON
    customer: str | None  # as the file names it (an id or a title); the store is given ids only
    customer_id: str | None
    token_digest: bytes
    token_sealed: str
    claim_value: str | None  # the claimingData attribute as stored (JSON, the key redacted)
    claim_digest: bytes | None
    lorawan: LorawanRecord | None
    public_key: bytes | None  # the identity's public key (DER)
    tags: tuple[str, ...]


class ImportStore(Protocol):
    async def customers_named(self, tenant_id: uuid.UUID, keys: Collection[str]) -> dict[str, uuid.UUID]:
        """The tenant's customers that ``keys`` name, by id (as text) or by title: key -> customer id."""
        ...

    async def import_devices(
        self, tenant_id: uuid.UUID, records: Sequence[DeviceRecord], now_ms: int
    ) -> dict[int, str]:
        """Store the devices of ``records`` (no two share a name, an access token or a DevEUI), each
        whole or not at all; returns the rows not stored, with why (a name, an access token or a
        DevEUI already taken)."""
        ...
