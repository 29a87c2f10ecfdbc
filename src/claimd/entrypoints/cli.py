"""The ``claimd`` command: ``serve`` runs every door in one process; ``db upgrade`` runs migrations."""

from __future__ import annotations

import asyncio
import errno
import gc
import inspect
import signal
import socket
import ssl
import typing
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import SecretStr

import claimd
from claimd.config import SettingError, Settings, env_name, load_settings, unknown_environment
from claimd.domain.errors import Conflict, InvalidArgument
from claimd.entrypoints.cli_admin import admin_app
from claimd.entrypoints.cli_claims import claim_app, reclaim_command, unclaim_command
from claimd.entrypoints.cli_devices import devices_app
from claimd.entrypoints.cli_jobs import jobs_app
from claimd.entrypoints.cli_keys import keys_app
from claimd.entrypoints.cli_labels import labels
from claimd.entrypoints.cli_lorawan import lorawan_app
from claimd.entrypoints.cli_simulator import send_key
from claimd.logs import setup_logging

if typing.TYPE_CHECKING:
    from collections.abc import Callable

    from cryptography.hazmat.primitives.asymmetric import ec

    from claimd.services.accounts import AccountService

app = typer.Typer(
    help="claimd: hand IoT devices from the company that makes them to the people who buy them.",
    no_args_is_help=True,
    add_completion=True,  # claimd --install-completion / --show-completion: docs/cli.md#completion
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
device_app = typer.Typer(
    help="Device-side tools: identity keys and claim tokens, to test claiming offline.", no_args_is_help=True
)
app.add_typer(device_app, name="device")
app.add_typer(lorawan_app, name="lorawan")
app.add_typer(admin_app, name="admin")
app.add_typer(devices_app, name="devices")
app.add_typer(jobs_app, name="jobs")
app.command("labels")(labels)
app.add_typer(claim_app, name="claim")
app.command("reclaim")(reclaim_command)
app.command("unclaim")(unclaim_command)
app.add_typer(keys_app, name="api-keys")
device_app.command("send-key")(send_key)


def _opt(env: str, help: str, **kw: Any) -> Any:
    return typer.Option(envvar=env, help=help, show_envvar=True, **kw)


DatabaseUrl = Annotated[
    str | None, _opt("CLAIMD_DATABASE_URL", "SQLite (default ./claimd.db) or postgresql+asyncpg://user@host/db")
]


class PortTaken(Exception):
    pass


def bind_door(
    name: str, setting: str, host: str, port: int, explicit: bool, kind: int = socket.SOCK_STREAM
) -> socket.socket | None:
    """Bind a door's socket. A taken default port turns that door off with one line; a taken port
    that was set explicitly is an error naming the setting."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, kind)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = "already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        if explicit:
            raise PortTaken(f"{setting}={port}: cannot listen on {host}:{port} ({reason})") from exc
        typer.echo(
            f"claimd: {name} door off: default port {port} on {host} is {reason}; set {setting} to serve it", err=True
        )
        return None
    if kind == socket.SOCK_STREAM:
        sock.listen(1024)
    sock.setblocking(False)
    return sock


def _tls_context(settings: Settings) -> ssl.SSLContext | None:
    if not (settings.mqtt_tls_cert or settings.mqtt_tls_key):
        return None
    if not (settings.mqtt_tls_cert and settings.mqtt_tls_key):
        raise PortTaken("CLAIMD_MQTT_TLS_CERT and CLAIMD_MQTT_TLS_KEY go together: set both for MQTT over TLS")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(settings.mqtt_tls_cert, settings.mqtt_tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise PortTaken(f"CLAIMD_MQTT_TLS_CERT/CLAIMD_MQTT_TLS_KEY: cannot load them ({exc})") from exc
    return context


async def _first_users(accounts: AccountService, settings: Settings) -> None:
    """The first tenant admin (of tenant "Default") on an empty database, and the system administrator
    when there is none; a generated password is printed once and never stored in plain text."""

    def secret(value: SecretStr | None) -> str | None:
        return value.get_secret_value() if value is not None else None

    try:
        first = await accounts.ensure_first_tenant(settings.admin_email, secret(settings.admin_password))
        sysadmin = await accounts.ensure_system_admin(settings.sysadmin_email, secret(settings.sysadmin_password))
    except (Conflict, InvalidArgument) as exc:
        raise SettingError(f"CLAIMD_ADMIN_EMAIL / CLAIMD_SYSADMIN_EMAIL: {exc}") from None
    if first is None and {"admin_email", "admin_password"} & settings.model_fields_set:
        typer.echo(
            "claimd: notice: CLAIMD_ADMIN_EMAIL and CLAIMD_ADMIN_PASSWORD ignored: this database "
            "already has a tenant (they only make the first tenant admin of an empty database)",
            err=True,
        )
    if sysadmin is None and {"sysadmin_email", "sysadmin_password"} & settings.model_fields_set:
        typer.echo(
            "claimd: notice: CLAIMD_SYSADMIN_EMAIL and CLAIMD_SYSADMIN_PASSWORD ignored: this database "
            "already has a system administrator (change its password with claimd admin reset-password)",
            err=True,
        )
    for made, what in (
        (first, "created tenant 'Default' with tenant admin"),
        (sysadmin, "created system administrator"),
    ):
        if made is not None:
            typer.echo(f"claimd: {what} {made.email}")
            if made.password:
                typer.echo(f"claimd: its generated password (shown once, not stored): {made.password}")


async def _serve(settings: Settings, explicit: set[str]) -> None:
    from claimd.bootstrap import build
    from claimd.entrypoints.coap import start_coap
    from claimd.entrypoints.http.app import create_app
    from claimd.entrypoints.http.server import build_server
    from claimd.entrypoints.mqtt.server import MqttLimits, MqttServer

    tls = _tls_context(settings) if settings.mqtt_enabled else None
    http_sock = bind_door("HTTP", "CLAIMD_HTTP_PORT", settings.http_host, settings.http_port, "http_port" in explicit)
    mqtt_sock = tls_sock = None
    if settings.mqtt_enabled:
        mqtt_sock = bind_door(
            "MQTT", "CLAIMD_MQTT_PORT", settings.mqtt_host, settings.mqtt_port, "mqtt_port" in explicit
        )
        if tls is not None:
            tls_sock = bind_door(
                "MQTT TLS",
                "CLAIMD_MQTT_TLS_PORT",
                settings.mqtt_host,
                settings.mqtt_tls_port,
                "mqtt_tls_port" in explicit,
            )
    container = await build(settings)
    mqtt = coap = worker = None
    doors: list[str] = []
    try:
        if settings.coap_enabled:
            try:
                coap = await start_coap(
                    container.devices, container.claims, container.provisioning, settings.coap_host, settings.coap_port
                )
                doors.append(f"CoAP on udp {settings.coap_host}:{settings.coap_port}")
            except OSError as exc:
                if "coap_port" in explicit:
                    raise PortTaken(
                        f"CLAIMD_COAP_PORT={settings.coap_port}: cannot listen on "
                        f"{settings.coap_host}:{settings.coap_port} ({exc.strerror})"
                    ) from exc
                typer.echo(
                    f"claimd: CoAP door off: default port {settings.coap_port} on {settings.coap_host} "
                    f"is {exc.strerror}; set CLAIMD_COAP_PORT to serve it",
                    err=True,
                )
        if mqtt_sock is not None or tls_sock is not None:
            limits = MqttLimits(
                max_connections=settings.mqtt_max_connections, max_packet_size=settings.mqtt_max_packet_size
            )
            mqtt = MqttServer(container.devices, container.claims, container.gateways, limits)
            for sock, context, label in ((mqtt_sock, None, "MQTT"), (tls_sock, tls, "MQTT+TLS")):
                if sock is not None:
                    await mqtt.listen(sock, context)
                    host, port = sock.getsockname()[:2]
                    doors.append(f"{label} on {host}:{port}")
        if http_sock is None and not doors:
            raise PortTaken("no door could be opened")
        await _first_users(container.accounts, settings)
        if http_sock is not None:
            host, port = http_sock.getsockname()[:2]
            doors.insert(0, f"HTTP on http://{host}:{port} (API docs at /docs)")
        if settings.bulk_worker:
            worker = asyncio.create_task(container.bulk.run_forever(), name="bulk-worker")
        typer.echo(
            f"claimd {claimd.__version__}: {', '.join(doors)}; database "
            f"{container.database.writer.url.render_as_string(hide_password=True)}"
        )
        if http_sock is not None:
            server = build_server(create_app(container=container), settings)
            # What is built by now lives as long as the process: keep it out of the garbage collector's
            # full passes, which otherwise walk it again and again (bench/: p99 of claims -25%).
            gc.freeze()
            await server.serve(sockets=[http_sock])
        else:
            await _wait_for_signal()
    finally:
        if worker is not None:
            worker.cancel()
            # Let it roll back and give its connection back before the database closes: cancelled in
            # the middle of a statement and left running, it waited forever on a closed connection.
            await asyncio.wait([worker], timeout=5)
        if mqtt is not None:
            await mqtt.close()
        if coap is not None:
            await coap.shutdown()
        await container.close()


async def _wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def _run(coro: Any) -> None:
    try:
        import uvloop

        uvloop.run(coro)
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        asyncio.run(coro)


def _flag(name: str) -> str:
    return "--" + name.removesuffix("_enabled").replace("_", "-")


def _setting_options() -> list[inspect.Parameter]:
    """One ``serve`` option per Settings field, made from the model (its type, description, default and
    variable), so that a new setting is an option without being repeated here. A secret (SecretStr) is
    read from a file named by ``--<name>-file`` instead: an option's value shows in ``ps``."""
    params = []
    for name, field in Settings.model_fields.items():
        kinds = [a for a in typing.get_args(field.annotation) if a is not type(None)] or [field.annotation]
        kind, default = kinds[0], field.get_default()
        description = (
            field.description or ""
        )  # every setting has one (a test checks config.py against docs/settings.md)
        annotation: type[Any]
        if kind is SecretStr:
            help_text = f"File holding the {description[:1].lower()}{description[1:]} ({env_name(name)})"
            option, name, annotation = typer.Option(_flag(name) + "-file", help=help_text), name + "_file", Path
        else:
            shown = "" if default is None else f"; default {str(default).lower() if kind is bool else default}"
            help_text = f"{description} ({env_name(name)}{shown})"  # not [...]: rich reads that as markup
            if kind is bool:
                option = typer.Option(f"{_flag(name)}/--no-{_flag(name)[2:]}", help=help_text)
            else:
                option = typer.Option(_flag(name), help=help_text)
            annotation = kind if kind in (int, float, bool) else str
        params.append(
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[annotation | None, option]
            )
        )
    return params


