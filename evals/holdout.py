"""The held-out check: base vs tuned model on questions kept out of training, and the dense weight they favour."""
from __future__ import annotations

from typing import Sequence

from rag.config import Settings

from evals.mining import TrainQuestion

HOLDOUT_WEIGHTS = (0.3, 0.4, 0.5, 0.6, 0.7)


def best_dense_weight(recall_by_weight: dict[float, float], configured: float) -> float:
    """The weight with the highest Recall@10; ties go to the one nearest the configured weight (the smaller change)."""
    return max(recall_by_weight, key=lambda w: (recall_by_weight[w], -abs(w - configured)))


def holdout_scores(questions: Sequence[TrainQuestion], base: Settings, tuned: Settings,
                   weights: Sequence[float] = HOLDOUT_WEIGHTS, progress: bool = False) -> dict:
    """Recall@10 / MAP@10 of held-out questions over one index, base vs tuned settings, dense and weighted fusion.

    Both settings must search the same index (query-side tuning); the best weight is the tuned model's.
    """
    from evals.obliqa import DevQuestion, evaluate_modes

    # Scored as ObliQA scores its questions: clause ids compared exactly, every mode over one embedding a question.
    scored = [DevQuestion(q.qid, q.question, q.gold_ids, 0) for q in questions]
    modes = ["dense"] + [f"weighted:{w}" for w in weights]
    scores = {label: {mode: {k: got[k] for k in ("recall@10", "map@10")}
                      for mode, got in evaluate_modes(scored, settings, modes, progress).items()}
              for label, settings in (("base", base), ("tuned", tuned))}
    best = best_dense_weight({w: scores["tuned"][f"weighted:{w}"]["recall@10"] for w in weights}, base.dense_weight)
    return {"questions": len(questions), "scores": scores, "best_dense_weight": best}
