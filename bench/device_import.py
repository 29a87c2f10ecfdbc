"""Fleet imports: rows/s of ``POST /v1/devices/bulk`` next to ``COPY`` of the same rows, the server's
memory, and single claims during an import next to the same claims idle.

    python bench/device_import.py [--rows 1000000] [--sqlite-rows 200000] [--probes 200]

For each backend (PostgreSQL: a fresh database of ``CLAIMD_TEST_POSTGRES_URL``'s server, dropped at the
end; SQLite: a fresh file) claimd runs in its own process. The script

1. imports ``--probes`` × 2 devices with generated claim keys and takes their result file;
2. claims half of them one at a time through the REST API (``POST /api/customer/device/{name}/claim``
   with the key), idle, timing each claim;
3. imports ``--rows`` devices with generated claim keys (CSV ``name,claim_key``, streamed), timing
   from the first byte sent to the job's end, sampling the server's RSS every 0.1 s, while a thread
   claims the other half one at a time and times each;
4. checks the report: every row succeeded, the result file has one line per row with a distinct key;
5. PostgreSQL only, the ceiling: asyncpg ``copy_records_to_table`` of the same rows, as the devices
   table holds them (id, tenant, name, type, digest, sealed token, claim attribute's value and digest:
   everything the import writes but its result file), into bare tables of the same columns in the
   same database, from a generator, timed the same way.

It prints and keeps (``results/device_import.*``) rows/s, the ratio to COPY, the RSS growth of the
server and its worker process, and the claims' p50/p99 idle and during the import.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
from common import rss_kib, start_claimd, write_results
from servers import create_pg_database, drop_pg_database

PROBE_EVERY_S = 0.05


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def login(base_url: str, email: str, password: str) -> httpx.Client:
    token = httpx.post(base_url + "/api/auth/login", json={"username": email, "password": password}).json()["token"]
    return httpx.Client(base_url=base_url, headers={"X-Authorization": f"Bearer {token}"}, timeout=3600)


def customer_user(admin: httpx.Client) -> httpx.Client:
    customer = admin.post("/api/customer", json={"title": f"bench-{uuid.uuid4().hex[:6]}"}).json()
    email = f"bench-{uuid.uuid4().hex[:6]}@example.com"
    user = admin.post(
        "/api/user",
        params={"sendActivationMail": "false"},
        json={"email": email, "authority": "CUSTOMER_USER", "customerId": customer["id"]},
    ).json()
    link = admin.get(f"/api/user/{user['id']['id']}/activationLink").text
    httpx.post(
        str(admin.base_url) + "/api/noauth/activate",
        json={"activateToken": link.split("activateToken=")[1], "password": "bench-pass"},
    )
    return login(str(admin.base_url), email, "bench-pass")


def csv_body(prefix: str, rows: int) -> Iterator[bytes]:
    yield b"name,claim_key\n"
    batch = 10_000
    for start in range(0, rows, batch):
        yield "".join(f"{prefix}-{i},generate\n" for i in range(start, min(rows, start + batch))).encode()


def run_import(admin: httpx.Client, prefix: str, rows: int) -> tuple[str, float]:
    """Upload and wait; the job's id and its seconds from the first byte to its end."""
    started = time.perf_counter()
    r = admin.post("/v1/devices/bulk", content=csv_body(prefix, rows), headers={"Content-Type": "text/csv"})
    assert r.status_code == 202, r.text
    op_id = r.json()["bulkOpsRequestId"]
    last_print = started
    while True:
        op = admin.get(f"/v1/bulk-ops-requests/{op_id}").json()
        now = time.perf_counter()
        if op["status"] in ("SUCCEEDED", "FAILED"):
            assert (op["succeeded"], op["failed"]) == (rows, 0), op
            return op_id, now - started
        if now - last_print >= 10:
            done = op["succeeded"] + op["failed"]
            print(f"  import: {done:,}/{op['total']:,} rows after {now - started:.0f} s", flush=True)
            last_print = now
        time.sleep(0.1)


def results(admin: httpx.Client, op_id: str) -> list[dict]:
    r = admin.get(f"/v1/bulk-ops-requests/{op_id}/results.json")
    assert r.status_code == 200, r.text
    return [json.loads(line) for line in r.text.splitlines()]


def claim_each(user: httpx.Client, devices: list[dict], stop: threading.Event | None = None) -> list[float]:
    latencies = []
    for device in devices:
        if stop is not None and stop.is_set():
            break
        started = time.perf_counter()
        r = user.post(f"/api/customer/device/{device['name']}/claim", json={"secretKey": device["claimKey"]})
        latencies.append(time.perf_counter() - started)
        assert r.status_code == 200, r.text
        if stop is not None:
            time.sleep(PROBE_EVERY_S)
    return latencies


