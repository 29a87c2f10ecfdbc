"""Claim semantics through HTTP: ThingsBoard's claiming tests and the derived scenarios of
reference §6, with the device side on the HTTP device API and the customer side on the REST API.
"""

from __future__ import annotations

import time

import httpx
import pytest
from http_helpers import (
    FAILURE_PAYLOAD,
    GOOD_PAYLOAD,
    NULL_UUID,
    PERMISSION_DENIED,
    WINDOW_HEADER,
    assert_error,
    assert_outcome,
    assert_success,
    claim_path,
    device_message,
    now_ms,
    uid,
)


def expire() -> None:
    time.sleep(0.005)  # a 1 ms window is over


# §6 rows 9/10 on the HTTP device API: the common skeleton ---------------------------------------
def test_skeleton_with_secret(world):
    device = world.device(name=uid("Test Claim device"))
    world.window(device, FAILURE_PAYLOAD)
    expire()
    assert_outcome(world.u1.claim(device.name, {"secretKey": "value"}), "FAILURE")
    world.window(device, GOOD_PAYLOAD)
    assert_success(world.u1.claim(device.name, {"secretKey": "value"}), world, device, world.c1_id)
    assert_outcome(world.u1.claim(device.name, {"secretKey": "value"}), "CLAIMED")


def test_skeleton_without_secret_and_duration(world):
    device = world.device(name=uid("Test Claim device empty"))
    world.window(device, {"durationMs": 1})
    expire()
    assert_outcome(world.u1.claim(device.name, {"secretKey": None}), "FAILURE")
    world.window(device, {})
    assert_success(world.u1.claim(device.name, {"secretKey": None}), world, device, world.c1_id)
    assert_outcome(world.u1.claim(device.name, {"secretKey": None}), "CLAIMED")


@pytest.mark.parametrize(
    "body",
    [..., {}, {"secretKey": None}, {"secretKey": ""}, {"secretKey": "", "durationMs": 5}],
    ids=["no-body", "empty-object", "null", "empty-string", "with-duration"],
)
def test_claim_bodies_that_mean_the_empty_key(world, body):
    device = world.device()
    world.window(device, {"durationMs": 60000})
    assert_success(world.u1.claim(device.name, body), world, device, world.c1_id)


def test_claim_with_no_body_against_a_keyed_window_is_failure_not_500(world):
    device = world.device()
    world.window(device, GOOD_PAYLOAD)
    assert_outcome(world.u1.claim(device.name), "FAILURE")


@pytest.mark.parametrize("raw", [b"{not json", b"[1]", b'"value"', b'{"secretKey": {"a": 1}}', b'{"secretKey": [1]}'])
def test_malformed_claim_body_is_400_with_an_error_body(world, raw):
    device = world.device()
    world.window(device, GOOD_PAYLOAD)
    assert_error(world.u1.claim(device.name, raw=raw), 400, 31)
    assert world.owner(device) == NULL_UUID


def test_secret_is_case_sensitive_and_exact(world):
    device = world.device()
    world.window(device, GOOD_PAYLOAD)
    assert_outcome(world.u1.claim(device.name, {"secretKey": "Value"}), "FAILURE")
    assert world.owner(device) == NULL_UUID


# derived scenarios --------------------------------------------------------------------------------
def test_wrong_secret_evicts_the_window(world):
    device = world.device()
    world.window(device, GOOD_PAYLOAD)
    assert_outcome(world.u1.claim(device.name, {"secretKey": "wrong"}), "FAILURE")
    assert_outcome(world.u1.claim(device.name, {"secretKey": "value"}), "FAILURE")
    assert world.owner(device) == NULL_UUID
    # a new window after the eviction works
    world.window(device, GOOD_PAYLOAD, expect="opened")
    assert_success(world.u1.claim(device.name, {"secretKey": "value"}), world, device, world.c1_id)


