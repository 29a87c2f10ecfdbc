"""Claims of LoRaWAN devices by JoinEUI, DevEUI and claim authentication code, through the services,
on every backend (services/claiming/ ``claim_with_code``, services/lorawan.py, adapters/sql/lorawan.py):
the stored code digest, spending and renewing codes, validity windows, applications, races,
lockouts, the Redis failure limiter and sealed bulk LoRaWAN claim jobs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets

import pytest
from redis.asyncio import Redis
from servers import REDIS_URL, require_server
from sqlalchemy import text

from claimd.adapters.limits import RedisFailureLimiter
from claimd.domain.bulk import BulkEndpoint, BulkStatus
from claimd.domain.lockout import Lockout
from claimd.domain.lorawan import (
    ClaimCodeNotValid,
    ClaimCodeSpent,
    DevEuiTaken,
    DeviceAccessDenied,
    EndDeviceIdTaken,
    LorawanDraft,
)
from claimd.domain.model import AuditAction, Door
from claimd.domain.ownership import OwnedByAnother
from claimd.services.claiming import CodeProof, code_digest
from claimd.services.common import Origin
from claimd.services.guesses import ClaimLockedOut

JOIN = "70B3D57ED0000000"
OTHER_JOIN = "70B3D57ED00000FF"
REST = Origin(Door.REST, "10.0.0.1")
# Tests about SQL only run on the two SQL stores; claims by code go through Redis (the failure
# limiter) only on the +redis backends, which the tests about claims and lockouts keep.
SQL_BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]
LIMITER_BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("sqlite+redis", id="sqlite+redis", marks=pytest.mark.redis),
]
APP = "my-app"


def new_dev_eui() -> str:
    return "A0" + secrets.token_hex(7).upper()


async def provision(
    container,
    world,
    code: str = "C05EA29C",
    *,
    dev_eui: str | None = None,
    valid_from: int | None = None,
    valid_to: int | None = None,
):
    draft = LorawanDraft(
        dev_eui=dev_eui or new_dev_eui(), join_eui=JOIN, code=code, valid_from=valid_from, valid_to=valid_to
    )
    return await container.lorawan.provision(world.admin, draft)


async def claim(
    container,
    principal,
    dev_eui: str,
    code: str,
    *,
    join: str = JOIN,
    app: str = APP,
    device_id: str | None = None,
    origin: Origin = REST,
):
    return await container.claims.claim_with_code(principal, CodeProof(join, dev_eui, code), app, device_id, origin)


async def sql(container, statement: str, **params):
    async with container.database.reader.connect() as conn:
        return (await conn.execute(text(statement), params)).all()


async def audit(container, world, device_id):
    log = await container.devices.audit_log(world.admin, 0, 100, device_id)
    return [(e.action, e.outcome) for e in reversed(log.data)]


async def audit_repeats(container, world, device_id):
    """The device's audit lines with their counts (failed guesses are kept as one line, counted)."""
    log = await container.devices.audit_log(world.admin, 0, 100, device_id)
    return [(e.action, e.outcome, e.repeats) for e in reversed(log.data)]


async def owner(container, world, device_id):
    return (await container.devices.get(world.admin, device_id)).customer_id


# ----------------------------------------------------------------------------------------------------
# claims


