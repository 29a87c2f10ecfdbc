"""The claim contract, the same for every proof (issue 22): a secret key (a device-side window), a
signed claim token and a LoRaWAN claim authentication code, on every SQL backend and on the in-memory
fakes (claimd.adapters.memory).

Each case asserts what the claimer hears and the audit log the tenant reads afterwards: every claim,
granted or refused, leaves exactly one audit row with its outcome, committed whether or not the
request failed (a refusal must not roll its own audit row back with it). Refused guesses of the same
user from the same address are aggregated into one row with a count (services/guesses.py); the cases
here make one attempt each.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import pytest

from claimd.adapters.attestation import Es256IdentityKeys, mint_token, new_private_key, public_pem_of
from claimd.adapters.crypto import HmacSecretHasher
from claimd.adapters.limits import MemoryFailureLimiter
from claimd.adapters.memory import MemoryClaimRepository, memory_claim_store
from claimd.domain.claiming import ClaimResponse, DeviceClaimMessage
from claimd.domain.errors import ClaimdError
from claimd.domain.lockout import Lockout
from claimd.domain.lorawan import LorawanDraft, LorawanIdentity
from claimd.domain.model import AuditAction, Authority, Device, Door, Principal
from claimd.domain.ownership import DeviceIdentity
from claimd.services.claiming import ClaimPolicy, ClaimService, CodeProof, code_digest
from claimd.services.common import Origin
from claimd.services.guesses import Guesses, GuessPolicy
from claimd.services.ownership import IdentityDraft

REST = Origin(Door.REST, "198.51.100.7")
DEVICE = Origin(Door.HTTP_DEVICE)
JOIN = "70B3D57ED0000000"
CODE = "C05EA29C"
MINUTE = 60_000


@dataclass
class Subject:
    """One device with this proof's secret: ``right`` claims it, ``wrong`` does not."""

    device_id: uuid.UUID
    right: Any
    wrong: Any


class Kit:
    """One proof: how a tenant prepares a device for it, and how a customer claims with it. ``claim``
    answers "success", "already_yours", or the refusal's outcome (the audit row's)."""

    name: str
    expect: ClassVar[dict[str, str]]  # what a claimer hears in each case below

    def __init__(self, stage: Stage) -> None:
        self.stage, self.claims, self.clock = stage, stage.claims, stage.clock

    async def subject(self, *, expired: bool = False) -> Subject:
        raise NotImplementedError

    async def claim(self, principal: Principal, subject: Subject, proof: Any) -> str:
        raise NotImplementedError

    async def attempt(self, principal: Principal, subject: Subject, proof: Any) -> str:
        try:
            return await self.claim(principal, subject, proof)
        except ClaimdError as exc:
            return exc.code or type(exc).__name__


class SecretKeyKit(Kit):
    name = "secret key"
    # ThingsBoard's answers: CLAIMED for any assigned device (the caller's own too), FAILURE otherwise
    # and a wrong key spends the window, as every attempt does: the right key then finds none
    expect: ClassVar[dict[str, str]] = {
        "another": "CLAIMED",
        "yours": "CLAIMED",
        "wrong": "FAILURE",
        "after_wrong": "FAILURE",
        "spent": "FAILURE",
        "expired": "FAILURE",
    }
    outcomes: ClassVar[dict[ClaimResponse, str]] = {
        ClaimResponse.SUCCESS: "success",
        ClaimResponse.FAILURE: "FAILURE",
        ClaimResponse.CLAIMED: "CLAIMED",
    }

    async def subject(self, *, expired: bool = False) -> Subject:
        device = await self.stage.device()
        key = secrets.token_urlsafe(8)
        await self.claims.open_window(device, DeviceClaimMessage(key, 1_000 if expired else MINUTE), DEVICE)
        if expired:
            self.clock.advance(2_000)
        return Subject(device.id, (device.name, key), (device.name, "wrong-key"))

    async def claim(self, principal: Principal, subject: Subject, proof: Any) -> str:
        name, key = proof
        return self.outcomes[(await self.claims.claim(principal, name, key, REST)).response]


