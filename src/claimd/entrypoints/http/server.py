"""The HTTP door's server: uvicorn, with the connection bounds uvicorn lacks.

Invariants:
- A connection that has not sent a complete request head within ``http_header_timeout_s`` of opening
  (or of the first byte of its next request) is closed: silent and slowloris connections do not pile
  up. uvicorn has no such timer, so :class:`BoundedHttpProtocol` adds it to uvicorn's httptools protocol.
- A request head (request line and headers) larger than ``http_max_header_bytes`` is answered 431
  and the connection closed: uvicorn's parser would otherwise gather an endless header in memory.
- A request body that receives no byte for ``http_body_timeout_s`` (while claimd is reading, not
  while it holds reading back or owes a ``100 Continue``) closes the connection: a stalled upload
  cannot hold a connection, and a task waiting on it, for good.
- A kept-alive connection idle for ``http_idle_timeout_s`` after a response is closed (uvicorn's own
  keep-alive timer).
- At most :func:`connection_cap` HTTP connections are open; one beyond it is closed as it is accepted,
  before any work. The cap stays below the process's open-file limit, which is raised to its hard
  limit at start, so that idle sockets cannot take the files the database, the other doors and the
  logs need.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from claimd.config import Settings

log = logging.getLogger("claimd.http")

#: Open files kept for everything that is not an HTTP connection (database pool, MQTT and CoAP doors,
#: logs, bulk files): the cap is at most the file limit minus this.
RESERVED_FILES = 1024


def raise_file_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):  # pragma: no cover - refused by the system: keep what we have
            pass
    return soft


def connection_cap(max_connections: int, file_limit: int) -> int:
    """The HTTP connection cap: the setting, kept below the file limit by :data:`RESERVED_FILES` (or by
    half the limit, when the limit is small)."""
    if file_limit == resource.RLIM_INFINITY:
        return max_connections
    return max(1, min(max_connections, file_limit - min(RESERVED_FILES, file_limit // 2)))


class BoundedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the bounds of the module's invariants. They are class
    attributes, set by :func:`protocol_class`, because uvicorn builds a protocol per connection from a
    class and its own config."""

    header_timeout_s: float = 10.0
    body_timeout_s: float = 60.0
    max_header_bytes: int = 65_536
    max_connections: int = 10_000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._body_timer: asyncio.TimerHandle | None = None
        self._last_data = 0.0
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.max_connections:
            self._refused = True
            transport.abort()  # nothing to flush; no parsing, no task
            return
        super().connection_made(transport)
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._refused:
            return
        self._stop_head_timer()
        self._stop_body_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._last_data = self.loop.time()
        super().data_received(data)
        if self._head_timer is None or self.transport.is_closing():
            return
        # Still in a head: count the chunk whole (a chunk that also ends a previous body over-counts
        # by at most one read), and refuse before the parser's buffer grows past the limit.
        self._head_bytes += len(data)
        if self._head_bytes > self.max_header_bytes:
            self._stop_head_timer()
            message = f"The request head is larger than {self.max_header_bytes} bytes".encode()
            self.transport.write(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                b"content-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
                b"content-length: %d\r\n\r\n%s" % (len(message), message)
            )
            self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_timer is None:  # not restarted by a request that began within the timer
            self._start_head_timer()

    def on_headers_complete(self) -> None:
        self._stop_head_timer()
        super().on_headers_complete()
        # Stopped at once by on_message_complete when the request has no body.
        self._stop_body_timer()
        self._body_timer = self.loop.call_later(self.body_timeout_s, self._body_check)

    def on_message_complete(self) -> None:
        self._stop_body_timer()
        super().on_message_complete()

    def _body_check(self) -> None:
        """The body timer: closes the connection if the client sent nothing for the whole timeout
        while claimd was ready to read (one timer per request, re-armed, not one per chunk)."""
        self._body_timer = None
        if self.transport.is_closing():
            return
        waiting = self.flow.read_paused or (self.cycle is not None and self.cycle.waiting_for_100_continue)
        idle = self.loop.time() - self._last_data
        if waiting or idle < self.body_timeout_s:
            self._body_timer = self.loop.call_later(self.body_timeout_s - (0 if waiting else idle), self._body_check)
            return
        self.transport.close()

    def _stop_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _start_head_timer(self) -> None:
        self._head_bytes = 0
        self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def protocol_class(settings: Settings, max_connections: int) -> type[BoundedHttpProtocol]:
    return type(
        "BoundedHttpProtocol",
        (BoundedHttpProtocol,),
        {
            "header_timeout_s": settings.http_header_timeout_s,
            "body_timeout_s": settings.http_body_timeout_s,
            "max_header_bytes": settings.http_max_header_bytes,
            "max_connections": max_connections,
        },
    )


def build_server(app: Any, settings: Settings) -> uvicorn.Server:
    """The uvicorn server of the HTTP door, with claimd's limits (see the module's invariants)."""
    cap = connection_cap(settings.http_max_connections, raise_file_limit())
    if cap < settings.http_max_connections:
        log.warning(
            "CLAIMD_HTTP_MAX_CONNECTIONS=%d lowered to %d: the open-file limit is too low for more",
            settings.http_max_connections,
            cap,
        )
    protocol = protocol_class(settings, cap)
    idle_s: Any = settings.http_idle_timeout_s  # uvicorn types it int; its timer takes a float
    # log_config=None: uvicorn's records go to claimd's one handler and format (claimd.logs); its access
    # log is off, claimd.access replaces it (entrypoints/http/requests.py: no secret in a path).
    config = uvicorn.Config(
        app,
        http=protocol,
        timeout_keep_alive=idle_s,
        log_config=None,
        log_level=settings.log_level.lower(),
        access_log=False,
        lifespan="on",
        server_header=False,
    )
    return uvicorn.Server(config)
