"""Bulk rows: sealed at rest whatever the endpoint, a refused row's claim token spent, no SQL
parameter (a row's token) in any log, and every malformed row refused alone with its own error,
rows counted from 1 (the first data row)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid

import pytest
from servers import create_pg_database, drop_pg_database, require_server
from sqlalchemy import text

from claimd.adapters.attestation import mint_token, new_private_key, public_pem_of
from claimd.adapters.sql.database import open_database
from claimd.adapters.sql.migrations import upgrade
from claimd.domain.bulk import BulkEndpoint, BulkStatus
from claimd.domain.model import Door
from claimd.domain.ownership import ReplayedToken
from claimd.services.bulk import BulkService
from claimd.services.common import Origin
from claimd.services.ownership import IdentityDraft

REST = Origin(Door.REST)


async def body(*chunks: bytes):
    for chunk in chunks:
        yield chunk


async def stored_lines(container, op_id: str) -> list[str]:
    async with container.database.reader.connect() as conn:
        rows = await conn.execute(text("SELECT line FROM bulk_rows WHERE op_id = :o ORDER BY row_index"), {"o": op_id})
        return [r[0] for r in rows]


async def identity(container, world, key) -> uuid.UUID:
    device_id = uuid.uuid4()
    await container.ownership.register_identity(world.admin, IdentityDraft(device_id, public_pem_of(key)))
    return device_id


async def results(container, op) -> list[tuple[int, str, str | None]]:
    return [(r.row_index, r.outcome, r.message) async for r in container.bulk.rows(op)]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_rows_of_every_endpoint_are_sealed_at_rest(container, world):
    """Claim rows hold tokens: every endpoint's rows are sealed, none is served back, and a worked
    row's line is dropped."""
    key = new_private_key()
    token = mint_token(key, uuid.uuid4())
    claim_op, _ = await container.bulk.submit(
        world.u1, BulkEndpoint.CLAIM_DEVICE_OWNERSHIP, body(f'{token},"site-a"\n'.encode())
    )
    pem = public_pem_of(key)
    register_op, _ = await container.bulk.submit(
        world.admin, BulkEndpoint.REGISTER_PUBLIC_KEYS, body(f'{uuid.uuid4()},"{pem}",nrf9160\n'.encode())
    )
    [claim_line] = await stored_lines(container, claim_op.id)
    [register_line] = await stored_lines(container, register_op.id)
    for part in token.split("."):
        assert part not in claim_line
    assert "site-a" not in claim_line
    assert "nrf9160" not in register_line and "BEGIN PUBLIC KEY" not in register_line
    assert not hasattr(container.bulk, "uploaded")  # no way to read an upload back
    # the upload's digest (which tells a repeated upload) is keyed: a guess of a short secret (a
    # one-row upload of a LoRaWAN code) cannot be checked against it offline
    upload = f'{token},"site-a"\n'.encode()
    async with container.database.reader.connect() as conn:
        digest = (
            await conn.execute(text("SELECT upload_digest FROM bulk_ops WHERE id = :o"), {"o": claim_op.id})
        ).scalar_one()
    assert digest and bytes(digest) != hashlib.sha256(upload).digest()
    # the worker still reads them
    assert await container.bulk.run_once() and await container.bulk.run_once()
    done = await container.bulk.get(world.admin, register_op.id)
    assert (done.succeeded, done.failed) == (1, 0)
    # a worked row's line is dropped: nothing reads it again
    assert await stored_lines(container, claim_op.id) == await stored_lines(container, register_op.id) == [""]


