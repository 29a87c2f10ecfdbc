"""The row format of a device import: one CSV or NDJSON file for every kind of device.

Pure rules, no I/O: a reader takes the file's text lines (an iterator, so a caller can stream a large
upload) and yields, per data row, an :class:`ImportRow` or a :class:`RowError` — one bad row never stops
the file. Rows are numbered from 1, the first data row, in both formats. Only a broken header, or more
rows than the caller allows, stops a file (:class:`InvalidArgument`).

Secrets to generate are marked (:data:`GENERATE`), not generated here (claim_keys.py generates keys).
"""

from __future__ import annotations

import csv
import enum
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from claimd.domain.claim_keys import MAX_CLAIM_KEY_LENGTH
from claimd.domain.errors import ClaimdError, InvalidArgument
from claimd.domain.inputs import check_name, check_text, json_problem
from claimd.domain.lorawan import check_code, check_code_window, parse_eui
from claimd.domain.ownership import parse_tags


class Generate(enum.Enum):
    """The marker of a secret claimd generates (the word ``generate`` in a cell)."""

    GENERATE = "generate"


GENERATE = Generate.GENERATE
GENERATE_WORD = "generate"  # any case: "generate", "GENERATE"

COLUMNS = (
    "name",
    "type",
    "label",
    "access_token",
    "gateway",
    "claim_key",
    "claim_key_expires_at",
    "join_eui",
    "dev_eui",
    "claim_code",
    "valid_from",
    "valid_to",
    "public_key",
    "tags",
    "customer",
)

MAX_TYPE_LENGTH = 255
MAX_LABEL_LENGTH = 255
MAX_ACCESS_TOKEN_LENGTH = 128  # as DeviceService.by_access_token accepts
MAX_PUBLIC_KEY_LENGTH = 4096  # a PEM public key is ~180 characters; a hex P-256 point 130
MAX_CUSTOMER_LENGTH = 255
MAX_TIME_LENGTH = 64
MAX_LINE_LENGTH = 64 * 1024  # one row of a file, in characters
DEFAULT_MAX_ROWS = 1_000_000


@dataclass(frozen=True, slots=True)
class ImportRow:
    """One device to create, checked. ``None`` means "not given"; :data:`GENERATE` "claimd makes one".

    ``access_token`` ``None`` means generate (every device has one). Times are epoch milliseconds."""

    row: int
    name: str
    device_type: str | None = None  # column "type"; None: the service's default type
    label: str | None = None
    access_token: str | None = None
    gateway: bool = False
    claim_key: str | Generate | None = None
    claim_key_expires_at: int | None = None
    join_eui: str | None = None
    dev_eui: str | None = None
    claim_code: str | Generate | None = None
    valid_from: int | None = None
    valid_to: int | None = None
    public_key: str | None = None
    tags: tuple[str, ...] = ()
    customer: str | None = None

    @property
    def lorawan(self) -> bool:
        return self.dev_eui is not None


@dataclass(frozen=True, slots=True)
class RowError:
    """A data row that cannot be imported: its number (from 1) and why, in words for the tenant."""

    row: int
    message: str


class TooManyRows(InvalidArgument):
    """The file has more data rows than the caller allows."""


# ---------------------------------------------------------------------------------------------------
# Times

_RFC3339_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_rfc3339(text: str, what: str = "time") -> int:
    """Epoch milliseconds of an RFC 3339 date-time with its offset (``2026-01-31T12:00:00Z``,
    ``…T13:00:00.250+01:00``). Fractions finer than a millisecond are cut off; times before 1970,
    leap seconds and times without an offset are refused (:class:`InvalidArgument` naming ``what``)."""
    match = _RFC3339_RE.fullmatch(text) if isinstance(text, str) and len(text) <= MAX_TIME_LENGTH else None
    if match is None:
        raise InvalidArgument(f"{what} must be an RFC 3339 time with an offset, such as 2026-01-31T12:00:00Z")
    year, month, day, hour, minute, second = (int(part) for part in match.group(1, 2, 3, 4, 5, 6))
    fraction, zulu, sign, off_hours, off_minutes = match.group(7, 8, 9, 10, 11)
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        raise InvalidArgument(f"{what} is not a real date and time: {text!r}") from None
    offset = 0
    if not zulu:
        hours, minutes = int(off_hours), int(off_minutes)
        if hours > 23 or minutes > 59:
            raise InvalidArgument(f"{what} has an impossible offset: {text!r}")
        offset = (hours * 60 + minutes) * (1 if sign == "+" else -1)
    millis = int((fraction or "0")[:3].ljust(3, "0"))
    ms = (moment - _EPOCH - timedelta(minutes=offset)) // timedelta(milliseconds=1) + millis
    if ms < 0:
        raise InvalidArgument(f"{what} must not be before 1970-01-01T00:00:00Z")
    return ms


