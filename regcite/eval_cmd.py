"""`regcite eval check|run|compare|obliqa`: validate question sets, run and compare evaluations, run ObliQA."""
from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

OBLIQA_MODES = "dense,bm25,rrf,weighted:0.65"


def add_arguments(name: str, parser) -> None:
    sub = parser.add_subparsers(dest="eval_command", metavar="ACTION", required=True)

    check = sub.add_parser("check", help="list every gold reference of a set that is missing from the index or "
                                         "not in force on its date, and flag gold a later version changed")
    check.add_argument("set", metavar="SET", help="question set (.jsonl, or .csv to import)")
    check.add_argument("--write-jsonl", metavar="FILE", help="save the set (e.g. an imported CSV) as JSONL")
    check.add_argument("--no-index", action="store_true", help="only validate the file, not the gold references")
    check.add_argument("--as-of", metavar="DATE",
                       help="the date of the questions that have none of their own or from the set's header "
                            "(default: today): their gold must be in force then; gold a later version changed is "
                            "flagged")

    run = sub.add_parser("run", help="answer every question as `regcite ask` does and write a run folder")
    run.add_argument("set", metavar="SET", help="question set (.jsonl or .csv)")
    run.add_argument("--out", metavar="DIR", help="run folder; an existing one is resumed (default: a new folder "
                                                  "under DATA_DIR/eval-runs)")
    run.add_argument("--repeats", type=int, default=1, help="answer every question N times (seeds S, S+1, ...)")
    run.add_argument("--seed", type=int, default=0, help="seed of the first repeat")
    run.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    run.add_argument("--as-of", metavar="DATE",
                     help="answer the questions that have no date of their own or from the set's header as of "
                          "this day (default: the date of the run being resumed, else today)")

    compare = sub.add_parser("compare", help="per-metric deltas and the questions that changed outcome")
    compare.add_argument("a", metavar="RUN_A")
    compare.add_argument("b", metavar="RUN_B")
    compare.add_argument("--json", action="store_true", help="print the comparison as JSON")

    obliqa = sub.add_parser("obliqa", help="ingest the ObliQA rulebooks and score retrieval on its questions")
    obliqa.add_argument("--corpus", required=True, metavar="DIR", help="StructuredRegulatoryDocuments folder")
    obliqa.add_argument("--questions", required=True, metavar="FILE", help="ObliQA_dev.json")
    # dest differs from the global --data-dir so one cannot overwrite the other
    obliqa.add_argument("--data-dir", dest="obliqa_data_dir", metavar="D",
                        help="index folder for the rulebooks (default: DATA_DIR/obliqa)")
    obliqa.add_argument("--modes", default=OBLIQA_MODES,
                        help=f"retrieval modes to score besides the configured default (default: {OBLIQA_MODES}; "
                             "weighted:W sets the dense weight)")
    obliqa.add_argument("--limit", type=int, default=0, help="score only the first N questions (0: all)")
    obliqa.add_argument("--skip-trained", action="store_true",
                        help="with a tuned embed_model, score only the questions it was not trained on (without "
                             "this flag such a model refuses to score a file it was trained on)")
    obliqa.add_argument("--backends", metavar="B[,B]",
                        help="score each index backend in turn (e.g. faiss,milvus), each in its own index folder "
                             "(DIR-<backend>) with the first one's embeddings, and print how far they differ")
    obliqa.add_argument("--results", metavar="FILE", help="write the figures as JSON here")
    obliqa.add_argument("--no-progress", action="store_true")


def run(name: str, args, settings) -> int:
    return {"check": _check, "run": _run, "compare": _compare, "obliqa": _obliqa}[args.eval_command](args, settings)