class TokenKit(Kit):
    name = "claim token"
    expect: ClassVar[dict[str, str]] = {
        "another": "DEVICE_OWNED_BY_ANOTHER",
        "yours": "already_yours",
        "wrong": "CLAIM_TOKEN_BAD_SIGNATURE",
        "after_wrong": "success",
        "spent": "CLAIM_TOKEN_REPLAYED",
        "expired": "CLAIM_CHALLENGE_EXPIRED",
    }

    async def subject(self, *, expired: bool = False) -> Subject:
        key, device_id = new_private_key(), uuid.uuid4()
        await self.stage.register_identity(device_id, public_pem_of(key))
        nonce = None
        if expired:  # a token answering a challenge that has expired
            nonce, _ = await self.claims.create_challenge(self.stage.u1)
            self.clock.advance(self.claims.policy.challenge_ttl_ms + 1_000)
        return Subject(device_id, mint_token(key, device_id, nonce=nonce), mint_token(new_private_key(), device_id))

    async def claim(self, principal: Principal, subject: Subject, proof: Any) -> str:
        created = (await self.claims.claim_with_token(principal, proof, None, REST)).created
        return "success" if created else "already_yours"


class CodeKit(Kit):
    name = "LoRaWAN code"
    expect: ClassVar[dict[str, str]] = {
        "another": "DEVICE_OWNED_BY_ANOTHER",
        "yours": "already_yours",
        "wrong": "DEVICE_ACCESS_DENIED",
        "after_wrong": "success",
        "spent": "CLAIM_CODE_SPENT",
        "expired": "CLAIM_CODE_NOT_VALID",
    }

    async def subject(self, *, expired: bool = False) -> Subject:
        dev_eui = "A0" + secrets.token_hex(7).upper()
        valid_to = self.clock() - 1_000 if expired else None
        device_id = await self.stage.provision_lorawan(dev_eui, JOIN, CODE, valid_to)
        return Subject(device_id, CodeProof(JOIN, dev_eui, CODE), CodeProof(JOIN, dev_eui, "00000000"))

    async def claim(self, principal: Principal, subject: Subject, proof: Any) -> str:
        created = (await self.claims.claim_with_code(principal, proof, "app", None, REST)).created
        return "success" if created else "already_yours"


KITS = [
    pytest.param(SecretKeyKit, id="secret-key"),
    pytest.param(TokenKit, id="token"),
    pytest.param(CodeKit, id="code"),
]


# the stages: where a kit's devices live -----------------------------------------------------------
class Stage:
    """A tenant with two customers C1 and C2 (one user each: ``u1``, ``u2``), a ClaimService over a
    store, and what a tenant does to prepare its devices."""

    claims: ClaimService
    clock: Any
    u1: Principal
    u2: Principal

    async def device(self) -> Device:
        raise NotImplementedError

    async def register_identity(self, device_id: uuid.UUID, public_pem: str) -> None:
        raise NotImplementedError

    async def provision_lorawan(self, dev_eui: str, join_eui: str, code: str, valid_to: int | None) -> uuid.UUID:
        raise NotImplementedError

    async def block(self, device_id: uuid.UUID) -> None:
        raise NotImplementedError

    async def claim_rows(self, device_id: uuid.UUID) -> list[tuple[str, int]]:
        """The device's CLAIM audit rows as (outcome, repeats), sorted (the fake clock stands still,
        so rows written in one millisecond have no order)."""
        raise NotImplementedError

    async def owner(self, device_id: uuid.UUID) -> uuid.UUID | None:
        raise NotImplementedError

    async def customer_user(self, like: Principal, email: str) -> Principal:
        """One more user of ``like``'s customer."""
        raise NotImplementedError


class SqlStage(Stage):
    """The container's services on a SQL backend (with Redis windows or without)."""

    def __init__(self, container, world, clock, make_customer_user) -> None:
        self.container, self.world, self.clock, self._make_user = container, world, clock, make_customer_user
        self.claims, self.u1, self.u2 = container.claims, world.u1, world.u2

    async def device(self) -> Device:
        return await self.world.device()

    async def register_identity(self, device_id: uuid.UUID, public_pem: str) -> None:
        await self.container.ownership.register_identity(self.world.admin, IdentityDraft(device_id, public_pem))

    async def provision_lorawan(self, dev_eui: str, join_eui: str, code: str, valid_to: int | None) -> uuid.UUID:
        draft = LorawanDraft(dev_eui=dev_eui, join_eui=join_eui, code=code, valid_to=valid_to)
        return (await self.container.lorawan.provision(self.world.admin, draft)).device.id

    async def block(self, device_id: uuid.UUID) -> None:
        await self.container.ownership.set_blocked(self.world.admin, device_id, True, REST)

    async def claim_rows(self, device_id: uuid.UUID) -> list[tuple[str, int]]:
        log = (await self.container.devices.audit_log(self.world.admin, 0, 1000, device_id)).data
        return sorted((e.outcome, e.repeats) for e in log if e.action is AuditAction.CLAIM)

    async def owner(self, device_id: uuid.UUID) -> uuid.UUID | None:
        return (await self.container.devices.get(self.world.admin, device_id)).customer_id

    async def customer_user(self, like: Principal, email: str) -> Principal:
        customer = self.world.c1 if like.customer_id == self.world.c1.id else self.world.c2
        return await self._make_user(self.world.admin, customer, email)


