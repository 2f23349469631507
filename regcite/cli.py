"""The `regcite` command: parses arguments, builds Settings once, and hands off to a subcommand module lazily."""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

# subcommand -> (module under regcite/, one-line help); modules import their layer only when run
COMMANDS = {
    "ingest": ("ingest_cmd", "index files or folders of regulations and reports"),
    "docs": ("library_cmd", "list the indexed documents and each one's versions"),
    "search": ("library_cmd", "print the clauses that best match a query"),
    "diff": ("diff_cmd", "what changed between two versions of an instrument, clause by clause"),
    "ask": ("ask_cmd", "answer a question with verified clause citations"),
    "ui": ("ui_cmd", "start the Streamlit app"),
    "eval": ("eval_cmd", "check, run and compare evaluation sets; run the ObliQA benchmark"),
    "tune-embedder": ("tune_cmd", "fine-tune the embedder on question sets (writes a local model folder)"),
    "users": ("users_cmd", "add, list and disable the users who ask, review and administer"),
    "review": ("review_cmd", "the review queue: list, show and decide recorded answers; export and statistics"),
    "audit": ("audit_cmd", "verify the records' hash chain, export records for auditors, print the public key"),
    "serve": ("serve_cmd", "serve the HTTP API, with an OpenAI-compatible endpoint for chat clients"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="regcite",
        description="Compliance Q&A over regulations, with every sentence citing a verified clause.",
    )
    parser.add_argument("--config", help="TOML settings file (default: $REGCITE_CONFIG)")
    parser.add_argument("--data-dir", help="where the index lives (default: $REGCITE_DATA_DIR or ~/.local/share/regcite)")
    parser.add_argument("--user", default=os.environ.get("REGCITE_USER") or None, metavar="NAME",
                        help="who acts, once users exist (default: $REGCITE_USER); the password comes from "
                             "$REGCITE_PASSWORD, the terminal, or one line of stdin")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        _module(module).add_arguments(name, command)
    return parser


def _module(name: str):
    return importlib.import_module(f"regcite.{name}")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    from rag.config import load_settings
    from rag.errors import RegciteError

    try:
        settings = load_settings(args.config, overrides={"data_dir": args.data_dir})
        return _module(COMMANDS[args.command][0]).run(args.command, args, settings)
    except RegciteError as e:
        print(f"regcite: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("regcite: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
