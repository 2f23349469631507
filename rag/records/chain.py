"""The hash chain: each record's hash covers its content and the previous record's hash; verify says where it breaks."""
from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Callable

from rag.records.checkpoints import Checkpoints
from rag.records.db import RecordsDB, utc_now

GENESIS = "0" * 64  # the prev_hash of the first record


class Kind:
    ANSWER = "answer"
    DECISION = "decision"
    USER_ADDED = "user_added"
    USER_DISABLED = "user_disabled"


@dataclass(frozen=True)
class Record:
    seq: int  # 1-based position in the chain
    record_id: str
    kind: str
    at: str  # ISO-8601 UTC
    user: str
    subject: str | None  # the answer a decision is about
    body: dict  # the record's content; the typed views live in answers.py and reviews.py
    prev_hash: str
    hash: str
    body_json: str  # the body exactly as stored: what the hash covers


def canonical_json(value) -> str:
    """One spelling of a JSON value: sorted keys, no spaces, UTF-8 kept. Hashes are taken over this text."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def record_hash(record_id: str, kind: str, at: str, user: str, subject: str | None, body_json: str,
                prev_hash: str) -> str:
    """sha256 over every field but seq: renumbering is harmless, and order is carried by prev_hash."""
    content = canonical_json([record_id, kind, at, user, subject, body_json, prev_hash])
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def append(db: RecordsDB, checkpoints: Checkpoints | None, kind: str, user: str, body: dict,
           subject: str | None = None, also: Callable[[object, Record], None] | None = None) -> Record:
    """Add one record at the head, in one write transaction with `also(conn, record)` (the derived rows), then sign
    the new head. A crash between the commit and the signature leaves an unsigned tail that verify reports."""
    from sqlalchemy import insert, select, update

    from rag.records.tables import chain_head, records

    body_json = canonical_json(body)
    record_id = str(uuid.uuid4())
    with db.write() as conn:
        head = conn.execute(select(chain_head.c.seq, chain_head.c.hash).where(chain_head.c.id == 1)
                            .with_for_update()).one()
        at = utc_now()  # taken under the lock, so times never run backwards along the chain
        digest = record_hash(record_id, kind, at, user, subject, body_json, head.hash)
        record = Record(head.seq + 1, record_id, kind, at, user, subject, json.loads(body_json), head.hash, digest,
                        body_json)
        conn.execute(insert(records).values(seq=record.seq, record_id=record_id, kind=kind, at=at, user_name=user,
                                            subject=subject, body=body_json, prev_hash=head.hash, hash=digest))
        conn.execute(update(chain_head).where(chain_head.c.id == 1).values(seq=record.seq, hash=digest))
        if also is not None:
            also(conn, record)
    if checkpoints is not None:
        checkpoints.sign(record.seq, record.hash, record.at)
    return record


def record_from_row(row) -> Record:
    return Record(row.seq, row.record_id, row.kind, row.at, row.user_name, row.subject, json.loads(row.body),
                  row.prev_hash, row.hash, row.body)


def load_record(db: RecordsDB, record_id: str | None = None, seq: int | None = None) -> Record | None:
    from sqlalchemy import select

    from rag.records.tables import records

    query = select(records)
    query = query.where(records.c.record_id == record_id) if record_id else query.where(records.c.seq == seq)
    with db.read() as conn:
        row = conn.execute(query).one_or_none()
    return record_from_row(row) if row else None


def holds(record: Record) -> bool:
    """Whether one record still matches its own hash (shown beside a record when it is displayed)."""
    return record.hash == record_hash(record.record_id, record.kind, record.at, record.user, record.subject,
                                      record.body_json, record.prev_hash)
