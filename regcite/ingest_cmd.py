"""`regcite ingest PATH... [--prune] [--no-progress] [--json]`: index files and print the run's summary."""
from __future__ import annotations

import json
import sys
from pathlib import Path

EXIT_SKIPPED = 3  # the run committed, but some files were not ingested


def add_arguments(name: str, parser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or folders (walked recursively, hidden files skipped)")
    parser.add_argument("--prune", action="store_true", help="remove indexed documents whose files are gone")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--effective-from", metavar="DATE",
                        help="the date these files take effect (YYYY-MM-DD), over what the documents state")
    parser.add_argument("--collection", metavar="NAME",
                        help="who may read these files: admins grant collections with `regcite users grant` "
                             "(new files go to 'default' unless given; a stored file named here moves to NAME)")
    parser.add_argument("--manifest", metavar="FILE",
                        help="JSON mapping files to effective dates and, optionally, document ids")


def run(name: str, args, settings) -> int:
    missing = [p for p in args.paths if not Path(p).expanduser().exists()]
    if missing:
        print(f"regcite ingest: no such file or directory: {', '.join(missing)}", file=sys.stderr)
        return 2
    from ingest.manifest import parse_date, read_manifest
    from ingest.pipeline import ingest_paths

    stated = read_manifest(args.manifest) if args.manifest else None
    day = parse_date(args.effective_from) if args.effective_from else None
    report = ingest_paths(args.paths, settings, prune=args.prune, progress=not args.no_progress, stated=stated,
                          effective_from=day, collection=args.collection)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(summary(report, settings.index_dir))
    return EXIT_SKIPPED if report.skipped else 0


def summary(report, index_dir) -> str:
    lines = [
        f"files {report.files}: {report.added} added, {report.replaced} replaced, {report.unchanged} unchanged, "
        f"{report.removed} removed, {len(report.skipped)} skipped",
        f"clauses {report.clauses} ({report.embedded} embedded), pages {report.pages}, "
        f"{report.seconds:.1f} s, index generation {report.generation} at {index_dir}",
    ]
    if report.impacts:
        lines.append("changes between versions:")
        lines += [f"  {impact}" for impact in report.impacts]
    lines += [f"note: {note}" for note in report.notes]
    if report.skipped:
        lines.append("skipped:")
        lines += [f"  {path}: {reason}" for path, reason in report.skipped]
    return "\n".join(lines)
