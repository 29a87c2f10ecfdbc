"""The claim contract, the same for every proof (issue 22): a secret key (a device-side window), a
signed claim token and a LoRaWAN claim authentication code, on every backend.

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
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest

from claimd.adapters.attestation import mint_token, new_private_key, public_pem_of
from claimd.domain.claiming import ClaimResponse, DeviceClaimMessage
from claimd.domain.errors import ClaimdError
from claimd.domain.lorawan import LorawanDraft
from claimd.domain.model import AuditAction, Door, Principal
from claimd.services.claims import CodeProof
from claimd.services.common import Origin
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

    def __init__(self, container, world, clock) -> None:
        self.container, self.world, self.clock = container, world, clock

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
        device = await self.world.device()
        key = secrets.token_urlsafe(8)
        await self.container.claims.open_window(device, DeviceClaimMessage(key, 1_000 if expired else MINUTE), DEVICE)
        if expired:
            self.clock.advance(2_000)
        return Subject(device.id, (device.name, key), (device.name, "wrong-key"))

    async def claim(self, principal: Principal, subject: Subject, proof: Any) -> str:
        name, key = proof
        return self.outcomes[(await self.container.claims.claim(principal, name, key, REST)).response]


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
        await self.container.ownership.register_identity(self.world.admin, IdentityDraft(device_id, public_pem_of(key)))
        nonce = None
        if expired:  # a token answering a challenge that has expired
            nonce, _ = await self.container.claims.create_challenge(self.world.u1)
            self.clock.advance(self.container.claims.policy.challenge_ttl_ms + 1_000)
        return Subject(device_id, mint_token(key, device_id, nonce=nonce), mint_token(new_private_key(), device_id))

    async def claim(self, principal: Principal, subject: Subject, proof: Any) -> str:
        created = (await self.container.claims.claim_with_token(principal, proof, None, REST)).created
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
        made = await self.container.lorawan.provision(
            self.world.admin, LorawanDraft(dev_eui=dev_eui, join_eui=JOIN, code=CODE, valid_to=valid_to)
        )
        return Subject(made.device.id, CodeProof(JOIN, dev_eui, CODE), CodeProof(JOIN, dev_eui, "00000000"))

    async def claim(self, principal: Principal, subject: Subject, proof: Any) -> str:
        created = (await self.container.claims.claim_with_code(principal, proof, "app", None, REST)).created
        return "success" if created else "already_yours"


KITS = [
    pytest.param(SecretKeyKit, id="secret-key"),
    pytest.param(TokenKit, id="token"),
    pytest.param(CodeKit, id="code"),
]


@pytest.fixture(params=KITS)
def kit(request, container, world, clock) -> Kit:
    return request.param(container, world, clock)


async def claim_rows(kit: Kit, subject: Subject) -> list[tuple[str, int]]:
    """The subject's CLAIM audit rows as (outcome, repeats), sorted (the fake clock stands still, so
    rows written in one millisecond have no order)."""
    log = (await kit.container.devices.audit_log(kit.world.admin, 0, 1000, subject.device_id)).data
    return sorted((e.outcome, e.repeats) for e in log if e.action is AuditAction.CLAIM)


async def owner_of(kit: Kit, subject: Subject) -> uuid.UUID | None:
    return (await kit.container.devices.get(kit.world.admin, subject.device_id)).customer_id


# the cases ---------------------------------------------------------------------------------------
async def test_a_right_proof_claims_once_with_one_audit_row(kit):
    subject = await kit.subject()
    assert await kit.attempt(kit.world.u1, subject, subject.right) == "success"
    assert await owner_of(kit, subject) == kit.world.c1.id
    assert await claim_rows(kit, subject) == [("SUCCESS", 1)]


async def test_a_blocked_device_is_refused_and_the_refusal_is_audited(kit):
    subject = await kit.subject()
    await kit.container.ownership.set_blocked(kit.world.admin, subject.device_id, True, REST)
    assert await kit.attempt(kit.world.u1, subject, subject.right) == "DEVICE_BLOCKED"
    assert await owner_of(kit, subject) is None
    assert await claim_rows(kit, subject) == [("DEVICE_BLOCKED", 1)]


async def test_a_device_of_another_customer_is_refused_and_audited(kit):
    subject = await kit.subject()
    assert await kit.attempt(kit.world.u2, subject, subject.right) == "success"
    refused = await kit.attempt(kit.world.u1, subject, subject.right)
    assert refused == kit.expect["another"]
    assert await owner_of(kit, subject) == kit.world.c2.id
    assert await claim_rows(kit, subject) == sorted([("SUCCESS", 1), (refused, 1)])


async def test_a_device_already_yours_stays_yours(kit):
    subject = await kit.subject()
    assert await kit.attempt(kit.world.u1, subject, subject.right) == "success"
    again = await kit.attempt(kit.world.u1, subject, subject.right)
    assert again == kit.expect["yours"]  # the token's nonce is spent: ownership is looked at first
    assert await owner_of(kit, subject) == kit.world.c1.id
    expected = [("SUCCESS", 1)] if again == "already_yours" else [("SUCCESS", 1), (again, 1)]
    assert await claim_rows(kit, subject) == sorted(expected)


async def test_a_wrong_proof_is_refused_and_audited(kit):
    subject = await kit.subject()
    refused = await kit.attempt(kit.world.u1, subject, subject.wrong)
    assert refused == kit.expect["wrong"]
    assert await owner_of(kit, subject) is None
    assert await claim_rows(kit, subject) == [(refused, 1)]
    assert await kit.attempt(kit.world.u1, subject, subject.right) == kit.expect["after_wrong"]


async def test_a_spent_proof_claims_nothing_after_a_release(kit):
    subject = await kit.subject()
    assert await kit.attempt(kit.world.u1, subject, subject.right) == "success"
    await kit.container.claims.unclaim(kit.world.u1, subject.device_id, REST)
    refused = await kit.attempt(kit.world.u2, subject, subject.right)
    assert refused == kit.expect["spent"]
    assert await owner_of(kit, subject) is None
    assert await claim_rows(kit, subject) == sorted([("SUCCESS", 1), (refused, 1)])


async def test_an_expired_proof_is_refused_and_audited(kit):
    subject = await kit.subject(expired=True)
    refused = await kit.attempt(kit.world.u1, subject, subject.right)
    assert refused == kit.expect["expired"]
    assert await owner_of(kit, subject) is None
    assert await claim_rows(kit, subject) == [(refused, 1)]


async def test_twenty_claimers_racing_one_wins_and_every_attempt_is_audited(kit, make_customer_user):
    subject = await kit.subject()
    claimers = [kit.world.u1] + [
        await make_customer_user(kit.world.admin, kit.world.c2, f"racer{i}@race.test") for i in range(19)
    ]
    outcomes = await asyncio.gather(*(kit.attempt(p, subject, subject.right) for p in claimers))
    assert outcomes.count("success") == 1, outcomes
    winner = claimers[outcomes.index("success")]
    assert await owner_of(kit, subject) == winner.customer_id
    losers = [o for o in outcomes if o != "success"]
    # a loser of the winner's own customer may hear "already yours"; the others are refused
    refused = [o for o in losers if o != "already_yours"]
    assert await claim_rows(kit, subject) == sorted([("SUCCESS", 1)] + [(o, 1) for o in refused]), outcomes