# ---------------------------------------------------------------------------------------------------
# One row from its cells (shared by both formats)


def _given(value: str | None) -> str | None:
    return value if value else None


def _is_generate(value: str) -> bool:
    return value.lower() == GENERATE_WORD


def build_row(row: int, cells: Mapping[str, str | bool | list[str] | None]) -> ImportRow:
    """An :class:`ImportRow` from a row's cells (column → text; ``gateway`` may be a bool, ``tags`` a
    list); empty or absent cells are "not given". Raises :class:`InvalidArgument` naming the column."""

    def text(column: str) -> str | None:
        value = cells.get(column)
        if value is None:
            return None
        if not isinstance(value, str):
            raise InvalidArgument(f"{column} must be text")
        return _given(value.strip())

    def bounded(column: str, max_length: int) -> str | None:
        value = text(column)
        return None if value is None else check_text(value, column, max_length=max_length)

    def moment(column: str) -> int | None:
        value = text(column)
        return None if value is None else parse_rfc3339(value, column)

    raw_name = cells.get("name")
    if raw_name is None or (isinstance(raw_name, str) and not raw_name.strip()):
        raise InvalidArgument("name is required")
    if not isinstance(raw_name, str):
        raise InvalidArgument("name must be text")
    name = check_name(raw_name, "name")
    device_type = text("type")
    if device_type is not None:
        device_type = check_name(device_type, "type", max_length=MAX_TYPE_LENGTH)

    access_token = bounded("access_token", MAX_ACCESS_TOKEN_LENGTH)
    if access_token is not None and any(symbol.isspace() for symbol in access_token):
        raise InvalidArgument("access_token must not contain spaces")

    gateway_cell = cells.get("gateway")
    if gateway_cell is None or gateway_cell is True or gateway_cell is False:
        gateway = bool(gateway_cell)
    elif isinstance(gateway_cell, str) and gateway_cell.strip().lower() in ("true", "false", ""):
        gateway = gateway_cell.strip().lower() == "true"
    else:
        raise InvalidArgument("gateway must be true or false")

    key = bounded("claim_key", MAX_CLAIM_KEY_LENGTH)
    claim_key: str | Generate | None = GENERATE if key is not None and _is_generate(key) else key
    claim_key_expires_at = moment("claim_key_expires_at")
    if claim_key_expires_at is not None and claim_key is None:
        raise InvalidArgument("claim_key_expires_at needs a claim_key")

    join_eui, dev_eui, code = text("join_eui"), text("dev_eui"), text("claim_code")
    claim_code: str | Generate | None = None
    if join_eui is not None or dev_eui is not None or code is not None:
        if join_eui is None or dev_eui is None or code is None:
            given = (("join_eui", join_eui), ("dev_eui", dev_eui), ("claim_code", code))
            missing = ", ".join(column for column, value in given if value is None)
            raise InvalidArgument(
                f"a LoRaWAN device needs join_eui, dev_eui and claim_code together: {missing} missing"
            )
        join_eui = parse_eui(join_eui[:64], what="join_eui")
        dev_eui = parse_eui(dev_eui[:64], what="dev_eui")
        claim_code = GENERATE if _is_generate(code) else check_code(code)
    valid_from, valid_to = moment("valid_from"), moment("valid_to")
    if (valid_from is not None or valid_to is not None) and claim_code is None:
        raise InvalidArgument("valid_from and valid_to belong to a claim_code (a LoRaWAN device)")
    check_code_window(valid_from, valid_to)

    tags_cell = cells.get("tags")
    if isinstance(tags_cell, bool):
        raise InvalidArgument("tags must be a list of strings")
    tags = parse_tags(tags_cell)

    return ImportRow(
        row=row,
        name=name,
        device_type=device_type,
        label=bounded("label", MAX_LABEL_LENGTH),
        access_token=access_token,
        gateway=gateway,
        claim_key=claim_key,
        claim_key_expires_at=claim_key_expires_at,
        join_eui=join_eui,
        dev_eui=dev_eui,
        claim_code=claim_code,
        valid_from=valid_from,
        valid_to=valid_to,
        public_key=bounded("public_key", MAX_PUBLIC_KEY_LENGTH),
        tags=tags,
        customer=bounded("customer", MAX_CUSTOMER_LENGTH),
    )


def _checked(row: int, cells: Mapping[str, str | bool | list[str] | None]) -> ImportRow | RowError:
    try:
        return build_row(row, cells)
    except ClaimdError as error:
        return RowError(row, error.message)


def _unknown(names: Iterable[str]) -> str:
    shown = ", ".join(repr(name[:40]) for name in names)
    return f"unknown columns: {shown} (known: {', '.join(COLUMNS)})"


