"""What the stores hold: no secret in clear text (issue #2 §4), and the migrations."""

from __future__ import annotations

import json

from claimd.adapters.sql.migrations import current_revision, upgrade
from claimd.domain.claiming import ClaimResponse, DeviceClaimMessage
from claimd.domain.model import Door
from claimd.services.claiming import WindowResult
from claimd.services.common import Origin

DEVICE = Origin(Door.HTTP_DEVICE)
REST = Origin(Door.REST)
MINUTE = 60_000

WINDOW_SECRET = "s3cr3t-XYZ"
SERVER_SECRET = "srv-k3y-XYZ"
ACCESS_TOKEN = "tok-XYZ-123"


async def test_no_secret_is_stored_in_clear(world, container, clock, store_probe):
    device = await world.device("Secret keeper", access_token=ACCESS_TOKEN)
    assert (
        await container.claims.open_window(device, DeviceClaimMessage(WINDOW_SECRET, MINUTE), DEVICE)
        is WindowResult.OPENED
    )
    other = await world.device("Server keyed")
    body = json.dumps({"claimingData": {"secretKey": SERVER_SECRET, "expirationTime": clock.now + MINUTE}})
    await container.devices.save_attributes(world.admin, "DEVICE", other.id, "SERVER_SCOPE", body.encode())

    rows = await store_probe.sql_rows(container)
    tables = {table for table, _row in rows}
    assert {"tenants", "customers", "users", "devices", "attributes"} <= tables
    # the dump really holds the data (so that the absence checks below mean something)
    assert any(row.get("name") == "Secret keeper" for table, row in rows if table == "devices")
    for secret in (WINDOW_SECRET, SERVER_SECRET, ACCESS_TOKEN, "admin-password", "user-password"):
        leaks = [
            (table, column)
            for table, row in rows
            for column, value in row.items()
            if store_probe.contains(value, secret)
        ]
        assert leaks == [], f"{secret!r} stored in clear in {leaks}"

    if container.redis is not None:
        items = await store_probe.redis_items(container)
        windows = {key: value for key, value in items.items() if str(device.id) in key}
        assert len(windows) == 1, items
        for value in items.values():
            assert not store_probe.contains(value, WINDOW_SECRET)
        assert not any(table == "claim_windows" for table, _row in rows)  # the window lives in Redis only
    else:
        assert [row["device_id"] for table, row in rows if table == "claim_windows"] == [str(device.id)]

    # what is stored still proves the secrets and finds the device
    assert (await container.devices.by_access_token(ACCESS_TOKEN)).id == device.id
    assert (await container.devices.credentials(world.admin, device.id))[1] == ACCESS_TOKEN
    assert (await container.claims.claim(world.u1, device.name, WINDOW_SECRET, REST)).response is ClaimResponse.SUCCESS
    assert (await container.claims.claim(world.u2, other.name, SERVER_SECRET, REST)).response is ClaimResponse.SUCCESS


async def test_secrets_are_bound_to_their_device(world, container):
    """A window's digest is per device: the same key opens windows on two devices independently."""
    first = await world.device()
    second = await world.device()
    for device in (first, second):
        assert (
            await container.claims.open_window(device, DeviceClaimMessage("same", MINUTE), DEVICE)
            is WindowResult.OPENED
        )
    assert (await container.claims.claim(world.u1, first.name, "same", REST)).response is ClaimResponse.SUCCESS
    assert (await container.claims.claim(world.u2, second.name, "same", REST)).response is ClaimResponse.SUCCESS


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    from claimd.adapters.sql.migrations import alembic_config

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def test_migrations_build_exactly_the_tables_the_code_declares(container):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from claimd.adapters.sql.tables import metadata

    def differences(connection):
        return compare_metadata(MigrationContext.configure(connection), metadata)

    async with container.database.reader.connect() as conn:
        diff = await conn.run_sync(differences)
    assert diff == []


async def test_migrations_are_at_head_and_idempotent(world, container, make_container):
    head = head_revision()
    assert head != "0001"
    assert await current_revision(container.database) == head
    device = await world.device()
    await upgrade(container.database)
    await upgrade(container.database)
    assert await current_revision(container.database) == head
    # a second node starting on the migrated store runs them again, harmlessly
    again = await make_container()
    assert await current_revision(again.database) == head
    assert (await again.devices.get(world.admin, device.id)).id == device.id
