"""Alembic environment: claimd always passes an open connection (see ``upgrade``)."""

from alembic import context

from claimd.adapters.sql.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `claimd db upgrade`, which supplies the database connection")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