class MemoryStage(Stage):
    """A ClaimService over the in-memory fakes: no database, no Redis."""

    TENANT = uuid.UUID(int=7)

    def __init__(self, clock) -> None:
        self.clock = clock
        self.store = memory_claim_store()
        self.hasher = HmacSecretHasher(b"claimd-test-secret-0123456789abcdef")
        self.keys = Es256IdentityKeys()
        free = Lockout(1_000)
        guesses = Guesses(MemoryFailureLimiter(), GuessPolicy(free, free, free, free), clock)
        self.claims = ClaimService(self.store, self.hasher, ClaimPolicy(), clock, self.keys, guesses)
        self.u1 = self._user(uuid.uuid4(), "u1@c1.test")
        self.u2 = self._user(uuid.uuid4(), "u2@c2.test")

    def _repo(self) -> MemoryClaimRepository:
        return MemoryClaimRepository(self.store.state)

    def _user(self, customer: uuid.UUID, email: str) -> Principal:
        user = Principal(uuid.uuid4(), self.TENANT, customer, Authority.CUSTOMER_USER, email)
        self._repo().add_user(user.user_id)
        return user

    def _add_device(self, device_id: uuid.UUID | None = None) -> Device:
        device_id = device_id or uuid.uuid4()
        device = Device(device_id, self.TENANT, None, f"device-{device_id}", "default", self.clock())
        self._repo().add_device(device)
        return device

    async def device(self) -> Device:
        return self._add_device()

    async def register_identity(self, device_id: uuid.UUID, public_pem: str) -> None:
        self._add_device(device_id)
        identity = DeviceIdentity(device_id, self.TENANT, self.keys.normalize(public_pem), self.clock())
        await self._repo().add_identity(identity)

    async def provision_lorawan(self, dev_eui: str, join_eui: str, code: str, valid_to: int | None) -> uuid.UUID:
        device = self._add_device()
        identity = LorawanIdentity(device.id, self.TENANT, dev_eui, join_eui, self.clock(), valid_to=valid_to)
        self._repo().add_lorawan(identity, code_digest(self.hasher, self.TENANT, dev_eui, code))
        return device.id

    async def block(self, device_id: uuid.UUID) -> None:
        devices = self.store.state.devices
        devices[device_id] = replace(devices[device_id], blocked_at=self.clock(), blocked_by="TENANT")

    async def claim_rows(self, device_id: uuid.UUID) -> list[tuple[str, int]]:
        audit = self.store.state.audit
        return sorted(
            (e.outcome, e.repeats) for e in audit if e.device_id == device_id and e.action is AuditAction.CLAIM
        )

    async def owner(self, device_id: uuid.UUID) -> uuid.UUID | None:
        return self.store.state.devices[device_id].customer_id

    async def customer_user(self, like: Principal, email: str) -> Principal:
        assert like.customer_id is not None
        return self._user(like.customer_id, email)


@pytest.fixture(params=KITS)
def sql_kit(request, container, world, clock, make_customer_user) -> Kit:
    return request.param(SqlStage(container, world, clock, make_customer_user))


@pytest.fixture(params=KITS)
def memory_kit(request, clock) -> Kit:
    return request.param(MemoryStage(clock))


# the cases ---------------------------------------------------------------------------------------
async def case_a_right_proof_claims_once_with_one_audit_row(kit):
    subject = await kit.subject()
    assert await kit.attempt(kit.stage.u1, subject, subject.right) == "success"
    assert await kit.stage.owner(subject.device_id) == kit.stage.u1.customer_id
    assert await kit.stage.claim_rows(subject.device_id) == [("SUCCESS", 1)]


