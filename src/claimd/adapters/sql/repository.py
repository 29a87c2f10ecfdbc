"""The SQL repository: one object per unit of work, composed of a query mixin per concept, over SQLAlchemy Core.

- ``accounts.AccountQueries`` — tenants, customers, users;
- ``devices.DeviceQueries`` — devices, attributes, the audit listing;
- ``ownership.OwnershipQueries`` — identities, tags, blocks, roles, API keys;
- ``claims.ClaimQueries`` (+ ``token_claims``, ``code_claims``) — the claim core's and the proofs' writes;
- ``bulk.BulkQueries`` (+ ``imports.ImportQueries``: a fleet import's devices), ``provisioning.ProvisioningQueries``, ``lorawan.LorawanQueries``;
- ``overview.OverviewQueries`` — the console's claims per day and devices by state.

The units of work that hand it out are in ``uow.py``.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from claimd.adapters.sql.accounts import AccountQueries
from claimd.adapters.sql.bulk import BulkQueries
from claimd.adapters.sql.claims import ClaimQueries
from claimd.adapters.sql.code_claims import CodeClaimQueries
from claimd.adapters.sql.devices import DeviceQueries
from claimd.adapters.sql.imports import ImportQueries
from claimd.adapters.sql.lorawan import LorawanQueries
from claimd.adapters.sql.overview import OverviewQueries
from claimd.adapters.sql.ownership import OwnershipQueries
from claimd.adapters.sql.provisioning import ProvisioningQueries
from claimd.adapters.sql.token_claims import TokenClaimQueries


class SqlRepository(
    AccountQueries,
    DeviceQueries,
    ClaimQueries,
    TokenClaimQueries,
    CodeClaimQueries,
    OwnershipQueries,
    BulkQueries,
    ImportQueries,
    ProvisioningQueries,
    LorawanQueries,
    OverviewQueries,
):
    """Implements :class:`claimd.services.stores.Repository` on one connection."""

    def __init__(self, conn: AsyncConnection, counts: dict[str, list[int]] | None = None) -> None:
        self.conn = conn
        self.counts = counts
