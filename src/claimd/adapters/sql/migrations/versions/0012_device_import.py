"""Device imports: a bulk job whose upload is stored in sealed chunks of rows, worked set-based.

``bulk_chunks`` holds an import's upload, a few thousand rows a chunk, sealed (rows carry access
tokens and claim keys); once a chunk is worked its upload is emptied and its rows' results (the
generated secrets among them) are kept sealed until the result file is downloaded, once
(``bulk_ops.results_taken_at``). ``bulk_ops.options`` holds what the worker needs of the request (the
file's format and header, the generated keys' length and alphabet, the claim link's base URL).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bulk_ops") as batch:
        batch.add_column(sa.Column("options", sa.Text()))
        batch.add_column(sa.Column("results_taken_at", sa.BigInteger()))
    op.create_table(
        "bulk_chunks",
        sa.Column("op_id", sa.String(26), nullable=False),
        sa.Column("chunk_index", sa.Integer(), nullable=False),
        sa.Column("first_row", sa.BigInteger(), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("upload", sa.Text(), nullable=False),
        sa.Column("results", sa.Text()),
        sa.Column("done", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.ForeignKeyConstraint(["op_id"], ["bulk_ops.id"], name="fk_bulk_chunks_op_id_bulk_ops", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("op_id", "chunk_index", name="pk_bulk_chunks"),
    )


def downgrade() -> None:
    op.drop_table("bulk_chunks")
    with op.batch_alter_table("bulk_ops") as batch:
        batch.drop_column("results_taken_at")
        batch.drop_column("options")
