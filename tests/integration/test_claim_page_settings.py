"""A tenant's claim page settings through the service (services/directory.py) on every backend: only
its tenant admins change them, its users read them, they live beside the tenant's other
additionalInfo and leave it alone."""

from __future__ import annotations

import pytest

from claimd.domain.claim_page import DEFAULT
from claimd.domain.errors import InvalidArgument, PermissionDenied


async def test_tenant_admins_set_the_claim_page_and_its_users_read_it(container, world):
    d = container.directory
    assert await d.claim_page(world.u1) == DEFAULT
    with pytest.raises(PermissionDenied):
        await d.save_claim_page(world.u1, {"success": "Mine now: {device}"})
    saved = await d.save_claim_page(world.admin, {"success": "Mine now: {device}", "show_secret_key": False})
    assert await d.claim_page(world.u2) == saved
    assert (saved.success, saved.show_secret_key, saved.blocked) == ("Mine now: {device}", False, DEFAULT.blocked)
    with pytest.raises(InvalidArgument):
        await d.save_claim_page(world.admin, {"success": ""})
    assert (await d.claim_page(world.u1)).success == "Mine now: {device}"  # a refused save changes nothing
    async with container.claims.uow() as tx:
        tenant = await tx.repo.get_tenant(world.admin.tenant_id)
    assert tenant.additional_info["claimPage"]["success"] == "Mine now: {device}"
