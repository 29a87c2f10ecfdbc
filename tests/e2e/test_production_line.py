"""The production line, end to end, as a new user runs it: a 10,000-device CSV with generated claim keys
imported through ``claimd devices import`` (its progress bar drawn on a terminal), a PDF label sheet
printed from the result file, one label decoded from the rasterised page with a real QR decoder, and
that device claimed by a customer with the decoded payload (``claimd claim qr``). On SQLite and on
PostgreSQL + Redis."""

from __future__ import annotations

import json
import os
import pty
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from http_helpers import USER_PASSWORD, World, uid
from label_decoding import decoded_pages

ROWS = 10_000


def claimd(home: Path, env: dict[str, str], *args: str, tty: bool = False) -> tuple[int, str, str]:
    """``claimd ARGS`` as its own process: exit status, stdout, and stderr (on a pseudo-terminal if ``tty``,
    read as it is drawn so that a long progress bar never fills the terminal's buffer)."""
    leader, follower = pty.openpty() if tty else (None, None)
    process = subprocess.Popen(
        [sys.executable, "-c", "from claimd.entrypoints.cli import main; main()", *args],
        env={"PATH": "/usr/bin:/bin", "HOME": str(home), **env},
        cwd=home,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=follower if tty else subprocess.PIPE,
        text=True,
    )
    drawn: list[bytes] = []
    reader = None
    if tty:
        assert leader is not None and follower is not None
        os.close(follower)

        def read() -> None:
            try:
                while chunk := os.read(leader, 65536):
                    drawn.append(chunk)
            except OSError:  # EIO once the process has closed the terminal
                pass

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
    out, err = process.communicate(timeout=240)
    if reader is not None:
        reader.join(10)
        os.close(leader)  # type: ignore[arg-type]
        err = b"".join(drawn).decode(errors="replace")
    return process.returncode, out, err or ""


@pytest.mark.slow
def test_import_print_scan_and_claim_a_production_run(world: World, live_server, tmp_path: Path) -> None:
    """Budget: ~20 s a backend (10,000 rows imported, one page of labels, four CLI processes)."""
    admin = {
        "CLAIMD_URL": world.base_url,
        "CLAIMD_USERNAME": live_server.admin_email,
        "CLAIMD_PASSWORD": live_server.admin_password,
    }
    prefix = uid("line")
    upload = tmp_path / "run.csv"
    upload.write_text("name,claim_key,tags\n" + "".join(f"{prefix}-{n:05d},generate,run-1\n" for n in range(ROWS)))

    status, out, drawn = claimd(tmp_path, admin, "devices", "import", str(upload), tty=True)
    assert status == 0, (out, drawn)
    assert f"{ROWS:,}/{ROWS:,}".replace(",", "") in drawn.replace(",", "") and "━" in drawn  # the bar, full
    results = tmp_path / "run.csv.results.jsonl"
    assert str(results) in out
    assert stat.S_IMODE(results.stat().st_mode) == 0o600
    lines = [json.loads(line) for line in results.read_text().splitlines()]
    assert len(lines) == ROWS and all(line["error"] is None and line["claimLink"] for line in lines)

    status, out, err = claimd(tmp_path, {}, "labels", str(results), "--rows", "1-24", "--out", "sheet.pdf")
    assert status == 0 and "24 labels on a4-3x8" in out, err
    [page] = decoded_pages((tmp_path / "sheet.pdf").read_bytes())
    by_link = {line["claimLink"]: line for line in lines[:24]}
    assert page == set(by_link)
    scanned = sorted(page)[5]  # any label of the page: the camera reads this one

    email = world.u1.ok("get", "/api/auth/user")["email"]
    customer = {"CLAIMD_URL": world.base_url, "CLAIMD_USERNAME": email, "CLAIMD_PASSWORD": USER_PASSWORD}
    status, out, err = claimd(tmp_path, customer, "claim", "qr", scanned, "--json")
    assert status == 0, (out, err)
    device = world.admin.ok("get", f"/api/device/{by_link[scanned]['deviceId']}")
    assert device["customerId"]["id"] == world.c1_id and device["name"] == by_link[scanned]["name"]
