"""Bulk claim files: rows/s of a registration import and of a claim file, and the server's memory.

    python bench/bulk_claims.py [--rows 100000] [--database-url postgresql+asyncpg://postgres@127.0.0.1/bench]

claimd runs in its own process. The script registers ``rows`` device identities (one shared key,
so that minting stays cheap) through ``POST /v1/device-identities/bulk``, mints one claim token per
device, uploads them as one claim CSV and polls the bulk operation until it ends. It checks that the
report is exact (every row OK, every device listed once) and records the server's RSS before the
upload, after it, and at the end: the upload is streamed, so memory should not grow with the rows.
"""

from __future__ import annotations

import argparse
import csv
import io
import time
import uuid

import httpx
from common import rss_kib, start_claimd, write_results

from claimd.adapters.attestation import mint_token, new_private_key, public_pem_of


def wait(client: httpx.Client, op_id: str) -> tuple[dict, float]:
    start = time.perf_counter()
    while True:
        op = client.get(f"/v1/bulk-ops-requests/{op_id}").json()
        if op["status"] in ("SUCCEEDED", "FAILED"):
            return op, time.perf_counter() - start
        time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    server = start_claimd(CLAIMD_DATABASE_URL=args.database_url)
    try:
        login = httpx.post(server.base_url + "/api/auth/login",
                           json={"username": server.admin_email, "password": server.admin_password}).json()
        admin = httpx.Client(base_url=server.base_url, headers={"X-Authorization": f"Bearer {login['token']}"},
                             timeout=600)
        customer = admin.post("/api/customer", json={"title": "bench"}).json()
        user = admin.post("/api/user", params={"sendActivationMail": "false"}, json={
            "email": "bench@example.com", "authority": "CUSTOMER_USER", "customerId": customer["id"]}).json()
        link = admin.get(f"/api/user/{user['id']['id']}/activationLink").text
        tokens = httpx.post(server.base_url + "/api/noauth/activate",
                            json={"activateToken": link.split("activateToken=")[1], "password": "bench-pass"}).json()
        client = httpx.Client(base_url=server.base_url, headers={"X-Authorization": f"Bearer {tokens['token']}"},
                              timeout=600)

        key = new_private_key()
        pem = public_pem_of(key)
        ids = [uuid.uuid4() for _ in range(args.rows)]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for device_id in ids:
            writer.writerow([str(device_id), pem])
        rss_start = rss_kib(server.process.pid)
        op_id = admin.post("/v1/device-identities/bulk", content=out.getvalue().encode(),
                           headers={"Content-Type": "text/csv"}).json()["bulkOpsRequestId"]
        registered, register_s = wait(admin, op_id)
        assert registered["succeeded"] == args.rows, registered

        minted = time.perf_counter()
        claim_csv = "\n".join(mint_token(key, d) for d in ids).encode()
        mint_s = time.perf_counter() - minted
        rss_before = rss_kib(server.process.pid)
        uploaded = time.perf_counter()
        op_id = client.post("/v1/claimed-devices", content=claim_csv,
                            headers={"Content-Type": "text/csv"}).json()["bulkOpsRequestId"]
        upload_s = time.perf_counter() - uploaded
        rss_uploaded = rss_kib(server.process.pid)
        claimed, claim_s = wait(client, op_id)
        rss_end = rss_kib(server.process.pid)
        assert (claimed["succeeded"], claimed["failed"]) == (args.rows, 0), claimed
        listed = client.get("/v1/claimed-devices", params={"pageLimit": 1}).json()["total"]
        assert listed == args.rows, listed
        backend = "PostgreSQL" if args.database_url else "SQLite"
        rows = [
            {"figure": f"register identities ({backend})", "rows": args.rows, "seconds": round(register_s, 1),
             "rows/s": round(args.rows / register_s)},
            {"figure": f"upload claim CSV ({len(claim_csv) // 1024} KiB)", "rows": args.rows,
             "seconds": round(upload_s, 1), "rows/s": round(args.rows / upload_s)},
            {"figure": f"claim rows ({backend})", "rows": args.rows, "seconds": round(claim_s, 1),
             "rows/s": round(args.rows / claim_s)},
        ]
        notes = (f"Server RSS: {rss_start // 1024} MiB at start, {rss_before // 1024} MiB before the claim upload, "
                 f"{rss_uploaded // 1024} MiB after it, {rss_end // 1024} MiB at the end. "
                 f"Minting {args.rows} tokens in this script took {mint_s:.1f} s. Every row reported OK and "
                 f"every device listed once.")
        write_results(f"bulk_claims_{backend.lower()}", rows, notes)
        print(notes)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
