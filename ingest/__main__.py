"""`python -m ingest PATH... [--json-events]`: the ingest job as a subprocess, for the app (no regcite/ import)."""
from __future__ import annotations

import argparse
import json
import logging
import sys


def _emit(event: dict) -> None:
    # One JSON object per line, flushed at once: the app reads them while the job runs.
    sys.stdout.write(json.dumps(event, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingest", description="Ingest files into the regcite index.")
    parser.add_argument("paths", nargs="+", metavar="PATH")
    parser.add_argument("--prune", action="store_true", help="remove indexed documents whose files are gone")
    parser.add_argument("--data-dir", help="index location (default: REGCITE_DATA_DIR or the settings default)")
    parser.add_argument("--json-events", action="store_true", help="print progress and the report as JSON lines")
    parser.add_argument("--effective-from", metavar="DATE", help="the date these files take effect (YYYY-MM-DD)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    from ingest.manifest import parse_date
    from ingest.pipeline import ingest_paths
    from rag.config import load_settings
    from rag.errors import RegciteError

    try:
        settings = load_settings(overrides={"data_dir": args.data_dir})
        on_progress = (lambda done, total: _emit({"event": "progress", "done": done, "total": total})) if args.json_events else None
        day = parse_date(args.effective_from) if args.effective_from else None
        report = ingest_paths(args.paths, settings, prune=args.prune, progress=not args.json_events,
                              on_progress=on_progress, effective_from=day)
    except RegciteError as e:
        if args.json_events:
            _emit({"event": "error", "error": type(e).__name__, "message": str(e)})
        else:
            print(f"ingest: {e}", file=sys.stderr)
        return e.exit_code
    except Exception as e:  # the app must get an event it can show, not only a traceback on stderr
        if not args.json_events:
            raise
        logging.getLogger("ingest").exception("ingest failed")
        _emit({"event": "error", "error": type(e).__name__, "message": f"{type(e).__name__}: {e}"})
        return 1
    if args.json_events:
        _emit({"event": "report", **report.to_dict()})
    else:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    return 3 if report.skipped else 0


if __name__ == "__main__":
    sys.exit(main())