def test_put_if_absent_keeps_the_live_window(world):
    first, second = world.device(), world.device()
    for device in (first, second):
        world.window(device, {"secretKey": "first", "durationMs": 60000}, expect="opened")
        world.window(device, {"secretKey": "second", "durationMs": 60000}, expect="kept")
    assert_success(world.u1.claim(first.name, {"secretKey": "first"}), world, first, world.c1_id)
    assert_outcome(world.u1.claim(second.name, {"secretKey": "second"}), "FAILURE")


def test_an_expired_window_is_replaced_by_the_next_message(world):
    device = world.device()
    world.window(device, {"secretKey": "old", "durationMs": 1})
    expire()
    world.window(device, {"secretKey": "new", "durationMs": 60000}, expect="opened")
    assert_success(world.u1.claim(device.name, {"secretKey": "new"}), world, device, world.c1_id)


def test_expiry_is_checked_before_ownership(world):
    device = world.device()
    world.window(device, FAILURE_PAYLOAD)
    expire()
    world.admin.ok("post", f"/api/customer/{world.c2_id}/device/{device.id}")
    assert_outcome(world.u1.claim(device.name, {"secretKey": "value"}), "FAILURE")
    assert world.owner(device) == world.c2_id


def test_no_claim_data(world):
    unassigned, assigned = world.device(), world.device()
    world.admin.ok("post", f"/api/customer/{world.c2_id}/device/{assigned.id}")
    assert_outcome(world.u1.claim(unassigned.name, {"secretKey": "value"}), "FAILURE")
    assert_outcome(world.u1.claim(assigned.name, {"secretKey": "value"}), "CLAIMED")
    assert_outcome(world.u1.claim(unassigned.name), "FAILURE")
    assert world.owner(unassigned) == NULL_UUID and world.owner(assigned) == world.c2_id


def test_no_claim_data_leaves_claiming_allowed_alone(world):
    unassigned, assigned = world.device(), world.device()
    for device in (unassigned, assigned):
        world.save_server_attributes(device, {"claimingAllowed": True})
    world.admin.ok("post", f"/api/customer/{world.c2_id}/device/{assigned.id}")
    assert_outcome(world.u1.claim(unassigned.name, {"secretKey": "value"}), "FAILURE")
    assert_outcome(world.u1.claim(assigned.name, {"secretKey": "value"}), "CLAIMED")
    assert world.server_attributes(unassigned) == {"claimingAllowed": True}
    assert world.server_attributes(assigned) == {"claimingAllowed": True}


def test_failure_leaves_claiming_allowed_alone(world):
    device = world.device()
    world.save_server_attributes(device, {"claimingAllowed": True})
    world.window(device, GOOD_PAYLOAD)
    assert_outcome(world.u1.claim(device.name, {"secretKey": "wrong"}), "FAILURE")
    assert world.server_attributes(device) == {"claimingAllowed": True}


def test_success_spends_the_window(world):
    device = world.device()
    world.window(device, GOOD_PAYLOAD)
    assert_success(world.u1.claim(device.name, {"secretKey": "value"}), world, device, world.c1_id)
    world.admin.ok("delete", f"/api/customer/device/{device.id}")  # unassign, not reclaim
    assert_outcome(world.u2.claim(device.name, {"secretKey": "value"}), "FAILURE")
    assert world.owner(device) == NULL_UUID


def test_valid_window_on_a_device_assigned_meanwhile_is_claimed_and_clears_attributes(world):
    device = world.device()
    world.window(device, GOOD_PAYLOAD)
    world.save_server_attributes(
        device,
        {"claimingAllowed": True, "keep": 1, "claimingData": {"secretKey": "srv", "expirationTime": now_ms() + 60000}},
    )
    world.admin.ok("post", f"/api/customer/{world.c2_id}/device/{device.id}")
    assert_outcome(world.u1.claim(device.name, {"secretKey": "value"}), "CLAIMED")
    assert world.server_attributes(device) == {"keep": 1}
    assert world.owner(device) == world.c2_id
    # the CLAIMED attempt spent the window too
    world.admin.ok("delete", f"/api/customer/device/{device.id}")
    assert_outcome(world.u1.claim(device.name, {"secretKey": "value"}), "FAILURE")


