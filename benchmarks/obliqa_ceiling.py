"""How high can fusing dense and BM25 go on ObliQA? Gold passages found by neither retriever's top 100.

Recall@10 of any fusion of the two lists cannot exceed the share of gold passages that at least one of them ranks
in its top 100 (a question has at most 5 gold passages, so all of them fit in ten places). The script prints that
ceiling, per-retriever Recall@10/@100, and writes a seeded sample of the missed question/passage pairs for reading.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BENCHMARK = ROOT.parent / "shared" / "benchmarks" / "obliqa"
RESULTS = ROOT / "benchmarks" / "results" / "obliqa_ceiling.json"
DEPTH = 100


def _ranks(questions, pipeline, mode: str, progress: bool) -> dict[str, dict[str, int]]:
    from tqdm import tqdm

    from evals.obliqa import mode_settings
    from rag.types import Filters

    searcher = pipeline.with_settings(mode_settings(pipeline.settings, mode))
    out = {}
    for q in tqdm(questions, desc=mode, unit="q", disable=not progress):
        hits = searcher.search(q.question, Filters(), DEPTH)
        out[q.question_id] = {h.clause.clause_id: rank for rank, h in enumerate(hits)}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--benchmark", type=Path, default=BENCHMARK, help="ObliQA folder (default: ../shared/benchmarks/obliqa)")
    p.add_argument("--data-dir", type=Path, required=True, help="an ObliQA index (regcite eval obliqa --data-dir)")
    p.add_argument("--sample", type=int, default=20, help="missed pairs to write for reading")
    p.add_argument("--sample-out", type=Path, default=Path("/tmp/obliqa-missed-sample.md"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)

    from evals.obliqa import load_dev_questions, passage_texts
    from rag.config import load_settings
    from rag.pipeline import open_pipeline

    if not args.benchmark.is_dir():
        print(f"no ObliQA benchmark at {args.benchmark}", file=sys.stderr)
        return 2
    corpus = args.benchmark / "StructuredRegulatoryDocuments"
    questions = [q for q in load_dev_questions(args.benchmark / "ObliQA_dev.json", corpus) if q.gold]
    texts = passage_texts(corpus)
    settings = load_settings(overrides={"data_dir": str(args.data_dir)})
    pipeline = open_pipeline(settings)
    ranks = {mode: _ranks(questions, pipeline, mode, not args.no_progress) for mode in ("dense", "bm25")}

    def recall(found) -> float:
        return sum(sum(1 for g in q.gold if found(q, g)) / len(q.gold) for q in questions) / len(questions)

    def within(mode: str, depth: int):
        return lambda q, g: ranks[mode][q.question_id].get(g, DEPTH) < depth

    table = {
        "dense": {"recall@10": recall(within("dense", 10)), "recall@100": recall(within("dense", DEPTH))},
        "bm25": {"recall@10": recall(within("bm25", 10)), "recall@100": recall(within("bm25", DEPTH))},
        "either top 100 (fusion ceiling)": {
            "recall@10": recall(lambda q, g: within("dense", DEPTH)(q, g) or within("bm25", DEPTH)(q, g))},
    }
    missed = [(q, g) for q in questions for g in q.gold
              if not within("dense", DEPTH)(q, g) and not within("bm25", DEPTH)(q, g)]
    golds = sum(len(q.gold) for q in questions)

    print(f"{len(questions)} questions, {golds} gold passages; {len(missed)} ({len(missed) / golds:.1%}) "
          f"outside both top {DEPTH}")
    print("| retriever | Recall@10 | Recall@100 |\n| --- | --- | --- |")
    for name, row in table.items():
        print(f"| {name} | {row['recall@10']:.4f} | {row.get('recall@100', float('nan')):.4f} |")

    sample = random.Random(args.seed).sample(missed, min(args.sample, len(missed)))
    args.sample_out.write_text("".join(
        f"## {i}. {q.question}\n\nGold passage:\n\n> {texts.get(g, '(text not found)')[:600]}\n\n"
        for i, (q, g) in enumerate(sample, 1)), encoding="utf-8")
    print(f"sample of {len(sample)} missed pairs (seed {args.seed}): {args.sample_out}")

    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps({
        "questions": len(questions), "gold_passages": golds, "missed_by_both_top100": len(missed),
        "embed_model": settings.embed_model, "table": {k: {m: round(v, 4) for m, v in row.items()}
                                                       for k, row in table.items()},
    }, indent=2) + "\n", encoding="utf-8")
    print(f"written {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
