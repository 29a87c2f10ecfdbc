"""A role change made through one claimd process reaches another process on the same database within
the caches' 5 s (JWT users and API keys alike), and at once on the process that made it."""

from __future__ import annotations

import time
import uuid

import pytest
from http_helpers import Api, make_world
from servers import create_pg_database, drop_pg_database, require_server, start_server

from claimd.adapters.attestation import mint_token, new_private_key, public_pem_of

CACHE_S = 5.0


@pytest.mark.slow
@pytest.mark.postgres
def test_a_role_change_on_one_process_reaches_the_other_within_the_cache_time(tmp_path):
    require_server("postgres")
    database, url = create_pg_database()
    a = b = None
    try:
        a = start_server(tmp_path / "a", url)
        b = start_server(tmp_path / "b", url)
        world = make_world(a.base_url, a.admin_email, a.admin_password)
        user_on_b = Api(b.base_url, world.u1.token)
        key = user_on_b.post("/v1/api-keys", json={"name": "ci"}).json()["key"]
        key_on_b = Api(b.base_url)
        key_on_b.http.headers["Authorization"] = f"Bearer {key}"

        def claim(api: Api) -> int:
            device_id, private = uuid.uuid4(), new_private_key()
            r = world.admin.post(
                "/v1/device-identities", json={"id": str(device_id), "publicKey": public_pem_of(private)}
            )
            assert r.status_code == 201, r.text
            return api.post("/v1/claimed-devices", json={"claimToken": mint_token(private, device_id)}).status_code

        assert claim(user_on_b) == 201 and claim(key_on_b) == 201  # both now cached on B as OWNER
        user_id = world.u1.ok("get", "/api/auth/user")["id"]["id"]
        changed = world.admin.http.put(
            f"/v1/users/{user_id}/role", json={"role": "VIEWER"}, headers=world.admin._headers(None)
        )
        assert changed.status_code == 200, changed.text
        assert claim(world.u1) == 403  # on A, at once

        start = time.monotonic()
        refused = {"jwt": None, "key": None}
        while time.monotonic() - start < CACHE_S + 3 and None in refused.values():
            for name, api in (("jwt", user_on_b), ("key", key_on_b)):
                if refused[name] is None and claim(api) == 403:
                    refused[name] = time.monotonic() - start
            time.sleep(0.25)
        assert None not in refused.values(), refused
        assert all(t <= CACHE_S + 1.5 for t in refused.values()), refused
    finally:
        for server in (a, b):
            if server is not None:
                server.stop()
        drop_pg_database(database)