def _data_lines(
    lines: Iterable[str], max_rows: int, max_line_length: int, first_row: int = 1
) -> Iterator[tuple[int, str | None]]:
    """(row number, line without its line break) for each non-blank line, numbered from ``first_row``;
    the line is ``None`` when longer than ``max_line_length``. Blank lines are skipped and not counted."""
    if max_rows < 0:
        raise ValueError("max_rows must not be negative")
    count = 0
    for line in lines:
        body = line.rstrip("\r\n")
        if not body.strip():
            continue
        count += 1
        if count > max_rows:
            raise TooManyRows(f"the file has more than {max_rows} rows")
        yield first_row + count - 1, (body if len(body) <= max_line_length else None)


def _too_long(max_line_length: int) -> str:
    return f"the row is longer than {max_line_length} characters"


# ---------------------------------------------------------------------------------------------------
# CSV


def read_csv_header(line: str, max_line_length: int = MAX_LINE_LENGTH) -> tuple[str, ...]:
    """The columns of a header line (case-sensitive, as in :data:`COLUMNS`); unknown, repeated or
    missing ``name`` refused, naming them."""
    body = line.rstrip("\r\n").removeprefix("\ufeff")
    if len(body) > max_line_length:
        raise InvalidArgument(f"the header is longer than {max_line_length} characters")
    try:
        names = tuple(name.strip() for name in next(csv.reader([body], strict=True)))
    except (csv.Error, StopIteration):
        raise InvalidArgument("the header is not a CSV line") from None
    unknown = [name for name in names if name not in COLUMNS]
    if unknown:
        raise InvalidArgument(f"the header has {_unknown(unknown)}")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InvalidArgument(f"the header repeats the columns: {', '.join(repeated)}")
    if "name" not in names:
        raise InvalidArgument("the header has no name column")
    return names


def rows_from_csv(
    lines: Iterable[str],
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    max_line_length: int = MAX_LINE_LENGTH,
    first_row: int = 1,
) -> Iterator[ImportRow | RowError]:
    """The rows of a CSV file with a header line (any of :data:`COLUMNS`, in any order; ``name``
    required). One row per line: a quoted cell may hold commas and quotes (``""``) but no line break.
    Cells are stripped; an empty cell is "not given". Blank lines are skipped and not counted.

    A bad header raises :class:`InvalidArgument`, row ``max_rows + 1`` :class:`TooManyRows`; every
    other problem is a :class:`RowError` for its row. ``first_row``: the number of the first data
    row (a chunk of a larger file, read with its header line in front)."""
    iterator = iter(lines)
    header: tuple[str, ...] | None = None
    for line in iterator:
        if line.strip():
            header = read_csv_header(line, max_line_length)
            break
    if header is None:
        raise InvalidArgument("the file is empty: a CSV import starts with a header line")
    for row, body in _data_lines(iterator, max_rows, max_line_length, first_row):
        if body is None:
            yield RowError(row, _too_long(max_line_length))
            continue
        try:
            cells = next(csv.reader([body], strict=True))
        except csv.Error as error:
            yield RowError(row, f"the row is not a CSV line ({error}); quote cells holding commas or quotes")
            continue
        if len(cells) != len(header):
            yield RowError(row, f"the row has {len(cells)} cells, the header {len(header)} columns")
            continue
        yield _checked(row, dict(zip(header, cells, strict=True)))


# ---------------------------------------------------------------------------------------------------
# NDJSON (JSON lines)


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _no_repeats(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"the key {key[:40]!r} appears twice")
        result[key] = value
    return result


def _json_cells(value: object) -> dict[str, str | bool | list[str] | None]:
    """The cells of one JSON object, with their types checked (else :class:`InvalidArgument`)."""
    if not isinstance(value, dict):
        raise InvalidArgument("each line must be a JSON object")
    unknown = [key for key in value if key not in COLUMNS]
    if unknown:
        raise InvalidArgument(f"the object has {_unknown(unknown)}")
    cells: dict[str, str | bool | list[str] | None] = {}
    for key, cell in value.items():
        if cell is None:
            continue
        if key == "gateway":
            if not isinstance(cell, bool):
                raise InvalidArgument("gateway must be true or false (JSON booleans)")
            cells[key] = cell
        elif key == "tags":
            if isinstance(cell, str):
                cells[key] = cell
            elif isinstance(cell, list) and all(isinstance(item, str) for item in cell):
                cells[key] = list(cell)
            else:
                raise InvalidArgument("tags must be a list of strings or a text")
        elif isinstance(cell, str):
            cells[key] = cell
        else:
            raise InvalidArgument(f"{key} must be a JSON string")
    return cells