async def test_a_refused_rows_token_is_spent_and_never_claims_later(container, world):
    """A refused row's token was uploaded, so it may have been seen: it is spent (its nonce recorded
    as used) so that it never claims later. Only a token that verifies is spent: a forged one, which
    anyone can make with any nonce, must not spend the genuine token that carries that nonce."""
    key = new_private_key()
    owned, unowned, forged_target = [await identity(container, world, key) for _ in range(3)]
    await container.claims.claim_with_token(world.u2, mint_token(key, owned), None, REST)
    refused_owned = mint_token(key, owned)  # refused: the device belongs to C2
    refused_tags = mint_token(key, unowned)  # refused: its tags cell is invalid
    nonce = b"n" * 16
    forged = mint_token(new_private_key(), forged_target, nonce=nonce)  # refused: not the device's key
    upload = f'{refused_owned}\n{refused_tags},"{"x" * 300}"\n{forged}\n'.encode()
    op, _ = await container.bulk.submit(world.u1, BulkEndpoint.CLAIM_DEVICE_OWNERSHIP, body(upload))
    assert await container.bulk.run_once()
    done = await container.bulk.get(world.u1, op.id)
    assert [(i, o) for i, o, _ in await results(container, done)] == [(1, "ERROR"), (2, "ERROR"), (3, "ERROR")]

    await container.claims.unclaim(world.u2, owned, REST)
    for token in (refused_owned, refused_tags):
        with pytest.raises(ReplayedToken):
            await container.claims.claim_with_token(world.u1, token, None, REST)
    genuine = mint_token(key, forged_target, nonce=nonce)
    claimed = await container.claims.claim_with_token(world.u1, genuine, None, REST)
    assert claimed.device.customer_id == world.c1.id


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_failing_batch_logs_no_sql_parameter(container, world, clock, caplog):
    """A row whose statement fails: the batch's warning and the row's error are logged with their
    traces, and neither holds the row's token (SQLAlchemy puts the parameters in the error text)."""
    token = mint_token(new_private_key(), uuid.uuid4())
    uow = container.bulk.uow

    async def handler(principal, op, row, done):
        async with uow(write=True) as tx:
            await tx.repo.conn.execute(text("INSERT INTO no_such_table (token) VALUES (:token)"), {"token": row.line})

    service = BulkService(
        uow,
        container.accounts,
        clock,
        {BulkEndpoint.REGISTER_PUBLIC_KEYS: handler},
        container.bulk.sealer,
        container.bulk.hasher,
    )
    op, _ = await service.submit(world.admin, BulkEndpoint.REGISTER_PUBLIC_KEYS, body(f"{token}\n{token}x\n".encode()))
    with caplog.at_level(logging.DEBUG):
        assert await service.run_once()
    assert "failed unexpectedly" in caplog.text and "no_such_table" in caplog.text
    for part in token.split("."):
        assert part not in caplog.text
    done = await service.get(world.admin, op.id)
    assert (done.status, done.failed) == (BulkStatus.FAILED, 2)


async def test_malformed_rows_are_refused_one_by_one_and_counted_from_one(container, world):
    key = new_private_key()
    pem = public_pem_of(key)
    good = [uuid.uuid4(), uuid.uuid4()]
    rows = [
        "id,publicKey,deviceType",  # a header: not a row
        f'{good[0]},"{pem}",nrf9160',  # 1 good
        f',"{pem}",nrf9160',  # 2 empty first cell
        f"{uuid.uuid4()}",  # 3 short: no public key
        f"{uuid.uuid4()},",  # 4 an empty public key
        f'{uuid.uuid4()},"{pem}",nrf9160,,,,na\x00me',  # 5 a NUL in the name
        "",  # a blank line: not a row
        f'{good[1]},"{pem}"',  # 6 good
    ]
    op, _ = await container.bulk.submit(world.admin, BulkEndpoint.REGISTER_PUBLIC_KEYS, body("\n".join(rows).encode()))
    assert op.total == 6
    assert await container.bulk.run_once()
    done = await container.bulk.get(world.admin, op.id)
    assert (done.status, done.succeeded, done.failed, done.outcome) == (BulkStatus.FAILED, 2, 4, "PARTIAL")
    found = await results(container, done)
    assert [(i, o) for i, o, _ in found] == [
        (1, "OK"),
        (2, "ERROR"),
        (3, "ERROR"),
        (4, "ERROR"),
        (5, "ERROR"),
        (6, "OK"),
    ]
    messages = [m for _, o, m in found if o == "ERROR"]
    assert "internal error" not in messages
    assert "id" in messages[0] and "public key" in messages[1] and "public key" in messages[2]
    assert messages[3] == "the row contains a NUL character"


