"""The record book: the records database and its checkpoints, opened once from Settings at an entry point."""
from __future__ import annotations

from dataclasses import dataclass

from rag.records.checkpoints import Checkpoints
from rag.records.db import RecordsDB, open_records_db


@dataclass(frozen=True)
class RecordBook:
    db: RecordsDB
    checkpoints: Checkpoints
    reviews_required: int = 1  # distinct reviewers who must decide before an answer is done
    claim_minutes: int = 15


def open_book(settings, *, migrate: bool = True) -> RecordBook:
    """Open the records database named by settings (SQLite in the data directory unless database_url says)."""
    return RecordBook(
        db=open_records_db(settings.records_url, migrate=migrate),
        checkpoints=Checkpoints(settings.audit_checkpoints_path, settings.audit_key_path, settings.audit_public_key),
        reviews_required=settings.reviews_required, claim_minutes=settings.claim_minutes,
    )
