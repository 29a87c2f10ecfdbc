"""Ownership API: device identities, used nonces, challenges, tags, roles, API keys; claim columns.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UUID = sa.String(36)
DIGEST = sa.LargeBinary(32)


def _fk(table: str, column: str, target: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{target}.id", ondelete="CASCADE", name=f"fk_{table}_{column}_{target}")


def upgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("claimed_at", sa.BigInteger))
        batch.add_column(sa.Column("claimed_by", UUID))
        batch.add_column(sa.Column("claim_restricted", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("blocked_at", sa.BigInteger))
        batch.add_column(sa.Column("blocked_by", sa.String(16)))
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("role", sa.String(64)))
    op.create_table(
        "device_identities",
        sa.Column("device_id", UUID, _fk("device_identities", "device_id", "devices"), primary_key=True),
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("public_key", sa.LargeBinary, nullable=False),
        sa.Column("firmware_id", UUID),
        sa.Column("imei", sa.String(15)),
        sa.Column("created_time", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "used_nonces",
        sa.Column("device_id", UUID, _fk("used_nonces", "device_id", "devices"), primary_key=True),
        sa.Column("nonce", sa.LargeBinary(16), primary_key=True),
        sa.Column("used_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "claim_challenges",
        sa.Column("nonce", sa.LargeBinary(16), primary_key=True),
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("user_id", UUID, _fk("claim_challenges", "user_id", "users"), nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "tags",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("tenant_id", UUID, _fk("tags", "tenant_id", "tenants"), nullable=False),
        sa.Column("scope_id", UUID, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.String(255)),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("scope_id", "name", name="uq_tags_scope_name"),
    )
    op.create_table(
        "device_tags",
        sa.Column("tag_id", UUID, _fk("device_tags", "tag_id", "tags"), primary_key=True),
        sa.Column("device_id", UUID, _fk("device_tags", "device_id", "devices"), primary_key=True),
    )
    op.create_index("ix_device_tags_device", "device_tags", ["device_id"])
    op.create_table(
        "roles",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("tenant_id", UUID, _fk("roles", "tenant_id", "tenants"), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("description", sa.String(255)),
        sa.Column("permissions", sa.Text, nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("tenant_id", "name", name="uq_roles_tenant_name"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("user_id", UUID, _fk("api_keys", "user_id", "users"), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("digest", DIGEST, nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("digest", name="uq_api_keys_digest"),
    )
    op.create_index("ix_api_keys_user", "api_keys", ["user_id"])


def downgrade() -> None:
    for table in ("api_keys", "roles", "device_tags", "tags", "claim_challenges", "used_nonces", "device_identities"):
        op.drop_table(table)
    with op.batch_alter_table("users") as batch:
        batch.drop_column("role")
    with op.batch_alter_table("devices") as batch:
        for column in ("blocked_by", "blocked_at", "claim_restricted", "claimed_by", "claimed_at"):
            batch.drop_column(column)