async def test_nul_bytes_in_a_claim_upload_are_a_row_error(container, world):
    key = new_private_key()
    device_id = await identity(container, world, key)
    upload = (
        f'"a"\x00b,x\n'  # 1 a malformed first row: not a header, a row
        f'{mint_token(key, uuid.uuid4())},"ta\x00g"\n'  # 2 a NUL in the tags
        f"{mint_token(key, device_id)}\n"
    ).encode()  # 3 good
    op, _ = await container.bulk.submit(world.u1, BulkEndpoint.CLAIM_DEVICE_OWNERSHIP, body(upload))
    assert op.total == 3
    assert await container.bulk.run_once()
    found = await results(container, await container.bulk.get(world.u1, op.id))
    assert [(i, o) for i, o, _ in found] == [(1, "ERROR"), (2, "ERROR"), (3, "OK")]
    assert found[0][2] == found[1][2] == "the row contains a NUL character"


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_the_upgrade_drops_the_plain_lines_of_rows_already_worked(kind, tmp_path):
    """Rows stored before lines were sealed: the worked ones lose their (plain) line at the upgrade; an
    open one is refused by the worker with a clear error, and its line goes too. A fresh store each
    (the tests' PostgreSQL database is kept at the newest revision)."""
    name, url = None, f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    if kind == "postgres":
        require_server("postgres")
        name, url = await asyncio.to_thread(create_pg_database)
    database = open_database(url, pool_size=1)
    try:
        await upgrade(database, "0007")
        tenant = str(uuid.uuid4())
        async with database.writer.begin() as conn:
            await conn.execute(text("INSERT INTO tenants (id, title, created_time) VALUES (:t, 'T', 1)"), {"t": tenant})
            await conn.execute(
                text(
                    "INSERT INTO bulk_ops (id, tenant_id, user_id, endpoint, status, requested_at, total, succeeded, failed)"
                    " VALUES ('01JXRE5J00AAAAAAAAAAAAAAAA', :t, :t, 'CLAIM_DEVICE_OWNERSHIP', 'FAILED', 1, 2, 0, 1)"
                ),
                {"t": tenant},
            )
            await conn.execute(
                text(
                    "INSERT INTO bulk_rows (op_id, row_index, line, outcome) VALUES"
                    " ('01JXRE5J00AAAAAAAAAAAAAAAA', 0, 'plain.token', 'ERROR'),"
                    " ('01JXRE5J00AAAAAAAAAAAAAAAA', 1, 'open.token', NULL)"
                )
            )
        await upgrade(database)
        async with database.reader.connect() as conn:
            lines = (await conn.execute(text("SELECT line FROM bulk_rows ORDER BY row_index"))).scalars().all()
        assert lines == ["", "open.token"]
    finally:
        await database.dispose()
        if name:
            await asyncio.to_thread(drop_pg_database, name)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_row_that_cannot_be_unsealed_is_refused_clearly(container, world):
    op, _ = await container.bulk.submit(world.u1, BulkEndpoint.CLAIM_DEVICE_OWNERSHIP, body(b"a.b\n"))
    async with container.database.writer.begin() as conn:  # as stored by a claimd that kept lines plain
        await conn.execute(text("UPDATE bulk_rows SET line = 'plain.token' WHERE op_id = :o"), {"o": op.id})
    assert await container.bulk.run_once()
    [(index, outcome, message)] = await results(container, await container.bulk.get(world.u1, op.id))
    assert (index, outcome) == (1, "ERROR") and "upload it again" in message
    assert await stored_lines(container, op.id) == [""]