def serve(**options: Any) -> None:
    """Run claimd: migrate the database, create the first tenant admin if there is none, serve.

    Every setting is an option here, a CLAIMD_* variable and a key of the TOML file named by CLAIMD_CONFIG
    (options win over the environment, the environment over the file)."""
    for name in unknown_environment():
        typer.echo(f"claimd: notice: {name} is not a claimd setting; ignored (see claimd serve --help)", err=True)
    given: dict[str, Any] = {}
    for name in Settings.model_fields:
        if name + "_file" in options:
            path = options[name + "_file"]
            given[name] = _read_secret_file(_flag(name) + "-file", path) if path is not None else None
        else:
            given[name] = options[name]
    try:
        settings = load_settings(**given)
    except SettingError as exc:
        typer.echo(f"claimd: {exc}", err=True)
        raise typer.Exit(2) from None
    _start(settings)


serve.__signature__ = inspect.Signature(_setting_options())  # type: ignore[attr-defined]
serve.__annotations__ = {p.name: p.annotation for p in serve.__signature__.parameters.values()}  # type: ignore[attr-defined]
app.command()(serve)


def _read_secret_file(flag: str, path: Path) -> str:
    """A secret from a file (one line; its line break is not part of it)."""
    try:
        return path.read_text().rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        typer.echo(f"claimd: {flag} {path}: cannot read it ({getattr(exc, 'strerror', None) or exc})", err=True)
        raise typer.Exit(2) from None


