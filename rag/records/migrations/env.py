"""Alembic environment: run on the connection rag.records.db hands over (no alembic.ini, no URL here)."""
from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None, transaction_per_migration=True)
with context.begin_transaction():
    context.run_migrations()
