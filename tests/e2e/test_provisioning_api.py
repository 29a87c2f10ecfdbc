"""Provisioning commands through real HTTP, every endpoint and error (the main path is
``test_provisioning_flow.py``): the owner's API (create, get, list, cancel, reset; the 20-command
limit; who may see and write; secrets never shown again nor stored in plain text) and the device's
doors (JWT signed by the identity key at ``/v1/provisioning/*``, the access token at
``/api/v1/{token}/provisioning/*``): authentication, blocked and unclaimed devices, ``after``,
``rxMaxSize``, ``limit``, CBOR and JSON, malformed answers, answers to other devices' commands, and
what an unclaim does to open commands."""

from __future__ import annotations

import json
import re
import secrets
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import cbor2
import httpx
import jwt
import pytest
from dbrows import database_rows
from http_helpers import Api, World, assert_error, problem, uid

from claimd.adapters.attestation import (
    mint_device_jwt,
    mint_token,
    new_private_key,
    public_pem_of,
)

CBOR = "application/cbor"
CLAIM = "/v1/claimed-devices"
COMMAND_FIELDS = {
    "id",
    "deviceId",
    "description",
    "request",
    "status",
    "response",
    "createdAt",
    "updatedAt",
    "deliveredAt",
    "createdBy",
}
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
CONFIG = {"config": {"interval": "60"}}
FINISHED: dict[str, Any] = {"finished": {}}


# helpers --------------------------------------------------------------------------------------


def user_id(api: Api) -> str:
    return api.ok("get", "/api/auth/user")["id"]["id"]


def parse_iso(value: str) -> datetime:
    assert ISO_MS.match(value), value
    return datetime.fromisoformat(value)


class DeviceHttp:
    """The device side's HTTP client: one keep-alive client per live server (see ``device_http``)."""

    client: httpx.Client

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


http = DeviceHttp()


@pytest.fixture(scope="module", autouse=True)
def device_http(world: World) -> Iterator[None]:
    with httpx.Client(timeout=30) as client:
        http.client = client
        yield


@dataclass
class TokenDevice:
    """A device registered with an identity key: it claims with ``claim_token()`` and talks to the
    device door with ``jwt()``."""

    id: str
    key: Any

    def claim_token(self) -> str:
        return mint_token(self.key, uuid.UUID(self.id))

    def jwt(self, **kw: Any) -> str:
        return mint_device_jwt(self.key, uuid.UUID(self.id), **kw)


def register(world: World) -> TokenDevice:
    key, device_id = new_private_key(), str(uuid.uuid4())
    r = world.admin.post("/v1/device-identities", json={"id": device_id, "publicKey": public_pem_of(key)})
    assert r.status_code == 201, r.text
    return TokenDevice(device_id, key)


def claim(api: Api, device: TokenDevice) -> None:
    r = api.post(CLAIM, json={"claimToken": device.claim_token()})
    assert r.status_code == 201, r.text


def claimed(world: World, api: Api | None = None) -> TokenDevice:
    device = register(world)
    claim(api or world.u1, device)
    return device


def path(device_id: str, command_id: str | None = None, suffix: str = "") -> str:
    base = f"{CLAIM}/{device_id}/provisioning"
    return (f"{base}/{command_id}" if command_id else base) + suffix


def queue(api: Api, device_id: str, request: dict[str, Any], **extra: Any) -> dict[str, Any]:
    r = api.post(path(device_id), json={"request": request, **extra})
    assert r.status_code == 201, r.text
    return r.json()


def statuses(api: Api, device_id: str) -> dict[str, str]:
    return {c["id"]: c["status"] for c in api.ok("get", path(device_id))["items"]}


def fetch(
    world: World, device: TokenDevice, *, accept: str | None = CBOR, token: str | None = None, **params: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token or device.jwt()}"}
    if accept is not None:
        headers["Accept"] = accept
    return http.get(f"{world.base_url}/v1/provisioning/commands", params=params, headers=headers)


def respond(
    world: World,
    device: TokenDevice,
    body: Any = None,
    *,
    raw: bytes | None = None,
    cbor: bool = True,
    token: str | None = None,
) -> httpx.Response:
    content = raw if raw is not None else (cbor2.dumps(body) if cbor else json.dumps(body).encode())
    headers = {"Authorization": f"Bearer {token or device.jwt()}", "Content-Type": CBOR if cbor else "application/json"}
    return http.post(f"{world.base_url}/v1/provisioning/response", content=content, headers=headers)


def commands(r: httpx.Response) -> list[Any]:
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.headers["content-type"] == CBOR, r.headers
    return cbor2.loads(r.content)


def ids_sent(r: httpx.Response) -> list[str]:
    return [item[0] for item in commands(r)]


@pytest.fixture
def users(world: World) -> Iterator[Any]:
    """``users(role)`` makes a fresh, activated user of customer C1 with ``role`` (closed after the test)."""
    made: list[Api] = []

    def make(role: str | None = None, customer_id: str | None = None) -> Api:
        api = world.new_customer_user(customer_id or world.c1_id)
        made.append(api)
        if role is not None:
            r = world.admin.put(f"/v1/users/{user_id(api)}/role", json={"role": role})
            assert r.status_code == 200, r.text
        return api

    yield make
    for api in made:
        api.close()


# the owner's side: create --------------------------------------------------------------------------
def test_create_answers_201_with_the_full_body(world):
    device = claimed(world)
    before = datetime.now(UTC)
    r = world.u1.post(
        path(device.id), json={"description": "report interval", "request": {"config": {"interval": 60, "gps": True}}}
    )
    assert r.status_code == 201, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == COMMAND_FIELDS, body
    uuid.UUID(body["id"])
    assert body["deviceId"] == device.id and body["description"] == "report interval"
    assert body["request"] == {"config": {"interval": "60", "gps": "true"}}
    assert body["status"] == "PENDING" and body["response"] is None and body["deliveredAt"] is None
    assert body["createdBy"] == user_id(world.u1)
    created = parse_iso(body["createdAt"])
    assert abs((created - before).total_seconds()) < 60 and body["updatedAt"] == body["createdAt"]

    assert world.u1.ok("get", path(device.id, body["id"])) == body
    assert world.u1.ok("get", path(device.id)) == {"items": [body], "total": 1}

    bare = queue(world.u1, device.id, FINISHED)  # no description
    assert bare["description"] is None and bare["request"] == FINISHED