async def test_a_right_code_claims_files_the_device_and_spends_the_code(container, world, clock, store_probe):
    code = "Pin7Secret"
    made = await provision(container, world, code)
    dev = made.identity.dev_eui
    clock.advance(5)
    result = await claim(container, world.u1, dev, code)

    assert result.created is True
    assert result.device.id == made.device.id and result.device.customer_id == world.c1.id
    assert (result.identity.application_id, result.identity.app_device_id) == (APP, f"eui-{dev.lower()}")
    assert result.identity.code_spent_at == clock.now
    assert await owner(container, world, made.device.id) == world.c1.id
    device, identity = await container.lorawan.get(world.admin, dev)
    assert device.customer_id == world.c1.id
    assert (identity.application_id, identity.app_device_id, identity.code_spent_at) == (
        APP,
        f"eui-{dev.lower()}",
        clock.now,
    )
    assert await container.lorawan.applications(world.u1) == [(APP, clock.now, 1)]
    listed, total = await container.lorawan.list_devices(world.u1, APP, 1, 10)
    assert total == 1 and [d.id for d, _ in listed] == [made.device.id]
    assert (AuditAction.CLAIM, "SUCCESS") in await audit(container, world, made.device.id)

    # the stored identity holds a 32-byte keyed digest of the code, never the code
    rows = await sql(container, "SELECT code_digest FROM lorawan_identities WHERE dev_eui = :d", d=dev)
    assert len(rows) == 1
    stored = bytes(rows[0][0])
    assert len(stored) == 32
    assert stored == code_digest(container.devices.hasher, world.admin.tenant_id, dev, code)
    for table, row in await store_probe.sql_rows(container):
        for column, value in row.items():
            assert not store_probe.contains(value, code), f"{table}.{column} holds the claim code"

    # a DevEUI is registered once
    with pytest.raises(DevEuiTaken):
        await provision(container, world, dev_eui=dev)

    # a code of hex digits compares case-insensitively; EUIs may come in lower case
    hexed = await provision(container, world, "c05ea29c")
    result = await claim(container, world.u1, hexed.identity.dev_eui.lower(), "C05Ea29C", join=JOIN.lower())
    assert result.created and result.device.customer_id == world.c1.id


@pytest.mark.parametrize("backend", SQL_BACKENDS, indirect=True)
async def test_claiming_again_is_idempotent_for_the_owner_and_refused_to_others(container, world, clock):
    made = await provision(container, world)
    dev = made.identity.dev_eui
    first = await claim(container, world.u1, dev, made.code)
    spent_at = first.identity.code_spent_at
    clock.advance(1_000)

    again = await claim(container, world.u1, dev, made.code, app="another-app")
    assert again.created is False
    assert again.device.customer_id == world.c1.id
    assert (again.identity.application_id, again.identity.code_spent_at) == (APP, spent_at)  # not moved

    with pytest.raises(OwnedByAnother):
        await claim(container, world.u2, dev, made.code)
    assert await owner(container, world, made.device.id) == world.c1.id
    assert await container.lorawan.applications(world.u2) == []
    assert [a for a, *_ in await container.lorawan.applications(world.u1)] == [APP]


async def test_wrong_code_unknown_dev_eui_and_wrong_join_eui_are_denied_alike(container, world):
    made = await provision(container, world)
    dev = made.identity.dev_eui
    unknown = new_dev_eui()
    before = (await container.devices.audit_log(world.admin, 0, 100)).total_elements

    errors = []
    for proof in [(JOIN, dev, "DEADBEEF"), (JOIN, unknown, made.code), (OTHER_JOIN, dev, made.code)]:
        with pytest.raises(DeviceAccessDenied) as caught:
            await container.claims.claim_with_code(world.u1, CodeProof(*proof), APP, None, REST)
        errors.append(caught.value)
    assert all(e.code == "DEVICE_ACCESS_DENIED" for e in errors)
    # the same words whatever was wrong (only the DevEUI asked about differs)
    assert errors[0].message == errors[2].message == errors[1].message.replace(unknown, dev)

    assert await owner(container, world, made.device.id) is None
    # the known device's tenant sees both refusals (wrong guesses: one line with their count); the
    # unknown DevEUI leaves nothing
    assert await audit_repeats(container, world, made.device.id) == [(AuditAction.CLAIM, "DEVICE_ACCESS_DENIED", 2)]
    after = await container.devices.audit_log(world.admin, 0, 100)
    assert after.total_elements == before + 1
    assert after.data[0].device_id == made.device.id
    # the right proof still claims (two failures are below the lockout)
    assert (await claim(container, world.u1, dev, made.code)).created