def rss_with_children(pid: int) -> int:
    """KiB of the server and its child processes (the import's worker process)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    total = rss_kib(pid)
    for child in children:
        with contextlib.suppress(OSError, RuntimeError):
            total += rss_kib(int(child))
    return total


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, rss_with_children(pid), threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.1):
            self.peak = max(self.peak, rss_with_children(self.pid))


async def copy_ceiling(dsn: str, rows: int) -> float:
    """Seconds to COPY ``rows`` devices as the import stores them (the device row and its claim key's
    attribute row) into bare tables of the same columns."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TABLE bench_devices (id varchar(36), tenant_id varchar(36), customer_id varchar(36), "
            "name varchar(255), type varchar(255), label varchar(255), additional_info text, token_digest bytea, "
            "token_sealed text, created_time bigint, claim_restricted boolean);"
            "CREATE TABLE bench_attributes (device_id varchar(36), scope varchar(16), key varchar(255), "
            "value text, secret_digest bytea, last_update_ts bigint)"
        )
        tenant = str(uuid.uuid4())
        digest, sealed = os.urandom(32), "A" * 64
        value = '{"secretKey": "***", "expirationTime": 4611686018427387904}'
        ids = [str(uuid.uuid4()) for _ in range(rows)]
        now = int(time.time() * 1000)
        started = time.perf_counter()
        await conn.copy_records_to_table(
            "bench_devices",
            records=(
                (i, tenant, None, f"d-{n}", "default", None, "{}", digest, sealed, now, False)
                for n, i in enumerate(ids)
            ),
        )
        await conn.copy_records_to_table(
            "bench_attributes", records=((i, "SERVER_SCOPE", "claimingData", value, digest, now) for i in ids)
        )
        return time.perf_counter() - started
    finally:
        await conn.execute("DROP TABLE IF EXISTS bench_devices; DROP TABLE IF EXISTS bench_attributes")
        await conn.close()


def bench_backend(label: str, database_url: str | None, rows: int, probes: int) -> dict:
    server = start_claimd(CLAIMD_DATABASE_URL=database_url)
    try:
        admin = login(server.base_url, server.admin_email, server.admin_password)
        user = customer_user(admin)
        probe_op, _ = run_import(admin, "probe", probes * 2)
        devices = results(admin, probe_op)
        idle = claim_each(user, devices[:probes])
        rss_start = rss_with_children(server.process.pid)  # the worker process started with the probes' import
        sampler = RssSampler(server.process.pid)
        sampler.start()
        stop = threading.Event()
        during: list[float] = []
        prober = threading.Thread(target=lambda: during.extend(claim_each(user, devices[probes:], stop)), daemon=True)
        prober.start()
        op_id, seconds = run_import(admin, "dev", rows)
        stop.set()
        prober.join()
        sampler.stop.set()
        sampler.join()
        count, keys = 0, set()
        with admin.stream("GET", f"/v1/bulk-ops-requests/{op_id}/results.json") as answer:
            for line in answer.iter_lines():
                count += 1
                keys.add(json.loads(line)["claimKey"])
        assert count == len(keys) == rows, (count, len(keys))
        return {
            "backend": label,
            "rows": rows,
            "seconds": round(seconds, 1),
            "rows/s": round(rows / seconds),
            "RSS growth MiB": round((sampler.peak - rss_start) / 1024),
            "claim p50/p99 idle ms": f"{statistics.median(idle) * 1000:.1f} / {percentile(idle, 0.99) * 1000:.1f}",
            "claim p50/p99 importing ms": (
                f"{statistics.median(during) * 1000:.1f} / {percentile(during, 0.99) * 1000:.1f} ({len(during)})"
                if during
                else "-"
            ),
            "p99 ratio": round(percentile(during, 0.99) / percentile(idle, 0.99), 2) if during else "-",
        }
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the PostgreSQL import")
    parser.add_argument("--sqlite-rows", type=int, default=200_000, help="rows of the SQLite import (0: skip)")
    parser.add_argument("--probes", type=int, default=200, help="single claims idle, and again during the import")
    args = parser.parse_args()
    out = []
    name, url = create_pg_database()
    try:
        row = bench_backend("PostgreSQL", url, args.rows, args.probes)
        dsn = url.replace("postgresql+asyncpg://", "postgresql://")
        copy_s = asyncio.run(copy_ceiling(dsn, args.rows))
        row["COPY rows/s"] = round(args.rows / copy_s)
        row["vs COPY"] = f"{row['rows/s'] / row['COPY rows/s']:.0%}"
        out.append(row)
    finally:
        drop_pg_database(name)
    if args.sqlite_rows:
        row = bench_backend("SQLite", None, args.sqlite_rows, args.probes)
        row["COPY rows/s"] = "-"
        row["vs COPY"] = "-"
        out.append(row)
    write_results(
        "device_import",
        out,
        "Targets: PostgreSQL ≥ 30% of COPY with RSS growth ≤ 100 MiB; SQLite ≥ 20,000 rows/s; claim p99 during "
        "an import ≤ 2× idle. Rows/s from the first byte uploaded to the job's end.",
    )


if __name__ == "__main__":
    main()
