"""A system administrator, who belongs to no tenant, and tenants with contact details.

``users.tenant_id`` may be NULL: a SYS_ADMIN user (ThingsBoard's system administrator, whose tenantId is
the null UUID on the wire). Tenants gain what ThingsBoard's Tenant carries: an e-mail, contact details
(kept as one JSON object) and additionalInfo.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.alter_column("tenant_id", existing_type=sa.String(36), nullable=True)
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("email", sa.String(255), nullable=True))
        batch.add_column(sa.Column("contact", sa.Text(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("additional_info", sa.Text(), nullable=False, server_default="{}"))


def downgrade() -> None:
    op.execute("DELETE FROM users WHERE tenant_id IS NULL")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("additional_info")
        batch.drop_column("contact")
        batch.drop_column("email")
    with op.batch_alter_table("users") as batch:
        batch.alter_column("tenant_id", existing_type=sa.String(36), nullable=False)
