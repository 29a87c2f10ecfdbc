"""The real servers the suite runs against, and a real ``claimd serve`` process for end-to-end tests.

The one place that says where the test servers are. Environment variables, with this machine's
defaults:

``CLAIMD_TEST_POSTGRES_URL``  default ``postgresql://postgres@127.0.0.1:5432/test``: the admin
                              connection that creates and drops the tests' databases;
``CLAIMD_TEST_REDIS_URL``     default ``redis://127.0.0.1:6379/0``.

:func:`require_server` probes a server once per session (a real query: ``SELECT 1``, ``PING``).
When it does not answer the test is skipped, except when ``CI=true``: then it fails.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

POSTGRES_ADMIN_URL = os.environ.get("CLAIMD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CLAIMD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PG_HOST, PG_PORT = urlsplit(POSTGRES_ADMIN_URL).hostname or "127.0.0.1", urlsplit(POSTGRES_ADMIN_URL).port or 5432
REDIS_HOST, REDIS_PORT = urlsplit(REDIS_URL).hostname or "127.0.0.1", urlsplit(REDIS_URL).port or 6379
TEST_SECRET = "test-secret-not-for-production"
#: The system administrator of every test server (tenant admins: admin@example.com / admin-password).
SYSADMIN_EMAIL, SYSADMIN_PASSWORD = "sysadmin@example.com", "sysadmin-password"


def in_thread(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` in a fresh thread (so ``asyncio.run`` works even when called under a running loop)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn).result()


@functools.cache
def server_problem(kind: str) -> str | None:
    """``None`` if the server ``kind`` ("postgres" or "redis") answers, else why not. Checked once
    per session."""
    try:
        if kind == "postgres":
            import asyncpg

            async def probe() -> None:
                conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=3)
                try:
                    await conn.fetchval("SELECT 1")
                finally:
                    await conn.close()

            in_thread(lambda: asyncio.run(probe()))
        elif kind == "redis":
            import redis

            client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3, socket_timeout=3)
            try:
                client.ping()
            finally:
                client.close()
        else:  # pragma: no cover - a typo in a caller
            raise ValueError(kind)
    except Exception as exc:
        url = POSTGRES_ADMIN_URL if kind == "postgres" else REDIS_URL
        return f"{kind} server at {url} is unreachable: {type(exc).__name__}: {exc}"
    return None


def require_server(kind: str) -> None:
    """Skip the test when the server ``kind`` ("postgres" or "redis") is down; fail instead when
    ``CI=true``."""
    problem = server_problem(kind)
    if problem is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{problem} (CI=true: the test servers are required, not skipped)", pytrace=False)
    pytest.skip(problem)


def pg_url(database: str, driver: str = "postgresql+asyncpg", host: str | None = None, port: int | None = None) -> str:
    """The URL of ``database`` on the test PostgreSQL (optionally through another host/port)."""
    from sqlalchemy.engine import make_url

    url = make_url(POSTGRES_ADMIN_URL).set(drivername=driver, database=database)
    if host is not None:
        url = url.set(host=host)
    if port is not None:
        url = url.set(port=port)
    return url.render_as_string(hide_password=False)


async def pg_admin(statement: str) -> None:
    """Run one statement on the admin connection (CREATE/DROP DATABASE)."""
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=10)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def create_pg_database() -> tuple[str, str]:
    """A fresh, uniquely named PostgreSQL database; returns (name, SQLAlchemy URL)."""
    name = f"claimd_t_{secrets.token_hex(6)}"
    in_thread(lambda: asyncio.run(pg_admin(f'CREATE DATABASE "{name}"')))
    return name, pg_url(name)


def drop_pg_database(name: str) -> None:
    in_thread(lambda: asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')))


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    """A ``claimd serve`` process on a free port."""

    base_url: str
    mqtt_port: int
    coap_port: int
    admin_email: str
    admin_password: str
    env: dict[str, str]
    workdir: Path
    process: subprocess.Popen[bytes] = field(repr=False)
    log_path: Path = field(repr=False)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


#: A test server is shared by a module's tests, many of which send wrong keys and passwords on
#: purpose from 127.0.0.1: with the real lockouts they would lock one another out. Tests of the
#: lockouts pass ``extra_env=REAL_LOCKOUTS`` (or their own values).
LOOSE_LOCKOUTS = dict.fromkeys(
    (
        "CLAIMD_CLAIM_LOCKOUT_FREE_DEVICE",
        "CLAIMD_CLAIM_LOCKOUT_FREE_USER",
        "CLAIMD_CLAIM_LOCKOUT_FREE_ADDRESS",
        "CLAIMD_LOGIN_LOCKOUT_FREE_ACCOUNT",
    ),
    "1000000",
)
REAL_LOCKOUTS: dict[str, str | None] = dict.fromkeys(LOOSE_LOCKOUTS)


class _PortRaced(Exception):
    """A free port found for the server was taken before the server bound it."""


def start_server(
    workdir: Path,
    database_url: str | None = None,
    redis_url: str | None = None,
    extra_env: dict[str, str | None] | None = None,
    timeout: float = 30.0,
) -> LiveServer:
    """Start ``claimd serve`` (the installed console script's module) and wait until /healthz answers.
    ``extra_env`` values of None remove that variable. A port found free can be taken by another
    process (a client's ephemeral port) before the server binds it: then the server starts again on
    other ports, up to three times, unless the test chose its ports itself."""
    for _ in range(2):
        try:
            return _start_server(workdir, database_url, redis_url, extra_env, timeout)
        except _PortRaced:
            continue
    return _start_server(workdir, database_url, redis_url, extra_env, timeout, retry=False)


def _start_server(
    workdir: Path,
    database_url: str | None,
    redis_url: str | None,
    extra_env: dict[str, str | None] | None,
    timeout: float,
    retry: bool = True,
) -> LiveServer:
    workdir.mkdir(parents=True, exist_ok=True)
    port, mqtt_port, coap_port = free_port(), free_port(), free_port(socket.SOCK_DGRAM)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMD_")}
    env.update(
        CLAIMD_HTTP_HOST="127.0.0.1",
        CLAIMD_HTTP_PORT=str(port),
        CLAIMD_MQTT_HOST="127.0.0.1",
        CLAIMD_MQTT_PORT=str(mqtt_port),
        CLAIMD_COAP_HOST="127.0.0.1",
        CLAIMD_COAP_PORT=str(coap_port),
        CLAIMD_SECRET=TEST_SECRET,
        CLAIMD_ADMIN_EMAIL="admin@example.com",
        CLAIMD_ADMIN_PASSWORD="admin-password",
        CLAIMD_SYSADMIN_EMAIL=SYSADMIN_EMAIL,
        CLAIMD_SYSADMIN_PASSWORD=SYSADMIN_PASSWORD,
        CLAIMD_LOG_LEVEL="warning",
        **LOOSE_LOCKOUTS,
    )
    if database_url:
        env["CLAIMD_DATABASE_URL"] = database_url
    if redis_url:
        env["CLAIMD_REDIS_URL"] = redis_url
        env["CLAIMD_REDIS_PREFIX"] = f"claimd-t-{secrets.token_hex(4)}"
    for key, value in (extra_env or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    log_path = workdir / f"claimd-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "claimd", "serve"], cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    server = LiveServer(
        f"http://127.0.0.1:{port}",
        int(env["CLAIMD_MQTT_PORT"]),
        int(env["CLAIMD_COAP_PORT"]),
        env.get("CLAIMD_ADMIN_EMAIL", ""),
        env.get("CLAIMD_ADMIN_PASSWORD", ""),
        env,
        workdir,
        process,
        log_path,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            chosen = {"CLAIMD_HTTP_PORT", "CLAIMD_MQTT_PORT", "CLAIMD_COAP_PORT"} & set(extra_env or {})
            if retry and not chosen and process.returncode == 2 and "(already in use)" in server.log():
                raise _PortRaced()
            raise RuntimeError(f"claimd serve exited with {process.returncode}:\n{server.log()}")
        try:
            if httpx.get(server.base_url + "/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"claimd serve did not answer within {timeout} s:\n{server.log()}")
