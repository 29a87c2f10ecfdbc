"""The roles of many users read at once (AccessService.user_roles, for the console's customers page) on
every backend: OWNER when none is set, the role given, a tenant role, unknown ids left out, tenant admins only."""

from __future__ import annotations

import uuid

import pytest

from claimd.domain.errors import PermissionDenied


async def test_user_roles_in_one_call(world) -> None:
    access = world.container.access
    await access.save_role(world.admin, "Installer", ["DEVICE:READ", "DEVICE:CLAIM"], None, create=True)
    users = [world.u1.user_id, world.u2.user_id]
    assert await access.user_roles(world.admin, users) == {world.u1.user_id: "OWNER", world.u2.user_id: "OWNER"}
    await access.set_user_role(world.admin, world.u1.user_id, "viewer")
    await access.set_user_role(world.admin, world.u2.user_id, "Installer")
    unknown = uuid.uuid4()
    assert await access.user_roles(world.admin, [*users, unknown]) == {
        world.u1.user_id: "VIEWER",
        world.u2.user_id: "Installer",
    }
    assert await access.user_roles(world.admin, []) == {}
    with pytest.raises(PermissionDenied):
        await access.user_roles(world.u1, users)
