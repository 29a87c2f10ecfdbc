"""The server secret's fingerprint: a database refuses to start with any other secret.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "server_secret",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("fingerprint", sa.LargeBinary(32), nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("server_secret")