def test_bad_create_bodies_are_400(world):
    device = claimed(world)
    url = path(device.id)
    json_type = {"Content-Type": "application/json"}
    cases = [
        world.u1.post(url, content=b"{not json", headers=json_type),
        world.u1.post(url, content=b"", headers=json_type),
        world.u1.post(url, content=b"\xff\xfe", headers=json_type),
        world.u1.post(url, json=[CONFIG]),
        world.u1.post(url, json="config"),
        world.u1.post(url, json={}),
        world.u1.post(url, json={"description": "no request"}),
        world.u1.post(url, json={"request": None}),
        world.u1.post(url, json={"request": {}}),
        world.u1.post(url, json={"request": {"reboot": {}}}),
        world.u1.post(url, json={"request": {"config": {}, "finished": {}}}),
        world.u1.post(url, json={"request": {"preSharedKey": {"secTag": 1, "identity": "x", "secret": "xyz"}}}),
        world.u1.post(url, json={"request": {"clientCertificate": {"secTag": "1", "content": "x"}}}),
        world.u1.post(url, json={"request": {"clientCertificate": {"secTag": 1, "content": 'a"b'}}}),
        world.u1.post(url, json={"request": {"finished": {"extra": 1}}}),
        world.u1.post(url, json={"request": {"config": {f"k{i}": "v" for i in range(11)}}}),
        world.u1.post(url, json={"request": CONFIG, "description": "d" * 256}),
        world.u1.post(url, json={"request": CONFIG, "description": "a\x00b"}),
    ]
    for r in cases:
        problem(r, 400, "BAD_REQUEST")
    assert world.u1.ok("get", url) == {"items": [], "total": 0}  # none of them was stored


def test_a_description_that_is_not_a_string_is_400(world):
    device = claimed(world)
    for description in ({"a": 1}, ["x"]):
        r = world.u1.post(path(device.id), json={"request": CONFIG, "description": description})
        problem(r, 400, "BAD_REQUEST")


def test_at_most_20_open_commands_cancelled_and_finished_ones_do_not_count(world):
    device = claimed(world)
    made = [queue(world.u1, device.id, {"config": {"n": str(i)}}) for i in range(20)]
    problem(world.u1.post(path(device.id), json={"request": CONFIG}), 409, "TOO_MANY_COMMANDS")
    problem(world.admin.post(path(device.id), json={"request": CONFIG}), 409, "TOO_MANY_COMMANDS")

    assert world.u1.ok("delete", path(device.id, made[0]["id"]))["status"] == "CANCELLED"
    replacement = queue(world.u1, device.id, CONFIG)
    problem(world.u1.post(path(device.id), json={"request": CONFIG}), 409, "TOO_MANY_COMMANDS")

    # the device answers two (one succeeds, one fails): both are finished and free their places
    done = respond(world, device, [[made[1]["id"], 101], [made[2]["id"], 99, 1, "nope"]])
    assert done.json() == {"applied": 2, "ignored": []}
    queue(world.u1, device.id, CONFIG)
    queue(world.u1, device.id, CONFIG)
    problem(world.u1.post(path(device.id), json={"request": CONFIG}), 409, "TOO_MANY_COMMANDS")
    # a reset would make a 21st open one
    problem(world.u1.post(path(device.id, made[1]["id"], "/reset")), 409, "TOO_MANY_COMMANDS")
    assert world.u1.ok("get", path(device.id, made[1]["id"]))["status"] == "SUCCEEDED"
    listed = world.u1.ok("get", path(device.id))
    assert listed["total"] == 23 and sum(c["status"] == "PENDING" for c in listed["items"]) == 20
    assert replacement["id"] in {c["id"] for c in listed["items"]}


def test_concurrent_creates_never_make_more_than_20_open(world):
    device = claimed(world)
    queue(world.u1, device.id, CONFIG)

    def create(_: int) -> int:  # one shared keep-alive client (httpx clients are thread-safe)
        return http.post(
            world.base_url + path(device.id),
            json={"request": CONFIG},
            headers={"X-Authorization": f"Bearer {world.u1.token}"},
        ).status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        codes = list(pool.map(create, range(24)))
    assert sorted(codes) == [201] * 19 + [409] * 5, codes
    assert world.u1.ok("get", path(device.id), params={"status": "PENDING"})["total"] == 20


# get, list ------------------------------------------------------------------------------------------
def test_get_and_list_in_queue_order_with_a_status_filter(world):
    device = claimed(world)
    a, b, c, d = (queue(world.u1, device.id, {"config": {"n": str(i)}}) for i in range(4))
    world.u1.ok("delete", path(device.id, b["id"]))
    assert ids_sent(fetch(world, device)) == [a["id"], c["id"], d["id"]]
    respond(world, device, [[a["id"], 101], [d["id"], 99, 5, "bad"]])
    e = queue(world.u1, device.id, FINISHED)

    listed = world.u1.ok("get", path(device.id))
    assert [x["id"] for x in listed["items"]] == [a["id"], b["id"], c["id"], d["id"], e["id"]] and listed["total"] == 5
    by_status = {
        s: [x["id"] for x in world.u1.ok("get", path(device.id), params={"status": s})["items"]]
        for s in ("PENDING", "IN_PROGRESS", "SUCCEEDED", "FAILED", "CANCELLED")
    }
    assert by_status == {
        "PENDING": [e["id"]],
        "IN_PROGRESS": [c["id"]],
        "SUCCEEDED": [a["id"]],
        "FAILED": [d["id"]],
        "CANCELLED": [b["id"]],
    }
    assert world.u1.ok("get", path(device.id), params={"status": "FAILED"})["total"] == 1
    page = world.u1.ok("get", path(device.id), params={"pageLimit": 2})
    assert [x["id"] for x in page["items"]] == [a["id"], b["id"]]

    got = world.u1.ok("get", path(device.id, c["id"]))
    assert got["status"] == "IN_PROGRESS" and parse_iso(got["deliveredAt"]) >= parse_iso(got["createdAt"])
    failed = world.u1.ok("get", path(device.id, d["id"]))
    assert failed["response"] == {
        "messages": [],
        "cmeError": 5,
        "message": "bad",
        "config": {"cmeError": 5, "message": "bad"},
    }

    for bad in ("pending", "BOGUS", "DONE"):
        problem(world.u1.get(path(device.id), params={"status": bad}), 400, "BAD_REQUEST")
    for bad in (0, 1001, "x"):
        problem(world.u1.get(path(device.id), params={"pageLimit": bad}), 400, "BAD_REQUEST")
    problem(world.u1.get(path(device.id, str(uuid.uuid4()))), 404, "NOT_FOUND")
    problem(world.u1.get(path(device.id, "not-a-uuid")), 400)
    problem(world.u1.get(path("not-a-uuid")), 400)


