"""The server-side key: the SERVER_SCOPE attribute ``claimingData`` (thingsboard.md §2.3, §6; issue #2 §4)."""

from __future__ import annotations

import json

import pytest

from claimd.domain.attributes import REDACTED
from claimd.domain.claiming import ClaimResponse, DeviceClaimMessage
from claimd.domain.errors import InvalidArgument
from claimd.domain.model import Door
from claimd.services.claiming import WindowResult
from claimd.services.common import Origin

DEVICE = Origin(Door.HTTP_DEVICE)
REST = Origin(Door.REST)
MINUTE = 60_000


def claiming_data(secret: str, expiration_time: int) -> bytes:
    return json.dumps({"claimingData": {"secretKey": secret, "expirationTime": expiration_time}}).encode()


async def server_attributes(world, device) -> dict:
    found = await world.container.devices.get_attributes(world.admin, "DEVICE", device.id, "SERVER_SCOPE", None)
    return {attribute.key: attribute.value for _scope, attribute in found}


async def test_server_side_key_claims_and_clears_both_attributes(world, container, clock):
    devices = container.devices
    device = await world.device()
    await devices.save_attributes(world.admin, "DEVICE", device.id, "SERVER_SCOPE", b'{"claimingAllowed": true}')
    await devices.save_attributes(
        world.admin, "DEVICE", device.id, "SERVER_SCOPE", claiming_data("abc", clock.now + MINUTE)
    )
    assert set(await server_attributes(world, device)) == {"claimingAllowed", "claimingData"}

    result = await container.claims.claim(world.u1, device.name, "abc", REST)
    assert result.response is ClaimResponse.SUCCESS
    assert result.device.customer_id == world.c1.id
    assert (await devices.get(world.admin, device.id)).customer_id == world.c1.id
    assert await server_attributes(world, device) == {}

    assert (await container.claims.claim(world.u2, device.name, "abc", REST)).response is ClaimResponse.CLAIMED


async def test_server_side_key_wrong_key_fails_and_keeps_the_attribute(world, container, clock):
    device = await world.device()
    await container.devices.save_attributes(
        world.admin, "DEVICE", device.id, "SERVER_SCOPE", claiming_data("abc", clock.now + MINUTE)
    )
    assert (await container.claims.claim(world.u1, device.name, "ABC", REST)).response is ClaimResponse.FAILURE
    assert "claimingData" in await server_attributes(world, device)
    # the attribute is not spent by a failed attempt (unlike a device-side window)
    assert (await container.claims.claim(world.u1, device.name, "abc", REST)).response is ClaimResponse.SUCCESS


async def test_expired_server_side_key_fails_and_keeps_the_attribute(world, container, clock):
    device = await world.device()
    expires = clock.now + MINUTE
    await container.devices.save_attributes(
        world.admin, "DEVICE", device.id, "SERVER_SCOPE", claiming_data("abc", expires)
    )
    clock.advance(MINUTE)  # now == expirationTime: still valid
    other = await world.device()
    await container.devices.save_attributes(
        world.admin, "DEVICE", other.id, "SERVER_SCOPE", claiming_data("abc", expires)
    )
    assert (await container.claims.claim(world.u1, other.name, "abc", REST)).response is ClaimResponse.SUCCESS

    clock.advance(1)
    assert (await container.claims.claim(world.u1, device.name, "abc", REST)).response is ClaimResponse.FAILURE
    kept = await server_attributes(world, device)
    assert kept["claimingData"]["expirationTime"] == expires
    assert (await container.devices.get(world.admin, device.id)).customer_id is None


async def test_server_side_key_as_json_string(world, container, clock):
    device = await world.device()
    inner = json.dumps({"secretKey": "abc", "expirationTime": str(clock.now + MINUTE)})  # numeric string too
    await container.devices.save_attributes(
        world.admin, "DEVICE", device.id, "SERVER_SCOPE", json.dumps({"claimingData": inner}).encode()
    )
    result = await container.claims.claim(world.u1, device.name, "abc", REST)
    assert result.response is ClaimResponse.SUCCESS
    assert result.device.customer_id == world.c1.id
    assert "claimingData" not in await server_attributes(world, device)


