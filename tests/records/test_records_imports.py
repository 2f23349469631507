"""Importing the records modules loads no database driver or crypto library: entry points stay fast to start."""
from __future__ import annotations

import subprocess
import sys

LAZY = ("sqlalchemy", "alembic", "psycopg", "argon2", "cryptography", "sklearn", "torch")


def test_importing_the_records_modules_loads_nothing_heavy():
    code = ("import rag.records.book, rag.records.answers, rag.records.reviews, rag.records.queue, "
            "rag.records.users, rag.records.stale, rag.records.review_sets, rag.records.verify_chain, "
            "rag.records.audit_export\nimport sys\n"
            f"print(','.join(m for m in {LAZY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
