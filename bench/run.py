"""Every claim path of claimd next to this machine's ceiling, measured in the same run.

    python bench/run.py                 # full run, SQLite and PostgreSQL + Redis (< 10 min)
    python bench/run.py --quick         # smoke run: every figure, small counts (< 60 s); no thresholds
    python bench/run.py --backend sqlite|postgres [--out DIR]

claimd runs in its own process (``claimd serve`` with ``CLAIMD_BENCH=true``), once on SQLite and once on
PostgreSQL + Redis; the load comes from ``bench/loadgen.py``, a separate process. For each backend the run
prepares a customer with one user per connection (each logs in once), devices with access tokens, device
identities with P-256 keys and LoRaWAN devices with claim codes, then measures:

* device claim windows over the HTTP device API, MQTT 3.1.1 and 5 (QoS 1) and CoAP — messages/s; the MQTT
  ceiling is the same client load against the machine's Mosquitto;
* REST customer claims of distinct devices at 1, 16 and 64 connections — claims/s, p50, p99; the ceiling is
  ``GET /v1/bench/ping`` (authenticated, trivial) on the same connections, just before;
* claims by signed token (ES256) and by LoRaWAN claim code at 16 connections, against the same ceiling;
* 10,000 idle MQTT device sessions — server RSS per session (Mosquitto's in the same run), connects/s;

and, once, the per-call CPU cost of the claim decision, token parse + verify and TR005 QR parse next to the
primitive each is built on. It prints one table (figure, value, ceiling, ratio, target, met) and writes it
as markdown and JSON to ``bench/results/claims.{md,json}`` (quick runs: a temporary folder unless ``--out``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import importlib.metadata
import json
import os
import platform
import secrets
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import timeit
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from common import RESULTS, machine, rss_kib, start_claimd
from mqtt_idle import measure as measure_idle
from mqtt_idle import mosquitto_pid
from servers import (
    POSTGRES_ADMIN_URL,
    REDIS_URL,
    LiveServer,
    create_pg_database,
    drop_pg_database,
    server_problem,
)

from claimd.adapters.attestation import Es256IdentityKeys, mint_token, new_private_key, public_pem_of, sign_es256

LOADGEN = Path(__file__).resolve().parent / "loadgen.py"
PASSWORD = "bench-password-1"
WINDOW = json.dumps({"secretKey": "bench-secret", "durationMs": 3_600_000})


@dataclass(frozen=True)
class Sizes:
    claim_points: tuple[tuple[int, int], ...]  # (connections, claims)
    ceiling_factor: int  # pings per claim at the same point
    http_windows_conns: int
    mqtt: tuple[int, int]  # (clients, messages each)
    coap: tuple[int, int]  # (sockets, messages each)
    token_claims: int
    lorawan_claims: int
    idle_sessions: int
    per_call_loops: int


FULL = Sizes(((1, 300), (16, 2_000), (64, 2_000)), 2, 16, (16, 250), (16, 100), 1_500, 1_500, 10_000, 2_000)
QUICK = Sizes(((1, 30), (16, 160), (64, 192)), 1, 16, (4, 20), (4, 10), 80, 80, 300, 50)
TARGET_CONNS = 16


@dataclass
class Row:
    figure: str
    backend: str
    value: float
    unit: str
    ceiling: float | None = None
    ceiling_name: str = ""
    target: str = ""
    met: bool | None = None
    errors: int = 0
    note: str = ""
    cpu_us: int | None = None  # the server's CPU time per message or claim

    @property
    def ratio(self) -> float | None:
        return round(self.value / self.ceiling, 3) if self.ceiling else None


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        mark = "" if row.met is None else ("  met" if row.met else "  NOT MET")
        ceiling = f" (ceiling {row.ceiling:g} {row.unit}, ratio {row.ratio})" if row.ceiling else ""
        errors = f"  {row.errors} ERRORS" if row.errors else ""
        print(f"  {row.backend:>10} · {row.figure}: {row.value:g} {row.unit}{ceiling}{mark}{errors}", flush=True)
        return row


# the load generator process --------------------------------------------------------------------


def reachable(host: str, port: int) -> bool:
    """Whether something listens on ``host:port`` (the machine's Mosquitto, for the MQTT ceilings)."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(spec: dict, pid: int | None = None) -> dict:
    """Run the load generator on ``spec``; with ``pid``, also the CPU that process spent per message."""
    cpu = cpu_seconds(pid) if pid else 0.0
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(LOADGEN), f.name, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        out, err = await proc.communicate()
    finally:
        os.unlink(f.name)
    if proc.returncode != 0:
        raise RuntimeError(f"loadgen failed ({spec['kind']}): {err.decode()[-2000:]}")
    result = json.loads(out)
    if pid and result["count"]:
        result["server_cpu_us"] = round((cpu_seconds(pid) - cpu) / result["count"] * 1e6)
    if result["errors"]:
        print(f"    {result['errors']} errors, e.g. {result['error_sample']}", flush=True)
    return result


def post(path: str, body: str, headers: str = "Content-Type: application/json") -> str:
    return f"POST {path} HTTP/1.1\r\n{headers}\r\n\r\n{body}"


# preparing a server ----------------------------------------------------------------------------


@dataclass
class Fleet:
    user_headers: list[str]  # "X-Authorization: Bearer …", one per customer user (= per connection)
    devices: list[tuple[str, str]]  # (name, access token) for REST claims, windows opened by the HTTP figure
    window_devices: list[str]  # access tokens of devices that only send windows (MQTT, CoAP)
    claim_tokens: list[str]
    lorawan: list[tuple[str, str, str]]  # (join_eui, dev_eui, code)


async def gather_limited(coros: list, limit: int = 16) -> list:
    gate = asyncio.Semaphore(limit)

    async def one(coro):
        async with gate:
            return await coro

    return await asyncio.gather(*(one(c) for c in coros))


def ok(r: httpx.Response) -> dict:
    if r.status_code >= 300:
        raise RuntimeError(f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text[:300]}")
    return r.json() if r.content else {}


async def prepare(server: LiveServer, sizes: Sizes, run_id: str) -> Fleet:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=120) as http:
        admin_token = ok(
            await http.post("/api/auth/login", json={"username": server.admin_email, "password": server.admin_password})
        )["token"]
        admin = {"X-Authorization": f"Bearer {admin_token}"}
        customer = ok(await http.post("/api/customer", json={"title": f"bench {run_id}"}, headers=admin))
        users = max(conns for conns, _ in sizes.claim_points)

        async def user(i: int) -> str:
            email = f"bench-{run_id}-{i}@example.com"
            created = ok(
                await http.post(
                    "/api/user",
                    params={"sendActivationMail": "false"},
                    headers=admin,
                    json={
                        "email": email,
                        "authority": "CUSTOMER_USER",
                        "customerId": {"entityType": "CUSTOMER", "id": customer["id"]["id"]},
                    },
                )
            )
            link = await http.get(f"/api/user/{created['id']['id']}/activationLink", headers=admin)
            ok(
                await http.post(
                    "/api/noauth/activate",
                    json={"activateToken": link.text.split("activateToken=")[1], "password": PASSWORD},
                )
            )
            token = ok(await http.post("/api/auth/login", json={"username": email, "password": PASSWORD}))["token"]
            return f"X-Authorization: Bearer {token}"

        user_headers = await gather_limited([user(i) for i in range(users)], 4)

        claims = sum(n for _, n in sizes.claim_points)
        windows = max(sizes.mqtt[0], sizes.coap[0])

        async def device(name: str) -> tuple[str, str]:
            token = f"{name}-{secrets.token_hex(6)}"
            ok(await http.post("/api/device", params={"accessToken": token}, json={"name": name}, headers=admin))
            return name, token

        made = await gather_limited([device(f"bench-{run_id}-{i}") for i in range(claims + windows)])
        devices, window_devices = made[:claims], [token for _, token in made[claims:]]

        keys = [
            new_private_key() for _ in range(min(sizes.token_claims, 50))
        ]  # a few keys, shared: minting stays cheap
        ids = [uuid.uuid4() for _ in range(sizes.token_claims)]
        await gather_limited(
            [
                http.post(
                    "/v1/device-identities",
                    headers=admin,
                    json={"id": str(device_id), "publicKey": public_pem_of(keys[i % len(keys)])},
                )
                for i, device_id in enumerate(ids)
            ]
        )
        claim_tokens = [mint_token(keys[i % len(keys)], device_id) for i, device_id in enumerate(ids)]

        lorawan = [
            (
                "70B3D57ED0000000",
                f"{0xBE00000000000000 + i + int(run_id, 16) * 1_000_000:016X}",
                secrets.token_hex(4).upper(),
            )
            for i in range(sizes.lorawan_claims)
        ]
        csv_text = "join_eui,dev_eui,claim_authentication_code\n" + "".join(f"{j},{d},{c}\n" for j, d, c in lorawan)
        imported = await http.post(
            "/v1/lorawan-devices/import", content=csv_text, headers={**admin, "Content-Type": "text/csv"}
        )
        rows = [json.loads(line) for line in imported.text.splitlines() if line.strip()]
        rows = [row for row in rows if "row" in row]  # the last line is a summary
        if imported.status_code != 200 or len(rows) != len(lorawan) or any(row["status"] != "OK" for row in rows):
            raise RuntimeError(f"LoRaWAN import: {imported.status_code} {imported.text[:500]}")
    return Fleet(user_headers, devices, window_devices, claim_tokens, lorawan)


