"""``claimd labels RESULTS``: printable labels from an import's result file, on this machine — the secrets
a label carries are in that file only (claimd keeps their digests), so no server is asked.

A result file is JSON lines (one object per input row) or CSV with a header, with the columns of a fleet
import's results (docs/provisioning.md): ``row``, ``name``, ``claimLink`` or ``qrText`` (what the QR code
carries), ``claimKey`` or ``claimCode`` (the code printed in words), ``error`` (a row that failed prints
nothing). ``--sheet`` chooses the sheet, ``--fields`` what prints beside the QR code. Exit codes: 0 every row
printed, 1 some rows skipped (failed or without a QR payload), 2 a usage or file error.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from claimd.adapters.labels import SHEETS, Label, label_sheet
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


def labels(
    results: Annotated[Path, typer.Argument(help="An import's result file (JSON lines or CSV).")],
    sheet: Annotated[str, typer.Option(help=f"The sheet: {', '.join(SHEETS)}.")] = "a4-3x8",
    out: Annotated[Path, typer.Option(help="The PDF to write.")] = Path("labels.pdf"),
    fields: Annotated[
        str, typer.Option(help="What prints beside the QR code: name, code, or name,code.")
    ] = "name,code",
) -> None:
    """Print labels from an import's result file: a PDF sheet, each label a QR code, the device name and its code."""
    chosen = tuple(f.strip() for f in fields.split(",") if f.strip())
    if sheet not in SHEETS or not set(chosen) <= set(FIELDS):
        typer.echo(f"claimd labels: --sheet is one of {', '.join(SHEETS)}; --fields of {', '.join(FIELDS)}", err=True)
        raise typer.Exit(2)
    printed: list[Label] = []
    skipped = 0
    try:
        for count, record in enumerate(_records(results), start=1):
            if count > MAX_RESULT_ROWS:
                raise ValueError(f"more than {MAX_RESULT_ROWS:,} rows")
            label = _label(record, chosen)
            if label is None:
                skipped += 1
            else:
                printed.append(label)
        pdf = label_sheet(printed, sheet)
    except (OSError, ValueError, ClaimdError) as exc:
        typer.echo(f"claimd labels: {results}: {exc}", err=True)
        raise typer.Exit(2) from exc
    out.write_bytes(pdf)
    typer.echo(f"{len(printed)} labels on {sheet} -> {out}" + (f"; {skipped} rows skipped" if skipped else ""))
    if skipped:
        raise typer.Exit(1)
