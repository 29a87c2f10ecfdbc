"""``claimd devices …``: a tenant's devices on a running claimd, from a production line's terminal.

``import FILE`` sends a whole production run (CSV or JSON lines, docs/provisioning.md) as one bulk job,
follows it with a progress bar, and downloads its result file: one line a row with the device's id and
the secrets claimd generated (access token, claim key, claim link). Those secrets are in that download
only (claimd keeps digests, and serves the file once), so the file is made before anything is sent —
mode 0600, never over an existing file — and a path that cannot be written stops the import before it
starts. ``list``, ``show``, ``create`` and ``delete`` use the ThingsBoard-compatible REST API; ``block``,
``unblock`` and ``tags`` the nRF-style ownership API (``/v1/claimed-devices/{id}/…``).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from claimd.entrypoints.cli_jobs import download_results, drop_if_empty, wait_for
from claimd.entrypoints.cli_remote import (
    EXIT_ROWS_FAILED,
    Json,
    an_id,
    client_of,
    connect,
    create_private,
    echo_json,
    fail,
    table,
)

devices_app = typer.Typer(
    help="A tenant's devices: import a production run from a file, list, show, create, delete, block, "
    "unblock, tag "
    "(talks to a running claimd over HTTP).",
    no_args_is_help=True,
)
devices_app.callback()(connect)

NULL_UUID = "13814000-1dd2-11b2-8080-808080808080"  # ThingsBoard's "no customer"
FORMATS = {".csv": "csv", ".jsonl": "ndjson", ".ndjson": "ndjson"}
CONTENT_TYPES = {"csv": "text/csv", "ndjson": "application/x-ndjson"}
SHOWN_FAILURES = 10


def _format_of(file: Path, given: str | None) -> str:
    if given is not None:
        if given not in CONTENT_TYPES:
            fail(f"--format is csv or ndjson, not {given!r}")
        return given
    found = FORMATS.get(file.suffix.lower())
    if found is None:
        fail(f"cannot tell the format of {file.name} from its extension: give --format csv or --format ndjson")
    return found


def _failures(results: Path) -> tuple[int, list[dict[str, Any]]]:
    """How many rows of a result file failed, and the first few of them. Read a line at a time: a
    production run's file may hold a million rows."""
    count, first = 0, list[dict[str, Any]]()
    try:
        with results.open(encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    continue
                row = json.loads(line)
                if isinstance(row, dict) and row.get("error"):
                    count += 1
                    if len(first) < SHOWN_FAILURES:
                        first.append(row)
    except (ValueError, OSError) as exc:
        fail(f"{results} is not the JSON lines expected ({exc}): look at it before using it")
    return count, first


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error.get("code") or error)
    return str(error)


@devices_app.command("import")
def import_devices(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(help="The devices: a CSV with a header row, or JSON lines", exists=True, dir_okay=False),
    ],
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="csv or ndjson (default: from the extension, .csv, .jsonl or .ndjson)"),
    ] = None,
    claim_key_length: Annotated[
        int | None, typer.Option(help="Symbols in each generated claim key (default: the server's, 20)")
    ] = None,
    claim_key_alphabet: Annotated[
        str | None, typer.Option(help="Symbols of generated claim keys (default: Crockford's base 32)")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="A new file for the results, mode 0600, never overwritten (default: FILE.results.jsonl)"
        ),
    ] = None,
    idempotency_key: Annotated[
        str | None,
        typer.Option(help="Send the file again with the same key after a lost answer: the server starts it once"),
    ] = None,
    no_progress: Annotated[
        bool, typer.Option("--no-progress", help="No progress bar (drawn on a terminal only)")
    ] = False,
    as_json: Json = False,
) -> None:
    """Import a production run from a file (tenant admin); the results hold each device's one-time secrets.

    One bulk job, its progress on stderr, then its result file (FILE.results.jsonl, or --out) and a summary.
    Exit 0 if every row was imported, 1 if some failed (see the summary and the result file), 2 on a usage,
    connection or server error.
    """
    kind = _format_of(file, fmt)
    out = out if out is not None else file.with_name(file.name + ".results.jsonl")
    if out.exists():
        fail(f"{out} exists; not overwritten (it may hold earlier one-time secrets): give --out a new path")
    client = client_of(ctx)
    target = create_private(out, "--out")  # before the upload: an unwritable path imports nothing
    try:
        params = {
            k: v
            for k, v in (("claim_key_length", claim_key_length), ("claim_key_alphabet", claim_key_alphabet))
            if v is not None
        }
        headers = {"Content-Type": CONTENT_TYPES[kind]}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key

        def chunks() -> Iterator[bytes]:
            with file.open("rb") as fh:
                while chunk := fh.read(64 * 1024):
                    yield chunk

        accepted = client.call("POST", "/v1/devices/bulk", headers=headers, params=params, content=chunks())
        job_id = str(accepted.get("bulkOpsRequestId") or "")
        if not job_id:
            fail(f"claimd at {client.url} did not answer a job id: is it a claimd that imports devices?")
        if not as_json:
            typer.echo(f"claimd: import job {job_id} accepted", err=True)
        job = wait_for(client, job_id, show_progress=not (no_progress or as_json))
    except BaseException:
        target.close()
        drop_if_empty(out)
        raise
    download_results(client, job_id, out, target)
    failed, failures = _failures(out)
    if as_json:
        echo_json({**job, "resultsFile": os.fspath(out)})
    else:
        _summary(job, failed, failures, out)
    if job.get("failed") or failed or job.get("status") == "FAILED":
        raise typer.Exit(EXIT_ROWS_FAILED)


