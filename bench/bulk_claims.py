"""Bulk claim files: rows/s of a registration import and of a claim file, and the server's memory.

    python bench/bulk_claims.py [--rows 100000] [--database-url postgresql+asyncpg://postgres@127.0.0.1/bench]

claimd runs in its own process. The script registers ``rows`` device identities (one shared key,
so that minting stays cheap) through ``POST /v1/device-identities/bulk``, mints one claim token per
device, uploads them as one claim CSV and polls the bulk operation until it ends, printing its
progress. Meanwhile it claims a few other devices one at a time through the API and times each: the
job works its rows in write transactions of its own, and a single claim must not wait long for one.

At the end it checks that the report is exact: every row OK with its own device, every device
claimed once (one successful CLAIM in the audit log per device) and listed once among the
customer's claimed devices. It records the server's RSS at start, before the claim upload, after
it and at the end: the upload is streamed, so memory should not grow with the rows.
"""

from __future__ import annotations

import argparse
import collections
import csv
import io
import statistics
import threading
import time
import uuid

import httpx
from common import rss_kib, start_claimd, write_results

from claimd.adapters.attestation import mint_token, new_private_key, public_pem_of

PROBES = 200  # devices claimed one by one through the API while the job runs
PROBE_EVERY_S = 0.5


def wait(client: httpx.Client, op_id: str, label: str) -> tuple[dict, float]:
    start = last_print = time.perf_counter()
    while True:
        op = client.get(f"/v1/bulk-ops-requests/{op_id}").json()
        now = time.perf_counter()
        if op["status"] in ("SUCCEEDED", "FAILED"):
            return op, now - start
        if now - last_print >= 10:
            done = op["succeeded"] + op["failed"]
            print(
                f"  {label}: {done}/{op['total']} rows after {now - start:.0f} s ({done / (now - start):.0f} rows/s)",
                flush=True,
            )
            last_print = now
        time.sleep(0.5)


class Prober(threading.Thread):
    """Claims devices one at a time through the API while the job runs, timing each claim."""

    def __init__(self, base_url: str, token: str, tokens: list[str]) -> None:
        super().__init__(daemon=True)
        self.client = httpx.Client(base_url=base_url, headers={"X-Authorization": f"Bearer {token}"}, timeout=120)
        self.tokens = tokens
        self.latencies: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        for token in self.tokens:
            if self.stop.wait(PROBE_EVERY_S):
                return
            start = time.perf_counter()
            r = self.client.post("/v1/claimed-devices", json={"claimToken": token})
            assert r.status_code == 201, r.text
            self.latencies.append(time.perf_counter() - start)


