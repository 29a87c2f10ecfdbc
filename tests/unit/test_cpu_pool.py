"""Where CPU-bound work runs: the worker process, and what happens when it dies."""

from __future__ import annotations

import asyncio
import multiprocessing
import os

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