# figures ---------------------------------------------------------------------------------------


async def device_windows(report: Report, backend: str, server: LiveServer, fleet: Fleet, sizes: Sizes) -> None:
    r = await load(
        {
            "kind": "http",
            "port": port_of(server),
            "connections": sizes.http_windows_conns,
            "requests": [post(f"/api/v1/{token}/claim", WINDOW) for _, token in fleet.devices],
        },
        server.process.pid,
    )
    report.add(
        Row(
            "device windows · HTTP device API",
            backend,
            r["rate"],
            "msg/s",
            errors=r["errors"],
            cpu_us=r.get("server_cpu_us"),
            note=f"{r['count']} windows on distinct devices, {sizes.http_windows_conns} connections, "
            f"p99 {r['p99_ms']} ms",
        )
    )
    clients, messages = sizes.mqtt
    for version, label in ((4, "MQTT 3.1.1"), (5, "MQTT 5")):
        spec = {
            "kind": "mqtt",
            "version": version,
            "messages": messages,
            "topic": "v1/devices/me/claim",
            "payload": WINDOW,
            "inflight": 20,
        }
        mosquitto = (
            await load({**spec, "port": 1883, "clients": [f"bench-{i}" for i in range(clients)]}, mosquitto_pid())
            if reachable("127.0.0.1", 1883)
            else None
        )
        r = await load(
            {**spec, "port": server.mqtt_port, "clients": fleet.window_devices[:clients]}, server.process.pid
        )
        report.add(
            Row(
                f"device windows · {label} QoS 1",
                backend,
                r["rate"],
                "msg/s",
                mosquitto and mosquitto["rate"],
                "Mosquitto, same load",
                "≥ 50% of Mosquitto",
                None if mosquitto is None else r["rate"] >= 0.5 * mosquitto["rate"],
                r["errors"],
                f"{clients} devices × {messages} messages, 20 in flight each, p99 {r['p99_ms']} ms"
                + (f"; Mosquitto CPU {mosquitto.get('server_cpu_us')} µs/msg" if mosquitto else ""),
                cpu_us=r.get("server_cpu_us"),
            )
        )
    sockets, messages = sizes.coap
    r = await load(
        {
            "kind": "coap",
            "port": server.coap_port,
            "messages": messages,
            "payload": WINDOW,
            "paths": [f"/api/v1/{token}/claim" for token in fleet.window_devices[:sockets]],
        },
        server.process.pid,
    )
    report.add(
        Row(
            "device windows · CoAP",
            backend,
            r["rate"],
            "msg/s",
            errors=r["errors"],
            cpu_us=r.get("server_cpu_us"),
            note=f"{sockets} devices × {messages} confirmable POSTs, one outstanding each, p99 {r['p99_ms']} ms",
        )
    )


