"""Claim windows are durable and shared (issue §4): a window opened through one claimd process is
claimable through another process on the same database (SQLite, after a restart) or on the same
PostgreSQL database and Redis (two processes at once)."""

from __future__ import annotations

import secrets

import pytest
from http_helpers import GOOD_PAYLOAD, Api, assert_outcome, make_world
from servers import REDIS_URL, create_pg_database, drop_pg_database, require_server, start_server


def test_window_survives_a_restart_on_sqlite(tmp_path):
    first = start_server(tmp_path)
    try:
        world = make_world(first.base_url, first.admin_email, first.admin_password)
        device = world.device()
        world.window(device, GOOD_PAYLOAD)
        kept_device = world.device()
        world.window(kept_device, {"secretKey": "first", "durationMs": 60000})
        token = world.u1.token
    finally:
        first.stop()
    second = start_server(tmp_path)
    try:
        user = Api(second.base_url, token)  # same database, same secret: the JWT is still good
        r = user.claim(device.name, {"secretKey": "value"})
        assert r.status_code == 200 and r.json()["response"] == "SUCCESS", r.text
        # the window kept after the restart is still the first one (put-if-absent across processes)
        world.base_url = second.base_url
        world.admin = Api.login(second.base_url, second.admin_email, second.admin_password)
        world.window(kept_device, {"secretKey": "second", "durationMs": 60000}, expect="kept")
        assert_outcome(user.claim(kept_device.name, {"secretKey": "second"}), "FAILURE")
    finally:
        second.stop()


@pytest.mark.postgres
@pytest.mark.redis
def test_window_opened_on_one_process_is_claimed_on_another(tmp_path):
    require_server("postgres")
    require_server("redis")
    database, url = create_pg_database()
    prefix = {"CLAIMD_REDIS_PREFIX": f"claimd-t-{secrets.token_hex(4)}"}
    a = b = None
    try:
        a = start_server(tmp_path / "a", url, REDIS_URL, extra_env=prefix)
        b = start_server(tmp_path / "b", url, REDIS_URL, extra_env=prefix)
        world = make_world(a.base_url, a.admin_email, a.admin_password)
        device, other = world.device(), world.device()
        world.window(device, GOOD_PAYLOAD)  # through A
        user_on_b = Api(b.base_url, world.u2.token)
        r = user_on_b.claim(device.name, {"secretKey": "value"})
        assert r.status_code == 200 and r.json()["response"] == "SUCCESS", r.text
        assert r.json()["device"]["customerId"]["id"] == world.c2_id
        assert_outcome(world.u1.claim(device.name, {"secretKey": "value"}), "CLAIMED")  # through A
        # put-if-absent holds across processes: B keeps A's live window
        world.window(other, {"secretKey": "from-a", "durationMs": 60000}, expect="opened")
        a_base = world.base_url
        world.base_url = b.base_url
        world.window(other, {"secretKey": "from-b", "durationMs": 60000}, expect="kept")
        world.base_url = a_base
        r = user_on_b.claim(other.name, {"secretKey": "from-a"})
        assert r.status_code == 200 and r.json()["response"] == "SUCCESS", r.text
    finally:
        for server in (a, b):
            if server:
                server.stop()
        drop_pg_database(database)