def test_device_already_assigned(world):
    device = world.device()
    world.admin.ok("post", f"/api/customer/{world.c2_id}/device/{device.id}")
    world.window(device, GOOD_PAYLOAD, expect="already-claimed")
    assert_outcome(world.u1.claim(device.name, {"secretKey": "value"}), "CLAIMED")
    assert world.owner(device) == world.c2_id


def test_claim_by_the_owning_customer_again_is_claimed(world):
    device = world.device()
    world.window(device, GOOD_PAYLOAD)
    assert_success(world.u1.claim(device.name, {"secretKey": "value"}), world, device, world.c1_id)
    world.window(device, GOOD_PAYLOAD, expect="already-claimed")
    assert_outcome(world.u1.claim(device.name, {"secretKey": "value"}), "CLAIMED")
    assert_outcome(world.u2.claim(device.name, {"secretKey": "value"}), "CLAIMED")
    assert world.owner(device) == world.c1_id


# server-side key (claimingData) ---------------------------------------------------------------------
def test_server_side_key_success_deletes_both_attributes(world):
    device = world.device()
    world.save_server_attributes(
        device,
        {
            "claimingAllowed": True,
            "other": "stays",
            "claimingData": {"secretKey": "srv", "expirationTime": now_ms() + 60000},
        },
    )
    assert_success(world.u1.claim(device.name, {"secretKey": "srv"}), world, device, world.c1_id)
    assert world.server_attributes(device) == {"other": "stays"}
    assert_outcome(world.u1.claim(device.name, {"secretKey": "srv"}), "CLAIMED")


def test_server_side_key_as_a_json_string(world):
    device = world.device()
    world.save_server_attributes(
        device, {"claimingData": f'{{"secretKey":"str","expirationTime":"{now_ms() + 60000}"}}'}
    )
    assert_success(world.u1.claim(device.name, {"secretKey": "str"}), world, device, world.c1_id)
    assert world.server_attributes(device) == {}


def test_server_side_key_without_secret_matches_the_empty_key(world):
    device = world.device()
    world.save_server_attributes(device, {"claimingData": {"expirationTime": now_ms() + 60000}})
    assert_success(world.u1.claim(device.name), world, device, world.c1_id)


def test_claiming_data_in_shared_scope_is_not_claim_data(world):
    device = world.device()
    world.admin.ok(
        "post",
        f"/api/plugins/telemetry/DEVICE/{device.id}/SHARED_SCOPE",
        json={"claimingData": {"secretKey": "srv", "expirationTime": now_ms() + 60000}},
    )
    assert_outcome(world.u1.claim(device.name, {"secretKey": "srv"}), "FAILURE")
    assert world.owner(device) == NULL_UUID


def test_server_side_key_expired_is_failure_and_kept(world):
    device = world.device()
    world.save_server_attributes(device, {"claimingData": {"secretKey": "srv", "expirationTime": now_ms() - 1000}})
    assert_outcome(world.u1.claim(device.name, {"secretKey": "srv"}), "FAILURE")
    assert "claimingData" in world.server_attributes(device)
    assert_outcome(world.u1.claim(device.name, {"secretKey": "srv"}), "FAILURE")  # not evicted: still there
    assert "claimingData" in world.server_attributes(device)


def test_server_side_key_without_expiration_is_expired(world):
    device = world.device()
    world.save_server_attributes(device, {"claimingData": {"secretKey": "srv"}})
    assert_outcome(world.u1.claim(device.name, {"secretKey": "srv"}), "FAILURE")
    assert "claimingData" in world.server_attributes(device)