def rows_from_ndjson(
    lines: Iterable[str],
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    max_line_length: int = MAX_LINE_LENGTH,
    first_row: int = 1,
) -> Iterator[ImportRow | RowError]:
    """The rows of a JSON-lines file: one object per line with keys from :data:`COLUMNS` (``name``
    required). Values are strings (or ``null``: not given), except ``gateway`` (``true``/``false``)
    and ``tags`` (a list of strings, or one text of comma-joined tags). Blank lines are skipped and
    not counted; row ``max_rows + 1`` raises :class:`TooManyRows`. ``first_row``: the number of the
    first line's row (a chunk of a larger file)."""
    for row, body in _data_lines(lines, max_rows, max_line_length, first_row):
        if body is None:
            yield RowError(row, _too_long(max_line_length))
            continue
        problem = json_problem(body.encode("utf-8", "surrogatepass"))
        if problem is not None:
            yield RowError(row, f"the line {problem}")
            continue
        try:
            value = json.loads(body, object_pairs_hook=_no_repeats, parse_constant=_no_constant)
        except ValueError as error:
            yield RowError(row, f"the line is not JSON: {error}")
            continue
        try:
            cells = _json_cells(value)
        except ClaimdError as error:
            yield RowError(row, error.message)
            continue
        yield _checked(row, cells)


# ---------------------------------------------------------------------------------------------------
# Chunks of a streamed file


class ImportFormat(enum.StrEnum):
    CSV = "csv"
    NDJSON = "ndjson"


@dataclass(frozen=True, slots=True)
class LineChunk:
    """Consecutive data rows of a file: the number of the first, and their lines (no blank ones)."""

    first_row: int
    lines: tuple[str, ...]


class LineChunker:
    """Cuts a file streamed as text into :class:`LineChunk` of ``chunk_rows`` data rows, so that an
    upload is stored and worked a chunk at a time, with memory that does not grow with the file.

    For CSV the first non-blank line is the header: checked at once (:func:`read_csv_header`, a bad
    header refuses the upload) and kept in :attr:`header`, not counted as a row. Blank lines are
    dropped, as the readers skip them. A line longer than ``max_line_length`` is cut to one
    character more, so that its reader reports it too long without the chunker holding it whole.
    More than ``max_rows`` rows raise :class:`TooManyRows`."""

    def __init__(
        self,
        fmt: ImportFormat,
        chunk_rows: int,
        *,
        max_rows: int = DEFAULT_MAX_ROWS,
        max_line_length: int = MAX_LINE_LENGTH,
    ) -> None:
        self.format = fmt
        self.header: str | None = None
        self.rows = 0
        self._chunk_rows = chunk_rows
        self._max_rows = max_rows
        self._max_line = max_line_length
        self._partial: list[str] = []  # the pieces of the line being received
        self._partial_length = 0
        self._lines: list[str] = []

    def feed(self, text: str) -> Iterator[LineChunk]:
        start = 0
        while True:
            cut = text.find("\n", start)
            if cut < 0:
                self._keep(text[start:])
                return
            self._keep(text[start:cut])
            start = cut + 1
            yield from self._end_line()

    def close(self) -> Iterator[LineChunk]:
        yield from self._end_line()
        if self.format is ImportFormat.CSV and self.header is None:
            raise InvalidArgument("the file is empty: a CSV import starts with a header line")
        if self._lines:
            yield self._flush()

    def _keep(self, piece: str) -> None:
        room = self._max_line + 1 - self._partial_length
        if room > 0 and piece:
            piece = piece[:room]
            self._partial.append(piece)
            self._partial_length += len(piece)

    def _end_line(self) -> Iterator[LineChunk]:
        line = "".join(self._partial).rstrip("\r")
        self._partial, self._partial_length = [], 0
        if not line.strip():
            return
        if self.format is ImportFormat.CSV and self.header is None:
            read_csv_header(line, self._max_line)
            self.header = line.removeprefix("\ufeff")
            return
        self.rows += 1
        if self.rows > self._max_rows:
            raise TooManyRows(f"the file has more than {self._max_rows} rows")
        self._lines.append(line)
        if len(self._lines) >= self._chunk_rows:
            yield self._flush()

    def _flush(self) -> LineChunk:
        chunk = LineChunk(self.rows - len(self._lines) + 1, tuple(self._lines))
        self._lines = []
        return chunk


def read_chunk(fmt: ImportFormat, header: str | None, chunk: LineChunk) -> Iterator[ImportRow | RowError]:
    """The rows of a chunk cut by :class:`LineChunker`, numbered as in the whole file."""
    if fmt is ImportFormat.CSV:
        if header is None:
            raise InvalidArgument("a CSV chunk needs its file's header line")
        return rows_from_csv([header, *chunk.lines], first_row=chunk.first_row)
    return rows_from_ndjson(chunk.lines, first_row=chunk.first_row)
