"""Issue 6 acceptance 1: k-fold cross-validation of embedder tuning on the ObliQA dev split (Recall@10, MAP@10)."""
from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BENCHMARK = ROOT.parent / "shared" / "benchmarks" / "obliqa"
RESULTS = ROOT / "benchmarks" / "results" / "tune_crossval.json"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--benchmark", type=Path, default=BENCHMARK, help="ObliQA folder (default: ../shared/benchmarks/obliqa)")
    p.add_argument("--work-dir", type=Path, default=Path("/tmp/regcite-tune-crossval"),
                   help="fold models and re-embedded indexes; a rerun with the same arguments resumes here")
    p.add_argument("--untuned-data-dir", type=Path,
                   help="an existing ObliQA index built with the base model (saves one corpus embedding)")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--max-train-questions", type=int, default=0, help="cap per fold (0: all four fifths)")
    p.add_argument("--max-test-questions", type=int, default=0, help="cap per held-out fold (0: the whole fifth)")
    p.add_argument("--rulebooks", default="", help="comma-separated rulebook numbers for a smoke run (default: all)")
    p.add_argument("--side", choices=("query", "both"), default="query", help="what training changes (see tune-embedder)")
    p.add_argument("--epochs", type=int, help="default: the side's (4 query, 1 both)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, help="default: the side's (1e-4 query, 5e-5 both)")
    p.add_argument("--scale", type=float, help="default: the side's (50 query, 20 both)")
    p.add_argument("--hard-negatives", type=int, default=1)
    p.add_argument("--mine-with", choices=("retriever", "dense"), default="retriever")
    p.add_argument("--hybrid-mode", default="default",
                   help="evals.obliqa mode scored as 'hybrid': default (configured fusion), rrf, weighted:0.65 ...")
    p.add_argument("--choose-weight", action="store_true",
                   help="query side: also pick the dense weight on an inner split of each fold's training questions "
                        "and score the fold with it (one more training run a fold)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    from evals.crossval import CrossvalPlan, format_summary, run_crossval
    from evals.training import tune_config
    from rag.config import load_settings

    settings = load_settings(overrides={"device": args.device})
    plan = CrossvalPlan(folds=args.folds, max_train_questions=args.max_train_questions,
                        max_test_questions=args.max_test_questions, hybrid_mode=args.hybrid_mode,
                        mine_with=args.mine_with, seed=args.seed, choose_weight=args.choose_weight,
                        rulebooks=tuple(int(x) for x in args.rulebooks.split(",") if x.strip()))
    config = tune_config(args.side, epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
                         scale=args.scale, hard_negatives=args.hard_negatives, seed=args.seed)
    result = run_crossval(args.benchmark, settings, args.work_dir, plan, config,
                          untuned_data_dir=args.untuned_data_dir, progress=not args.no_progress)
    result.update({"command": " ".join(sys.argv), "machine": f"{platform.machine()}, {platform.processor() or '?'}",
                   "measured": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(format_summary(result))
    delta = result["summary"]["tuned hybrid - untuned hybrid"]["recall@10"]["mean"]
    print(f"tuned hybrid - untuned hybrid Recall@10 {delta:+.4f} (target +0.03); "
          f"{result['questions']} questions, {len(result['folds'])} folds, {result['seconds_total']:.0f} s")
    chosen = result["summary"].get("tuned hybrid, weight chosen in training folds - untuned hybrid")
    if chosen:
        weights = [f["chosen"]["dense_weight"] for f in result["folds"]]
        print(f"weight chosen in training folds ({weights}) - untuned hybrid Recall@10 {chosen['recall@10']['mean']:+.4f}")
    print(f"written {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
