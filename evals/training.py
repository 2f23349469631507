"""Training runs: the hyperparameters of each side, the trainer, and the losses for query-side and full tuning."""
from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from rag.config import PACKAGED_EMBEDDER
from rag.errors import ConfigError

from evals.mining import TrainPair, TrainQuestion

if TYPE_CHECKING:
    import numpy as np

SIDES = ("query", "both")


@dataclass(frozen=True)
class TuneConfig:
    """Defaults are the query side's; tune_config("both") gives the defaults for tuning both sides."""

    # "query": only the question encoder learns, against the whole corpus as embedded by the base model; documents
    # keep their vectors, so switching models re-embeds nothing. "both": full fine-tuning of one shared encoder
    # with MultipleNegativesRankingLoss (in-batch + mined hard negatives); every document must be re-embedded.
    side: str = "query"
    epochs: int = 4  # query side on ObliQA: validation Recall@10 rose through epoch 4 and wavered after
    batch_size: int = 32
    learning_rate: float = 1e-4
    warmup_ratio: float = 0.1
    hard_negatives: int = 1  # side "both": per (question, gold) pair; each one adds a third text to every row
    negative_skip: int = 0  # ignore the top ranks when mining: near-duplicates of the gold there are often relevant
    # Training window only (the saved model keeps its own): ObliQA passages average ~90 word pieces, and 256
    # made a CPU step ~4x slower (50 s vs 11 s for 32 triplets on 2 cores).
    max_seq_length: int = 128
    scale: float = 50.0  # softmax temperature (1/scale); against 13k corpus vectors 50 beat 20 by +0.02 Recall@10
    seed: int = 0
    lora: bool = False  # LoRA (peft) adapters merged into the weights before saving, so no peft at load time
    lora_r: int = 16
    lora_alpha: int = 32


# Both sides: one epoch at 5e-5 adapts MiniLM without forgetting much; scale 20 is the library's default.
SIDE_DEFAULTS = {"query": {}, "both": {"epochs": 1, "learning_rate": 5e-5, "scale": 20.0}}


def tune_config(side: str = "query", **overrides) -> TuneConfig:
    """A TuneConfig with the side's defaults; overrides that are None keep them."""
    if side not in SIDES:
        raise ConfigError(f"side must be one of {', '.join(SIDES)}, got {side!r}")
    given = {k: v for k, v in overrides.items() if v is not None}
    return TuneConfig(side=side, **{**SIDE_DEFAULTS[side], **given})


def base_source(embed_model: str) -> str:
    """The folder (or cached hub name) behind a configured embed_model, resolved as rag.embed does."""
    if embed_model == PACKAGED_EMBEDDER:
        from rag.embed import packaged_model_dir

        return str(packaged_model_dir())
    path = Path(embed_model).expanduser()
    return str(path) if path.is_dir() else embed_model


def _device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _apply_lora(model, config: TuneConfig) -> None:
    try:
        from peft import LoraConfig, TaskType, get_peft_model
    except ImportError:
        raise ConfigError("--lora needs peft: pip install peft") from None
    # peft's own wrapper rather than transformers' add_adapter: only the wrapper can merge_and_unload afterwards.
    module = model[0]
    module.model = get_peft_model(module.model, LoraConfig(task_type=TaskType.FEATURE_EXTRACTION, r=config.lora_r,
                                                           lora_alpha=config.lora_alpha, lora_dropout=0.1))


def _merge_lora(model) -> None:
    # Merged weights load as a plain sentence-transformers folder: users need no peft to use the tuned model.
    module = model[0]
    module.model = module.model.merge_and_unload()


def _fit(source: str, columns: dict, make_loss, config: TuneConfig, out_dir: Path, device: str, progress: bool,
         **training_args):
    """Load source, train it on the columns with make_loss(model) under the trainer; (model, stats).

    The model comes back with its own window restored and any LoRA adapters merged, ready to save.
    """
    import transformers
    from datasets import Dataset
    from sentence_transformers import (SentenceTransformer, SentenceTransformerTrainer,
                                       SentenceTransformerTrainingArguments)

    transformers.set_seed(config.seed)
    resolved = _device(device)
    model = SentenceTransformer(source, device=resolved, local_files_only=True)
    window = model.max_seq_length
    model.max_seq_length = min(window or config.max_seq_length, config.max_seq_length)
    if config.lora:
        _apply_lora(model, config)
    rows = len(next(iter(columns.values())))
    work = out_dir.parent / (out_dir.name + ".work")
    args = SentenceTransformerTrainingArguments(
        output_dir=str(work), num_train_epochs=config.epochs, per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate, warmup_steps=float(config.warmup_ratio),  # a float is a ratio in transformers 5
        seed=config.seed, data_seed=config.seed, full_determinism=resolved == "cpu", save_strategy="no",
        report_to="none", logging_steps=max(1, rows // config.batch_size // 10), disable_tqdm=not progress,
        use_cpu=resolved == "cpu", dataloader_num_workers=0, **training_args,
    )
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=Dataset.from_dict(columns),
                                         loss=make_loss(model))
    started = time.perf_counter()
    output = trainer.train()
    seconds = time.perf_counter() - started
    if config.lora:
        _merge_lora(model)
    model.max_seq_length = window
    shutil.rmtree(work, ignore_errors=True)
    return model, {"train_loss": round(float(output.training_loss), 4), "steps": int(output.global_step),
                   "seconds": round(seconds, 1), "device": resolved}


