"""The console's keyset device list and audit search (FleetService.browse / detail / audit_search) on
the four backends: (name, id) order, every filter, page boundaries, tenant isolation, no secrets."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from claimd.adapters.attestation import new_private_key, public_pem_of
from claimd.domain.device_list import AuditQuery, DeviceKind, DeviceQuery, DeviceState
from claimd.domain.errors import NotFound, PermissionDenied
from claimd.domain.lorawan import LorawanDraft
from claimd.domain.model import AuditAction, Authority, Door, Principal
from claimd.services.common import Origin
from claimd.services.ownership import IdentityDraft

REST = Origin(Door.REST, None)
KEY = "console-secret-key-42"
EVERY = DeviceQuery()


async def names(world: Any, query: DeviceQuery = EVERY, page_size: int = 50) -> list[str]:
    """Every page of the query, following next_after, as one list of names."""
    found: list[str] = []
    after = None
    while True:
        page = await world.container.fleet.browse(world.admin, query, after, page_size)
        assert len(page.items) <= page_size
        found += [item.device.name for item in page.items]
        if page.next_after is None:
            return found
        assert page.next_after == (page.items[-1].device.name, page.items[-1].device.id)
        after = page.next_after


async def fleet(world: Any) -> dict[str, uuid.UUID]:
    """12 devices: a000..a009 and b000, b001; a001, a002 assigned to C1, a003 to C2, a004 blocked,
    a005 tagged "red", a006 with a server-side key,
    LoRaWAN device lw-0001, identity device id-0001."""
    c = world.container
    ids = {}
    for name in [f"a{n:03d}" for n in range(10)] + ["b000", "b001"]:
        ids[name] = (await world.device(name)).id
    await c.devices.assign(world.admin, world.c1.id, ids["a001"], REST)
    await c.devices.assign(world.admin, world.c1.id, ids["a002"], REST)
    await c.devices.assign(world.admin, world.c2.id, ids["a003"], REST)
    await c.ownership.set_blocked(world.admin, ids["a004"], True, REST)
    await c.ownership.tag_device(world.admin, ids["a005"], ["red"], replace_all=False)
    claiming = json.dumps({"claimingData": {"secretKey": KEY, "expirationTime": 4_102_444_800_000}})
    await c.devices.save_attributes(world.admin, "DEVICE", ids["a006"], "SERVER_SCOPE", claiming)
    lw = await c.lorawan.provision(
        world.admin, LorawanDraft(dev_eui="70B3D57ED0000001", join_eui="70B3D57ED0000000", name="lw-0001")
    )
    ids["lw-0001"] = lw.device.id
    identity_id = uuid.uuid4()
    await c.ownership.register_identity(
        world.admin, IdentityDraft(identity_id, public_pem_of(new_private_key()), name="id-0001")
    )
    ids["id-0001"] = identity_id
    return ids


ALL = sorted([f"a{n:03d}" for n in range(10)] + ["b000", "b001", "lw-0001", "id-0001"])


async def test_pages_in_name_order_without_gaps_or_repeats(world: Any) -> None:
    await fleet(world)
    for size in (1, 3, 5, 16, 50):
        assert await names(world, page_size=size) == ALL
    page = await world.container.fleet.browse(world.admin, DeviceQuery(), None, len(ALL))
    assert page.next_after is None  # exactly one full page: no empty "Next page"


async def test_filters(world: Any) -> None:
    ids = await fleet(world)
    assert await names(world, DeviceQuery(name_prefix="a00")) == [f"a{n:03d}" for n in range(10)]
    assert await names(world, DeviceQuery(name_prefix="b")) == ["b000", "b001"]
    assert await names(world, DeviceQuery(name_prefix="A")) == []  # case-sensitive
    assert await names(world, DeviceQuery(name_prefix="a%")) == []  # no pattern characters
    assert await names(world, DeviceQuery(customer_id=world.c1.id), page_size=1) == ["a001", "a002"]
    assert await names(world, DeviceQuery(state=DeviceState.CLAIMED)) == ["a001", "a002", "a003"]
    assert await names(world, DeviceQuery(state=DeviceState.BLOCKED)) == ["a004"]
    unclaimed = [n for n in ALL if n not in ("a001", "a002", "a003", "a004")]
    assert await names(world, DeviceQuery(state=DeviceState.UNCLAIMED), page_size=2) == unclaimed
    assert await names(world, DeviceQuery(tag="red")) == ["a005"]
    assert await names(world, DeviceQuery(tag="blue")) == []
    assert await names(world, DeviceQuery(kind=DeviceKind.KEY)) == ["a006"]
    assert await names(world, DeviceQuery(kind=DeviceKind.LORAWAN)) == ["lw-0001"]
    assert await names(world, DeviceQuery(kind=DeviceKind.IDENTITY)) == ["id-0001"]
    assert await names(world, DeviceQuery(name_prefix="a", state=DeviceState.CLAIMED, customer_id=world.c2.id)) == [
        "a003"
    ]
    page = await world.container.fleet.browse(world.admin, DeviceQuery(name_prefix="a00"), None, 50)
    by_name = {item.device.name: item for item in page.items}
    assert by_name["a001"].owner == "Customer C1" and by_name["a005"].tags == ("red",)
    assert by_name["a004"].state is DeviceState.BLOCKED
    assert ids["a001"] == by_name["a001"].device.id


async def test_an_unknown_owner_and_other_roles_are_refused(world: Any) -> None:
    c = world.container
    with pytest.raises(NotFound):
        await c.fleet.browse(world.admin, DeviceQuery(customer_id=uuid.uuid4()))
    with pytest.raises(PermissionDenied):
        await c.fleet.browse(world.u1, DeviceQuery())
    with pytest.raises(PermissionDenied):
        await c.fleet.browse(world.u1, DeviceQuery(customer_id=world.c1.id))
    with pytest.raises(PermissionDenied):
        await c.fleet.audit_search(world.u1, AuditQuery())


async def other_tenant_admin(world: Any) -> Principal:
    c = world.container
    sysadmin_email, password = "sys@example.test", "sys-password-1"
    await c.accounts.ensure_system_admin(sysadmin_email, password)
    access, _refresh = await c.accounts.login(sysadmin_email, password)
    sysadmin = c.tokens.principal(access)
    tenant = await c.directory.save_tenant(sysadmin, "Other tenant")
    user = await c.directory.create_user(
        sysadmin, "admin@other.test", Authority.TENANT_ADMIN, None, tenant_id=tenant.id
    )
    token = await c.accounts.new_activation_token(sysadmin, user.id)
    access, _refresh = await c.accounts.activate(token, "other-password-1")
    return c.tokens.principal(access)


async def test_tenants_see_only_their_own_devices(world: Any) -> None:
    ids = await fleet(world)
    other = await other_tenant_admin(world)
    c = world.container
    assert (await c.fleet.browse(other, DeviceQuery())).items == []
    assert (await c.fleet.browse(other, DeviceQuery(name_prefix="a"))).items == []
    with pytest.raises(NotFound):
        await c.fleet.browse(other, DeviceQuery(customer_id=world.c1.id))
    with pytest.raises(NotFound):
        await c.fleet.detail(other, ids["a001"])
    assert (await c.fleet.audit_search(other, AuditQuery())).items == []


async def test_detail_shows_no_secret(world: Any) -> None:
    ids = await fleet(world)
    c = world.container
    keyed = await c.fleet.detail(world.admin, ids["a006"])
    assert keyed.claiming_data is not None and keyed.claiming_data.key_set
    assert keyed.claiming_data.expiration_time == 4_102_444_800_000
    assert KEY not in repr(keyed)
    assert all(key != "claimingData" for _scope, key, _value in keyed.attributes)
    lw = await c.fleet.detail(world.admin, ids["lw-0001"])
    assert lw.lorawan is not None and lw.lorawan.dev_eui == "70B3D57ED0000001"
    assert (await c.fleet.detail(world.admin, ids["id-0001"])).identity is not None
    assigned = await c.fleet.detail(world.admin, ids["a001"])
    assert assigned.owner == "Customer C1"
    assert [e.action for e in assigned.history] == [AuditAction.ASSIGN]


async def test_audit_search_filters_and_pages(world: Any) -> None:
    ids = await fleet(world)
    c = world.container
    for _ in range(3):
        await c.devices.unassign(world.admin, ids["a001"], REST)
        await c.devices.assign(world.admin, world.c1.id, ids["a001"], REST)
    every = []
    before = None
    while True:
        page = await c.fleet.audit_search(world.admin, AuditQuery(device_name="a001"), before, 2)
        every += page.items
        if page.next_before is None:
            break
        before = page.next_before
    assert len(every) == 7 and {e.device_id for e in every} == {ids["a001"]}
    assert [(e.created_time, e.id) for e in every] == sorted(((e.created_time, e.id) for e in every), reverse=True)
    assigns = await c.fleet.audit_search(world.admin, AuditQuery(action="ASSIGN"))
    assert {e.action for e in assigns.items} == {AuditAction.ASSIGN} and len(assigns.items) == 6
    outcome = await c.fleet.audit_search(world.admin, AuditQuery(device_name="a003", outcome="ASSIGNED"))
    assert [e.device_id for e in outcome.items] == [ids["a003"]]
