"""Failed guesses audited as one row with a count (repeat_count, last_time) instead of a row each.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("repeat_count", sa.Integer, nullable=False, server_default="1"))
        batch.add_column(sa.Column("last_time", sa.BigInteger))


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("last_time")
        batch.drop_column("repeat_count")
