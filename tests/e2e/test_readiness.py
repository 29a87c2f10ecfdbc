"""Readiness of a real ``claimd serve`` on PostgreSQL and Redis, each reached through a TCP proxy of the
test's own that can hang (hold every byte: a lost network, a stuck server) or cut (close every
connection and refuse new ones). /readyz says 503 and names what failed, within a few seconds even
when the database hangs, while /healthz stays 200; it is 200 again once the proxy is restored.
(Redis stopped outright is tests/e2e/test_service.py's.)"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from servers import (
    PG_HOST,
    PG_PORT,
    REDIS_HOST,
    REDIS_PORT,
    create_pg_database,
    drop_pg_database,
    pg_url,
    require_server,
    start_server,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

#: /readyz waits up to 2 s per check (READY_TIMEOUT_S), and a hung database connection takes up to 2 s
#: more to be dropped (SQLAlchemy closes it with a 2 s timeout before it terminates it): measured 4.1 s.
ANSWER_WITHIN_S = 7.0


class Proxy:
    """A TCP proxy to ``target`` on a free local port. ``up()`` forwards; ``hang()`` holds every byte
    (connections stay open, new ones are accepted); ``cut()`` closes every connection and closes each
    new one as it is accepted."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.mode = "up"
        self.forwarding = threading.Event()
        self.forwarding.set()
        self.lock = threading.Lock()
        self.sockets: set[socket.socket] = set()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def up(self) -> None:
        self.mode = "up"
        self.forwarding.set()

    def hang(self) -> None:
        self.mode = "hang"
        self.forwarding.clear()

    def cut(self) -> None:
        self.mode = "cut"
        self.forwarding.set()  # held pumps wake up and find their sockets closed
        self._close_all()

    def close(self) -> None:
        self.closed = True
        self.forwarding.set()
        self.listener.close()
        self._close_all()

    def _close_all(self) -> None:
        with self.lock:
            for s in self.sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self.sockets.clear()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.mode == "cut":
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self.lock:
                self.sockets |= {client, upstream}
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                while not self.forwarding.wait(0.1):  # hanging: hold the bytes
                    if self.closed:
                        return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[str, Proxy, Proxy]]:
    """A ``claimd serve`` whose database and Redis are each behind a :class:`Proxy`."""
    require_server("postgres")
    require_server("redis")
    name, _ = create_pg_database()
    db_proxy, redis_proxy = Proxy((PG_HOST, PG_PORT)), Proxy((REDIS_HOST, REDIS_PORT))
    server = None
    try:
        server = start_server(
            tmp_path, pg_url(name, host="127.0.0.1", port=db_proxy.port), f"redis://127.0.0.1:{redis_proxy.port}/0"
        )
        yield server.base_url, db_proxy, redis_proxy
    finally:
        if server is not None:
            server.stop()
        db_proxy.close()
        redis_proxy.close()
        drop_pg_database(name)


def readyz(base_url: str) -> tuple[int, dict, float]:
    started = time.monotonic()
    r = httpx.get(base_url + "/readyz", timeout=30)
    return r.status_code, r.json(), time.monotonic() - started


def ready_again(base_url: str, within_s: float = 15.0) -> dict:
    deadline = time.monotonic() + within_s
    while True:
        status, body, _ = readyz(base_url)
        if status == 200 or time.monotonic() > deadline:
            assert status == 200, body
            return body
        time.sleep(0.2)


def assert_not_ready(base_url: str, failed: str, ok: str) -> None:
    status, body, took = readyz(base_url)
    assert status == 503, body
    assert body["status"] == "unavailable" and body["checks"][failed].startswith("failed"), body
    assert body["checks"][ok] == "ok", body
    assert took < ANSWER_WITHIN_S, f"/readyz took {took:.1f} s"
    live = httpx.get(base_url + "/healthz", timeout=5)  # liveness: a restart cures no outage
    assert live.status_code == 200 and live.json()["status"] == "ok"


def test_readyz_follows_the_database_through_a_hang_and_a_cut(proxied) -> None:
    base_url, db, _ = proxied
    assert ready_again(base_url) == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}

    db.hang()
    assert_not_ready(base_url, "database", "redis")
    assert_not_ready(base_url, "database", "redis")  # and again: the probe does not pile up behind the first
    db.up()
    assert ready_again(base_url)["checks"] == {"database": "ok", "redis": "ok"}

    db.cut()
    assert_not_ready(base_url, "database", "redis")
    db.up()
    assert ready_again(base_url)["checks"] == {"database": "ok", "redis": "ok"}


def test_readyz_follows_redis_through_a_hang_and_a_cut(proxied) -> None:
    base_url, _, redis = proxied
    assert ready_again(base_url)["checks"] == {"database": "ok", "redis": "ok"}
    redis.hang()
    assert_not_ready(base_url, "redis", "database")
    redis.up()
    assert ready_again(base_url)["checks"] == {"database": "ok", "redis": "ok"}
    redis.cut()
    assert_not_ready(base_url, "redis", "database")
    redis.up()
    assert ready_again(base_url)["checks"] == {"database": "ok", "redis": "ok"}