async def test_server_side_key_without_secret_matches_empty_key(world, container, clock):
    device = await world.device()
    body = json.dumps({"claimingData": {"expirationTime": clock.now + MINUTE}}).encode()
    await container.devices.save_attributes(world.admin, "DEVICE", device.id, "SERVER_SCOPE", body)
    assert (await container.claims.claim(world.u1, device.name, "x", REST)).response is ClaimResponse.FAILURE
    assert (await container.claims.claim(world.u1, device.name, "", REST)).response is ClaimResponse.SUCCESS


async def test_server_side_key_without_expiration_is_expired(world, container):
    device = await world.device()
    await container.devices.save_attributes(
        world.admin, "DEVICE", device.id, "SERVER_SCOPE", b'{"claimingData": {"secretKey": "abc"}}'
    )
    assert (await container.claims.claim(world.u1, device.name, "abc", REST)).response is ClaimResponse.FAILURE


@pytest.mark.parametrize(
    "value",
    [
        {"secretKey": "abc", "expirationTime": 1, "extra": 1},
        json.dumps({"secretKey": "abc", "durationMs": 1}),
        "not json",
        [1, 2],
        {"secretKey": 5, "expirationTime": 1},
        {"secretKey": "abc", "expirationTime": "soon"},
    ],
    ids=["unknown-property", "unknown-property-in-string", "not-json", "array", "numeric-key", "bad-expiry"],
)
async def test_malformed_claiming_data_is_refused_at_save(world, container, clock, value):
    device = await world.device()
    with pytest.raises(InvalidArgument):
        await container.devices.save_attributes(
            world.admin, "DEVICE", device.id, "SERVER_SCOPE", json.dumps({"claimingData": value}).encode()
        )
    assert await server_attributes(world, device) == {}


async def test_claiming_data_reads_back_redacted_and_secret_is_not_stored(world, container, clock, store_probe):
    device = await world.device()
    expires = clock.now + MINUTE
    await container.devices.save_attributes(
        world.admin, "DEVICE", device.id, "SERVER_SCOPE", claiming_data("abc", expires)
    )

    found = await container.devices.get_attributes(world.admin, "DEVICE", device.id, "SERVER_SCOPE", ["claimingData"])
    assert len(found) == 1
    scope, attribute = found[0]
    assert scope == "SERVER_SCOPE"
    assert attribute.value == {"secretKey": REDACTED, "expirationTime": expires}
    assert attribute.value["secretKey"] != "abc"

    rows = [row for table, row in await store_probe.sql_rows(container) if table == "attributes"]
    assert len(rows) == 1
    # every column but the device's UUID (whose hex digits could spell "abc" by chance)
    for column, value in rows[0].items():
        if column != "device_id":
            assert not store_probe.contains(value, "abc"), f"attributes.{column} holds the secret"
    assert rows[0]["secret_digest"]  # the key is kept as a digest


async def test_device_side_window_takes_precedence_over_claiming_data(world, container, clock):
    claims = container.claims
    device = await world.device()
    await container.devices.save_attributes(
        world.admin, "DEVICE", device.id, "SERVER_SCOPE", claiming_data("server", clock.now + MINUTE)
    )
    assert await claims.open_window(device, DeviceClaimMessage("device", MINUTE), DEVICE) is WindowResult.OPENED
    # the window is consulted first: the server key does not match it, and the attempt spends it
    assert (await claims.claim(world.u1, device.name, "server", REST)).response is ClaimResponse.FAILURE
    # with the window gone, claimingData is what counts
    assert (await claims.claim(world.u1, device.name, "server", REST)).response is ClaimResponse.SUCCESS


async def test_claiming_data_works_regardless_of_claiming_allowed(world, make_container, clock):
    strict = await make_container(allow_claiming_by_default=False)
    device = await world.device()
    await strict.devices.save_attributes(
        world.admin, "DEVICE", device.id, "SERVER_SCOPE", claiming_data("abc", clock.now + MINUTE)
    )
    result = await strict.claims.claim(world.u1, device.name, "abc", REST)
    assert result.response is ClaimResponse.SUCCESS


async def test_claiming_data_in_shared_scope_is_not_a_key(world, container, clock):
    device = await world.device()
    await container.devices.save_attributes(
        world.admin, "DEVICE", device.id, "SHARED_SCOPE", claiming_data("abc", clock.now + MINUTE)
    )
    assert (await container.claims.claim(world.u1, device.name, "abc", REST)).response is ClaimResponse.FAILURE
