"""Bulk operations: the job record, ULIDs, and reading uploaded CSV record by record.

A bulk request is stored first (its records as rows) and then worked by any node; every row ends
with its own outcome, so a partial success is normal and visible. nRF Cloud's status stays
``FAILED`` when any row failed; claimd adds counters and an ``outcome`` of SUCCEEDED, PARTIAL or FAILED.

Rows are numbered from 1, the first data row (a header and blank lines are not rows), in results
and errors alike, so that row numbers run from 1 to the job's total.
"""

from __future__ import annotations

import csv
import enum
import os
import re
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from claimd.domain.errors import InvalidArgument

MAX_RECORD_LENGTH = 16 * 1024
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ULID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")


class BulkEndpoint(enum.StrEnum):
    CLAIM_DEVICE_OWNERSHIP = "CLAIM_DEVICE_OWNERSHIP"
    REGISTER_PUBLIC_KEYS = "REGISTER_PUBLIC_KEYS"
    CLAIM_LORAWAN_DEVICES = "CLAIM_LORAWAN_DEVICES"  # claimd's: rows hold claim authentication codes
    IMPORT_DEVICES = "IMPORT_DEVICES"  # claimd's: a fleet import, stored and worked in chunks of rows


class BulkStatus(enum.StrEnum):
    UPLOADING = "UPLOADING"  # still being received: not shown to anyone
    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class BulkOp:
    id: str
    tenant_id: uuid.UUID
    customer_id: uuid.UUID | None
    user_id: uuid.UUID
    endpoint: BulkEndpoint
    status: BulkStatus
    requested_at: int
    completed_at: int | None = None
    total: int = 0
    succeeded: int = 0
    failed: int = 0
    application_id: str | None = None  # CLAIM_LORAWAN_DEVICES: the rows' default application
    options: Mapping[str, Any] = field(default_factory=dict)  # a chunked job's: what its worker needs
    results_taken: bool = False  # an import's result file (it holds secrets) was downloaded

    @property
    def done(self) -> int:
        return self.succeeded + self.failed

    @property
    def outcome(self) -> str | None:
        if self.status not in (BulkStatus.SUCCEEDED, BulkStatus.FAILED):
            return None
        if self.failed == 0:
            return "SUCCEEDED"
        return "PARTIAL" if self.succeeded else "FAILED"


@dataclass(frozen=True, slots=True)
class BulkRow:
    index: int  # from RecordSplitter: the record's 0-based first line; stored: the row's number from 1
    line: str


@dataclass(frozen=True, slots=True)
class BulkChunk:
    """A chunk of a chunked job's upload (a fleet import): ``row_count`` rows from ``first_row``, their
    lines sealed (``upload``: one text, lines joined by line breaks)."""

    index: int
    first_row: int
    row_count: int
    upload: str


def new_ulid(now_ms: int | None = None) -> str:
    """A ULID: 48 bits of milliseconds and 80 random bits, in Crockford base32 (26 characters)."""
    ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    value = (ms << 80) | int.from_bytes(os.urandom(10))
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def is_ulid(value: str) -> bool:
    return bool(_ULID.fullmatch(value))


class RecordSplitter:
    """Cuts streamed CSV text into records (a quoted field may hold line breaks, e.g. a PEM key),
    keeping each record's 0-based line number. Memory holds one record, not the file."""

    def __init__(self) -> None:
        self._pending = ""
        self._record = ""
        self._start = 0
        self._line = 0

    def feed(self, text: str) -> Iterator[BulkRow]:
        self._pending += text
        while True:
            cut = self._pending.find("\n")
            if cut < 0:
                if len(self._pending) + len(self._record) > MAX_RECORD_LENGTH:
                    raise InvalidArgument(f"Line {self._line + 1} is longer than {MAX_RECORD_LENGTH} characters")
                return
            piece, self._pending = self._pending[: cut + 1], self._pending[cut + 1 :]
            yield from self._take(piece)

    def close(self) -> Iterator[BulkRow]:
        if self._pending:
            piece, self._pending = self._pending, ""
            yield from self._take(piece)
        if self._record.strip():
            yield BulkRow(self._start, self._record.rstrip("\r\n"))
        self._record = ""

    def _take(self, piece: str) -> Iterator[BulkRow]:
        if not self._record:
            self._start = self._line
        self._record += piece
        self._line += 1
        if len(self._record) > MAX_RECORD_LENGTH:
            raise InvalidArgument(f"The record at line {self._start + 1} is longer than {MAX_RECORD_LENGTH} characters")
        if self._record.count('"') % 2 == 0:  # quotes balanced: the record is complete
            record, self._record = self._record, ""
            if record.strip():
                yield BulkRow(self._start, record.rstrip("\r\n"))


