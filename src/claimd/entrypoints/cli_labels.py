"""``claimd labels RESULTS``: printable labels from an import's result file, on this machine — the secrets
a label carries are in that file only (claimd keeps their digests), so no server is asked.

A result file is JSON lines (one object per input row) or CSV with a header, with the columns of a fleet
import's results (docs/provisioning.md): ``row``, ``name``, ``claimLink`` or ``qrText`` (what the QR code
carries), ``claimKey`` or ``claimCode`` (the code printed in words), ``error`` (a row that failed prints
nothing). ``--sheet`` chooses the sheet, ``--fields`` what prints beside the QR code, ``--rows`` which rows print
(a reprint); ``--out`` ending in .png or .svg writes one device's label instead. Exit codes: 0 every row
printed, 1 some rows skipped (failed or without a QR payload), 2 a usage or file error.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from claimd.adapters.labels import SHEETS, Label, label_png, label_sheet, label_svg
from claimd.domain.errors import ClaimdError

MAX_RESULT_ROWS = 1_000_000
FIELDS = ("name", "code")


def _records(path: Path) -> Iterator[dict[str, Any]]:
    """The rows of a result file, JSON lines or CSV (told apart by the first character)."""
    with path.open(encoding="utf-8", newline="") as handle:
        first = handle.read(1)
        handle.seek(0)
        if first in ("{", "["):  # JSON lines (a line that is not an object is refused)
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    value = json.loads(line)
                    if not isinstance(value, dict):
                        raise ValueError(f"line {number} is not a JSON object")
                    yield value
        else:
            yield from csv.DictReader(handle)


def _label(record: dict[str, Any], fields: tuple[str, ...]) -> Label | None:
    """The label of one result row, or None when it has nothing to print (a failed row, no QR payload)."""
    qr = record.get("claimLink") or record.get("qrText")
    if record.get("error") or not qr:
        return None
    name = str(record.get("name") or "") if "name" in fields else ""
    code = str(record.get("claimKey") or record.get("claimCode") or "") if "code" in fields else ""
    return Label(str(qr), name, code)


def _row_range(text: str | None) -> tuple[int, int] | None:
    """``--rows``: ``N`` or ``A-B`` (rows of the result file, from 1, both ends included)."""
    if text is None:
        return None
    first, _, last = text.partition("-")
    try:
        low, high = int(first), int(last or first)
    except ValueError:
        low, high = 0, -1
    if not 1 <= low <= high:
        typer.echo(f"claimd labels: --rows is a row number or a range such as 1-24, not {text!r}", err=True)
        raise typer.Exit(2)
    return low, high


def _write_private(path: Path, data: bytes) -> None:
    """Labels carry claim keys and codes (in the QR code and in words): the file is the owner's alone."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        os.fchmod(descriptor, 0o600)  # an existing file keeps its mode otherwise
        handle.write(data)


def labels(
    results: Annotated[Path, typer.Argument(help="An import's result file (JSON lines or CSV).")],
    sheet: Annotated[str, typer.Option(help=f"The sheet: {', '.join(SHEETS)}.")] = "a4-3x8",
    out: Annotated[
        Path, typer.Option(help="The file to write: a PDF sheet (.pdf), or one label as PNG (.png) or SVG (.svg).")
    ] = Path("labels.pdf"),
    fields: Annotated[
        str, typer.Option(help="What prints beside the QR code: name, code, or name,code.")
    ] = "name,code",
    rows: Annotated[
        str | None, typer.Option(help="Only these rows of the result file: N, or A-B (e.g. 1-24, a reprint).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Say what was written as JSON (for scripts).")] = False,
) -> None:
    """Print labels from an import's result file: a PDF sheet, each label a QR code, the device name and its
    code; or one device's label as PNG or SVG. The file is written mode 0600: labels carry claim keys."""
    chosen = tuple(f.strip() for f in fields.split(",") if f.strip())
    kind = out.suffix.lower()
    if sheet not in SHEETS or not set(chosen) <= set(FIELDS) or kind not in (".pdf", ".png", ".svg"):
        typer.echo(
            f"claimd labels: --sheet is one of {', '.join(SHEETS)}; --fields of {', '.join(FIELDS)}; "
            "--out ends in .pdf, .png or .svg",
            err=True,
        )
        raise typer.Exit(2)
    wanted = _row_range(rows)
    printed: list[Label] = []
    skipped = 0
    try:
        for count, record in enumerate(_records(results), start=1):
            if count > MAX_RESULT_ROWS:
                raise ValueError(f"more than {MAX_RESULT_ROWS:,} rows")
            row = record.get("row", count)
            if wanted is not None and not (isinstance(row, int | str) and wanted[0] <= int(row) <= wanted[1]):
                continue
            label = _label(record, chosen)
            if label is None:
                skipped += 1
            else:
                printed.append(label)
        if kind != ".pdf" and len(printed) != 1:
            typer.echo(
                f"claimd labels: {kind[1:].upper()} holds one label, but {len(printed)} rows have one: "
                "choose the row with --rows N",
                err=True,
            )
            raise typer.Exit(2)
        if kind == ".png":
            data = label_png(printed[0])
        elif kind == ".svg":
            data = label_svg(printed[0]).encode()
        else:
            data = label_sheet(printed, sheet)
        _write_private(out, data)
    except (OSError, ValueError, ClaimdError) as exc:
        typer.echo(f"claimd labels: {results}: {exc}", err=True)
        raise typer.Exit(2) from exc
    where = sheet if kind == ".pdf" else kind[1:].upper()
    if as_json:
        typer.echo(json.dumps({"labels": len(printed), "skipped": skipped, "sheet": where, "out": str(out)}))
    else:
        made = f"{len(printed)} label{'' if len(printed) == 1 else 's'}"
        typer.echo(f"{made} on {where} -> {out}" + (f"; {skipped} rows skipped" if skipped else ""))
    if skipped:
        raise typer.Exit(1)