def test_every_command_of_a_long_history_can_be_listed(world):
    device = claimed(world)
    made = [queue(world.u1, device.id, {"config": {"n": str(i)}})["id"] for i in range(3)]
    page = world.u1.ok("get", path(device.id), params={"pageLimit": 2})
    assert page["total"] == 3, page
    seen = [c["id"] for c in page["items"]]
    while page.get("pageNextToken"):
        page = world.u1.ok("get", path(device.id), params={"pageLimit": 2, "pageNextToken": page["pageNextToken"]})
        seen += [c["id"] for c in page["items"]]
    assert seen == made


# cancel, reset --------------------------------------------------------------------------------------
def test_cancel_an_open_command_and_not_a_finished_one(world):
    device = claimed(world)
    delivered, done = queue(world.u1, device.id, CONFIG), queue(world.u1, device.id, CONFIG)
    fetch(world, device)  # both IN_PROGRESS
    respond(world, device, [[done["id"], 101]])
    pending, later = queue(world.u1, device.id, CONFIG), queue(world.u1, device.id, FINISHED)

    r = world.u1.delete(path(device.id, later["id"]))
    assert r.status_code == 200 and r.json()["status"] == "CANCELLED", r.text
    assert set(r.json()) == COMMAND_FIELDS and r.json()["id"] == later["id"]
    assert world.u1.ok("delete", path(device.id, delivered["id"]))["status"] == "CANCELLED"

    problem(world.u1.delete(path(device.id, done["id"])), 409, "COMMAND_CLOSED")
    problem(world.u1.delete(path(device.id, later["id"])), 409, "COMMAND_CLOSED")  # cancelled already
    problem(world.u1.delete(path(device.id, str(uuid.uuid4()))), 404, "NOT_FOUND")
    assert world.u1.ok("get", path(device.id, done["id"]))["status"] == "SUCCEEDED"

    # the device is not sent them any more, and its late answer to one changes nothing
    assert ids_sent(fetch(world, device)) == [pending["id"]]
    late = respond(world, device, [[delivered["id"], 101]])
    assert late.json() == {"applied": 0, "ignored": [delivered["id"]]}
    assert world.u1.ok("get", path(device.id, delivered["id"]))["status"] == "CANCELLED"


def test_reset_a_finished_command_and_not_an_open_one(world):
    device = claimed(world)
    ok, failed, cancelled, delivered = (queue(world.u1, device.id, {"config": {"n": str(i)}}) for i in range(4))
    world.u1.ok("delete", path(device.id, cancelled["id"]))
    fetch(world, device, limit=2)  # ok, failed
    respond(world, device, [[ok["id"], 101], [failed["id"], 99, 527, "+CME ERROR: 527"]])
    fetch(world, device)  # delivered → IN_PROGRESS
    pending = queue(world.u1, device.id, FINISHED)

    for command in (ok, failed, cancelled):
        r = world.u1.post(path(device.id, command["id"], "/reset"))
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == COMMAND_FIELDS and body["id"] == command["id"]
        assert body["status"] == "PENDING" and body["response"] is None and body["deliveredAt"] is None
    problem(world.u1.post(path(device.id, pending["id"], "/reset")), 409, "COMMAND_CLOSED")
    problem(world.u1.post(path(device.id, delivered["id"], "/reset")), 409, "COMMAND_CLOSED")
    problem(world.u1.post(path(device.id, str(uuid.uuid4()), "/reset")), 404, "NOT_FOUND")
    assert world.u1.ok("get", path(device.id, delivered["id"]))["status"] == "IN_PROGRESS"

    # the reset ones go to the end of the queue, are sent again and can succeed this time
    assert ids_sent(fetch(world, device)) == [delivered["id"], pending["id"], ok["id"], failed["id"], cancelled["id"]]
    assert respond(world, device, [[failed["id"], 101]]).json() == {"applied": 1, "ignored": []}
    assert world.u1.ok("get", path(device.id, failed["id"]))["response"] == {"messages": []}


def test_a_reset_command_reaches_a_device_that_fetches_with_after(world):
    device = claimed(world)
    first, second = queue(world.u1, device.id, CONFIG), queue(world.u1, device.id, FINISHED)
    fetch(world, device)
    respond(world, device, [[first["id"], 99, 1, "failed"], [second["id"], 102]])
    world.u1.ok("post", path(device.id, first["id"], "/reset"))
    # the nRF Provisioning library sends the last correlation id it processed as `after`
    assert ids_sent(fetch(world, device, after=second["id"])) == [first["id"]]


# who may see and write ------------------------------------------------------------------------------
def test_other_customers_and_devices_that_are_not_claimed_are_not_found(world):
    device = claimed(world)
    command = queue(world.u1, device.id, CONFIG)
    for r in (
        world.u2.get(path(device.id)),
        world.u2.get(path(device.id, command["id"])),
        world.u2.post(path(device.id), json={"request": CONFIG}),
        world.u2.delete(path(device.id, command["id"])),
        world.u2.post(path(device.id, command["id"], "/reset")),
    ):
        problem(r, 404, "NOT_FOUND")
    assert world.u1.ok("get", path(device.id, command["id"]))["status"] == "PENDING"

    # a command id of another device, through one's own device
    mine = claimed(world)
    for r in (
        world.u1.get(path(mine.id, command["id"])),
        world.u1.delete(path(mine.id, command["id"])),
        world.u1.post(path(mine.id, command["id"], "/reset")),
    ):
        problem(r, 404, "NOT_FOUND")

    unclaimed = register(world)
    tb_device = world.device()  # a ThingsBoard device nobody was given
    for api in (world.u1, world.admin):
        for device_id in (unclaimed.id, tb_device.id, str(uuid.uuid4())):
            problem(api.get(path(device_id)), 404, "NOT_FOUND")
            problem(api.post(path(device_id), json={"request": CONFIG}), 404, "NOT_FOUND")