def _summary(job: dict[str, Any], failed: int, failures: list[dict[str, Any]], out: Path) -> None:
    typer.echo(f"job        {job.get('bulkOpsRequestId')}")
    typer.echo(f"rows       {job.get('total')}")
    typer.echo(f"succeeded  {job.get('succeeded')}")
    typer.echo(f"failed     {job.get('failed')}")
    if failures:
        typer.echo("")
        rows = [[str(f.get("row", "")), str(f.get("name") or ""), _error_text(f["error"])] for f in failures]
        table(rows, ["ROW", "NAME", "ERROR"])
        if failed > len(rows):
            typer.echo(f"… and {failed - len(rows)} more failed rows: see the result file")
        typer.echo("")
    typer.echo(f"results    {out}")
    typer.echo("           (mode 0600: it holds one-time secrets, served once; print labels with claimd labels)")


def _device_id(value: str) -> str:
    return an_id(value, "a device id (a UUID, as `claimd devices list` shows)")


def _created(ms: Any) -> str:
    try:
        return datetime.fromtimestamp(int(ms) / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError, OverflowError):
        return "-"


def _customer(device: dict[str, Any]) -> str:
    customer = (device.get("customerId") or {}).get("id")
    return "" if customer in (None, NULL_UUID) else str(customer)


def _device_row(device: dict[str, Any]) -> list[str]:
    return [
        str(device.get("name", "")),
        str((device.get("id") or {}).get("id", "")),
        str(device.get("type") or ""),
        str(device.get("label") or ""),
        _customer(device) or "-",
    ]


def _show_device(device: dict[str, Any]) -> None:
    for name, value in (
        ("name", device.get("name")),
        ("id", (device.get("id") or {}).get("id")),
        ("type", device.get("type")),
        ("label", device.get("label") or "-"),
        ("customer", _customer(device) or "- (unclaimed)"),
        ("created", _created(device.get("createdTime"))),
    ):
        typer.echo(f"{name:<9} {value}")


@devices_app.command("list")
def list_devices(
    ctx: typer.Context,
    name_prefix: Annotated[str | None, typer.Option(help="Only devices whose name starts with this")] = None,
    device_type: Annotated[str | None, typer.Option("--type", help="Only devices of this type")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many devices")] = 100,
    as_json: Json = False,
) -> None:
    """The tenant's devices, by name (tenant admin)."""
    client = client_of(ctx)
    found: list[dict[str, Any]] = []
    page, size = 0, min(limit, 1000)
    while len(found) < limit:
        params: dict[str, Any] = {"pageSize": size, "page": page, "sortProperty": "name", "sortOrder": "ASC"}
        if name_prefix:
            params["textSearch"] = name_prefix  # a contains search: the prefix is checked below
        if device_type:
            params["type"] = device_type
        answer = client.call("GET", "/api/tenant/devices", params=params)
        data = answer.get("data", [])
        found += [d for d in data if not name_prefix or str(d.get("name", "")).startswith(name_prefix)]
        if not answer.get("hasNext") or not data:
            break
        page += 1
    found = found[:limit]
    if as_json:
        echo_json(found)
    elif not found:
        typer.echo("no devices")
    else:
        table([_device_row(d) for d in found], ["NAME", "ID", "TYPE", "LABEL", "CUSTOMER"])


@devices_app.command("show")
def show(
    ctx: typer.Context,
    device: Annotated[str, typer.Argument(help="The device's name or id")],
    as_json: Json = False,
) -> None:
    """One device, by its id or its name (tenant admin)."""
    client = client_of(ctx)
    try:
        found = client.find(f"/api/device/{uuid.UUID(device)}")
    except ValueError:  # not an id: a name
        found = None
    if found is None:
        found = client.find("/api/tenant/devices", params={"deviceName": device})
    if found is None:
        fail(f"no device named or numbered {device!r}")
    if as_json:
        echo_json(found)
    else:
        _show_device(found)


@devices_app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The device's name (unique in the tenant)")],
    device_type: Annotated[str | None, typer.Option("--type", help="Its type (default: default)")] = None,
    label: Annotated[str | None, typer.Option(help="Its label")] = None,
    as_json: Json = False,
) -> None:
    """Create one device (tenant admin)."""
    body = {"name": name, "type": device_type or "default", "label": label}
    made = client_of(ctx).call("POST", "/api/device", json=body)
    if as_json:
        echo_json(made)
    else:
        _show_device(made)


