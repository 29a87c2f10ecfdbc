"""Bulk rows: the lines of rows already worked are dropped.

claimd kept every uploaded line (claim tokens in plain text) to serve the upload back; it now seals
each line and empties it once its row is done, and serves no upload back. Lines of rows worked before
are no longer needed: emptied here. Rows still open are left for the worker, which refuses a line it
cannot unseal with a clear error (upload again) and empties it as it records that error.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE bulk_rows SET line = '' WHERE outcome IS NOT NULL AND line <> ''")


def downgrade() -> None:
    pass  # dropped lines cannot come back, and nothing needs them