async def test_a_spent_code_no_longer_claims_until_the_tenant_sets_a_new_one(container, world):
    made = await provision(container, world)
    dev = made.identity.dev_eui
    await claim(container, world.u1, dev, made.code)
    released = await container.claims.unclaim(world.u1, made.device.id, REST)
    assert released.customer_id is None

    for principal in (world.u1, world.u2):
        with pytest.raises(ClaimCodeSpent):
            await claim(container, principal, dev, made.code)
    assert await owner(container, world, made.device.id) is None

    renewed = await container.lorawan.set_code(world.admin, dev, "NewCode42", None, None)
    assert renewed.code == "NewCode42" and renewed.identity.code_spent_at is None
    with pytest.raises(DeviceAccessDenied):
        await claim(container, world.u2, dev, made.code)  # the old code
    result = await claim(container, world.u2, dev, "NewCode42")
    assert result.created and result.device.customer_id == world.c2.id

    generated = await container.lorawan.set_code(world.admin, dev, None, None, None)
    assert len(generated.code) == 8 and generated.code != "NewCode42"


@pytest.mark.parametrize("backend", SQL_BACKENDS, indirect=True)
async def test_a_device_assigned_by_the_tenant_is_filed_when_its_owner_claims_it(container, world, clock):
    made = await provision(container, world)
    dev = made.identity.dev_eui
    await container.devices.assign(world.admin, world.c1.id, made.device.id, Origin(Door.REST))
    assert await container.lorawan.list_devices(world.u1, APP, 1, 10) == ([], 0)
    clock.advance(7)

    result = await claim(container, world.u1, dev, made.code, device_id="assigned-1")
    assert result.created is False  # it was the customer's already
    assert (result.identity.application_id, result.identity.app_device_id) == (APP, "assigned-1")
    listed, total = await container.lorawan.list_devices(world.u1, APP, 1, 10)
    assert total == 1 and listed[0][0].id == made.device.id and listed[0][1].app_device_id == "assigned-1"
    # filed once: claiming again does not move it, and nobody else can have it
    again = await claim(container, world.u1, dev, made.code, app="other-app")
    assert (again.created, again.identity.application_id, again.identity.app_device_id) == (False, APP, "assigned-1")
    with pytest.raises(OwnedByAnother):
        await claim(container, world.u2, dev, made.code)
    assert await owner(container, world, made.device.id) == world.c1.id


@pytest.mark.parametrize("backend", SQL_BACKENDS, indirect=True)
async def test_the_validity_window_is_enforced_at_both_inclusive_ends(container, world, clock):
    start, end = clock.now + 10_000, clock.now + 20_000
    devices = [await provision(container, world, dev_eui=None, valid_from=start, valid_to=end) for _ in range(4)]

    clock.now = start - 1
    with pytest.raises(ClaimCodeNotValid) as caught:
        await claim(container, world.u1, devices[0].identity.dev_eui, devices[0].code)
    assert caught.value.code == "CLAIM_CODE_NOT_VALID"
    assert "(valid from 2025-06-15T00:00:10Z to 2025-06-15T00:00:20Z)" in caught.value.message

    clock.now = start
    assert (await claim(container, world.u1, devices[0].identity.dev_eui, devices[0].code)).created
    clock.now = end
    assert (await claim(container, world.u1, devices[1].identity.dev_eui, devices[1].code)).created
    clock.now = end + 1
    with pytest.raises(ClaimCodeNotValid):
        await claim(container, world.u1, devices[2].identity.dev_eui, devices[2].code)
    # a wrong code outside the window says nothing about the window
    with pytest.raises(DeviceAccessDenied):
        await claim(container, world.u1, devices[3].identity.dev_eui, "FFFF0000")
    assert await owner(container, world, devices[2].device.id) is None

    # a new window from the tenant makes it claimable again
    await container.lorawan.set_code(world.admin, devices[2].identity.dev_eui, "AB12", end, None)
    assert (await claim(container, world.u1, devices[2].identity.dev_eui, "AB12")).created