def test_server_side_key_wrong_secret_is_failure_and_kept(world):
    device = world.device()
    world.save_server_attributes(device, {"claimingData": {"secretKey": "srv", "expirationTime": now_ms() + 60000}})
    assert_outcome(world.u1.claim(device.name, {"secretKey": "nope"}), "FAILURE")
    assert_success(world.u1.claim(device.name, {"secretKey": "srv"}), world, device, world.c1_id)


def test_device_window_comes_before_the_server_side_key(world):
    device = world.device()
    world.window(device, {"secretKey": "dev", "durationMs": 60000})
    world.save_server_attributes(device, {"claimingData": {"secretKey": "srv", "expirationTime": now_ms() + 60000}})
    # the window is evaluated (and evicted) first; the attribute answers the next attempt
    assert_outcome(world.u1.claim(device.name, {"secretKey": "srv"}), "FAILURE")
    assert_success(world.u1.claim(device.name, {"secretKey": "srv"}), world, device, world.c1_id)


# who may claim --------------------------------------------------------------------------------------
def test_tenant_admin_claim_is_403(world):
    device = world.device()
    world.window(device, GOOD_PAYLOAD)
    assert_error(world.admin.claim(device.name, {"secretKey": "value"}), 403, 20, PERMISSION_DENIED)
    # the window was not spent
    assert_success(world.u1.claim(device.name, {"secretKey": "value"}), world, device, world.c1_id)


def test_unknown_device_is_404(world):
    assert_error(world.u1.claim(uid("no such device"), {"secretKey": "value"}), 404, 32)
    assert_error(world.admin.reclaim(uid("no such device")), 404, 32)


def test_claim_without_jwt_is_401(world):
    device = world.device()
    world.window(device, GOOD_PAYLOAD)
    r = httpx.post(world.base_url + claim_path(device.name), json={"secretKey": "value"})
    assert_error(r, 401, 10)
    r = httpx.delete(world.base_url + claim_path(device.name))
    assert_error(r, 401, 10)
    assert_success(world.u1.claim(device.name, {"secretKey": "value"}), world, device, world.c1_id)


@pytest.mark.parametrize("encoded", ["%20", "%20%20"])
def test_blank_device_name_is_400(world, encoded):
    r = world.u1.post(f"/api/customer/device/{encoded}/claim", json={})
    assert_error(r, 400, 31, "Parameter 'deviceName' can't be empty!")
    assert_error(
        world.admin.delete(f"/api/customer/device/{encoded}/claim"), 400, 31, "Parameter 'deviceName' can't be empty!"
    )


def test_claim_name_lookup_is_exact(world):
    device = world.device(name=uid("Exact"))
    world.window(device, GOOD_PAYLOAD)
    assert_error(world.u1.claim(device.name.upper(), {"secretKey": "value"}), 404, 32)
    assert_error(world.u1.claim(device.name + " ", {"secretKey": "value"}), 404, 32)
    assert_success(world.u1.claim(device.name, {"secretKey": "value"}), world, device, world.c1_id)


# reclaim --------------------------------------------------------------------------------------------
def test_reclaim_by_tenant_admin(world):
    device = world.device()
    world.window(device, GOOD_PAYLOAD)
    assert_success(world.u1.claim(device.name, {"secretKey": "value"}), world, device, world.c1_id)
    r = world.admin.reclaim(device.name)
    assert r.status_code == 200 and r.content == b"", r.text
    assert world.owner(device) == NULL_UUID
    # allowClaimingByDefault=true: no claimingAllowed written
    assert world.server_attributes(device) == {}
    # no window left: FAILURE; after a new window, claimable again (by another customer)
    assert_outcome(world.u2.claim(device.name, {"secretKey": "value"}), "FAILURE")
    world.window(device, GOOD_PAYLOAD, expect="opened")
    assert_success(world.u2.claim(device.name, {"secretKey": "value"}), world, device, world.c2_id)


