"""Idle MQTT device sessions: memory per session and connects/s, claimd next to Mosquitto.

    python bench/mqtt_idle.py [--sessions 10000]

claimd runs in its own process (SQLite); this script is the load generator. Each session is an
MQTT 3.1.1 CONNECT with the device's access token and a 10-minute keep-alive, then silence. Memory
per session is the server's RSS growth divided by the sessions held. The same load against the
machine's Mosquitto (127.0.0.1:1883), when one runs, is the reference in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import time

import httpx
from common import rss_kib, start_claimd, write_results

from claimd.entrypoints.mqtt.v311 import encode_connect

TARGET_KIB = 20.0


async def hold_sessions(port: int, n: int, username: str, concurrency: int = 200) -> tuple[list, float]:
    writers: list[asyncio.StreamWriter] = []
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(encode_connect(f"bench-{i}", username=username, keep_alive=600))
            connack = await reader.readexactly(4)
            if connack[3] != 0:
                raise RuntimeError(f"CONNACK refused: {connack.hex()}")
            writers.append(writer)

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return writers, n / (time.perf_counter() - start)


async def measure(pid: int, port: int, n: int, username: str) -> dict:
    before = rss_kib(pid)
    writers, rate = await hold_sessions(port, n, username)
    await asyncio.sleep(2)
    after = rss_kib(pid)
    for w in writers:
        w.close()
    return {
        "sessions": n,
        "rss_before_kib": before,
        "rss_after_kib": after,
        "kib_per_session": round((after - before) / n, 2),
        "connects_per_s": round(rate),
    }


def mosquitto_pid() -> int | None:
    try:
        return int(subprocess.run(["pidof", "mosquitto"], capture_output=True, text=True).stdout.split()[0])
    except (IndexError, ValueError, FileNotFoundError):
        return None


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=10_000)
    args = parser.parse_args()
    server = start_claimd(CLAIMD_LOG_LEVEL="error")
    try:
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            token = (
                await http.post(
                    "/api/auth/login", json={"username": server.admin_email, "password": server.admin_password}
                )
            ).json()["token"]
            (
                await http.post(
                    "/api/device?accessToken=bench-idle",
                    json={"name": "bench idle"},
                    headers={"X-Authorization": f"Bearer {token}"},
                )
            ).raise_for_status()
        claimd_row = await measure(server.process.pid, server.mqtt_port, args.sessions, "bench-idle")
    finally:
        server.stop()
    rows = [
        {
            "server": "claimd",
            **claimd_row,
            "target_kib": TARGET_KIB,
            "met": "yes" if claimd_row["kib_per_session"] <= TARGET_KIB else "no",
        }
    ]
    pid = mosquitto_pid()
    if pid is not None:
        try:
            mosquitto_row = await measure(pid, 1883, args.sessions, "bench")
            rows.append({"server": "mosquitto (reference)", **mosquitto_row, "target_kib": "", "met": ""})
            rows[0]["ratio_to_mosquitto"] = round(
                claimd_row["kib_per_session"] / max(mosquitto_row["kib_per_session"], 0.01), 1
            )
            rows[1]["ratio_to_mosquitto"] = 1.0
        except (OSError, RuntimeError, PermissionError) as exc:
            print(f"mosquitto reference skipped: {exc}")
    write_results("mqtt_idle", rows, "RSS growth of the server process divided by the idle sessions it holds.")


if __name__ == "__main__":
    asyncio.run(main())