@pytest.mark.parametrize("backend", SQL_BACKENDS, indirect=True)
async def test_a_device_released_by_its_tenant_leaves_the_application(container, world):
    made = await provision(container, world)
    await claim(container, world.u1, made.identity.dev_eui, made.code)
    assert (await container.lorawan.list_devices(world.u1, APP, 1, 10))[1] == 1

    await container.claims.unclaim(world.admin, made.device.id, Origin(Door.REST))
    assert await owner(container, world, made.device.id) is None
    assert await container.lorawan.list_devices(world.u1, APP, 1, 10) == ([], 0)
    assert [(a, n) for a, _, n in await container.lorawan.applications(world.u1)] == [(APP, 0)]
    _, identity = await container.lorawan.get(world.admin, made.identity.dev_eui)
    assert (identity.application_id, identity.app_device_id) == (None, None)
    assert identity.code_spent_at is not None  # released, but the code stays spent
    rows = await sql(
        container,
        "SELECT application, app_device_id FROM lorawan_identities WHERE device_id = :d",
        d=str(made.device.id),
    )
    assert rows == [(None, None)]


@pytest.mark.parametrize("backend", SQL_BACKENDS, indirect=True)
async def test_deleting_a_customer_leaves_no_application_rows(container, world):
    a, b = await provision(container, world), await provision(container, world)
    await claim(container, world.u1, a.identity.dev_eui, a.code)
    await claim(container, world.u1, b.identity.dev_eui, b.code, app="second-app")
    kept = await provision(container, world)
    await claim(container, world.u2, kept.identity.dev_eui, kept.code)

    await container.directory.delete_customer(world.admin, world.c1.id)

    assert await sql(container, "SELECT id FROM lorawan_applications WHERE customer_id = :c", c=str(world.c1.id)) == []
    dangling = await sql(
        container,
        "SELECT i.device_id FROM lorawan_identities i LEFT JOIN lorawan_applications a "
        "ON a.id = i.application WHERE i.application IS NOT NULL AND a.id IS NULL",
    )
    assert dangling == []
    for made in (a, b):
        assert await owner(container, world, made.device.id) is None
        _, identity = await container.lorawan.get(world.admin, made.identity.dev_eui)
        assert identity.application_id is None
    # the other customer's application is untouched
    assert [(a, n) for a, _, n in await container.lorawan.applications(world.u2)] == [(APP, 1)]
    assert (await container.lorawan.status(world.u2, APP, f"eui-{kept.identity.dev_eui.lower()}"))[
        0
    ].id == kept.device.id


@pytest.mark.parametrize("backend", SQL_BACKENDS, indirect=True)
async def test_deleting_a_customer_clears_the_device_ids_in_its_applications(container, world):
    made = await provision(container, world)
    await claim(container, world.u1, made.identity.dev_eui, made.code)
    await container.directory.delete_customer(world.admin, world.c1.id)
    _, identity = await container.lorawan.get(world.admin, made.identity.dev_eui)
    assert (identity.application_id, identity.app_device_id) == (None, None)


async def test_two_customers_racing_for_one_device_one_wins(container, world):
    made = await provision(container, world)
    dev = made.identity.dev_eui
    results = await asyncio.gather(
        claim(container, world.u1, dev, made.code), claim(container, world.u2, dev, made.code), return_exceptions=True
    )
    wins = [r for r in results if not isinstance(r, BaseException)]
    losses = [r for r in results if isinstance(r, BaseException)]
    assert len(wins) == 1 and wins[0].created
    assert len(losses) == 1 and isinstance(losses[0], OwnedByAnother), losses
    winner = wins[0].device.customer_id
    assert winner in (world.c1.id, world.c2.id)
    assert await owner(container, world, made.device.id) == winner
    outcomes = [o for _, o in await audit(container, world, made.device.id)]
    assert outcomes.count("SUCCESS") == 1 and len(outcomes) == 2


