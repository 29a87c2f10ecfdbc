"""Bulk claims through HTTP: every row reported truthfully, and a job that survives a killed worker."""

from __future__ import annotations

import csv
import io
import signal
import time
import uuid

import httpx
import pytest
from http_helpers import Api, new_customer_user, uid, wait_for_op
from servers import create_pg_database, drop_pg_database, require_server, start_server

from claimd.adapters.attestation import mint_token, new_private_key, public_pem_of


def register(admin: Api, count: int, key=None) -> tuple[list[str], object]:
    """``count`` device identities sharing one key (fast), registered through the bulk import."""
    key = key or new_private_key()
    pem = public_pem_of(key)
    ids = [str(uuid.uuid4()) for _ in range(count)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "publicKey", "deviceType"])
    for device_id in ids:
        writer.writerow([device_id, pem, "nrf9160_SICA"])
    r = admin.post("/v1/device-identities/bulk", content=out.getvalue().encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 202, r.text
    op = wait_for_op(admin, r.json()["bulkOpsRequestId"])
    assert op["status"] == "SUCCEEDED" and op["succeeded"] == count, op
    return ids, key


def test_bulk_claim_reports_each_row_truthfully(world):
    ids, key = register(world.admin, 3)
    replayed = mint_token(key, uuid.UUID(ids[2]))
    first = world.u2.post("/v1/claimed-devices", json={"claimToken": replayed})
    assert first.status_code == 201
    assert world.u2.delete(f"/v1/claimed-devices/{ids[2]}").status_code == 204
    tag = uid("site")
    rows = [
        f'{mint_token(key, uuid.UUID(ids[0]))},"{tag},color=white"',  # row 1: good, two tags
        "not-a-token",  # row 2: malformed
        mint_token(new_private_key(), uuid.uuid4()),  # row 3: unknown device
        replayed,  # row 4: replayed after its unclaim
        mint_token(key, uuid.UUID(ids[1])),  # row 5: good, no tags
        "",  # a blank line: not a row
        mint_token(new_private_key(), uuid.UUID(ids[1])),  # row 6: wrong key (and owned now)
    ]
    body = "\n".join(rows).encode()
    r = world.u1.post("/v1/claimed-devices", content=body, headers={"Content-Type": "text/csv"})
    assert r.status_code == 202, r.text
    op_id = r.json()["bulkOpsRequestId"]
    assert len(op_id) == 26
    op = wait_for_op(world.u1, op_id)
    assert op["status"] == "FAILED" and op["outcome"] == "PARTIAL", op
    assert (op["total"], op["succeeded"], op["failed"]) == (6, 2, 4), op
    assert op["endpoint"] == "CLAIM_DEVICE_OWNERSHIP" and op["completedAt"].endswith("Z")

    errors = httpx.get(op["errorSummaryUrl"], headers={"X-Authorization": f"Bearer {world.u1.token}"}).json()
    assert [e.split("]")[0] for e in errors["errors"]] == ["[2", "[3", "[4", "[6"]
    assert "CLAIM_TOKEN_NOT_BASE64URL" in errors["errors"][0] and "UNKNOWN_DEVICE" in errors["errors"][1]
    assert "CLAIM_TOKEN_REPLAYED" in errors["errors"][2] and "BAD_SIGNATURE" in errors["errors"][3]

    results = world.u1.ok("get", f"/v1/bulk-ops-requests/{op_id}/results.json")
    assert [(x["row"], x["status"]) for x in results] == [
        (1, "OK"),
        (2, "ERROR"),
        (3, "ERROR"),
        (4, "ERROR"),
        (5, "OK"),
        (6, "ERROR"),
    ]
    assert results[0]["deviceId"] == ids[0] and results[4]["deviceId"] == ids[1]
    # the upload holds tokens: never served back; nRF Cloud's clients still find its URL in the job
    assert op["uploadedDataUrl"].endswith(f"/v1/bulk-ops-requests/{op_id}/upload.csv")
    uploaded = world.u1.get(f"/v1/bulk-ops-requests/{op_id}/upload.csv")
    assert uploaded.status_code == 410 and "not served back" in uploaded.json()["detail"], uploaded.text
    assert not any(row.split(",")[0] in uploaded.text for row in rows if row)

    claimed = world.u1.ok("get", f"/v1/claimed-devices/{ids[0]}")
    assert sorted(claimed["tags"]) == sorted([tag, "color=white"]) and claimed["ownerId"] == world.c1_id
    assert world.u1.ok("get", f"/v1/claimed-devices/{ids[1]}")["ownerId"] == world.c1_id
    # another customer cannot see the job
    assert world.u2.get(f"/v1/bulk-ops-requests/{op_id}").status_code == 404


def test_the_same_upload_with_the_same_idempotency_key_is_one_job(world):
    ids, key = register(world.admin, 2)
    body = "\n".join(mint_token(key, uuid.UUID(i)) for i in ids).encode()
    headers = {"Content-Type": "text/csv", "Idempotency-Key": uid("key")}
    first = world.u1.post("/v1/claimed-devices/bulk", content=body, headers=headers)
    second = world.u1.post("/v1/claimed-devices/bulk", content=body, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    op = wait_for_op(world.u1, first.json()["bulkOpsRequestId"])
    assert (op["total"], op["succeeded"]) == (2, 2)
    other = world.u1.post("/v1/claimed-devices/bulk", content=body + b"\nx", headers=headers)
    assert other.status_code == 409 and other.json()["code"] == "IDEMPOTENCY_KEY_REUSED"


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_job_interrupted_by_a_killed_worker_finishes_after_restart(tmp_path, backend):
    """Budget: ~30 s. 600 rows; the server is killed mid-job and started again on the same store."""
    database_name, database_url = None, None
    if backend == "postgres":
        require_server("postgres")
        database_name, database_url = create_pg_database()
    env = {"CLAIMD_BULK_LEASE_S": "2"}
    server = start_server(tmp_path, database_url, extra_env=env)
    try:
        admin = Api.login(server.base_url, server.admin_email, server.admin_password)
        customer = admin.ok("post", "/api/customer", json={"title": uid("bulk-customer")})
        user = new_customer_user(admin, customer["id"]["id"])
        ids, key = register(admin, 600)
        body = "\n".join(mint_token(key, uuid.UUID(i)) for i in ids).encode()
        r = user.post("/v1/claimed-devices", content=body, headers={"Content-Type": "text/csv"})
        assert r.status_code == 202
        op_id = r.json()["bulkOpsRequestId"]
        deadline = time.monotonic() + 60
        while (seen := user.ok("get", f"/v1/bulk-ops-requests/{op_id}"))["succeeded"] < 30:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        server.process.send_signal(signal.SIGKILL)
        assert seen["succeeded"] < 600, "the job ended before the worker was killed"
        server.process.wait()
        server = start_server(tmp_path, database_url, extra_env=env)
        user, admin = Api(server.base_url, user.token), Api(server.base_url, admin.token)
        op = wait_for_op(user, op_id)
        assert (op["status"], op["total"], op["succeeded"], op["failed"]) == ("SUCCEEDED", 600, 600, 0), op
        results = user.ok("get", f"/v1/bulk-ops-requests/{op_id}/results.json")
        assert sorted(x["deviceId"] for x in results) == sorted(ids)
        # each device claimed exactly once: one successful CLAIM per device in the audit log
        claims: list[str] = []
        for page_index in range(5):
            page = admin.ok("get", "/api/audit/logs", params={"pageSize": 1000, "page": page_index})
            claims += [
                e["entityId"]["id"]
                for e in page["data"]
                if e["actionType"] == "CLAIM" and e["actionStatus"] == "SUCCESS"
            ]
        assert len(claims) == len(set(claims)) == 600
        listed, token = [], None
        while True:
            params = {"pageLimit": 1000, **({"pageNextToken": token} if token else {})}
            page = user.ok("get", "/v1/claimed-devices", params=params)
            listed += [d["id"] for d in page["items"]]
            token = page.get("pageNextToken")
            if not token:
                break
        assert sorted(listed) == sorted(ids)
    finally:
        server.stop()
        if database_name:
            drop_pg_database(database_name)
