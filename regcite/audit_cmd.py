"""`regcite audit verify|export|public-key`: check the records' hash chain, hand records to auditors, pin the key."""
from __future__ import annotations

import json
import sys

FORMATS = ("jsonl", "csv")  # rag.records.audit_export.FORMATS, named here so --help imports no layer


def add_arguments(name: str, parser) -> None:
    sub = parser.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = sub.add_parser("verify", help="recompute the chain and check it against the signed checkpoints; "
                                           "exit 1 naming the first break")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    export = sub.add_parser("export", help="the records with their hashes, in chain order (admins only)")
    export.add_argument("--from", dest="since", metavar="DATE", help="from this day or UTC time (inclusive)")
    export.add_argument("--to", dest="until", metavar="DATE", help="to this day (all of it) or UTC time (inclusive)")
    export.add_argument("--format", choices=FORMATS, default="jsonl")
    export.add_argument("--out", metavar="FILE", help="write here (default: stdout)")
    sub.add_parser("public-key", help="the base64 public key of the signing key, to pin as audit_public_key where "
                                      "auditors verify")


def run(name: str, args, settings) -> int:
    if args.audit_command == "public-key":
        from rag.records.checkpoints import public_key_b64

        print(public_key_b64(settings.audit_key_path))
        return 0
    from regcite.acting import record_book

    with record_book(settings) as book:
        return _verify(book, args) if args.audit_command == "verify" else _export(book, args, settings)


def _verify(book, args) -> int:
    from rag.records.verify_chain import verify_chain

    report = verify_chain(book.db, book.checkpoints)
    if args.json:
        print(json.dumps({"holds": report.holds, "records": report.records, "head_seq": report.head_seq,
                          "head_hash": report.head_hash, "checkpoints": report.checkpoints,
                          "unsigned_tail": report.unsigned_tail, "key_id": report.key_id,
                          "breaks": [{"seq": b.seq, "record_id": b.record_id, "what": b.what} for b in report.breaks]},
                         indent=2))
        return 0 if report.holds else 1
    print(f"{report.records} records in {book.db.url}; head seq {report.head_seq}, hash {report.head_hash}")
    print(f"{report.checkpoints} signed checkpoints in {book.checkpoints.path} (key {report.key_id or 'none'}); "
          f"{report.unsigned_tail} record(s) after the last one")
    if report.holds:
        print("the chain holds")
        return 0
    print(f"the chain is broken: {len(report.breaks)} break(s); the first: {report.breaks[0]}")
    return 1


def _export(book, args, settings) -> int:
    from rag.records.audit_export import records_between, write_records
    from regcite.acting import acting_user
    from regcite.review_cmd import moment
    from regcite.users_cmd import require_admin

    since, until = moment(args.since, "--from"), moment(args.until, "--to")
    require_admin(acting_user(args, settings, book), "export records")
    rows = records_between(book, since, until)
    if not args.out:
        n = write_records(rows, sys.stdout, args.format)
    else:
        with open(args.out, "w", encoding="utf-8", newline="") as out:  # csv writes its own line ends
            n = write_records(rows, out, args.format)
    print(f"exported {n} record(s)" + (f" to {args.out}" if args.out else ""), file=sys.stderr)
    return 0