@pytest.mark.parametrize("backend", SQL_BACKENDS, indirect=True)
async def test_a_target_device_id_taken_in_the_application_rolls_the_claim_back(container, world):
    first, second = await provision(container, world), await provision(container, world)
    await claim(container, world.u1, first.identity.dev_eui, first.code, device_id="sensor-1")
    with pytest.raises(EndDeviceIdTaken):
        await claim(container, world.u1, second.identity.dev_eui, second.code, device_id="sensor-1")
    assert await owner(container, world, second.device.id) is None
    _, identity = await container.lorawan.get(world.admin, second.identity.dev_eui)
    assert (identity.code_spent_at, identity.application_id, identity.app_device_id) == (None, None, None)
    assert (AuditAction.CLAIM, "SUCCESS") not in await audit(container, world, second.device.id)
    # the same id in another application, or another id, is fine
    again = await claim(container, world.u1, second.identity.dev_eui, second.code, device_id="sensor-2")
    assert again.created and again.identity.app_device_id == "sensor-2"
    listed, total = await container.lorawan.list_devices(world.u1, APP, 1, 10)
    assert total == 2 and [i.app_device_id for _, i in listed] == ["sensor-1", "sensor-2"]


# ----------------------------------------------------------------------------------------------------
# lockouts (services/guesses.py): checked before the code is looked at; only wrong guesses count


def set_lockouts(container, **lockouts: Lockout) -> None:
    container.claims.guesses.policy = dataclasses.replace(container.claims.guesses.policy, **lockouts)


async def test_failed_proofs_lock_the_dev_eui_out_even_for_the_right_code(container, world, clock):
    base_ms = 300
    set_lockouts(container, device=Lockout(2, base_ms=base_ms, max_ms=60_000))
    # two wrong codes are free, and the third attempt is still heard
    lucky = await provision(container, world)
    for _ in range(2):
        with pytest.raises(DeviceAccessDenied):
            await claim(container, world.u1, lucky.identity.dev_eui, "BADC0DE")
    assert (await claim(container, world.u1, lucky.identity.dev_eui, lucky.code)).created

    made = await provision(container, world)
    dev = made.identity.dev_eui
    for _ in range(3):  # the third failure is past the free ones: it locks the DevEUI
        with pytest.raises(DeviceAccessDenied):
            await claim(container, world.u1, dev, "BADC0DE")
    for principal, code in ((world.u1, made.code), (world.u2, made.code), (world.u2, "BADC0DE")):
        with pytest.raises(ClaimLockedOut) as caught:
            await claim(container, principal, dev, code, origin=Origin(Door.REST, "10.9.9.9"))
        assert caught.value.retry_after_s >= 1
        assert caught.value.code == "CLAIM_LOCKED_OUT"
    assert await owner(container, world, made.device.id) is None
    # refused attempts are neither audited nor counted: the lock is the third failure's
    assert await audit_repeats(container, world, made.device.id) == [(AuditAction.CLAIM, "DEVICE_ACCESS_DENIED", 3)]
    # the other device of the same user is not locked
    other = await provision(container, world)
    assert (await claim(container, world.u1, other.identity.dev_eui, other.code)).created

    clock.advance(base_ms + 1)  # the memory limiter's time...
    await asyncio.sleep((base_ms + 50) / 1000)  # ...and Redis's
    # had the refused attempts counted, the DevEUI would still be locked (a 4th failure locks for 2 x base)
    result = await claim(container, world.u2, dev, made.code)
    assert result.created and result.device.customer_id == world.c2.id


