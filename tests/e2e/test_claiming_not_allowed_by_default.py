"""``CLAIMD_ALLOW_CLAIMING_BY_DEFAULT=false`` (reference §2.2, §2.5): a device may open a claim window
only while its SERVER_SCOPE attribute ``claimingAllowed`` is the boolean ``true``. SQLite only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from http_helpers import GOOD_PAYLOAD, NULL_UUID, World, assert_outcome, assert_success, make_world, now_ms
from servers import start_server


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = start_server(
        tmp_path_factory.mktemp("claimd-strict"), extra_env={"CLAIMD_ALLOW_CLAIMING_BY_DEFAULT": "false"}
    )
    try:
        world = make_world(server.base_url, server.admin_email, server.admin_password)
        yield world
        for api in world.apis:
            api.close()
    finally:
        server.stop()


def test_without_claiming_allowed_the_window_is_refused(strict):
    device = strict.device()
    strict.window(device, GOOD_PAYLOAD, expect="claiming-not-allowed")
    assert_outcome(strict.u1.claim(device.name, {"secretKey": "value"}), "FAILURE")
    assert strict.owner(device) == NULL_UUID


@pytest.mark.parametrize("value", ["true", 1, "1", {"v": True}])
def test_claiming_allowed_must_be_the_boolean_true(strict, value):
    device = strict.device()
    strict.save_server_attributes(device, {"claimingAllowed": value})
    strict.window(device, GOOD_PAYLOAD, expect="claiming-not-allowed")
    assert_outcome(strict.u1.claim(device.name, {"secretKey": "value"}), "FAILURE")
    assert strict.owner(device) == NULL_UUID


def test_claiming_allowed_false_is_refused(strict):
    device = strict.device()
    strict.save_server_attributes(device, {"claimingAllowed": False})
    strict.window(device, GOOD_PAYLOAD, expect="claiming-not-allowed")
    assert_outcome(strict.u1.claim(device.name, {"secretKey": "value"}), "FAILURE")


def test_claiming_allowed_true_opens_and_success_deletes_it(strict):
    device = strict.device()
    strict.save_server_attributes(device, {"claimingAllowed": True, "other": 1})
    strict.window(device, GOOD_PAYLOAD, expect="opened")
    assert_success(strict.u1.claim(device.name, {"secretKey": "value"}), strict, device, strict.c1_id)
    assert strict.server_attributes(device) == {"other": 1}


def test_reclaim_by_tenant_admin_restores_claiming_allowed(strict):
    device = strict.device()
    strict.save_server_attributes(device, {"claimingAllowed": True})
    strict.window(device, GOOD_PAYLOAD)
    assert_success(strict.u1.claim(device.name, {"secretKey": "value"}), strict, device, strict.c1_id)
    assert "claimingAllowed" not in strict.server_attributes(device)
    r = strict.admin.reclaim(device.name)
    assert r.status_code == 200 and r.content == b""
    assert strict.owner(device) == NULL_UUID
    values = strict.server_attributes(device, keys="claimingAllowed")
    assert values == {"claimingAllowed": True} and values["claimingAllowed"] is True
    # and so the device may open a window again
    strict.window(device, GOOD_PAYLOAD, expect="opened")
    assert_success(strict.u2.claim(device.name, {"secretKey": "value"}), strict, device, strict.c2_id)


def test_reclaim_by_the_owner_restores_claiming_allowed(strict):
    device = strict.device()
    strict.save_server_attributes(device, {"claimingAllowed": True})
    strict.window(device, GOOD_PAYLOAD)
    assert_success(strict.u1.claim(device.name, {"secretKey": "value"}), strict, device, strict.c1_id)
    assert strict.u1.reclaim(device.name).status_code == 200
    assert strict.server_attributes(device, keys="claimingAllowed") == {"claimingAllowed": True}


def test_reclaim_of_an_unassigned_device_writes_nothing(strict):
    device = strict.device()
    r = strict.admin.reclaim(device.name)
    assert r.status_code == 200 and r.content == b""
    assert strict.server_attributes(device) == {}


def test_server_side_key_ignores_claiming_allowed(strict):
    device = strict.device()
    strict.save_server_attributes(device, {"claimingData": {"secretKey": "srv", "expirationTime": now_ms() + 60000}})
    assert_success(strict.u1.claim(device.name, {"secretKey": "srv"}), strict, device, strict.c1_id)
    assert strict.server_attributes(device) == {}


def test_assigned_device_is_already_claimed_even_with_claiming_allowed(strict):
    device = strict.device()
    strict.save_server_attributes(device, {"claimingAllowed": True})
    strict.admin.ok("post", f"/api/customer/{strict.c2_id}/device/{device.id}")
    strict.window(device, GOOD_PAYLOAD, expect="already-claimed")
    assert_outcome(strict.u1.claim(device.name, {"secretKey": "value"}), "CLAIMED")
    assert strict.owner(device) == strict.c2_id


def test_refused_window_is_in_the_audit_log(strict):
    device = strict.device()
    strict.window(device, GOOD_PAYLOAD, expect="claiming-not-allowed")
    log = strict.admin.ok("get", f"/api/audit/logs/entity/DEVICE/{device.id}", params={"pageSize": 10, "page": 0})
    assert [(e["actionType"], e["actionStatus"], e["door"]) for e in log["data"]] == [
        ("CLAIM_WINDOW", "claiming-not-allowed", "HTTP_DEVICE")
    ]
