"""Batches of the bulk worker: one write transaction, a savepoint per unit of work, on every backend.

The services do not know about batches: inside ``uow.batch()`` the units of work they open become
savepoints of the batch's transaction. A unit that fails undoes its own changes only; the batch
commits (or rolls back) as a whole; a batch that fails unexpectedly is worked again row by row.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

import claimd.services.bulk as bulk_module
from claimd.domain.bulk import BulkEndpoint, BulkStatus
from claimd.domain.errors import InvalidArgument
from claimd.services.bulk import BulkService
from claimd.services.common import record_row


async def blocked(container, world, device_id: uuid.UUID) -> bool:
    return (await container.devices.get(world.admin, device_id)).is_blocked


async def test_a_failing_unit_undoes_its_own_changes_and_the_batch_commits_the_rest(container, world, clock):
    uow = container.bulk.uow
    kept, undone = await world.device(), await world.device()
    async with uow.batch():
        async with uow(write=True) as tx:
            await tx.repo.set_blocked(kept.id, clock(), "TENANT")
        with pytest.raises(InvalidArgument):  # noqa: PT012 - the unit of work's exit is what is tested
            async with uow(write=True) as tx:
                await tx.repo.set_blocked(undone.id, clock(), "TENANT")
                raise InvalidArgument("refused")
        async with uow() as tx:  # a read in the batch sees the batch's own changes
            assert (await tx.repo.get_device(kept.tenant_id, kept.id)).is_blocked
            assert not (await tx.repo.get_device(undone.tenant_id, undone.id)).is_blocked

        async def elsewhere() -> bool:  # another task is not in the batch: it sees committed data only
            async with uow() as tx:
                return (await tx.repo.get_device(kept.tenant_id, kept.id)).is_blocked

        assert await asyncio.create_task(elsewhere()) is False
        with pytest.raises(RuntimeError):
            async with uow.batch():
                pass
    assert await blocked(container, world, kept.id)
    assert not await blocked(container, world, undone.id)


async def test_a_batch_that_ends_with_an_exception_rolls_back_whole(container, world, clock):
    uow = container.bulk.uow
    device = await world.device()
    with pytest.raises(KeyError):  # noqa: PT012 - the batch's exit is what is tested
        async with uow.batch():
            async with uow(write=True) as tx:
                await tx.repo.set_blocked(device.id, clock(), "TENANT")
            raise KeyError("stop")
    assert not await blocked(container, world, device.id)
    async with uow(write=True) as tx:  # the writer is free again
        await tx.repo.set_blocked(device.id, clock(), "TENANT")
    assert await blocked(container, world, device.id)


async def test_each_row_commits_once_with_its_outcome_even_when_a_batch_fails(container, world, clock, monkeypatch):
    """Rows block devices. ``fail`` rows raise a claimd error after their write, ``boom`` rows an
    unexpected one, which fails their batch: it is worked again one row per transaction."""
    monkeypatch.setattr(bulk_module, "BATCH_ROWS", 3)
    uow = container.bulk.uow
    devices = [await world.device() for _ in range(8)]
    kinds = ["ok", "fail", "ok", "ok", "boom", "ok", "ok", "fail"]
    calls: list[int] = []

    async def handler(principal, op, row, done):
        calls.append(row.index)
        kind, _, device_id = row.line.partition(":")
        async with uow(write=True) as tx:
            await tx.repo.set_blocked(uuid.UUID(device_id), clock(), "TENANT")
            if kind == "fail":
                raise InvalidArgument("refused")
            if kind == "boom":
                raise RuntimeError("unexpected")
            await record_row(tx.repo, done, uuid.UUID(device_id))
        return uuid.UUID(device_id)

    service = BulkService(
        uow,
        container.accounts,
        clock,
        {BulkEndpoint.REGISTER_PUBLIC_KEYS: handler},
        container.bulk.sealer,
        container.bulk.hasher,
    )

    async def body():
        yield "\n".join(f"{k}:{d.id}" for k, d in zip(kinds, devices, strict=True)).encode()

    op, created = await service.submit(world.admin, BulkEndpoint.REGISTER_PUBLIC_KEYS, body())
    assert created
    assert await service.run_once()
    op = await service.get(world.admin, op.id)
    assert (op.status, op.total, op.succeeded, op.failed) == (BulkStatus.FAILED, 8, 5, 3)
    outcomes = [(r.row_index, r.outcome, r.message) async for r in service.rows(op)]
    assert outcomes == [
        (1, "OK", None),
        (2, "ERROR", "refused"),
        (3, "OK", None),
        (4, "OK", None),
        (5, "ERROR", "internal error"),
        (6, "OK", None),
        (7, "OK", None),
        (8, "ERROR", "refused"),
    ]
    for kind, device in zip(kinds, devices, strict=True):
        assert await blocked(container, world, device.id) is (kind == "ok"), (kind, device.id)
    # the second batch (rows 4-6) failed at row 5: rows 4 and 5 were worked again, one transaction each
    assert calls == [1, 2, 3, 4, 5, 4, 5, 6, 7, 8]
    assert not await service.run_once()  # nothing left


async def test_units_of_work_nest_inside_a_batch(container, world, clock):
    """Every savepoint has the same name: the inner one hides the outer one until it ends."""
    uow = container.bulk.uow
    inner_only, both, outer_kept = await world.device(), await world.device(), await world.device()
    async with uow.batch():
        with pytest.raises(InvalidArgument):  # noqa: PT012 - the unit of work's exit is what is tested
            async with uow(write=True) as tx:
                async with uow(write=True) as inner:
                    await inner.repo.set_blocked(both.id, clock(), "TENANT")
                raise InvalidArgument("the outer unit fails after the inner one ended well")
        async with uow(write=True) as tx:
            await tx.repo.set_blocked(outer_kept.id, clock(), "TENANT")
            with pytest.raises(InvalidArgument):  # noqa: PT012 - the unit of work's exit is what is tested
                async with uow(write=True) as inner:
                    await inner.repo.set_blocked(inner_only.id, clock(), "TENANT")
                    raise InvalidArgument("the inner unit fails")
    assert not await blocked(container, world, both.id)
    assert not await blocked(container, world, inner_only.id)
    assert await blocked(container, world, outer_kept.id)
