"""Who may claim and reclaim (thingsboard.md §3, issue #2 §4), and tenant isolation (issue #2 §3)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from claimd.domain.claiming import ClaimResponse, DeviceClaimMessage
from claimd.domain.errors import AuthenticationFailed, InvalidArgument, NotFound, PermissionDenied
from claimd.domain.model import Authority, Customer, Door, Principal
from claimd.services.claiming import NotClaimed, WindowResult
from claimd.services.common import Origin
from claimd.services.devices import DeviceDraft

DEVICE = Origin(Door.HTTP_DEVICE)
REST = Origin(Door.REST)
MINUTE = 60_000


# permissions -----------------------------------------------------------------------------------
async def test_tenant_admin_cannot_claim(world, container):
    device = await world.device()
    assert await container.claims.open_window(device, DeviceClaimMessage("k", MINUTE), DEVICE) is WindowResult.OPENED
    with pytest.raises(PermissionDenied):
        await container.claims.claim(world.admin, device.name, "k", REST)
    # the refused attempt neither assigned the device nor spent the window
    assert (await container.devices.get(world.admin, device.id)).customer_id is None
    assert (await container.claims.claim(world.u1, device.name, "k", REST)).response is ClaimResponse.SUCCESS


async def test_only_the_owner_or_the_tenant_admin_may_reclaim(world, container):
    claims = container.claims
    device = await world.device()
    await container.devices.assign(world.admin, world.c1.id, device.id, REST)

    with pytest.raises(PermissionDenied):
        await claims.reclaim(world.u2, device.name, REST)
    assert (await container.devices.get(world.admin, device.id)).customer_id == world.c1.id

    assert (await claims.reclaim(world.u1, device.name, REST)).customer_id is None
    assert (await container.devices.get(world.admin, device.id)).customer_id is None

    await container.devices.assign(world.admin, world.c1.id, device.id, REST)
    assert (await claims.reclaim(world.admin, device.name, REST)).customer_id is None
    assert (await container.devices.get(world.admin, device.id)).customer_id is None


async def test_customer_user_reclaiming_an_unassigned_device_hears_it_is_not_claimed(world, container):
    device = await world.device()
    with pytest.raises(NotClaimed, match="not claimed"):
        await container.claims.reclaim(world.u1, device.name, REST)


async def test_unknown_or_empty_device_name(world, container):
    with pytest.raises(NotFound):
        await container.claims.claim(world.u1, "no such device", "k", REST)
    with pytest.raises(NotFound):
        await container.claims.reclaim(world.u1, "no such device", REST)
    with pytest.raises(NotFound):
        await container.claims.reclaim(world.admin, "no such device", REST)
    with pytest.raises(InvalidArgument):
        await container.claims.claim(world.u1, " ", "k", REST)


async def test_device_names_are_exact(world, container):
    device = await world.device("Exact Name")
    assert await container.claims.open_window(device, DeviceClaimMessage("k", MINUTE), DEVICE) is WindowResult.OPENED
    with pytest.raises(NotFound):
        await container.claims.claim(world.u1, "exact name", "k", REST)
    assert (await container.claims.claim(world.u1, "Exact Name", "k", REST)).response is ClaimResponse.SUCCESS


async def test_customer_users_see_only_their_customers_devices(world, container):
    devices = container.devices
    device = await world.device()
    await devices.assign(world.admin, world.c1.id, device.id, REST)
    assert (await devices.get(world.u1, device.id)).id == device.id
    with pytest.raises(PermissionDenied):
        await devices.get(world.u2, device.id)
    with pytest.raises(PermissionDenied):
        await devices.save_attributes(world.u2, "DEVICE", device.id, "SERVER_SCOPE", b'{"claimingAllowed": true}')
    with pytest.raises(PermissionDenied):
        await devices.assign(world.u1, world.c1.id, device.id, REST)
    assert [d.id for d in (await devices.list(world.u1, 0, 100, customer_id=world.c1.id)).data] == [device.id]
    assert (await devices.list(world.u2, 0, 100, customer_id=world.c2.id)).data == []
    with pytest.raises(PermissionDenied):  # another customer's devices
        await devices.list(world.u2, 0, 100, customer_id=world.c1.id)
    with pytest.raises(PermissionDenied):  # the tenant's whole fleet is for tenant admins (as ThingsBoard)
        await devices.list(world.u1, 0, 100)


# tenant isolation ------------------------------------------------------------------------------
@dataclass
class OtherTenant:
    admin: Principal
    customer: Customer
    user: Principal


async def make_other_tenant(container, clock, make_customer_user) -> OtherTenant:
    """A second tenant, as a system administrator makes one: the tenant, then its admin, activated."""
    accounts = container.accounts
    directory = container.directory
    await accounts.ensure_system_admin("sysadmin@other.test", "sysadmin-password")
    sysadmin = container.tokens.principal((await accounts.login("sysadmin@other.test", "sysadmin-password"))[0])
    assert sysadmin.authority is Authority.SYS_ADMIN
    tenant = await directory.save_tenant(sysadmin, "Other tenant")
    made = await directory.create_user(sysadmin, "admin@other.test", Authority.TENANT_ADMIN, None, tenant_id=tenant.id)
    await accounts.activate(await accounts.new_activation_token(sysadmin, made.id), "other-password")
    access, _ = await accounts.login("admin@other.test", "other-password")
    principal = container.tokens.principal(access)
    assert principal.tenant_id == tenant.id and principal.authority is Authority.TENANT_ADMIN
    customer = await directory.save_customer(principal, "Customer C1")  # same title: per tenant
    user = await make_customer_user(principal, customer, "user@other.test")
    return OtherTenant(principal, customer, user)


@pytest.fixture
async def other(world, container, clock, make_customer_user) -> OtherTenant:
    return await make_other_tenant(container, clock, make_customer_user)


async def test_other_tenant_cannot_see_or_change_devices(world, container, other):
    devices = container.devices
    device = await world.device("Shared name")
    await devices.save_attributes(world.admin, "DEVICE", device.id, "SERVER_SCOPE", b'{"x": 1}')

    for call in (
        lambda: devices.get(other.admin, device.id),
        lambda: devices.get(other.user, device.id),
        lambda: devices.get_by_name(other.admin, "Shared name"),
        lambda: devices.credentials(other.admin, device.id),
        lambda: devices.update(other.admin, device.id, DeviceDraft(name="stolen")),
        lambda: devices.assign(other.admin, other.customer.id, device.id, REST),
        lambda: devices.unassign(other.admin, device.id, REST),
        lambda: devices.save_attributes(other.admin, "DEVICE", device.id, "SERVER_SCOPE", b'{"x": 2}'),
        lambda: devices.get_attributes(other.admin, "DEVICE", device.id, None, None),
        lambda: devices.delete_attributes(other.admin, "DEVICE", device.id, "SERVER_SCOPE", ["x"]),
        lambda: devices.delete(other.admin, device.id),
        # and the first tenant cannot hand its device to the other tenant's customer
        lambda: devices.assign(world.admin, other.customer.id, device.id, REST),
    ):
        with pytest.raises(NotFound):
            await call()

    assert (await devices.list(other.admin, 0, 100)).total_elements == 0
    assert (await devices.list(other.user, 0, 100, customer_id=other.customer.id)).total_elements == 0
    with pytest.raises(NotFound):
        await devices.list(other.admin, 0, 100, customer_id=world.c1.id)

    unchanged = await devices.get(world.admin, device.id)
    assert unchanged == device
    attributes = await devices.get_attributes(world.admin, "DEVICE", device.id, "SERVER_SCOPE", None)
    assert [(a.key, a.value) for _s, a in attributes] == [("x", 1)]


async def test_other_tenant_cannot_claim_or_reclaim(world, container, other):
    claims = container.claims
    device = await world.device("Shared name")
    assert await claims.open_window(device, DeviceClaimMessage("k", MINUTE), DEVICE) is WindowResult.OPENED

    with pytest.raises(NotFound):
        await claims.claim(other.user, "Shared name", "k", REST)
    with pytest.raises(NotFound):
        await claims.reclaim(other.admin, "Shared name", REST)
    with pytest.raises(NotFound):
        await claims.reclaim(other.user, "Shared name", REST)

    # the same name in the other tenant is another device: claims resolve within the claimer's tenant
    twin = await container.devices.create(other.admin, DeviceDraft(name="Shared name"), "twin-token")
    assert twin.id != device.id
    assert await claims.open_window(twin, DeviceClaimMessage("t", MINUTE), DEVICE) is WindowResult.OPENED
    result = await claims.claim(other.user, "Shared name", "t", REST)
    assert result.response is ClaimResponse.SUCCESS
    assert result.device.id == twin.id and result.device.customer_id == other.customer.id

    # the first tenant's device and window are untouched
    assert (await container.devices.get(world.admin, device.id)).customer_id is None
    result = await claims.claim(world.u1, "Shared name", "k", REST)
    assert result.response is ClaimResponse.SUCCESS
    assert result.device.id == device.id and result.device.customer_id == world.c1.id


async def test_other_tenant_cannot_see_customers_users_or_audit(world, container, other):
    directory = container.directory
    with pytest.raises(NotFound):
        await directory.get_customer(other.admin, world.c1.id)
    with pytest.raises(NotFound):
        await directory.get_user(other.admin, world.u1.user_id)
    with pytest.raises(NotFound):
        await directory.create_user(other.admin, "intruder@other.test", Authority.CUSTOMER_USER, world.c1.id)
    with pytest.raises(NotFound):
        await directory.list_customer_users(other.admin, world.c1.id, 0, 10)
    with pytest.raises(NotFound):
        await directory.delete_customer(other.admin, world.c1.id)
    assert [c.id for c in (await directory.list_customers(other.admin, 0, 100)).data] == [other.customer.id]

    device = await world.device()
    await container.devices.assign(world.admin, world.c1.id, device.id, REST)
    assert (await container.devices.audit_log(world.admin, 0, 100)).total_elements == 1
    assert (await container.devices.audit_log(other.admin, 0, 100)).total_elements == 0


async def test_deleting_a_customer_releases_its_devices_and_its_users_cannot_claim(world, container):
    claims = container.claims
    owned = await world.device()
    await container.devices.assign(world.admin, world.c1.id, owned.id, REST)
    await container.directory.delete_customer(world.admin, world.c1.id)
    assert (await container.devices.get(world.admin, owned.id)).customer_id is None

    device = await world.device()
    assert await claims.open_window(device, DeviceClaimMessage("k", MINUTE), DEVICE) is WindowResult.OPENED
    # u1's token is still well-formed, but its customer is gone
    with pytest.raises(AuthenticationFailed):
        await claims.claim(world.u1, device.name, "k", REST)
    assert (await container.devices.get(world.admin, device.id)).customer_id is None
    assert (await claims.claim(world.u2, device.name, "k", REST)).response is ClaimResponse.SUCCESS
