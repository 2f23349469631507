"""`regcite tune-embedder`'s run: check overlap, mine, train, and write the versioned model folder with its card."""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from rag.embed import document_model_of
from rag.errors import ConfigError

from evals.card import model_folder, write_card
from evals.mining import Ranker, TrainingSet, mine_pairs
from evals.overlap import ScoringSet, check_no_overlap, question_ids_sha, write_trained_on
from evals.training import SIDES, TuneConfig, base_source, corpus_of, train_model, train_query_side

if TYPE_CHECKING:
    from rag.store import Index

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TuneJob:
    """One tuning run: which questions teach which base model how, kept apart from which sets, saved where."""

    sources: tuple[TrainingSet, ...]
    base_model: str  # as settings name it: the packaged model, a hub name or a folder
    config: TuneConfig = TuneConfig()
    scoring: tuple[ScoringSet, ...] = ()  # the sets the model will be scored on: training refuses their questions
    models_dir: Path | None = None  # gets a versioned folder, <base>-tuned-<date>-<fingerprint>, unless out_dir
    out_dir: Path | None = None
    device: str = "auto"


@dataclass(frozen=True)
class TuneResult:
    model_dir: Path
    card: dict


def tune(job: TuneJob, index: Index | None = None, rank: Ranker | None = None, progress: bool = True) -> TuneResult:
    """Check overlap, train, and write the model folder with its card.

    index: an index built with the base model. Side "query" trains against its vectors; side "both" mines hard
    negatives with rank (None: in-batch negatives only) and reads their texts from it.
    """
    config = job.config
    if config.side not in SIDES:
        raise ConfigError(f"side must be one of {', '.join(SIDES)}, got {config.side!r}")
    questions = [q for source in job.sources for q in source.questions]
    items = [(q.qid, q.question) for q in questions]
    for scoring in job.scoring:
        check_no_overlap(items, scoring.items, scoring.name)
    if underlying := document_model_of(Path(job.base_model).expanduser()):
        raise ConfigError(f"{job.base_model} is a query-side tuned model; tune from its base model ({underlying}) "
                          "instead")
    if config.side == "query" and index is None:
        raise ConfigError("query-side tuning needs the corpus vectors of an index built with the base model")
    if job.out_dir is None and job.models_dir is None:
        raise ConfigError("a tuning job needs out_dir or models_dir")
    if rank is not None and index is None:
        raise ConfigError("mining hard negatives needs the index they are read from")
    pairs = [] if config.side == "query" else mine_pairs(
        questions, rank, lambda cid: index.clause(cid).text, config.hard_negatives if rank else 0,
        config.negative_skip, progress=progress)
    when = datetime.now(timezone.utc)
    data = [{"name": s.name, "questions": len(s.questions),
             "question_ids_sha256": question_ids_sha((q.qid, "") for q in s.questions)} for s in job.sources]
    hyper = asdict(config)
    fingerprint = hashlib.sha256(json.dumps([job.base_model, data, hyper], sort_keys=True).encode()).hexdigest()[:8]
    out_dir = Path(job.out_dir or model_folder(Path(job.models_dir), job.base_model, fingerprint, when))
    source = base_source(job.base_model)
    if config.side == "query":
        corpus = corpus_of(index)
        log.info("training the query side of %s on %d questions against %d corpus vectors into %s", job.base_model,
                 len(questions), len(corpus[0]), out_dir)
        stats = train_query_side(source, questions, corpus, config, out_dir, job.device, progress)
    else:
        log.info("training %s on %d pairs from %d questions into %s", job.base_model, len(pairs), len(questions),
                 out_dir)
        stats = train_model(source, pairs, config, out_dir, device=job.device, progress=progress)
    import sentence_transformers
    import torch

    card = {
        "name": out_dir.name, "model_dir": str(out_dir.resolve()), "base_model": job.base_model,
        "created": when.isoformat(timespec="seconds"), "seed": config.seed, "hyperparameters": hyper,
        # Read by rag.embed: an index of the base model serves a query-side model as it is.
        "document_model": job.base_model if config.side == "query" else str(out_dir.resolve()),
        "training_data": data, "questions": len(questions), "pairs": len(pairs),
        "pairs_with_negative": sum(bool(p.negative) for p in pairs),
        "excluded_scoring_sets": [{"name": s.name, "questions": len(s.items),
                                   "question_ids_sha256": question_ids_sha(s.items)} for s in job.scoring],
        "metrics": stats,
        "versions": {"sentence_transformers": sentence_transformers.__version__, "torch": torch.__version__},
    }
    write_card(out_dir, card)
    write_trained_on(out_dir, items)
    return TuneResult(out_dir, card)
