"""A fleet import through ``POST /v1/devices/bulk``, as a tenant does it: every kind of device in one
file, each row's result (with the secrets it was given or generated) in a result file downloaded once,
failed rows told by number, and the imported devices claimable with what the result file says."""

from __future__ import annotations

import base64
import csv
import io
import json
import signal
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from dbrows import database_rows
from http_helpers import Api, World, new_customer_user, uid, wait_for_op
from servers import create_pg_database, drop_pg_database, require_server, start_server

from claimd.adapters.attestation import mint_token, new_private_key, public_pem_of
from claimd.services.device_import import CHUNK_ROWS

IMPORT = "/v1/devices/bulk"
CSV = {"Content-Type": "text/csv"}
NDJSON = {"Content-Type": "application/x-ndjson"}


def submit(api: Api, body: str, headers: dict[str, str] = CSV, **params: str) -> str:
    r = api.post(IMPORT, content=body.encode(), headers=headers, params=params)
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/v1/bulk-ops-requests/{r.json()['bulkOpsRequestId']}"
    return r.json()["bulkOpsRequestId"]


def results(api: Api, op_id: str, **params: str) -> list[dict[str, Any]]:
    r = api.get(f"/v1/bulk-ops-requests/{op_id}/results.json", params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/x-ndjson")
    assert r.headers["cache-control"] == "no-store"
    return [json.loads(line) for line in r.text.splitlines()]


def imported(api: Api, body: str, headers: dict[str, str] = CSV, **params: str) -> tuple[dict[str, Any], list]:
    op_id = submit(api, body, headers, **params)
    return wait_for_op(api, op_id), results(api, op_id)


def test_one_file_brings_every_kind_of_device(world: World) -> None:
    customer = world.c1["title"]
    taken = world.device()
    pem = public_pem_of(new_private_key())
    one_line = "".join(pem.strip().splitlines()[1:-1])  # a CSV cell holds no line break: the PEM's base64 body
    dev_eui = uuid.uuid4().hex[:16].upper()
    tag = uid("site")
    n = {i: uid(f"imp{i}") for i in range(1, 9)}
    rows = [
        "name,type,label,claim_key,claim_key_expires_at,join_eui,dev_eui,claim_code,public_key,tags,customer,gateway",
        f'{n[1]},sensor,Kitchen,generate,,,,,,"{tag},floor=2",,',  # 1: a generated key, two tags
        f"{n[2]},,,MY-KEY-1,2099-01-01T00:00:00Z,,,,,,,true",  # 2: a given key, a gateway
        f"{n[3]},,,,,70B3D57ED0000000,{dev_eui},generate,,,,",  # 3: LoRaWAN, a generated code
        f"{n[4]},,,,,,,,{one_line},,{customer},",  # 4: an identity, pre-assigned to a customer
        "",  # a blank line: not a row
        f"{n[5]},,,,,70B3D57ED0000000,nothex,ABCD,,,,",  # 5: a bad DevEUI
        f"{n[1]},,,generate,,,,,,,,",  # 6: the name of row 1 again
        f"{taken.name},,,generate,,,,,,,,",  # 7: a name taken before
        f"{n[6]},,,generate,,,,,,,No such customer,",  # 8: an unknown customer
        f"{n[7]},,,,,,,,,,,",  # 9: a device and nothing else
    ]
    op, lines = imported(world.admin, "\n".join(rows) + "\n")
    assert op["endpoint"] == "IMPORT_DEVICES" and op["status"] == "FAILED" and op["outcome"] == "PARTIAL", op
    assert (op["total"], op["succeeded"], op["failed"]) == (9, 5, 4), op
    assert "uploadedDataUrl" not in op and op["resultsTaken"] is False

    assert [line["row"] for line in lines] == list(range(1, 10))
    by_row = {line["row"]: line for line in lines}
    assert set(by_row[1]) == {
        "row",
        "name",
        "deviceId",
        "accessToken",
        "claimKey",
        "claimCode",
        "claimLink",
        "qrText",
        "error",
    }
    assert "dev_eui" in by_row[5]["error"] and by_row[5]["deviceId"] is None
    assert by_row[6]["error"] == "row 1 has the same name"
    assert by_row[7]["error"] == "Device with such name already exists!"
    assert "No such customer" in by_row[8]["error"]
    assert all(by_row[r]["error"] is None for r in (1, 2, 3, 4, 9))

    errors = world.admin.ok("get", f"/v1/bulk-ops-requests/{op['bulkOpsRequestId']}/errors.json")
    assert [e.split("]")[0] for e in errors["errors"]] == ["[5", "[6", "[7", "[8"]

    # 1: a generated key (20 symbols of Crockford's base 32), its claim link, its tags
    one = by_row[1]
    assert len(one["claimKey"]) == 20 and set(one["claimKey"]) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
    link = urlsplit(one["claimLink"])
    assert link.path == "/claim" and one["qrText"] == one["claimLink"]
    assert parse_qs(link.query) == {"deviceName": [n[1]], "secretKey": [one["claimKey"]]}
    device = world.admin.ok("get", f"/api/device/{one['deviceId']}")
    assert (device["name"], device["type"], device["label"]) == (n[1], "sensor", "Kitchen")
    stored = world.admin.ok(
        "get",
        f"/api/plugins/telemetry/DEVICE/{one['deviceId']}/values/attributes/SERVER_SCOPE",
        params={"keys": "claimingData"},
    )
    assert one["claimKey"] not in json.dumps(stored)  # the key is stored as a digest only
    credentials = world.admin.ok("get", f"/api/device/{one['deviceId']}/credentials")
    assert credentials["credentialsId"] == one["accessToken"]
    assert world.admin.ok("get", f"/v1/provisioning/tags/{tag}")["deviceCount"] == 1  # the tenant's tags
    claimed = world.u2.claim(n[1], {"secretKey": one["claimKey"]})
    assert claimed.status_code == 200, claimed.text

    # 2: a given key claims; a gateway
    two = by_row[2]
    assert two["claimKey"] == "MY-KEY-1" and two["claimCode"] is None
    assert world.admin.ok("get", f"/api/device/{two['deviceId']}")["additionalInfo"]["gateway"] is True
    assert world.u1.claim(n[2], {"secretKey": "wrong"}).status_code != 200
    assert world.u1.claim(n[2], {"secretKey": "MY-KEY-1"}).status_code == 200

    # 3: LoRaWAN, claimed with the TR005 text of the result file
    three = by_row[3]
    assert three["qrText"].startswith(f"LW:D0:70B3D57ED0000000:{dev_eui}:") and three["claimCode"]
    r = world.u1.post(
        "/api/v3/edcs/claim",
        json={
            "qr_code": base64.b64encode(three["qrText"].encode()).decode(),
            "target_application_ids": {"application_id": uid("app")},
        },
    )
    assert r.status_code == 200, r.text

    # 4: an identity pre-assigned to a customer; its token claims it for that customer's user
    four = by_row[4]
    assert four["qrText"] == four["deviceId"] and four["claimKey"] is None
    assert world.admin.ok("get", f"/api/device/{four['deviceId']}")["customerId"]["id"] == world.c1_id
    assert world.admin.ok("get", f"/v1/device-identities/{four['deviceId']}")["publicKey"].strip() == pem.strip()

    # the result file is downloaded once
    again = world.admin.get(f"/v1/bulk-ops-requests/{op['bulkOpsRequestId']}/results.json")
    assert again.status_code == 410 and "downloaded already" in again.json()["message"]
    assert world.admin.ok("get", f"/v1/bulk-ops-requests/{op['bulkOpsRequestId']}")["resultsTaken"] is True


def test_no_secret_of_an_import_is_stored_in_plain_text(world: World, live_server) -> None:
    given_key, given_token = uid("GIVEN-KEY"), uid("GIVEN-TOKEN")
    body = f"name,claim_key,access_token\n{uid('sec')},generate,\n{uid('sec')},{given_key},{given_token}\n"
    op_id = submit(world.admin, body)
    wait_for_op(world.admin, op_id)
    before = database_rows(live_server)  # the results wait, sealed, for their one download
    lines = results(world.admin, op_id)
    secrets = [lines[0]["claimKey"], lines[0]["accessToken"], given_key, given_token]
    assert lines[1]["claimKey"] == given_key and lines[1]["accessToken"] == given_token
    for rows in (before, database_rows(live_server)):
        leaked = [secret for secret in secrets if any(secret in row for row in rows)]
        assert not leaked, leaked


def test_tokens_claim_imported_identities(world: World) -> None:
    key = new_private_key()
    name = uid("ident")
    body = json.dumps({"name": name, "public_key": public_pem_of(key), "tags": ["a", "b"]}) + "\n"
    op, lines = imported(world.admin, body, NDJSON)
    assert op["status"] == "SUCCEEDED" and op["outcome"] == "SUCCEEDED", op
    device_id = lines[0]["deviceId"]
    assert sorted(world.admin.ok("get", f"/v1/device-identities/{device_id}")["tags"]) == ["a", "b"]
    r = world.u1.post("/v1/claimed-devices", json={"claimToken": mint_token(key, uuid.UUID(device_id))})
    assert r.status_code == 201, r.text


def test_key_policy_and_csv_results(world: World) -> None:
    names = [uid("pol") for _ in range(3)]
    body = "name,claim_key\n" + "".join(f"{name},generate\n" for name in names)
    op_id = submit(world.admin, body, claim_key_length="16", claim_key_alphabet="0123456789abcdefghijklmnopqrstuv")
    op = wait_for_op(world.admin, op_id)
    assert op["succeeded"] == 3, op
    r = world.admin.get(f"/v1/bulk-ops-requests/{op_id}/results.json", params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["name"] for row in table] == names and [row["row"] for row in table] == ["1", "2", "3"]
    assert all(len(row["claimKey"]) == 16 and row["error"] == "" for row in table)
    assert len({row["claimKey"] for row in table}) == 3


def test_refusals_before_anything_is_stored(world: World) -> None:
    admin = world.admin
    cases = [
        (b"nom,claim_key\nx,generate\n", CSV, {}, "unknown columns"),
        (b"", CSV, {}, "empty"),
        (b'{"name": "x"}\n', {"Content-Type": "application/json"}, {}, "text/csv"),
        (b"name\nx\n", CSV, {"claim_key_length": "8"}, "80 bits"),
        (b"name\nx\n", CSV, {"claim_key_alphabet": "aab"}, "repeats"),
        (b"name\n\xff\n", CSV, {}, "UTF-8"),
    ]
    for body, headers, params, words in cases:
        r = admin.post(IMPORT, content=body, headers=headers, params=params)
        assert r.status_code == 400, (body, r.status_code, r.text)
        assert words in r.json()["message"], (body, r.json())
    customer = new_customer_user(admin, world.c1_id)
    r = customer.post(IMPORT, content=b"name\nx\n", headers=CSV)
    assert r.status_code == 403, r.text


def test_the_same_upload_with_the_same_idempotency_key_is_one_import(world: World) -> None:
    body = f"name\n{uid('idem')}\n"
    key = {"Idempotency-Key": uid("key"), **CSV}
    first = world.admin.post(IMPORT, content=body.encode(), headers=key)
    second = world.admin.post(IMPORT, content=body.encode(), headers=key)
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    assert wait_for_op(world.admin, first.json()["bulkOpsRequestId"])["succeeded"] == 1


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_an_import_interrupted_by_a_killed_worker_finishes_after_restart(tmp_path, backend) -> None:
    """Budget: ~40 s. 30,000 rows in chunks; the server is killed mid-import (SIGKILL) and started again
    on the same store: every row is worked exactly once, a name repeated across chunks fails alone."""
    database_name, database_url = None, None
    if backend == "postgres":
        require_server("postgres")
        database_name, database_url = create_pg_database()
    env = {"CLAIMD_BULK_LEASE_S": "2"}
    server = start_server(tmp_path, database_url, extra_env=env)
    total, repeated = 30_000, CHUNK_ROWS + 500
    prefix = uid("kill")
    names = [f"{prefix}-{i}" for i in range(1, total + 1)]
    names[repeated - 1] = names[0]  # in another chunk than row 1
    try:
        admin = Api.login(server.base_url, server.admin_email, server.admin_password)
        op_id = submit(admin, "name,claim_key\n" + "".join(f"{name},generate\n" for name in names))
        deadline = time.monotonic() + 60
        while (seen := admin.ok("get", f"/v1/bulk-ops-requests/{op_id}"))["succeeded"] < CHUNK_ROWS:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        early = admin.get(f"/v1/bulk-ops-requests/{op_id}/results.json")
        server.process.send_signal(signal.SIGKILL)
        assert seen["succeeded"] + seen["failed"] < total, "the import ended before the worker was killed"
        assert early.status_code == 409 and early.json()["code"] == "BULK_NOT_FINISHED", early.text
        server.process.wait()
        server = start_server(tmp_path, database_url, extra_env=env)
        admin = Api(server.base_url, admin.token)
        op = wait_for_op(admin, op_id)
        assert (op["total"], op["succeeded"], op["failed"]) == (total, total - 1, 1), op
        lines = results(admin, op_id)
        assert [line["row"] for line in lines] == list(range(1, total + 1))
        assert lines[repeated - 1]["error"] == "Device with such name already exists!"
        made = [line for line in lines if line["error"] is None]
        assert len({line["deviceId"] for line in made}) == len({line["claimKey"] for line in made}) == total - 1
        listed = admin.ok("get", "/api/tenant/devices", params={"pageSize": 1, "page": 0, "textSearch": prefix})
        assert listed["totalElements"] == total - 1
    finally:
        server.stop()
        if database_name:
            drop_pg_database(database_name)
