"""``claimd claim …``, ``claimd reclaim`` and ``claimd unclaim``: a customer takes devices (and gives them
back) from a terminal, against a running claimd over HTTP.

Three ways in, as the labels of a production run carry them: a device's name and secret key
(ThingsBoard's ``POST /api/customer/device/{name}/claim``), a scanned QR code (a claim link holds the name
and key, a TR005 ``LW:D0:…`` text is a LoRaWAN claim at ``POST /api/v3/edcs/claim``; an image of the code
is decoded here first), or an nRF-style claim token (``POST /v1/claimed-devices``). ``reclaim`` releases a
device claimed by name; ``unclaim`` releases one claimed by token.

A secret key is never a command-line value (``ps`` shows those to every local user): it comes from
``--key-file``, ``CLAIMD_CLAIM_KEY`` or the prompt. A claim link does carry its key, as the label does;
reading it from an image file keeps it off the command line too.
"""

from __future__ import annotations

import base64
import inspect
import os
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, quote, urlsplit

import typer

from claimd.entrypoints.cli_remote import (
    ConfigError,
    Json,
    an_id,
    client_of,
    connect,
    echo_json,
    fail,
    read_secret,
    table,
)

claim_app = typer.Typer(
    help="Claim devices (customer user): by name and secret key, by a scanned QR code (its text or an image), "
    "or by a claim token (talks to a running claimd over HTTP).",
    no_args_is_help=True,
)
claim_app.callback()(connect)

NULL_UUID = "13814000-1dd2-11b2-8080-808080808080"  # ThingsBoard's "no customer"
TR005_PREFIX = "LW:D0:"
IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")  # PNG, JPEG
#: ThingsBoard's refusals of a key claim (a bare JSON string), said for a person.
KEY_REFUSALS = {
    "FAILURE": "the secret key was refused (FAILURE): a wrong key, or the device's claim window is closed",
    "CLAIMED": "the device is already claimed (CLAIMED): its owner must release it first",
}


def with_connection(command: Callable[..., None]) -> Callable[..., None]:
    """``command`` taking the connection options of a remote group (``--url``, ``--profile``, …) itself.

    ``reclaim`` and ``unclaim`` are commands of ``claimd`` itself, with no group whose callback would take
    them; the options are :func:`connect`'s own (one definition, one help text), appended to the
    command's signature with their annotations resolved where they were written."""
    connection_hints = typing.get_type_hints(connect, include_extras=True)
    connection = [
        p.replace(annotation=connection_hints[p.name])
        for p in inspect.signature(connect).parameters.values()
        if p.name != "ctx"
    ]
    own_hints = typing.get_type_hints(command, include_extras=True)
    own = [p.replace(annotation=own_hints[p.name]) for p in inspect.signature(command).parameters.values()]
    names = [p.name for p in connection]

    def run(ctx: typer.Context, **options: Any) -> None:
        connect(ctx, **{name: options.pop(name) for name in names})
        command(ctx, **options)

    run.__name__, run.__doc__ = command.__name__, command.__doc__
    run.__signature__ = inspect.Signature([*own, *connection])  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in [*own, *connection]}
    return run


def _secret_key(key_file: Path | None, refused_value: str | None) -> str:
    """The secret key: ``--key-file``, else ``CLAIMD_CLAIM_KEY``, else typed at the prompt."""
    if refused_value is not None:
        fail(
            "--key is not accepted: a command line shows in `ps` to every local user; give --key-file, set "
            "CLAIMD_CLAIM_KEY, or type it at the prompt"
        )
    if key_file is not None:
        try:
            return read_secret(key_file, "secret key")
        except ConfigError as exc:
            fail(str(exc))
    from_env = os.environ.get("CLAIMD_CLAIM_KEY")
    if from_env:
        return from_env
    if not sys.stdin.isatty():
        fail("no secret key: give --key-file or set CLAIMD_CLAIM_KEY (no terminal to prompt on)")
    return str(typer.prompt("Secret key", hide_input=True, err=True))


def _customer(device: dict[str, Any]) -> str:
    customer = (device.get("customerId") or {}).get("id")
    return "-" if customer in (None, NULL_UUID) else str(customer)


