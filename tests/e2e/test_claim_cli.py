"""``claimd claim``, ``reclaim``, ``unclaim``, ``devices block|unblock|tags`` and ``api-keys`` as a customer and
a tenant admin run them: the real command, as a separate process, against a real ``claimd serve`` (SQLite,
and PostgreSQL + Redis). A customer claims by a key from a file, by a claim link, by a PNG of the label's QR
code and by a LoRaWAN TR005 text, gives devices back, and claims and unclaims by a claim token; a wrong key
is exit 2 with the server's refusal in words. A tenant admin blocks, unblocks and tags a device, and makes
an API key into a 0600 file that then lists devices, until it is deleted."""

from __future__ import annotations

import json
import secrets
import stat
import subprocess
import uuid
from pathlib import Path

from cli_helpers import admin_env
from cli_helpers import run_claimd as run
from http_helpers import NULL_UUID, USER_PASSWORD, World, new_customer_user, uid

from claimd.adapters.attestation import mint_token, new_private_key, public_pem_of
from claimd.adapters.qrimage import render_png
from claimd.domain.claim_page import claim_link


def customer_env(world: World) -> dict[str, str]:
    """A new customer user of C1, as the environment of its commands."""
    email = f"{uid('cli')}@example.com"
    new_customer_user(world.admin, world.c1_id, email)
    return {"CLAIMD_URL": world.base_url, "CLAIMD_USERNAME": email, "CLAIMD_PASSWORD": USER_PASSWORD}


def secret_file(path: Path, value: str) -> Path:
    path.write_text(value + "\n")
    path.chmod(0o600)
    return path


