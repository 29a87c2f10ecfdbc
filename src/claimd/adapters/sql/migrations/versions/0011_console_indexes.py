"""Indexes of the console's device list: keyset paging by (name, id) within a tenant.

``ix_devices_tenant_name_id`` serves the list, its "Next page" (``(name, id) > (:name, :id)``) and a
name-prefix search (a range of it); ``ix_devices_tenant_customer_name`` the owner filter in the same
order, and replaces ``ix_devices_tenant_customer`` (tenant_id, customer_id), a prefix of it. Both let a page stop after its rows, whatever the fleet's size (docs/performance.md).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_devices_tenant_name_id", "devices", ["tenant_id", "name", "id"])
    op.create_index("ix_devices_tenant_customer_name", "devices", ["tenant_id", "customer_id", "name", "id"])
    op.drop_index("ix_devices_tenant_customer", table_name="devices")


def downgrade() -> None:
    op.create_index("ix_devices_tenant_customer", "devices", ["tenant_id", "customer_id"])
    op.drop_index("ix_devices_tenant_customer_name", table_name="devices")
    op.drop_index("ix_devices_tenant_name_id", table_name="devices")