def cells(line: str) -> list[str]:
    try:
        return next(csv.reader([line], strict=True), [])
    except csv.Error as exc:
        raise InvalidArgument(f"not a CSV record ({exc})") from None


_CLAIM_HEADER = re.compile(r"^\s*(claim_?token|token)\s*$", re.IGNORECASE)


def is_header(endpoint: BulkEndpoint, row: BulkRow) -> bool:
    """nRF Cloud's claim CSV has no header; a first row that names the columns is tolerated."""
    if row.index != 0:
        return False
    try:
        first = (cells(row.line) or [""])[0]
    except InvalidArgument:  # not a header: a row, which its handler refuses with its own error
        return False
    if endpoint is BulkEndpoint.CLAIM_DEVICE_OWNERSHIP:
        return bool(_CLAIM_HEADER.match(first))
    if endpoint is BulkEndpoint.CLAIM_LORAWAN_DEVICES:
        return first.strip().lower() in ("join_eui", "joineui", "app_eui", "qr_code", "qr")
    return first.strip().lower() in ("id", "deviceid", "device_id", "uuid")


def claim_row(line: str) -> tuple[str, str | None]:
    """``token[,"tag1,tag2"]``: the claim token and the optional tags cell."""
    values = cells(line)
    if not values or not values[0].strip():
        raise InvalidArgument("the row has no claim token")
    if len(values) > 2:
        raise InvalidArgument("a row is a claim token and optionally one (quoted) cell of comma-separated tags")
    return values[0], values[1] if len(values) > 1 else None


IDENTITY_COLUMNS = ("id", "publicKey", "deviceType", "firmwareId", "imei", "tags", "name")


def identity_row(line: str) -> dict[str, str]:
    """``id,publicKey[,deviceType,firmwareId,imei,"tags",name]``: the non-empty cells by column; the
    first two are required."""
    values = cells(line)
    if len(values) > len(IDENTITY_COLUMNS):
        raise InvalidArgument(f"a row has at most {len(IDENTITY_COLUMNS)} cells: {', '.join(IDENTITY_COLUMNS)}")
    found = {k: v.strip() for k, v in zip(IDENTITY_COLUMNS, values, strict=False) if v.strip()}
    if "id" not in found:
        raise InvalidArgument("the row has no device id in its first cell")
    if "publicKey" not in found:
        raise InvalidArgument("the row has no public key in its second cell (id,publicKey[,...])")
    return found


LORAWAN_CLAIM_COLUMNS = (
    "join_eui,dev_eui,authentication_code[,application_id[,device_id]] or qr_code[,application_id[,device_id]]"
)


def lorawan_claim_row(line: str) -> tuple[list[str], str | None, str | None]:
    """A LoRaWAN claim row: ``join_eui,dev_eui,authentication_code`` or a scanned QR code text (one
    cell: quote it if it holds a comma), then optionally the application id and the device id.
    Returns (the proof cells: 3 or 1, application id, device id)."""
    values = [v.strip() for v in cells(line)]
    if not values or not values[0]:
        raise InvalidArgument(f"a row is {LORAWAN_CLAIM_COLUMNS}")
    width = 1 if values[0].upper().startswith(("LW:", "URN:")) else 3
    if len(values) < width or len(values) > width + 2 or not all(values[:width]):
        raise InvalidArgument(f"a row is {LORAWAN_CLAIM_COLUMNS}")
    rest = [*values[width:], "", ""]
    return values[:width], rest[0] or None, rest[1] or None
