"""k-fold cross-validation of embedder tuning on the ObliQA dev split: untuned vs tuned, dense vs hybrid."""
from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

from rag.config import Settings

from evals.holdout import HOLDOUT_WEIGHTS, best_dense_weight
from evals.overlap import normalize_question
from evals.training import TuneConfig

log = logging.getLogger(__name__)

SERIES = ("untuned dense", "tuned dense", "untuned hybrid", "tuned hybrid")
CHOSEN = "tuned hybrid, weight chosen in training folds"


@dataclass(frozen=True)
class CrossvalPlan:
    folds: int = 5
    max_train_questions: int = 0  # 0: all of the other folds; a cap makes a smoke run affordable on 2 cores
    max_test_questions: int = 0  # 0: the whole held-out fold
    hybrid_mode: str = "default"  # an evals.obliqa mode: "default" is the configured fusion (rrf), "weighted:0.65", ...
    mine_with: str = "retriever"  # "retriever" (the configured hybrid) or "dense"
    rulebooks: tuple[int, ...] = ()  # restrict the corpus (and the questions) to these rulebooks; () = all 40
    seed: int = 0
    # Query side only: per fold, train once more on an inner split of the training questions, pick the dense
    # weight that scores best on the inner held-out part, and score the fold's model with it. Adds a series
    # without touching the others, so a finished fold gains it without being redone.
    choose_weight: bool = False
    weights: tuple[float, ...] = HOLDOUT_WEIGHTS


def kfold(questions: Sequence, k: int, seed: int = 0) -> list[tuple[list, list]]:
    """k (train, test) splits; questions with the same normalised text always fall in the same fold."""
    if k < 2:
        raise ValueError(f"k-fold needs at least 2 folds, got {k}")
    groups: dict[str, list] = {}
    for q in questions:
        groups.setdefault(normalize_question(q.question), []).append(q)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    fold_of = {key: i % k for i, key in enumerate(keys)}
    out = []
    for i in range(k):
        test = [q for q in questions if fold_of[normalize_question(q.question)] == i]
        train = [q for q in questions if fold_of[normalize_question(q.question)] != i]
        out.append((train, test))
    return out


def _subset_corpus(corpus_dir: Path, rulebooks: Sequence[int], work_dir: Path) -> Path:
    """A folder of links to the chosen rulebook files, so the ObliQA ingest sees only them."""
    sub = work_dir / f"corpus-{'-'.join(map(str, rulebooks))}"
    sub.mkdir(parents=True, exist_ok=True)
    for n in rulebooks:
        link = sub / f"{n}.json"
        if not link.exists():
            link.symlink_to((corpus_dir / f"{n}.json").resolve())
    doc_map = corpus_dir / "document_map.json"
    if not doc_map.exists():
        doc_map = corpus_dir.parent / "document_map.json"
    if doc_map.exists() and not (sub / "document_map.json").exists():
        (sub / "document_map.json").symlink_to(doc_map.resolve())
    return sub


def _sample(questions: list, cap: int, seed: int) -> list:
    """Up to cap questions drawn at random (seeded), in their original order; all of them when cap is 0."""
    if not cap or cap >= len(questions):
        return questions
    keep = set(random.Random(seed).sample(range(len(questions)), cap))
    return [q for i, q in enumerate(questions) if i in keep]


def _remembered(rank):
    """The ranker, with each question's ranking kept for later calls (the untuned index does not change)."""
    seen: dict[str, list[str]] = {}

    def ranked(questions: list[str]) -> list[list[str]]:
        missing = [q for q in dict.fromkeys(questions) if q not in seen]
        if missing:
            seen.update(zip(missing, rank(missing)))
        return [seen[q] for q in questions]

    return ranked


def _scores(questions, settings: Settings, hybrid_mode: str, progress: bool) -> dict:
    from evals.obliqa import evaluate_modes

    got = evaluate_modes(questions, settings, ["dense", hybrid_mode], progress=progress)
    return {"dense": got["dense"], "hybrid": got[hybrid_mode]}


def _fingerprint(base_model: str, plan: CrossvalPlan, config: TuneConfig, fold: int) -> str:
    core = {k: v for k, v in asdict(plan).items() if k not in ("choose_weight", "weights")}
    data = json.dumps([base_model, core, asdict(config), fold], sort_keys=True)
    return hashlib.sha256(data.encode()).hexdigest()[:12]