@devices_app.command("delete")
def delete(
    ctx: typer.Context,
    device_id: Annotated[str, typer.Argument(help="The device's id (a UUID)")],
    as_json: Json = False,
) -> None:
    """Delete one device (tenant admin)."""
    wanted = _device_id(device_id)
    client_of(ctx).call("DELETE", f"/api/device/{wanted}")
    if as_json:
        echo_json({"deleted": wanted})
    else:
        typer.echo(f"deleted {wanted}")


# nRF-style ownership: block, unblock, tags (/v1/claimed-devices/{id}/…) --------------------------
def _show_claimed(device: dict[str, Any]) -> None:
    for name, value in (
        ("name", device.get("name")),
        ("id", device.get("id")),
        ("status", device.get("status")),
        ("owner", device.get("ownerId") or "- (unclaimed)"),
        ("tags", ", ".join(device.get("tags") or []) or "-"),
        ("blocked", f"{device.get('blockedAt')} by {device.get('blockedBy')}" if device.get("blockedAt") else "-"),
    ):
        typer.echo(f"{name:<8} {value}")


def _set_blocked(ctx: typer.Context, device_id: str, action: str, as_json: bool) -> None:
    answer = client_of(ctx).call("POST", f"/v1/claimed-devices/{_device_id(device_id)}/{action}")
    if as_json:
        echo_json(answer)
    else:
        _show_claimed(answer)


@devices_app.command("block")
def block(
    ctx: typer.Context,
    device_id: Annotated[str, typer.Argument(help="The device's id (a UUID)")],
    as_json: Json = False,
) -> None:
    """Block a device (idempotent): a tenant admin's block refuses new claims until the tenant lifts it, an owner's block goes with its claim."""
    _set_blocked(ctx, device_id, "block", as_json)


@devices_app.command("unblock")
def unblock(
    ctx: typer.Context,
    device_id: Annotated[str, typer.Argument(help="The device's id (a UUID)")],
    as_json: Json = False,
) -> None:
    """Unblock a device (idempotent)."""
    _set_blocked(ctx, device_id, "unblock", as_json)


@devices_app.command("tags")
def tags(
    ctx: typer.Context,
    device_id: Annotated[str, typer.Argument(help="The device's id (a UUID)")],
    add: Annotated[list[str] | None, typer.Option("--add", help="Add this tag (repeatable)")] = None,
    remove: Annotated[list[str] | None, typer.Option("--remove", help="Remove this tag (repeatable)")] = None,
    as_json: Json = False,
) -> None:
    """Show a device's tags, or add and remove some.

    Adding alone is one request (the server adds); removing reads the tags and sets them all, since the
    API sets a device's tags whole (PUT) or adds to them (POST) but has no single removal.
    """
    wanted = _device_id(device_id)
    client = client_of(ctx)
    path = f"/v1/claimed-devices/{wanted}/tags"
    if remove:
        current = client.call("GET", f"/v1/claimed-devices/{wanted}").get("tags") or []
        kept = [t for t in [*current, *(t for t in add or [] if t not in current)] if t not in remove]
        answer = client.call("PUT", path, json={"tags": kept})
    elif add:
        answer = client.call("POST", path, json={"tags": add})
    else:
        answer = client.call("GET", f"/v1/claimed-devices/{wanted}")
    if as_json:
        echo_json(answer)
    else:
        typer.echo(", ".join(answer.get("tags") or []) or "no tags")
