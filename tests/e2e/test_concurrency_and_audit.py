"""Two customers racing for one device over HTTP (issue §4), and the audit log of every claim path."""

from __future__ import annotations

import threading

import httpx
import pytest
from http_helpers import NULL_UUID, WINDOW_HEADER, assert_error, claim_path, device_message, now_ms, uid

GOOD_PAYLOAD = {"secretKey": "race", "durationMs": 60000}


# H. concurrency ---------------------------------------------------------------------------------------
def _race(world, device_name: str) -> list[tuple[str, httpx.Response]]:
    """u1 and u2 send the same claim at the same moment; returns (customer id, response) pairs."""
    barrier = threading.Barrier(2)
    results: list[tuple[str, httpx.Response]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(api, customer_id: str) -> None:
        try:
            with httpx.Client(base_url=world.base_url, timeout=30) as client:
                request = client.build_request(
                    "POST",
                    claim_path(device_name),
                    json={"secretKey": "race"},
                    headers={"X-Authorization": f"Bearer {api.token}"},
                )
                barrier.wait(timeout=10)
                r = client.send(request)
            with lock:
                results.append((customer_id, r))
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(world.u1, world.c1_id)),
        threading.Thread(target=run, args=(world.u2, world.c2_id)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    return results


@pytest.mark.parametrize("round_", range(10))
def test_two_customers_claim_the_same_device_at_once(world, round_):
    device = world.device(name=uid(f"race {round_}"))
    world.window(device, GOOD_PAYLOAD)
    results = _race(world, device.name)
    assert len(results) == 2
    by_status = sorted(results, key=lambda pair: pair[1].status_code)
    (winner, ok), (_loser, refused) = by_status
    assert ok.status_code == 200, [(r.status_code, r.text) for _, r in results]
    assert ok.json()["response"] == "SUCCESS" and ok.json()["device"]["customerId"]["id"] == winner
    assert refused.status_code == 400 and refused.json() == "CLAIMED", refused.text
    assert world.owner(device) == winner


def test_race_without_a_window_is_failure_for_both(world):
    device = world.device()
    results = _race(world, device.name)
    assert sorted((r.status_code, r.json()) for _, r in results) == [(400, "FAILURE"), (400, "FAILURE")]
    assert world.owner(device) == NULL_UUID


@pytest.mark.parametrize("round_", range(5))
def test_two_windows_at_once_one_is_opened_the_other_kept(world, round_):
    device = world.device()
    barrier = threading.Barrier(2)
    headers: dict[str, str] = {}

    def send(secret: str) -> None:
        barrier.wait(timeout=10)
        r = device_message(world.base_url, device.token, {"secretKey": secret, "durationMs": 60000})
        assert r.status_code == 200 and r.content == b""
        headers[secret] = r.headers[WINDOW_HEADER]

    threads = [threading.Thread(target=send, args=(secret,)) for secret in ("A", "B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(headers.values()) == ["kept", "opened"], headers
    opened = next(secret for secret, header in headers.items() if header == "opened")
    assert world.u1.claim(device.name, {"secretKey": opened}).json()["response"] == "SUCCESS"


# I. audit -------------------------------------------------------------------------------------------
def _entries(world, device_name: str) -> list[dict]:
    page = world.admin.ok("get", "/api/audit/logs", params={"pageSize": 1000, "page": 0})
    assert set(page) >= {"data", "totalPages", "totalElements", "hasNext"}
    return [e for e in page["data"] if e["entityName"] == device_name]


def _find(entries: list[dict], action: str, status: str) -> dict:
    matches = [e for e in entries if e["actionType"] == action and e["actionStatus"] == status]
    assert matches, f"no {action}/{status} entry in {[(e['actionType'], e['actionStatus']) for e in entries]}"
    return matches[0]


def test_audit_log_of_claims_reclaims_assign_and_unassign(world):
    device = world.device(name=uid("Audited"))
    started = now_ms()
    assert world.u1.claim(device.name, {"secretKey": "race"}).json() == "FAILURE"
    world.window(device, GOOD_PAYLOAD)
    assert world.u1.claim(device.name, {"secretKey": "race"}).json()["response"] == "SUCCESS"
    assert world.u2.claim(device.name, {"secretKey": "race"}).json() == "CLAIMED"
    assert world.admin.reclaim(device.name).status_code == 200
    world.admin.ok("post", f"/api/customer/{world.c2_id}/device/{device.id}")
    world.window(device, GOOD_PAYLOAD, expect="already-claimed")
    world.admin.ok("delete", f"/api/customer/device/{device.id}")

    entries = _entries(world, device.name)
    for e in entries:
        assert set(e) >= {"actionType", "actionStatus", "door", "entityName", "createdTime", "entityId", "userId"}
        assert e["entityId"] == {"entityType": "DEVICE", "id": device.id}
        assert e["createdTime"] >= started - 1000
    failure = _find(entries, "CLAIM", "FAILURE")
    success = _find(entries, "CLAIM", "SUCCESS")
    claimed = _find(entries, "CLAIM", "CLAIMED")
    for e in (failure, success, claimed):
        assert e["door"] == "REST"
    assert success["customerId"]["id"] == world.c1_id
    assert claimed["customerId"]["id"] == world.c2_id
    assert success["userId"]["id"] == world.u1.ok("get", "/api/auth/user")["id"]["id"]
    reclaim = _find(entries, "RECLAIM", "UNASSIGNED")
    assert reclaim["door"] == "REST" and reclaim["userId"]["id"] == world.admin_user["id"]["id"]
    assign = _find(entries, "ASSIGN", "ASSIGNED")
    assert assign["door"] == "REST"
    unassign = _find(entries, "UNASSIGN", "UNASSIGNED")
    assert unassign["door"] == "REST"
    refused = _find(entries, "CLAIM_WINDOW", "already-claimed")
    assert refused["door"] == "HTTP_DEVICE" and refused["userId"] is None
    # newest first
    times = [e["createdTime"] for e in entries]
    assert times == sorted(times, reverse=True)
    # the per-device log holds the same entries
    per_device = world.admin.ok(
        "get", f"/api/audit/logs/entity/DEVICE/{device.id}", params={"pageSize": 100, "page": 0}
    )
    assert sorted(e["id"]["id"] for e in per_device["data"]) == sorted(e["id"]["id"] for e in entries)


def test_audit_log_paging(world):
    device = world.device()
    for _ in range(3):  # failed guesses: one line with their count
        assert world.u1.claim(device.name, {}).json() == "FAILURE"
    world.window(device, GOOD_PAYLOAD)
    r = world.u1.claim(device.name, {"secretKey": GOOD_PAYLOAD["secretKey"]})
    assert r.status_code == 200, r.text
    assert world.u1.reclaim(device.name).status_code == 200
    first = world.admin.ok("get", f"/api/audit/logs/entity/DEVICE/{device.id}", params={"pageSize": 2, "page": 0})
    second = world.admin.ok("get", f"/api/audit/logs/entity/DEVICE/{device.id}", params={"pageSize": 2, "page": 1})
    assert (first["totalElements"], first["totalPages"], first["hasNext"], len(first["data"])) == (3, 2, True, 2)
    assert (second["hasNext"], len(second["data"])) == (False, 1)


def test_audit_log_is_for_tenant_admins(world, live_server):
    assert_error(world.u1.get("/api/audit/logs", params={"pageSize": 10, "page": 0}), 403, 20)
    device = world.device()
    assert_error(
        world.u1.get(f"/api/audit/logs/entity/DEVICE/{device.id}", params={"pageSize": 10, "page": 0}), 403, 20
    )
    assert_error(httpx.get(live_server.base_url + "/api/audit/logs"), 401, 10)