def train_model(source: str, pairs: Sequence[TrainPair], config: TuneConfig, out_dir: Path,
                device: str = "auto", progress: bool = True) -> dict:
    """Train with MultipleNegativesRankingLoss (in-batch + hard negatives), save to out_dir, return training stats."""
    from sentence_transformers.losses import MultipleNegativesRankingLoss
    from sentence_transformers.training_args import BatchSamplers

    if not pairs:
        raise ConfigError("no training pairs: the questions have no gold passages that could be found")
    columns = {"anchor": [p.anchor for p in pairs], "positive": [p.positive for p in pairs]}
    if any(p.negative for p in pairs):
        # Rows without a mined negative borrow their own positive's neighbour in the list: a column cannot be ragged.
        columns["negative"] = [p.negative or pairs[(i + 1) % len(pairs)].positive for i, p in enumerate(pairs)]
    model, stats = _fit(source, columns, lambda m: MultipleNegativesRankingLoss(m, scale=config.scale), config,
                        out_dir, device, progress,
                        # The same question with two gold passages in one batch would make one gold the other's negative.
                        batch_sampler=BatchSamplers.NO_DUPLICATES)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(str(out_dir))
    return stats


def corpus_of(index) -> tuple[list[str], np.ndarray]:
    """(clause ids, their stored vectors) of an index: the fixed document side for query-side training."""
    import numpy as np

    vectors = index.vectors() if index.clauses else np.zeros((0, 0))
    return [c.clause_id for c in index.clauses], vectors.astype(np.float32)


def _corpus_softmax_loss(model, corpus_vectors, scale: float):
    """Cross-entropy of each question over every corpus vector: all clauses are negatives, its gold ones positive.

    Not a sentence-transformers loss: theirs embed both sides each step, while here the document side is fixed,
    so the whole corpus (13k ObliQA passages) costs one matrix product and every clause serves as a negative.
    """
    import torch
    from torch import nn

    class CorpusSoftmaxLoss(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model
            self.register_buffer("corpus", torch.as_tensor(corpus_vectors))

        def forward(self, sentence_features, labels):
            queries = nn.functional.normalize(self.model(sentence_features[0])["sentence_embedding"], dim=-1)
            logits = scale * queries @ self.corpus.T
            rows, slots = (labels >= 0).nonzero(as_tuple=True)
            gold = torch.zeros_like(logits, dtype=torch.bool)
            gold[rows, labels[rows, slots]] = True
            return (torch.logsumexp(logits, 1) - torch.logsumexp(logits.masked_fill(~gold, float("-inf")), 1)).mean()

    return CorpusSoftmaxLoss()


def train_query_side(source: str, questions: Sequence[TrainQuestion], corpus: tuple[list[str], object],
                     config: TuneConfig, out_dir: Path, device: str = "auto", progress: bool = True) -> dict:
    """Train the question encoder against the fixed corpus vectors; save a query/document Router to out_dir.

    The saved model sends queries through the trained weights and documents through a fresh copy of the base, so
    its document vectors are the base model's bit for bit.
    """
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Router

    ids, vectors = corpus
    position = {cid: i for i, cid in enumerate(ids)}
    rows = [(q.question, [position[g] for g in q.gold_ids if g in position]) for q in questions]
    rows = [(text, gold) for text, gold in rows if gold]
    if not rows:
        raise ConfigError("no training questions have a gold clause in the index used as the corpus")
    width = max(len(gold) for _, gold in rows)
    # One row per question, its gold positions padded with -1: a question with two gold clauses wants both.
    columns = {"anchor": [t for t, _ in rows], "label": [gold + [-1] * (width - len(gold)) for _, gold in rows]}
    model, stats = _fit(source, columns, lambda m: _corpus_softmax_loss(m, vectors, config.scale), config, out_dir,
                        device, progress)
    base = SentenceTransformer(source, device="cpu", local_files_only=True)
    routed = SentenceTransformer(modules=[Router.for_query_document(query_modules=list(model),
                                                                    document_modules=list(base))], device="cpu")
    out_dir.mkdir(parents=True, exist_ok=True)
    routed.save(str(out_dir))
    return {**stats, "corpus_vectors": len(ids)}