def test_reclaim_of_an_unassigned_device_is_200_and_drops_its_window(world):
    device = world.device()
    world.window(device, GOOD_PAYLOAD)
    r = world.admin.reclaim(device.name)
    assert r.status_code == 200 and r.content == b""
    assert world.owner(device) == NULL_UUID
    assert_outcome(world.u1.claim(device.name, {"secretKey": "value"}), "FAILURE")


def test_reclaim_by_a_user_of_the_owning_customer(world):
    device = world.device()
    world.window(device, GOOD_PAYLOAD)
    assert_success(world.u1.claim(device.name, {"secretKey": "value"}), world, device, world.c1_id)
    r = world.u1.reclaim(device.name)
    assert r.status_code == 200 and r.content == b"", r.text
    assert world.owner(device) == NULL_UUID


def test_reclaim_by_a_user_of_another_customer_is_403(world):
    device = world.device()
    world.window(device, GOOD_PAYLOAD)
    assert_success(world.u1.claim(device.name, {"secretKey": "value"}), world, device, world.c1_id)
    assert_error(world.u2.reclaim(device.name), 403, 20, PERMISSION_DENIED)
    assert world.owner(device) == world.c1_id


def test_reclaim_of_an_unowned_device_by_a_customer_user_says_it_is_not_claimed(world):
    device = world.device()
    world.window(device, GOOD_PAYLOAD)
    assert_error(world.u1.reclaim(device.name), 400, 31, "The device is not claimed: there is nothing to reclaim")
    # the window survives the refused reclaim
    assert_success(world.u1.claim(device.name, {"secretKey": "value"}), world, device, world.c1_id)


def test_reclaim_of_a_device_assigned_by_the_admin(world):
    device = world.device()
    world.admin.ok("post", f"/api/customer/{world.c2_id}/device/{device.id}")
    assert_error(world.u1.reclaim(device.name), 403, 20)
    r = world.u2.reclaim(device.name)
    assert r.status_code == 200 and r.content == b""
    assert world.owner(device) == NULL_UUID


# names ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        "Lab A/shelf 3",
        "with space",
        "a/b/c",
        "percent %25 and ?q=1#frag",
        "ünïcødé ✓",
        "device",
        "claim",
        "x/claim",
        "../etc",
    ],
)
def test_device_names_with_spaces_slashes_and_specials(world, name):
    device = world.device(name=name)  # exact: "device" and "claim" must not be taken for route parts
    found = world.admin.ok("get", "/api/tenant/device", params={"deviceName": device.name})
    assert found["id"]["id"] == device.id
    world.window(device, GOOD_PAYLOAD)
    assert_success(world.u1.claim(device.name, {"secretKey": "value"}), world, device, world.c1_id)
    assert_outcome(world.u1.claim(device.name, {"secretKey": "value"}), "CLAIMED")
    r = world.u1.reclaim(device.name)
    assert r.status_code == 200 and r.content == b""
    assert world.owner(device) == NULL_UUID


def test_slash_name_does_not_match_a_shorter_name(world):
    short = world.device(name=uid("Rack"))
    long = world.device(name=f"{short.name}/unit 1")
    world.window(long, GOOD_PAYLOAD)
    world.window(short, {"secretKey": "short", "durationMs": 60000})
    assert_success(world.u1.claim(long.name, {"secretKey": "value"}), world, long, world.c1_id)
    assert world.owner(short) == NULL_UUID
    assert_success(world.u2.claim(short.name, {"secretKey": "short"}), world, short, world.c2_id)


# the README walk-through in short -------------------------------------------------------------------
def test_claim_reclaim_claim_again(world):
    device = world.device()
    world.window(device, GOOD_PAYLOAD)
    assert_success(world.u1.claim(device.name, {"secretKey": "value"}), world, device, world.c1_id)
    assert_outcome(world.u1.claim(device.name, {"secretKey": "value"}), "CLAIMED")
    assert world.u1.reclaim(device.name).status_code == 200
    world.window(device, {"secretKey": "again", "durationMs": 60000}, expect="opened")
    assert_success(world.u1.claim(device.name, {"secretKey": "again"}), world, device, world.c1_id)


