"""The real servers the suite runs against, and a real ``claimd serve`` process for end-to-end tests.

PostgreSQL and Redis are expected on this machine (see the README). Without them a test is skipped,
except when ``CI=true``: then a missing server is a failure.
"""

from __future__ import annotations

import asyncio
import functools
import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_ADMIN_DSN = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test"
REDIS_URL = "redis://127.0.0.1:6379/0"
TEST_SECRET = "test-secret-not-for-production"
#: The system administrator of every test server (tenant admins: admin@example.com / admin-password).
SYSADMIN_EMAIL, SYSADMIN_PASSWORD = "sysadmin@example.com", "sysadmin-password"


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@functools.cache
def server_up(name: str) -> bool:
    return reachable(PG_HOST, PG_PORT) if name == "postgres" else reachable("127.0.0.1", 6379)


def require_server(name: str) -> None:
    """Skip when ``name`` ("postgres" or "redis") is down; fail instead when CI=true."""
    if server_up(name):
        return
    message = f"{name} is not reachable on this machine"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " (CI=true: a missing server is a failure)", pytrace=False)
    pytest.skip(message)


def create_pg_database() -> tuple[str, str]:
    """A fresh, uniquely named PostgreSQL database; returns (name, SQLAlchemy URL)."""
    import asyncpg

    name = f"claimd_t_{secrets.token_hex(6)}"

    async def run() -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(run())
    return name, f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{name}"


def drop_pg_database(name: str) -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(run())


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
LOOSE_LOCKOUTS = {name: "1000000" for name in (
    "CLAIMD_CLAIM_LOCKOUT_FREE_DEVICE", "CLAIMD_CLAIM_LOCKOUT_FREE_USER", "CLAIMD_CLAIM_LOCKOUT_FREE_ADDRESS",
    "CLAIMD_LOGIN_LOCKOUT_FREE_ACCOUNT")}
REAL_LOCKOUTS: dict[str, str | None] = dict.fromkeys(LOOSE_LOCKOUTS)


def start_server(workdir: Path, database_url: str | None = None, redis_url: str | None = None,
                 extra_env: dict[str, str | None] | None = None, timeout: float = 30.0) -> LiveServer:
    """Start ``claimd serve`` (the installed console script's module) and wait until /healthz answers.
    ``extra_env`` values of None remove that variable."""
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
        process = subprocess.Popen([sys.executable, "-m", "claimd", "serve"], cwd=workdir, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
    server = LiveServer(f"http://127.0.0.1:{port}", int(env["CLAIMD_MQTT_PORT"]), int(env["CLAIMD_COAP_PORT"]),
                        env.get("CLAIMD_ADMIN_EMAIL", ""), env.get("CLAIMD_ADMIN_PASSWORD", ""),
                        env, workdir, process, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"claimd serve exited with {process.returncode}:\n{server.log()}")
        try:
            if httpx.get(server.base_url + "/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"claimd serve did not answer within {timeout} s:\n{server.log()}")