def port_of(server: LiveServer) -> int:
    return int(server.base_url.rsplit(":", 1)[1])


async def ceiling(server: LiveServer, fleet: Fleet, conns: int, total: int) -> dict:
    return await load(
        {
            "kind": "http",
            "port": port_of(server),
            "connections": conns,
            "total": total,
            "requests": ["GET /v1/bench/ping HTTP/1.1\r\n\r\n"],
            "conn_headers": fleet.user_headers[:conns],
        },
        server.process.pid,
    )


async def rest_claims(report: Report, backend: str, server: LiveServer, fleet: Fleet, sizes: Sizes) -> dict:
    ceilings = {}
    start = 0
    for conns, n in sizes.claim_points:
        top = ceilings[conns] = await ceiling(server, fleet, conns, n * sizes.ceiling_factor)
        batch = fleet.devices[start : start + n]
        start += n
        r = await load(
            {
                "kind": "http",
                "port": port_of(server),
                "connections": conns,
                "expect": [200],
                "body_marker": '"SUCCESS"',
                "conn_headers": fleet.user_headers[:conns],
                "requests": [
                    post(f"/api/customer/device/{name}/claim", '{"secretKey": "bench-secret"}') for name, _ in batch
                ],
            },
            server.process.pid,
        )
        targeted = conns == TARGET_CONNS and backend == "postgresql"
        label = f"REST claims · {conns} conn{'s' if conns > 1 else ''}"
        report.add(
            Row(
                f"{label} · throughput",
                backend,
                r["rate"],
                "claims/s",
                top["rate"],
                "ping, same conns",
                "≥ 40% of ceiling" if targeted else "",
                r["rate"] >= 0.4 * top["rate"] if targeted else None,
                r["errors"],
                f"{r['count']} distinct devices; ping CPU {top.get('server_cpu_us')} µs",
                r.get("server_cpu_us"),
            )
        )
        report.add(Row(f"{label} · p50", backend, r["p50_ms"], "ms", top["p50_ms"], "ping p50"))
        report.add(
            Row(
                f"{label} · p99",
                backend,
                r["p99_ms"],
                "ms",
                top["p99_ms"],
                "ping p99",
                "≤ 25 ms" if targeted else "",
                r["p99_ms"] <= 25 if targeted else None,
            )
        )
    return ceilings[max(c for c, _ in sizes.claim_points if c <= TARGET_CONNS)]