def _check(args, settings) -> int:
    from evals.questions import load_set, missing_gold, write_jsonl
    from regcite.ask_cmd import as_of_date

    questions = load_set(args.set)
    day = as_of_date(args.as_of)
    answerable = sum(q.answerable for q in questions)
    dated = sum(q.as_of is not None for q in questions)
    print(f"{args.set}: {len(questions)} questions ({answerable} answerable, {len(questions) - answerable} not), "
          f"{sum(len(q.gold) for q in questions)} gold references; "
          + (f"{dated} dated by the set or themselves, the others as of {day}" if dated else f"as of {day}"))
    if args.write_jsonl:
        write_jsonl(questions, args.write_jsonl)
        print(f"written {args.write_jsonl}")
    if args.no_index:
        return 0
    from evals.gold_dates import gold_not_in_force, stale_gold
    from rag.store import open_index
    from regcite.ask_cmd import reader_access

    index = reader_access(args, settings).view(open_index(settings))  # gold in a hidden collection is missing
    missing = missing_gold(questions, [c.reference for c in index.clauses], {c.clause_id for c in index.clauses})
    absent = gold_not_in_force(questions, index.documents, index.clauses, day)
    stale = stale_gold(questions, index.documents, index.changes, index.clauses, day)
    if not missing and not absent:
        print(f"every gold reference is in the index and in force on its question's date "
              f"(generation {index.generation}, {len(index.clauses)} clauses)")
    if missing:
        print(f"{len(missing)} gold reference(s) missing from the index (generation {index.generation}):")
        for m in missing:
            near = f"  (nearest: {'; '.join(m.nearest)})" if m.nearest else ""
            print(f"  {m.qid}: {m.gold}{near}")
    if absent:
        print(f"{len(absent)} gold reference(s) in the index but in no version in force on their question's date:")
        for a in absent:
            print(f"  {a.qid}: {a.gold} (as of {a.as_of})")
    if stale:
        # Warnings: the gold still answers for its date, but the text after it differs; re-read the gold answer.
        print(f"{len(stale)} gold clause(s) changed by a later version (re-read these gold answers):")
        for g in stale:
            under = "" if g.reference == g.gold else f" ({g.reference})"
            doc = index.documents.get(g.by_version_id)
            source = f", {Path(doc.source_path).name}" if doc else ""
            effective = g.effective_from.isoformat() if g.effective_from else "date unknown"
            print(f"  {g.qid}: {g.gold}{under} as of {g.as_of}: {g.kind.value} by version {g.by_version_id}"
                  f"{source}, effective {effective}")
    return 1 if missing or absent else 0


PARITY = 0.01  # issue 17: an engine may not move ObliQA dev Recall@10 or MAP@10 by more than this


