"""The HTTP door's transport limits on a real ``claimd serve``: request bodies over the limit are
refused with 413 before they are read, heads over the limit with 431, silent and slowloris
connections are closed after the header timeout, idle kept-alive ones after the idle timeout, and
connections beyond the cap are closed at once.

The limits do not depend on the storage, so these servers run on SQLite only."""

from __future__ import annotations

import contextlib
import resource
import selectors
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from servers import LiveServer, start_server

MIB = 1024 * 1024
MAX_BODY = 64 * 1024
MAX_UPLOAD = 512 * 1024
HEADER_TIMEOUT_S = 2
IDLE_TIMEOUT_S = 1
BODY_TIMEOUT_S = 1


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Small body limits and short timeouts, so that the tests stay quick; started with a low soft
    open-file limit (inherited), which the server must raise."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 1024), hard))
    try:
        live = start_server(
            tmp_path_factory.mktemp("limits"),
            extra_env={
                "CLAIMD_HTTP_MAX_BODY_BYTES": str(MAX_BODY),
                "CLAIMD_HTTP_MAX_UPLOAD_BYTES": str(MAX_UPLOAD),
                "CLAIMD_HTTP_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
                "CLAIMD_HTTP_IDLE_TIMEOUT_S": str(IDLE_TIMEOUT_S),
                "CLAIMD_HTTP_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S),
            },
        )
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        yield live
    finally:
        live.stop()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


class Body:
    """``size`` bytes in 1 MiB chunks, made as they are sent (never held whole); counts what was taken."""

    def __init__(self, size: int) -> None:
        self.size, self.sent = size, 0

    def __iter__(self) -> Iterator[bytes]:
        chunk = b"x" * MIB
        while self.sent < self.size:
            piece = chunk[: self.size - self.sent]
            self.sent += len(piece)
            yield piece


def test_a_100_mb_body_is_refused_at_once_and_memory_stays_flat(server: LiveServer) -> None:
    before = rss_kib(server.process.pid)
    started = time.monotonic()
    for _ in range(10):
        body = Body(100 * MIB)
        response = httpx.post(
            server.base_url + "/api/auth/login",
            content=body,
            timeout=30,
            headers={"Content-Length": str(body.size), "Content-Type": "application/json"},
        )
        assert response.status_code == 413
        assert response.json()["status"] == 413  # ThingsBoard's error dialect on /api/
        assert str(MAX_BODY) in response.json()["message"]
        assert body.sent < 20 * MIB  # the server stopped reading early
    assert time.monotonic() - started < 10
    assert rss_kib(server.process.pid) - before < 30 * 1024


def test_a_chunked_body_is_cut_at_the_limit(server: LiveServer) -> None:
    before = rss_kib(server.process.pid)
    body = Body(100 * MIB)
    started = time.monotonic()
    response = httpx.post(
        server.base_url + "/api/auth/login",
        content=iter(body),
        timeout=30,
        headers={"Content-Type": "application/json"},
    )
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 413
    assert response.headers["connection"] == "close"
    assert body.sent < 20 * MIB
    assert time.monotonic() - started < 5
    assert rss_kib(server.process.pid) - before < 30 * 1024


