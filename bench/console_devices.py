"""The console's Devices list at 1,000,000 devices on PostgreSQL (issue 23: a page within 200 ms).

Creates a fresh PostgreSQL database (``CLAIMD_TEST_POSTGRES_URL``'s server, as the tests), starts
``claimd serve`` on it (which migrates it and makes the tenant admin), fills it in SQL with
``INSERT … SELECT generate_series`` (not through the service: minutes instead of hours), then times
``FleetService.browse`` in-process and the HTTP page ``/console/devices`` (signed in, as a browser),
~50 requests each, one at a time, and prints p50/p99 next to the 200 ms target. The database is dropped
at the end.

The fleet: names ``sensor-0000000`` … in four families (sensor, meter, tracker, gateway: by number mod
4); 30% owned by four big customers (claimed), 100 by a fifth, small one; 1% blocked by the tenant; 10%
with one of five tenant tags; 5% with a server-side key (``claimingData``).

    python bench/console_devices.py [--devices 1000000] [--requests 50]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import httpx
from servers import TEST_SECRET, create_pg_database, drop_pg_database, server_problem, start_server

from claimd.bootstrap import build
from claimd.config import Settings
from claimd.domain.device_list import DeviceKind, DeviceQuery, DeviceState

TARGET_MS = 200.0
BIG_CUSTOMERS = 4
TAGS = 5

FILL = """
INSERT INTO devices (id, tenant_id, customer_id, name, type, label, additional_info, token_digest, token_sealed,
                     created_time, claimed_at, claimed_by, claim_restricted, blocked_at, blocked_by)
SELECT gen_random_uuid()::text, CAST(:tenant AS text),
       CASE WHEN i % 10 < 3 THEN (CAST(:customers AS text[]))[1 + (i / 10) % {big}]
            WHEN i % 10000 = 9 THEN CAST(:small AS text) END,
       (ARRAY['sensor', 'meter', 'tracker', 'gateway'])[1 + i % 4] || '-' || lpad(i::text, 7, '0'),
       (ARRAY['default', 'meter', 'tracker', 'gateway'])[1 + i % 4], NULL, '{{}}',
       sha256(('bench-token-' || i)::bytea), 'sealed', CAST(:now AS bigint) - i,
       CASE WHEN i % 10 < 3 THEN CAST(:now AS bigint) - i / 2 END, NULL, false,
       CASE WHEN i / 4 % 100 = 7 THEN CAST(:now AS bigint) END, CASE WHEN i / 4 % 100 = 7 THEN 'TENANT' END
FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS i
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def fill(url: str, tenant: str, customers: list[str], small: str, devices: int) -> float:
    """Fill the fleet in SQL; returns the seconds it took. Four statements run side by side."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url, pool_size=4)
    started = time.perf_counter()
    now = int(time.time() * 1000)
    chunks = 4
    step = -(-devices // chunks)

    async def chunk(first: int, last: int) -> None:
        async with engine.begin() as conn:
            await conn.execute(text("SET LOCAL synchronous_commit = off"))
            params = {"tenant": tenant, "customers": customers, "small": small, "now": now}
            await conn.execute(text(FILL.format(big=BIG_CUSTOMERS)), {**params, "first": first, "last": last})

    await asyncio.gather(*(chunk(n * step, min(devices, (n + 1) * step) - 1) for n in range(chunks)))
    async with engine.begin() as conn:
        for n in range(TAGS):
            await conn.execute(
                text(
                    "INSERT INTO tags (id, tenant_id, scope_id, name, created_time) "
                    "VALUES (:id, :tenant, :tenant, :name, :now)"
                ),
                {"id": str(uuid.uuid4()), "tenant": tenant, "name": f"batch-{n + 1}", "now": now},
            )
        await conn.execute(
            text(
                "INSERT INTO device_tags (tag_id, device_id) "
                "SELECT t.id, d.id FROM devices d JOIN tags t ON t.scope_id = d.tenant_id "
                "AND t.name = 'batch-' || (1 + right(d.name, 7)::int / 40 % :tags) "
                "WHERE right(d.name, 7)::int / 4 % 10 = 5"
            ),
            {"tags": TAGS},
        )
        await conn.execute(
            text(
                "INSERT INTO attributes (device_id, scope, key, value, secret_digest, last_update_ts) "
                "SELECT id, 'SERVER_SCOPE', 'claimingData', "
                '\'{"secretKey": "********", "expirationTime": 4102444800000}\', '
                "sha256(('bench-key-' || id)::bytea), :now FROM devices WHERE right(name, 7)::int / 4 % 20 = 11"
            ),
            {"now": now},
        )
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE devices"))
        await conn.execute(text("VACUUM ANALYZE device_tags"))
        await conn.execute(text("VACUUM ANALYZE attributes"))
        await conn.execute(text("ANALYZE tags"))
    await engine.dispose()
    return time.perf_counter() - started


async def timed(call: Callable[[], Awaitable[Any]], requests: int) -> tuple[float, float]:
    await call()  # warm: the statement cache, the connection
    spent = []
    for _ in range(requests):
        started = time.perf_counter()
        await call()
        spent.append((time.perf_counter() - started) * 1000)
    return statistics.median(spent), percentile(spent, 0.99)


def sign_in(base_url: str) -> httpx.AsyncClient:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        client.get("/login")
        csrf = client.cookies["claimd_csrf"]
        r = client.post("/login", data={"email": "admin@example.com", "password": "admin-password", "csrf_token": csrf})
        assert r.status_code == 303, r.text
        cookies = dict(client.cookies)
    return httpx.AsyncClient(base_url=base_url, timeout=30, cookies=cookies)


async def measure(server: Any, url: str, devices: int, requests: int) -> list[dict[str, Any]]:
    container = await build(Settings(database_url=url, secret=TEST_SECRET, admin_email=None, admin_password=None))
    try:
        access, _refresh = await container.accounts.login("admin@example.com", "admin-password")
        admin = container.tokens.principal(access)
        customers = (await container.directory.list_customers(admin, 0, 10, None, "title", "ASC")).data
        big = next(c for c in customers if c.title == "Customer 1")
        small = next(c for c in customers if c.title == "Small customer")
        middle = (
            await container.fleet.browse(admin, DeviceQuery(name_prefix=f"sensor-{devices // 8 * 4:07d}"), None, 1)
        ).items[0]
        middle_after = (middle.device.name, middle.device.id)
        cases: list[tuple[str, DeviceQuery, Any, dict[str, str]]] = [
            ("first page", DeviceQuery(), None, {}),
            ("a later page (keyset, mid-fleet)", DeviceQuery(), middle_after, {}),
            (
                "name search: prefix tracker-00042",
                DeviceQuery(name_prefix="tracker-00042"),
                None,
                {"q": "tracker-00042"},
            ),
            ("name search: prefix meter-", DeviceQuery(name_prefix="meter-"), None, {"q": "meter-"}),
            ("owner: a big customer (75,000)", DeviceQuery(customer_id=big.id), None, {"owner": str(big.id)}),
            ("owner: a small customer (100)", DeviceQuery(customer_id=small.id), None, {"owner": str(small.id)}),
            ("state: claimed (29%)", DeviceQuery(state=DeviceState.CLAIMED), None, {"state": "claimed"}),
            ("state: blocked (1%)", DeviceQuery(state=DeviceState.BLOCKED), None, {"state": "blocked"}),
            (
                "state: blocked, a later page",
                DeviceQuery(state=DeviceState.BLOCKED),
                middle_after,
                {"state": "blocked"},
            ),
            ("tag: batch-3 (2%)", DeviceQuery(tag="batch-3"), None, {"tag": "batch-3"}),
            ("kind: key (5%)", DeviceQuery(kind=DeviceKind.KEY), None, {"kind": "key"}),
            ("kind: LoRaWAN (none)", DeviceQuery(kind=DeviceKind.LORAWAN), None, {"kind": "lorawan"}),
        ]
        rows = []
        web = sign_in(server.base_url)
        try:
            for name, query, after, params in cases:
                page = await container.fleet.browse(admin, query, after)

                async def service(query: DeviceQuery = query, after: Any = after) -> Any:
                    return await container.fleet.browse(admin, query, after)

                http_params = dict(params)
                if after is not None:
                    http_params.update(after_name=after[0], after_id=str(after[1]))

                async def http(http_params: dict[str, str] = http_params) -> None:
                    r = await web.get("/console/devices", params=http_params)
                    assert r.status_code == 200, r.text[:300]

                s50, s99 = await timed(service, requests)
                h50, h99 = await timed(http, requests)
                met = max(s99, h99) <= TARGET_MS
                rows.append(
                    {
                        "query": name,
                        "rows": len(page.items),
                        "service p50 ms": f"{s50:.1f}",
                        "service p99 ms": f"{s99:.1f}",
                        "page p50 ms": f"{h50:.1f}",
                        "page p99 ms": f"{h99:.1f}",
                        "target": f"≤ {TARGET_MS:.0f} ms",
                        "met": "yes" if met else "**no**",
                    }
                )
                print(
                    f"  {name}: service p50 {s50:.1f} p99 {s99:.1f} · page p50 {h50:.1f} p99 {h99:.1f} ms"
                    f"  {'met' if met else 'NOT MET'}",
                    flush=True,
                )
        finally:
            await web.aclose()
        return rows
    finally:
        await container.close()


def make_customers(server: Any) -> tuple[str, list[str]]:
    """The tenant's id and its customers (four big ones, then the small one), made through the API."""
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        token = client.post(
            "/api/auth/login", json={"username": "admin@example.com", "password": "admin-password"}
        ).json()["token"]
        headers = {"X-Authorization": f"Bearer {token}"}
        titles = [f"Customer {n + 1}" for n in range(BIG_CUSTOMERS)] + ["Small customer"]
        ids = [client.post("/api/customer", json={"title": t}, headers=headers).json()["id"]["id"] for t in titles]
        tenant = client.get("/api/auth/user", headers=headers).json()["tenantId"]["id"]
    return tenant, ids


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    if server_problem("postgres"):
        print(server_problem("postgres"), file=sys.stderr)
        return 2
    name, url = create_pg_database()
    server = None
    try:
        server = start_server(Path(tempfile.mkdtemp(prefix="claimd-bench-")), database_url=url)
        print(f"console devices bench on {common.machine()}: {args.devices:,} devices in {name}", flush=True)
        tenant, customers = make_customers(server)
        seconds = asyncio.run(fill(url, tenant, customers[:BIG_CUSTOMERS], customers[BIG_CUSTOMERS], args.devices))
        print(f"  filled {args.devices:,} devices (+ tags, keys, VACUUM ANALYZE) in {seconds:.1f} s", flush=True)
        rows = asyncio.run(measure(server, url, args.devices, args.requests))
        notes = (
            f"{args.devices:,} devices, filled in {seconds:.1f} s; {args.requests} requests per query, one at a "
            "time, after one warm-up; 'service' is FleetService.browse in-process, 'page' the HTTP page "
            "/console/devices signed in (page of 50, with the owner and tag choices of its form)."
        )
        common.write_results("console_devices", rows, notes)
        return 0 if all(r["met"] == "yes" for r in rows) else 1
    finally:
        if server is not None:
            server.stop()
        drop_pg_database(name)


if __name__ == "__main__":
    sys.exit(main())
