"""Device-transport tests: a real ``claimd serve`` (``live_server``, module-scoped, on SQLite and on
PostgreSQL+Redis) driven by real device clients — ``tb-mqtt-client``, plain paho (MQTT 3.1.1 and 5),
raw TCP sockets and ``aiocoap`` — with the customer side on the REST API.

``world`` (module-scoped, one per live server): see :class:`transport_helpers.World`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from live_fixtures import live_server  # noqa: F401
from transport_helpers import World, make_world


@pytest.fixture(scope="module")
def world(live_server) -> Iterator[World]:  # noqa: F811
    w = make_world(live_server.base_url, live_server.admin_email, live_server.admin_password)
    try:
        yield w
    finally:
        w.close()
