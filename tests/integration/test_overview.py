"""The console's overview (services/overview.py) on every backend: claims and failed attempts per
day from the audit log (a refused guess row counts its repeats), devices by state, windows open
only where windows live in SQL, tenant admins only."""

from __future__ import annotations

import pytest

from claimd.domain.claiming import DeviceClaimMessage
from claimd.domain.errors import InvalidArgument, PermissionDenied
from claimd.domain.model import Door
from claimd.services.common import Origin
from claimd.services.overview import DAY_MS

REST = Origin(Door.REST, "198.51.100.9")
DEVICE = Origin(Door.HTTP_DEVICE)


async def _window(container, device, key="k-1", ms=3_600_000):
    await container.claims.open_window(device, DeviceClaimMessage(key, ms), DEVICE)


async def test_claims_and_failures_per_day_and_devices_by_state(container, world, clock):
    c = container
    first, second, blocked, waiting, _idle = [await world.device() for _ in range(5)]
    # day 1: a claim granted, two wrong keys (one audit row with a count of 2)
    await _window(c, first)
    assert (await c.claims.claim(world.u1, first.name, "k-1", REST)).response.value == "SUCCESS"
    await _window(c, second, "k-2")
    for _ in range(2):
        assert (await c.claims.claim(world.u2, second.name, "wrong", REST)).response.value == "FAILURE"
    clock.advance(DAY_MS)
    # day 2: the second device claimed; another device blocked; one left waiting with a live window
    await _window(c, second, "k-2")
    assert (await c.claims.claim(world.u2, second.name, "k-2", REST)).response.value == "SUCCESS"
    await c.ownership.set_blocked(world.admin, blocked.id, True, REST)
    await _window(c, waiting, "k-3")

    overview = await c.overview.overview(world.admin, days=3)
    assert [d.day for d in overview.days] == sorted(d.day for d in overview.days)
    assert [(d.claims, d.failed) for d in overview.days] == [(0, 0), (1, 2), (1, 0)]
    states = overview.devices
    assert (states.total, states.claimed, states.blocked, states.unclaimed) == (5, 2, 1, 2)
    # windows live in SQL unless Redis keeps them: then the page says nothing rather than a wrong 0
    assert states.windows_open == (None if c.redis is not None else 1)


async def test_only_tenant_admins_see_the_overview_and_days_are_bounded(container, world):
    with pytest.raises(PermissionDenied):
        await container.overview.overview(world.u1)
    for days in (0, 367):
        with pytest.raises(InvalidArgument):
            await container.overview.overview(world.admin, days=days)
    empty = await container.overview.overview(world.admin, days=1)
    assert [(d.claims, d.failed) for d in empty.days] == [(0, 0)]
    assert empty.devices.total == 0