def test_a_viewer_reads_commands_but_does_not_queue_cancel_or_reset(world, users):
    editor, viewer = users("EDITOR"), users("VIEWER")
    device = claimed(world, editor)  # claimed by an editor: not hidden from the viewer
    command = queue(editor, device.id, CONFIG)
    assert command["createdBy"] == user_id(editor)
    assert viewer.ok("get", path(device.id))["total"] == 1
    assert viewer.ok("get", path(device.id, command["id"]))["id"] == command["id"]
    problem(viewer.post(path(device.id), json={"request": CONFIG}), 403, "FORBIDDEN")
    problem(viewer.delete(path(device.id, command["id"])), 403, "FORBIDDEN")
    world.u1.ok("delete", path(device.id, command["id"]))
    problem(viewer.post(path(device.id, command["id"], "/reset")), 403, "FORBIDDEN")
    assert world.u1.ok("get", path(device.id))["total"] == 1


def test_an_editor_does_not_see_commands_of_devices_claimed_by_an_owner_or_admin(world, users):
    admin_role, editor, viewer = users("ADMIN"), users("EDITOR"), users("VIEWER")
    by_owner, by_admin, by_editor = claimed(world), claimed(world, admin_role), claimed(world, editor)
    hidden = {d.id: queue(world.u1, d.id, CONFIG) for d in (by_owner, by_admin)}
    for device_id, command in hidden.items():
        for api in (editor, viewer):
            for r in (
                api.get(path(device_id)),
                api.get(path(device_id, command["id"])),
                api.post(path(device_id), json={"request": CONFIG}) if api is editor else None,
                api.delete(path(device_id, command["id"])) if api is editor else None,
                api.post(path(device_id, command["id"], "/reset")) if api is editor else None,
            ):
                if r is not None:
                    problem(r, 404, "NOT_FOUND")
        assert admin_role.ok("get", path(device_id))["total"] == 1  # an admin sees them
    assert world.u1.ok("get", path(by_owner.id))["total"] == 1
    mine = queue(editor, by_editor.id, CONFIG)
    assert [c["id"] for c in world.u1.ok("get", path(by_editor.id))["items"]] == [mine["id"]]
    assert admin_role.ok("delete", path(by_editor.id, mine["id"]))["status"] == "CANCELLED"


def test_a_tenant_admin_queues_for_a_claimed_device(world):
    device = claimed(world)
    by_user = queue(world.u1, device.id, CONFIG)
    by_admin = queue(world.admin, device.id, FINISHED, description="from the tenant")
    assert by_admin["createdBy"] == user_id(world.admin) and by_admin["description"] == "from the tenant"
    assert [c["id"] for c in world.admin.ok("get", path(device.id))["items"]] == [by_user["id"], by_admin["id"]]
    assert statuses(world.u1, device.id) == {by_user["id"]: "PENDING", by_admin["id"]: "PENDING"}
    assert ids_sent(fetch(world, device)) == [by_user["id"], by_admin["id"]]
    assert world.admin.ok("delete", path(device.id, by_user["id"]))["status"] == "CANCELLED"
    assert world.admin.ok("post", path(device.id, by_user["id"], "/reset"))["status"] == "PENDING"


# secrets ----------------------------------------------------------------------------------------------
def test_secrets_are_never_shown_again_nor_stored_in_plain_text(world, live_server):
    device = claimed(world)
    psk_secret = secrets.token_hex(16)
    key_body = f"MIG{secrets.token_hex(24)}"
    key_content = f"-----BEGIN PRIVATE KEY-----\n{key_body}\n-----END PRIVATE KEY-----"
    password = f"pw-{secrets.token_hex(8)}"
    hidden = (psk_secret, key_body, password)

    def clean(r: httpx.Response) -> dict[str, Any]:
        assert r.status_code in (200, 201), r.text
        assert not any(s in r.text for s in hidden), r.text
        return r.json()

    psk = clean(
        world.u1.post(
            path(device.id),
            json={"request": {"preSharedKey": {"secTag": 7, "identity": "dev-7", "secret": psk_secret}}},
        )
    )
    assert psk["request"] == {"preSharedKey": {"secTag": 7, "identity": "dev-7", "secret": "********"}}
    key = clean(
        world.u1.post(
            path(device.id),
            json={"request": {"clientPrivateKey": {"secTag": 8, "content": key_content, "password": password}}},
        )
    )
    assert key["request"] == {"clientPrivateKey": {"secTag": 8, "content": "********", "password": "********"}}

    # the device is sent them: that is what they are for
    sent = commands(fetch(world, device))
    assert sent[1] == [f"{psk['id']}.1", 0, "%CMNG", f'0,7,3,"{psk_secret}"', []]
    assert sent[2] == [key["id"], 0, "%CMNG", f'0,8,2,"{key_content}","{password}"', []]
    respond(world, device, [[f"{psk['id']}.0", 100, "OK"], [f"{psk['id']}.1", 100, "OK"], [key["id"], 99, 1, "x"]])

    clean(world.u1.get(path(device.id)))
    clean(world.admin.get(path(device.id)))
    for command in (psk, key):
        clean(world.u1.get(path(device.id, command["id"])))
        clean(world.u1.post(path(device.id, command["id"], "/reset")))
        clean(world.u1.delete(path(device.id, command["id"])))
        clean(world.u1.get(path(device.id), params={"status": "CANCELLED"}))

    rows = database_rows(live_server)
    assert any(psk["id"] in row for row in rows) and any(key["id"] in row for row in rows)  # the right database
    for s in hidden:
        assert not [row for row in rows if s in row], f"{s!r} is stored in plain text"
    assert not any(s in live_server.log() for s in hidden)


# the device's door: authentication ----------------------------------------------------------------------
@dataclass
class Door:
    device: TokenDevice
    command: dict[str, Any]


