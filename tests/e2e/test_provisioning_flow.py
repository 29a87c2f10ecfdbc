"""Provisioning commands, the main path: an owner queues commands for a device claimed with its token;
the device fetches them with a JWT signed by its identity key (CBOR, as the nRF Provisioning library),
answers, and the owner sees each command end SUCCEEDED or FAILED. A blocked device gets nothing."""

from __future__ import annotations

import subprocess
import sys
import uuid

import cbor2
import httpx
from http_helpers import uid

from claimd.adapters.attestation import mint_device_jwt, mint_token, new_private_key, public_pem_of

CBOR = "application/cbor"


def claimed_token_device(world):
    key, device_id = new_private_key(), uuid.uuid4()
    r = world.admin.post("/v1/device-identities", json={"id": str(device_id), "publicKey": public_pem_of(key)})
    assert r.status_code == 201, r.text
    r = world.u1.post("/v1/claimed-devices", json={"claimToken": mint_token(key, device_id)})
    assert r.status_code == 201, r.text
    return key, str(device_id)


def queue(api, path, request):
    r = api.post(path, json={"request": request})
    assert r.status_code == 201, r.text
    return r.json()


def device_get(world, key, device_id, **params):
    token = mint_device_jwt(key, uuid.UUID(device_id), issuer_prefix="nRF9160.")
    return httpx.get(
        f"{world.base_url}/v1/provisioning/commands",
        params=params,
        headers={"Authorization": f"Bearer {token}", "Accept": CBOR},
        timeout=30,
    )


def device_post(world, key, device_id, responses):
    token = mint_device_jwt(key, uuid.UUID(device_id))
    return httpx.post(
        f"{world.base_url}/v1/provisioning/response",
        content=cbor2.dumps(responses),
        headers={"Authorization": f"Bearer {token}", "Content-Type": CBOR},
        timeout=30,
    )


def test_commands_go_to_the_device_and_their_results_come_back(world):
    key, device_id = claimed_token_device(world)
    base = f"/v1/claimed-devices/{device_id}/provisioning"
    config = world.u1.post(
        base, json={"description": "interval", "request": {"config": {"interval": 60, "mode": "lte-m"}}}
    )
    assert config.status_code == 201, config.text
    assert config.json()["status"] == "PENDING" and config.json()["request"] == {
        "config": {"interval": "60", "mode": "lte-m"}
    }
    csr = queue(
        world.u1,
        base,
        {"certificateSigningRequest": {"secTag": 16842753, "attributes": "O=Nordic,CN=dev", "keyUsage": "101010000"}},
    )
    psk = queue(world.u1, base, {"preSharedKey": {"secTag": 7, "identity": "dev-1", "secret": "a1b2c3"}})
    assert psk["request"]["preSharedKey"]["secret"] == "********"  # never shown again
    finished = queue(world.u1, base, {"finished": {}})

    r = device_get(world, key, device_id, after="", rxMaxSize=8192)
    assert r.status_code == 200 and r.headers["content-type"] == CBOR, r.text
    commands = cbor2.loads(r.content)
    assert commands == [
        [config.json()["id"], 1, {"interval": "60", "mode": "lte-m"}],
        [csr["id"], 0, "%KEYGEN", '16842753,2,0,"O=Nordic,CN=dev","101010000"', []],
        [f"{psk['id']}.0", 0, "%CMNG", '0,7,4,"dev-1"', []],
        [f"{psk['id']}.1", 0, "%CMNG", '0,7,3,"a1b2c3"', []],
        [finished["id"], 2],
    ]
    listed = world.u1.ok("get", base)
    assert [c["status"] for c in listed["items"]] == ["IN_PROGRESS"] * 4 and listed["total"] == 4

    done = device_post(
        world,
        key,
        device_id,
        [
            [config.json()["id"], 101],
            [csr["id"], 100, "MIIBCSR"],
            [f"{psk['id']}.0", 100, ""],
            [f"{psk['id']}.1", 99, 527, "+CME ERROR: 527"],
        ],
    )
    assert done.status_code == 200 and done.json() == {"applied": 4, "ignored": []}, done.text
    by_id = {c["id"]: c for c in world.u1.ok("get", base)["items"]}
    assert by_id[config.json()["id"]]["status"] == "SUCCEEDED"
    assert by_id[csr["id"]]["status"] == "SUCCEEDED"
    assert by_id[csr["id"]]["response"] == {"messages": ["MIIBCSR"], "certificateSigningRequest": {"csr": "MIIBCSR"}}
    assert by_id[psk["id"]]["status"] == "FAILED"
    assert by_id[psk["id"]]["response"] == {
        "messages": [""],
        "cmeError": 527,
        "message": "+CME ERROR: 527",
        "preSharedKey": {"message": "+CME ERROR: 527", "cmeError": 527},
    }
    assert by_id[finished["id"]]["status"] == "IN_PROGRESS"  # sent, not answered: sent again
    again = device_get(world, key, device_id)
    assert cbor2.loads(again.content) == [[finished["id"], 2]]

    # blocked: nothing is sent and the command stays as it was
    assert world.u1.post(f"/v1/claimed-devices/{device_id}/block").status_code == 200
    refused = device_get(world, key, device_id)
    assert refused.status_code == 403 and refused.json()["code"] == "DEVICE_BLOCKED"
    assert world.u1.ok("get", f"{base}/{finished['id']}")["status"] == "IN_PROGRESS"
    assert world.u1.post(f"/v1/claimed-devices/{device_id}/unblock").status_code == 200

    assert device_post(world, key, device_id, [[finished["id"], 102]]).json() == {"applied": 1, "ignored": []}
    assert world.u1.ok("get", f"{base}/{finished['id']}")["status"] == "SUCCEEDED"
    assert device_get(world, key, device_id).status_code == 204
    # a repeated answer changes nothing
    assert device_post(world, key, device_id, [[finished["id"], 102]]).json() == {
        "applied": 0,
        "ignored": [finished["id"]],
    }