def _claim_by_key(ctx: typer.Context, name: str, key: str, as_json: bool) -> None:
    """ThingsBoard's customer claim; its 400 answers ``"FAILURE"``/``"CLAIMED"`` are said in words."""
    client = client_of(ctx)
    answer = client.answer(
        "POST", f"/api/customer/device/{quote(name, safe='')}/claim", expected={400}, json={"secretKey": key}
    )
    body = answer.json() if answer.content else None
    if answer.status_code == 400:
        if isinstance(body, str) and body in KEY_REFUSALS:
            fail(f"{name}: {KEY_REFUSALS[body]}")
        message = body.get("message") if isinstance(body, dict) else body
        fail(f"400: {message or answer.text[:200]}")
    if as_json:
        echo_json(body)
        return
    device = body.get("device", {}) if isinstance(body, dict) else {}
    row = [str(device.get("name", name)), str((device.get("id") or {}).get("id", "")), _customer(device)]
    table(
        [[*row, str(body.get("response", "") if isinstance(body, dict) else "")]], ["NAME", "ID", "CUSTOMER", "RESULT"]
    )


def _claim_lorawan(ctx: typer.Context, qr_text: str, application: str | None, as_json: bool) -> None:
    if not application:
        fail("a LoRaWAN QR code is claimed into an application: give --application ID (made on first use)")
    body = {
        "qr_code": base64.b64encode(qr_text.encode()).decode(),
        "target_application_ids": {"application_id": application},
    }
    answer = client_of(ctx).call("POST", "/api/v3/edcs/claim", json=body)
    if as_json:
        echo_json(answer)
        return
    row = [
        str(answer.get("dev_eui", "")),
        str(answer.get("device_id", "")),
        str((answer.get("application_ids") or {}).get("application_id", "")),
    ]
    table([[*row, "SUCCESS"]], ["DEV EUI", "DEVICE ID", "APPLICATION", "RESULT"])


def link_fields(text: str) -> tuple[str, str] | None:
    """The device name and key of a claim link (``…/claim?deviceName=…&secretKey=…``), else None."""
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.path.endswith("/claim"):
        return None
    query = parse_qs(parts.query, keep_blank_values=True)
    names = query.get("deviceName")
    return (names[0], query.get("secretKey", [""])[0]) if names and names[0] else None


def _is_image(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(8).startswith(IMAGE_MAGIC)
    except OSError:
        return False


def read_qr_image(path: Path) -> str:
    """The text of the one QR code in a PNG or JPEG (zxing-cpp, imported only here: it is an optional
    package, and the CLI starts without it)."""
    try:
        import zxingcpp
        from PIL import Image, UnidentifiedImageError
    except ImportError as exc:
        fail(
            f"reading a QR code from an image needs zxing-cpp and Pillow ({exc.name} is not installed): "
            "`pip install zxing-cpp pillow`, or give the QR code's text instead"
        )
    try:
        with Image.open(path) as image:
            image.load()
            found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode))
    except (OSError, UnidentifiedImageError) as exc:
        fail(f"cannot read the image {path}: {exc}")
    texts = sorted({code.text for code in found if code.text})
    if not texts:
        fail(f"no QR code found in {path}: scan it again, sharper and larger, or give its text")
    if len(texts) > 1:
        fail(f"{path} holds {len(texts)} different QR codes: crop it to the one to claim")
    return texts[0]


@claim_app.command("key")
def claim_key(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The device's name, as on its label")],
    key_file: Annotated[
        Path | None,
        typer.Option(
            "--key-file",
            help="Read the secret key from this file (or set CLAIMD_CLAIM_KEY; else it is asked for)",
            dir_okay=False,
        ),
    ] = None,
    key_value: Annotated[str | None, typer.Option("--key", hidden=True)] = None,
    as_json: Json = False,
) -> None:
    """Claim a device by its name and secret key (customer user).

    With --json: the server's answer, {"device": {…}, "response": "SUCCESS"}. A refused key is exit 2.
    """
    key = _secret_key(key_file, key_value)
    _claim_by_key(ctx, name, key, as_json)