async def token_and_code_claims(report: Report, backend: str, server: LiveServer, fleet: Fleet, top: dict) -> None:
    conns = min(TARGET_CONNS, len(fleet.user_headers))
    r = await load(
        {
            "kind": "http",
            "port": port_of(server),
            "connections": conns,
            "expect": [201],
            "conn_headers": fleet.user_headers[:conns],
            "requests": [post("/v1/claimed-devices", json.dumps({"claimToken": t})) for t in fleet.claim_tokens],
        },
        server.process.pid,
    )
    report.add(
        Row(
            f"token claims (ES256) · {conns} conns",
            backend,
            r["rate"],
            "claims/s",
            top["rate"],
            "ping, same conns",
            errors=r["errors"],
            cpu_us=r.get("server_cpu_us"),
            note=f"p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms",
        )
    )
    bodies = [
        json.dumps(
            {
                "authenticated_identifiers": {"join_eui": j, "dev_eui": d, "authentication_code": c},
                "target_application_ids": {"application_id": "bench"},
            }
        )
        for j, d, c in fleet.lorawan
    ]
    r = await load(
        {
            "kind": "http",
            "port": port_of(server),
            "connections": conns,
            "expect": [200],
            "conn_headers": fleet.user_headers[:conns],
            "requests": [post("/api/v3/edcs/claim", body) for body in bodies],
        },
        server.process.pid,
    )
    report.add(
        Row(
            f"LoRaWAN claims (claim code) · {conns} conns",
            backend,
            r["rate"],
            "claims/s",
            top["rate"],
            "ping, same conns",
            errors=r["errors"],
            cpu_us=r.get("server_cpu_us"),
            note=f"p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms",
        )
    )


async def idle_sessions(
    report: Report, backend: str, server: LiveServer, fleet: Fleet, sizes: Sizes, mosquitto: dict | None
) -> None:
    row = await measure_idle(server.process.pid, server.mqtt_port, sizes.idle_sessions, fleet.window_devices[0])
    report.add(
        Row(
            f"idle MQTT sessions ({sizes.idle_sessions:,}) · memory",
            backend,
            row["kib_per_session"],
            "KiB/session",
            mosquitto and mosquitto["kib_per_session"],
            "Mosquitto, same sessions",
            "≤ 20 KiB",
            row["kib_per_session"] <= 20,
            note=f"RSS {row['rss_before_kib']} → {row['rss_after_kib']} KiB",
        )
    )
    report.add(
        Row(
            f"idle MQTT sessions ({sizes.idle_sessions:,}) · connects",
            backend,
            row["connects_per_s"],
            "connects/s",
            mosquitto and mosquitto["connects_per_s"],
            "Mosquitto, same sessions",
        )
    )


# per-call costs --------------------------------------------------------------------------------


