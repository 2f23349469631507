"""Alembic migrations of the records database; rag.records.db runs them on open."""