def run_crossval(benchmark_dir: Path, settings: Settings, work_dir: Path, plan: CrossvalPlan = CrossvalPlan(),
                 config: TuneConfig = TuneConfig(), untuned_data_dir: Path | None = None,
                 progress: bool = True) -> dict:
    """Train on k-1 folds, re-embed the corpus with the tuned model, score the held-out fold; resumable per fold.

    Each finished fold writes fold-<i>/result.json keyed by a fingerprint of the plan and config, so a rerun
    with the same arguments skips it.
    """
    from evals import obliqa
    from evals.metrics import mean_and_spread
    from evals.mining import TrainingSet, make_ranker, questions_from_obliqa
    from evals.overlap import ScoringSet
    from evals.tune import TuneJob, tune

    from rag.errors import ConfigError

    if plan.choose_weight and config.side != "query":
        raise ConfigError("choosing the dense weight inside the folds needs query-side tuning (a shared index)")
    benchmark_dir, work_dir = Path(benchmark_dir), Path(work_dir)
    corpus_dir = benchmark_dir / "StructuredRegulatoryDocuments"
    questions_file = benchmark_dir / "ObliQA_dev.json"
    if plan.rulebooks:
        corpus_dir = _subset_corpus(corpus_dir, plan.rulebooks, work_dir)
    started = time.perf_counter()

    untuned = settings.replace(data_dir=Path(untuned_data_dir) if untuned_data_dir else work_dir / "untuned")
    obliqa.ingest_corpus(corpus_dir, untuned, progress=progress)  # resumable: a stored rulebook is skipped
    passages = obliqa.passage_texts(corpus_dir)
    dev = [q for q in obliqa.load_dev_questions(questions_file, corpus_dir) if q.gold and all(g in passages for g in q.gold)]
    log.info("cross-validating over %d dev questions with gold in the corpus", len(dev))
    rank, index = make_ranker(untuned, plan.mine_with)
    rank = _remembered(rank)  # folds share training questions; the untuned ranking of each is computed once

    def sources(name: str, questions) -> tuple[TrainingSet]:
        return (TrainingSet(name, tuple(questions_from_obliqa(questions, passages))),)

    def scoring(name: str, questions) -> ScoringSet:
        return ScoringSet(name, tuple((q.question_id, q.question) for q in questions))

    def chosen_weight(i: int, train: list, test: list, model_dir: Path) -> dict:
        """The dense weight picked on an inner split of fold i's training questions, and the fold scored with it."""
        from evals.obliqa import evaluate_modes

        inner_train, inner_val = kfold(train, plan.folds, plan.seed + 1)[0]
        job = TuneJob(sources(f"ObliQA dev folds != {i + 1}, inner training part", inner_train),
                      settings.embed_model, config,
                      scoring=(scoring("inner validation part", inner_val), scoring(f"ObliQA dev fold {i + 1}", test)),
                      out_dir=work_dir / f"fold-{i + 1}" / "inner-model", device=settings.device)
        inner = tune(job, index, progress=progress)
        modes = [f"weighted:{w}" for w in plan.weights]
        sweep = evaluate_modes(inner_val, untuned.replace(embed_model=str(inner.model_dir)), modes, progress)
        best = best_dense_weight({w: sweep[f"weighted:{w}"]["recall@10"] for w in plan.weights}, settings.dense_weight)
        held_out = evaluate_modes(test, untuned.replace(embed_model=str(model_dir)), [f"weighted:{best}"], progress)
        return {"dense_weight": best, "inner_train_questions": len(inner_train), "inner_val_questions": len(inner_val),
                "inner_recall@10": {str(w): sweep[f"weighted:{w}"]["recall@10"] for w in plan.weights},
                "hybrid": held_out[f"weighted:{best}"]}

    folds = []
    for i, (train, test) in enumerate(kfold(dev, plan.folds, plan.seed)):
        fold_dir = work_dir / f"fold-{i + 1}"
        fingerprint = _fingerprint(settings.embed_model, plan, config, i)
        record_file = fold_dir / "result.json"
        if record_file.exists():
            record = json.loads(record_file.read_text(encoding="utf-8"))
            if record.get("fingerprint") == fingerprint:
                log.info("fold %d already done; reusing %s", i + 1, record_file)
                if plan.choose_weight and "chosen" not in record:
                    record["chosen"] = chosen_weight(i, train, test, Path(record["model_dir"]))
                    record_file.write_text(json.dumps(record, indent=2), encoding="utf-8")
                folds.append(record)
                continue
        # Caps draw a seeded random sample, so a capped fold does not depend on the order of the dev file.
        train = _sample(train, plan.max_train_questions, plan.seed + i)
        test = _sample(test, plan.max_test_questions, plan.seed + i)
        fold_started = time.perf_counter()
        job = TuneJob(sources(f"ObliQA dev folds != {i + 1}", train), settings.embed_model, config,
                      scoring=(scoring(f"ObliQA dev fold {i + 1}", test),), out_dir=fold_dir / "model",
                      device=settings.device)
        result = tune(job, index, rank, progress)
        # A query-side model shares the untuned index (its documents are the base model's): the ingest below
        # then finds every rulebook stored and embeds nothing, which the record shows.
        tuned_data = untuned.data_dir if config.side == "query" else fold_dir / "data"
        tuned = settings.replace(data_dir=tuned_data, embed_model=str(result.model_dir))
        ingest = obliqa.ingest_corpus(corpus_dir, tuned, progress=progress)
        record = {
            "fold": i + 1, "fingerprint": fingerprint, "train_questions": len(train), "test_questions": len(test),
            "untuned": _scores(test, untuned, plan.hybrid_mode, progress),
            "tuned": _scores(test, tuned, plan.hybrid_mode, progress),
            "training": result.card["metrics"], "reembed_seconds": ingest["seconds"],
            "reembedded_passages": ingest["passages_added"],
            "seconds": round(time.perf_counter() - fold_started, 1), "model_dir": str(result.model_dir),
        }
        if plan.choose_weight:
            record["chosen"] = chosen_weight(i, train, test, result.model_dir)
        record_file.write_text(json.dumps(record, indent=2), encoding="utf-8")
        log.info("fold %d: %s", i + 1, {k: record[k] for k in ("untuned", "tuned")})
        folds.append(record)

    summary: dict = {}
    for series in SERIES:
        state, mode = series.split()
        summary[series] = {m: mean_and_spread([f[state][mode][m] for f in folds]) for m in ("recall@10", "map@10")}
    summary["tuned hybrid - untuned hybrid"] = {
        m: mean_and_spread([f["tuned"]["hybrid"][m] - f["untuned"]["hybrid"][m] for f in folds])
        for m in ("recall@10", "map@10")
    }
    if folds and all("chosen" in f for f in folds):
        summary[CHOSEN] = {m: mean_and_spread([f["chosen"]["hybrid"][m] for f in folds]) for m in ("recall@10", "map@10")}
        summary[f"{CHOSEN} - untuned hybrid"] = {
            m: mean_and_spread([f["chosen"]["hybrid"][m] - f["untuned"]["hybrid"][m] for f in folds])
            for m in ("recall@10", "map@10")
        }
    return {
        "plan": asdict(plan), "tune_config": asdict(config), "base_model": settings.embed_model,
        "questions": len(dev), "corpus_passages": len([t for t in passages.values() if t.strip()]),
        "folds": folds, "summary": summary, "seconds_total": round(time.perf_counter() - started, 1),
        "fusion": {"hybrid_mode": plan.hybrid_mode, "fusion": settings.fusion, "dense_weight": settings.dense_weight,
                   "rrf_k": settings.rrf_k, "candidates": settings.candidates},
        "preprocessing": obliqa.PREPROCESSING,
    }


def format_summary(result: dict) -> str:
    """A Markdown table: Recall@10 and MAP@10, mean ± sample std over folds."""
    lines = ["| series | Recall@10 | MAP@10 |", "| --- | --- | --- |"]
    for series, m in result["summary"].items():
        cells = [f"{m[k]['mean']:+.4f} ± {m[k]['std']:.4f}" if " - " in series
                 else f"{m[k]['mean']:.4f} ± {m[k]['std']:.4f}" for k in ("recall@10", "map@10")]
        lines.append(f"| {series} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)