def per_call(report: Report, loops: int) -> None:
    from claimd.adapters.crypto import HmacSecretHasher
    from claimd.domain.attestation import parse_claim_token
    from claimd.domain.claiming import ClaimData, check_proof, decide_claim
    from claimd.domain.lorawan_qr import format_tr005, parse_qr
    from claimd.services.claiming import claim_digest

    def cost(fn) -> float:
        fn()
        return min(timeit.repeat(fn, number=loops, repeat=5)) / loops * 1e6

    hasher = HmacSecretHasher(secrets.token_bytes(32))
    device_id = uuid.uuid4()
    data = ClaimData(claim_digest(hasher, device_id, "bench-secret"), int(time.time() * 1000) + 60_000)
    now = int(time.time() * 1000)
    key64 = secrets.token_bytes(32)
    hmac_us = cost(lambda: hmac.new(key64, b"x" * 64, "sha256").digest())
    decision = cost(
        lambda: decide_claim(check_proof(data, claim_digest(hasher, device_id, "bench-secret"), now), False)
    )
    report.add(
        Row(
            "per call · claim decision (digest + check + decide)",
            "—",
            round(decision, 2),
            "µs",
            round(hmac_us, 2),
            "HMAC-SHA256 of 64 bytes",
        )
    )

    private = new_private_key()
    keys = Es256IdentityKeys()
    der = keys.normalize(public_pem_of(private))
    text = mint_token(private, device_id)
    token = parse_claim_token(text)
    raw_signature = sign_es256(private, b"x" * 64)
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    public = private.public_key()
    der_signature = encode_dss_signature(int.from_bytes(raw_signature[:32]), int.from_bytes(raw_signature[32:]))
    es256_us = cost(lambda: public.verify(der_signature, b"x" * 64, ec.ECDSA(hashes.SHA256())))
    assert keys.verify(der, token)
    verify = cost(lambda: keys.verify(der, parse_claim_token(text)))
    report.add(
        Row(
            "per call · claim token parse + ES256 verify",
            "—",
            round(verify, 2),
            "µs",
            round(es256_us, 2),
            "ES256 verify alone",
        )
    )

    qr = format_tr005("70B3D57ED0000000", "0004A310001AAED6", owner_token="C05EA29C", serial="SN-0001")
    tr005 = cost(lambda: parse_qr(qr))
    report.add(Row("per call · TR005 QR parse", "—", round(tr005, 2), "µs", note=qr))


# the run ---------------------------------------------------------------------------------------


async def run_backend(report: Report, backend: str, sizes: Sizes, mosquitto_idle: dict | None) -> dict:
    database = redis = pg_name = None
    if backend == "postgresql":
        pg_name, database = await asyncio.to_thread(create_pg_database)
        redis = REDIS_URL
    server = start_claimd(
        CLAIMD_BENCH="true",
        CLAIMD_LOG_LEVEL="warning",
        CLAIMD_DATABASE_URL=database,
        CLAIMD_REDIS_URL=redis,
        CLAIMD_REDIS_PREFIX=f"claimd-bench-{secrets.token_hex(4)}",
    )
    try:
        started = time.perf_counter()
        fleet = await prepare(server, sizes, f"{secrets.randbits(20):05x}")
        print(f"  {backend:>10} · prepared in {time.perf_counter() - started:.1f} s", flush=True)
        await device_windows(report, backend, server, fleet, sizes)
        top = await rest_claims(report, backend, server, fleet, sizes)
        await token_and_code_claims(report, backend, server, fleet, top)
        await idle_sessions(report, backend, server, fleet, sizes, mosquitto_idle)
        return {
            "settings": {
                k: v
                for k, v in server.env.items()
                if k.startswith("CLAIMD_") and not k.endswith(("_SECRET", "_PASSWORD"))  # no secret in a report
            },
            "rss_kib_at_end": rss_kib(server.process.pid),
        }
    finally:
        server.stop()
        if pg_name:
            await asyncio.to_thread(drop_pg_database, pg_name)


