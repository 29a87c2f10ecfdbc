"""What the services need from the outside world, as Protocols that adapters implement."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from claimd.domain.attestation import ClaimToken
from claimd.domain.bulk import BulkOp, BulkRow
from claimd.domain.lockout import Lockout
from claimd.domain.lorawan import LorawanIdentity
from claimd.domain.model import AuditEvent, Authority, Customer, Device, Page, Principal, Tenant, User
from claimd.domain.ownership import DeviceIdentity, Tag
from claimd.domain.provisioning import CommandStatus, ProvisioningCommand
from claimd.domain.roles import Role

Clock = Callable[[], int]
"""Returns the current time in epoch milliseconds."""


class SecretHasher(Protocol):
    """Keyed digest of a secret, bound to a purpose and a subject (never a password hash: see ceilings)."""

    def digest(self, purpose: str, subject: str, secret: str) -> bytes: ...


class Sealer(Protocol):
    """Reversible encryption for the few secrets that must be shown again (device access tokens)."""

    def seal(self, plaintext: str) -> str: ...

    def unseal(self, sealed: str) -> str: ...


class PasswordHasher(Protocol):
    async def hash(self, password: str) -> str: ...

    async def verify(self, password_hash: str, password: str) -> bool: ...


class TokenCodec(Protocol):
    """Issues and reads the JWTs of logged-in users."""

    def issue(self, user: User) -> tuple[str, str]: ...

    def principal(self, token: str) -> Principal: ...

    def refresh_subject(self, refresh_token: str) -> uuid.UUID: ...

    def refresh_claims(self, refresh_token: str) -> tuple[uuid.UUID, int]:
        """The user id of a refresh token and when it was issued (epoch ms)."""
        ...


@dataclass(frozen=True, slots=True)
class StoredAttribute:
    key: str
    value: Any
    last_update_ts: int
    secret_digest: bytes | None = None


@dataclass(frozen=True, slots=True)
class NewAttribute:
    key: str
    value: Any
    secret_digest: bytes | None = None


class IdentityKeys(Protocol):
    """Device identity public keys: read what a tenant uploads, and check claim-token signatures."""

    def normalize(self, text: str) -> bytes:
        """A public key as given (PEM, raw point) as stored bytes; InvalidArgument if it is not one."""
        ...

    def verify(self, public_key: bytes, token: ClaimToken) -> bool: ...

    def jwt_claims(self, token: str, public_key: bytes | None) -> dict[str, Any] | None:
        """The claims of an ES256 JWT. With ``public_key``: None unless its signature verifies with
        it. Without: read unverified (to learn whose key to check); None if it is not a JWT."""
        ...


@dataclass(frozen=True, slots=True)
class ClaimedFilter:
    tags: tuple[str, ...] = ()
    all_tags: bool = False
    status: str | None = None
    device_type: str | None = None
    claimed_after: int | None = None
    claimed_before: int | None = None


@dataclass(frozen=True, slots=True)
class UserAccess:
    user: User
    role_name: str | None
    custom_role: Role | None  # the tenant role named role_name, when it is one
    credentials_changed_at: int | None = None  # epoch ms of the last password change; older JWTs are refused


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    id: uuid.UUID
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    name: str
    prefix: str
    created_time: int


class OwnershipRepository(Protocol):
    async def add_identity(self, identity: DeviceIdentity) -> None: ...
    async def get_identity(self, tenant_id: uuid.UUID, device_id: uuid.UUID) -> DeviceIdentity | None: ...
    async def get_identities(self, device_ids: list[uuid.UUID]) -> dict[uuid.UUID, DeviceIdentity]: ...
    async def set_blocked(self, device_id: uuid.UUID, blocked_at: int | None, blocked_by: str | None) -> None: ...
    async def list_claimed(
        self,
        tenant_id: uuid.UUID,
        scope_id: uuid.UUID,
        customer_id: uuid.UUID | None,
        include_restricted: bool,
        where: ClaimedFilter,
        after: tuple[int, str] | None,
        limit: int,
    ) -> tuple[list[Device], int]: ...
    async def device_tag_names(self, device_ids: Any, scope_id: uuid.UUID) -> dict[uuid.UUID, list[str]]: ...
    async def ensure_tags(self, tenant_id: uuid.UUID, scope_id: uuid.UUID, names: Any, now_ms: int) -> list[str]: ...
    async def tag_device(
        self, device_id: uuid.UUID, tag_ids: list[str], scope_id: uuid.UUID, replace: bool
    ) -> None: ...
    async def list_tags(self, scope_id: uuid.UUID, names: list[str] | None = None) -> list[Tag]: ...
    async def get_tag(self, scope_id: uuid.UUID, name: str) -> Tag | None: ...
    async def add_tag(
        self, tenant_id: uuid.UUID, scope_id: uuid.UUID, name: str, description: str | None, now_ms: int
    ) -> bool: ...
    async def update_tag(self, scope_id: uuid.UUID, name: str, new_name: str, description: str | None) -> bool: ...
    async def delete_tag(self, scope_id: uuid.UUID, name: str) -> bool: ...
    async def add_role(self, tenant_id: uuid.UUID, role: Role, now_ms: int) -> None: ...
    async def update_role(self, tenant_id: uuid.UUID, role: Role) -> bool: ...
    async def get_role(self, tenant_id: uuid.UUID, name: str) -> Role | None: ...
    async def list_roles(self, tenant_id: uuid.UUID) -> list[Role]: ...
    async def delete_role(self, tenant_id: uuid.UUID, name: str) -> bool: ...
    async def set_user_role(self, user_id: uuid.UUID, role: str | None) -> None: ...
    async def get_user_access(self, user_id: uuid.UUID) -> UserAccess | None: ...
    async def add_api_key(self, record: ApiKeyRecord, digest: bytes) -> None: ...
    async def list_api_keys(self, tenant_id: uuid.UUID, user_id: uuid.UUID | None) -> list[ApiKeyRecord]: ...
    async def delete_api_key(self, tenant_id: uuid.UUID, key_id: uuid.UUID, user_id: uuid.UUID | None) -> bool: ...
    async def get_api_key_access(self, digest: bytes) -> tuple[uuid.UUID, UserAccess] | None: ...


class LorawanRepository(Protocol):
    async def add_lorawan(self, identity: LorawanIdentity, code_digest: bytes) -> None:
        """DevEuiTaken if the tenant has a device with this DevEUI."""
        ...

    async def get_lorawan(self, tenant_id: uuid.UUID, dev_eui: str) -> tuple[Device, LorawanIdentity] | None: ...
    async def set_code(
        self, device_id: uuid.UUID, code_digest: bytes, valid_from: int | None, valid_to: int | None
    ) -> None:
        """A new code (and window) for a device: unspent."""
        ...

    async def leave_application(self, device_id: uuid.UUID) -> None: ...
    async def lorawan_in_application(
        self, customer_id: uuid.UUID, application_id: str, app_device_ids: list[str]
    ) -> dict[str, tuple[Device, LorawanIdentity]]: ...
    async def list_lorawan(
        self, customer_id: uuid.UUID, application_id: str, offset: int, limit: int
    ) -> tuple[list[tuple[Device, LorawanIdentity]], int]: ...
    async def list_applications(self, customer_id: uuid.UUID) -> list[tuple[str, int, int]]:
        """(application id, created time, devices in it), by id."""
        ...

    async def known_join_euis(self, tenant_id: uuid.UUID, join_euis: list[str]) -> set[str]: ...


class FailureLimiter(Protocol):
    """Counts failed attempts per key and locks a key out for a growing time (see
    :class:`claimd.domain.lockout.Lockout`). In memory for one process, in Redis across nodes."""

    async def locked(self, keys: list[tuple[str, Lockout]], now_ms: int) -> int:
        """How long the most locked of ``keys`` stays locked (ms), or 0. Reads only."""
        ...

    async def fail(self, keys: list[tuple[str, Lockout]], now_ms: int) -> int:
        """Count one failure on every key (one atomic step), lock those past their free failures, and
        return how long the most locked of them now stays locked (ms), or 0."""
        ...


class BulkRepository(Protocol):
    async def create_op(self, op: BulkOp, idempotency_key: str | None) -> bool: ...
    async def find_op_by_key(self, user_id: uuid.UUID, key: str) -> tuple[BulkOp, bytes | None] | None: ...
    async def add_rows(self, op_id: str, rows: list[BulkRow]) -> None: ...
    async def finish_upload(self, op_id: str, total: int, digest: bytes) -> None: ...
    async def delete_op(self, op_id: str) -> None: ...
    async def get_op(self, op_id: str) -> BulkOp | None: ...
    async def list_ops(self, tenant_id: uuid.UUID, customer_id: uuid.UUID | None, limit: int) -> list[BulkOp]: ...
    async def lease_next(self, owner: str, now_ms: int, lease_ms: int) -> BulkOp | None: ...
    async def renew_lease(self, op_id: str, owner: str, until_ms: int) -> bool: ...
    async def open_rows(self, op_id: str, after_index: int, limit: int) -> list[BulkRow]: ...
    async def finish_row(
        self, op_id: str, index: int, ok: bool, device_id: uuid.UUID | None, message: str | None
    ) -> bool: ...
    async def complete_op(self, op_id: str, owner: str, now_ms: int) -> None: ...
    async def result_rows(
        self, op_id: str, after_index: int, limit: int, errors_only: bool = False
    ) -> list[ResultRow]: ...


class ProvisioningRepository(Protocol):
    async def lock_device(self, tenant_id: uuid.UUID, device_id: uuid.UUID) -> Device | None: ...
    async def command_queue(self, device_id: uuid.UUID, customer_id: uuid.UUID | None) -> tuple[int, int]: ...
    async def add_command(self, command: ProvisioningCommand) -> None: ...
    async def get_command(self, device_id: uuid.UUID, command_id: uuid.UUID) -> ProvisioningCommand | None: ...
    async def list_commands(
        self, device_id: uuid.UUID, customer_id: uuid.UUID | None, status: str | None, after_position: int, limit: int
    ) -> tuple[list[ProvisioningCommand], int]: ...
    async def open_commands(
        self, device_id: uuid.UUID, customer_id: uuid.UUID | None, after_position: int, limit: int
    ) -> list[ProvisioningCommand]: ...
    async def commands_by_id(self, device_id: uuid.UUID, ids: Any) -> dict[uuid.UUID, ProvisioningCommand]: ...
    async def mark_delivered(self, ids: list[uuid.UUID], now_ms: int) -> None: ...
    async def update_command(
        self,
        command_id: uuid.UUID,
        expect: tuple[CommandStatus, ...],
        now_ms: int,
        *,
        status: CommandStatus,
        steps_done: int | None = None,
        response: dict[str, Any] | None = None,
        clear_response: bool = False,
        position: int | None = None,
    ) -> bool: ...
    async def cancel_open_commands(
        self, now_ms: int, *, device_id: uuid.UUID | None = None, customer_id: uuid.UUID | None = None
    ) -> None: ...


class Repository(OwnershipRepository, BulkRepository, ProvisioningRepository, LorawanRepository, Protocol):
    """All reads and writes of the SQL store, inside one unit of work."""

    # tenants (and counts of users, for the first start)
    async def count_tenants(self) -> int: ...
    async def count_users(self, authority: Authority | None = None) -> int: ...
    async def add_tenant(self, tenant: Tenant) -> None: ...
    async def update_tenant(self, tenant: Tenant) -> bool: ...
    async def get_tenant(self, tenant_id: uuid.UUID) -> Tenant | None: ...
    async def list_tenants(
        self, page: int, page_size: int, text: str | None, sort: str | None = None, order: str | None = None
    ) -> Page[Tenant]: ...
    async def delete_tenant(self, tenant_id: uuid.UUID) -> bool: ...

    # customers
    async def add_customer(self, customer: Customer) -> None: ...
    async def update_customer(self, customer: Customer) -> bool: ...
    async def get_customer(self, tenant_id: uuid.UUID, customer_id: uuid.UUID) -> Customer | None: ...
    async def list_customers(
        self,
        tenant_id: uuid.UUID,
        page: int,
        page_size: int,
        text: str | None,
        sort: str | None = None,
        order: str | None = None,
    ) -> Page[Customer]: ...
    async def delete_customer(self, tenant_id: uuid.UUID, customer_id: uuid.UUID) -> bool: ...

    # users
    async def add_user(self, user: User, activation_digest: bytes | None, password_hash: str | None = None) -> None: ...
    async def get_user(self, user_id: uuid.UUID) -> User | None: ...
    async def get_login(self, email: str) -> tuple[User, str | None] | None: ...
    async def set_activation_digest(self, user_id: uuid.UUID, digest: bytes) -> None: ...
    async def activate(self, activation_digest: bytes, password_hash: str) -> User | None: ...
    async def set_password(self, user_id: uuid.UUID, password_hash: str, changed_at_ms: int) -> bool: ...
    async def set_reset_digest(self, user_id: uuid.UUID, digest: bytes, expires_at: int) -> None: ...
    async def reset_password(
        self, reset_digest: bytes, now: int, password_hash: str, changed_at_ms: int
    ) -> User | None: ...
    async def list_users(
        self, tenant_id: uuid.UUID, customer_id: uuid.UUID | None, page: int, page_size: int, text: str | None
    ) -> Page[User]: ...
    async def delete_user(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> bool: ...

    # devices
    async def add_device(self, device: Device, token_digest: bytes, token_sealed: str) -> None: ...
    async def update_device(self, device: Device) -> bool: ...
    async def get_device(self, tenant_id: uuid.UUID, device_id: uuid.UUID) -> Device | None: ...
    async def get_device_by_name(self, tenant_id: uuid.UUID, name: str) -> Device | None: ...
    async def get_device_by_token(self, token_digest: bytes) -> Device | None: ...
    async def get_device_token(self, device_id: uuid.UUID) -> str | None: ...
    async def list_devices(
        self,
        tenant_id: uuid.UUID,
        customer_id: uuid.UUID | None,
        page: int,
        page_size: int,
        text: str | None,
        device_type: str | None,
        sort: str | None = None,
        order: str | None = None,
        include_restricted: bool = True,
    ) -> Page[Device]: ...
    async def delete_device(self, tenant_id: uuid.UUID, device_id: uuid.UUID) -> bool: ...
    async def set_owner(self, device_id: uuid.UUID, customer_id: uuid.UUID | None) -> None: ...

    # attributes
    async def save_attributes(
        self, device_id: uuid.UUID, scope: str, items: list[NewAttribute], now_ms: int
    ) -> None: ...
    async def get_attributes(
        self, device_id: uuid.UUID, scope: str | None, keys: list[str] | None
    ) -> list[tuple[str, StoredAttribute]]: ...
    async def get_attribute(self, device_id: uuid.UUID, scope: str, key: str) -> StoredAttribute | None: ...
    async def delete_attributes(self, device_id: uuid.UUID, scope: str, keys: list[str]) -> None: ...

    # audit
    async def add_audit(self, event: AuditEvent) -> None: ...
    async def add_failed_attempt(self, event: AuditEvent, since_ms: int) -> None:
        """Audit a failed guess: one more on the latest line of the same device, action, outcome, user
        and source written since ``since_ms``, or a new line."""
        ...

    async def list_audit(
        self, tenant_id: uuid.UUID, device_id: uuid.UUID | None, page: int, page_size: int
    ) -> Page[AuditEvent]: ...


class ResultRow(Protocol):
    """A bulk row's result, as the result files show it (the SQL adapter returns its rows)."""

    @property
    def row_index(self) -> int: ...

    @property
    def outcome(self) -> str | None: ...  # None while pending, then OK or ERROR

    @property
    def device_id(self) -> str | None: ...  # the device's id as text

    @property
    def message(self) -> str | None: ...