@pytest.mark.parametrize("backend", LIMITER_BACKENDS, indirect=True)
async def test_a_successful_claim_after_a_lockout_does_not_lock_the_user_again(container, world, clock):
    base_ms = 300
    set_lockouts(container, user=Lockout(2, base_ms=base_ms, max_ms=60_000), device=Lockout(100), address=Lockout(100))
    target = await provision(container, world)
    for _ in range(3):
        with pytest.raises(DeviceAccessDenied):
            await claim(container, world.u1, target.identity.dev_eui, "BADC0DE")
    first, second = await provision(container, world), await provision(container, world)
    with pytest.raises(ClaimLockedOut):  # the user is locked out, on every device
        await claim(container, world.u1, first.identity.dev_eui, first.code)
    clock.advance(base_ms + 1)
    await asyncio.sleep((base_ms + 50) / 1000)
    assert (await claim(container, world.u1, first.identity.dev_eui, first.code)).created
    # no wrong guess since the lock ran out (three failures, past free: one more would lock)
    assert (await claim(container, world.u1, second.identity.dev_eui, second.code)).created


@pytest.mark.parametrize("backend", LIMITER_BACKENDS, indirect=True)
async def test_right_codes_and_other_refusals_count_nothing_however_concurrent(container, world):
    # every key locks at its first failure, for a minute
    strict = Lockout(0, base_ms=60_000)
    set_lockouts(container, device=strict, user=strict, address=strict)
    made = [await provision(container, world) for _ in range(5)]
    results = await asyncio.gather(*(claim(container, world.u1, m.identity.dev_eui, m.code) for m in made))
    assert all(r.created for r in results)
    # buyers racing with the right code hear each other's outcome, never a lock
    raced = await provision(container, world)
    outcomes = await asyncio.gather(
        *(claim(container, u, raced.identity.dev_eui, raced.code) for u in (world.u1, world.u2, world.u1, world.u2)),
        return_exceptions=True,
    )
    assert not [o for o in outcomes if isinstance(o, ClaimLockedOut)], outcomes
    assert sum(1 for o in outcomes if not isinstance(o, BaseException) and o.created) == 1
    assert any(isinstance(o, OwnedByAnother) for o in outcomes)
    # a spent code, a claim already made: refused, but no wrong guess
    await container.claims.unclaim(world.u1, made[0].device.id, REST)
    for _ in range(3):
        with pytest.raises(ClaimCodeSpent):
            await claim(container, world.u2, made[0].identity.dev_eui, made[0].code)
        assert (await claim(container, world.u1, made[1].identity.dev_eui, made[1].code)).created is False
    # the keys are still free: the first wrong guess is what locks them
    last = await provision(container, world)
    with pytest.raises(DeviceAccessDenied):
        await claim(container, world.u2, last.identity.dev_eui, "BADC0DE")
    with pytest.raises(ClaimLockedOut) as caught:
        await claim(container, world.u2, last.identity.dev_eui, last.code)
    assert 59 <= caught.value.retry_after_s <= 60


@pytest.mark.parametrize("backend", LIMITER_BACKENDS, indirect=True)
async def test_guessing_dev_euis_that_do_not_exist_locks_the_user_out(container, world):
    set_lockouts(container, user=Lockout(1, base_ms=60_000), device=Lockout(100), address=Lockout(100))
    made = await provision(container, world)
    for _ in range(2):  # nothing to find: wrong guesses all the same, counted against the user
        with pytest.raises(DeviceAccessDenied):
            await claim(container, world.u1, new_dev_eui(), made.code)
    with pytest.raises(ClaimLockedOut):
        await claim(container, world.u1, made.identity.dev_eui, made.code)
    assert (await claim(container, world.u2, made.identity.dev_eui, made.code)).created  # another user is not


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_lockouts_come_from_the_settings(make_container):
    container = await make_container(
        claim_lockout_free_device=2,
        claim_lockout_free_user=3,
        claim_lockout_free_address=4,
        login_lockout_free_account=6,
        claim_lockout_base_ms=250,
        claim_lockout_max_s=7,
    )
    policy = container.claims.guesses.policy
    assert [
        (lock.free, lock.base_ms, lock.max_ms) for lock in (policy.device, policy.user, policy.address, policy.account)
    ] == [(2, 250, 7_000), (3, 250, 7_000), (4, 250, 7_000), (6, 250, 7_000)]


