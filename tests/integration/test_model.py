"""Random sequences of claim operations, checked step by step against a model of ThingsBoard's rules.

The model is thingsboard.md §2.2–§2.5 written out plainly (with issue #2's changes: an expired
window gives way to the next message; only the owner's users may reclaim). Every backend must agree
with it on every step: window verdicts, claim responses, ownership and the claim attributes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claimd.domain.claiming import ClaimResponse, DeviceClaimMessage
from claimd.domain.errors import InvalidArgument, PermissionDenied
from claimd.domain.model import Door
from claimd.services.claiming import NotClaimed, WindowResult
from claimd.services.common import Origin

DEVICE = Origin(Door.HTTP_DEVICE)
REST = Origin(Door.REST)
DEFAULT_DURATION = 86_400_000

keys = st.sampled_from(["", "a", "b"])
operations = st.lists(
    st.one_of(
        st.tuples(st.just("open"), keys, st.sampled_from([0, 1, 1000, -1])),
        st.tuples(st.just("advance"), st.sampled_from([0, 1, 999, 1000, 1001, DEFAULT_DURATION + 1])),
        st.tuples(st.just("claim"), st.sampled_from(["u1", "u2"]), keys),
        st.tuples(st.just("reclaim"), st.sampled_from(["admin", "u1", "u2"])),
        st.tuples(st.just("claiming_data"), keys, st.sampled_from([-1, 0, 1000])),
        st.tuples(st.just("assign"), st.sampled_from(["c1", "c2"])),
        st.tuples(
            st.just("unassign"),
        ),
        st.tuples(st.just("allow"), st.sampled_from([True, "true"])),
    ),
    min_size=1,
    max_size=14,
)


@dataclass
class Model:
    allow_by_default: bool
    now: int
    window: tuple[str, int] | None = None  # (key, expiration time)
    claiming_data: tuple[str, int] | None = None
    claiming_allowed: object = None  # value of the SERVER_SCOPE attribute, None when absent
    owner: str | None = None  # "c1" / "c2"

    def open(self, key: str, duration: int) -> WindowResult:
        if self.owner is not None:
            return WindowResult.ALREADY_CLAIMED
        if not self.allow_by_default and self.claiming_allowed is not True:
            return WindowResult.NOT_ALLOWED
        if self.window is not None and self.now <= self.window[1]:
            return WindowResult.KEPT
        self.window = (key, self.now + (duration if duration > 0 else DEFAULT_DURATION))
        return WindowResult.OPENED

    def claim(self, customer: str, key: str) -> ClaimResponse:
        data, self.window = self.window or self.claiming_data, None
        if data is None:
            return ClaimResponse.CLAIMED if self.owner else ClaimResponse.FAILURE
        if self.now > data[1] or key != data[0]:
            return ClaimResponse.FAILURE
        self.claiming_data = self.claiming_allowed = None
        if self.owner:
            return ClaimResponse.CLAIMED
        self.owner = customer
        return ClaimResponse.SUCCESS

    def reclaim(self, by_customer: str | None) -> bool:
        """False when refused (a customer user reclaiming what its customer does not own)."""
        if by_customer is not None and self.owner != by_customer:
            return False
        self.window = None
        if self.owner is not None:  # a release drops the claim secrets of the ownership it ends
            self.owner = self.claiming_data = None
            if not self.allow_by_default:
                self.claiming_allowed = True
        return True


# Wrong keys lock a device out after a few (services/guesses.py): the model knows no lockouts.
NO_LOCKOUTS = {
    "claim_lockout_free_device": 10_000,
    "claim_lockout_free_user": 10_000,
    "claim_lockout_free_address": 10_000,
}


@pytest.fixture
async def strict(make_container, world):
    return await make_container(allow_claiming_by_default=False, **NO_LOCKOUTS)


@pytest.fixture
async def loose(make_container, world):
    return await make_container(**NO_LOCKOUTS)


@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations, allow_by_default=st.booleans())
async def test_claims_follow_the_model(world, loose, strict, clock, ops, allow_by_default):
    service = loose if allow_by_default else strict
    claims, devices = service.claims, service.devices
    device = await world.device()
    model = Model(allow_by_default, clock.now)
    users = {"u1": world.u1, "u2": world.u2, "admin": world.admin}
    customer_of = {"u1": "c1", "u2": "c2"}
    customers = {"c1": world.c1.id, "c2": world.c2.id}

    for step, op in enumerate(ops):
        where = f"step {step} {op} of {ops}"
        match op:
            case ("open", key, duration):
                got = await claims.open_window(device, DeviceClaimMessage(key, duration), DEVICE)
                assert got is model.open(key, duration), where
            case ("advance", ms):
                clock.advance(ms)
                model.now = clock.now
            case ("claim", user, key):
                got = (await claims.claim(users[user], device.name, key, REST)).response
                assert got is model.claim(customer_of[user], key), where
            case ("reclaim", user):
                if model.reclaim(customer_of.get(user)):
                    assert (await claims.reclaim(users[user], device.name, REST)).customer_id is None, where
                else:  # not its customer's: someone else's, or no one's (said so)
                    with pytest.raises(PermissionDenied if model.owner is not None else NotClaimed):
                        await claims.reclaim(users[user], device.name, REST)
            case ("claiming_data", key, offset):
                body = {"claimingData": {"secretKey": key, "expirationTime": clock.now + offset}}
                await devices.save_attributes(world.admin, "DEVICE", device.id, "SERVER_SCOPE", json.dumps(body))
                model.claiming_data = (key, clock.now + offset)
            case ("assign", customer):
                await devices.assign(world.admin, customers[customer], device.id, REST)
                model.owner = customer
            case ("unassign",):
                if model.owner is None:
                    with pytest.raises(InvalidArgument):
                        await devices.unassign(world.admin, device.id, REST)
                else:
                    await devices.unassign(world.admin, device.id, REST)
                    model.owner = None
            case ("allow", value):
                await devices.save_attributes(
                    world.admin, "DEVICE", device.id, "SERVER_SCOPE", json.dumps({"claimingAllowed": value})
                )
                model.claiming_allowed = value

        stored = await devices.get(world.admin, device.id)
        assert stored.customer_id == (customers[model.owner] if model.owner else None), where
        found = await devices.get_attributes(world.admin, "DEVICE", device.id, "SERVER_SCOPE", None)
        attributes = {a.key: a.value for _s, a in found}
        assert attributes.get("claimingAllowed") == model.claiming_allowed, where
        assert ("claimingData" in attributes) == (model.claiming_data is not None), where