def ok(ran: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert ran.returncode == 0, (ran.returncode, ran.stdout, ran.stderr)
    return ran


def test_claim_by_key_file_link_and_qr_image_then_reclaim(world: World, tmp_path: Path) -> None:
    env = customer_env(world)
    device = world.device()
    key = secrets.token_urlsafe(12)
    world.window(device, {"secretKey": key, "durationMs": 60000})

    # A wrong key: the server's refusal, in words, exit 2; the device stays unclaimed.
    wrong = run(tmp_path, env, "claim", "key", device.name, "--key-file", str(secret_file(tmp_path / "w", "nope")))
    assert wrong.returncode == 2 and wrong.stderr.startswith("claimd: ") and "FAILURE" in wrong.stderr
    assert world.owner(device) == NULL_UUID
    # A key is never a command-line value.
    refused = run(tmp_path, env, "claim", "key", device.name, "--key", key)
    assert refused.returncode == 2 and "not accepted" in refused.stderr and "--key-file" in refused.stderr
    # No file, no variable, no terminal: said, not hung.
    nothing = run(tmp_path, env, "claim", "key", device.name)
    assert nothing.returncode == 2 and "CLAIMD_CLAIM_KEY" in nothing.stderr

    world.window(device, {"secretKey": key, "durationMs": 60000})  # every attempt spends the window
    claimed = ok(run(tmp_path, env, "claim", "key", device.name, "--key-file", str(secret_file(tmp_path / "k", key))))
    assert device.name in claimed.stdout and device.id in claimed.stdout and "SUCCESS" in claimed.stdout
    assert world.owner(device) == world.c1_id
    again = run(tmp_path, env, "claim", "key", device.name, "--key-file", str(tmp_path / "k"))
    assert again.returncode == 2 and "already claimed" in again.stderr

    ok(run(tmp_path, env, "reclaim", device.name))
    assert world.owner(device) == NULL_UUID

    # The label's claim link, as its text: the key from the environment is not needed.
    world.window(device, {"secretKey": key, "durationMs": 60000})
    by_link = ok(run(tmp_path, env, "claim", "qr", claim_link(world.base_url, device.name, key), "--json"))
    answer = json.loads(by_link.stdout)
    assert answer["response"] == "SUCCESS" and answer["device"]["id"]["id"] == device.id
    reclaimed = ok(run(tmp_path, env, "reclaim", device.name, "--json"))
    assert json.loads(reclaimed.stdout) == {"reclaimed": device.name}

    # A photo of the label: a PNG of its QR code, decoded by the command.
    world.window(device, {"secretKey": key, "durationMs": 60000})
    png = tmp_path / "label.png"
    png.write_bytes(render_png(claim_link("https://claim.example.com", device.name, key), 300))
    ok(run(tmp_path, env, "claim", "qr", str(png)))
    assert world.owner(device) == world.c1_id

    # Neither a link nor a TR005 text.
    junk = run(tmp_path, env, "claim", "qr", "hello")
    assert junk.returncode == 2 and "not a claim link" in junk.stderr


def test_claim_a_lorawan_device_by_its_qr_text(world: World, tmp_path: Path) -> None:
    env = customer_env(world)
    dev_eui = "00" + secrets.token_hex(7).upper()
    made = world.admin.post("/v1/lorawan-devices", json={"ids": {"dev_eui": dev_eui}})
    assert made.status_code in (200, 201), made.text
    qr_text = made.json()["qr_code"]

    needs_app = run(tmp_path, env, "claim", "qr", qr_text)
    assert needs_app.returncode == 2 and "--application" in needs_app.stderr
    claimed = ok(run(tmp_path, env, "claim", "qr", qr_text, "--application", "cli-sensors", "--json"))
    answer = json.loads(claimed.stdout)
    assert answer["dev_eui"] == dev_eui and answer["application_ids"]["application_id"] == "cli-sensors"


def test_claim_by_token_tag_block_unblock_and_unclaim(world: World, live_server, tmp_path: Path) -> None:
    env, admin = customer_env(world), admin_env(world, live_server)
    key, device_id = new_private_key(), uuid.uuid4()
    registered = world.admin.post(
        "/v1/device-identities", json={"id": str(device_id), "publicKey": public_pem_of(key), "name": uid("nrf")}
    )
    assert registered.status_code == 201, registered.text
    token_file = tmp_path / "token.txt"
    token_file.write_text(mint_token(key, device_id) + "\n")

    claimed = ok(run(tmp_path, env, "claim", "token", str(token_file), "--tag", "line=1", "--json"))
    device = json.loads(claimed.stdout)
    assert device["id"] == str(device_id) and device["ownerId"] == world.c1_id and "line=1" in device["tags"]
    # The same token again, from standard input: already yours, the device as it is.
    shown = ok(run(tmp_path, env, "claim", "token", "-", stdin=token_file.read_text()))
    assert str(device_id) in shown.stdout and "READY" in shown.stdout

    # The tenant admin tags, blocks and unblocks it.
    tagged = ok(run(tmp_path, admin, "devices", "tags", str(device_id), "--add", "hall=2", "--add", "qa", "--json"))
    assert {"hall=2", "qa"} <= set(json.loads(tagged.stdout)["tags"])
    untagged = ok(run(tmp_path, admin, "devices", "tags", str(device_id), "--remove", "qa"))
    assert "hall=2" in untagged.stdout and "qa" not in untagged.stdout.replace("hall=2", "")
    listed = ok(run(tmp_path, admin, "devices", "tags", str(device_id), "--json"))
    assert "qa" not in json.loads(listed.stdout)["tags"]
    blocked = ok(run(tmp_path, admin, "devices", "block", str(device_id), "--json"))
    assert json.loads(blocked.stdout)["status"] == "BLOCKED"
    unblocked = ok(run(tmp_path, admin, "devices", "unblock", str(device_id)))
    assert "READY" in unblocked.stdout
    not_an_id = run(tmp_path, admin, "devices", "block", "line1-0001")
    assert not_an_id.returncode == 2 and "not a device id" in not_an_id.stderr

    # The customer gives it back.
    ok(run(tmp_path, env, "unclaim", str(device_id)))
    assert world.admin.ok("get", f"/api/device/{device_id}")["customerId"]["id"] == NULL_UUID
    gone = run(tmp_path, env, "unclaim", str(device_id))
    assert gone.returncode == 2 and gone.stderr.startswith("claimd: ")


def test_api_keys_create_to_a_file_list_use_and_delete(world: World, live_server, tmp_path: Path) -> None:
    admin = admin_env(world, live_server)
    key_file = tmp_path / "line.key"
    made = ok(run(tmp_path, admin, "api-keys", "create", "line 1", "--out", str(key_file), "--json"))
    record = json.loads(made.stdout)
    assert "key" not in record and record["keyFile"] == str(key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    assert key and key not in made.stdout
    again = run(tmp_path, admin, "api-keys", "create", "line 1", "--out", str(key_file))
    assert again.returncode == 2 and "not overwritten" in again.stderr

    listed = ok(run(tmp_path, admin, "api-keys", "list"))
    assert record["id"] in listed.stdout and "line 1" in listed.stdout and key not in listed.stdout

    with_key = {"CLAIMD_URL": world.base_url, "CLAIMD_API_KEY": key}
    ok(run(tmp_path, with_key, "devices", "list", "--limit", "1"))
    ok(run(tmp_path, {"CLAIMD_URL": world.base_url}, "devices", "--api-key-file", str(key_file), "list"))

    # Printed once, when no file is asked for.
    shown = ok(run(tmp_path, admin, "api-keys", "create", "console"))
    assert "shown this once" in shown.stdout

    ok(run(tmp_path, admin, "api-keys", "delete", record["id"]))
    revoked = run(tmp_path, with_key, "devices", "list")
    assert revoked.returncode == 2 and "API key was refused" in revoked.stderr