# ----------------------------------------------------------------------------------------------------
# the Redis failure limiter, its keys in Redis and two nodes (no backend: one run; what it shares with
# the memory limiter: test_lorawan_guessing_bursts.py)


@pytest.fixture
async def redis_limiters():
    """Two RedisFailureLimiter instances ("two nodes") on the real Redis, one unique prefix."""
    require_server("redis")
    prefix = f"claimd-test-lw-{secrets.token_hex(6)}"
    clients = [Redis.from_url(REDIS_URL), Redis.from_url(REDIS_URL)]
    try:
        yield prefix, clients[0], [RedisFailureLimiter(c, prefix) for c in clients]
    finally:
        keys = [k async for k in clients[0].scan_iter(match=f"{prefix}:*")]
        if keys:
            await clients[0].delete(*keys)
        for client in clients:
            await client.aclose()


NOW = 1_000_000


@pytest.mark.redis
async def test_redis_lock_ttl_doubles_per_failure_up_to_max_and_the_count_expires_after_forget(redis_limiters):
    prefix, redis, (limiter, _) = redis_limiters
    lockout = Lockout(1, base_ms=10_000, max_ms=40_000, forget_ms=600_000)
    keys = [("dev:ttl", lockout)]
    lock_key, count_key = f"{prefix}:claim-lock:dev:ttl", f"{prefix}:claim-fails:dev:ttl"
    assert await limiter.fail(keys, NOW) == 0
    assert await redis.pttl(lock_key) == -2  # the free failure sets no lock
    assert 590_000 < await redis.pttl(count_key) <= 600_000  # the count lives forget_ms after its last failure
    ttls = []
    for _ in range(2, 7):
        wait = await limiter.fail(keys, NOW)
        ttls.append(await redis.pttl(lock_key))
        assert ttls[-1] - 50 <= wait <= ttls[-1] + 50
    expected = [min(lockout.max_ms, lockout.base_ms * 2 ** (n - lockout.free - 1)) for n in range(2, 7)]
    assert expected == [10_000, 20_000, 40_000, 40_000, 40_000]
    for ttl, want in zip(ttls, expected, strict=True):
        assert want - 2_000 < ttl <= want
    assert int(await redis.get(count_key)) == 6


@pytest.mark.redis
async def test_redis_locked_only_reads_and_writes_nothing(redis_limiters):
    prefix, redis, (limiter, _) = redis_limiters
    keys = [("dev:r", Lockout(0, base_ms=10_000)), ("user:r", Lockout(5))]
    for _ in range(10):
        assert await limiter.locked(keys, NOW) == 0
    assert [k async for k in redis.scan_iter(match=f"{prefix}:*")] == []
    assert 9_000 < await limiter.fail(keys, NOW) <= 10_000
    for _ in range(10):
        assert 9_000 < await limiter.locked(keys, NOW) <= 10_000
    assert int(await redis.get(f"{prefix}:claim-fails:dev:r")) == 1
    assert int(await redis.get(f"{prefix}:claim-fails:user:r")) == 1
    assert await redis.exists(f"{prefix}:claim-lock:user:r") == 0  # free: no lock