@pytest.mark.parametrize(
    ("path", "check"),
    [
        (
            "/v1/claimed-devices",
            lambda r: r.headers["content-type"] == "application/problem+json" and r.json()["code"] == "TOO_LARGE",
        ),
        ("/api/v3/edcs/claim", lambda r: r.json()["code"] == 3 and "details" in r.json()),
        ("/api/v1/some-token/claim", lambda r: r.json()["status"] == 413),
    ],
    ids=["ownership", "tts", "device"],
)
def test_413_speaks_the_dialect_of_the_route(server: LiveServer, path: str, check) -> None:
    response = httpx.post(
        server.base_url + path, content=b"{" + b" " * MAX_BODY + b"}", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert check(response)


def test_a_body_within_the_limit_is_served(server: LiveServer) -> None:
    response = httpx.post(
        server.base_url + "/api/auth/login", json={"username": server.admin_email, "password": server.admin_password}
    )
    assert response.status_code == 200


def _admin_headers(server: LiveServer) -> dict[str, str]:
    token = httpx.post(
        server.base_url + "/api/auth/login", json={"username": server.admin_email, "password": server.admin_password}
    ).json()["token"]
    return {"X-Authorization": f"Bearer {token}", "Content-Type": "text/csv"}


def test_an_upload_route_takes_a_body_over_the_normal_limit_but_not_over_its_own(server: LiveServer) -> None:
    rows = b"".join(b"%032x,not-a-key\n" % i for i in range(4 * MAX_BODY // 44))
    assert MAX_BODY < len(rows) < MAX_UPLOAD
    headers = _admin_headers(server)
    accepted = httpx.post(server.base_url + "/v1/device-identities/bulk", content=iter([rows]), headers=headers)
    assert accepted.status_code == 202, accepted.text
    body = Body(MAX_UPLOAD + MIB)
    refused = httpx.post(
        server.base_url + "/v1/device-identities/bulk",
        content=body,
        headers={**headers, "Content-Length": str(body.size)},
    )
    assert refused.status_code == 413
    assert refused.json()["code"] == "TOO_LARGE"
    assert str(MAX_UPLOAD) in refused.json()["message"]


# --- connections -------------------------------------------------------------------------------------


def _raise_own_file_limit(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            pytest.skip(f"this test needs {need} open files; the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


def _open(server: LiveServer, count: int) -> list[socket.socket]:
    port = int(server.base_url.rsplit(":", 1)[1])
    return [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(count)]


def _closed_within(socks: list[socket.socket], seconds: float) -> int:
    """How many of ``socks`` the server closed within ``seconds`` (an EOF or a reset)."""
    selector = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        selector.register(s, selectors.EVENT_READ)
    closed, deadline = 0, time.monotonic() + seconds
    while closed < len(socks) and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=max(0.0, deadline - time.monotonic())):
            try:
                data = key.fileobj.recv(65536)
            except (ConnectionResetError, BlockingIOError):
                data = b""
            if not data:
                selector.unregister(key.fileobj)
                closed += 1
    selector.close()
    return closed


def test_a_kept_alive_connection_is_closed_after_the_idle_timeout(server: LiveServer) -> None:
    (s,) = _open(server, 1)
    with s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 200 ")
        answered = time.monotonic()
        assert _closed_within([s], IDLE_TIMEOUT_S + 2) == 1
        assert IDLE_TIMEOUT_S - 0.2 < time.monotonic() - answered < IDLE_TIMEOUT_S + 1.5


def test_a_stalled_request_body_is_closed_after_the_body_timeout(server: LiveServer) -> None:
    (s,) = _open(server, 1)
    with s:
        s.sendall(
            b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"username": '
        )
        sent = time.monotonic()
        assert _closed_within([s], BODY_TIMEOUT_S + 3) == 1
        assert time.monotonic() - sent < BODY_TIMEOUT_S + 1.5
    assert httpx.get(server.base_url + "/healthz").status_code == 200


@pytest.mark.slow
def test_5000_silent_connections_do_not_stop_service_and_are_closed_after_the_header_timeout(
    server: LiveServer,
) -> None:
    _raise_own_file_limit(5_500)
    silent = _open(server, 5_000)
    try:
        opened = time.monotonic()
        for _ in range(3):
            assert httpx.get(server.base_url + "/healthz", timeout=5).status_code == 200
        assert time.monotonic() - opened < HEADER_TIMEOUT_S  # they were all still open then
        assert _closed_within(silent, HEADER_TIMEOUT_S + 10) == len(silent)
    finally:
        for s in silent:
            s.close()


@pytest.mark.slow
def test_slowloris_connections_are_closed_after_the_header_timeout(server: LiveServer) -> None:
    slow = _open(server, 200)
    try:
        for s in slow:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        while time.monotonic() - started < HEADER_TIMEOUT_S + 1:  # one more header line every 0.5 s
            for s in slow:
                with contextlib.suppress(OSError):
                    s.sendall(b"X-a: b\r\n")
            time.sleep(0.5)
        assert _closed_within(slow, 5) == len(slow)
        assert time.monotonic() - started < HEADER_TIMEOUT_S + 7
    finally:
        for s in slow:
            s.close()


@pytest.mark.slow
def test_connections_beyond_the_cap_are_closed_at_once(tmp_path: Path) -> None:
    live = start_server(tmp_path, extra_env={"CLAIMD_HTTP_MAX_CONNECTIONS": "20", "CLAIMD_HTTP_HEADER_TIMEOUT_S": "3"})
    try:
        held = _open(live, 20)
        time.sleep(0.3)
        extra = _open(live, 5)
        assert _closed_within(extra, 1) == 5  # beyond the cap: closed before any request
        assert _closed_within(held, 0.2) == 0  # those within it are still open
        assert _closed_within(held, 8) == 20  # until the header timeout
        assert httpx.get(live.base_url + "/healthz").status_code == 200  # slots free again
    finally:
        live.stop()


def test_a_request_head_over_the_limit_is_refused_with_431(server: LiveServer) -> None:
    before = rss_kib(server.process.pid)
    port = int(server.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-a: ")
        sent = 0
        try:
            while sent < 50 * MIB:  # one endless header value
                s.sendall(b"a" * 65536)
                sent += 65536
        except OSError:
            pass
        answer = s.recv(4096)
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert b"connection: close" in answer.lower()
    assert sent < 10 * MIB
    assert rss_kib(server.process.pid) - before < 20 * 1024


def test_the_server_raises_its_open_file_limit_to_the_hard_limit(server: LiveServer) -> None:
    line = next(
        line
        for line in Path(f"/proc/{server.process.pid}/limits").read_text().splitlines()
        if line.startswith("Max open files")
    )
    soft, hard = line.split()[3:5]
    assert soft == hard  # raised from the 1024 it was started with