class Metrics(Protocol):
    """What claimd counts for its operator (adapters/metrics.py exports it to Prometheus). Every label
    is from a small fixed set — a door, a proof, an outcome, a kind — never an id, a name or a secret.
    Each call is made once, where the use case decides, and must cost microseconds."""

    def claim(self, door: str, proof: str, outcome: str) -> None:
        """A customer's claim attempt and how it ended (claims.CLAIM_OUTCOMES)."""

    def claim_window(self, door: str, outcome: str) -> None:
        """A device's claim message (it sent its key) and what became of it."""

    def failed_guess(self, kind: str) -> None:
        """A wrong secret counted against its keys (kind: claim, login or api_key)."""

    def lockout(self, kind: str) -> None:
        """A wrong secret that left one of its keys locked out."""

    def locked_out(self, kind: str) -> None:
        """An attempt refused because one of its keys is locked out."""

    def bulk_rows(self, operation: str, outcome: str, count: int) -> None:
        """``count`` rows of a bulk job done (outcome: ok or failed), once committed."""

    def bulk_job(self, operation: str, event: str) -> None:
        """A bulk job started (leased by this process's worker) or ended: completed or lease_lost."""

    def mqtt_connection(self, protocol: str, outcome: str) -> None:
        """An MQTT CONNECT answered (protocol 3.1, 3.1.1, 5.0; or none: refused before one)."""

    def mqtt_session(self, delta: int) -> None:
        """An MQTT session (an accepted CONNECT) began (+1) or ended (-1)."""


class NoMetrics:
    """Metrics that count nothing: the default of every service, for tests and tools."""

    def claim(self, door: str, proof: str, outcome: str) -> None: ...
    def claim_window(self, door: str, outcome: str) -> None: ...
    def failed_guess(self, kind: str) -> None: ...
    def lockout(self, kind: str) -> None: ...
    def locked_out(self, kind: str) -> None: ...
    def bulk_rows(self, operation: str, outcome: str, count: int) -> None: ...
    def bulk_job(self, operation: str, event: str) -> None: ...
    def mqtt_connection(self, protocol: str, outcome: str) -> None: ...
    def mqtt_session(self, delta: int) -> None: ...


NO_METRICS: Metrics = NoMetrics()
