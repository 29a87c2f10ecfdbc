"""Where CPU-bound work runs: in a worker process (:class:`ProcessPool`), so that the event loop keeps
serving requests and the work has a core of its own.

The pool starts its process on first use (``spawn``: a fork of a process with an event loop and
driver threads is not safe) and starts a new one if it died; a chunk whose process died is then
worked inline, so a job never stops on it. A worker whose server died ends within a second.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")
PARENT_CHECK_S = 1.0
log = logging.getLogger("claimd.cpu")


def _start_worker(niceness: int, parent: int) -> None:
    """In each worker process, first: its priority, and a watch on the server that started it. A server
    killed outright (SIGKILL, the OOM killer) cannot stop its pool, and the worker would live on."""
    os.nice(niceness)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os._exit(0)

    threading.Thread(target=watch, name="claimd-parent-watch", daemon=True).start()


class ProcessPool:
    """``workers`` processes at ``niceness`` (higher: lower priority than the server's requests, which
    then keep their latency while the pool works)."""

    def __init__(self, workers: int = 1, niceness: int = 10) -> None:
        self.workers = workers
        self.niceness = niceness
        self._pool: ProcessPoolExecutor | None = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(self.niceness, os.getpid()),
            )
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
        except BrokenProcessPool:
            log.warning("the CPU worker process died; this piece of work runs inline, the next in a new process")
            self._pool = None
            return fn(*args)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
