"""The `regcite` command: a dispatcher above rag, ingest, ui and evals. Nothing imports this package."""
