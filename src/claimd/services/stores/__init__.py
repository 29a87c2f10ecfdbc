"""What the services need from the store, one Protocol per concept, and :class:`Repository`, all of them.

- ``accounts`` — tenants, customers, users;
- ``access`` — tenant roles, user access, API keys;
- ``devices`` — devices and their attributes;
- ``ownership`` — device identities, blocks, tags, the claimed-device listing;
- ``lorawan`` — LoRaWAN identities and TTS applications;
- ``bulk`` — bulk jobs and their rows;
- ``imports`` — a fleet import's devices, written a chunk of rows at a time;
- ``provisioning`` — provisioning commands;
- ``audit`` — the audit log.

The claim proofs need their own narrow stores (services/claiming/); the SQL repository
(adapters/sql/repository.py) implements all of these.
"""

from __future__ import annotations

from typing import Protocol

from claimd.services.stores.access import AccessStore
from claimd.services.stores.accounts import AccountStore, CustomerStore, TenantStore, UserStore
from claimd.services.stores.audit import AuditStore, AuditWrites
from claimd.services.stores.bulk import BulkStore, ResultRow
from claimd.services.stores.devices import AttributeStore, DeviceStore
from claimd.services.stores.imports import ImportStore
from claimd.services.stores.lorawan import LorawanStore
from claimd.services.stores.ownership import OwnershipStore
from claimd.services.stores.provisioning import ProvisioningStore

__all__ = [
    "AccessStore",
    "AccountStore",
    "AttributeStore",
    "AuditStore",
    "AuditWrites",
    "BulkStore",
    "CustomerStore",
    "DeviceStore",
    "ImportStore",
    "LorawanStore",
    "OwnershipStore",
    "ProvisioningStore",
    "Repository",
    "ResultRow",
    "TenantStore",
    "UserStore",
]


class Repository(
    AccountStore,
    AccessStore,
    DeviceStore,
    AttributeStore,
    OwnershipStore,
    LorawanStore,
    BulkStore,
    ImportStore,
    ProvisioningStore,
    AuditStore,
    Protocol,
):
    """All reads and writes of the SQL store, inside one unit of work."""
