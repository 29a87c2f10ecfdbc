"""Issue 5's "done when", as a new user does it: a tenant provisions a LoRaWAN device with ``claimd
lorawan provision`` and prints its TR005 QR code as PNG; a customer scans it, posts the scanned text
to ``/api/v3/edcs/claim``, sees the device listed (``claimd lorawan list``), unclaims it (``claimd
lorawan unclaim``), and fails to claim it with a guessed code, until guessing is locked out.
Against a real ``claimd serve`` on SQLite and on PostgreSQL + Redis."""

from __future__ import annotations

import base64
import contextlib
import csv
import json
import os
import pty
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from http_helpers import USER_PASSWORD, World, new_customer_user, uid
from live_fixtures import LIVE_BACKENDS, serving
from pngread import decode_qr_png
from servers import REAL_LOCKOUTS

JOIN_EUI = "70B3D57ED0000000"


@pytest.fixture(scope="module", params=LIVE_BACKENDS)
def live_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """This module's server keeps the default lockouts: its walk-through ends locked out."""
    with serving(request.param, tmp_path_factory.mktemp("claimd"), REAL_LOCKOUTS) as server:
        yield server


def cli(world: World, email: str, password: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"CLAIMD_URL": world.base_url, "CLAIMD_USERNAME": email, "CLAIMD_PASSWORD": password, "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-c", "from claimd.entrypoints.cli import main; main()", "lorawan", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_provision_print_qr_claim_by_scanned_text_list_unclaim_and_guess(
    world: World, live_server, tmp_path: Path
) -> None:
    admin = (live_server.admin_email, live_server.admin_password)
    dev_eui = "00" + secrets.token_hex(7).upper()
    png = tmp_path / "label.png"

    # The tenant provisions the device and prints its QR code.
    made = cli(
        world,
        *admin,
        "provision",
        "--dev-eui",
        dev_eui.lower(),
        "--join-eui",
        JOIN_EUI,
        "--serial",
        "SN-0001",
        "--qr-png",
        str(png),
    )
    assert made.returncode == 0, made.stderr
    printed = next(line.split(maxsplit=2)[2] for line in made.stdout.splitlines() if line.startswith("QR text"))
    assert printed.startswith(f"LW:D0:{JOIN_EUI}:{dev_eui}:00000000:O")
    code = next(line.split()[2] for line in made.stdout.splitlines() if line.startswith("claim code"))
    assert len(code) == 8 and int(code, 16) >= 0

    # The label, scanned: its PNG reads back to the printed text.
    (scanned,) = decode_qr_png(png.read_bytes())
    assert scanned == printed

    # A customer claims it by posting the scanned text.
    email = f"{uid('lw')}@example.com"
    new_customer_user(world.admin, world.c1_id, email)
    login = httpx.post(world.base_url + "/api/auth/login", json={"username": email, "password": USER_PASSWORD})
    headers = {"X-Authorization": f"Bearer {login.json()['token']}"}
    claimed = httpx.post(
        world.base_url + "/api/v3/edcs/claim",
        headers=headers,
        json={
            "qr_code": base64.b64encode(scanned.encode()).decode(),
            "target_application_ids": {"application_id": "my-sensors"},
        },
    )
    assert claimed.status_code == 200, claimed.text
    device_id = f"eui-{dev_eui.lower()}"
    assert claimed.json() == {
        "device_id": device_id,
        "application_ids": {"application_id": "my-sensors"},
        "dev_eui": dev_eui,
        "join_eui": JOIN_EUI,
    }

    # ... sees it listed ...
    listed = cli(world, email, USER_PASSWORD, "list", "--application", "my-sensors")
    assert listed.returncode == 0, listed.stderr
    (entry,) = json.loads(listed.stdout)["end_devices"]
    assert entry["ids"]["device_id"] == device_id and entry["serial_number"] == "SN-0001"
    tenant_view = world.admin.ok("get", f"/v1/lorawan-devices/{dev_eui}")
    assert tenant_view["owner_id"] == world.c1_id and "value" not in tenant_view["claim_authentication_code"]

    # ... unclaims it ...
    released = cli(world, email, USER_PASSWORD, "unclaim", "my-sensors", device_id)
    assert released.returncode == 0, released.stderr
    assert f"{device_id}: unclaimed" in released.stdout
    assert world.admin.ok("get", f"/v1/lorawan-devices/{dev_eui}")["owner_id"] is None
    assert json.loads(cli(world, email, USER_PASSWORD, "list", "-a", "my-sensors").stdout)["end_devices"] == []

    # ... and fails to claim it with a guessed code, and with the spent one.
    guess = "DEADBEEF" if code != "DEADBEEF" else "BEEFDEAD"
    guessed = cli(
        world,
        email,
        USER_PASSWORD,
        "claim",
        "-a",
        "my-sensors",
        "--join-eui",
        JOIN_EUI,
        "--dev-eui",
        dev_eui,
        "--code",
        guess,
    )
    assert guessed.returncode == 2  # an error answer: exit 2 (1 is for some rows failed)
    assert "403" in guessed.stderr and "the claim authentication code is wrong" in guessed.stderr
    spent = cli(world, email, USER_PASSWORD, "claim", "-a", "my-sensors", "--qr", scanned)
    assert spent.returncode == 2 and "403" in spent.stderr and "no longer claims the device" in spent.stderr

    # Guessing stops: after the free failures for this DevEUI, every attempt is 429 with Retry-After.
    answers = []
    for i in range(8):
        r = httpx.post(
            world.base_url + "/api/v3/edcs/claim",
            headers=headers,
            json={
                "authenticated_identifiers": {
                    "join_eui": JOIN_EUI,
                    "dev_eui": dev_eui,
                    "authentication_code": f"{i:08X}",
                },
                "target_application_ids": {"application_id": "my-sensors"},
            },
        )
        answers.append(r.status_code)
        if r.status_code == 429:
            assert int(r.headers["Retry-After"]) >= 1
            assert r.json()["details"][0]["name"] == "claim_locked_out"
            break
    assert answers[-1] == 429 and set(answers[:-1]) == {403}, answers
    # A new code from the tenant makes the device claimable again, once the lockout has passed.
    renewed = cli(world, *admin, "set-code", dev_eui)
    assert renewed.returncode == 0, renewed.stderr
    assert "QR text" in renewed.stdout and scanned not in renewed.stdout


# issue 20: secrets on the command line and in files, machine-readable output, progress ----------------
def run_cli(
    world: World, env: dict[str, str], *args: str, stderr: int | None = None
) -> subprocess.CompletedProcess[str]:
    full = {"CLAIMD_URL": world.base_url, "PATH": "/usr/bin:/bin", **env}
    return subprocess.run(
        [sys.executable, "-c", "from claimd.entrypoints.cli import main; main()", "lorawan", *args],
        env=full,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if stderr is None else stderr,
        text=True,
        timeout=60,
    )


def test_passwords_are_not_taken_from_the_command_line(world: World, live_server, tmp_path: Path) -> None:
    user = {"CLAIMD_USERNAME": live_server.admin_email}
    shown = run_cli(world, user, "--password", live_server.admin_password, "list")
    assert shown.returncode == 2 and "--password is not accepted" in shown.stderr and "CLAIMD_PASSWORD" in shown.stderr
    assert live_server.admin_password not in shown.stderr + shown.stdout
    # no password and no terminal to ask on: a clear error, not a hang
    missing = run_cli(world, user, "list")
    assert missing.returncode == 2 and "CLAIMD_PASSWORD" in missing.stderr and "--password-file" in missing.stderr
    secret = tmp_path / "password"
    secret.write_text(live_server.admin_password + "\n")
    made = run_cli(world, user, "--password-file", str(secret), "provision", "--dev-eui", "00" + secrets.token_hex(7))
    assert made.returncode == 0, made.stderr


def test_json_output_of_provision_claim_and_unclaim(world: World, live_server, tmp_path: Path) -> None:
    admin = {"CLAIMD_USERNAME": live_server.admin_email, "CLAIMD_PASSWORD": live_server.admin_password}
    dev_eui = "00" + secrets.token_hex(7).upper()
    png = tmp_path / "label.png"
    made = run_cli(
        world, admin, "provision", "--dev-eui", dev_eui, "--join-eui", JOIN_EUI, "--json", "--qr-png", str(png)
    )
    assert made.returncode == 0, made.stderr
    device = json.loads(made.stdout)  # stdout is the JSON alone; the image's path goes to stderr
    assert device["ids"] == {"dev_eui": dev_eui, "join_eui": JOIN_EUI} and f"QR code PNG: {png}" in made.stderr
    code = device["claim_authentication_code"]["value"]
    assert device["qr_code"].startswith(f"LW:D0:{JOIN_EUI}:{dev_eui}:00000000:O{code}")
    renewed = run_cli(world, admin, "set-code", dev_eui, "--json")
    assert renewed.returncode == 0 and json.loads(renewed.stdout)["ids"]["dev_eui"] == dev_eui, renewed.stderr
    code = json.loads(renewed.stdout)["claim_authentication_code"]["value"]

    email = f"{uid('lwj')}@example.com"
    new_customer_user(world.admin, world.c1_id, email)
    user = {"CLAIMD_USERNAME": email, "CLAIMD_PASSWORD": USER_PASSWORD}
    claimed = run_cli(
        world, user, "claim", "-a", "json-app", "--dev-eui", dev_eui, "--join-eui", JOIN_EUI, "--code", code, "--json"
    )
    assert claimed.returncode == 0, claimed.stderr
    device_id = f"eui-{dev_eui.lower()}"
    assert json.loads(claimed.stdout) == {
        "device_id": device_id,
        "application_ids": {"application_id": "json-app"},
        "dev_eui": dev_eui,
        "join_eui": JOIN_EUI,
    }
    released = run_cli(world, user, "unclaim", "json-app", device_id, "no-such-device", "--json")
    assert released.returncode == 1
    answer = json.loads(released.stdout)
    assert answer["application_id"] == "json-app" and answer["unclaimed"] == [device_id]
    assert set(answer["failed"]) == {"no-such-device"} and answer["failed"]["no-such-device"]["message_format"]


def test_import_writes_codes_to_a_private_new_file(world: World, live_server, tmp_path: Path) -> None:
    admin = {"CLAIMD_USERNAME": live_server.admin_email, "CLAIMD_PASSWORD": live_server.admin_password}
    upload, results, png = tmp_path / "devices.csv", tmp_path / "codes.csv", tmp_path / "qr.png"
    euis = ["00" + secrets.token_hex(7).upper() for _ in range(3)]
    upload.write_text("dev_eui\n" + "".join(f"{e}\n" for e in euis))
    ran = run_cli(world, admin, "import", str(upload), "--out", str(results), "--csv")
    assert ran.returncode == 0, ran.stderr
    assert stat.S_IMODE(os.stat(results).st_mode) == 0o600
    rows = list(csv.DictReader(results.open()))
    assert [(r["row"], r["status"], r["dev_eui"]) for r in rows] == [(str(i + 1), "OK", e) for i, e in enumerate(euis)]
    # an existing file is not overwritten, and nothing is registered then
    again = run_cli(world, admin, "import", str(upload), "--out", str(results))
    assert again.returncode == 2 and "exists" in again.stderr and "not overwritten" in again.stderr
    assert list(csv.DictReader(results.open())) == rows
    # a file the server refuses leaves no (empty) results file behind
    bad, refused = tmp_path / "bad.csv", tmp_path / "refused.ndjson"
    bad.write_text("serial\nSN-1\n")
    failed = run_cli(world, admin, "import", str(bad), "--out", str(refused))
    assert failed.returncode == 2 and "400" in failed.stderr and "dev_eui" in failed.stderr
    assert not refused.exists()
    # QR images carry the code: 0600 too
    made = run_cli(world, admin, "provision", "--dev-eui", "00" + secrets.token_hex(7), "--qr-png", str(png))
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(os.stat(png).st_mode) == 0o600


def test_import_shows_progress_on_a_terminal_only(world: World, live_server, tmp_path: Path) -> None:
    admin = {"CLAIMD_USERNAME": live_server.admin_email, "CLAIMD_PASSWORD": live_server.admin_password}

    def import_with_tty_stderr(*flags: str) -> str:
        upload = tmp_path / f"devices-{secrets.token_hex(3)}.csv"
        upload.write_text("dev_eui\n" + "".join(f"00{secrets.token_hex(7)}\n" for _ in range(5)))
        leader, follower = pty.openpty()
        try:
            ran = run_cli(world, admin, "import", str(upload), *flags, stderr=follower)
            os.close(follower)
            shown = b""
            with contextlib.suppress(OSError):  # EIO once the pty is drained
                while chunk := os.read(leader, 65536):
                    shown += chunk
        finally:
            os.close(leader)
        assert ran.returncode == 0 and ran.stdout.count('"status": "OK"') == 5, ran.stdout
        return shown.decode(errors="replace")

    assert "devices registered" in import_with_tty_stderr()
    assert import_with_tty_stderr("--json").strip() == ""
    # not a terminal: no progress
    upload = tmp_path / "plain.csv"
    upload.write_text(f"dev_eui\n00{secrets.token_hex(7)}\n")
    plain = run_cli(world, admin, "import", str(upload))
    assert plain.returncode == 0 and plain.stderr == "", plain.stderr
