"""The ownership API's main path, as a new user walks it: a key and a token made by ``claimd device``,
the identity registered, the token claimed with tags, listed, blocked, unblocked and unclaimed."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from http_helpers import problem, uid


def cli(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "claimd", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def device_key(tmp_path):
    path = tmp_path / "device-key.pem"
    public_pem = cli("device", "keygen", "--out", str(path))
    assert public_pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert (path.stat().st_mode & 0o777) == 0o600
    return path, public_pem


def test_cli_token_is_claimed_listed_blocked_unblocked_and_unclaimed(world, device_key):
    key_path, public_pem = device_key
    device_id = str(uuid.uuid4())
    registered = world.admin.post(
        "/v1/device-identities",
        json={
            "id": device_id,
            "publicKey": public_pem,
            "deviceType": "nrf9160_SICA",
            "imei": "352656106118683",
            "tags": ["batch=42"],
        },
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["id"] == device_id and registered.json()["name"] == device_id

    token = cli("device", "token", "--id", device_id, "--key", str(key_path)).strip()
    assert len(token) == 180 and "." in token

    location = uid("location")
    claimed = world.u1.post("/v1/claimed-devices", json={"claimToken": token, "tags": [f"location={location}"]})
    assert claimed.status_code == 201, claimed.text
    body = claimed.json()
    assert body["id"] == device_id and body["ownerId"] == world.c1_id
    assert body["ownershipStatus"] == "IDENTIFIED" and body["status"] == "READY"
    assert body["tags"] == [f"location={location}"] and body["imei"] == "352656106118683"
    assert body["deviceType"] == "nrf9160_SICA" and body["claimedAt"].endswith("Z")
    assert body["firmwareId"] == str(uuid.UUID(int=0))

    # the same token again, by the owner: the same record, 200, never a duplicate
    again = world.u1.post("/v1/claimed-devices", json={"claimToken": token})
    assert again.status_code == 200 and again.json()["id"] == device_id
    # by another customer: 409 with a code
    problem(world.u2.post("/v1/claimed-devices", json={"claimToken": token}), 409, "DEVICE_OWNED_BY_ANOTHER")

    listed = world.u1.ok("get", "/v1/claimed-devices", params={"tags": f"location={location}"})
    assert [d["id"] for d in listed["items"]] == [device_id] and listed["total"] == 1
    assert world.u2.ok("get", "/v1/claimed-devices", params={"tags": f"location={location}"})["total"] == 0

    blocked = world.u1.post(f"/v1/claimed-devices/{device_id}/block")
    assert blocked.status_code == 200 and blocked.json()["status"] == "BLOCKED"
    assert world.u1.post(f"/v1/claimed-devices/{device_id}/block").json()["status"] == "BLOCKED"  # idempotent
    assert (
        world.u1.ok("get", "/v1/claimed-devices", params={"status": "BLOCKED", "tags": f"location={location}"})["total"]
        == 1
    )
    unblocked = world.u1.post(f"/v1/claimed-devices/{device_id}/unblock")
    assert unblocked.status_code == 200 and unblocked.json()["status"] == "READY"

    assert world.u1.delete(f"/v1/claimed-devices/{device_id}").status_code == 204
    problem(world.u1.get(f"/v1/claimed-devices/{device_id}"), 404, "NOT_FOUND")
    # the old token is spent: a replay after the unclaim is refused; a fresh token claims
    problem(world.u2.post("/v1/claimed-devices", json={"claimToken": token}), 403, "CLAIM_TOKEN_REPLAYED")
    fresh = cli("device", "token", "--id", device_id, "--key", str(key_path)).strip()
    r = world.u2.post("/v1/claimed-devices", json={"claimToken": fresh})
    assert r.status_code == 201 and r.json()["ownerId"] == world.c2_id and r.json()["tags"] == []
