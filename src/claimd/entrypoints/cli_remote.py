"""What every remote command (``claimd lorawan``, ``claimd devices``, ``claimd jobs``) shares: where claimd
is, who is asking, and one way to fail.

Where and who come from, in this order: a command-line option, an environment variable, a **profile** of
the user's config file, a built-in default. A profile is a ``[profiles.NAME]`` table of
``$XDG_CONFIG_HOME/claimd/config.toml`` (else ``~/.config/claimd/config.toml``; ``CLAIMD_CLI_CONFIG`` names
another file) holding ``url``, ``username`` and ``api_key_file``: a production line's machine says which
server and which account once, not on every command. The file holds no secret itself (a config file gets
copied, shared and pasted into tickets): a profile names the file its API key is in, and a key named
``api_key`` or ``password`` is refused with what to do instead.

Secrets are never taken from a command-line value, which every local user sees in ``ps``: an API key from
``--api-key-file``, ``CLAIMD_API_KEY`` or the profile's ``api_key_file``; a password from
``--password-file``, ``CLAIMD_PASSWORD`` or a prompt.

Exit codes, for every remote command: 0 all done, 1 some rows or devices failed (the others were done),
2 a usage, connection or server error (nothing, or not everything, was done: fix and rerun).

httpx (and rich, in the commands that draw progress) are imported where used: ``claimd serve`` does not
pay for them at start-up.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import tomllib
import uuid
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any, NoReturn, cast

import typer

if TYPE_CHECKING:
    import httpx  # imported where used: the CLI starts without it

DEFAULT_URL = "http://127.0.0.1:8080"
#: What a profile may set. A secret is never one of them: see the module's docstring.
PROFILE_KEYS = ("url", "username", "api_key_file")
_SECRET_KEYS = {"api_key", "apikey", "api-key", "key", "password", "token", "secret"}

EXIT_ROWS_FAILED = 1
EXIT_ERROR = 2


class ConfigError(Exception):
    """The config file or the profile asked for cannot be used; the message says what to fix."""


def an_id(value: str, what: str) -> str:
    """``value`` as a UUID in its text form; else the command fails, saying ``what`` the id is of and where
    one is shown (``what``: "a device id (…, as `claimd devices list` shows)")."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        fail(f"{value!r} is not {what}")


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    """One line on stderr, ``claimd: `` first, and the exit code (2 unless told: usage, connection or
    server error)."""
    typer.echo(f"claimd: {message}", err=True)
    raise typer.Exit(code)


