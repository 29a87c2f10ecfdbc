"""End-to-end tests: a real claimd serve process through real HTTP clients.

``world`` (module-scoped, one per live server): see :mod:`http_helpers`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from http_helpers import World, make_world
from live_fixtures import live_server  # noqa: F401


@pytest.fixture(scope="module")
def world(live_server) -> Iterator[World]:  # noqa: F811
    w = make_world(live_server.base_url, live_server.admin_email, live_server.admin_password)
    try:
        yield w
    finally:
        for api in w.apis:
            api.close()
