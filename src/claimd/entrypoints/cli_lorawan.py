"""``claimd lorawan …``: LoRaWAN devices from the command line, against a running claimd over HTTP (as
``ttn-lw-cli`` talks to The Things Stack). Tenants register devices and print their TR005 QR codes;
customers claim, list and unclaim. Where claimd is and who asks (an API key, or a user's e-mail and
password; never a secret as a command-line value, which every local user sees in ``ps``) come from the
options, the environment or a profile, as for every remote command (cli_remote.py). Exit status: 0 done,
1 some devices failed, 2 a usage, connection or server error.

Files that hold one-time claim codes (the import's results, QR images: a TR005 QR text carries the
code) are created mode 0600 and never overwritten.
"""

from __future__ import annotations

import base64
import csv as csvlib
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer

from claimd.entrypoints.cli_remote import client_of, connect, create_private, echo_json, fail

lorawan_app = typer.Typer(
    help="LoRaWAN devices: register them with claim authentication codes, print TR005 QR codes, claim, list "
    "and unclaim (talks to a running claimd over HTTP).",
    no_args_is_help=True,
)


lorawan_app.callback()(connect)


def _write_qr(text: str, png: Path | None, svg: Path | None, size: int, *, quiet: bool = False) -> None:
    """The QR images (0600: the text carries the claim code); ``quiet`` (``--json``) names them on
    stderr, keeping stdout machine-readable."""
    from claimd.adapters.qrimage import render_png, render_svg
    from claimd.domain.errors import InvalidArgument

    renders: list[tuple[Path | None, str, Callable[[], bytes]]] = [
        (png, "PNG", lambda: render_png(text, size)),
        (svg, "SVG", lambda: render_svg(text, size).encode()),
    ]
    try:
        images = [(path, kind, render()) for path, kind, render in renders if path is not None]
    except InvalidArgument as exc:
        fail(exc.message)
    for path, kind, data in images:
        with create_private(path, "QR image") as fh:
            try:
                fh.write(data)
            except OSError as exc:
                fail(f"cannot write the QR code image: {exc.strerror}")
        typer.echo(f"QR code {kind}: {path}", err=quiet)


def _show_provisioned(body: dict[str, Any], as_json: bool) -> None:
    if as_json:
        echo_json(body)
        return
    code = body["claim_authentication_code"]
    typer.echo(f"device      {body['name']} ({body['id']})")
    typer.echo(f"DevEUI      {body['ids']['dev_eui']}")
    typer.echo(f"JoinEUI     {body['ids']['join_eui']}")
    typer.echo(f"claim code  {code['value']}  (shown this once: print the QR code now)")
    if code.get("valid_from") or code.get("valid_to"):
        typer.echo(f"valid       {code.get('valid_from') or '-'} to {code.get('valid_to') or '-'}")
    typer.echo(f"QR text     {body['qr_code']}")


QrPng = Annotated[Path | None, typer.Option("--qr-png", help="Write the device's TR005 QR code as PNG")]
QrSvg = Annotated[Path | None, typer.Option("--qr-svg", help="Write the device's TR005 QR code as SVG")]
QrSize = Annotated[int, typer.Option("--qr-size", help="QR image size in pixels (10-1000)")]
ValidFrom = Annotated[str | None, typer.Option(help="Code valid from (RFC 3339, e.g. 2026-01-31T00:00:00Z)")]
ValidTo = Annotated[str | None, typer.Option(help="Code valid until (RFC 3339)")]
Json = Annotated[bool, typer.Option("--json", help="Print the answer as JSON (machine-readable)")]


@lorawan_app.command("provision")
def provision(
    ctx: typer.Context,
    dev_eui: Annotated[str, typer.Option("--dev-eui", help="DevEUI, 16 hex digits")],
    join_eui: Annotated[str | None, typer.Option("--join-eui", help="JoinEUI (AppEUI) (default: zero)")] = None,
    code: Annotated[str | None, typer.Option(help="Claim authentication code (default: 8 random hex)")] = None,
    valid_from: ValidFrom = None,
    valid_to: ValidTo = None,
    vendor_id: Annotated[int, typer.Option(help="LoRa Alliance vendor id (0-65535)")] = 0,
    profile_id: Annotated[int, typer.Option(help="Vendor profile id (0-65535)")] = 0,
    serial: Annotated[str | None, typer.Option(help="Serial number (in the QR code's S field)")] = None,
    name: Annotated[str | None, typer.Option(help="Device name (default: eui-<deveui>)")] = None,
    qr_png: QrPng = None,
    qr_svg: QrSvg = None,
    qr_size: QrSize = 300,
    as_json: Json = False,
) -> None:
    """Register a LoRaWAN device (tenant admin); print its claim code and QR text once, and the QR image.

    With --json: the answer of POST /v1/lorawan-devices (id, name, ids, claim_authentication_code with its value, qr_code, and more).
    """
    window = {k: v for k, v in (("value", code), ("valid_from", valid_from), ("valid_to", valid_to)) if v}
    body = {
        "ids": {"dev_eui": dev_eui, "join_eui": join_eui, "device_id": name},
        "claim_authentication_code": window or None,
        "serial_number": serial,
        "lora_alliance_profile_ids": {"vendor_id": vendor_id, "vendor_profile_id": profile_id},
    }
    answer = client_of(ctx).call("POST", "/v1/lorawan-devices", json=body)
    _show_provisioned(answer, as_json)
    _write_qr(answer["qr_code"], qr_png, qr_svg, qr_size, quiet=as_json)


