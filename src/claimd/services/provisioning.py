"""Provisioning commands: the owner's side (queue, list, cancel, reset) and the device's side (fetch the
open commands, report results). Every door (HTTP with an access token or an identity-key JWT, CoAP)
calls the same two device methods.

A blocked device gets nothing and its commands stay as they are; a device nobody owns has no
commands (they belong to the owner that queued them, and a release cancels the open ones).
"""

from __future__ import annotations

import builtins
import json
import uuid
from dataclasses import dataclass, replace
from typing import Any

from claimd.domain.device_jwt import jwt_device_id, jwt_times_ok
from claimd.domain.errors import AuthenticationFailed, InvalidArgument, NotFound
from claimd.domain.model import Device, Principal
from claimd.domain.ownership import DeviceBlocked, visible_to
from claimd.domain.provisioning import (
    MAX_OPEN_COMMANDS,
    CommandClosed,
    CommandRequest,
    CommandStatus,
    DeviceNotClaimed,
    ProvisioningCommand,
    TooManyCommands,
    apply_report,
    device_steps,
    parse_request,
    step_types,
)
from claimd.domain.provisioning_wire import DeviceReport, DeviceStep, encode_steps, parse_correlation
from claimd.domain.roles import COMMAND_READ, COMMAND_WRITE
from claimd.services.common import check_text, require
from claimd.services.ports import Clock, IdentityKeys, Sealer
from claimd.services.stores import Repository
from claimd.services.uow import UnitOfWork, UnitOfWorkFactory

DEFAULT_FETCH_LIMIT = 20


@dataclass(frozen=True, slots=True)
class CommandView:
    command: ProvisioningCommand
    request: CommandRequest


@dataclass(frozen=True, slots=True)
class CommandPage:
    items: list[CommandView]
    total: int
    next_token: str | None


@dataclass(frozen=True, slots=True)
class ReportOutcome:
    applied: int
    ignored: list[str]


