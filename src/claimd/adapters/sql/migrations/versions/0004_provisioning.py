"""Provisioning commands.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UUID = sa.String(36)


def upgrade() -> None:
    op.create_table(
        "provisioning_commands",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column(
            "device_id",
            UUID,
            sa.ForeignKey("devices.id", ondelete="CASCADE", name="fk_provisioning_commands_device_id_devices"),
            nullable=False,
        ),
        sa.Column("customer_id", UUID),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("description", sa.String(255)),
        sa.Column("request_sealed", sa.Text, nullable=False),
        sa.Column("steps", sa.BigInteger, nullable=False),
        sa.Column("steps_done", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("response", sa.Text),
        sa.Column("created_by", UUID),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("updated_time", sa.BigInteger, nullable=False),
        sa.Column("delivered_at", sa.BigInteger),
        sa.UniqueConstraint("device_id", "position", name="uq_provisioning_commands_device_position"),
    )
    op.create_index("ix_provisioning_commands_device_status", "provisioning_commands", ["device_id", "status"])


def downgrade() -> None:
    op.drop_table("provisioning_commands")
