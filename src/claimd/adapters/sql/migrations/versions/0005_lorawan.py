"""LoRaWAN identities (claim authentication codes) and TTS applications.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UUID = sa.String(36)


def upgrade() -> None:
    with op.batch_alter_table("bulk_ops") as batch:
        batch.add_column(sa.Column("application_id", sa.String(36)))
    op.create_table(
        "lorawan_applications",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column(
            "customer_id",
            UUID,
            sa.ForeignKey("customers.id", ondelete="CASCADE", name="fk_lorawan_applications_customer_id_customers"),
            nullable=False,
        ),
        sa.Column("application_id", sa.String(36), nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("customer_id", "application_id", name="uq_lorawan_applications_customer_application"),
    )
    op.create_table(
        "lorawan_identities",
        sa.Column(
            "device_id",
            UUID,
            sa.ForeignKey("devices.id", ondelete="CASCADE", name="fk_lorawan_identities_device_id_devices"),
            primary_key=True,
        ),
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("dev_eui", sa.String(16), nullable=False),
        sa.Column("join_eui", sa.String(16), nullable=False),
        sa.Column("code_digest", sa.LargeBinary(32), nullable=False),
        sa.Column("valid_from", sa.BigInteger),
        sa.Column("valid_to", sa.BigInteger),
        sa.Column("vendor_id", sa.Integer, nullable=False),
        sa.Column("profile_id", sa.Integer, nullable=False),
        sa.Column("serial", sa.String(64)),
        sa.Column("code_spent_at", sa.BigInteger),
        sa.Column(
            "application",
            UUID,
            sa.ForeignKey(
                "lorawan_applications.id",
                ondelete="SET NULL",
                name="fk_lorawan_identities_application_lorawan_applications",
            ),
        ),
        sa.Column("app_device_id", sa.String(36)),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("tenant_id", "dev_eui", name="uq_lorawan_identities_tenant_dev_eui"),
        sa.UniqueConstraint("application", "app_device_id", name="uq_lorawan_identities_application_device"),
    )
    op.create_index("ix_lorawan_identities_tenant_join_eui", "lorawan_identities", ["tenant_id", "join_eui"])


def downgrade() -> None:
    with op.batch_alter_table("bulk_ops") as batch:
        batch.drop_column("application_id")
    op.drop_table("lorawan_identities")
    op.drop_table("lorawan_applications")