@pytest.mark.redis
async def test_two_redis_limiters_share_their_counts_and_locks(redis_limiters):
    _, _, (one, two) = redis_limiters
    keys = [("dev:shared", Lockout(2, base_ms=10_000))]
    assert await one.fail(keys, NOW) == 0
    assert await two.fail(keys, NOW) == 0
    assert await two.locked(keys, NOW) == 0
    assert await one.fail(keys, NOW) > 9_000  # the third failure, counted across both: locks
    assert await two.locked(keys, NOW) > 9_000
    assert await one.locked(keys, NOW) > 9_000
    assert await two.locked([("dev:other", Lockout(2))], NOW) == 0


@pytest.mark.redis
async def test_a_redis_lock_outlives_its_count(redis_limiters):
    prefix, redis, (limiter, _) = redis_limiters
    keys = [("dev:f", Lockout(0, base_ms=1_000, max_ms=60_000, forget_ms=200))]
    assert [round(await limiter.fail(keys, NOW) / 1_000) for _ in range(4)] == [1, 2, 4, 8]  # s
    await asyncio.sleep(0.3)  # no failure for longer than forget_ms: the count is gone...
    assert await redis.exists(f"{prefix}:claim-fails:dev:f") == 0
    assert 7_000 < await limiter.locked(keys, NOW) <= 7_700  # ...its lock is not
    # the first failure of a new count locks for 1 s; the longer lock stays
    assert 7_000 < await limiter.fail(keys, NOW) <= 7_700
    assert int(await redis.get(f"{prefix}:claim-fails:dev:f")) == 1


# ----------------------------------------------------------------------------------------------------
# bulk LoRaWAN claim jobs


async def body(*chunks: bytes):
    for chunk in chunks:
        yield chunk


async def test_a_lorawan_bulk_claim_job_keeps_its_rows_sealed(container, world):
    by_ids = await provision(container, world, "SecretCode77")
    by_qr = await provision(container, world, "QrCode99")
    wrong = await provision(container, world, "Right1")
    qr = by_qr.qr_text
    assert "QrCode99" in qr
    upload = (
        f"join_eui,dev_eui,authentication_code\n"
        f"{JOIN},{by_ids.identity.dev_eui},SecretCode77\n"
        f"{qr},,qr-device\n"
        f"{JOIN},{wrong.identity.dev_eui},Wrong2,other-app\n"
    ).encode()
    op, created = await container.bulk.submit(
        world.u1, BulkEndpoint.CLAIM_LORAWAN_DEVICES, body(upload[:37], upload[37:]), None, APP
    )
    assert created and op.total == 3 and op.application_id == APP

    lines = [
        r[0] for r in await sql(container, "SELECT line FROM bulk_rows WHERE op_id = :o ORDER BY row_index", o=op.id)
    ]
    assert len(lines) == 3
    for line in lines:
        for secret in ("SecretCode77", "QrCode99", "Wrong2", by_ids.identity.dev_eui, JOIN):
            assert secret not in line

    assert await container.bulk.run_once() is True
    done = await container.bulk.get(world.u1, op.id)
    assert (done.status, done.succeeded, done.failed, done.outcome) == (BulkStatus.FAILED, 2, 1, "PARTIAL")
    results = [(r.row_index, r.outcome, r.message) async for r in container.bulk.rows(done)]
    assert [(i, o) for i, o, _ in results] == [(1, "OK"), (2, "OK"), (3, "ERROR")]
    assert results[2][2].startswith("DEVICE_ACCESS_DENIED")
    assert "Wrong2" not in results[2][2]

    _, identity = await container.lorawan.get(world.admin, by_ids.identity.dev_eui)
    assert (await owner(container, world, by_ids.device.id), identity.application_id) == (world.c1.id, APP)
    _, identity = await container.lorawan.get(world.admin, by_qr.identity.dev_eui)
    assert (await owner(container, world, by_qr.device.id), identity.app_device_id) == (world.c1.id, "qr-device")
    assert await owner(container, world, wrong.device.id) is None
    assert (AuditAction.CLAIM, "SUCCESS") in await audit(container, world, by_ids.device.id)
    assert await container.bulk.run_once() is False
