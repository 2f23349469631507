"""Ingestion: load files, split them into clauses with provenance, embed, and commit to the index."""
