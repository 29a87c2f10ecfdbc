"""Users: when their credentials last changed, and a one-time password-reset token.

A password change, a reset through a reset link and ``claimd admin reset-password`` record the time;
JWTs issued before it are refused, so earlier sessions of that user end. The reset token is kept as
a keyed digest (like the activation token) with its expiry.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

DIGEST = sa.LargeBinary(32)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("credentials_changed_at", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("reset_digest", DIGEST, nullable=True))
        batch.add_column(sa.Column("reset_expires_at", sa.BigInteger(), nullable=True))
        batch.create_unique_constraint("uq_users_reset_digest", ["reset_digest"])


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("uq_users_reset_digest", type_="unique")
        batch.drop_column("reset_expires_at")
        batch.drop_column("reset_digest")
        batch.drop_column("credentials_changed_at")
