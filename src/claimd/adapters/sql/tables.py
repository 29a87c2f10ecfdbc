"""Every SQL table of claimd, in one place. Alembic migrations under ``migrations/`` create them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

UUID = String(36)  # text UUIDs: the same on SQLite and PostgreSQL, and readable in both shells
DIGEST = LargeBinary(32)  # keyed HMAC-SHA256 of a secret

tenants = Table(
    "tenants",
    metadata,
    Column("id", UUID, primary_key=True),
    Column("title", String(255), nullable=False, unique=True),
    Column("created_time", BigInteger, nullable=False),
    Column("email", String(255)),
    Column("contact", Text, nullable=False, default="{}"),  # JSON: country, state, city, address, ... phone
    Column("additional_info", Text, nullable=False, default="{}"),
)

customers = Table(
    "customers",
    metadata,
    Column("id", UUID, primary_key=True),
    Column("tenant_id", UUID, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("title", String(255), nullable=False),
    Column("email", String(255)),
    Column("additional_info", Text, nullable=False, default="{}"),
    Column("created_time", BigInteger, nullable=False),
    UniqueConstraint("tenant_id", "title", name="uq_customers_tenant_title"),
)

users = Table(
    "users",
    metadata,
    Column("id", UUID, primary_key=True),
    Column("tenant_id", UUID, ForeignKey("tenants.id", ondelete="CASCADE")),  # NULL: a system administrator
    Column("customer_id", UUID, ForeignKey("customers.id", ondelete="CASCADE")),
    Column("email", String(255), nullable=False, unique=True),
    Column("authority", String(32), nullable=False),
    Column("first_name", String(255)),
    Column("last_name", String(255)),
    Column("additional_info", Text, nullable=False, default="{}"),
    Column("password_hash", String(255)),  # argon2id; NULL until the user is activated
    Column("activation_digest", DIGEST, unique=True),  # keyed digest of the one-time activation token
    Column("role", String(64)),  # customer users: a built-in or tenant role name; NULL is OWNER
    Column("created_time", BigInteger, nullable=False),
    # epoch ms of the last password change or reset: JWTs issued before it are refused
    Column("credentials_changed_at", BigInteger),
    Column("reset_digest", DIGEST, unique=True),  # keyed digest of the one-time password-reset token
    Column("reset_expires_at", BigInteger),  # epoch ms; the reset token is refused from then on
)

devices = Table(
    "devices",
    metadata,
    Column("id", UUID, primary_key=True),
    Column("tenant_id", UUID, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("customer_id", UUID, ForeignKey("customers.id", ondelete="SET NULL")),
    Column("name", String(255), nullable=False),
    Column("type", String(255), nullable=False),
    Column("label", String(255)),
    Column("additional_info", Text, nullable=False, default="{}"),
    Column("token_digest", DIGEST, nullable=False, unique=True),  # access token, keyed digest: the lookup key
    Column("token_sealed", Text, nullable=False),  # access token, AES-GCM sealed: shown to its tenant admin
    Column("created_time", BigInteger, nullable=False),
    Column("claimed_at", BigInteger),  # when its current owner claimed it (NULL when assigned or unowned)
    Column("claimed_by", UUID),  # the user who claimed it
    Column("claim_restricted", Boolean, nullable=False, default=False),  # claimed by an Admin/Owner role
    Column("blocked_at", BigInteger),
    Column("blocked_by", String(16)),  # OWNER or TENANT: an owner cannot lift a tenant's block
    UniqueConstraint("tenant_id", "name", name="uq_devices_tenant_name"),
    # the console's keyset device list (migration 0011; the second replaces (tenant_id, customer_id))
    Index("ix_devices_tenant_name_id", "tenant_id", "name", "id"),
    Index("ix_devices_tenant_customer_name", "tenant_id", "customer_id", "name", "id"),
)

attributes = Table(
    "attributes",
    metadata,
    Column("device_id", UUID, ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True),
    Column("scope", String(16), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("value", Text, nullable=False),  # JSON; a secret inside is stored redacted
    Column("secret_digest", DIGEST),  # for claimingData: keyed digest of its secretKey
    Column("last_update_ts", BigInteger, nullable=False),
)

claim_windows = Table(
    "claim_windows",
    metadata,
    Column("device_id", UUID, ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True),
    Column("secret_digest", DIGEST, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", UUID, primary_key=True),
    Column("tenant_id", UUID, nullable=False),
    Column("created_time", BigInteger, nullable=False),
    Column("action", String(32), nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("door", String(16), nullable=False),
    Column("user_id", UUID),
    Column("customer_id", UUID),
    Column("device_id", UUID),
    Column("device_name", String(255)),
    Column("source", String(64)),
    Column("detail", Text),
    Column("repeat_count", Integer, nullable=False, server_default="1"),  # failed guesses, aggregated
    Column("last_time", BigInteger),  # the last of them
    Index("ix_audit_log_tenant_time", "tenant_id", "created_time"),
    Index("ix_audit_log_device", "device_id"),
)

device_identities = Table(
    "device_identities",
    metadata,
    Column("device_id", UUID, ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True),
    Column("tenant_id", UUID, nullable=False),
    Column("public_key", LargeBinary, nullable=False),  # P-256 SubjectPublicKeyInfo DER (public: not a secret)
    Column("firmware_id", UUID),
    Column("imei", String(15)),
    Column("created_time", BigInteger, nullable=False),
)

used_nonces = Table(  # nonces of tokens that claimed a device: a replayed token is refused
    "used_nonces",
    metadata,
    Column("device_id", UUID, ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True),
    Column("nonce", LargeBinary(16), primary_key=True),
    Column("used_at", BigInteger, nullable=False),
)

claim_challenges = Table(
    "claim_challenges",
    metadata,
    Column("nonce", LargeBinary(16), primary_key=True),
    Column("tenant_id", UUID, nullable=False),
    Column("user_id", UUID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("expires_at", BigInteger, nullable=False),
)

tags = Table(
    "tags",
    metadata,
    Column("id", UUID, primary_key=True),
    Column("tenant_id", UUID, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("scope_id", UUID, nullable=False),  # whose tag: a customer's id, or the tenant's own id
    Column("name", String(100), nullable=False),
    Column("description", String(255)),
    Column("created_time", BigInteger, nullable=False),
    UniqueConstraint("scope_id", "name", name="uq_tags_scope_name"),
)

device_tags = Table(
    "device_tags",
    metadata,
    Column("tag_id", UUID, ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    Column("device_id", UUID, ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_device_tags_device", "device_id"),
)

roles = Table(
    "roles",
    metadata,
    Column("id", UUID, primary_key=True),
    Column("tenant_id", UUID, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("description", String(255)),
    Column("permissions", Text, nullable=False),  # JSON list of "RESOURCE:OPERATION"
    Column("created_time", BigInteger, nullable=False),
    UniqueConstraint("tenant_id", "name", name="uq_roles_tenant_name"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", UUID, primary_key=True),
    Column("tenant_id", UUID, nullable=False),
    Column("user_id", UUID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("prefix", String(16), nullable=False),  # the first characters, to tell keys apart in a list
    Column("digest", DIGEST, nullable=False, unique=True),  # keyed digest of the key: the lookup key
    Column("created_time", BigInteger, nullable=False),
    Index("ix_api_keys_user", "user_id"),
)

bulk_ops = Table(
    "bulk_ops",
    metadata,
    Column("id", String(26), primary_key=True),  # ULID
    Column("tenant_id", UUID, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("customer_id", UUID),
    Column("user_id", UUID, nullable=False),
    Column("endpoint", String(40), nullable=False),
    Column(
        "status", String(16), nullable=False
    ),  # UPLOADING (not yet visible), PENDING, IN_PROGRESS, SUCCEEDED, FAILED
    Column("requested_at", BigInteger, nullable=False),
    Column("completed_at", BigInteger),
    Column("total", BigInteger, nullable=False, default=0),
    Column("succeeded", BigInteger, nullable=False, default=0),
    Column("failed", BigInteger, nullable=False, default=0),
    Column("idempotency_key", String(255)),
    Column("upload_digest", LargeBinary(32)),  # SHA-256 of the uploaded bytes
    Column("application_id", String(36)),  # CLAIM_LORAWAN_DEVICES: the rows' default application
    Column("lease_owner", String(64)),
    Column("lease_until", BigInteger),
    Column("options", Text),  # JSON: what a chunked job's worker needs (an import's format, header, key policy)
    Column("results_taken_at", BigInteger),  # an import's result file holds secrets: downloaded once, then gone
    UniqueConstraint("user_id", "idempotency_key", name="uq_bulk_ops_user_key"),
    Index("ix_bulk_ops_status", "status", "requested_at"),
)

bulk_rows = Table(
    "bulk_rows",
    metadata,
    Column("op_id", String(26), ForeignKey("bulk_ops.id", ondelete="CASCADE"), primary_key=True),
    Column("row_index", BigInteger, primary_key=True),  # the row's number, from 1 (the first data row)
    Column("line", Text, nullable=False),  # the record, sealed; emptied once the row is done
    Column("outcome", String(8)),  # NULL until done, then OK or ERROR
    Column("device_id", UUID),
    Column("message", Text),
)

bulk_chunks = Table(  # a chunked job's upload (a device import), a few thousand rows each
    "bulk_chunks",
    metadata,
    Column("op_id", String(26), ForeignKey("bulk_ops.id", ondelete="CASCADE"), primary_key=True),
    Column("chunk_index", Integer, primary_key=True),  # from 0, in upload order
    Column("first_row", BigInteger, nullable=False),  # the number of its first row (rows from 1)
    Column("row_count", Integer, nullable=False),
    Column("upload", Text, nullable=False),  # its lines, sealed; emptied once worked
    Column("results", Text),  # its rows' results (JSON lines, secrets included), sealed; NULL until worked
    Column("done", Boolean, nullable=False, default=False),
)

provisioning_commands = Table(
    "provisioning_commands",
    metadata,
    Column("id", UUID, primary_key=True),  # also the correlation id the device answers with
    Column("tenant_id", UUID, nullable=False),
    Column("device_id", UUID, ForeignKey("devices.id", ondelete="CASCADE"), nullable=False),
    Column("customer_id", UUID),  # the owner it was queued for: a new owner never sees it
    Column("position", BigInteger, nullable=False),  # the device's queue order
    Column("kind", String(40), nullable=False),
    Column("description", String(255)),
    Column("request_sealed", Text, nullable=False),  # the request JSON, sealed: it may hold keys
    Column("steps", BigInteger, nullable=False),
    Column("steps_done", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("response", Text),  # JSON: the device's messages, or its error
    Column("created_by", UUID),
    Column("created_time", BigInteger, nullable=False),
    Column("updated_time", BigInteger, nullable=False),
    Column("delivered_at", BigInteger),
    UniqueConstraint("device_id", "position", name="uq_provisioning_commands_device_position"),
    Index("ix_provisioning_commands_device_status", "device_id", "status"),
)

lorawan_applications = Table(  # TTS applications: groups of a customer's LoRaWAN devices, made on first claim
    "lorawan_applications",
    metadata,
    Column("id", UUID, primary_key=True),
    Column("tenant_id", UUID, nullable=False),
    Column("customer_id", UUID, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("application_id", String(36), nullable=False),
    Column("created_time", BigInteger, nullable=False),
    UniqueConstraint("customer_id", "application_id", name="uq_lorawan_applications_customer_application"),
)

lorawan_identities = Table(
    "lorawan_identities",
    metadata,
    Column("device_id", UUID, ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True),
    Column("tenant_id", UUID, nullable=False),
    Column("dev_eui", String(16), nullable=False),  # 16 upper-case hex digits
    Column("join_eui", String(16), nullable=False),
    Column("code_digest", DIGEST, nullable=False),  # keyed digest of the normalised claim authentication code
    Column("valid_from", BigInteger),
    Column("valid_to", BigInteger),
    Column("vendor_id", Integer, nullable=False, default=0),
    Column("profile_id", Integer, nullable=False, default=0),
    Column("serial", String(64)),
    Column("code_spent_at", BigInteger),  # set by the claim that used the code
    Column("application", UUID, ForeignKey("lorawan_applications.id", ondelete="SET NULL")),
    Column("app_device_id", String(36)),  # the device's id in its owner's application
    Column("created_time", BigInteger, nullable=False),
    UniqueConstraint("tenant_id", "dev_eui", name="uq_lorawan_identities_tenant_dev_eui"),
    UniqueConstraint("application", "app_device_id", name="uq_lorawan_identities_application_device"),
    Index("ix_lorawan_identities_tenant_join_eui", "tenant_id", "join_eui"),
)

server_secret = Table(  # one row: the fingerprint of the secret this database was first started with
    "server_secret",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # always 1
    Column("fingerprint", DIGEST, nullable=False),  # HMAC-SHA256(secret, a fixed label): never the secret
    Column("created_time", BigInteger, nullable=False),
)
