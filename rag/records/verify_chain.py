"""`regcite audit verify`: recompute the chain and hold it against the signed checkpoints; name the first break."""
from __future__ import annotations

from dataclasses import dataclass

from rag.records.chain import GENESIS, record_hash
from rag.records.checkpoints import Checkpoints
from rag.records.db import RecordsDB


@dataclass(frozen=True)
class Break:
    seq: int  # where the chain (or a checkpoint) stops matching
    record_id: str  # "" where the record is gone
    what: str  # one sentence an auditor can act on

    def __str__(self) -> str:
        name = f"record {self.seq}" + (f" ({self.record_id})" if self.record_id else "")
        return f"{name}: {self.what}"


@dataclass(frozen=True)
class ChainReport:
    records: int
    head_seq: int
    head_hash: str
    checkpoints: int  # signed checkpoints read
    unsigned_tail: int  # records after the last signed checkpoint: the window a cut tail could hide in
    key_id: str
    breaks: tuple[Break, ...]

    @property
    def holds(self) -> bool:
        return not self.breaks


def verify_chain(db: RecordsDB, checkpoints: Checkpoints) -> ChainReport:
    from sqlalchemy import select

    from rag.records.checkpoints import key_id
    from rag.records.tables import records

    breaks: list[Break] = []
    trusted = checkpoints.trusted_public_key()
    # Checkpoints before records: a checkpoint is written after its record commits, so each one read here names a
    # record the snapshot below holds, however many are appended meanwhile.
    read_checkpoints = checkpoints.read() if trusted is not None else []
    with db.read() as conn:  # the hashes first (small), then the bodies streamed: a long chain never sits in memory
        if db.dialect == "postgresql":  # both queries in one snapshot (SQLite's read transaction is one already)
            conn.execution_options(isolation_level="REPEATABLE READ")
        by_seq = {r.seq: (r.record_id, r.hash) for r in conn.execute(
            select(records.c.seq, records.c.record_id, records.c.hash))}
        stored_hashes = {h: seq for seq, (_, h) in by_seq.items()}
        previous_hash, previous_seq = GENESIS, 0
        for row in conn.execute(select(records).order_by(records.c.seq)).yield_per(1000):
            recomputed = record_hash(row.record_id, row.kind, row.at, row.user_name, row.subject, row.body,
                                     row.prev_hash)
            if recomputed != row.hash:
                breaks.append(Break(row.seq, row.record_id, "was edited: its content no longer matches its hash"))
            elif row.prev_hash != previous_hash:
                breaks.append(_link_break(row, previous_seq, stored_hashes))
            elif row.seq != previous_seq + 1:
                breaks.append(Break(previous_seq + 1, "", f"is missing: seq {previous_seq} is followed by {row.seq}"))
            previous_hash, previous_seq = row.hash, row.seq
    first_seq = min(by_seq, default=0)

    signed = []
    for cp in read_checkpoints:
        if not cp.signed:
            breaks.append(Break(max(cp.seq, 0), "", f"checkpoint line {cp.line} of {checkpoints.path} has a bad "
                                                    "signature"))
            continue
        signed.append(cp)
        held = by_seq.get(cp.seq)
        if held is None:
            where = ("was removed from the end of the chain" if cp.seq > previous_seq else "was deleted")
            breaks.append(Break(cp.seq, "", f"{where}: the checkpoint signed at {cp.at} names it "
                                            f"(hash {cp.hash[:12]}…)"))
        elif held[1] != cp.hash:
            breaks.append(Break(cp.seq, held[0], f"differs from the checkpoint signed at {cp.at}: the chain from here "
                                                 "was rewritten"))
    if by_seq and trusted is None:  # hashes alone prove nothing against someone who rewrote them all
        breaks.append(Break(first_seq, by_seq[first_seq][0],
                            f"cannot check the signed checkpoints: no signing key at {checkpoints.key_path} and no "
                            "audit_public_key pinned (`regcite audit public-key` on the signing host prints it)"))
    elif by_seq and not signed:
        breaks.append(Break(first_seq, by_seq[first_seq][0],
                            f"no signed checkpoint covers the chain ({checkpoints.path})"))
    last_signed = max((cp.seq for cp in signed), default=0)
    first = {}
    for b in sorted(breaks, key=lambda b: b.seq):
        first.setdefault(b.seq, b)  # one break per record: the chain's own finding before a checkpoint's
    return ChainReport(len(by_seq), previous_seq, previous_hash, len(signed),
                       sum(1 for seq in by_seq if seq > last_signed), key_id(trusted) if trusted else "",
                       tuple(first.values()))


def _link_break(row, previous_seq: int, stored_hashes: dict[str, int]) -> Break:
    """A record whose prev_hash is not its predecessor's: reordered when that hash sits elsewhere, else a gap."""
    elsewhere = stored_hashes.get(row.prev_hash)
    if elsewhere is not None:
        return Break(row.seq, row.record_id, f"is out of order: the record it follows is at seq {elsewhere}")
    if row.seq != previous_seq + 1:
        return Break(previous_seq + 1, "", f"is missing: seq {previous_seq} is followed by {row.seq}")
    return Break(row.seq, row.record_id, "follows a record that was deleted or replaced")
