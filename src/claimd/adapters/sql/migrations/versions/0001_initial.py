"""Initial schema: tenants, customers, users, devices, attributes, claim windows, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UUID = sa.String(36)
DIGEST = sa.LargeBinary(32)


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("title", name="uq_tenants_title"),
    )
    op.create_table(
        "customers",
        sa.Column("id", UUID, primary_key=True),
        sa.Column(
            "tenant_id",
            UUID,
            sa.ForeignKey("tenants.id", ondelete="CASCADE", name="fk_customers_tenant_id_tenants"),
            nullable=False,
        ),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("email", sa.String(255)),
        sa.Column("additional_info", sa.Text, nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("tenant_id", "title", name="uq_customers_tenant_title"),
    )
    op.create_table(
        "users",
        sa.Column("id", UUID, primary_key=True),
        sa.Column(
            "tenant_id",
            UUID,
            sa.ForeignKey("tenants.id", ondelete="CASCADE", name="fk_users_tenant_id_tenants"),
            nullable=False,
        ),
        sa.Column(
            "customer_id",
            UUID,
            sa.ForeignKey("customers.id", ondelete="CASCADE", name="fk_users_customer_id_customers"),
        ),
        sa.Column("email", sa.String(255), nullable=False),
        sa.Column("authority", sa.String(32), nullable=False),
        sa.Column("first_name", sa.String(255)),
        sa.Column("last_name", sa.String(255)),
        sa.Column("additional_info", sa.Text, nullable=False),
        sa.Column("password_hash", sa.String(255)),
        sa.Column("activation_digest", DIGEST),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("email", name="uq_users_email"),
        sa.UniqueConstraint("activation_digest", name="uq_users_activation_digest"),
    )
    op.create_table(
        "devices",
        sa.Column("id", UUID, primary_key=True),
        sa.Column(
            "tenant_id",
            UUID,
            sa.ForeignKey("tenants.id", ondelete="CASCADE", name="fk_devices_tenant_id_tenants"),
            nullable=False,
        ),
        sa.Column(
            "customer_id",
            UUID,
            sa.ForeignKey("customers.id", ondelete="SET NULL", name="fk_devices_customer_id_customers"),
        ),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("type", sa.String(255), nullable=False),
        sa.Column("label", sa.String(255)),
        sa.Column("additional_info", sa.Text, nullable=False),
        sa.Column("token_digest", DIGEST, nullable=False),
        sa.Column("token_sealed", sa.Text, nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("tenant_id", "name", name="uq_devices_tenant_name"),
        sa.UniqueConstraint("token_digest", name="uq_devices_token_digest"),
    )
    op.create_index("ix_devices_tenant_customer", "devices", ["tenant_id", "customer_id"])
    op.create_table(
        "attributes",
        sa.Column(
            "device_id",
            UUID,
            sa.ForeignKey("devices.id", ondelete="CASCADE", name="fk_attributes_device_id_devices"),
            primary_key=True,
        ),
        sa.Column("scope", sa.String(16), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("secret_digest", DIGEST),
        sa.Column("last_update_ts", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "claim_windows",
        sa.Column(
            "device_id",
            UUID,
            sa.ForeignKey("devices.id", ondelete="CASCADE", name="fk_claim_windows_device_id_devices"),
            primary_key=True,
        ),
        sa.Column("secret_digest", DIGEST, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("door", sa.String(16), nullable=False),
        sa.Column("user_id", UUID),
        sa.Column("customer_id", UUID),
        sa.Column("device_id", UUID),
        sa.Column("device_name", sa.String(255)),
        sa.Column("source", sa.String(64)),
        sa.Column("detail", sa.Text),
    )
    op.create_index("ix_audit_log_tenant_time", "audit_log", ["tenant_id", "created_time"])
    op.create_index("ix_audit_log_device", "audit_log", ["device_id"])


def downgrade() -> None:
    for table in ("audit_log", "claim_windows", "attributes", "devices", "users", "customers", "tenants"):
        op.drop_table(table)