def _obliqa_backends(args, settings, corpus: Path, questions, modes: list[str], started: float) -> int:
    """The same questions against each backend, in one run; the first backend's figures are the reference."""
    from evals import obliqa
    from rag.store import open_index

    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    figures, lender = {}, None
    for backend in backends:
        s = settings.replace(data_dir=Path(f"{settings.data_dir}-{backend}"), index_backend=backend, catalog_url="")
        ingest = obliqa.ingest_corpus(corpus, s, progress=not args.no_progress, vectors_from=lender)
        results = obliqa.evaluate_modes(questions, s, modes, progress=not args.no_progress)
        figures[backend] = {"modes": results, "ingest": ingest}
        for mode, r in results.items():
            print(f"{backend:7} {mode:16} recall@10 {r['recall@10']:.4f}  map@10 {r['map@10']:.4f}  "
                  f"({r['ms_per_question']} ms/q)")
        lender = lender or open_index(s)
    reference, worst = figures[backends[0]]["modes"]["default"], 0.0
    for backend in backends[1:]:
        other = figures[backend]["modes"]["default"]
        dr, dm = other["recall@10"] - reference["recall@10"], other["map@10"] - reference["map@10"]
        worst = max(worst, abs(dr), abs(dm))
        print(f"parity {backend} - {backends[0]}: Recall@10 {dr:+.4f}, MAP@10 {dm:+.4f} "
              f"({'within' if max(abs(dr), abs(dm)) <= PARITY else 'OUTSIDE'} {PARITY})")
    total = time.perf_counter() - started
    print(f"{len(questions)} questions, {total:.0f} s in all", file=sys.stderr)
    if args.results:
        record = {"split": "dev", "questions": len(questions), "embed_model": settings.embed_model,
                  "backends": figures, "parity_limit": PARITY, "largest_difference": round(worst, 4),
                  "preprocessing": obliqa.PREPROCESSING, "seconds_total": round(total, 1),
                  "measured": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        Path(args.results).parent.mkdir(parents=True, exist_ok=True)
        Path(args.results).write_text(json.dumps(record, indent=2), encoding="utf-8")
    return 0 if worst <= PARITY else 1


def _untrained(settings, questions, name: str, skip: bool) -> tuple[list, int]:
    """The questions a tuned embed_model was not trained on; raises TrainingOverlap on any unless skip."""
    from evals.overlap import check_model_not_trained_on, split_trained

    items = [(q.question_id, q.question) for q in questions]
    if not skip:
        check_model_not_trained_on(settings.embed_model, items, name)
        return questions, 0
    kept, seen = split_trained(settings.embed_model, items)
    if seen:
        print(f"skipping {len(seen)} question(s) the model {settings.embed_model} was trained on; "
              f"scoring the other {len(kept)}", file=sys.stderr)
    kept_ids = {qid for qid, _ in kept}
    return [q for q in questions if q.question_id in kept_ids], len(seen)


def _run(args, settings) -> int:
    from evals.questions import load_set
    from evals.run import run_set
    from evals.overlap import check_model_not_trained_on
    from regcite.ask_cmd import as_of_date, reader_access

    questions = load_set(args.set)
    access = reader_access(args, settings)
    check_model_not_trained_on(settings.embed_model, [(q.qid, q.question) for q in questions], str(args.set))
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = Path(args.out) if args.out else settings.data_dir / "eval-runs" / f"{Path(args.set).stem}-{stamp}"
    as_of = as_of_date(args.as_of) if args.as_of else None  # None: the resumed run's date, else today
    summary = run_set(questions, settings, out, repeats=args.repeats, seed=args.seed, set_path=str(args.set),
                      progress=not args.no_progress, as_of=as_of, access=access)
    from evals.report import metric_rows

    print(f"run folder: {out} (as of {summary['as_of']}"
          + (f"; {summary['dated_questions']} question(s) with a date of their own)" if summary["dated_questions"]
             else ")"))
    for metric, mean, std, n in metric_rows(summary):
        print(f"  {metric:26} {mean:>7}" + (f" ± {std}" if summary["repeats"] > 1 else ""))
    lat = summary["latency_ms"]
    if lat:
        print(f"  latency ms: p50 {lat['p50']:.0f}, p95 {lat['p95']:.0f}, max {lat['max']:.0f}")
    print(f"  report: {out / 'report.html'}")
    return 0


def _compare(args, settings) -> int:
    from dataclasses import asdict

    from evals.compare import compare_runs, format_comparison

    c = compare_runs(args.a, args.b)
    print(json.dumps(asdict(c), indent=2, ensure_ascii=False) if args.json else format_comparison(c))
    return 0


def _obliqa(args, settings) -> int:
    from evals import obliqa

    corpus, questions_file = Path(args.corpus), Path(args.questions)
    for path in (corpus, questions_file):
        if not path.exists():
            print(f"regcite eval obliqa: no such file or directory: {path}", file=sys.stderr)
            return 2
    data_dir = Path(args.obliqa_data_dir) if args.obliqa_data_dir else settings.data_dir / "obliqa"
    settings = settings.replace(data_dir=data_dir)
    started = time.perf_counter()
    questions = obliqa.load_dev_questions(questions_file, corpus)
    if args.limit:
        questions = questions[: args.limit]
    # Checked before ingesting: a tuned model never scores the questions it was trained on.
    questions, trained = _untrained(settings, questions, str(questions_file), args.skip_trained)
    if not questions:
        print(f"regcite eval obliqa: no question of {questions_file} is left to score", file=sys.stderr)
        return 2
    modes = ["default"] + [m for m in args.modes.split(",") if m and m != "default"]
    if args.backends:
        return _obliqa_backends(args, settings, corpus, questions, modes, started)
    ingest = obliqa.ingest_corpus(corpus, settings, progress=not args.no_progress)
    results = obliqa.evaluate_modes(questions, settings, modes, progress=not args.no_progress)
    total = time.perf_counter() - started
    for mode, r in results.items():
        print(f"{mode:16} recall@10 {r['recall@10']:.4f}  map@10 {r['map@10']:.4f}  ({r['ms_per_question']} ms/q)")
    default = results["default"]
    print(f"Recall@10 {default['recall@10']:.4f}")
    print(f"MAP@10 {default['map@10']:.4f}")
    print(f"{len(questions)} questions, {total:.0f} s in all (ingest {ingest['seconds']} s)", file=sys.stderr)
    if args.results:
        record = {
            "split": "dev", "questions": len(questions), "questions_file": str(questions_file),
            "skipped_trained_questions": trained,
            "embed_model": settings.embed_model, "default": {"fusion": settings.fusion,
                                                             "dense_weight": settings.dense_weight,
                                                             "rrf_k": settings.rrf_k, "candidates": settings.candidates},
            "modes": results, "ingest": ingest, "seconds_total": round(total, 1),
            "preprocessing": obliqa.PREPROCESSING, "published_test_split": obliqa.PUBLISHED_TEST,
            "measured": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        Path(args.results).parent.mkdir(parents=True, exist_ok=True)
        Path(args.results).write_text(json.dumps(record, indent=2), encoding="utf-8")
    return 0