async def case_a_blocked_device_is_refused_and_the_refusal_is_audited(kit):
    subject = await kit.subject()
    await kit.stage.block(subject.device_id)
    assert await kit.attempt(kit.stage.u1, subject, subject.right) == "DEVICE_BLOCKED"
    assert await kit.stage.owner(subject.device_id) is None
    assert await kit.stage.claim_rows(subject.device_id) == [("DEVICE_BLOCKED", 1)]


async def case_a_device_of_another_customer_is_refused_and_audited(kit):
    subject = await kit.subject()
    assert await kit.attempt(kit.stage.u2, subject, subject.right) == "success"
    refused = await kit.attempt(kit.stage.u1, subject, subject.right)
    assert refused == kit.expect["another"]
    assert await kit.stage.owner(subject.device_id) == kit.stage.u2.customer_id
    assert await kit.stage.claim_rows(subject.device_id) == sorted([("SUCCESS", 1), (refused, 1)])


async def case_a_device_already_yours_stays_yours(kit):
    subject = await kit.subject()
    assert await kit.attempt(kit.stage.u1, subject, subject.right) == "success"
    again = await kit.attempt(kit.stage.u1, subject, subject.right)
    assert again == kit.expect["yours"]  # the token's nonce is spent: ownership is looked at first
    assert await kit.stage.owner(subject.device_id) == kit.stage.u1.customer_id
    expected = [("SUCCESS", 1)] if again == "already_yours" else [("SUCCESS", 1), (again, 1)]
    assert await kit.stage.claim_rows(subject.device_id) == sorted(expected)


async def case_a_wrong_proof_is_refused_and_audited(kit):
    subject = await kit.subject()
    refused = await kit.attempt(kit.stage.u1, subject, subject.wrong)
    assert refused == kit.expect["wrong"]
    assert await kit.stage.owner(subject.device_id) is None
    assert await kit.stage.claim_rows(subject.device_id) == [(refused, 1)]
    assert await kit.attempt(kit.stage.u1, subject, subject.right) == kit.expect["after_wrong"]


async def case_a_spent_proof_claims_nothing_after_a_release(kit):
    subject = await kit.subject()
    assert await kit.attempt(kit.stage.u1, subject, subject.right) == "success"
    await kit.claims.unclaim(kit.stage.u1, subject.device_id, REST)
    refused = await kit.attempt(kit.stage.u2, subject, subject.right)
    assert refused == kit.expect["spent"]
    assert await kit.stage.owner(subject.device_id) is None
    assert await kit.stage.claim_rows(subject.device_id) == sorted([("SUCCESS", 1), (refused, 1)])


async def case_an_expired_proof_is_refused_and_audited(kit):
    subject = await kit.subject(expired=True)
    refused = await kit.attempt(kit.stage.u1, subject, subject.right)
    assert refused == kit.expect["expired"]
    assert await kit.stage.owner(subject.device_id) is None
    assert await kit.stage.claim_rows(subject.device_id) == [(refused, 1)]


async def case_twenty_claimers_racing_one_wins_and_every_attempt_is_audited(kit):
    subject = await kit.subject()
    claimers = [kit.stage.u1] + [await kit.stage.customer_user(kit.stage.u2, f"racer{i}@race.test") for i in range(19)]
    outcomes = await asyncio.gather(*(kit.attempt(p, subject, subject.right) for p in claimers))
    assert outcomes.count("success") == 1, outcomes
    winner = claimers[outcomes.index("success")]
    assert await kit.stage.owner(subject.device_id) == winner.customer_id
    losers = [o for o in outcomes if o != "success"]
    # a loser of the winner's own customer may hear "already yours"; the others are refused
    refused = [o for o in losers if o != "already_yours"]
    assert await kit.stage.claim_rows(subject.device_id) == sorted([("SUCCESS", 1)] + [(o, 1) for o in refused]), (
        outcomes
    )


# each case on the SQL backends and on the fakes ----------------------------------------------------
def _on_sql(case):
    async def test(sql_kit):
        await case(sql_kit)

    return test


def _in_memory(case):
    async def test(memory_kit):
        await case(memory_kit)

    return test


for _name, _case in list(globals().items()):
    if _name.startswith("case_"):
        globals()[f"test_{_name[5:]}_on_sql"] = _on_sql(_case)
        globals()[f"test_{_name[5:]}_in_memory"] = _in_memory(_case)
