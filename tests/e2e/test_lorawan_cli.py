"""Issue 5's "done when", as a new user does it: a tenant provisions a LoRaWAN device with ``claimd
lorawan provision`` and prints its TR005 QR code as PNG; a customer scans it, posts the scanned text
to ``/api/v3/edcs/claim``, sees the device listed (``claimd lorawan list``), unclaims it (``claimd
lorawan unclaim``), and fails to claim it with a guessed code, until guessing is locked out.
Against a real ``claimd serve`` on SQLite and on PostgreSQL + Redis."""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import sys
from pathlib import Path

import httpx
from http_helpers import USER_PASSWORD, World, new_customer_user, uid
from pngread import decode_qr_png

JOIN_EUI = "70B3D57ED0000000"


def cli(world: World, email: str, password: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"CLAIMD_URL": world.base_url, "CLAIMD_USERNAME": email, "CLAIMD_PASSWORD": password, "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-c", "from claimd.entrypoints.cli import main; main()", "lorawan", *args],
                          env=env, capture_output=True, text=True, timeout=60)


def test_provision_print_qr_claim_by_scanned_text_list_unclaim_and_guess(world: World, live_server, tmp_path: Path) -> None:
    admin = (live_server.admin_email, live_server.admin_password)
    dev_eui = "00" + secrets.token_hex(7).upper()
    png = tmp_path / "label.png"

    # The tenant provisions the device and prints its QR code.
    made = cli(world, *admin, "provision", "--dev-eui", dev_eui.lower(), "--join-eui", JOIN_EUI, "--serial", "SN-0001",
               "--qr-png", str(png))
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
    claimed = httpx.post(world.base_url + "/api/v3/edcs/claim", headers=headers, json={
        "qr_code": base64.b64encode(scanned.encode()).decode(), "target_application_ids": {"application_id": "my-sensors"}})
    assert claimed.status_code == 200, claimed.text
    device_id = f"eui-{dev_eui.lower()}"
    assert claimed.json() == {"device_id": device_id, "application_ids": {"application_id": "my-sensors"},
                              "dev_eui": dev_eui, "join_eui": JOIN_EUI}

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
    guessed = cli(world, email, USER_PASSWORD, "claim", "-a", "my-sensors", "--join-eui", JOIN_EUI, "--dev-eui", dev_eui,
                  "--code", guess)
    assert guessed.returncode == 1
    assert "403" in guessed.stderr and "the claim authentication code is wrong" in guessed.stderr
    spent = cli(world, email, USER_PASSWORD, "claim", "-a", "my-sensors", "--qr", scanned)
    assert spent.returncode == 1 and "403" in spent.stderr and "no longer claims the device" in spent.stderr

    # Guessing stops: after the free failures for this DevEUI, every attempt is 429 with Retry-After.
    answers = []
    for i in range(8):
        r = httpx.post(world.base_url + "/api/v3/edcs/claim", headers=headers, json={
            "authenticated_identifiers": {"join_eui": JOIN_EUI, "dev_eui": dev_eui, "authentication_code": f"{i:08X}"},
            "target_application_ids": {"application_id": "my-sensors"}})
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