def test_access_token_devices_fetch_json_and_owners_cancel_and_reset(world):
    device = world.device(name=uid("prov"))
    assert world.admin.ok("post", f"/api/customer/{world.c1_id}/device/{device.id}")
    base = f"/v1/claimed-devices/{device.id}/provisioning"
    first = queue(world.u1, base, {"config": {"a": "1"}})
    second = queue(world.u1, base, {"finished": {}})
    cancelled = world.u1.delete(f"{base}/{second['id']}")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "CANCELLED"

    url = f"{world.base_url}/api/v1/{device.token}/provisioning"
    r = httpx.get(f"{url}/commands", timeout=30)
    assert r.status_code == 200 and r.json() == [
        {"correlationId": first["id"], "type": "CONFIG", "properties": {"a": "1"}}
    ]
    r = httpx.post(f"{url}/response", json=[{"correlationId": first["id"], "type": "CONFIG_ACK"}], timeout=30)
    assert r.status_code == 200 and r.json()["applied"] == 1
    assert httpx.get(f"{url}/commands", timeout=30).status_code == 204

    reset = world.u1.post(f"{base}/{second['id']}/reset")
    assert reset.status_code == 200 and reset.json()["status"] == "PENDING"
    assert httpx.get(f"{url}/commands", timeout=30).json() == [{"correlationId": second["id"], "type": "FINISHED"}]

    # a release cancels what is open; the next owner sees none of it
    assert world.admin.delete(f"/api/customer/device/{device.id}").status_code == 200
    assert world.admin.ok("post", f"/api/customer/{world.c2_id}/device/{device.id}")
    assert world.u2.ok("get", base) == {"items": [], "total": 0}
    assert httpx.get(f"{url}/commands", timeout=30).status_code == 204


def test_a_cli_minted_jwt_fetches_the_commands(world, tmp_path):
    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "claimd", *args], capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    key_file = tmp_path / "device.pem"
    public_pem = cli("device", "keygen", "--out", str(key_file))
    device_id = str(uuid.uuid4())
    assert world.admin.post("/v1/device-identities", json={"id": device_id, "publicKey": public_pem}).status_code == 201
    token = cli("device", "token", "--id", device_id, "--key", str(key_file))
    assert world.u1.post("/v1/claimed-devices", json={"claimToken": token}).status_code == 201
    command = queue(world.u1, f"/v1/claimed-devices/{device_id}/provisioning", {"config": {"interval": "60"}})
    jwt = cli("device", "jwt", "--id", device_id, "--key", str(key_file))
    r = httpx.get(f"{world.base_url}/v1/provisioning/commands", headers={"Authorization": f"Bearer {jwt}"}, timeout=30)
    assert r.status_code == 200 and r.json() == [
        {"correlationId": command["id"], "type": "CONFIG", "properties": {"interval": "60"}}
    ], r.text
    too_long = cli("device", "jwt", "--id", device_id, "--key", str(key_file), "--lifetime", "3600")
    r = httpx.get(
        f"{world.base_url}/v1/provisioning/commands", headers={"Authorization": f"Bearer {too_long}"}, timeout=30
    )
    assert r.status_code == 401 and r.json()["code"] == "UNAUTHENTICATED", r.text