@claim_app.command("qr")
def claim_qr(
    ctx: typer.Context,
    text_or_image: Annotated[
        str,
        typer.Argument(help="The scanned QR code's text, or a PNG or JPEG image of the code", metavar="TEXT_OR_IMAGE"),
    ],
    application: Annotated[
        str | None,
        typer.Option(
            "--application", "-a", help="LoRaWAN QR codes: your application to claim into (made on first use)"
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """Claim a device by its QR code (customer user): a claim link, a LoRaWAN TR005 text, or an image of either.

    A claim link (…/claim?deviceName=…&secretKey=…) is claimed by name and key at the server you are
    connected to; a TR005 text (LW:D0:…) is a LoRaWAN claim into --application.
    """
    path = Path(text_or_image)
    text = read_qr_image(path) if path.is_file() and _is_image(path) else text_or_image.strip()
    if text.upper().startswith(TR005_PREFIX):
        _claim_lorawan(ctx, text, application, as_json)
        return
    fields = link_fields(text)
    if fields is None:
        if path.is_file():
            fail(f"{path} is not a PNG or JPEG image")
        fail("not a claim link (…/claim?deviceName=…&secretKey=…) nor a LoRaWAN QR text (LW:D0:…)")
    _claim_by_key(ctx, *fields, as_json)


def _read_token(source: str) -> str:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
    except OSError as exc:
        fail(f"cannot read the claim token file {source}: {exc.strerror}")
    except UnicodeDecodeError:
        fail(f"the claim token file {source} is not text")
    token = "".join(text.split())  # a token wrapped or ended by a line break is the same token
    if not token:
        fail(f"no claim token in {'standard input' if source == '-' else source}")
    return token


def _claimed_row(device: dict[str, Any]) -> list[str]:
    return [
        str(device.get("id", "")),
        str(device.get("name") or ""),
        str(device.get("deviceType") or ""),
        str(device.get("status") or ""),
        ",".join(device.get("tags") or []) or "-",
    ]


CLAIMED_HEADER = ["ID", "NAME", "TYPE", "STATUS", "TAGS"]


@claim_app.command("token")
def claim_token(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Argument(
            help="A file holding the device's claim token, or - for standard input", metavar="TOKEN_FILE_OR_-"
        ),
    ],
    tags: Annotated[list[str] | None, typer.Option("--tag", help="Tag the device on claiming (repeatable)")] = None,
    as_json: Json = False,
) -> None:
    """Claim a device by the claim token it made (AT%ATTESTTOKEN, or `claimd device token`) (customer user).

    With --json: the claimed device (id, name, deviceType, status, tags, ownerId, claimedAt, …).
    """
    token = _read_token(source)
    body: dict[str, Any] = {"claimToken": token}
    if tags:
        body["tags"] = tags
    device = client_of(ctx).call("POST", "/v1/claimed-devices", json=body)
    if as_json:
        echo_json(device)
    else:
        table([_claimed_row(device)], CLAIMED_HEADER)


def reclaim(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The device's name")],
    as_json: Json = False,
) -> None:
    """Release a device claimed by name (its owner's users, or a tenant admin): it may be claimed again."""
    client_of(ctx).call("DELETE", f"/api/customer/device/{quote(name, safe='')}/claim")
    if as_json:
        echo_json({"reclaimed": name})
    else:
        typer.echo(f"reclaimed {name}")


def unclaim(
    ctx: typer.Context,
    device_id: Annotated[
        str, typer.Argument(help="The device's id (a UUID), as `claimd claim token` shows", metavar="ID")
    ],
    as_json: Json = False,
) -> None:
    """Release a device claimed by token (customer user): another customer may claim it."""
    wanted = an_id(device_id, "a device id (a UUID, as `claimd claim token` shows)")
    client_of(ctx).call("DELETE", f"/v1/claimed-devices/{wanted}")
    if as_json:
        echo_json({"unclaimed": wanted})
    else:
        typer.echo(f"unclaimed {wanted}")


reclaim_command = with_connection(reclaim)
unclaim_command = with_connection(unclaim)
