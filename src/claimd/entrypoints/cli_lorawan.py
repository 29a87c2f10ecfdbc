"""``claimd lorawan …``: LoRaWAN devices from the command line, against a running claimd over HTTP (as
``ttn-lw-cli`` talks to The Things Stack). Tenants register devices and print their TR005 QR codes;
customers claim, list and unclaim. Credentials: an API key (``CLAIMD_API_KEY``) or a user's e-mail
and password (``CLAIMD_USERNAME``, ``CLAIMD_PASSWORD``).
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

lorawan_app = typer.Typer(
    help="LoRaWAN devices: register them with claim authentication codes, print TR005 QR codes, claim, list "
         "and unclaim (talks to a running claimd over HTTP).", no_args_is_help=True)


class _Client:
    def __init__(self, url: str, api_key: str | None, username: str | None, password: str | None) -> None:
        import httpx

        self.http = httpx.Client(base_url=url.rstrip("/"), timeout=httpx.Timeout(30.0, read=None))
        self.url, self.api_key, self.username, self.password = url, api_key, username, password
        self.token: str | None = None

    def _auth(self) -> dict[str, str]:
        if self.api_key:
            return {"Authorization": f"Bearer {self.api_key}"}
        if self.token is None:
            if not (self.username and self.password):
                _fail("give an API key (--api-key, CLAIMD_API_KEY) or --username and --password")
            answer = self._send("POST", "/api/auth/login", {}, json={"username": self.username, "password": self.password})
            self.token = answer.json()["token"]
        return {"X-Authorization": f"Bearer {self.token}"}

    def _send(self, method: str, path: str, headers: dict[str, str], **kw: Any) -> Any:
        import httpx

        try:
            answer = self.http.request(method, path, headers=headers, **kw)
        except httpx.HTTPError as exc:
            _fail(f"cannot reach claimd at {self.url} ({exc})")
        if answer.status_code >= 400:
            _fail(f"{answer.status_code}: {_message(answer)}")
        return answer

    def call(self, method: str, path: str, **kw: Any) -> Any:
        answer = self._send(method, path, self._auth(), **kw)
        return answer.json() if answer.content else {}

    def stream(self, method: str, path: str, **kw: Any) -> Iterator[str]:
        with self.http.stream(method, path, headers=self._auth(), **kw) as answer:
            if answer.status_code >= 400:
                answer.read()
                _fail(f"{answer.status_code}: {_message(answer)}")
            yield from answer.iter_lines()


def _message(answer: Any) -> str:
    try:
        body = answer.json()
    except ValueError:
        return answer.text[:200]
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("message") or body)
    return str(body)


def _fail(message: str) -> None:
    typer.echo(f"claimd: {message}", err=True)
    raise typer.Exit(1)


def _client(ctx: typer.Context) -> _Client:
    return ctx.obj


@lorawan_app.callback()
def _connect(
    ctx: typer.Context,
    url: Annotated[str, typer.Option(envvar="CLAIMD_URL", show_envvar=True, help="claimd's base URL")] = "http://127.0.0.1:8080",
    api_key: Annotated[str | None, typer.Option(envvar="CLAIMD_API_KEY", show_envvar=True, help="An API key")] = None,
    username: Annotated[str | None, typer.Option(envvar="CLAIMD_USERNAME", show_envvar=True, help="A user's e-mail")] = None,
    password: Annotated[str | None, typer.Option(envvar="CLAIMD_PASSWORD", show_envvar=True, help="Its password")] = None,
) -> None:
    ctx.obj = _Client(url, api_key, username, password)


def _write_qr(text: str, png: Path | None, svg: Path | None, size: int) -> None:
    from claimd.adapters.qrimage import render_png, render_svg
    from claimd.domain.errors import InvalidArgument

    try:
        if png is not None:
            png.write_bytes(render_png(text, size))
            typer.echo(f"QR code PNG: {png}")
        if svg is not None:
            svg.write_text(render_svg(text, size))
            typer.echo(f"QR code SVG: {svg}")
    except InvalidArgument as exc:
        _fail(exc.message)
    except OSError as exc:
        _fail(f"cannot write the QR code image: {exc.strerror}")


def _show_provisioned(body: dict[str, Any]) -> None:
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


@lorawan_app.command("provision")
def provision(
    ctx: typer.Context,
    dev_eui: Annotated[str, typer.Option("--dev-eui", help="DevEUI, 16 hex digits")],
    join_eui: Annotated[str | None, typer.Option("--join-eui", help="JoinEUI (AppEUI) [default: zero]")] = None,
    code: Annotated[str | None, typer.Option(help="Claim authentication code [default: 8 random hex]")] = None,
    valid_from: ValidFrom = None,
    valid_to: ValidTo = None,
    vendor_id: Annotated[int, typer.Option(help="LoRa Alliance vendor id (0-65535)")] = 0,
    profile_id: Annotated[int, typer.Option(help="Vendor profile id (0-65535)")] = 0,
    serial: Annotated[str | None, typer.Option(help="Serial number (in the QR code's S field)")] = None,
    name: Annotated[str | None, typer.Option(help="Device name [default: eui-<deveui>]")] = None,
    qr_png: QrPng = None,
    qr_svg: QrSvg = None,
    qr_size: QrSize = 300,
) -> None:
    """Register a LoRaWAN device (tenant admin); print its claim code and QR text once, and the QR image."""
    window = {k: v for k, v in (("value", code), ("valid_from", valid_from), ("valid_to", valid_to)) if v}
    body = {"ids": {"dev_eui": dev_eui, "join_eui": join_eui, "device_id": name},
            "claim_authentication_code": window or None, "serial_number": serial,
            "lora_alliance_profile_ids": {"vendor_id": vendor_id, "vendor_profile_id": profile_id}}
    answer = _client(ctx).call("POST", "/v1/lorawan-devices", json=body)
    _show_provisioned(answer)
    _write_qr(answer["qr_code"], qr_png, qr_svg, qr_size)


@lorawan_app.command("set-code")
def set_code(
    ctx: typer.Context,
    dev_eui: Annotated[str, typer.Argument(help="The device's DevEUI")],
    code: Annotated[str | None, typer.Option(help="The new code [default: 8 random hex]")] = None,
    valid_from: ValidFrom = None,
    valid_to: ValidTo = None,
    qr_png: QrPng = None,
    qr_svg: QrSvg = None,
    qr_size: QrSize = 300,
) -> None:
    """Give a device a new claim authentication code (after an unclaim, it makes the device claimable again)."""
    body = {"value": code, "valid_from": valid_from, "valid_to": valid_to}
    answer = _client(ctx).call("POST", f"/v1/lorawan-devices/{dev_eui}/claim-code", json=body)
    _show_provisioned(answer)
    _write_qr(answer["qr_code"], qr_png, qr_svg, qr_size)


@lorawan_app.command("import")
def import_devices(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV with a header row (TTS columns + claim_authentication_code) "
                                               "or JSON lines of TTS EndDevice objects", exists=True, dir_okay=False)],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the results here [default: stdout]")] = None,
    csv: Annotated[bool, typer.Option("--csv", help="Results as CSV instead of JSON lines")] = False,
) -> None:
    """Register the devices of a file (tenant admin); the results carry each generated code and QR text, once."""
    def chunks() -> Iterator[bytes]:
        with file.open("rb") as fh:
            while chunk := fh.read(64 * 1024):
                yield chunk

    target = out.open("w") if out else sys.stdout
    failed = 0
    try:
        for line in _client(ctx).stream("POST", f"/v1/lorawan-devices/import?format={'csv' if csv else 'ndjson'}",
                                        content=chunks()):
            target.write(line + "\n")
            failed += '"status": "ERROR"' in line or ',ERROR,' in line
    finally:
        if out:
            target.close()
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
        _fail("give --png and/or --svg")
    _write_qr(text, png, svg, size)


@lorawan_app.command("claim")
def claim(
    ctx: typer.Context,
    application: Annotated[str, typer.Option("--application", "-a", help="Your application (made on first use)")],
    qr_text: Annotated[str | None, typer.Option("--qr", help="The scanned QR code text")] = None,
    join_eui: Annotated[str | None, typer.Option("--join-eui")] = None,
    dev_eui: Annotated[str | None, typer.Option("--dev-eui")] = None,
    code: Annotated[str | None, typer.Option(help="The claim authentication code")] = None,
    device_id: Annotated[str | None, typer.Option("--device-id", help="Its id in the application [default: eui-<deveui>]")] = None,
) -> None:
    """Claim a LoRaWAN device (customer user) by its QR code or by JoinEUI, DevEUI and code."""
    body: dict[str, Any] = {"target_application_ids": {"application_id": application}, "target_device_id": device_id}
    if qr_text:
        body["qr_code"] = base64.b64encode(qr_text.encode()).decode()
    elif dev_eui and code:
        body["authenticated_identifiers"] = {"join_eui": join_eui or "0000000000000000", "dev_eui": dev_eui,
                                             "authentication_code": code}
    else:
        _fail("give --qr, or --dev-eui and --code (and --join-eui)")
    answer = _client(ctx).call("POST", "/api/v3/edcs/claim", json=body)
    typer.echo(f"claimed {answer['dev_eui']} as {answer['device_id']} in {answer['application_ids']['application_id']}")


@lorawan_app.command("list")
def list_devices(
    ctx: typer.Context,
    application: Annotated[str | None, typer.Option("--application", "-a", help="List this application's devices")] = None,
) -> None:
    """Your applications, or the devices of one (customer user), as JSON."""
    client = _client(ctx)
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
) -> None:
    """Unclaim devices of an application (customer user): they leave you; their codes stay spent."""
    client = _client(ctx)
    if len(device_ids) == 1:
        client.call("DELETE", f"/api/v3/edcs/claim/{application}/devices/{device_ids[0]}")
        failed: dict[str, Any] = {}
    else:
        failed = client.call("DELETE", f"/api/v3/edcs/claim/{application}/devices/batch",
                             params={"device_ids": device_ids})["failed"]
    for device_id in device_ids:
        typer.echo(f"{device_id}: {'failed: ' + failed[device_id]['message_format'] if device_id in failed else 'unclaimed'}")
    if failed:
        raise typer.Exit(1)
