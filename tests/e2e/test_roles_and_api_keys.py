"""Roles (built-in OWNER/ADMIN/EDITOR/VIEWER and tenant roles), who may give them, what they allow
on the ownership API and on ThingsBoard's claim API, the visibility rule of nRF Cloud (devices claimed
by an Admin or Owner are hidden from Editors and Viewers), and per-user API keys — through real HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from http_helpers import GOOD_PAYLOAD, NULL_UUID, Api, World, assert_error, assert_success, problem, uid

from claimd.adapters.attestation import mint_token, new_private_key, public_pem_of

CLAIM = "/v1/claimed-devices"
BUILT_IN = ("OWNER", "ADMIN", "EDITOR", "VIEWER")


# helpers --------------------------------------------------------------------------------------


def user_id(api: Api) -> str:
    return api.ok("get", "/api/auth/user")["id"]["id"]


def set_role(actor: Api, target: Api | str, role: str) -> httpx.Response:
    target_id = target if isinstance(target, str) else user_id(target)
    return actor.put(f"/v1/users/{target_id}/role", json={"role": role})


def give(actor: Api, target: Api, role: str) -> None:
    r = set_role(actor, target, role)
    assert r.status_code == 200, r.text
    assert r.json() == {"userId": user_id(target), "role": role}


@dataclass
class TokenDevice:
    id: str
    key: Any

    def token(self) -> str:
        return mint_token(self.key, uuid.UUID(self.id))


def register(world: World, **fields: Any) -> TokenDevice:
    key, device_id = new_private_key(), str(uuid.uuid4())
    r = world.admin.post("/v1/device-identities", json={"id": device_id, "publicKey": public_pem_of(key), **fields})
    assert r.status_code == 201, r.text
    return TokenDevice(device_id, key)


def claim(api: Api, device: TokenDevice) -> httpx.Response:
    return api.post(CLAIM, json={"claimToken": device.token()})


def owner_of(world: World, device_id: str) -> str:
    return world.admin.ok("get", f"/api/device/{device_id}")["customerId"]["id"]


def listed_ids(api: Api, **params: Any) -> set[str]:
    body = api.ok("get", CLAIM, params={"pageLimit": 1000, **params})
    return {d["id"] for d in body["items"]}


def new_role(world: World, *permissions: str) -> str:
    name = uid("Role")
    r = world.admin.post("/v1/roles", json={"name": name, "permissions": list(permissions)})
    assert r.status_code == 201, r.text
    return name


@pytest.fixture
def users(world: World) -> Iterator[Any]:
    """``users()`` makes a fresh, activated user of customer C1 (closed after the test)."""
    made: list[Api] = []

    def make(customer_id: str | None = None) -> Api:
        api = world.new_customer_user(customer_id or world.c1_id)
        made.append(api)
        return api

    yield make
    for api in made:
        api.close()


# roles ----------------------------------------------------------------------------------------
def test_built_in_roles_are_listed(world):
    for api in (world.admin, world.u1):
        body = api.ok("get", "/v1/roles")
        roles = {r["name"]: r for r in body["items"]}
        assert body["total"] == len(body["items"])
        assert set(BUILT_IN) <= set(roles)
        assert [r["name"] for r in body["items"]][:4] == list(BUILT_IN)
        assert all(roles[name]["builtIn"] is True for name in BUILT_IN)
    viewer, editor, admin, owner = (set(roles[n]["permissions"]) for n in ("VIEWER", "EDITOR", "ADMIN", "OWNER"))
    assert "DEVICE:READ" in viewer and "DEVICE:CLAIM" not in viewer and not any(p.endswith("WRITE") for p in viewer)
    assert viewer < editor and {"DEVICE:CLAIM", "DEVICE:BLOCK", "DEVICE:UNCLAIM"} <= editor
    assert "DEVICE:READ_RESTRICTED" not in editor and "DEVICE:READ_RESTRICTED" in admin
    assert editor < admin < owner and "USER:WRITE" in owner and "USER:WRITE" not in admin
    assert world.u1.ok("get", "/v1/roles/viewer")["name"] == "VIEWER"
    problem(world.u1.get(f"/v1/roles/{uid('Nope')}"), 404, "NOT_FOUND")


def test_custom_role_lifecycle(world, users):
    name = uid("Ops")
    r = world.admin.post(
        "/v1/roles", json={"name": name, "description": "field ops", "permissions": ["DEVICE:READ", "device:claim"]}
    )
    assert r.status_code == 201, r.text
    assert r.json() == {
        "name": name,
        "description": "field ops",
        "builtIn": False,
        "permissions": ["DEVICE:CLAIM", "DEVICE:READ"],
    }
    listed = {x["name"]: x for x in world.admin.ok("get", "/v1/roles")["items"]}
    assert listed[name]["builtIn"] is False and listed[name]["permissions"] == ["DEVICE:CLAIM", "DEVICE:READ"]
    assert world.u1.ok("get", f"/v1/roles/{name}")["permissions"] == ["DEVICE:CLAIM", "DEVICE:READ"]

    problem(world.admin.post("/v1/roles", json={"name": name, "permissions": ["DEVICE:READ"]}), 409, "CONFLICT")
    for built_in in ("VIEWER", "viewer", "Owner"):
        assert (
            "built-in"
            in problem(world.admin.post("/v1/roles", json={"name": built_in, "permissions": []}), 400)["message"]
        )
    unknown = problem(world.admin.post("/v1/roles", json={"name": uid("R"), "permissions": ["DEVICE:FLY"]}), 400)
    assert "DEVICE:FLY" in unknown["message"]
    problem(world.admin.post("/v1/roles", json={"name": "1starts-with-digit", "permissions": []}), 400)
    problem(world.admin.post("/v1/roles", json={"name": "has space", "permissions": []}), 400)
    problem(world.admin.post("/v1/roles", json={"name": uid("R"), "permissions": "DEVICE:READ"}), 400)
    problem(world.admin.post("/v1/roles", json={"name": uid("R")}), 400)
    problem(world.admin.get(f"/v1/roles/{uid('R')}"), 404)  # none of the refused ones was stored

    # customer users (even owners) do not define roles
    problem(world.u1.post("/v1/roles", json={"name": uid("R"), "permissions": ["DEVICE:READ"]}), 403, "FORBIDDEN")
    problem(world.u1.put(f"/v1/roles/{name}", json={"permissions": ["DEVICE:READ"]}), 403)
    problem(world.u1.delete(f"/v1/roles/{name}"), 403)

    r = world.admin.put(
        f"/v1/roles/{name}", json={"permissions": ["DEVICE:READ", "DEVICE:BLOCK"], "description": "changed"}
    )
    assert r.status_code == 200 and r.json()["permissions"] == ["DEVICE:BLOCK", "DEVICE:READ"], r.text
    assert world.admin.ok("get", f"/v1/roles/{name}")["permissions"] == ["DEVICE:BLOCK", "DEVICE:READ"]
    problem(world.admin.put(f"/v1/roles/{uid('R')}", json={"permissions": []}), 404)
    problem(world.admin.put(f"/v1/roles/{name}", json={"permissions": ["NOPE:NOPE"]}), 400)
    problem(world.admin.put("/v1/roles/VIEWER", json={"permissions": ["DEVICE:READ"]}), 400)

    # a role held by a user cannot go; once nobody holds it, it can
    holder = users()
    give(world.admin, holder, name)
    problem(world.admin.delete(f"/v1/roles/{name}"), 409, "CONFLICT")
    assert world.admin.ok("get", f"/v1/roles/{name}")["name"] == name
    give(world.admin, holder, "VIEWER")
    r = world.admin.delete(f"/v1/roles/{name}")
    assert r.status_code == 204 and r.content == b""
    problem(world.admin.get(f"/v1/roles/{name}"), 404)
    assert name not in [x["name"] for x in world.admin.ok("get", "/v1/roles")["items"]]
    problem(world.admin.delete(f"/v1/roles/{name}"), 404)
    problem(world.admin.delete("/v1/roles/OWNER"), 404)


def test_viewer_reads_but_cannot_claim_on_either_api(world, users):
    viewer, editor = users(), users()
    give(world.admin, viewer, "VIEWER")
    give(world.admin, editor, "EDITOR")
    device = register(world)
    # the ownership API: refused at once (the change came through this process)
    problem(claim(viewer, device), 403, "FORBIDDEN")
    problem(viewer.post(CLAIM + "?dryrun=true", json={"claimToken": device.token()}), 403)
    problem(viewer.post("/v1/claim-challenges"), 403)
    assert owner_of(world, device.id) == NULL_UUID
    # ThingsBoard's claim API: a live claim window, refused to the viewer, still there for the editor
    tb_device = world.device()
    world.window(tb_device, GOOD_PAYLOAD)
    assert_error(viewer.claim(tb_device.name, {"secretKey": "value"}), 403)
    assert world.owner(tb_device) == NULL_UUID
    assert_success(editor.claim(tb_device.name, {"secretKey": "value"}), world, tb_device, world.c1_id)
    # the editor claims by token too; the viewer reads it but changes nothing
    r = claim(editor, device)
    assert r.status_code == 201 and r.json()["claimedBy"] == user_id(editor), r.text
    assert device.id in listed_ids(viewer)
    assert viewer.ok("get", f"{CLAIM}/{device.id}")["id"] == device.id
    assert "items" in viewer.ok("get", "/v1/claimed-devices/tags")  # Tag × Read
    problem(viewer.post(f"{CLAIM}/{device.id}/block"), 403)
    problem(viewer.delete(f"{CLAIM}/{device.id}"), 403)
    problem(viewer.put(f"{CLAIM}/{device.id}/tags", json={"tags": ["x=1"]}), 403)
    problem(viewer.post("/v1/claimed-devices/tags", json={"tag": uid()}), 403)
    assert_error(viewer.reclaim(tb_device.name), 403)
    assert world.owner(tb_device) == world.c1_id
    assert owner_of(world, device.id) == world.c1_id and world.u1.ok("get", f"{CLAIM}/{device.id}")["status"] == "READY"


def test_devices_claimed_by_admins_and_owners_are_hidden_from_editors_and_viewers(world, users):
    admin_role, editor, viewer = users(), users(), users()
    give(world.admin, admin_role, "ADMIN")
    give(world.admin, editor, "EDITOR")
    give(world.admin, viewer, "VIEWER")
    device_type = uid("type")
    by_owner, by_admin, by_editor = (register(world, deviceType=device_type) for _ in range(3))
    for api, device in ((world.u1, by_owner), (admin_role, by_admin), (editor, by_editor)):
        assert claim(api, device).status_code == 201
    everything = {by_owner.id, by_admin.id, by_editor.id}
    assert listed_ids(world.u1, deviceType=device_type) == everything
    assert listed_ids(admin_role, deviceType=device_type) == everything
    assert listed_ids(world.admin, deviceType=device_type) == everything
    for api in (editor, viewer):
        body = api.ok("get", CLAIM, params={"deviceType": device_type})
        assert {d["id"] for d in body["items"]} == {by_editor.id} and body["total"] == 1
        assert api.ok("get", f"{CLAIM}/{by_editor.id}")["id"] == by_editor.id
        for hidden in (by_owner, by_admin):
            problem(api.get(f"{CLAIM}/{hidden.id}"), 404, "NOT_FOUND")
    for hidden in (by_owner, by_admin):
        problem(editor.post(f"{CLAIM}/{hidden.id}/block"), 404)
        problem(editor.delete(f"{CLAIM}/{hidden.id}"), 404)
        problem(editor.put(f"{CLAIM}/{hidden.id}/tags", json={"tags": ["x=1"]}), 404)
        assert owner_of(world, hidden.id) == world.c1_id
    # ThingsBoard's customer device list applies the same rule
    names = {
        d["name"]
        for d in editor.ok(
            "get", f"/api/customer/{world.c1_id}/devices", params={"pageSize": 1000, "page": 0, "type": device_type}
        )["data"]
    }
    assert names == {by_editor.id}
    # the admin and owner see and manage the editor's device
    assert admin_role.ok("post", f"{CLAIM}/{by_editor.id}/block")["status"] == "BLOCKED"
    assert editor.ok("get", f"{CLAIM}/{by_editor.id}")["status"] == "BLOCKED"
    assert world.u1.ok("post", f"{CLAIM}/{by_editor.id}/unblock")["status"] == "READY"


def test_an_editor_cannot_read_a_hidden_device_through_a_claim(world, users):
    """Claiming again a device one's customer owns answers the record (200) — unless the device is
    hidden from the caller: then it is a conflict that shows nothing of it."""
    editor = users()
    give(world.admin, editor, "EDITOR")
    device = register(world, imei="352656106118699")
    assert claim(world.u1, device).status_code == 201  # by an OWNER: hidden from editors
    problem(editor.get(f"{CLAIM}/{device.id}"), 404)
    for path in (CLAIM, CLAIM + "?dryrun=true"):
        r = editor.post(path, json={"claimToken": device.token()})
        problem(r, 409, "DEVICE_OWNED_BY_ANOTHER")
        assert "352656106118699" not in r.text and world.c1_id not in r.text
    assert world.u1.ok("get", f"{CLAIM}/{device.id}")["claimedBy"] == user_id(world.u1)
    # a device an editor claimed is simply its customer's: the owner claiming it again gets the record
    mine = register(world)
    assert claim(editor, mine).status_code == 201
    again = claim(world.u1, mine)
    assert again.status_code == 200 and again.json()["id"] == mine.id


def test_a_custom_role_can_claim_but_not_block(world, users):
    role = new_role(world, "DEVICE:READ", "DEVICE:CLAIM")
    user = users()
    give(world.admin, user, role)
    device = register(world)
    r = claim(user, device)
    assert r.status_code == 201 and r.json()["ownerId"] == world.c1_id, r.text
    assert device.id in listed_ids(user)
    problem(user.post(f"{CLAIM}/{device.id}/block"), 403, "FORBIDDEN")
    problem(user.delete(f"{CLAIM}/{device.id}"), 403)
    problem(user.get("/v1/claimed-devices/tags"), 403)
    assert world.u1.ok("get", f"{CLAIM}/{device.id}")["status"] == "READY"
    assert owner_of(world, device.id) == world.c1_id


def test_role_changes_by_the_tenant_apply_at_once(world, users):
    user = users()
    give(world.admin, user, "VIEWER")
    first, second = register(world), register(world)
    problem(claim(user, first), 403)
    give(world.admin, user, "EDITOR")
    assert claim(user, first).status_code == 201  # no wait: the tenant's change came through this process
    give(world.admin, user, "VIEWER")
    problem(claim(user, second), 403)
    assert user.ok("get", f"{CLAIM}/{first.id}")["id"] == first.id

    # changing a tenant role's permissions applies at once to its holders
    role = new_role(world, "DEVICE:READ")
    give(world.admin, user, role)
    problem(claim(user, second), 403)
    r = world.admin.put(f"/v1/roles/{role}", json={"permissions": ["DEVICE:READ", "DEVICE:CLAIM"]})
    assert r.status_code == 200, r.text
    assert claim(user, second).status_code == 201
    r = world.admin.put(f"/v1/roles/{role}", json={"permissions": []})
    assert r.status_code == 200, r.text
    problem(user.get(CLAIM), 403)


def test_who_may_give_which_role(world, users):
    target, other_customer_user = users(), users(world.c2_id)
    # an OWNER (a customer user without a role is one) gives roles to its own customer's users
    give(world.u1, target, "VIEWER")
    problem(claim(target, register(world)), 403)
    give(world.u1, target, "EDITOR")
    assert claim(target, register(world)).status_code == 201
    # ... not to another customer's users, nor to the tenant admin
    problem(set_role(world.u1, other_customer_user, "VIEWER"), 404, "NOT_FOUND")
    problem(set_role(world.u1, world.admin, "VIEWER"), 404)
    problem(set_role(world.u1, str(uuid.uuid4()), "VIEWER"), 404)
    assert claim(other_customer_user, register(world)).status_code == 201  # still an OWNER
    # a tenant admin gives roles to customer users only
    problem(set_role(world.admin, world.admin, "VIEWER"), 400)
    problem(set_role(world.admin, target, uid("NoSuchRole")), 404)
    problem(world.admin.put("/v1/users/not-a-uuid/role", json={"role": "VIEWER"}), 400)
    problem(world.admin.put(f"/v1/users/{user_id(target)}/role", json={}), 400)
    # without User × Write, no role may be given
    problem(set_role(target, world.u1, "VIEWER"), 403, "FORBIDDEN")  # target is an EDITOR
    # with User × Write but fewer rights: not a stronger role than one's own
    manager_role = new_role(world, "USER:WRITE", "DEVICE:READ", "DEVICE:CLAIM")
    weaker_role = new_role(world, "DEVICE:READ")
    manager = users()
    give(world.admin, manager, manager_role)
    for stronger in ("EDITOR", "OWNER", "ADMIN"):
        problem(set_role(manager, target, stronger), 403)
    problem(set_role(manager, target, "VIEWER"), 403)  # VIEWER has TAG:READ etc., which the manager lacks
    problem(set_role(manager, target, weaker_role), 403)  # the target (an EDITOR) has rights the manager lacks
    give(world.admin, target, weaker_role)
    problem(claim(target, register(world)), 403)
    give(manager, target, manager_role)  # now the manager holds every right the target has
    assert claim(target, register(world)).status_code == 201


def test_a_weaker_manager_cannot_demote_an_owner(world, users):
    owner = users()  # a customer user without a role is an OWNER
    manager_role = new_role(world, "USER:WRITE", "DEVICE:READ")
    weaker_role = new_role(world, "DEVICE:READ")
    manager = users()
    give(world.admin, manager, manager_role)
    problem(set_role(manager, owner, weaker_role), 403, "FORBIDDEN")
    problem(set_role(manager, world.u1, weaker_role), 403)
    assert claim(owner, register(world)).status_code == 201  # still an OWNER


# API keys -------------------------------------------------------------------------------------
def with_key(world: World, key: str, scheme: str) -> httpx.Client:
    header = {"Authorization": f"Bearer {key}"} if scheme == "bearer" else {"X-Authorization": f"ApiKey {key}"}
    return httpx.Client(base_url=world.base_url, headers=header, timeout=30)


def new_key(api: Api, name: str | None = None) -> dict[str, Any]:
    r = api.post("/v1/api-keys", json={"name": name or uid("key")})
    assert r.status_code == 201, r.text
    return r.json()


def test_api_key_is_shown_once_and_acts_as_its_user(world):
    created = new_key(world.u1, "ci pipeline")
    assert set(created) == {"id", "name", "prefix", "userId", "createdAt", "key"}
    key = created["key"]
    assert key.startswith("claimd_") and len(key) > 30
    assert key.startswith(created["prefix"]) and len(created["prefix"]) < len(key) - 16
    assert created["name"] == "ci pipeline"
    r = world.u1.get("/v1/api-keys")
    assert r.status_code == 200 and key not in r.text and key[len(created["prefix"]) :] not in r.text
    items = r.json()["items"]
    assert all(set(item) == {"id", "name", "prefix", "userId", "createdAt"} for item in items)
    assert {
        "id": created["id"],
        "name": "ci pipeline",
        "prefix": created["prefix"],
        "userId": created["userId"],
        "createdAt": created["createdAt"],
    } in items
    assert created["id"] not in [k["id"] for k in world.u2.ok("get", "/v1/api-keys")["items"]]

    me = world.u1.ok("get", "/api/auth/user")
    for scheme in ("bearer", "apikey"):
        with with_key(world, key, scheme) as client:
            user = client.get("/api/auth/user")
            assert user.status_code == 200 and user.json()["id"] == me["id"], user.text
            assert user.json()["email"] == me["email"]
            r = client.get(CLAIM)
            assert r.status_code == 200, r.text
            assert all(d["ownerId"] == world.c1_id for d in r.json()["items"])
            device = register(world)
            r = client.post(CLAIM, json={"claimToken": device.token()})
            assert r.status_code == 201 and r.json()["claimedBy"] == me["id"]["id"], r.text
    # a JWT in the standard Authorization header still works beside keys
    assert httpx.get(world.base_url + CLAIM, headers={"Authorization": f"Bearer {world.u1.token}"}).status_code == 200


def test_api_key_revocation(world):
    created = new_key(world.u1)
    key = created["key"]
    with with_key(world, key, "bearer") as client:
        assert client.get(CLAIM).status_code == 200  # used (and cached) before the revocation
        problem(world.u2.delete(f"/v1/api-keys/{created['id']}"), 404, "NOT_FOUND")
        assert client.get(CLAIM).status_code == 200
        r = world.u1.delete(f"/v1/api-keys/{created['id']}")
        assert r.status_code == 204 and r.content == b""
        problem(client.get(CLAIM), 401, "UNAUTHENTICATED")
        assert_error(client.get("/api/auth/user"), 401)
    with with_key(world, key, "apikey") as client:
        problem(client.get(CLAIM), 401)
    assert created["id"] not in [k["id"] for k in world.u1.ok("get", "/v1/api-keys")["items"]]
    problem(world.u1.delete(f"/v1/api-keys/{created['id']}"), 404)
    problem(world.u1.delete("/v1/api-keys/not-a-uuid"), 400)


def test_tenant_admins_list_and_revoke_their_users_keys(world):
    created = new_key(world.u1)
    user_id = created["userId"]
    assert user_id == world.u1.ok("get", "/api/auth/user")["id"]["id"]
    mine = world.admin.ok("get", "/v1/api-keys")["items"]
    assert created["id"] not in [k["id"] for k in mine]  # without a filter: the admin's own keys
    of_user = world.admin.ok("get", "/v1/api-keys", params={"userId": user_id})["items"]
    assert [k["id"] for k in of_user if k["id"] == created["id"]] == [created["id"]]
    assert all(k["userId"] == user_id for k in of_user) and created["key"] not in str(of_user)
    everyone = world.admin.ok("get", "/v1/api-keys", params={"allUsers": "true"})["items"]
    assert created["id"] in [k["id"] for k in everyone]
    # customer users see only their own
    u2_id = world.u2.ok("get", "/api/auth/user")["id"]["id"]
    problem(world.u2.get("/v1/api-keys", params={"userId": user_id}), 403, "FORBIDDEN")
    problem(world.u2.get("/v1/api-keys", params={"allUsers": "true"}), 403, "FORBIDDEN")
    assert world.u2.get("/v1/api-keys", params={"userId": u2_id}).status_code == 200
    with with_key(world, created["key"], "bearer") as client:
        assert client.get(CLAIM).status_code == 200
        r = world.admin.delete(f"/v1/api-keys/{created['id']}")
        assert r.status_code == 204
        problem(client.get(CLAIM), 401, "UNAUTHENTICATED")
    problem(world.admin.delete(f"/v1/api-keys/{created['id']}"), 404)


def test_garbage_keys_and_bad_key_requests(world):
    real = new_key(world.u1)["key"]
    for key in ("claimd_garbage", real[:-1], real + "x", "claimd_"):
        for scheme in ("bearer", "apikey"):
            with with_key(world, key, scheme) as client:
                problem(client.get(CLAIM), 401, "UNAUTHENTICATED")
                assert_error(client.get("/api/auth/user"), 401)
    with httpx.Client(base_url=world.base_url, timeout=30) as client:
        problem(client.get(CLAIM, headers={"X-Authorization": "ApiKey"}), 401)
        problem(client.get(CLAIM, headers={"X-Authorization": "ApiKey not-a-key"}), 401)
        problem(client.get(CLAIM, headers={"Authorization": "Basic dXNlcjpwYXNz"}), 401)
    problem(world.u1.post("/v1/api-keys", json={"name": "  "}), 400)
    problem(world.u1.post("/v1/api-keys", json={}), 400)
    problem(world.u1.post("/v1/api-keys", json={"name": "x" * 256}), 400)


def test_an_api_key_carries_its_users_current_role(world, users):
    viewer = users()
    give(world.admin, viewer, "VIEWER")
    key = new_key(viewer)["key"]
    device = register(world)
    with with_key(world, key, "bearer") as client:
        assert client.get(CLAIM).status_code == 200
        problem(client.post(CLAIM, json={"claimToken": device.token()}), 403, "FORBIDDEN")
        assert owner_of(world, device.id) == NULL_UUID
        give(world.admin, viewer, "EDITOR")
        r = client.post(CLAIM, json={"claimToken": device.token()})  # the key follows the role at once
        assert r.status_code == 201, r.text
        give(world.admin, viewer, "VIEWER")
        problem(client.post(f"{CLAIM}/{device.id}/block"), 403)


def test_a_tenant_admins_key_acts_as_the_tenant_admin(world):
    key = new_key(world.admin)["key"]
    with with_key(world, key, "apikey") as client:
        assert client.get("/api/auth/user").json()["authority"] == "TENANT_ADMIN"
        device_id = str(uuid.uuid4())
        r = client.post("/v1/device-identities", json={"id": device_id, "publicKey": public_pem_of(new_private_key())})
        assert r.status_code == 201, r.text
        assert client.get(f"/v1/device-identities/{device_id}").status_code == 200


def _key_of_a_deleted_user(world: World, users: Any) -> tuple[httpx.Client, Api]:
    user = users()
    key = new_key(user)["key"]
    target = user_id(user)
    client = with_key(world, key, "bearer")
    assert client.get(CLAIM).status_code == 200  # used, so known to this process
    assert world.admin.delete(f"/api/user/{target}").status_code == 200
    assert_error(user.get("/api/auth/user"), 401)  # the user's JWT: refused at once
    return client, user


def test_a_deleted_users_key_is_refused_at_once(world, users):
    client, _ = _key_of_a_deleted_user(world, users)
    try:
        problem(client.get(CLAIM), 401)
    finally:
        client.close()
