"""The system administrator and tenants in the service layer, on every backend (issue 21)."""

from __future__ import annotations

import pytest

from claimd.domain.claiming import DeviceClaimMessage
from claimd.domain.errors import AuthenticationFailed, Conflict, InvalidArgument, NotFound, PermissionDenied
from claimd.domain.model import NULL_UUID, Authority, Door
from claimd.services.common import Origin
from claimd.services.devices import DeviceDraft

ADMIN_EMAIL, ADMIN_PASSWORD = "admin@tenant.test", "admin-password"  # the world fixture's (tests/conftest.py)

SYS_EMAIL, SYS_PASSWORD = "root@example.com", "root-password"


async def sysadmin_of(container):
    assert await container.accounts.ensure_system_admin(SYS_EMAIL, SYS_PASSWORD) is not None
    return container.tokens.principal((await container.accounts.login(SYS_EMAIL, SYS_PASSWORD))[0])


async def test_an_existing_database_gains_a_system_administrator_once(world, container):
    """An upgrade from a version without one: tenants exist, the system administrator is made on the
    next start, and only then."""
    accounts = container.accounts
    directory = container.directory
    made = await accounts.ensure_system_admin(None, None)
    assert made is not None and made.email == "sysadmin@claimd.local" and made.password
    assert await accounts.ensure_system_admin(None, None) is None
    assert await accounts.ensure_system_admin("other@example.com", "other-password") is None
    principal = container.tokens.principal((await accounts.login(made.email, made.password))[0])
    assert principal.authority is Authority.SYS_ADMIN and principal.tenant_id == NULL_UUID
    user = await directory.get_user(principal, principal.user_id)
    assert user.tenant_id == NULL_UUID and user.customer_id is None


async def test_a_database_emptied_of_tenants_gets_no_default_tenant_back(container):
    accounts = container.accounts
    directory = container.directory
    assert await accounts.ensure_first_tenant(ADMIN_EMAIL, ADMIN_PASSWORD) is not None
    sysadmin = await sysadmin_of(container)
    (default,) = (await directory.list_tenants(sysadmin, 0, 10)).data
    await directory.delete_tenant(sysadmin, default.id)
    assert await accounts.ensure_first_tenant(ADMIN_EMAIL, ADMIN_PASSWORD) is None
    assert (await directory.list_tenants(sysadmin, 0, 10)).total_elements == 0


async def test_the_first_users_cannot_share_an_email(container):
    assert await container.accounts.ensure_first_tenant("ops@example.com", "password-1") is not None
    with pytest.raises(Conflict, match=r"ops@example\.com already exists"):
        await container.accounts.ensure_system_admin("ops@example.com", "password-2")


async def test_deleting_a_tenant_removes_everything_in_it(world, container):
    accounts = container.accounts
    directory = container.directory
    sysadmin = await sysadmin_of(container)
    tenant = await directory.save_tenant(sysadmin, "Doomed", "ops@doomed.test", {"city": "Oslo", "nonsense": "x"})
    assert tenant.contact == {"city": "Oslo"}
    admin_user = await directory.create_user(
        sysadmin, "admin@doomed.test", Authority.TENANT_ADMIN, None, tenant_id=tenant.id
    )
    await accounts.activate(await accounts.new_activation_token(sysadmin, admin_user.id), "doomed-password")
    admin = container.tokens.principal((await accounts.login("admin@doomed.test", "doomed-password"))[0])
    key = await container.access.create_key(admin, "ci")
    device = await world.device()  # in the world's tenant: must survive
    doomed = await container.devices.create(admin, DeviceDraft(name="doomed"), "doomed-token")
    await container.claims.open_window(doomed, DeviceClaimMessage("k", 60_000), Origin(Door.HTTP_DEVICE))

    await directory.delete_tenant(sysadmin, tenant.id)

    with pytest.raises(NotFound):
        await directory.get_tenant(sysadmin, tenant.id)
    with pytest.raises(AuthenticationFailed):
        await accounts.ensure_active(admin)
    with pytest.raises(AuthenticationFailed):
        await container.access.principal_for_key(key.key, None)
    with pytest.raises(AuthenticationFailed):
        await container.devices.by_access_token("doomed-token")
    async with container.claims.uow() as tx:
        assert (await tx.repo.count_users()) == 4  # the world's admin and two users, and the system administrator
    assert (await container.devices.get(world.admin, device.id)).id == device.id


async def test_who_may_do_what_with_tenants(world, container):
    accounts = container.accounts
    directory = container.directory
    sysadmin = await sysadmin_of(container)
    for principal in (world.admin, world.u1):
        with pytest.raises(PermissionDenied):
            await directory.save_tenant(principal, "Rogue")
        with pytest.raises(PermissionDenied):
            await directory.list_tenants(principal, 0, 10)
        with pytest.raises(PermissionDenied):
            await directory.delete_tenant(principal, world.admin.tenant_id)
    assert (await directory.get_tenant(world.admin, world.admin.tenant_id)).title == "Default"
    with pytest.raises(PermissionDenied):
        await directory.get_tenant(world.u1, world.admin.tenant_id)
    # the system administrator makes tenant admins only, into a tenant that exists
    with pytest.raises(PermissionDenied):
        await directory.create_user(
            sysadmin, "c@example.com", Authority.CUSTOMER_USER, world.c1.id, tenant_id=world.admin.tenant_id
        )
    with pytest.raises(InvalidArgument):
        await directory.create_user(sysadmin, "t@example.com", Authority.TENANT_ADMIN, None)
    with pytest.raises(NotFound):
        await directory.create_user(sysadmin, "t@example.com", Authority.TENANT_ADMIN, None, tenant_id=world.c1.id)
    # it administers tenant admins, not customer users; a tenant admin never the system administrator
    with pytest.raises(NotFound):
        await directory.get_user(sysadmin, world.u1.user_id)
    with pytest.raises(NotFound):
        await accounts.new_reset_token(sysadmin, world.u1.user_id)
    assert (await directory.get_user(sysadmin, world.admin.user_id)).email == ADMIN_EMAIL
    with pytest.raises(NotFound):
        await directory.get_user(world.admin, sysadmin.user_id)
    with pytest.raises(NotFound):
        await directory.delete_user(world.admin, sysadmin.user_id)
    # and it has no fleet: every tenant-scoped call is refused or finds nothing
    with pytest.raises(PermissionDenied):
        await directory.save_customer(sysadmin, "Mine")
    with pytest.raises(PermissionDenied):
        await container.claims.claim(sysadmin, "anything", "k", Origin(Door.REST))
    with pytest.raises(NotFound):
        await directory.get_customer(sysadmin, world.c1.id)
