"""The claimd command as a new user meets it: help, first start, taken ports, migrations."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys

import httpx
import pytest
from servers import start_server

CLAIMD = [sys.executable, "-m", "claimd"]


def run(args: list[str], cwd, env: dict[str, str] | None = None, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMD_")}
    return subprocess.run(CLAIMD + args, cwd=cwd, env={**base, **(env or {})}, capture_output=True, text=True,
                          timeout=timeout)


def test_serve_help_lists_every_setting(tmp_path):
    result = run(["serve", "--help"], tmp_path, env={"COLUMNS": "200"})
    assert result.returncode == 0
    for name in ("CLAIMD_DATABASE_URL", "CLAIMD_REDIS_URL", "CLAIMD_HTTP_HOST", "CLAIMD_HTTP_PORT",
                 "CLAIMD_ALLOW_CLAIMING_BY_DEFAULT", "CLAIMD_CLAIM_DURATION_MS", "CLAIMD_SECRET",
                 "CLAIMD_ADMIN_EMAIL", "CLAIMD_ADMIN_PASSWORD"):
        assert name in result.stdout, name


def test_explicit_port_taken_is_an_error_naming_the_setting(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run(["serve"], tmp_path, env={"CLAIMD_HTTP_HOST": "127.0.0.1", "CLAIMD_HTTP_PORT": str(port)})
    assert result.returncode == 2
    assert f"CLAIMD_HTTP_PORT={port}" in result.stderr and "already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_default_port_taken_says_so_in_one_line(tmp_path):
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        holder.bind(("127.0.0.1", 8080))
        holder.listen()
    except OSError:
        holder.close()
        holder = None  # someone else holds 8080: the same situation for claimd
    try:
        result = run(["serve", "--http-host", "127.0.0.1"], tmp_path)
    finally:
        if holder:
            holder.close()
    door_lines = [line for line in result.stderr.splitlines() if "HTTP door off" in line]
    assert len(door_lines) == 1 and "8080" in door_lines[0] and "CLAIMD_HTTP_PORT" in door_lines[0]
    # HTTP is the only door today, so nothing is left to serve.
    assert result.returncode == 2 and "no door could be opened" in result.stderr
    assert "Traceback" not in result.stderr


def test_first_start_prints_a_generated_admin_password_once(tmp_path):
    server = start_server(tmp_path, extra_env={"CLAIMD_ADMIN_EMAIL": None, "CLAIMD_ADMIN_PASSWORD": None,
                                               "CLAIMD_SECRET": None})
    try:
        log = server.log()
        match = re.search(r"password \(shown once, not stored\): (\S+)", log)
        assert match and "admin@claimd.local" in log
        r = httpx.post(server.base_url + "/api/auth/login",
                       json={"username": "admin@claimd.local", "password": match.group(1)})
        assert r.status_code == 200
    finally:
        server.stop()
    assert (tmp_path / "claimd.db").exists()
    secret_file = tmp_path / "claimd.db.secret"
    assert secret_file.exists() and oct(secret_file.stat().st_mode & 0o777) == "0o600"
    # Second start on the same database: no new admin, no password printed; the same secret is reused.
    again = start_server(tmp_path, extra_env={"CLAIMD_ADMIN_EMAIL": None, "CLAIMD_ADMIN_PASSWORD": None,
                                              "CLAIMD_SECRET": None})
    try:
        assert "shown once" not in again.log() and "created tenant" not in again.log()
        r = httpx.post(again.base_url + "/api/auth/login",
                       json={"username": "admin@claimd.local", "password": match.group(1)})
        assert r.status_code == 200
    finally:
        again.stop()


def test_db_upgrade_runs_migrations_alone(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    first = run(["db", "upgrade", "--database-url", url], tmp_path)
    assert first.returncode == 0 and "revision 0001" in first.stdout, first.stderr
    second = run(["db", "upgrade"], tmp_path, env={"CLAIMD_DATABASE_URL": url})
    assert second.returncode == 0 and "revision 0001" in second.stdout


@pytest.mark.parametrize("bad", ["not-a-number", "70000"])
def test_invalid_setting_is_a_clear_error(tmp_path, bad):
    result = run(["serve"], tmp_path, env={"CLAIMD_HTTP_PORT": bad})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "CLAIMD_HTTP_PORT" in result.stderr or "http_port" in result.stderr or "http-port" in result.stderr