_fail = fail  # the name cli_lorawan grew up with


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where the user's config file is: ``CLAIMD_CLI_CONFIG``, else the XDG config directory.

    Not ``CLAIMD_CONFIG``: that one names ``claimd serve``'s settings file, and on a server's host it is
    often exported; the CLI reading it would refuse every server setting as an unknown profile key."""
    env = os.environ if environ is None else environ
    if env.get("CLAIMD_CLI_CONFIG"):
        return Path(env["CLAIMD_CLI_CONFIG"])
    xdg = env.get("XDG_CONFIG_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path(env.get("HOME") or Path.home()) / ".config"
    return base / "claimd" / "config.toml"


def _toml_line(exc: tomllib.TOMLDecodeError) -> str:
    """``:LINE`` of a TOML error (Python 3.11's error has it in its text only), or nothing."""
    found = re.search(r"at line (\d+)", str(exc))
    return f":{found.group(1)}" if found else ""


def read_config(path: Path, *, required: bool) -> dict[str, Any]:
    """The config file's tables. A missing file is an empty config unless it was named on purpose
    (``required``); a file that cannot be read or is not TOML is an error naming the file and line."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        if required:
            raise ConfigError(f"{path}: no such config file (named by CLAIMD_CLI_CONFIG)") from None
        return {}
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}{_toml_line(exc)}: not valid TOML ({exc}); fix or remove that line") from None
    unknown = sorted(set(data) - {"default_profile", "profiles"})
    if unknown:
        raise ConfigError(
            f"{path}: unknown key {', '.join(map(repr, unknown))}: the file holds default_profile and "
            "[profiles.NAME] tables"
        )
    if not isinstance(data.get("default_profile", ""), str):
        raise ConfigError(f'{path}: default_profile is a profile\'s name in quotes, e.g. default_profile = "factory"')
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict) or not all(isinstance(p, dict) for p in profiles.values()):
        raise ConfigError(f"{path}: profiles are tables: [profiles.NAME] with url, username, api_key_file")
    for name, table in profiles.items():
        _check_profile(path, name, table)
    return data


def _check_profile(path: Path, name: str, table: dict[str, Any]) -> None:
    for key, value in table.items():
        if key.lower() in _SECRET_KEYS:
            raise ConfigError(
                f"{path}: [profiles.{name}] holds {key!r}: the config file holds no secrets; put an API key in "
                "a file of its own (chmod 600) and name it with api_key_file, and give a password with "
                "CLAIMD_PASSWORD, --password-file or at the prompt"
            )
        if key not in PROFILE_KEYS:
            raise ConfigError(
                f"{path}: [profiles.{name}]: unknown key {key!r} (a profile has {', '.join(PROFILE_KEYS)})"
            )
        if not isinstance(value, str) or not value:
            raise ConfigError(f'{path}: [profiles.{name}] {key} is a text in quotes, e.g. {key} = "…"')


@dataclass(frozen=True)
class Given:
    """What the command line gave (None: not given)."""

    url: str | None = None
    profile: str | None = None
    username: str | None = None
    api_key_file: Path | None = None
    password_file: Path | None = None


@dataclass(frozen=True)
class Connection:
    """Where claimd is and who asks, once every source has been weighed (``profile``: the one used)."""

    url: str
    api_key: str | None
    username: str | None
    password: str | None
    profile: str | None = None


def choose_profile(
    given: Given, env: Mapping[str, str], config: dict[str, Any], path: Path
) -> tuple[str | None, dict[str, str]]:
    """The profile's name and table: ``--profile``, else ``CLAIMD_PROFILE``, else the file's
    ``default_profile``; none of them: no profile. A name that is not in the file lists the names that are."""
    profiles: dict[str, dict[str, str]] = config.get("profiles", {})
    name = given.profile or env.get("CLAIMD_PROFILE") or config.get("default_profile") or None
    if name is None:
        return None, {}
    if name not in profiles:
        known = ", ".join(sorted(profiles)) or f"none yet: add a [profiles.{name}] table"
        raise ConfigError(f"no profile {name!r} in {path} (known profiles: {known})")
    return name, profiles[name]


def resolve(given: Given, environ: Mapping[str, str] | None = None) -> Connection:
    """Where and who: command line > environment > profile > default.

    Who is decided by the first source that names an identity (an API key or a user): a ``--username`` on
    the command line wins over a ``CLAIMD_API_KEY`` in the environment, which wins over the profile's
    ``api_key_file``. Within one source an API key wins over a user. A password is not an identity:
    ``CLAIMD_PASSWORD`` serves a username from any source. Raises :class:`ConfigError`."""
    env = os.environ if environ is None else environ
    path = config_path(env)
    config = read_config(path, required=bool(env.get("CLAIMD_CLI_CONFIG")))
    profile_name, profile = choose_profile(given, env, config, path)

    url = given.url or env.get("CLAIMD_URL") or profile.get("url") or DEFAULT_URL
    password = read_secret(given.password_file, "password") if given.password_file else None
    password = password or env.get("CLAIMD_PASSWORD") or None
    api_key: str | None = None
    username: str | None = None
    if given.api_key_file is not None or given.username:
        api_key = read_secret(given.api_key_file, "API key") if given.api_key_file else None
        username = given.username
    elif env.get("CLAIMD_API_KEY") or env.get("CLAIMD_USERNAME"):
        api_key, username = env.get("CLAIMD_API_KEY") or None, env.get("CLAIMD_USERNAME") or None
    elif profile.get("api_key_file") or profile.get("username"):
        key_file = profile.get("api_key_file")
        if key_file:
            api_key = read_secret(Path(key_file).expanduser(), f"API key (profile {profile_name})")
        username = profile.get("username")
    return Connection(url, api_key, username, password, profile_name)


def read_secret(path: Path, what: str) -> str:
    """A secret from its file (one line; its line break is not part of it). A file others may read is
    used, with a warning: refusing it would stop a production line over a chmod."""
    try:
        mode = path.stat().st_mode
        text = path.read_text().rstrip("\r\n")
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"the {what} file {path} is not UTF-8 text") from None
    if stat.S_IMODE(mode) & 0o077:
        typer.echo(
            f"claimd: warning: the {what} file {path} may be read by other users "
            f"(mode {stat.S_IMODE(mode):04o}): chmod 600 {path}",
            err=True,
        )
    if not text:
        raise ConfigError(f"the {what} file {path} is empty")
    return text


def create_private(path: Path, what: str) -> IO[bytes]:
    """A new file only its owner can read (0600), for what holds one-time secrets; an existing file is
    never overwritten (it may hold the secrets of an earlier run)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        fail(f"{path} exists; not overwritten (it may hold earlier one-time codes): give a new {what} path")
    except OSError as exc:
        fail(f"cannot create {path}: {exc.strerror}")
    return os.fdopen(fd, "wb")


_create_private = create_private


class HttpError(Exception):
    """An error answer, for a command that handles some itself (``410 Gone`` of a spent result file)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status, self.message = status, message


class Client:
    """claimd over HTTP: logs in on first use (or sends the API key) and turns every failure into one
    line that says what to do, and exit 2."""

    def __init__(self, url: str, api_key: str | None, username: str | None, password: str | None) -> None:
        import httpx

        self.http = httpx.Client(base_url=url.rstrip("/"), timeout=httpx.Timeout(30.0, read=None))
        self.url, self.api_key, self.username, self.password = url.rstrip("/"), api_key, username, password
        self.token: str | None = None

    def _auth(self) -> dict[str, str]:
        if self.api_key:
            return {"Authorization": f"Bearer {self.api_key}"}
        if self.token is None:
            if not self.username:
                fail(
                    "who are you? give an API key (--api-key-file, CLAIMD_API_KEY or a profile's api_key_file) or "
                    "a user's e-mail (--username, CLAIMD_USERNAME or a profile's username) and a password "
                    "(CLAIMD_PASSWORD, --password-file, or typed at the prompt)"
                )
            if not self.password:
                if not sys.stdin.isatty():
                    fail("no password: set CLAIMD_PASSWORD or give --password-file (no terminal to prompt on)")
                self.password = typer.prompt(f"Password for {self.username}", hide_input=True, err=True)
            answer = self._send(
                "POST", "/api/auth/login", {}, json={"username": self.username, "password": self.password}
            )
            self.token = answer.json()["token"]
        return {"X-Authorization": f"Bearer {self.token}"}

    def _refused(self, answer: httpx.Response, path: str) -> NoReturn:
        """An error answer, said for a person: who was refused, or the server's own words."""
        if answer.status_code == 401:
            if self.api_key:
                fail(f"the API key was refused by {self.url} (401): check the key, or make a new one")
            if path == "/api/auth/login":
                fail(f"wrong e-mail or password for {self.username} at {self.url} (401)")
            fail(f"claimd at {self.url} ended the session (401): run the command again to log in again")
        fail(f"{answer.status_code}: {message_of(answer)}")

    def unreachable(self, exc: Exception) -> NoReturn:
        import httpx

        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.UnsupportedProtocol):
            fail(f"cannot reach claimd at {self.url}: is `claimd serve` running? ({exc})")
        fail(f"the exchange with claimd at {self.url} broke off ({exc})")

    def _send(self, method: str, path: str, headers: dict[str, str], **kw: Any) -> Any:
        import httpx

        try:
            answer = self.http.request(method, path, headers=headers, **kw)
        except httpx.HTTPError as exc:
            self.unreachable(exc)
        if answer.status_code >= 400:
            self._refused(answer, path)
        return answer

    def call(self, method: str, path: str, *, headers: dict[str, str] | None = None, **kw: Any) -> Any:
        """The JSON of a successful answer ({} for an empty one); any failure ends the command."""
        answer = self._send(method, path, {**(headers or {}), **self._auth()}, **kw)
        return answer.json() if answer.content else {}

    def answer(self, method: str, path: str, *, expected: Collection[int] = (), **kw: Any) -> httpx.Response:
        """The answer itself, for a command that explains some refusals in its own words (a claim's
        ``"FAILURE"``): a status in ``expected`` is returned; other failures end the command."""
        import httpx

        try:
            answer = self.http.request(method, path, headers=self._auth(), **kw)
        except httpx.HTTPError as exc:
            self.unreachable(exc)
        if answer.status_code >= 400 and answer.status_code not in expected:
            self._refused(answer, path)
        return answer

    def find(self, path: str, **kw: Any) -> Any | None:
        """The JSON of ``GET path``, or None if there is no such thing (404)."""
        import httpx

        try:
            answer = self.http.request("GET", path, headers=self._auth(), **kw)
        except httpx.HTTPError as exc:
            self.unreachable(exc)
        if answer.status_code == 404:
            return None
        if answer.status_code >= 400:
            self._refused(answer, path)
        return answer.json()

    def stream(self, method: str, path: str, **kw: Any) -> Iterator[str]:
        """The answer's lines as they come (a broken exchange keeps what was received)."""
        import httpx

        headers = self._auth()
        try:
            with self.http.stream(method, path, headers=headers, **kw) as answer:
                if answer.status_code >= 400:
                    answer.read()
                    self._refused(answer, path)
                yield from answer.iter_lines()
        except httpx.ConnectError as exc:
            self.unreachable(exc)
        except httpx.HTTPError as exc:
            fail(f"the exchange with claimd at {self.url} broke off ({exc}); results received so far are kept")

    def download(self, path: str, target: IO[bytes]) -> int:
        """Stream an answer's body into ``target``; its size. An error answer the caller may want to
        explain itself (410) is raised as :class:`HttpError`; others end the command."""
        import httpx

        headers = self._auth()
        size = 0
        try:
            with self.http.stream("GET", path, headers=headers) as answer:
                if answer.status_code >= 400:
                    answer.read()
                    if answer.status_code in (404, 410):
                        raise HttpError(answer.status_code, message_of(answer))
                    self._refused(answer, path)
                for chunk in answer.iter_bytes():
                    target.write(chunk)
                    size += len(chunk)
        except httpx.HTTPError as exc:
            self.unreachable(exc)
        return size


