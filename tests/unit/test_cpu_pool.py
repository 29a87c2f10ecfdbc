"""Where CPU-bound work runs: the worker process, and what happens when it dies."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from claimd.adapters.cpu import ProcessPool


def where(value: int) -> tuple[int, int]:
    return value * 2, os.getpid()


def dies_in_a_worker(value: int) -> int:
    if multiprocessing.parent_process() is not None:  # in the pool's process: it dies
        os._exit(3)
    return value + 1


def test_work_runs_in_another_process_which_is_kept() -> None:
    pool = ProcessPool()

    async def main() -> list[tuple[int, int]]:
        return [await pool.run(where, n) for n in (1, 2)]

    try:
        (first, pid1), (second, pid2) = asyncio.run(main())
    finally:
        pool.close()
    assert (first, second) == (2, 4)
    assert pid1 == pid2 != os.getpid()


def test_work_whose_process_died_runs_inline_and_the_next_gets_a_new_process() -> None:
    pool = ProcessPool()

    async def main() -> tuple[int, tuple[int, int]]:
        return await pool.run(dies_in_a_worker, 41), await pool.run(where, 5)

    try:
        survived, (doubled, pid) = asyncio.run(main())
    finally:
        pool.close()
    assert survived == 42 and doubled == 10 and pid != os.getpid()


SERVER = """
import asyncio, os, sys, time
from claimd.adapters.cpu import ProcessPool

async def main():
    pool = ProcessPool()
    print(await pool.run(os.getpid), flush=True)
    time.sleep(60)

asyncio.run(main())
"""


def test_a_worker_ends_when_its_server_is_killed_outright() -> None:
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        worker = int(server.stdout.readline())
        assert worker != server.pid and os.path.exists(f"/proc/{worker}")
        server.send_signal(signal.SIGKILL)
        server.wait()
        deadline = time.monotonic() + 10
        while os.path.exists(f"/proc/{worker}") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not os.path.exists(f"/proc/{worker}") or _zombie(worker), "the worker outlived its server"
    finally:
        server.kill()


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] == "Z"
    except OSError:
        return True
