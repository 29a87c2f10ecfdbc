"""In-memory fakes of the claim stores: the claim core's (claims.py) and each proof's
(token_claims.py, code_claims.py), behind units of work that roll back and serialize writes as the
SQL ones do (store.py). They pass the same contract tests as the SQL adapters
(tests/integration/test_claim_contract.py), so claim rules can be tested without a database."""

from collections.abc import Callable

from claimd.adapters.memory.claims import MemoryClaimQueries
from claimd.adapters.memory.code_claims import MemoryCodeClaimQueries
from claimd.adapters.memory.store import MemoryState, MemoryUnitOfWorkFactory
from claimd.adapters.memory.token_claims import MemoryTokenClaimQueries
from claimd.services.claiming import ClaimStores

__all__ = ["MemoryClaimRepository", "MemoryState", "MemoryUnitOfWorkFactory", "memory_claim_store"]


class MemoryClaimRepository(MemoryClaimQueries, MemoryTokenClaimQueries, MemoryCodeClaimQueries):
    """Every claim store in memory (services/claiming.ClaimStores), over one state."""


#: Typed so that mypy checks the fakes against every claim store Protocol.
_REPOSITORY: Callable[[MemoryState], ClaimStores] = MemoryClaimRepository


def memory_claim_store(state: MemoryState | None = None) -> MemoryUnitOfWorkFactory:
    """Units of work over an in-memory claim store, for a :class:`claimd.services.claiming.ClaimService`."""
    return MemoryUnitOfWorkFactory(_REPOSITORY, state)