class ProvisioningService:
    def __init__(self, uow: UnitOfWorkFactory[Repository], sealer: Sealer, keys: IdentityKeys, clock: Clock) -> None:
        self.uow = uow
        self.sealer = sealer
        self.keys = keys
        self.clock = clock

    def _request(self, command: ProvisioningCommand) -> CommandRequest:
        stored = json.loads(self.sealer.unseal(command.request_sealed))
        return CommandRequest(stored["kind"], stored["params"])

    def _view(self, command: ProvisioningCommand) -> CommandView:
        return CommandView(command, self._request(command))

    # the owner's side -----------------------------------------------------------------------------
    async def _owned(
        self, tx: UnitOfWork[Repository], principal: Principal, device_id: uuid.UUID, *, lock: bool = False
    ) -> Device:
        repo = tx.repo
        device = await (repo.lock_device if lock else repo.get_device)(principal.tenant_id, device_id)
        if device is None or not device.is_assigned or not visible_to(principal, device):
            raise NotFound("No claimed device with this id")
        return device

    async def create(self, principal: Principal, device_id: uuid.UUID, request: Any, description: Any) -> CommandView:
        """Queue a command for a claimed device (its owner's users, or the tenant): at most 20 open."""
        require(principal, COMMAND_WRITE)
        checked = parse_request(request)
        if description is not None and not isinstance(description, str):
            raise InvalidArgument("description must be a string")
        check_text("description", description)
        now = self.clock()
        sealed = self.sealer.seal(json.dumps({"kind": checked.kind, "params": checked.params}))
        async with self.uow(write=True) as tx:
            device = await self._owned(tx, principal, device_id, lock=True)
            open_count, last = await tx.repo.command_queue(device.id, device.customer_id)
            if open_count >= MAX_OPEN_COMMANDS:
                raise TooManyCommands(
                    f"A device has at most {MAX_OPEN_COMMANDS} open commands; wait for the device or cancel one"
                )
            command = ProvisioningCommand(
                id=uuid.uuid4(),
                tenant_id=device.tenant_id,
                device_id=device.id,
                customer_id=device.customer_id,
                position=last + 1,
                kind=checked.kind,
                description=description,
                request_sealed=sealed,
                steps=len(step_types(checked)),
                steps_done=0,
                status=CommandStatus.PENDING,
                response=None,
                created_by=principal.user_id,
                created_time=now,
                updated_time=now,
            )
            await tx.repo.add_command(command)
        return CommandView(command, checked)

    async def list(
        self,
        principal: Principal,
        device_id: uuid.UUID,
        status: str | None = None,
        limit: int = 100,
        page_token: str | None = None,
    ) -> CommandPage:
        """The owner's commands of a device in queue order, a page at a time (``pageNextToken``)."""
        require(principal, COMMAND_READ)
        if status is not None and status not in CommandStatus.__members__:
            raise InvalidArgument(f"status is one of {', '.join(CommandStatus)}")
        if not 1 <= limit <= 1000:
            raise InvalidArgument("limit must be between 1 and 1000")
        if page_token is not None and not (page_token.isascii() and page_token.isdigit() and len(page_token) < 19):
            raise InvalidArgument("pageNextToken is not one this server gave out")
        async with self.uow() as tx:
            device = await self._owned(tx, principal, device_id)
            found, total = await tx.repo.list_commands(
                device.id, device.customer_id, status, int(page_token or 0), limit + 1
            )
        more = len(found) > limit
        found = found[:limit]
        return CommandPage([self._view(c) for c in found], total, str(found[-1].position) if more else None)

    @staticmethod
    async def _command(tx: UnitOfWork[Repository], device: Device, command_id: uuid.UUID) -> ProvisioningCommand:
        """One of the current owner's commands of ``device`` (another owner's are not found)."""
        command = await tx.repo.get_command(device.id, command_id)
        if command is None or command.customer_id != device.customer_id:
            raise NotFound("No provisioning command with this id")
        return command

    async def get(self, principal: Principal, device_id: uuid.UUID, command_id: uuid.UUID) -> CommandView:
        require(principal, COMMAND_READ)
        async with self.uow() as tx:
            device = await self._owned(tx, principal, device_id)
            command = await self._command(tx, device, command_id)
        return self._view(command)

    async def _move(
        self, principal: Principal, device_id: uuid.UUID, command_id: uuid.UUID, *, reset: bool
    ) -> CommandView:
        require(principal, COMMAND_WRITE)
        now = self.clock()
        async with self.uow(write=True) as tx:
            device = await self._owned(tx, principal, device_id, lock=reset)
            command = await self._command(tx, device, command_id)
            if reset:
                if command.status.is_open:
                    raise CommandClosed("The command is still open; only a finished command is reset")
                open_count, last = await tx.repo.command_queue(device.id, device.customer_id)
                if open_count >= MAX_OPEN_COMMANDS:
                    raise TooManyCommands(f"A device has at most {MAX_OPEN_COMMANDS} open commands")
                # to the end of the queue: a device that finished before asks for what came after
                await tx.repo.update_command(
                    command.id,
                    (command.status,),
                    now,
                    status=CommandStatus.PENDING,
                    steps_done=0,
                    clear_response=True,
                    position=last + 1,
                )
            elif not await tx.repo.update_command(
                command.id, (CommandStatus.PENDING, CommandStatus.IN_PROGRESS), now, status=CommandStatus.CANCELLED
            ):
                raise CommandClosed(f"The command is {command.status.value}; only an open command is cancelled")
            moved = await tx.repo.get_command(device.id, command.id)
        assert moved is not None
        return self._view(moved)

    async def cancel(self, principal: Principal, device_id: uuid.UUID, command_id: uuid.UUID) -> CommandView:
        """Cancel an open command: the device is not sent it any more (kept in the history)."""
        return await self._move(principal, device_id, command_id, reset=False)

    async def reset(self, principal: Principal, device_id: uuid.UUID, command_id: uuid.UUID) -> CommandView:
        """Queue a finished (succeeded, failed or cancelled) command again, as nRF Cloud's Reset."""
        return await self._move(principal, device_id, command_id, reset=True)

    # the device's side ----------------------------------------------------------------------------
    async def device_by_jwt(self, token: str) -> Device:
        """The device of a JWT signed by its identity key (the nRF Provisioning library's Bearer)."""
        unverified = self.keys.jwt_claims(token, None) if token and len(token) <= 4096 else None
        device_id = jwt_device_id(unverified.get("iss")) if unverified else None
        if device_id is None:
            raise AuthenticationFailed("The bearer token is not a device JWT (ES256, device UUID in iss)")
        async with self.uow() as tx:
            identity = (await tx.repo.get_identities([device_id])).get(device_id)
            device = await tx.repo.get_device(identity.tenant_id, device_id) if identity is not None else None
        if device is None or identity is None:
            raise AuthenticationFailed("Unknown device")
        claims = self.keys.jwt_claims(token, identity.public_key)
        if claims is None or not jwt_times_ok(claims, self.clock() // 1000):
            raise AuthenticationFailed("The device JWT does not verify, has expired, or lives longer than 360 s")
        return device

    @staticmethod
    def _check_device(device: Device | None) -> Device:
        if device is None:
            raise AuthenticationFailed("Unknown device")
        if device.is_blocked:
            raise DeviceBlocked("The device is blocked; its commands wait until it is unblocked")
        if not device.is_assigned:
            raise DeviceNotClaimed("The device is not claimed; claim it with its claim token first")
        return device

    async def _fresh(self, tx: UnitOfWork[Repository], device: Device) -> Device:
        """The device as it is now (blocked or released since it authenticated?), checked."""
        return self._check_device(await tx.repo.get_device(device.tenant_id, device.id))

    async def fetch(
        self,
        device: Device,
        after: str | None = None,
        limit: int | None = None,
        max_bytes: int | None = None,
        cbor: bool = True,
    ) -> builtins.list[DeviceStep]:
        """The device's open commands, in queue order, as the steps it has not answered; marks them
        IN_PROGRESS. ``after`` (the last correlation id the device finished) skips older commands;
        ``max_bytes`` (the device's receive buffer) sends fewer commands, never less than one."""
        limit = DEFAULT_FETCH_LIMIT if limit is None else limit
        if not 1 <= limit <= 100:
            raise InvalidArgument("limit must be between 1 and 100")
        async with self.uow() as tx:  # a poll with nothing new writes nothing
            fresh = await self._fresh(tx, device)
            after_position = 0
            mark = parse_correlation(after) if after else None
            if mark is not None:
                seen = await tx.repo.get_command(fresh.id, mark[0])
                after_position = seen.position if seen is not None else 0
            steps: list[DeviceStep] = []
            sent: list[ProvisioningCommand] = []
            for command in await tx.repo.open_commands(fresh.id, fresh.customer_id, after_position, limit):
                more = device_steps(command.id, self._request(command), command.steps_done)
                if sent and max_bytes is not None and len(encode_steps(steps + more, cbor=cbor)) > max_bytes:
                    break
                steps += more
                sent.append(command)
        fresh_ids = [c.id for c in sent if c.status is CommandStatus.PENDING]
        if fresh_ids:
            async with self.uow(write=True) as tx:
                await tx.repo.mark_delivered(fresh_ids, self.clock())
        return steps

    async def report(self, device: Device, reports: builtins.list[DeviceReport]) -> ReportOutcome:
        """Apply the device's answers in order; answers to unknown, closed or other steps are ignored
        (and named), so a repeated report changes nothing."""
        now = self.clock()
        applied, ignored = 0, []
        async with self.uow(write=True) as tx:
            device = await self._fresh(tx, device)
            commands = await tx.repo.commands_by_id(device.id, {r.command_id for r in reports})
            for report in reports:
                command = commands.get(report.command_id)
                progress = None
                if command is not None and command.customer_id == device.customer_id:
                    progress = apply_report(command, step_types(self._request(command)), report)
                if progress is None or command is None:
                    ignored.append(str(report.command_id) if report.step == 0 else f"{report.command_id}.{report.step}")
                    continue
                if await tx.repo.update_command(
                    command.id,
                    (command.status,),
                    now,
                    status=progress.status,
                    steps_done=progress.steps_done,
                    response=progress.response,
                ):
                    applied += 1
                    commands[command.id] = replace(
                        command, status=progress.status, steps_done=progress.steps_done, response=progress.response
                    )
        return ReportOutcome(applied, ignored)
