"""A guessing run against a real server, as the attacker of issue 20 made it: a customer user guessing a
printed ``claimingData`` key as fast as it can, and wrong passwords against one account. Each is
answered 429 with ``Retry-After`` once its free failures are spent, the audit log does not grow with
the guesses, and the owner claims (or logs in) once the guesser stops. Its own server: the lockouts
of 127.0.0.1 must not reach other modules' tests.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from http_helpers import USER_PASSWORD, Api, World, assert_error, make_world, new_customer_user, now_ms, uid
from live_fixtures import LIVE_BACKENDS, serving
from servers import REAL_LOCKOUTS

pytestmark = pytest.mark.slow  # budget: ~10 s per backend (two waits for a 1 s lock)

FREE_PER_DEVICE = 5  # CLAIMD_CLAIM_LOCKOUT_FREE_DEVICE's default
FREE_PER_ACCOUNT = 5  # CLAIMD_LOGIN_LOCKOUT_FREE_ACCOUNT's default


@pytest.fixture(scope="module", params=LIVE_BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A server of its own with the default lockouts (test servers are otherwise loose)."""
    with serving(request.param, tmp_path_factory.mktemp("guessing"), REAL_LOCKOUTS) as server:
        w = make_world(server.base_url, server.admin_email, server.admin_password)
        yield w
        for api in w.apis:
            api.close()


def test_guessing_a_printed_key_over_http_meets_429_and_the_owner_claims_after(world) -> None:
    device = world.device()
    world.save_server_attributes(
        device, {"claimingData": {"secretKey": "482913", "expirationTime": now_ms() + 3_600_000}}
    )
    answers = [world.u2.claim(device.name, {"secretKey": f"{n:06d}"}) for n in range(200)]
    statuses = [r.status_code for r in answers]
    assert statuses[: FREE_PER_DEVICE + 2] == [400] * (FREE_PER_DEVICE + 1) + [429], statuses[:10]
    # each later guess waits for a lock twice as long as the last: a few in the run's seconds at most
    admitted = statuses.count(400)
    assert statuses.count(429) == 200 - admitted and admitted <= FREE_PER_DEVICE + 4, statuses
    assert_error(answers[-1], 429, contains="too many failed claim attempts")
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 2 ** (admitted - FREE_PER_DEVICE - 1)
    # 200 guesses, one line in the audit log: the admitted wrong guesses with their count
    log = world.admin.ok("get", f"/api/audit/logs/entity/DEVICE/{device.id}", params={"pageSize": 100, "page": 0})
    failures = [e for e in log["data"] if e["actionStatus"] == "FAILURE"]
    assert len(failures) == 1 and failures[0]["actionData"]["count"] == admitted
    # the owner, with the right key, once the lock has run out
    refused = world.u1.claim(device.name, {"secretKey": "482913"})
    assert refused.status_code == 429
    time.sleep(int(refused.headers["Retry-After"]))
    claimed = world.u1.claim(device.name, {"secretKey": "482913"})
    assert claimed.status_code == 200 and claimed.json()["response"] == "SUCCESS", claimed.text


def test_wrong_passwords_over_http_lock_the_account_until_the_wait_runs_out(world) -> None:
    email = f"{uid('user')}@example.com"
    new_customer_user(world.admin, world.c2_id, email).close()
    for _ in range(FREE_PER_ACCOUNT + 1):
        assert_error(Api(world.base_url).post("/api/auth/login", json={"username": email, "password": "nope"}), 401)
    locked = Api(world.base_url).post("/api/auth/login", json={"username": email, "password": USER_PASSWORD})
    assert_error(locked, 429, contains="too many failed logins")
    time.sleep(int(locked.headers["Retry-After"]))
    assert Api.login(world.base_url, email, USER_PASSWORD).token


def test_reclaiming_a_device_no_one_owns_says_so(world) -> None:
    assert_error(world.u1.reclaim(world.device().name), 400, contains="not claimed")


def test_a_viewer_gets_403_writing_attributes(world) -> None:
    device = world.device()
    world.admin.ok("post", f"/api/customer/{world.c1_id}/device/{device.id}")
    viewer = world.new_customer_user(world.c1_id)
    me = viewer.ok("get", "/api/auth/user")
    world.admin.ok("put", f"/v1/users/{me['id']['id']}/role", json={"role": "VIEWER"})
    for scope in ("SERVER_SCOPE", "SHARED_SCOPE"):
        r = viewer.post(f"/api/plugins/telemetry/DEVICE/{device.id}/{scope}", json={"claimingData": {"secretKey": "x"}})
        assert_error(r, 403)
