"""Issue 20's blocker: a LoRaWAN import of 20,000 rows, through plain HTTP (curl, as the report did)
and through ``claimd lorawan import``, answers every row with its one-time code. It hung past ~2,400
rows while the answer was streamed before the request body was read whole.

One SQLite server for the module (the embedded default, where a user first tries a large file)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import secrets
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import LiveServer, start_server

ROWS = 20_000
HEX8 = re.compile(r"^[0-9A-F]{8}$")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    s = start_server(tmp_path_factory.mktemp("claimd-lw-large"))
    try:
        yield s
    finally:
        s.stop()


def device_csv(path: Path) -> list[str]:
    """A CSV of ``ROWS`` new devices (generated codes); returns their DevEUIs, upper case."""
    euis = [secrets.token_hex(8).upper() for _ in range(ROWS)]
    path.write_text("dev_eui,join_eui\n" + "".join(f"{e},70B3D57ED0000000\n" for e in euis))
    return euis


def assert_every_row_answered(rows: list[dict[str, str]], euis: list[str]) -> None:
    assert len(rows) == ROWS, (len(rows), rows[-3:])
    assert [r["row"] for r in rows] == [str(i) for i in range(1, ROWS + 1)]
    assert [r["dev_eui"] for r in rows] == euis
    assert all(r["status"] == "OK" and HEX8.match(r["claim_authentication_code"]) for r in rows), next(
        r for r in rows if r["status"] != "OK"
    )
    assert all(
        r["qr_code"].startswith(f"LW:D0:70B3D57ED0000000:{r['dev_eui']}:00000000:O{r['claim_authentication_code']}")
        for r in rows
    )


def test_20000_rows_over_plain_http(server: LiveServer, tmp_path: Path) -> None:
    import httpx

    token = httpx.post(
        server.base_url + "/api/auth/login", json={"username": server.admin_email, "password": server.admin_password}
    ).json()["token"]
    upload = tmp_path / "devices.csv"
    euis = device_csv(upload)
    answer = subprocess.run(
        [
            "curl",
            "-sS",
            "--fail-with-body",
            "--max-time",
            "300",
            "-H",
            f"X-Authorization: Bearer {token}",
            "-H",
            "Content-Type: text/csv",
            "--data-binary",
            f"@{upload}",
            f"{server.base_url}/v1/lorawan-devices/import?format=csv",
        ],
        capture_output=True,
        text=True,
        timeout=330,
    )
    assert answer.returncode == 0, (answer.returncode, answer.stderr, answer.stdout[-500:])
    assert_every_row_answered(list(csv.DictReader(io.StringIO(answer.stdout))), euis)


def test_20000_rows_through_the_cli(server: LiveServer, tmp_path: Path) -> None:
    upload, results = tmp_path / "devices.csv", tmp_path / "codes.ndjson"
    euis = device_csv(upload)
    env = {
        "CLAIMD_URL": server.base_url,
        "CLAIMD_USERNAME": server.admin_email,
        "CLAIMD_PASSWORD": server.admin_password,
        "PATH": "/usr/bin:/bin",
    }
    ran = subprocess.run(
        [
            sys.executable,
            "-c",
            "from claimd.entrypoints.cli import main; main()",
            "lorawan",
            "import",
            str(upload),
            "--out",
            str(results),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=330,
    )
    assert ran.returncode == 0, ran.stderr
    assert stat.S_IMODE(os.stat(results).st_mode) == 0o600
    lines = [json.loads(line) for line in results.read_text().splitlines()]
    assert lines[-1] == {"total": ROWS, "succeeded": ROWS, "failed": 0}
    assert_every_row_answered([{k: str(v) for k, v in line.items()} for line in lines[:-1]], euis)