@lorawan_app.command("set-code")
def set_code(
    ctx: typer.Context,
    dev_eui: Annotated[str, typer.Argument(help="The device's DevEUI")],
    code: Annotated[str | None, typer.Option(help="The new code (default: 8 random hex)")] = None,
    valid_from: ValidFrom = None,
    valid_to: ValidTo = None,
    qr_png: QrPng = None,
    qr_svg: QrSvg = None,
    qr_size: QrSize = 300,
    as_json: Json = False,
) -> None:
    """Give a device a new claim authentication code (after an unclaim, it makes the device claimable again)."""
    body = {"value": code, "valid_from": valid_from, "valid_to": valid_to}
    answer = client_of(ctx).call("POST", f"/v1/lorawan-devices/{dev_eui}/claim-code", json=body)
    _show_provisioned(answer, as_json)
    _write_qr(answer["qr_code"], qr_png, qr_svg, qr_size, quiet=as_json)


IMPORT_HELP = """Register the devices of a file (tenant admin). The results carry each generated claim code and QR text, shown this once: keep them (--out writes a new file, mode 0600).

The file is a CSV with a header row, or JSON lines of TTS EndDevice objects. CSV columns, in any order (names case-insensitive, unknown columns ignored; every row has one cell per header column, empty cells are fine):

  dev_eui (or deveui): DevEUI, 16 hex digits; required, not zero
  join_eui (joineui, app_eui, appeui): JoinEUI; default 0000000000000000
  claim_authentication_code (claim_code, authentication_code, owner_token): 1-32 letters and digits; default 8 random hex digits
  valid_from, valid_to: the code's validity, RFC 3339 or epoch milliseconds; default open
  vendor_id, vendor_profile_id (profile_id): LoRa Alliance ids in hex, 0-FFFF; default 0
  serial_number (serial): serial number, written in the QR code's S field
  id (device_id, name): device name; default eui-<deveui>

Results, one per device in file order, as JSON lines (or CSV with --csv, columns row, status, id, name, dev_eui, join_eui, claim_authentication_code, qr_code, code, message):

  row: the device's number, 1 for the first row after the header (or the first JSON device); blank lines are not rows
  status OK: id, name, dev_eui, join_eui, claim_authentication_code, qr_code (TR005 text)
  status ERROR: code (e.g. INVALID_EUI, DEV_EUI_TAKEN), message
  JSON lines end with a summary line with total, succeeded, failed

A file error (not UTF-8, no dev_eui column, broken JSON, too large) refuses the whole file: nothing is registered. Exit status 1 if any device failed. A progress display goes to stderr when it is a terminal (not with --json).
"""
IMPORT_SHORT_HELP = "Register the devices of a CSV or JSON-lines file; results carry each one-time code."


def _failed(line: str, in_csv: bool) -> bool:
    """Whether a result line is a device that failed (a CSV's header and the JSON summary are not)."""
    if in_csv:
        cells = next(csvlib.reader([line]), [])
        return len(cells) > 1 and cells[1] == "ERROR"
    return bool(json.loads(line).get("status") == "ERROR")


def _import_progress(show: bool) -> tuple[Any, Callable[[str, int], None]]:
    """A rich progress display on stderr (uploaded bytes, then devices answered), or none."""
    if not show:
        return nullcontext(), lambda task, n: None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    # redirect_stdout off: the results on stdout must not be drawn into the display on stderr
    progress = Progress(
        TextColumn("{task.description:<22}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True),
        redirect_stdout=False,
        redirect_stderr=False,
    )
    tasks = {
        "upload": progress.add_task("uploading (bytes)", total=None),
        "devices": progress.add_task("devices registered", total=None),
    }
    return progress, lambda task, n: progress.advance(tasks[task], n)


@lorawan_app.command("import", help=IMPORT_HELP, short_help=IMPORT_SHORT_HELP)
def import_devices(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV with a header row, or JSON lines of TTS EndDevice objects", exists=True, dir_okay=False
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Write the results to this new file, mode 0600 (never overwritten) (default: stdout)"
        ),
    ] = None,
    csv: Annotated[bool, typer.Option("--csv", help="Results as CSV instead of JSON lines")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Results as JSON lines (the default), no progress display")
    ] = False,
) -> None:
    if csv and as_json:
        fail("give --csv or --json, not both")
    client = client_of(ctx)
    target = create_private(out, "--out") if out else None  # before the upload: a refused path registers nothing
    display, advance = _import_progress(not as_json and sys.stderr.isatty())

    def chunks() -> Iterator[bytes]:
        with file.open("rb") as fh:
            while chunk := fh.read(64 * 1024):
                advance("upload", len(chunk))
                yield chunk

    failed, written = 0, False
    try:
        with display:
            for line in client.stream(
                "POST", f"/v1/lorawan-devices/import?format={'csv' if csv else 'ndjson'}", content=chunks()
            ):
                if target is not None:
                    target.write((line + "\n").encode())
                else:
                    sys.stdout.write(line + "\n")
                written = True
                if _failed(line, csv):
                    failed += 1
                if not line.startswith(("row,", '{"total"')):
                    advance("devices", 1)
    finally:
        if target is not None:
            target.close()
            if not written and out is not None:  # refused before any result: no empty file to block a rerun
                out.unlink(missing_ok=True)
    if failed:
        typer.echo(f"claimd: {failed} device(s) failed; see the results", err=True)
        raise typer.Exit(1)