def versions() -> dict:
    packages = [
        "fastapi",
        "starlette",
        "uvicorn",
        "uvloop",
        "httptools",
        "pydantic",
        "sqlalchemy",
        "asyncpg",
        "aiosqlite",
        "redis",
        "cryptography",
        "pyjwt",
        "aiocoap",
    ]
    found = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version}
    for name in packages:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[name] = importlib.metadata.version(name)
    found["claimd"] = importlib.metadata.version("claimd")
    for label, command in (
        ("postgresql", ["psql", POSTGRES_ADMIN_URL, "-Atc", "SHOW server_version"]),
        ("redis-server", ["redis-cli", "INFO", "server"]),
        ("mosquitto", ["mosquitto", "-h"]),
    ):
        try:
            out = subprocess.run(command, capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.TimeoutExpired):
            continue
        if label == "redis-server":
            out = next((line.split(":", 1)[1] for line in out.splitlines() if line.startswith("redis_version")), "")
        elif label == "mosquitto":
            out = out.splitlines()[0].split(" version ")[-1].split(" ")[0] if out else ""
        if out.strip():
            found[label] = out.strip()
    return found


def fmt(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:g}"


def table(rows: list[Row]) -> str:
    lines = [
        "| figure | backend | value | ceiling | ratio | target | met | server CPU per op |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ceiling = f"{fmt(r.ceiling)} ({r.ceiling_name})" if r.ceiling else ""
        met = "" if r.met is None else ("yes" if r.met else "**no**")
        errors = f" · **{r.errors} errors**" if r.errors else ""
        lines.append(
            f"| {r.figure} | {r.backend} | {fmt(r.value)} {r.unit}{errors} | {ceiling} | "
            f"{'' if r.ratio is None else f'{r.ratio:.2f}'} | {r.target} | {met} | "
            f"{'' if r.cpu_us is None else f'{r.cpu_us:,} µs'} |"
        )
    return "\n".join(lines)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke test of the benchmark (< 60 s)")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "all"], default="all")
    parser.add_argument(
        "--out",
        type=Path,
        help="folder for claims.md and claims.json [default: bench/results, or a temporary folder with --quick]",
    )
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    out = args.out or (Path(tempfile.mkdtemp(prefix="claimd-bench-")) if args.quick else RESULTS)
    backends = (
        ["sqlite", "postgresql"]
        if args.backend == "all"
        else ["postgresql" if args.backend == "postgres" else "sqlite"]
    )
    if "postgresql" in backends and (server_problem("postgres") or server_problem("redis")):
        print("PostgreSQL or Redis is not reachable on 127.0.0.1: run with --backend sqlite", file=sys.stderr)
        return 2
    started = time.perf_counter()
    report = Report()
    print(f"claimd bench ({'quick' if args.quick else 'full'}) on {machine()}", flush=True)
    per_call(report, sizes.per_call_loops)
    mosquitto_idle = None
    pid = mosquitto_pid()
    if pid is not None and reachable("127.0.0.1", 1883):
        mosquitto_idle = await measure_idle(pid, 1883, sizes.idle_sessions, "bench")
    settings = {}
    for backend in backends:
        settings[backend] = await run_backend(report, backend, sizes, mosquitto_idle)
    seconds = time.perf_counter() - started
    errors = sum(r.errors for r in report.rows)
    text = table(report.rows)
    found = versions()
    about = (
        f"Machine: {machine()}.  \nVersions: "
        + ", ".join(f"{k} {v}" for k, v in found.items())
        + f".  \nRun: {'quick' if args.quick else 'full'}, {seconds:.0f} s, "
        f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC; the load generator shares the machine's cores.  \n"
        "Settings: "
        + "; ".join(
            f"{b}: "
            + ", ".join(
                f"{k}={v}"
                for k, v in s["settings"].items()
                if k not in ("CLAIMD_HTTP_PORT", "CLAIMD_MQTT_PORT", "CLAIMD_COAP_PORT")
            )
            for b, s in settings.items()
        )
    )
    notes = "\n".join(f"- {r.backend} · {r.figure}: {r.note}" for r in report.rows if r.note)
    print("\n" + text + "\n\n" + about)
    out.mkdir(parents=True, exist_ok=True)
    (out / "claims.md").write_text(f"# claimd: claim paths next to their ceilings\n\n{text}\n\n{about}\n\n{notes}\n")
    (out / "claims.json").write_text(
        json.dumps(
            {
                "machine": machine(),
                "versions": found,
                "mode": "quick" if args.quick else "full",
                "seconds": round(seconds, 1),
                "settings": settings,
                "rows": [{**r.__dict__, "ratio": r.ratio} for r in report.rows],
            },
            indent=2,
        )
    )
    print(f"\nwritten: {out / 'claims.md'} and claims.json ({seconds:.0f} s)")
    if errors:
        print(f"{errors} requests failed: the figures above are not clean", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