def test_deleted_customer_frees_its_devices(world):
    customer = world.admin.ok("post", "/api/customer", json={"title": uid("Leaving")})
    user = world.new_customer_user(customer["id"]["id"])
    device = world.device()
    world.window(device, GOOD_PAYLOAD)
    assert_success(user.claim(device.name, {"secretKey": "value"}), world, device, customer["id"]["id"])
    assert world.admin.delete(f"/api/customer/{customer['id']['id']}").status_code == 200
    assert world.owner(device) == NULL_UUID
    world.window(device, GOOD_PAYLOAD, expect="opened")
    assert_success(world.u1.claim(device.name, {"secretKey": "value"}), world, device, world.c1_id)
    user.close()


def test_window_header_values_on_the_device_side(world):
    device = world.device()
    r = device_message(world.base_url, device.token, GOOD_PAYLOAD)
    assert (r.status_code, r.headers[WINDOW_HEADER]) == (200, "opened")
    r = device_message(world.base_url, device.token, GOOD_PAYLOAD)
    assert (r.status_code, r.headers[WINDOW_HEADER]) == (200, "kept")
    world.admin.ok("post", f"/api/customer/{world.c1_id}/device/{device.id}")
    r = device_message(world.base_url, device.token, GOOD_PAYLOAD)
    assert (r.status_code, r.headers[WINDOW_HEADER], r.content) == (200, "already-claimed", b"")


def test_window_survives_an_admin_assign_and_unassign(world):
    # ThingsBoard's assign/unassign do not touch the claim-data cache; only claims and reclaims do.
    device = world.device()
    world.window(device, GOOD_PAYLOAD)
    world.admin.ok("post", f"/api/customer/{world.c2_id}/device/{device.id}")
    world.admin.ok("delete", f"/api/customer/device/{device.id}")
    assert_success(world.u1.claim(device.name, {"secretKey": "value"}), world, device, world.c1_id)


def test_deleted_user_can_no_longer_claim_or_reclaim(world):
    user = world.new_customer_user(world.c1_id)
    me = user.ok("get", "/api/auth/user")
    owned, free = world.device(), world.device()
    world.window(owned, GOOD_PAYLOAD)
    assert_success(user.claim(owned.name, {"secretKey": "value"}), world, owned, world.c1_id)
    world.window(free, GOOD_PAYLOAD)
    r = world.admin.delete(f"/api/user/{me['id']['id']}")
    assert r.status_code == 200 and r.content == b""
    assert_error(user.get("/api/auth/user"), 401, 10)
    assert_error(httpx.post(world.base_url + "/api/auth/token", json={"refreshToken": user.refresh_token}), 401, 10)
    # its access token is still unexpired, but the user is gone: nothing it sends may act
    assert_error(user.claim(free.name, {"secretKey": "value"}), 401, 10)
    assert world.owner(free) == NULL_UUID
    assert_error(user.reclaim(owned.name), 401, 10)
    assert world.owner(owned) == world.c1_id
    assert_error(user.get(f"/api/device/{owned.id}"), 401, 10)
    user.close()


def test_user_of_a_deleted_customer_can_no_longer_claim(world):
    customer = world.admin.ok("post", "/api/customer", json={"title": uid("Gone")})
    user = world.new_customer_user(customer["id"]["id"])
    device = world.device()
    world.window(device, GOOD_PAYLOAD)
    assert world.admin.delete(f"/api/customer/{customer['id']['id']}").status_code == 200
    assert_error(user.claim(device.name, {"secretKey": "value"}), 401, 10)
    assert world.owner(device) == NULL_UUID
    # the window was not spent
    assert_success(world.u1.claim(device.name, {"secretKey": "value"}), world, device, world.c1_id)
    user.close()
