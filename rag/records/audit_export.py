"""`regcite audit export`: the chain's records for auditors, as JSONL or CSV, between two dates."""
from __future__ import annotations

import csv
import json
from typing import Iterator, TextIO

from rag.records.chain import Record, record_from_row

FORMATS = ("jsonl", "csv")
CSV_COLUMNS = ("seq", "record_id", "kind", "at", "user", "subject", "prev_hash", "hash", "body")


def records_between(book, since: str = "", until: str = "") -> Iterator[Record]:
    """Records in chain order whose time lies in [since, until]; a bare date as `until` takes in its whole day."""
    from sqlalchemy import select

    from rag.records.tables import records

    query = select(records).order_by(records.c.seq)
    if since:
        query = query.where(records.c.at >= since)
    if until:
        query = query.where(records.c.at <= (until + "T99" if len(until) == 10 else until))
    with book.db.read() as conn:
        for row in conn.execute(query).yield_per(500):
            yield record_from_row(row)


def write_records(rows: Iterator[Record], out: TextIO, fmt: str) -> int:
    """Write each record with its hashes and its body exactly as hashed; returns how many."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    writer = csv.writer(out) if fmt == "csv" else None
    if writer:
        writer.writerow(CSV_COLUMNS)
    n = 0
    for r in rows:
        values = (r.seq, r.record_id, r.kind, r.at, r.user, r.subject or "", r.prev_hash, r.hash, r.body_json)
        if writer:
            writer.writerow(values)
        else:
            out.write(json.dumps(dict(zip(CSV_COLUMNS[:-1], values[:-1])) | {"body": r.body}, ensure_ascii=False)
                      + "\n")
        n += 1
    return n
