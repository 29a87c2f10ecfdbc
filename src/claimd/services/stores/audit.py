"""The store's audit log: the rows every use case writes (shared with the claim core) and the listing."""

from __future__ import annotations

import uuid
from typing import Protocol

from claimd.domain.model import AuditEvent, Page


class AuditWrites(Protocol):
    """Writing the audit log; the claim core's store (services/claiming/ports.ClaimStore) extends it."""

    async def add_audit(self, event: AuditEvent) -> None: ...
    async def add_failed_attempt(self, event: AuditEvent, since_ms: int) -> None:
        """Audit a failed guess: one more on the latest line of the same device, action, outcome, user
        and source written since ``since_ms``, or a new line."""
        ...


class AuditStore(AuditWrites, Protocol):
    async def list_audit(
        self, tenant_id: uuid.UUID, device_id: uuid.UUID | None, page: int, page_size: int
    ) -> Page[AuditEvent]: ...
