"""Fixtures for tests that drive a real ``claimd serve`` process (imported by e2e/ and compat/ conftests)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import REDIS_URL, LiveServer, create_pg_database, drop_pg_database, require_server, start_server

LIVE_BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres+redis", id="postgres+redis", marks=[pytest.mark.postgres, pytest.mark.redis]),
]


@contextlib.contextmanager
def serving(backend: str, workdir: Path, extra_env: dict[str, str | None] | None = None) -> Iterator[LiveServer]:
    """A ``claimd serve`` on ``backend`` ("sqlite", or "postgres+redis": a database of its own,
    dropped afterwards) with ``extra_env`` (see :func:`servers.start_server`)."""
    database, database_url, redis_url = None, None, None
    if backend == "postgres+redis":
        require_server("postgres")
        require_server("redis")
        database, database_url = create_pg_database()
        redis_url = REDIS_URL
    try:
        server = start_server(workdir, database_url, redis_url, extra_env=extra_env)
        try:
            yield server
        finally:
            server.stop()
    finally:
        if database:
            drop_pg_database(database)


@pytest.fixture(scope="module", params=LIVE_BACKENDS)
def live_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server per test module and backend: SQLite (the embedded default), and PostgreSQL with
    Redis claim windows. Tests share it, so each creates uniquely named customers and devices."""
    with serving(request.param, tmp_path_factory.mktemp("claimd")) as server:
        yield server