@lorawan_app.command("qr")
def qr(
    text: Annotated[str, typer.Argument(help="A QR code text (e.g. a qr_code from provision or import)")],
    png: Annotated[Path | None, typer.Option("--png", help="Write a PNG here")] = None,
    svg: Annotated[Path | None, typer.Option("--svg", help="Write an SVG here")] = None,
    size: Annotated[int, typer.Option(help="Image size in pixels (10-1000)")] = 300,
) -> None:
    """Render a QR code text as PNG or SVG (offline)."""
    if png is None and svg is None:
        fail("give --png and/or --svg")
    _write_qr(text, png, svg, size)


@lorawan_app.command("claim")
def claim(
    ctx: typer.Context,
    application: Annotated[str, typer.Option("--application", "-a", help="Your application (made on first use)")],
    qr_text: Annotated[str | None, typer.Option("--qr", help="The scanned QR code text")] = None,
    join_eui: Annotated[str | None, typer.Option("--join-eui")] = None,
    dev_eui: Annotated[str | None, typer.Option("--dev-eui")] = None,
    code: Annotated[str | None, typer.Option(help="The claim authentication code")] = None,
    device_id: Annotated[
        str | None, typer.Option("--device-id", help="Its id in the application (default: eui-<deveui>)")
    ] = None,
    as_json: Json = False,
) -> None:
    """Claim a LoRaWAN device (customer user) by its QR code or by JoinEUI, DevEUI and code.

    With --json: TTS's answer, an object with device_id, application_ids.application_id, dev_eui and join_eui.
    """
    body: dict[str, Any] = {"target_application_ids": {"application_id": application}, "target_device_id": device_id}
    if qr_text:
        body["qr_code"] = base64.b64encode(qr_text.encode()).decode()
    elif dev_eui and code:
        body["authenticated_identifiers"] = {
            "join_eui": join_eui or "0000000000000000",
            "dev_eui": dev_eui,
            "authentication_code": code,
        }
    else:
        fail("give --qr, or --dev-eui and --code (and --join-eui)")
    answer = client_of(ctx).call("POST", "/api/v3/edcs/claim", json=body)
    if as_json:
        echo_json(answer)
    else:
        typer.echo(
            f"claimed {answer['dev_eui']} as {answer['device_id']} in {answer['application_ids']['application_id']}"
        )


@lorawan_app.command("list")
def list_devices(
    ctx: typer.Context,
    application: Annotated[
        str | None, typer.Option("--application", "-a", help="List this application's devices")
    ] = None,
) -> None:
    """Your applications, or the devices of one (customer user), as JSON."""
    client = client_of(ctx)
    if application is None:
        answer = client.call("GET", "/api/v3/applications")
    else:
        answer = client.call("GET", f"/api/v3/applications/{application}/devices", params={"limit": 1000})
    typer.echo(json.dumps(answer, indent=2))


@lorawan_app.command("unclaim")
def unclaim(
    ctx: typer.Context,
    application: Annotated[str, typer.Argument(help="The application")],
    device_ids: Annotated[list[str], typer.Argument(help="Device ids in it (up to 20)")],
    as_json: Json = False,
) -> None:
    """Unclaim devices of an application (customer user): they leave you; their codes stay spent.

    With --json: an object with application_id, unclaimed (the device ids) and failed (device id to TTS error details). Exit status 1 if any failed.
    """
    client = client_of(ctx)
    if len(device_ids) == 1:
        client.call("DELETE", f"/api/v3/edcs/claim/{application}/devices/{device_ids[0]}")
        failed: dict[str, Any] = {}
    else:
        failed = client.call(
            "DELETE", f"/api/v3/edcs/claim/{application}/devices/batch", params={"device_ids": device_ids}
        )["failed"]
    if as_json:
        echo_json(
            {"application_id": application, "unclaimed": [d for d in device_ids if d not in failed], "failed": failed}
        )
    else:
        for device_id in device_ids:
            typer.echo(
                f"{device_id}: {'failed: ' + failed[device_id]['message_format'] if device_id in failed else 'unclaimed'}"
            )
    if failed:
        raise typer.Exit(1)