_Client = Client


def message_of(answer: httpx.Response) -> str:
    """The words of an error answer: ThingsBoard's ``message``, a problem's ``detail``, or its text."""
    try:
        body = answer.json()
    except ValueError:
        return answer.text[:200] or answer.reason_phrase
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("message") or body)
    return str(body)


_message = message_of


class Remote:
    """The connection options of a command group, turned into a :class:`Client` on first use: ``--help``
    of a command works even with a broken config file, and a command that fails on its arguments
    first never asks for a password."""

    def __init__(self, given: Given) -> None:
        self.given = given
        self._client: Client | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            try:
                found = resolve(self.given)
            except ConfigError as exc:
                fail(str(exc))
            self._client = Client(found.url, found.api_key, found.username, found.password)
        return self._client


def client_of(ctx: typer.Context) -> Client:
    """The client of the command's group (its callback put a :class:`Remote` in ``ctx.obj``)."""
    return cast(Remote, ctx.obj).client


def connect(
    ctx: typer.Context,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            "-p",
            help="A profile of your config file (or set CLAIMD_PROFILE; default: the file's default_profile)",
        ),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(help=f"claimd's base URL (or set CLAIMD_URL, or a profile's url; default {DEFAULT_URL})"),
    ] = None,
    api_key_file: Annotated[
        Path | None,
        typer.Option("--api-key-file", help="Read an API key from this file (or set CLAIMD_API_KEY)", dir_okay=False),
    ] = None,
    api_key_value: Annotated[str | None, typer.Option("--api-key", hidden=True)] = None,
    username: Annotated[str | None, typer.Option(help="A user's e-mail (or set CLAIMD_USERNAME)")] = None,
    password_file: Annotated[
        Path | None,
        typer.Option(
            "--password-file",
            help="Read the user's password from this file (or set CLAIMD_PASSWORD; else it is asked for)",
            dir_okay=False,
        ),
    ] = None,
    password_value: Annotated[str | None, typer.Option("--password", hidden=True)] = None,
) -> None:
    """The connection options every remote command group takes (before its command's name)."""
    for value, option, hint in (
        (password_value, "--password", "set CLAIMD_PASSWORD, give --password-file, or type it at the prompt"),
        (api_key_value, "--api-key", "set CLAIMD_API_KEY or give --api-key-file"),
    ):
        if value is not None:
            fail(f"{option} is not accepted: a command line shows in `ps` to every local user; {hint}")
    ctx.obj = Remote(Given(url, profile, username, api_key_file, password_file))


def echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2))


def table(rows: list[list[str]], header: list[str]) -> None:
    """A plain text table on stdout, columns as wide as their widest cell (no colours: it is piped too)."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        typer.echo("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


Json = Annotated[bool, typer.Option("--json", help="Print the answer as JSON (machine-readable)")]
