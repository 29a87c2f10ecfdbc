"""The files of ``POST /v1/lorawan-devices/import``, read as they stream: a CSV with a header row
(TTS's device CSV columns) or TTS's JSON stream of ``EndDevice`` objects, into drafts."""

from __future__ import annotations

import codecs
import json
from collections.abc import AsyncIterator
from typing import Any

from claimd.domain.bulk import MAX_RECORD_LENGTH, RecordSplitter, cells
from claimd.domain.errors import ClaimdError, InvalidArgument
from claimd.domain.inputs import JsonScan
from claimd.domain.lorawan import LorawanDraft
from claimd.domain.lorawan_import import csv_header, draft_from_csv, draft_from_json
from claimd.entrypoints.http.bodies import snake_names


async def import_rows(body: AsyncIterator[bytes]) -> AsyncIterator[tuple[int, LorawanDraft | ClaimdError]]:
    """The devices of an uploaded file: a CSV with a header row, or TTS's JSON stream of ``EndDevice``
    objects (one per line or simply one after another). Devices are numbered from 1, the first
    data row (or JSON device) being 1; blank lines are not rows. A file error (not UTF-8, no
    header, broken JSON, an overlong record) raises."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    text, kind, number = "", None, 0
    splitter, header = RecordSplitter(), None
    json_decoder = json.JSONDecoder()
    json_scan = JsonScan()  # the input rule before the decoder, which recurses per nesting level

    def scanned(piece: str) -> str:
        problem = json_scan.feed(piece.encode("utf-8"))
        if problem is not None:
            raise InvalidArgument(f"the file {problem}; no device of the file was registered")
        return piece

    def csv_rows(rows: Any) -> list[tuple[int, LorawanDraft | ClaimdError]]:
        nonlocal header, number
        out: list[tuple[int, LorawanDraft | ClaimdError]] = []
        for row in rows:
            if header is None:
                header = csv_header(cells(row.line))
                continue
            number += 1
            try:
                out.append((number, draft_from_csv(header, cells(row.line))))
            except ClaimdError as exc:
                out.append((number, exc))
        return out

    def json_objects(final: bool) -> list[tuple[int, LorawanDraft | ClaimdError]]:
        nonlocal text, number
        out: list[tuple[int, LorawanDraft | ClaimdError]] = []
        while True:
            text = text.lstrip()
            if not text:
                return out
            try:
                value, end = json_decoder.raw_decode(text)
            except json.JSONDecodeError:
                if not final and len(text) <= MAX_RECORD_LENGTH:
                    return out  # more text may complete it
                raise InvalidArgument(
                    f"device {number + 1}: not a JSON object (or longer than {MAX_RECORD_LENGTH} "
                    "characters); no device of the file was registered"
                ) from None
            text = text[end:]
            for item in value if isinstance(value, list) else [value]:  # a JSON array of devices is read too
                number += 1
                try:
                    out.append((number, draft_from_json(snake_names(item))))
                except ClaimdError as exc:
                    out.append((number, exc))

    try:
        async for chunk in body:
            piece = decoder.decode(chunk)
            if kind is None:
                text += piece
                if not text.strip():
                    continue
                kind, piece, text = ("json" if text.lstrip().startswith(("{", "[")) else "csv"), text, ""
            if kind == "csv":
                for item in csv_rows(splitter.feed(piece)):
                    yield item
            else:
                text += scanned(piece)
                for item in json_objects(False):
                    yield item
        piece = decoder.decode(b"", final=True)
        if kind == "csv":
            for item in csv_rows([*splitter.feed(piece), *splitter.close()]):
                yield item
        elif kind == "json":
            text += scanned(piece)
            for item in json_objects(True):
                yield item
    except UnicodeDecodeError:
        raise InvalidArgument("the file is not UTF-8 text") from None
    if kind is None or (kind == "csv" and header is None):
        raise InvalidArgument("the file has no devices")
