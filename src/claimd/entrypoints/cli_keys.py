"""``claimd api-keys …``: make, list and revoke API keys on a running claimd over HTTP.

A production line's machine should not log in with a person's password: it gets an API key of its own.
claimd shows a key once (it keeps a digest), so ``create`` either prints it that once or, with ``--out``,
writes it to a new file only its owner reads (mode 0600, never over an existing file) — the file a
profile's ``api_key_file`` or ``--api-key-file`` then names, without the key passing through a terminal.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from claimd.entrypoints.cli_remote import Json, an_id, client_of, connect, create_private, echo_json, fail, table

keys_app = typer.Typer(
    help="API keys: create (shown once), list, delete (talks to a running claimd over HTTP).",
    no_args_is_help=True,
)
keys_app.callback()(connect)

HEADER = ["ID", "NAME", "PREFIX", "USER", "CREATED"]


def _row(key: dict[str, Any]) -> list[str]:
    return [str(key.get(field) or "-") for field in ("id", "name", "prefix", "userId", "createdAt")]


@keys_app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="What the key is for (shown in lists), e.g. 'production line 1'")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Write the key to this new file, mode 0600 (never overwritten), instead of printing it"
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """Create an API key for yourself; it is shown this once (or written to --out).

    With --json: id, name, prefix, userId, createdAt, and key (or keyFile with --out).
    """
    client = client_of(ctx)
    # The file first: a path that cannot be written must not cost a key that is then shown nowhere.
    target = create_private(out, "--out") if out is not None else None
    try:
        made = client.call("POST", "/v1/api-keys", json={"name": name})
        key = str(made.pop("key", ""))
        if not key:
            fail("claimd did not answer a key: is it a claimd that makes API keys?")
        if target is not None:
            try:
                target.write((key + "\n").encode())
                target.close()
            except OSError as exc:
                fail(
                    f"cannot write the key to {out}: {exc.strerror}; revoke it: claimd api-keys delete {made.get('id')}"
                )
    except BaseException:
        if target is not None and out is not None:
            target.close()
            out.unlink(missing_ok=True)
        raise
    if as_json:
        echo_json({**made, "keyFile": os.fspath(out)} if out is not None else {**made, "key": key})
        return
    table([_row(made)], HEADER)
    if out is not None:
        typer.echo(f"key written to {out} (mode 0600); use it with --api-key-file or a profile's api_key_file")
    else:
        typer.echo(f"key  {key}")
        typer.echo("     (shown this once: claimd keeps only a digest)")


@keys_app.command("list")
def list_keys(
    ctx: typer.Context,
    user_id: Annotated[str | None, typer.Option("--user-id", help="Tenant admins: this user's keys")] = None,
    all_users: Annotated[bool, typer.Option("--all-users", help="Tenant admins: every key of the tenant")] = False,
    as_json: Json = False,
) -> None:
    """Your API keys (never the keys themselves, only their first characters)."""
    params: dict[str, Any] = {"allUsers": "true"} if all_users else {}
    if user_id:
        params["userId"] = user_id
    found = client_of(ctx).call("GET", "/v1/api-keys", params=params)
    items = found.get("items", [])
    if as_json:
        echo_json(found)
    elif not items:
        typer.echo("no API keys")
    else:
        table([_row(k) for k in items], HEADER)


@keys_app.command("delete")
def delete(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="The key's id (a UUID, as `claimd api-keys list` shows)", metavar="ID")],
    as_json: Json = False,
) -> None:
    """Revoke an API key (yours; tenant admins: any of the tenant): it is refused from now on."""
    wanted = an_id(key_id, "a key id (a UUID, as `claimd api-keys list` shows)")
    client_of(ctx).call("DELETE", f"/v1/api-keys/{wanted}")
    if as_json:
        echo_json({"deleted": wanted})
    else:
        typer.echo(f"deleted API key {wanted}")
