"""`regcite tune-embedder`: fine-tune the configured embedder on question sets and write a versioned model folder."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def add_arguments(name: str, parser) -> None:
    data = parser.add_argument_group("training data (at least one)")
    data.add_argument("--set", dest="sets", action="append", default=[], metavar="SET",
                      help="question set (.jsonl/.csv) whose gold clauses are in the index; repeat for several")
    data.add_argument("--obliqa", metavar="DIR", help="ObliQA folder (ObliQA_dev.json + StructuredRegulatoryDocuments)")
    parser.add_argument("--obliqa-questions", metavar="FILE",
                        help="the ObliQA split to train on (default: DIR/ObliQA_dev.json); e.g. ObliQA_train.json, "
                             "then score on the dev split with `regcite eval obliqa`")
    parser.add_argument("--obliqa-data-dir", metavar="D",
                        help="index of the ObliQA rulebooks used to mine negatives (default: DATA_DIR/obliqa, "
                             "ingested there if missing, as `regcite eval obliqa` does)")
    parser.add_argument("--exclude-set", action="append", default=[], metavar="SCORING_SET",
                        help="a set the tuned model will be scored on (.jsonl/.csv, or an ObliQA questions .json): "
                             "training refuses if any question overlaps it by id or normalised text")
    parser.add_argument("--out", metavar="DIR", help="model folder (default: DATA_DIR/models/<base>-tuned-<date>-<hash>)")
    parser.add_argument("--side", choices=("query", "both"), default="query",
                        help="query (default): train the question encoder against the corpus as the base model "
                             "embedded it; switching to the result re-embeds nothing. both: full fine-tuning; "
                             "every document must be re-embedded")
    parser.add_argument("--epochs", type=int, help="default 4 (query side) or 1 (both)")
    parser.add_argument("--seed", type=int, default=0, help="training is deterministic on CPU given the seed")
    parser.add_argument("--batch-size", type=int, default=32, help="questions per step (default 32)")
    parser.add_argument("--lr", type=float, help="learning rate (default 1e-4 query side, 5e-5 both)")
    parser.add_argument("--scale", type=float, help="softmax scale, 1/temperature (default 50 query side, 20 both)")
    parser.add_argument("--hard-negatives", type=int, default=1,
                        help="side both: negatives mined from our retriever per pair (default 1; 0: in-batch only)")
    parser.add_argument("--mine-with", choices=("retriever", "dense"), default="retriever",
                        help="mine with the configured hybrid retriever (default) or the dense index alone")
    parser.add_argument("--max-questions", type=int, default=0, help="train on the first N questions only (0: all)")
    parser.add_argument("--holdout", type=float, default=0.0, metavar="FRACTION",
                        help="query side: keep this share of the questions (e.g. 0.2) out of training, score base and "
                             "tuned model on them, and record the figures and the best dense weight in the card")
    parser.add_argument("--lora", action="store_true", help="train LoRA adapters (peft) and merge them; for large models")
    parser.add_argument("--no-progress", action="store_true")


def _scoring_items(path: str) -> list[tuple[str, str]]:
    p = Path(path)
    if p.suffix.lower() == ".json":
        rows = json.loads(p.read_text(encoding="utf-8"))
        return [(str(r["QuestionID"]), r["Question"]) for r in rows]
    from evals.questions import load_set

    return [(q.qid, q.question) for q in load_set(p)]


def _obliqa_paths(folder: Path, questions_file: str | None) -> tuple[Path, Path]:
    from rag.errors import ConfigError

    corpus = folder / "StructuredRegulatoryDocuments"
    if not corpus.is_dir():
        raise ConfigError(f"--obliqa {folder}: no {corpus.name} there; pass the ObliQA benchmark folder")
    questions = Path(questions_file) if questions_file else folder / "ObliQA_dev.json"
    if not questions.is_file():
        raise ConfigError(f"no ObliQA questions file {questions}; pass an ObliQA split with --obliqa-questions")
    return corpus, questions


def _print_holdout(report: dict, dense_weight: float) -> None:
    base, tuned = report["scores"]["base"], report["scores"]["tuned"]
    configured = f"weighted:{dense_weight:g}"
    hybrid = (f"; hybrid (dense {dense_weight:g}) {base[configured]['recall@10']} → {tuned[configured]['recall@10']}"
              if configured in tuned else "")
    print(f"  held out {report['questions']} questions, Recall@10 base → tuned: dense "
          f"{base['dense']['recall@10']} → {tuned['dense']['recall@10']}{hybrid}")
    best = report["best_dense_weight"]
    print(f"  best dense weight for it there: {best:g} (Recall@10 {tuned[f'weighted:{best:g}']['recall@10']}, "
          f"optimistic: picked on the same questions); use it with REGCITE_DENSE_WEIGHT={best:g}")


def run(name: str, args, settings) -> int:
    from evals.overlap import ScoringSet
    from evals.training import tune_config

    if args.obliqa_questions and not args.obliqa:
        print("regcite tune-embedder: --obliqa-questions needs --obliqa DIR (the rulebooks)", file=sys.stderr)
        return 2
    if not args.sets and not args.obliqa:
        print("regcite tune-embedder: give --set SET and/or --obliqa DIR", file=sys.stderr)
        return 2
    if args.sets and args.obliqa:
        # Negatives come from one index each; two corpora would need two mining passes and two text lookups.
        print("regcite tune-embedder: train on --set or on --obliqa, not both at once", file=sys.stderr)
        return 2
    progress = not args.no_progress
    config = tune_config(args.side, epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
                         scale=args.scale, hard_negatives=args.hard_negatives, seed=args.seed, lora=args.lora)
    scoring = [ScoringSet(path, tuple(_scoring_items(path))) for path in args.exclude_set]

    if args.obliqa:
        from evals import obliqa
        from evals.mining import questions_from_obliqa

        corpus, questions_file = _obliqa_paths(Path(args.obliqa), args.obliqa_questions)
        index_settings = settings.replace(
            data_dir=Path(args.obliqa_data_dir) if args.obliqa_data_dir else settings.data_dir / "obliqa")
        passages = obliqa.passage_texts(corpus)
        questions = questions_from_obliqa(obliqa.load_dev_questions(questions_file, corpus), passages)
        sources_name = str(questions_file)
    else:
        from evals.questions import load_set
        from evals.mining import questions_from_set
        from rag.store import open_index

        index_settings = settings
        index = open_index(settings)
        questions = [q for path in args.sets for q in questions_from_set(load_set(path), index)]
        sources_name = ", ".join(args.sets)
    if args.max_questions:
        questions = questions[: args.max_questions]
    held_out = []
    if args.holdout:
        if config.side != "query" or not 0 < args.holdout < 1:
            print("regcite tune-embedder: --holdout takes a fraction between 0 and 1, with --side query",
                  file=sys.stderr)
            return 2
        from evals.crossval import kfold

        # Same-text questions stay together, as in cross-validation; the seed picks which part is held out.
        held_out, questions = kfold(questions, max(2, round(1 / args.holdout)), args.seed)[0][::-1]
        scoring.append(ScoringSet("held-out questions", tuple((q.qid, q.question) for q in held_out)))

    # The overlap check runs before any index is opened for mining: a refused run costs nothing.
    from evals.mining import TrainingSet, make_ranker
    from evals.overlap import check_no_overlap
    from evals.tune import TuneJob, tune

    for scored in scoring:
        check_no_overlap([(q.qid, q.question) for q in questions], scored.items, scored.name)
    needs_index = config.side == "query" or args.hard_negatives
    if args.obliqa and needs_index:
        obliqa.ingest_corpus(corpus, index_settings, progress=progress)  # skips rulebooks already stored
    rank, index = make_ranker(index_settings, args.mine_with) if needs_index else (None, None)
    job = TuneJob((TrainingSet(sources_name, tuple(questions)),), settings.embed_model, config, tuple(scoring),
                  models_dir=settings.data_dir / "models", out_dir=Path(args.out) if args.out else None,
                  device=settings.device)
    result = tune(job, index, rank if args.hard_negatives else None, progress)
    m = result.card["metrics"]
    print(f"tuned model: {result.model_dir}")
    if held_out:
        from evals.card import record_metrics
        from evals.holdout import holdout_scores

        report = holdout_scores(held_out, index_settings, index_settings.replace(embed_model=str(result.model_dir)),
                                progress=progress)
        record_metrics(result.model_dir, {"holdout": report})
        _print_holdout(report, index_settings.dense_weight)
    if config.side == "query":
        print(f"  query side: {result.card['questions']} questions against {m['corpus_vectors']} corpus vectors, "
              f"{m['steps']} steps, loss {m['train_loss']}, {m['seconds']} s on {m['device']}")
        print(f"  use it: REGCITE_EMBED_MODEL={result.model_dir} (indexes built with {settings.embed_model} "
              "serve it as they are: nothing to re-embed)")
    else:
        print(f"  {result.card['questions']} questions, {result.card['pairs']} pairs "
              f"({result.card['pairs_with_negative']} with a hard negative), {m['steps']} steps, "
              f"loss {m['train_loss']}, {m['seconds']} s on {m['device']}")
        print(f"  use it: REGCITE_EMBED_MODEL={result.model_dir} (then re-ingest: an index refuses to mix models)")
    return 0
