"""Claiming: one core (core.py) and a plug-in per proof.

- ``secret_key`` — ThingsBoard's device-side window or server-side ``claimingData`` key;
- ``token`` — nRF Cloud's signed claim token (nonce, server challenge);
- ``lorawan_code`` — The Things Stack's JoinEUI + DevEUI + claim authentication code;
- ``release`` — reclaim and unclaim.

Each proof module holds what the claimer presents, how it is verified, the narrow store Protocol it
needs (extending ``ports.ClaimStore``) and what a granted claim spends; its SQL lives in
``adapters/sql/<proof>_claims.py`` and its in-memory fake in ``adapters/memory/``.
:class:`ClaimService` is what the doors call. docs/architecture.md has the recipe for a new proof.
"""

from __future__ import annotations

from typing import Protocol

from claimd.services.claiming.core import CLAIM_OUTCOMES, ClaimCore, ClaimPolicy, refusal_outcome
from claimd.services.claiming.lorawan_code import CodeClaimResult, CodeClaims, CodeProof, CodeStore, code_digest
from claimd.services.claiming.release import NotClaimed, Releases, ReleaseStore
from claimd.services.claiming.secret_key import (
    ClaimResult,
    SecretKeyClaims,
    SecretKeyStore,
    WindowResult,
    claim_digest,
    server_side_claim_data,
)
from claimd.services.claiming.token import TokenClaimResult, TokenClaims, TokenStore
from claimd.services.guesses import Guesses
from claimd.services.ports import NO_METRICS, Clock, IdentityKeys, Metrics, SecretHasher
from claimd.services.uow import UnitOfWorkFactory

__all__ = [
    "CLAIM_OUTCOMES",
    "ClaimPolicy",
    "ClaimResult",
    "ClaimService",
    "CodeClaimResult",
    "CodeProof",
    "NotClaimed",
    "TokenClaimResult",
    "WindowResult",
    "claim_digest",
    "code_digest",
    "refusal_outcome",
    "server_side_claim_data",
]


class ClaimStores(SecretKeyStore, TokenStore, CodeStore, ReleaseStore, Protocol):
    """Everything a store must offer for every proof (the SQL repository does; so do the fakes)."""


class ClaimService:
    """The claim use cases every door calls, each a proof's (or the release's)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory[ClaimStores],
        hasher: SecretHasher,
        policy: ClaimPolicy,
        clock: Clock,
        keys: IdentityKeys,
        guesses: Guesses,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self.uow, self.guesses, self.policy, self.metrics = uow, guesses, policy, metrics
        core = ClaimCore(uow, clock, guesses, policy, metrics)
        secret_key = SecretKeyClaims(core, uow, hasher)
        token = TokenClaims(core, uow, keys)
        code = CodeClaims(core, uow, hasher)
        releases = Releases(core, uow)
        self.open_window = secret_key.open_window
        self.claim = secret_key.claim
        self.create_challenge = token.create_challenge
        self.claim_with_token = token.claim
        self.void_token = token.void_token
        self.claim_with_code = code.claim
        self.reclaim = releases.reclaim
        self.unclaim = releases.unclaim
