"""The claimd command as a new user meets it: help, first start, taken ports, migrations."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys

import httpx
import pytest
from servers import free_port, start_server

CLAIMD = [sys.executable, "-m", "claimd"]


def run(
    args: list[str], cwd, env: dict[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMD_")}
    return subprocess.run(
        CLAIMD + args, cwd=cwd, env={**base, **(env or {})}, capture_output=True, text=True, timeout=timeout
    )


def test_serve_help_lists_every_setting(tmp_path):
    result = run(["serve", "--help"], tmp_path, env={"COLUMNS": "200"})
    assert result.returncode == 0
    for name in (
        "CLAIMD_DATABASE_URL",
        "CLAIMD_REDIS_URL",
        "CLAIMD_HTTP_HOST",
        "CLAIMD_HTTP_PORT",
        "CLAIMD_ALLOW_CLAIMING_BY_DEFAULT",
        "CLAIMD_CLAIM_DURATION_MS",
        "CLAIMD_SECRET",
        "CLAIMD_ADMIN_EMAIL",
        "CLAIMD_ADMIN_PASSWORD",
        "CLAIMD_MQTT_HOST",
        "CLAIMD_MQTT_PORT",
        "CLAIMD_MQTT_TLS_PORT",
        "CLAIMD_MQTT_TLS_CERT",
        "CLAIMD_MQTT_TLS_KEY",
        "--no-mqtt",
        "CLAIMD_COAP_PORT",
        "--no-coap",
    ):
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


def _hold(port: int) -> socket.socket | None:
    """Occupy a default port as another program would; None when another program already does."""
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        return holder
    except OSError:
        holder.close()
        return None


def test_taken_default_ports_are_said_in_one_line_and_the_other_doors_serve(tmp_path):
    holders = [_hold(8080), _hold(1883)]  # on this machine Mosquitto already holds 1883
    coap_port = free_port(socket.SOCK_DGRAM)
    base = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMD_")}
    process = subprocess.Popen(
        [
            *CLAIMD,
            "serve",
            "--http-host",
            "127.0.0.1",
            "--mqtt-host",
            "127.0.0.1",
            "--coap-host",
            "127.0.0.1",
            "--coap-port",
            str(coap_port),
        ],
        cwd=tmp_path,
        env=base,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = process.stdout.readline()
        while ready and not ready.startswith("claimd 0"):
            ready = process.stdout.readline()
        assert f"CoAP on udp 127.0.0.1:{coap_port}" in ready and "HTTP on" not in ready
        assert process.poll() is None, "claimd must keep serving the doors it could open"
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)
        for holder in holders:
            if holder:
                holder.close()
    for door, port, setting in (("HTTP", 8080, "CLAIMD_HTTP_PORT"), ("MQTT", 1883, "CLAIMD_MQTT_PORT")):
        lines = [line for line in err.splitlines() if f"{door} door off" in line]
        assert len(lines) == 1 and str(port) in lines[0] and setting in lines[0], err
    assert "Traceback" not in err


def test_no_door_left_is_an_error(tmp_path):
    holder = _hold(8080)
    try:
        result = run(["serve", "--http-host", "127.0.0.1", "--no-mqtt", "--no-coap"], tmp_path)
    finally:
        if holder:
            holder.close()
    assert result.returncode == 2 and "no door could be opened" in result.stderr
    assert len([line for line in result.stderr.splitlines() if "HTTP door off" in line]) == 1


FIRST_START = {
    "CLAIMD_ADMIN_EMAIL": None,
    "CLAIMD_ADMIN_PASSWORD": None,
    "CLAIMD_SYSADMIN_EMAIL": None,
    "CLAIMD_SYSADMIN_PASSWORD": None,
    "CLAIMD_SECRET": None,
}


def test_first_start_prints_generated_admin_passwords_once(tmp_path):
    server = start_server(tmp_path, extra_env=FIRST_START)
    try:
        log = server.log()
        passwords = re.findall(r"password \(shown once, not stored\): (\S+)", log)
        assert len(passwords) == 2, log
        assert "tenant admin admin@claimd.local" in log and "system administrator sysadmin@claimd.local" in log
        for email, password in zip(("admin@claimd.local", "sysadmin@claimd.local"), passwords, strict=True):
            r = httpx.post(server.base_url + "/api/auth/login", json={"username": email, "password": password})
            assert r.status_code == 200, (email, r.text)
    finally:
        server.stop()
    assert (tmp_path / "claimd.db").exists()
    secret_file = tmp_path / "claimd.db.secret"
    assert secret_file.exists() and oct(secret_file.stat().st_mode & 0o777) == "0o600"
    # Second start on the same database: no new admin, no password printed; the same secret is reused.
    again = start_server(tmp_path, extra_env=FIRST_START)
    try:
        assert "shown once" not in again.log() and "created" not in again.log()
        r = httpx.post(
            again.base_url + "/api/auth/login", json={"username": "sysadmin@claimd.local", "password": passwords[1]}
        )
        assert r.status_code == 200
    finally:
        again.stop()


def test_the_same_email_for_both_first_users_is_a_clear_error(tmp_path):
    r = run(
        ["serve"],
        tmp_path,
        env={
            "CLAIMD_ADMIN_EMAIL": "ops@example.com",
            "CLAIMD_SYSADMIN_EMAIL": "ops@example.com",
            "CLAIMD_HTTP_HOST": "127.0.0.1",
            "CLAIMD_HTTP_PORT": str(free_port()),
            "CLAIMD_MQTT_ENABLED": "false",
            "CLAIMD_COAP_ENABLED": "false",
        },
    )
    assert r.returncode == 2, r.stderr
    assert "CLAIMD_SYSADMIN_EMAIL" in r.stderr and "ops@example.com already exists" in r.stderr
    assert "Traceback" not in r.stderr


def test_db_upgrade_runs_migrations_alone(tmp_path):
    from alembic.script import ScriptDirectory

    from claimd.adapters.sql.migrations import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    url = f"sqlite:///{tmp_path / 'x.db'}"
    first = run(["db", "upgrade", "--database-url", url], tmp_path)
    assert first.returncode == 0 and f"revision {head}" in first.stdout, first.stderr
    second = run(["db", "upgrade"], tmp_path, env={"CLAIMD_DATABASE_URL": url})
    assert second.returncode == 0 and f"revision {head}" in second.stdout


@pytest.mark.parametrize("bad", ["not-a-number", "70000"])
def test_invalid_setting_is_a_clear_error(tmp_path, bad):
    result = run(["serve"], tmp_path, env={"CLAIMD_HTTP_PORT": bad})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "CLAIMD_HTTP_PORT" in result.stderr or "http_port" in result.stderr or "http-port" in result.stderr


# Database URL mistakes: one line naming CLAIMD_DATABASE_URL and the cause, exit 2, no password. -----
def _closed_port() -> int:
    return free_port()  # nothing listens there once the probe socket is closed


URL_MISTAKES = [
    ("postgresql://postgres:hunter2@127.0.0.1:5432/claimd_no_such_db", "does not exist"),
    ("postgresql://postgres:hunter2@127.0.0.1:{closed}/x", "refused"),
    ("mysql://root:hunter2@127.0.0.1/claimd", "mysql"),
    ("not a url at all hunter2", "not a database URL"),
    ("sqlite:////no/such/dir/claimd.db", "does not exist"),
    ("sqlite:///{a_directory}", "unable to open"),
]


# every mistake through serve; db upgrade shares the code, so two of them through it (each run costs ~4 s)
@pytest.mark.parametrize(
    ("command", "url", "cause"),
    [(["serve"], *m) for m in URL_MISTAKES] + [(["db", "upgrade"], *m) for m in URL_MISTAKES[1:3]],
)
def test_database_url_mistakes_are_one_line(tmp_path, command, url, cause):
    url = url.format(closed=_closed_port(), a_directory=tmp_path)  # a directory is no database file
    result = run(
        command,
        tmp_path,
        env={
            "CLAIMD_DATABASE_URL": url,
            "CLAIMD_SECRET": "x",
            "CLAIMD_HTTP_PORT": "0",
            "CLAIMD_MQTT_PORT": "0",
            "CLAIMD_COAP_PORT": "0",
            "CLAIMD_HTTP_HOST": "127.0.0.1",
        },
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "CLAIMD_DATABASE_URL" in lines[0] and cause in lines[0], result.stderr
    assert "hunter2" not in result.stderr + result.stdout and "Traceback" not in result.stderr


# CoAP follows the port rule of the other doors: no two processes share a UDP port. -------------------
def test_a_second_server_on_a_taken_coap_port_is_refused(tmp_path):
    first = start_server(tmp_path / "a")
    try:
        result = run(
            ["serve"],
            tmp_path,
            env={
                "CLAIMD_COAP_PORT": str(first.coap_port),
                "CLAIMD_COAP_HOST": "127.0.0.1",
                "CLAIMD_HTTP_HOST": "127.0.0.1",
                "CLAIMD_HTTP_PORT": "0",
                "CLAIMD_MQTT_HOST": "127.0.0.1",
                "CLAIMD_MQTT_PORT": "0",
            },
        )
        assert result.returncode == 2 and f"CLAIMD_COAP_PORT={first.coap_port}" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    finally:
        first.stop()


def test_a_taken_default_coap_port_turns_the_coap_door_off(tmp_path):
    holder = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # as another aiocoap server binds it
    holder.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    try:
        holder.bind(("::ffff:127.0.0.1", 5683))
    except OSError:
        holder.close()
        pytest.skip("another program holds 5683 without SO_REUSEPORT")
    base = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMD_")}
    process = subprocess.Popen(
        [
            *CLAIMD,
            "serve",
            "--http-host",
            "127.0.0.1",
            "--http-port",
            str(free_port()),
            "--no-mqtt",
            "--coap-host",
            "127.0.0.1",
        ],
        cwd=tmp_path,
        env=base,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = process.stdout.readline()
        while ready and not ready.startswith("claimd 0"):
            ready = process.stdout.readline()
        assert "HTTP on" in ready and "CoAP" not in ready, ready
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)
        holder.close()
    lines = [line for line in err.splitlines() if "CoAP door off" in line]
    assert len(lines) == 1 and "5683" in lines[0] and "CLAIMD_COAP_PORT" in lines[0], err


def test_admin_settings_on_an_existing_database_are_said_to_be_ignored(tmp_path):
    first = start_server(tmp_path)
    first.stop()
    assert "CLAIMD_ADMIN" not in first.log()
    again = start_server(tmp_path, extra_env={"CLAIMD_ADMIN_PASSWORD": "another-password"})
    again.stop()
    lines = [line for line in again.log().splitlines() if "CLAIMD_ADMIN_EMAIL" in line]
    assert len(lines) == 1 and "ignored" in lines[0] and "another-password" not in again.log()


def test_unknown_claimd_variable_is_a_notice(tmp_path):
    server = start_server(tmp_path, extra_env={"CLAIMD_HTTP_PROT": "8080"})
    server.stop()
    assert len([line for line in server.log().splitlines() if "CLAIMD_HTTP_PROT" in line]) == 1


def test_version_flag(tmp_path):
    import claimd

    result = run(["--version"], tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == claimd.__version__


def test_postgres_started_from_another_directory_refuses_a_new_secret(tmp_path):
    from servers import create_pg_database, drop_pg_database, require_server

    require_server("postgres")
    name, url = create_pg_database()
    try:
        first = start_server(tmp_path / "a", database_url=url, extra_env={"CLAIMD_SECRET": None})
        first.stop()
        assert (tmp_path / "a" / "claimd.secret").exists()
        (tmp_path / "b").mkdir()
        result = run(
            ["serve"],
            tmp_path / "b",
            env={"CLAIMD_DATABASE_URL": url, "CLAIMD_HTTP_PORT": "0", "CLAIMD_MQTT_PORT": "0", "CLAIMD_COAP_PORT": "0"},
        )
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "CLAIMD_SECRET" in lines[0] and str(tmp_path / "b" / "claimd.secret") in lines[0]
        assert not (tmp_path / "b" / "claimd.secret").exists()
        secret = (tmp_path / "a" / "claimd.secret").read_text()
        wrong = run(
            ["serve"],
            tmp_path / "b",
            env={
                "CLAIMD_DATABASE_URL": url,
                "CLAIMD_SECRET": "not-" + secret,
                "CLAIMD_HTTP_PORT": "0",
                "CLAIMD_MQTT_PORT": "0",
                "CLAIMD_COAP_PORT": "0",
            },
        )
        assert wrong.returncode == 2 and "CLAIMD_SECRET" in wrong.stderr and secret not in wrong.stderr
    finally:
        drop_pg_database(name)


@pytest.mark.parametrize(
    ("url", "cause"),
    [("redis://:hunter2@127.0.0.1:{closed}/0", "refused"), ("rediss-nope://:hunter2@127.0.0.1/0", "not a Redis URL")],
)
def test_redis_url_mistakes_are_one_line(tmp_path, url, cause):
    result = run(
        ["serve"],
        tmp_path,
        env={
            "CLAIMD_REDIS_URL": url.format(closed=_closed_port()),
            "CLAIMD_SECRET": "x",
            "CLAIMD_HTTP_HOST": "127.0.0.1",
            "CLAIMD_HTTP_PORT": "0",
            "CLAIMD_MQTT_PORT": "0",
            "CLAIMD_COAP_PORT": "0",
        },
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "CLAIMD_REDIS_URL" in lines[0] and cause in lines[0], result.stderr
    assert "hunter2" not in result.stderr + result.stdout