def _start(settings: Settings) -> None:
    """Serve until a signal; a setting that cannot work is one line and exit 2."""
    setup_logging(settings)  # one format for every logger: docs/running.md#logs
    # SIGTERM (systemd, docker stop) ends claimd as SIGINT does, exit 0: uvicorn handles both while it
    # serves, then raises the signal again, and SIGTERM's default action would kill the process (-15).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        # Settings given anywhere (option, environment, file) count as chosen: a taken chosen port is an error.
        _run(_serve(settings, set(settings.model_fields_set)))
    except (PortTaken, SettingError) as exc:
        typer.echo(f"claimd: {exc}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        pass


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseUrl = None) -> None:
    """Run the database migrations and exit."""
    from claimd.adapters.sql.migrations import current_revision, upgrade
    from claimd.bootstrap import open_store

    async def run() -> str | None:
        settings = load_settings(database_url=database_url)
        database = await open_store(settings.database_url)
        try:
            await upgrade(database)
            return await current_revision(database)
        finally:
            await database.dispose()

    try:
        revision = asyncio.run(run())
    except SettingError as exc:
        typer.echo(f"claimd: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"claimd: database at revision {revision}")


@device_app.command("keygen")
def device_keygen(
    out: Annotated[str, typer.Option("--out", "-o", help="Where to write the private key (PEM, mode 0600)")],
) -> None:
    """Make a P-256 device identity key; print its public key (register it with POST /v1/device-identities)."""
    import os

    from claimd.adapters.attestation import new_private_key, private_key_pem, public_pem_of

    key = new_private_key()
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        typer.echo(f"claimd: {out} exists; not overwriting a key", err=True)
        raise typer.Exit(2) from None
    with os.fdopen(fd, "w") as fh:
        fh.write(private_key_pem(key))
    typer.echo(public_pem_of(key), nl=False)


@device_app.command("token")
def device_token(
    device_id: Annotated[str, typer.Option("--id", help="The device UUID")],
    key: Annotated[str, typer.Option("--key", "-k", help="The device's private key (PEM file)")],
    challenge: Annotated[str | None, typer.Option(help="32 hex characters from POST /v1/claim-challenges")] = None,
    device_type: Annotated[int, typer.Option("--type", help="Device type number (3: nrf9160_SICA)")] = 3,
    firmware_id: Annotated[str | None, typer.Option("--firmware", help="Modem firmware UUID")] = None,
) -> None:
    """Print a claim token signed by a device key, as AT%ATTESTTOKEN would (claimd's signed bytes)."""
    import uuid

    from claimd.adapters.attestation import mint_token

    def make(private_key: ec.EllipticCurvePrivateKey) -> str:
        nonce = bytes.fromhex(challenge) if challenge else None
        return mint_token(
            private_key,
            uuid.UUID(device_id),
            device_type=device_type,
            firmware_id=uuid.UUID(firmware_id) if firmware_id else None,
            nonce=nonce,
        )

    typer.echo(_signed_by(key, make))


@device_app.command("jwt")
def device_jwt(
    device_id: Annotated[str, typer.Option("--id", help="The device UUID")],
    key: Annotated[str, typer.Option("--key", "-k", help="The device's private key (PEM file)")],
    lifetime: Annotated[int, typer.Option(help="Seconds until it expires (claimd accepts at most 360)")] = 300,
) -> None:
    """Print a JWT signed by a device key, as the nRF Provisioning library sends to fetch its commands."""
    import uuid

    from claimd.adapters.attestation import mint_device_jwt

    typer.echo(_signed_by(key, lambda k: mint_device_jwt(k, uuid.UUID(device_id), lifetime_s=lifetime)))


def _signed_by(key: str, make: Callable[[ec.EllipticCurvePrivateKey], str]) -> str:
    """``make(private key)`` with the key read from a PEM file; a bad file or value exits 2 with the reason."""
    from pathlib import Path

    from claimd.adapters.attestation import load_private_key
    from claimd.domain.errors import InvalidArgument

    try:
        return make(load_private_key(Path(key).read_bytes()))
    except OSError as exc:
        typer.echo(f"claimd: cannot read {key}: {exc.strerror}", err=True)
        raise typer.Exit(2) from None
    except (ValueError, InvalidArgument) as exc:
        typer.echo(f"claimd: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command()
def version() -> None:
    """Print claimd's version."""
    typer.echo(claimd.__version__)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(claimd.__version__)
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", is_eager=True, callback=_print_version, help="Print claimd's version and exit")
    ] = False,
) -> None:
    """claimd: hand IoT devices from the company that makes them to the people who buy them."""


def main() -> None:
    app()