@pytest.fixture(scope="module")
def door(world) -> Door:
    """A device claimed by C1 with one pending command that no refused request may touch."""
    device = claimed(world)
    return Door(device, queue(world.u1, device.id, CONFIG))


def _hs256(device: TokenDevice) -> str:
    now = int(time.time())
    return jwt.encode({"iss": device.id, "iat": now, "exp": now + 300}, "a-shared-secret-of-32-bytes-long", "HS256")


def _none(device: TokenDevice) -> str:
    now = int(time.time())
    return jwt.encode({"iss": device.id, "iat": now, "exp": now + 300}, None, "none")


def _es256(device: TokenDevice, key: Any = None, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": f"nRF9160.{device.id}", "iat": now, "exp": now + 300, **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key or device.key, "ES256")


def _tampered(token: str) -> str:
    """The same JWT with its claims changed (a longer lifetime) and the old signature."""
    head, claims, signature = token.split(".")
    decoded = jwt.decode(token, options={"verify_signature": False})
    decoded["exp"] += 60
    forged = jwt.api_jws.base64url_encode(json.dumps(decoded).encode()).decode()
    assert forged != claims
    return f"{head}.{forged}.{signature}"


BAD_AUTHORIZATION = {
    "no-header": lambda d, w: None,
    "bearer-without-token": lambda d, w: "Bearer",
    "basic": lambda d, w: "Basic dXNlcjpwYXNz",
    "bare-jwt": lambda d, w: d.jwt(),
    "not-a-jwt": lambda d, w: "Bearer not-a-jwt",
    "three-junk-parts": lambda d, w: "Bearer a.b.c",
    "hs256": lambda d, w: f"Bearer {_hs256(d)}",
    "alg-none": lambda d, w: f"Bearer {_none(d)}",
    "other-key": lambda d, w: f"Bearer {_es256(d, new_private_key())}",
    "tampered": lambda d, w: f"Bearer {_tampered(d.jwt())}",
    "expired": lambda d, w: f"Bearer {d.jwt(now_s=int(time.time()) - 1000)}",
    "exp-too-far-ahead": lambda d, w: f"Bearer {d.jwt(lifetime_s=3600)}",
    "iat-in-future": lambda d, w: f"Bearer {d.jwt(now_s=int(time.time()) + 200, lifetime_s=100)}",
    "no-exp": lambda d, w: f"Bearer {_es256(d, exp=None)}",
    "no-iss": lambda d, w: f"Bearer {_es256(d, iss=None)}",
    "unknown-device": lambda d, w: f"Bearer {mint_device_jwt(new_private_key(), uuid.uuid4())}",
    "device-without-identity": lambda d, w: f"Bearer {mint_device_jwt(d.key, uuid.UUID(w.device().id))}",
    "oversized": lambda d, w: "Bearer " + "a" * 5000,
}


@pytest.mark.parametrize("make", list(BAD_AUTHORIZATION.values()), ids=list(BAD_AUTHORIZATION))
def test_the_device_door_refuses_bad_credentials_with_401(world, door, make):
    authorization = make(door.device, world)
    headers = {"Accept": CBOR} if authorization is None else {"Accept": CBOR, "Authorization": authorization}
    got = http.get(f"{world.base_url}/v1/provisioning/commands", headers=headers)
    problem(got, 401, "UNAUTHENTICATED")
    posted = http.post(
        f"{world.base_url}/v1/provisioning/response",
        content=cbor2.dumps([[door.command["id"], 101]]),
        headers={**headers, "Content-Type": CBOR},
    )
    problem(posted, 401, "UNAUTHENTICATED")
    assert world.u1.ok("get", path(door.device.id, door.command["id"]))["status"] == "PENDING"


def test_issuer_forms_of_a_good_jwt_are_accepted(world):
    device = claimed(world)
    command = queue(world.u1, device.id, CONFIG)
    for token in (
        device.jwt(),
        device.jwt(issuer_prefix="nRF9160."),
        _es256(device, iss=device.id.upper()),
        _es256(device, iss=uuid.UUID(device.id).hex),
    ):
        assert ids_sent(fetch(world, device, token=token)) == [command["id"]]
    scheme = http.get(
        f"{world.base_url}/v1/provisioning/commands",
        headers={"Authorization": f"bearer {device.jwt()}", "Accept": CBOR},
    )
    assert ids_sent(scheme) == [command["id"]]


def test_a_registered_device_nobody_claimed_is_403_not_claimed(world):
    device = register(world)
    problem(fetch(world, device), 403, "DEVICE_NOT_CLAIMED")
    problem(respond(world, device, [[str(uuid.uuid4()), 101]]), 403, "DEVICE_NOT_CLAIMED")


def test_a_blocked_device_gets_nothing_and_its_commands_stay_pending(world):
    device = claimed(world)
    first, second = queue(world.u1, device.id, CONFIG), queue(world.u1, device.id, FINISHED)
    world.u1.ok("post", f"{CLAIM}/{device.id}/block")
    for accept in (CBOR, "application/json"):
        problem(fetch(world, device, accept=accept), 403, "DEVICE_BLOCKED")
    problem(respond(world, device, [[first["id"], 101]]), 403, "DEVICE_BLOCKED")
    problem(respond(world, device, [[first["id"], 101]], cbor=False), 403, "DEVICE_BLOCKED")
    for command in (first, second):
        got = world.u1.ok("get", path(device.id, command["id"]))
        assert got["status"] == "PENDING" and got["deliveredAt"] is None and got["response"] is None
    # the owner still queues for it; the device gets everything once unblocked
    third = queue(world.u1, device.id, CONFIG)
    world.u1.ok("post", f"{CLAIM}/{device.id}/unblock")
    assert ids_sent(fetch(world, device)) == [first["id"], second["id"], third["id"]]

    # a tenant's block too
    world.admin.ok("post", f"{CLAIM}/{device.id}/block")
    problem(fetch(world, device), 403, "DEVICE_BLOCKED")
    world.admin.ok("post", f"{CLAIM}/{device.id}/unblock")
    assert fetch(world, device).status_code == 200


# the device's door: what it is sent ------------------------------------------------------------------------
def test_after_skips_commands_up_to_that_one(world):
    device = claimed(world)
    a = queue(world.u1, device.id, CONFIG)
    b = queue(world.u1, device.id, {"preSharedKey": {"secTag": 3, "identity": "id", "secret": "00ff"}})
    c = queue(world.u1, device.id, FINISHED)
    assert ids_sent(fetch(world, device, after=b["id"])) == [c["id"]]
    assert statuses(world.u1, device.id) == {a["id"]: "PENDING", b["id"]: "PENDING", c["id"]: "IN_PROGRESS"}
    assert ids_sent(fetch(world, device, after=a["id"])) == [f"{b['id']}.0", f"{b['id']}.1", c["id"]]
    assert statuses(world.u1, device.id)[a["id"]] == "PENDING"
    assert fetch(world, device, after=c["id"]).status_code == 204
    # an unknown, foreign or malformed mark is no mark
    other = claimed(world)
    foreign = queue(world.u1, other.id, CONFIG)
    for mark in (str(uuid.uuid4()), foreign["id"], "junk", ""):
        assert ids_sent(fetch(world, device, after=mark)) == [a["id"], f"{b['id']}.0", f"{b['id']}.1", c["id"]]


def test_an_after_mark_with_unicode_digits_is_not_a_server_error(world):
    device = claimed(world)
    command = queue(world.u1, device.id, CONFIG)
    r = fetch(world, device, after=f"{command['id']}.²")
    assert r.status_code < 500, r.text


def test_rx_max_size_sends_fewer_commands_but_at_least_one(world):
    device = claimed(world)
    made = [
        queue(world.u1, device.id, {"clientCertificate": {"secTag": 20 + i, "content": "A" * 600}}) for i in range(3)
    ]
    items = [[m["id"], 0, "%CMNG", f'0,{20 + i},1,"{"A" * 600}"', []] for i, m in enumerate(made)]
    two = len(cbor2.dumps(items[:2]))

    assert commands(fetch(world, device, rxMaxSize=64)) == items[:1]  # too small even for one: one
    assert statuses(world.u1, device.id) == {
        made[0]["id"]: "IN_PROGRESS",
        made[1]["id"]: "PENDING",
        made[2]["id"]: "PENDING",
    }
    assert commands(fetch(world, device, rxMaxSize=two - 1)) == items[:1]
    assert commands(fetch(world, device, rxMaxSize=two)) == items[:2]
    assert statuses(world.u1, device.id)[made[2]["id"]] == "PENDING"
    assert commands(fetch(world, device, rxMaxSize=100_000)) == items
    # in JSON the JSON size counts
    as_json = json.dumps(
        [
            {
                "correlationId": made[0]["id"],
                "type": "AT",
                "setCommand": "%CMNG",
                "parameters": items[0][3],
                "ignoreCmeErrors": [],
            }
        ],
        separators=(",", ":"),
    ).encode()
    r = fetch(world, device, accept="application/json", rxMaxSize=len(as_json) + 10)
    assert r.status_code == 200 and len(r.json()) == 1 and len(r.content) == len(as_json)
    problem(fetch(world, device, rxMaxSize=63), 400, "BAD_REQUEST")
    problem(fetch(world, device, rxMaxSize="big"), 400, "BAD_REQUEST")


def test_the_nrf_provisioning_librarys_query_is_accepted(world):
    device = claimed(world)
    command = queue(world.u1, device.id, CONFIG)
    r = fetch(world, device, after="", rxMaxSize=4096, txMaxSize=4096, mver="mfw_nrf9160_1.3.5", cver="2.6.0", limit=10)
    assert ids_sent(r) == [command["id"]]


def test_limit_counts_commands(world):
    device = claimed(world)
    psk = queue(world.u1, device.id, {"preSharedKey": {"secTag": 3, "identity": "id", "secret": "00ff"}})
    a, b = queue(world.u1, device.id, CONFIG), queue(world.u1, device.id, FINISHED)
    assert ids_sent(fetch(world, device, limit=1)) == [f"{psk['id']}.0", f"{psk['id']}.1"]
    assert statuses(world.u1, device.id) == {psk["id"]: "IN_PROGRESS", a["id"]: "PENDING", b["id"]: "PENDING"}
    assert ids_sent(fetch(world, device, limit=2, after=psk["id"])) == [a["id"], b["id"]]
    for bad in (0, 101, -1, "x"):
        problem(fetch(world, device, limit=bad), 400, "BAD_REQUEST")


def test_many_commands_are_sent_20_at_a_time_by_default(world):
    device = claimed(world)
    made = [queue(world.u1, device.id, {"config": {"n": str(i)}})["id"] for i in range(20)]
    assert ids_sent(fetch(world, device)) == made
    assert ids_sent(fetch(world, device, limit=100)) == made
    assert ids_sent(fetch(world, device, limit=5)) == made[:5]


def test_json_form_unless_the_device_asks_for_cbor(world):
    device = claimed(world)
    config = queue(world.u1, device.id, CONFIG)
    at = queue(
        world.u1,
        device.id,
        {"atCommand": {"setCommand": "AT%XSYSTEMMODE", "parameters": "1,0,1,0", "ignoreCmeErrors": [527]}},
    )
    done = queue(world.u1, device.id, FINISHED)
    expected = [
        {"correlationId": config["id"], "type": "CONFIG", "properties": {"interval": "60"}},
        {
            "correlationId": at["id"],
            "type": "AT",
            "setCommand": "%XSYSTEMMODE",
            "parameters": "1,0,1,0",
            "ignoreCmeErrors": [527],
        },
        {"correlationId": done["id"], "type": "FINISHED"},
    ]
    for accept in (None, "application/json", "*/*", "text/plain"):
        r = fetch(world, device, accept=accept)
        assert r.status_code == 200 and r.headers["content-type"] == "application/json", (accept, r.headers)
        assert r.json() == expected
    for accept in (CBOR, "application/json;q=0.5, application/cbor", "Application/CBOR"):
        assert commands(fetch(world, device, accept=accept)) == [
            [config["id"], 1, {"interval": "60"}],
            [at["id"], 0, "%XSYSTEMMODE", "1,0,1,0", [527]],
            [done["id"], 2],
        ]


# the device's door: what it answers --------------------------------------------------------------------------
def test_answers_in_cbor_and_json_and_what_is_ignored(world):
    device = claimed(world)
    psk = queue(world.u1, device.id, {"preSharedKey": {"secTag": 3, "identity": "id", "secret": "00ff"}})
    config, csr, done, cancelled = (
        queue(world.u1, device.id, r)
        for r in (CONFIG, {"certificateSigningRequest": {"secTag": 4, "attributes": "CN=x"}}, FINISHED, FINISHED)
    )
    world.u1.ok("delete", path(device.id, cancelled["id"]))
    unknown = str(uuid.uuid4())

    r = respond(
        world,
        device,
        [
            [f"{psk['id']}.1", 100, "too early"],
            [f"{psk['id']}.0", 100, "id ok"],
            [unknown, 101],
            [cancelled["id"], 102],
        ],
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json"), r.text
    assert r.json() == {"applied": 1, "ignored": [f"{psk['id']}.1", unknown, cancelled["id"]]}
    assert world.u1.ok("get", path(device.id, psk["id"]))["status"] == "IN_PROGRESS"

    r = respond(
        world,
        device,
        [
            {"correlationId": f"{psk['id']}.1", "type": "AT", "message": "key ok"},
            {"correlationId": config["id"], "type": "CONFIG_ACK"},
            [csr["id"], 99, 514, "+CME ERROR: 514"],
        ],
        cbor=False,
    )
    assert r.status_code == 200 and r.json() == {"applied": 3, "ignored": []}, r.text
    r = respond(world, device, [[done["id"], 102], [config["id"], 101]], cbor=False)
    assert r.json() == {"applied": 1, "ignored": [config["id"]]}  # already answered

    got = {c["id"]: c for c in world.u1.ok("get", path(device.id))["items"]}
    assert (got[psk["id"]]["status"], got[psk["id"]]["response"]) == (
        "SUCCEEDED",
        {"messages": ["id ok", "key ok"], "preSharedKey": {"message": "key ok"}},
    )
    assert (got[config["id"]]["status"], got[config["id"]]["response"]) == ("SUCCEEDED", {"messages": []})
    assert got[csr["id"]]["status"] == "FAILED"
    assert got[csr["id"]]["response"] == {
        "messages": [],
        "cmeError": 514,
        "message": "+CME ERROR: 514",
        "certificateSigningRequest": {"cmeError": 514, "message": "+CME ERROR: 514"},
    }
    assert got[done["id"]]["status"] == "SUCCEEDED" and got[cancelled["id"]]["status"] == "CANCELLED"
    assert fetch(world, device).status_code == 204


def test_answers_with_a_content_type_parameter_are_cbor(world):
    device = claimed(world)
    command = queue(world.u1, device.id, CONFIG)
    r = http.post(
        f"{world.base_url}/v1/provisioning/response",
        content=cbor2.dumps([[command["id"], 101]]),
        headers={"Authorization": f"Bearer {device.jwt()}", "Content-Type": "application/cbor; x=1"},
    )
    assert r.status_code == 200 and r.json() == {"applied": 1, "ignored": []}, r.text


def test_a_csr_result_is_shown_as_nrf_cloud_shows_it(world):
    device = claimed(world)
    csr = queue(world.u1, device.id, {"certificateSigningRequest": {"secTag": 4, "attributes": "CN=x"}})
    respond(world, device, [[csr["id"], 100, "MIIBCSR.COSE"]])
    got = world.u1.ok("get", path(device.id, csr["id"]))
    assert got["status"] == "SUCCEEDED"
    shown = got["response"].get("certificateSigningRequest") or {}
    assert "MIIBCSR" in (shown.get("csr") or shown.get("message") or ""), got["response"]


MALFORMED = {
    "not-cbor": (b"\xff\xff", True),
    "not-json": (b"{nope", False),
    "cbor-sent-as-json": (cbor2.dumps([[str(uuid.UUID(int=1)), 101]]), False),
    "empty-cbor": (b"", True),
    "empty-json": (b"", False),
    "cbor-map": (cbor2.dumps({"a": 1}), True),
    "json-object": (json.dumps({"correlationId": str(uuid.UUID(int=1)), "type": "CONFIG_ACK"}).encode(), False),
    "empty-list": (cbor2.dumps([]), True),
    "101-items": (cbor2.dumps([[str(uuid.UUID(int=1)), 101]] * 101), True),
    "cme-not-int": (cbor2.dumps([[str(uuid.UUID(int=1)), 99, "514", "x"]]), True),
    "at-without-message": (cbor2.dumps([[str(uuid.UUID(int=1)), 100]]), True),
    "ack-with-field": (cbor2.dumps([[str(uuid.UUID(int=1)), 101, "x"]]), True),
    "unknown-type": (cbor2.dumps([[str(uuid.UUID(int=1)), 103]]), True),
    "unknown-json-type": (json.dumps([{"correlationId": str(uuid.UUID(int=1)), "type": "DONE"}]).encode(), False),
    "bad-correlation": (cbor2.dumps([["not-a-uuid", 101]]), True),
    "item-not-a-list": (cbor2.dumps([5]), True),
    "oversized": (b"[" + b" " * (256 * 1024) + b"]", False),
}


@pytest.mark.parametrize(("body", "cbor"), list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_answers_are_400_and_change_nothing(world, door, body, cbor):
    r = respond(world, door.device, raw=body, cbor=cbor)
    if len(body) > 256 * 1024:  # past the answer's own body limit
        problem(r, 413, "TOO_LARGE")
    else:
        problem(r, 400, "BAD_REQUEST")
    # one good answer with a bad one: the whole body is refused
    mixed = cbor2.dumps([[door.command["id"], 101], ["bad", 101]])
    problem(respond(world, door.device, raw=mixed), 400, "BAD_REQUEST")
    assert world.u1.ok("get", path(door.device.id, door.command["id"]))["status"] == "PENDING"


def test_a_huge_integer_in_a_cbor_answer_is_400(world, door):
    r = respond(world, door.device, raw=cbor2.dumps([[10**5000, 101]]))
    problem(r, 400, "BAD_REQUEST")


def test_a_device_cannot_answer_another_devices_commands(world):
    target = claimed(world)
    command = queue(world.u1, target.id, CONFIG)
    same_owner, other_owner = claimed(world), claimed(world, world.u2)
    for device in (same_owner, other_owner):
        r = respond(world, device, [[command["id"], 101]])
        assert r.status_code == 200 and r.json() == {"applied": 0, "ignored": [command["id"]]}, r.text
        # nor fetch them by naming them
        assert fetch(world, device, after=command["id"]).status_code == 204
    # a device's JWT with another device's UUID in iss does not verify
    problem(fetch(world, target, token=mint_device_jwt(other_owner.key, uuid.UUID(target.id))), 401)
    assert world.u1.ok("get", path(target.id, command["id"]))["status"] == "PENDING"


# the access-token door --------------------------------------------------------------------------------------
def test_the_access_token_door(world):
    device = world.device(name=uid("prov"))
    url = f"{world.base_url}/api/v1/{device.token}/provisioning"
    assert_error(http.get(f"{url}/commands"), 403)  # nobody's yet
    assert world.admin.ok("post", f"/api/customer/{world.c1_id}/device/{device.id}")
    assert http.get(f"{url}/commands").status_code == 204
    command = queue(world.u1, device.id, {"clientPrivateKeyGeneration": {"secTag": 16842753}})

    r = http.get(f"{url}/commands", params={"limit": 5}, headers={"Accept": CBOR})
    assert commands(r) == [[command["id"], 0, "%KEYGEN", "16842753,2,1", []]]
    r = http.post(
        f"{url}/response",
        content=cbor2.dumps([[command["id"], 100, "-----BEGIN PUBLIC KEY-----"]]),
        headers={"Content-Type": CBOR},
    )
    assert r.status_code == 200 and r.json() == {"applied": 1, "ignored": []}, r.text
    got = world.u1.ok("get", path(device.id, command["id"]))
    assert got["status"] == "SUCCEEDED" and got["response"] == {
        "messages": ["-----BEGIN PUBLIC KEY-----"],
        "clientPrivateKeyGeneration": {"message": "-----BEGIN PUBLIC KEY-----"},
    }

    # errors in ThingsBoard's form (this is ThingsBoard's device API path)
    assert_error(http.post(f"{url}/response", content=b"{nope", headers={"Content-Type": "application/json"}), 400)
    assert_error(http.get(f"{url}/commands", params={"limit": 0}), 400)
    world.u1.ok("post", f"{CLAIM}/{device.id}/block")
    assert_error(http.get(f"{url}/commands"), 403)
    assert_error(http.post(f"{url}/response", json=[[command["id"], 101]]), 403)
    world.u1.ok("post", f"{CLAIM}/{device.id}/unblock")

    unknown = f"{world.base_url}/api/v1/{uid('unknown-token')}/provisioning"
    assert_error(http.get(f"{unknown}/commands"), 401)
    assert_error(http.post(f"{unknown}/response", json=[[command["id"], 101]]), 401)

    # a token device's JWT is not an access token, and its commands are not another device's
    other = claimed(world)
    other_command = queue(world.u1, other.id, CONFIG)
    r = http.post(f"{url}/response", json=[[other_command["id"], 101]])
    assert r.json() == {"applied": 0, "ignored": [other_command["id"]]}
    assert_error(http.get(f"{world.base_url}/api/v1/{other.jwt()}/provisioning/commands"), 401)


# unclaim --------------------------------------------------------------------------------------------------
def test_unclaiming_cancels_open_commands_and_the_next_owner_sees_none(world):
    device = claimed(world)
    delivered, pending = queue(world.u1, device.id, CONFIG), queue(world.u1, device.id, FINISHED)
    done = queue(world.u1, device.id, CONFIG)
    fetch(world, device, limit=1)
    respond(world, device, [[done["id"], 101]])
    r = world.u1.delete(f"{CLAIM}/{device.id}")
    assert r.status_code == 204, r.text
    problem(world.u1.get(path(device.id)), 404, "NOT_FOUND")
    problem(fetch(world, device), 403, "DEVICE_NOT_CLAIMED")

    # claimed again by the same customer: the history shows them cancelled, the device gets nothing
    claim(world.u1, device)
    assert statuses(world.u1, device.id) == {
        delivered["id"]: "CANCELLED",
        pending["id"]: "CANCELLED",
        done["id"]: "SUCCEEDED",
    }
    assert fetch(world, device).status_code == 204
    assert respond(world, device, [[pending["id"], 102]]).json() == {"applied": 0, "ignored": [pending["id"]]}
    open_again = queue(world.u1, device.id, CONFIG)

    # claimed by another customer: nothing of C1's shows or is sent
    assert world.u1.delete(f"{CLAIM}/{device.id}").status_code == 204
    claim(world.u2, device)
    assert world.u2.ok("get", path(device.id)) == {"items": [], "total": 0}
    problem(world.u2.get(path(device.id, open_again["id"])), 404, "NOT_FOUND")
    problem(world.u2.post(path(device.id, done["id"], "/reset")), 404, "NOT_FOUND")
    assert fetch(world, device).status_code == 204
    assert respond(world, device, [[open_again["id"], 101]]).json() == {"applied": 0, "ignored": [open_again["id"]]}
    mine = queue(world.u2, device.id, FINISHED)
    assert ids_sent(fetch(world, device)) == [mine["id"]]
    problem(world.u1.get(path(device.id)), 404, "NOT_FOUND")


def test_the_open_commands_of_a_deleted_customer_do_not_count_against_the_next_owner(world):
    customer = world.admin.ok("post", "/api/customer", json={"title": uid("Customer C3")})["id"]["id"]
    user = world.new_customer_user(customer)
    try:
        device = claimed(world, user)
        for i in range(20):
            queue(user, device.id, {"config": {"n": str(i)}})
    finally:
        user.close()
    assert world.admin.delete(f"/api/customer/{customer}").status_code == 200
    claim(world.u1, device)
    assert world.u1.ok("get", path(device.id)) == {"items": [], "total": 0}
    assert fetch(world, device).status_code == 204
    r = world.u1.post(path(device.id), json={"request": CONFIG})
    assert r.status_code == 201, r.text
