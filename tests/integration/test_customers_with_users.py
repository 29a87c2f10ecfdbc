"""The console's customers page reads customers and their users in two queries
(``DirectoryService.customers_with_users``), on every backend: newest customer first, each with its
oldest users up to the cap and how many it has; tenant admins only."""

from __future__ import annotations

import pytest

from claimd.domain.errors import PermissionDenied


async def test_customers_come_with_their_users_capped(container, world, make_customer_user, clock):
    extra = []
    for i in range(3):
        clock.advance(1)  # the fake clock stands still: order users by their creation
        extra.append(await make_customer_user(world.admin, world.c1, f"more{i}@c1.test"))
    clock.advance(1)
    c3 = await container.directory.save_customer(world.admin, "Customer C3")  # no users
    listed, total = await container.directory.customers_with_users(world.admin, customers=10, users_each=2)
    assert total == 3
    assert listed[0][0].id == c3.id  # newest first (C1 and C2 were made in the same millisecond)
    assert {c.id for c, _, _ in listed[1:]} == {world.c1.id, world.c2.id}
    shown = {c.id: ([u.email for u in users], count) for c, users, count in listed}
    assert shown[c3.id] == ([], 0)
    assert shown[world.c2.id] == (["user@c2.test"], 1)
    assert shown[world.c1.id] == (["user@c1.test", extra[0].email], 4)
    listed, total = await container.directory.customers_with_users(world.admin, customers=1, users_each=2)
    assert (len(listed), total) == (1, 3)
    with pytest.raises(PermissionDenied):
        await container.directory.customers_with_users(world.u1, customers=10, users_each=2)
