"""Bulk operations: durable jobs and their rows.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UUID = sa.String(36)


def upgrade() -> None:
    op.create_table(
        "bulk_ops",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column(
            "tenant_id",
            UUID,
            sa.ForeignKey("tenants.id", ondelete="CASCADE", name="fk_bulk_ops_tenant_id_tenants"),
            nullable=False,
        ),
        sa.Column("customer_id", UUID),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("endpoint", sa.String(40), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_at", sa.BigInteger, nullable=False),
        sa.Column("completed_at", sa.BigInteger),
        sa.Column("total", sa.BigInteger, nullable=False),
        sa.Column("succeeded", sa.BigInteger, nullable=False),
        sa.Column("failed", sa.BigInteger, nullable=False),
        sa.Column("idempotency_key", sa.String(255)),
        sa.Column("upload_digest", sa.LargeBinary(32)),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_until", sa.BigInteger),
        sa.UniqueConstraint("user_id", "idempotency_key", name="uq_bulk_ops_user_key"),
    )
    op.create_index("ix_bulk_ops_status", "bulk_ops", ["status", "requested_at"])
    op.create_table(
        "bulk_rows",
        sa.Column(
            "op_id",
            sa.String(26),
            sa.ForeignKey("bulk_ops.id", ondelete="CASCADE", name="fk_bulk_rows_op_id_bulk_ops"),
            primary_key=True,
        ),
        sa.Column("row_index", sa.BigInteger, primary_key=True),
        sa.Column("line", sa.Text, nullable=False),
        sa.Column("outcome", sa.String(8)),
        sa.Column("device_id", UUID),
        sa.Column("message", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("bulk_rows")
    op.drop_table("bulk_ops")
