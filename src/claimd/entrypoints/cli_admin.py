"""``claimd admin …``: operator commands that work on the database directly, without a running server
(settings as for ``claimd serve``: ``CLAIMD_DATABASE_URL`` and the rest).

``reset-password EMAIL`` is the way back in when every password of a tenant is lost. The new password
comes from ``CLAIMD_NEW_PASSWORD``, ``--password-file`` or a hidden prompt, never from a command-line
value (every local user sees those in ``ps``); with ``--generate`` claimd makes one and prints it once.
The user's earlier sessions end: JWTs issued before the reset are refused.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path
from typing import Annotated

import typer

admin_app = typer.Typer(help="Operator commands on the database (no running server needed).", no_args_is_help=True)


def _new_password(password_file: Path | None, generate: bool) -> tuple[str, bool]:
    """The new password and whether claimd generated it."""
    if generate:
        return secrets.token_urlsafe(12), True
    if password_file is not None:
        try:
            return password_file.read_text().rstrip("\r\n"), False
        except OSError as exc:
            typer.echo(f"claimd: --password-file: cannot read {password_file} ({exc.strerror})", err=True)
            raise typer.Exit(2) from None
    from_env = os.environ.get("CLAIMD_NEW_PASSWORD")
    if from_env:
        return from_env, False
    return typer.prompt("New password", hide_input=True, confirmation_prompt=True), False


@admin_app.command("reset-password")
def reset_password(
    email: Annotated[str, typer.Argument(help="The user's e-mail")],
    password_file: Annotated[
        Path | None,
        typer.Option(
            "--password-file",
            help="Read the new password from this file (or set CLAIMD_NEW_PASSWORD; else it is asked for)",
            dir_okay=False,
        ),
    ] = None,
    generate: Annotated[bool, typer.Option("--generate", help="Generate a password and print it once")] = False,
    database_url: Annotated[
        str | None,
        typer.Option(
            envvar="CLAIMD_DATABASE_URL",
            show_envvar=True,
            help="SQLite (default ./claimd.db) or postgresql+asyncpg://user@host/db",
        ),
    ] = None,
) -> None:
    """Set a user's password on the database (the server may be stopped); the user's earlier sessions end."""
    from claimd.bootstrap import build
    from claimd.config import SettingError, load_settings
    from claimd.domain.errors import InvalidArgument, NotFound

    password, generated = _new_password(password_file, generate)

    async def run() -> None:
        container = await build(load_settings(database_url=database_url))
        try:
            await container.accounts.set_password_by_email(email, password)
        finally:
            await container.close()

    try:
        asyncio.run(run())
    except (SettingError, InvalidArgument) as exc:
        typer.echo(f"claimd: {exc}", err=True)
        raise typer.Exit(2) from None
    except NotFound:
        typer.echo(f"claimd: no user with e-mail {email}", err=True)
        raise typer.Exit(2) from None
    if generated:
        typer.echo(f"claimd: new password of {email}: {password}")
    else:
        typer.echo(f"claimd: password of {email} reset; earlier sessions ended")
