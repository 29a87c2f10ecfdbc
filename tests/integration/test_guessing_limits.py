"""Limits on guessing every secret (services/guesses.py), on every backend: server-side claim keys,
device-side windows, claim tokens, LoRaWAN codes, passwords and API keys are locked out after their
free failures, with a growing wait; the right owner claims once the guesser stops; failed guesses are
audited as one line with a count; buyers racing with a right secret hear "already claimed", never a
lock. Also the rights around claim secrets: a VIEWER writes no attribute, and a release drops the
claim secrets of the ownership that ends.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid

import pytest

from claimd.adapters.attestation import mint_token, new_private_key, public_pem_of
from claimd.domain.claiming import ClaimResponse, DeviceClaimMessage
from claimd.domain.errors import AuthenticationFailed, PermissionDenied
from claimd.domain.lockout import Lockout
from claimd.domain.lorawan import DeviceAccessDenied, LorawanDraft
from claimd.domain.model import Door
from claimd.domain.ownership import BadSignature, OwnedByAnother
from claimd.services.access import API_KEY_PREFIX
from claimd.services.accounts import LoginLockedOut
from claimd.services.claiming import CodeProof, NotClaimed
from claimd.services.common import Origin
from claimd.services.guesses import AUDIT_AGGREGATE_MS, ClaimLockedOut, GuessPolicy, LockedOut
from claimd.services.ownership import IdentityDraft

GUESSER = Origin(Door.REST, "203.0.113.66")
OWNER = Origin(Door.REST, "198.51.100.7")
DEVICE = Origin(Door.HTTP_DEVICE)
HOUR = 3_600_000
FREE = 3
LOCK_MS = 300  # real milliseconds too: Redis expires locks on its own clock
JOIN = "70B3D57ED0000000"
ADMIN_EMAIL, ADMIN_PASSWORD = "admin@tenant.test", "admin-password"  # the world fixture's (tests/conftest.py)


@pytest.fixture
def strict(container):
    """Three free failures per key, then a lock of LOCK_MS, doubling."""
    lockout = Lockout(FREE, base_ms=LOCK_MS, max_ms=10 * LOCK_MS)
    container.claims.guesses.policy = GuessPolicy(lockout, lockout, lockout, lockout)


async def run_out(clock, ms: int = LOCK_MS + 100) -> None:
    clock.advance(ms)
    await asyncio.sleep(ms / 1000)


async def set_claiming_data(container, principal, device, secret: str, expires: int) -> None:
    body = json.dumps({"claimingData": {"secretKey": secret, "expirationTime": expires}}).encode()
    await container.devices.save_attributes(principal, "DEVICE", device.id, "SERVER_SCOPE", body)


async def test_guessing_a_printed_key_is_locked_out_and_the_owner_claims_once_it_stops(container, world, clock, strict):
    device = await world.device()
    await set_claiming_data(container, world.admin, device, "482913", clock.now + HOUR)
    guesses = [
        (await container.claims.claim(world.u2, device.name, f"{n:06d}", GUESSER)).response for n in range(FREE + 1)
    ]
    assert guesses == [ClaimResponse.FAILURE] * (FREE + 1)  # the free ones, and the one that sets the lock
    with pytest.raises(ClaimLockedOut) as caught:  # now even the right key: else the guesser learns it
        await container.claims.claim(world.u2, device.name, "482913", GUESSER)
    assert caught.value.retry_after_s == 1
    with pytest.raises(ClaimLockedOut):  # the device is locked, whoever asks
        await container.claims.claim(world.u1, device.name, "482913", OWNER)
    await run_out(clock)
    result = await container.claims.claim(world.u1, device.name, "482913", OWNER)
    assert result.response is ClaimResponse.SUCCESS and result.device.customer_id == world.c1.id


async def test_the_lock_grows_with_each_wrong_guess_past_the_free_ones(container, world, clock, strict):
    device = await world.device()
    await set_claiming_data(container, world.admin, device, "482913", clock.now + 10 * HOUR)
    keys = [(f"dev:{world.admin.tenant_id}:{device.id}", container.claims.guesses.policy.device)]
    limiter = container.claims.guesses.limiter
    waits = []
    for _ in range(FREE + 3):
        await container.claims.claim(world.u2, device.name, "wrong", GUESSER)
        waits.append(await limiter.locked(keys, clock.now))
        if waits[-1]:
            await run_out(clock, waits[-1] + 50)
    assert waits[:FREE] == [0] * FREE
    assert [round(w / LOCK_MS) for w in waits[FREE:]] == [1, 2, 4]


async def test_guessing_device_side_windows_counts_too(container, world, clock, strict):
    device = await world.device()
    for n in range(FREE + 1):  # a wrong key spends the window (as ThingsBoard evicts it): the device opens another
        await container.claims.open_window(device, DeviceClaimMessage(f"K-{secrets.token_hex(4)}", HOUR), DEVICE)
        assert (
            await container.claims.claim(world.u2, device.name, f"guess-{n}", GUESSER)
        ).response is ClaimResponse.FAILURE
    await container.claims.open_window(device, DeviceClaimMessage("RIGHT", HOUR), DEVICE)
    with pytest.raises(ClaimLockedOut):
        await container.claims.claim(world.u2, device.name, "RIGHT", GUESSER)


async def test_names_that_do_not_exist_count_against_the_user(container, world, clock, strict):
    from claimd.domain.errors import NotFound

    for n in range(FREE + 1):
        with pytest.raises(NotFound):
            await container.claims.claim(world.u2, f"no-such-device-{n}", "x", GUESSER)
    with pytest.raises(ClaimLockedOut):
        await container.claims.claim(world.u2, "no-such-device", "x", GUESSER)


async def test_failed_guesses_are_audited_as_one_line_with_their_count(container, world, clock):
    loose = Lockout(10_000)
    container.claims.guesses.policy = GuessPolicy(loose, loose, loose, loose)
    device = await world.device()
    await set_claiming_data(container, world.admin, device, "482913", clock.now + 10 * HOUR)
    for _ in range(30):
        assert (await container.claims.claim(world.u2, device.name, "wrong", GUESSER)).response is ClaimResponse.FAILURE
        clock.advance(1000)
    log = (await container.devices.audit_log(world.admin, 0, 100, device.id)).data
    failures = [e for e in log if e.outcome == "FAILURE"]
    assert [(e.repeats, e.last_time, e.source) for e in failures] == [(30, clock.now - 1000, GUESSER.source)]
    clock.advance(AUDIT_AGGREGATE_MS)  # an hour on: a new line
    await container.claims.claim(world.u2, device.name, "wrong", GUESSER)
    await container.claims.claim(world.u2, device.name, "wrong", OWNER)  # another address: its own line
    log = (await container.devices.audit_log(world.admin, 0, 100, device.id)).data
    assert sorted(e.repeats for e in log if e.outcome == "FAILURE") == [1, 1, 30]


async def test_bad_claim_tokens_are_locked_out(container, world, clock, strict):
    key, device_id = new_private_key(), uuid.uuid4()
    await container.ownership.register_identity(world.admin, IdentityDraft(device_id, public_pem_of(key)))
    forged = mint_token(new_private_key(), device_id)
    for _ in range(FREE + 1):
        with pytest.raises(BadSignature):
            await container.claims.claim_with_token(world.u2, forged, None, GUESSER)
    with pytest.raises(ClaimLockedOut):
        await container.claims.claim_with_token(world.u2, mint_token(key, device_id), None, GUESSER)
    await run_out(clock)
    assert (await container.claims.claim_with_token(world.u1, mint_token(key, device_id), None, OWNER)).created


async def test_wrong_lorawan_codes_are_audited_as_one_line(container, world, clock):
    dev_eui = "A0" + secrets.token_hex(7).upper()
    await container.lorawan.provision(world.admin, LorawanDraft(dev_eui=dev_eui, join_eui=JOIN, code="C05EA29C"))
    for _ in range(3):
        with pytest.raises(DeviceAccessDenied):
            await container.claims.claim_with_code(world.u2, CodeProof(JOIN, dev_eui, "00000000"), "app", None, GUESSER)
    log = (await container.devices.audit_log(world.admin, 0, 100)).data
    assert [e.repeats for e in log if e.outcome != "SUCCESS" and e.device_name == f"eui-{dev_eui.lower()}"] == [3]


async def test_buyers_racing_with_a_right_code_hear_already_claimed_never_a_lock(container, world, make_customer_user):
    dev_eui = "A0" + secrets.token_hex(7).upper()
    await container.lorawan.provision(world.admin, LorawanDraft(dev_eui=dev_eui, join_eui=JOIN, code="C05EA29C"))
    buyers = [world.u1] + [await make_customer_user(world.admin, world.c2, f"buyer{i}@race.test") for i in range(7)]
    results = await asyncio.gather(
        *(
            container.claims.claim_with_code(buyer, CodeProof(JOIN, dev_eui, "C05EA29C"), "app", None, GUESSER)
            for buyer in buyers
        ),
        return_exceptions=True,
    )
    assert not [r for r in results if isinstance(r, LockedOut)]
    assert [r.created for r in results if not isinstance(r, BaseException)].count(True) == 1
    assert all(isinstance(r, OwnedByAnother) or not isinstance(r, BaseException) for r in results), results


async def test_wrong_passwords_lock_the_account_and_the_right_one_works_after(container, world, clock, strict):
    for _ in range(FREE + 1):
        with pytest.raises(AuthenticationFailed):
            await container.accounts.login(ADMIN_EMAIL, "not-the-password", GUESSER.source)
    with pytest.raises(LoginLockedOut) as caught:  # the account is locked, from any address, in any case
        await container.accounts.login(ADMIN_EMAIL.upper(), ADMIN_PASSWORD, OWNER.source)
    assert caught.value.retry_after_s >= 1
    await run_out(clock)
    token, _ = await container.accounts.login(ADMIN_EMAIL, ADMIN_PASSWORD, OWNER.source)
    assert token


async def test_unknown_accounts_and_the_guessing_address_are_locked_too(container, world, clock, strict):
    for n in range(FREE + 1):
        with pytest.raises(AuthenticationFailed):
            await container.accounts.login(f"nobody{n}@tenant.test", "x", GUESSER.source)
    with pytest.raises(LoginLockedOut):  # the address guessed too often, whichever account it names
        await container.accounts.login(ADMIN_EMAIL, ADMIN_PASSWORD, GUESSER.source)


async def test_wrong_api_keys_lock_out_their_address(container, world, clock, strict):
    real = await container.access.create_key(world.admin, "ci")
    for _ in range(FREE + 1):
        with pytest.raises(AuthenticationFailed):
            await container.access.principal_for_key(API_KEY_PREFIX + secrets.token_urlsafe(24), GUESSER.source)
    with pytest.raises(LockedOut):
        await container.access.principal_for_key(real.key, GUESSER.source)
    assert (await container.access.principal_for_key(real.key, OWNER.source)).user_id == world.admin.user_id


# rights around claim secrets ----------------------------------------------------------------------


async def test_a_viewer_writes_and_deletes_no_attribute(container, world, clock, make_customer_user):
    device = await world.device()
    await container.devices.assign(world.admin, world.c1.id, device.id, OWNER)
    viewer = await make_customer_user(world.admin, world.c1, "viewer@c1.test")
    await container.access.set_user_role(world.admin, viewer.user_id, "VIEWER")
    viewer = await container.accounts.ensure_active(viewer)
    for scope in ("SERVER_SCOPE", "SHARED_SCOPE"):
        with pytest.raises(PermissionDenied):
            await set_claiming_data(container, viewer, device, "planted", clock.now + HOUR)
        with pytest.raises(PermissionDenied):
            await container.devices.delete_attributes(viewer, "DEVICE", device.id, scope, ["claimingData"])
    assert await container.devices.get_attributes(viewer, "DEVICE", device.id, None, None) == []
    await set_claiming_data(container, world.u1, device, "owner-key", clock.now + HOUR)  # an OWNER may


async def test_a_release_drops_the_claim_secrets_of_the_ownership_that_ends(container, world, clock):
    device = await world.device()
    await set_claiming_data(container, world.admin, device, "box-key", clock.now + HOUR)
    assert (await container.claims.claim(world.u1, device.name, "box-key", OWNER)).response is ClaimResponse.SUCCESS
    await set_claiming_data(container, world.u1, device, "planted", clock.now + HOUR)  # written while it owns it
    await container.claims.reclaim(world.u1, device.name, OWNER)
    attributes = await container.devices.get_attributes(world.admin, "DEVICE", device.id, "SERVER_SCOPE", None)
    assert "claimingData" not in {attribute.key for _scope, attribute in attributes}
    assert (await container.claims.claim(world.u2, device.name, "planted", GUESSER)).response is ClaimResponse.FAILURE
    assert (await container.devices.get(world.admin, device.id)).customer_id is None


async def test_a_tenant_reclaim_drops_the_claim_secrets_too(container, world, clock):
    device = await world.device()
    await container.devices.assign(world.admin, world.c1.id, device.id, OWNER)
    await set_claiming_data(container, world.u1, device, "planted", clock.now + HOUR)
    await container.claims.reclaim(world.admin, device.name, OWNER)
    assert (await container.claims.claim(world.u2, device.name, "planted", GUESSER)).response is ClaimResponse.FAILURE


async def test_reclaiming_a_device_no_one_owns_says_it_is_not_claimed(container, world):
    device = await world.device()
    with pytest.raises(NotClaimed, match="not claimed"):
        await container.claims.reclaim(world.u1, device.name, OWNER)