def check_report(client: httpx.Client, admin: httpx.Client, op_id: str, ids: list[uuid.UUID], claimed: int) -> str:
    """Every row OK with its own device; each device claimed once (audit log) and listed once."""
    started = time.perf_counter()
    expected = sorted(str(d) for d in ids)
    results = client.get(f"/v1/bulk-ops-requests/{op_id}/results.json").json()
    assert len(results) == len(ids) and all(r["status"] == "OK" for r in results), "a row is not OK"
    assert sorted(r["deviceId"] for r in results) == expected, "the rows' devices are not the uploaded ones"
    successes: collections.Counter[str] = collections.Counter()
    page = 0
    while True:
        logs = admin.get("/api/audit/logs", params={"pageSize": 1000, "page": page}).json()
        successes.update(
            e["entityId"]["id"] for e in logs["data"] if e["actionType"] == "CLAIM" and e["actionStatus"] == "SUCCESS"
        )
        if not logs["hasNext"]:
            break
        page += 1
    assert all(successes[d] == 1 for d in expected), "a device of the file was not claimed exactly once"
    assert sum(successes.values()) == len(ids) + claimed, "more successful claims than devices"
    listed: list[str] = []
    next_token = None
    while True:
        params = {"pageLimit": 1000, **({"pageNextToken": next_token} if next_token else {})}
        page_data = client.get("/v1/claimed-devices", params=params).json()
        listed += [d["id"] for d in page_data["items"]]
        next_token = page_data.get("pageNextToken")
        if not next_token:
            break
    assert len(listed) == len(set(listed)) == len(ids) + claimed, "a claimed device is missing or listed twice"
    assert set(expected) <= set(listed)
    return f"checked in {time.perf_counter() - started:.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    server = start_claimd(CLAIMD_DATABASE_URL=args.database_url)
    try:
        rss_start = rss_kib(server.process.pid)
        login = httpx.post(
            server.base_url + "/api/auth/login",
            json={"username": server.admin_email, "password": server.admin_password},
        ).json()
        admin = httpx.Client(
            base_url=server.base_url, headers={"X-Authorization": f"Bearer {login['token']}"}, timeout=600
        )
        customer = admin.post("/api/customer", json={"title": "bench"}).json()
        user = admin.post(
            "/api/user",
            params={"sendActivationMail": "false"},
            json={"email": "bench@example.com", "authority": "CUSTOMER_USER", "customerId": customer["id"]},
        ).json()
        link = admin.get(f"/api/user/{user['id']['id']}/activationLink").text
        tokens = httpx.post(
            server.base_url + "/api/noauth/activate",
            json={"activateToken": link.split("activateToken=")[1], "password": "bench-pass"},
        ).json()
        client = httpx.Client(
            base_url=server.base_url, headers={"X-Authorization": f"Bearer {tokens['token']}"}, timeout=600
        )

        key = new_private_key()
        pem = public_pem_of(key)
        ids = [uuid.uuid4() for _ in range(args.rows)]
        probe_ids = [uuid.uuid4() for _ in range(PROBES)]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for device_id in ids + probe_ids:
            writer.writerow([str(device_id), pem])
        op_id = admin.post(
            "/v1/device-identities/bulk", content=out.getvalue().encode(), headers={"Content-Type": "text/csv"}
        ).json()["bulkOpsRequestId"]
        del out
        registered, register_s = wait(admin, op_id, "register")
        assert (registered["succeeded"], registered["failed"]) == (args.rows + PROBES, 0), registered

        minted = time.perf_counter()
        claim_csv = "\n".join(mint_token(key, d) for d in ids).encode()
        probe_tokens = [mint_token(key, d) for d in probe_ids]
        mint_s = time.perf_counter() - minted
        rss_before = rss_kib(server.process.pid)
        uploaded = time.perf_counter()
        op_id = client.post("/v1/claimed-devices", content=claim_csv, headers={"Content-Type": "text/csv"}).json()[
            "bulkOpsRequestId"
        ]
        upload_s = time.perf_counter() - uploaded
        rss_uploaded = rss_kib(server.process.pid)
        prober = Prober(server.base_url, tokens["token"], probe_tokens)
        prober.start()
        claimed, claim_s = wait(client, op_id, "claim")
        prober.stop.set()
        prober.join()
        rss_end = rss_kib(server.process.pid)
        assert (claimed["succeeded"], claimed["failed"]) == (args.rows, 0), claimed
        checked = check_report(client, admin, op_id, ids, len(prober.latencies))
        backend = "PostgreSQL" if args.database_url else "SQLite"
        rows = [
            {
                "figure": f"register identities ({backend})",
                "rows": args.rows + PROBES,
                "seconds": round(register_s, 1),
                "rows/s": round((args.rows + PROBES) / register_s),
            },
            {
                "figure": f"upload claim CSV ({len(claim_csv) // 1024} KiB)",
                "rows": args.rows,
                "seconds": round(upload_s, 1),
                "rows/s": round(args.rows / upload_s),
            },
            {
                "figure": f"claim rows ({backend})",
                "rows": args.rows,
                "seconds": round(claim_s, 1),
                "rows/s": round(args.rows / claim_s),
            },
        ]
        lat = sorted(prober.latencies)
        probes = (
            f"{len(lat)} single claims through the API while the job ran: median "
            f"{statistics.median(lat) * 1000:.0f} ms, slowest {lat[-1] * 1000:.0f} ms. "
            if lat
            else ""
        )
        notes = (
            f"Server RSS: {rss_start // 1024} MiB at start, {rss_before // 1024} MiB before the claim upload, "
            f"{rss_uploaded // 1024} MiB after it, {rss_end // 1024} MiB at the end. {probes}"
            f"Minting {args.rows} tokens in this script took {mint_s:.1f} s. Report exact: every row OK with "
            f"its own device, every device claimed once (audit log) and listed once ({checked})."
        )
        write_results(f"bulk_claims_{backend.lower()}", rows, notes)
        print(notes)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
