"""The tuned model folder's name and card: a JSON record of how it was made, and a README for people."""
from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

from evals.overlap import TRAINED_ON

CARD_JSON = "regcite-tuning.json"  # rag.embed reads its document_model without importing evals


def model_folder(models_dir: Path, base_name: str, fingerprint: str, when: datetime) -> Path:
    """<models_dir>/<base>-tuned-<YYYYMMDD>-<fingerprint>: same data, config and base give the same name."""
    base = re.sub(r"[^\w.-]+", "-", Path(base_name).name).strip("-") or "embedder"
    return models_dir / f"{base}-tuned-{when:%Y%m%d}-{fingerprint}"


def _method(card: dict) -> str:
    h = card["hyperparameters"]
    how = "LoRA (merged)" if h["lora"] else "full fine-tuning"
    if h["side"] == "query":
        return (f"{how} of the query encoder only, softmax over all {card['metrics'].get('corpus_vectors', '?')} "
                f"corpus vectors; documents are embedded by the untouched base model {card['base_model']}, so "
                "an index built with it is used as it is (nothing is re-embedded)")
    return (f"{how} of the whole encoder, MultipleNegativesRankingLoss with in-batch negatives and "
            f"{h['hard_negatives']} mined hard negative(s) per pair; re-embed every document after switching")


def _card_markdown(card: dict) -> str:
    h = card["hyperparameters"]
    data = "\n".join(f"- {d['name']}: {d['questions']} questions (ids sha256 {d['question_ids_sha256']})"
                     for d in card["training_data"])
    excluded = "\n".join(f"- {d['name']}: {d['questions']} questions" for d in card["excluded_scoring_sets"]) or "- none given"
    metrics = "\n".join(f"- {k}: {v}" for k, v in card["metrics"].items() if k != "holdout") or "- none recorded"
    if held := card["metrics"].get("holdout"):
        rows = "\n".join(f"| {mode} | {held['scores']['base'][mode]['recall@10']} / {held['scores']['base'][mode]['map@10']} "
                         f"| {tuned['recall@10']} / {tuned['map@10']} |" for mode, tuned in held["scores"]["tuned"].items())
        metrics += (f"\n\nOn {held['questions']} held-out questions it was not trained on (Recall@10 / MAP@10):\n\n"
                    f"| retrieval | base model | this model |\n| --- | --- | --- |\n{rows}\n\n"
                    f"Best dense weight for this model there: {held['best_dense_weight']} (its figure is optimistic: "
                    "the weight was picked on the same questions).")
    return (
        f"# {card['name']}\n\nA sentence-transformers embedder fine-tuned by `regcite tune-embedder` for retrieval "
        f"over regulations.\nUse it with `embed_model = \"{card['model_dir']}\"` (or REGCITE_EMBED_MODEL); an index "
        "built with another document model refuses to mix.\n\n"
        f"- base model: {card['base_model']}\n- created: {card['created']}\n- seed: {card['seed']}\n"
        f"- method: {_method(card)}\n"
        f"- questions: {card['questions']}"
        + (f"; pairs: {card['pairs']} ({card['pairs_with_negative']} with a hard negative)" if card["pairs"] else "")
        + "\n\n"
        f"## Training data\n{data}\n\n## Scoring sets checked for overlap (none shared)\n{excluded}\n\n"
        f"## Hyperparameters\n```json\n{json.dumps(h, indent=2)}\n```\n\n## Metrics\n{metrics}\n\n"
        f"The full record is in `{CARD_JSON}`; the ids and text hashes of the training questions are in "
        f"`{TRAINED_ON}`.\n"
    )


def write_card(model_dir: Path, card: dict) -> None:
    """The card as JSON, and as the folder's README."""
    (model_dir / CARD_JSON).write_text(json.dumps(card, indent=2, ensure_ascii=False), encoding="utf-8")
    (model_dir / "README.md").write_text(_card_markdown(card), encoding="utf-8")


def record_metrics(model_dir: Path, metrics: dict) -> dict:
    """Add metrics to a tuned folder's card (JSON and README); returns the updated card."""
    card = json.loads((model_dir / CARD_JSON).read_text(encoding="utf-8"))
    card["metrics"].update(metrics)
    write_card(model_dir, card)
    return card
