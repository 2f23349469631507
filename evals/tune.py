"""Fine-tune the embedder on question sets: pairs with mined hard negatives, the overlap guard, a versioned model folder."""
from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Sequence

from rag.config import PACKAGED_EMBEDDER
from rag.embed import document_model_of
from rag.errors import ConfigError, RegciteError
from rag.types import Filters

log = logging.getLogger(__name__)

CARD_JSON = "regcite-tuning.json"
TRAINED_ON = "training-questions.jsonl"  # one {"id", "text_sha"} a line: lets a scorer prove it did not train on its set

# A ranker maps a batch of questions to ranked clause ids, best first.
Ranker = Callable[[Sequence[str]], list[list[str]]]


class TrainingOverlap(RegciteError):
    """Training questions overlap the set used to score the tuned model."""

    exit_code = 2


@dataclass(frozen=True)
class TrainQuestion:
    qid: str
    question: str
    gold_ids: tuple[str, ...]  # clause ids (ObliQA: passage uuids)
    positives: tuple[str, ...]  # the gold clauses' texts, same order


@dataclass(frozen=True)
class TrainPair:
    qid: str
    anchor: str
    positive: str
    negative: str = ""  # a hard negative mined from our retriever; "" when none was found


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


@dataclass(frozen=True)
class TuneResult:
    model_dir: Path
    card: dict = field(default_factory=dict)


# ---- the overlap guard -------------------------------------------------------------------------------------------

def normalize_question(text: str) -> str:
    """NFKC, case-folded, punctuation dropped, single spaces: two spellings of one question compare equal."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def _text_sha(text: str) -> str:
    return hashlib.sha256(normalize_question(text).encode()).hexdigest()[:16]


def check_no_overlap(train: Iterable[tuple[str, str]], scoring: Iterable[tuple[str, str]],
                     scoring_name: str = "the scoring set") -> None:
    """Raise TrainingOverlap when a training question shares an id or its normalised text with a scoring question."""
    train = list(train)
    scoring = list(scoring)
    ids = {qid for qid, _ in scoring}
    texts = {normalize_question(t): qid for qid, t in scoring}
    clashes = []
    for qid, text in train:
        if qid in ids:
            clashes.append(f"{qid} (same id)")
        elif normalize_question(text) in texts:
            clashes.append(f"{qid} (same text as {texts[normalize_question(text)]})")
    if clashes:
        shown = ", ".join(clashes[:10]) + (f" and {len(clashes) - 10} more" if len(clashes) > 10 else "")
        raise TrainingOverlap(
            f"refusing to train: {len(clashes)} training question(s) also in {scoring_name}: {shown}. "
            "A model scored on questions it was trained on reports inflated figures; remove them from the "
            "training data or score on another set"
        )


def _trained_on(model_dir: str | Path) -> tuple[set[str], set[str]] | None:
    """(ids, text hashes) of the questions a regcite-tuned model folder was trained on; None for other models."""
    path = Path(model_dir).expanduser() / TRAINED_ON
    if not path.is_file():
        return None
    trained = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {t["id"] for t in trained}, {t["text_sha"] for t in trained}


def split_trained(model_dir: str | Path, scoring: Iterable[tuple[str, str]]) -> tuple[list, list]:
    """(questions the model never saw, questions it was trained on), by id or normalised text."""
    scoring = list(scoring)
    trained = _trained_on(model_dir)
    if trained is None:
        return scoring, []
    ids, shas = trained
    seen = [item for item in scoring if item[0] in ids or _text_sha(item[1]) in shas]
    dropped = set(seen)
    return [item for item in scoring if item not in dropped], seen


def check_model_not_trained_on(model_dir: str | Path, scoring: Iterable[tuple[str, str]],
                               scoring_name: str = "the scoring set") -> None:
    """For scorers: raise TrainingOverlap when a tuned model folder was trained on any of these questions."""
    _, seen = split_trained(model_dir, scoring)
    if seen:
        clashes = [qid for qid, _ in seen]
        raise TrainingOverlap(f"the model {model_dir} was trained on {len(clashes)} question(s) of {scoring_name} "
                              f"(e.g. {', '.join(clashes[:5])}); its scores there would be inflated")


def question_ids_sha(items: Iterable[tuple[str, str]]) -> str:
    """sha256 over the sorted question ids: names exactly which questions a model saw."""
    return hashlib.sha256("\n".join(sorted(qid for qid, _ in items)).encode()).hexdigest()[:16]


# ---- training questions from our sets and from ObliQA ------------------------------------------------------------

def questions_from_set(questions, index) -> list[TrainQuestion]:
    """Resolve each answerable EvalQuestion's gold (clause ids or references) to indexed clauses and their texts.

    A gold reference covers its descendants (evals.metrics.covers), so "§ 1002.9(a)(1)" pulls in its (i)..(iii).
    """
    from evals.metrics import covers

    by_id = {c.clause_id: c for c in index.clauses}
    out, missing = [], []
    for q in questions:
        if not q.answerable:
            continue
        clauses = []
        for g in q.gold:
            found = [by_id[g]] if g in by_id else [c for c in index.clauses if covers(g, c.reference)]
            if not found:
                missing.append(f"{q.qid}: {g}")
            clauses += found
        clauses = list({c.clause_id: c for c in clauses}.values())
        if clauses:
            out.append(TrainQuestion(q.qid, q.question, tuple(c.clause_id for c in clauses),
                                     tuple(c.text for c in clauses)))
    if missing:
        log.warning("%d gold reference(s) not in the index, their pairs are skipped: %s", len(missing),
                    "; ".join(missing[:10]))
    return out


def questions_from_obliqa(dev_questions, passages: dict[str, str]) -> list[TrainQuestion]:
    """ObliQA DevQuestions with their gold passage texts (passages: uuid -> text); questions without gold drop out."""
    out = []
    for q in dev_questions:
        gold = tuple(g for g in q.gold if passages.get(g, "").strip())
        if gold:
            out.append(TrainQuestion(q.question_id, q.question, gold, tuple(passages[g] for g in gold)))
    return out


# ---- hard negatives ---------------------------------------------------------------------------------------------

def dense_ranker(index, embedder, k: int = 20) -> Ranker:
    """Rank with the index's vectors alone, embedding questions in batches (fast; what the dense model sees)."""
    def rank(questions: Sequence[str]) -> list[list[str]]:
        vectors = embedder.embed_queries(list(questions))
        return [[index.clauses[pos].clause_id for pos, _ in row] for row in index.search(vectors, k)]

    return rank


def retriever_ranker(retriever, k: int = 20) -> Ranker:
    """Rank with our configured retriever (hybrid by default): negatives that fool dense, BM25 or both."""
    def rank(questions: Sequence[str]) -> list[list[str]]:
        return [[h.clause.clause_id for h in retriever.retrieve(q, Filters(), k=k)] for q in questions]

    return rank


def make_ranker(settings, mine_with: str = "retriever", k: int = 20) -> tuple[Ranker, object]:
    """(ranker, index) over the index at settings.data_dir: "retriever" (configured hybrid) or "dense"."""
    from rag.embed import load_embedder
    from rag.store import open_index

    index = open_index(settings)
    embedder = load_embedder(settings)
    index.check_model(embedder.name)
    if mine_with == "dense":
        return dense_ranker(index, embedder, k), index
    if mine_with != "retriever":
        raise ConfigError(f"mine_with must be retriever or dense, got {mine_with!r}")
    from rag.retrieve import Retriever

    return retriever_ranker(Retriever(index, embedder, settings), k), index


def mine_pairs(questions: Sequence[TrainQuestion], rank: Ranker, text_of: Callable[[str], str],
               negatives: int = 1, skip: int = 0, batch: int = 64, progress: bool = False) -> list[TrainPair]:
    """One pair per (question, gold text), each with the top-ranked non-gold passages as hard negatives.

    A negative never has the text of a gold passage (ObliQA repeats passage texts under different uuids).
    """
    from tqdm import tqdm

    pairs: list[TrainPair] = []
    for start in tqdm(range(0, len(questions), batch), desc="mining negatives", unit="batch", disable=not progress):
        chunk = questions[start:start + batch]
        rankings = rank([q.question for q in chunk]) if negatives else [[] for _ in chunk]
        for q, ranked in zip(chunk, rankings):
            gold_texts = {" ".join(t.split()) for t in q.positives}
            mined = []
            for cid in ranked[skip:]:
                if cid in q.gold_ids:
                    continue
                text = text_of(cid)
                if text.strip() and " ".join(text.split()) not in gold_texts and text not in mined:
                    mined.append(text)
                if len(mined) >= negatives:
                    break
            for positive in q.positives:
                if not mined:
                    pairs.append(TrainPair(q.qid, q.question, positive))
                for negative in mined:
                    pairs.append(TrainPair(q.qid, q.question, positive, negative))
    return pairs


# ---- training ---------------------------------------------------------------------------------------------------

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
    _remove_tree(work)
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


def corpus_of(index) -> tuple[list[str], "np.ndarray"]:
    """(clause ids, their stored vectors) of an index: the fixed document side for query-side training."""
    import numpy as np

    vectors = np.stack([index.vector(i) for i in range(len(index.clauses))]) if index.clauses else np.zeros((0, 0))
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


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


# ---- held-out check ---------------------------------------------------------------------------------------------

HOLDOUT_WEIGHTS = (0.3, 0.4, 0.5, 0.6, 0.7)


def best_dense_weight(recall_by_weight: dict[float, float], configured: float) -> float:
    """The weight with the highest Recall@10; ties go to the one nearest the configured weight (the smaller change)."""
    return max(recall_by_weight, key=lambda w: (recall_by_weight[w], -abs(w - configured)))


def holdout_scores(questions: Sequence[TrainQuestion], base, tuned, weights: Sequence[float] = HOLDOUT_WEIGHTS,
                   progress: bool = False) -> dict:
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


def record_metrics(model_dir: Path, metrics: dict) -> dict:
    """Add metrics to a tuned folder's card (JSON and README); returns the updated card."""
    card = json.loads((model_dir / CARD_JSON).read_text(encoding="utf-8"))
    card["metrics"].update(metrics)
    (model_dir / CARD_JSON).write_text(json.dumps(card, indent=2, ensure_ascii=False), encoding="utf-8")
    (model_dir / "README.md").write_text(_card_markdown(card), encoding="utf-8")
    return card


# ---- the versioned model folder ---------------------------------------------------------------------------------

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


def tune(
    sources: Sequence[tuple[str, Sequence[TrainQuestion]]],
    rank: Ranker | None,
    text_of: Callable[[str], str],
    base_model: str,
    models_dir: Path,
    config: TuneConfig = TuneConfig(),
    scoring: Sequence[tuple[str, Sequence[tuple[str, str]]]] = (),
    out_dir: Path | None = None,
    device: str = "auto",
    progress: bool = True,
    extra_metrics: dict | None = None,
    corpus: tuple[list[str], object] | None = None,
) -> TuneResult:
    """Check overlap, train, and write the model folder with its card.

    sources: (name, questions) per training set; scoring: (name, [(qid, text)]) per set the model will be scored on.
    Side "query" needs corpus, (clause ids, base-model vectors) from corpus_of(index); side "both" mines hard
    negatives with rank (None: in-batch negatives only) and reads their texts with text_of.
    """
    if config.side not in SIDES:
        raise ConfigError(f"side must be one of {', '.join(SIDES)}, got {config.side!r}")
    questions = [q for _, qs in sources for q in qs]
    items = [(q.qid, q.question) for q in questions]
    for name, scored in scoring:
        check_no_overlap(items, scored, name)
    if underlying := document_model_of(Path(base_model).expanduser()):
        raise ConfigError(f"{base_model} is a query-side tuned model; tune from its base model ({underlying}) instead")
    if config.side == "query" and corpus is None:
        raise ConfigError("query-side tuning needs the corpus vectors of an index built with the base model")
    pairs = [] if config.side == "query" else mine_pairs(
        questions, rank, text_of, config.hard_negatives if rank else 0, config.negative_skip, progress=progress)
    when = datetime.now(timezone.utc)
    data = [{"name": name, "questions": len(qs), "question_ids_sha256": question_ids_sha((q.qid, "") for q in qs)}
            for name, qs in sources]
    hyper = asdict(config)
    fingerprint = hashlib.sha256(json.dumps([base_model, data, hyper], sort_keys=True).encode()).hexdigest()[:8]
    out_dir = Path(out_dir) if out_dir else model_folder(Path(models_dir), base_model, fingerprint, when)
    if config.side == "query":
        log.info("training the query side of %s on %d questions against %d corpus vectors into %s", base_model,
                 len(questions), len(corpus[0]), out_dir)
        stats = train_query_side(base_source(base_model), questions, corpus, config, out_dir, device, progress)
    else:
        log.info("training %s on %d pairs from %d questions into %s", base_model, len(pairs), len(questions), out_dir)
        stats = train_model(base_source(base_model), pairs, config, out_dir, device=device, progress=progress)
    import sentence_transformers
    import torch

    card = {
        "name": out_dir.name, "model_dir": str(out_dir.resolve()), "base_model": base_model,
        "created": when.isoformat(timespec="seconds"), "seed": config.seed, "hyperparameters": hyper,
        # Read by rag.embed: an index of the base model serves a query-side model as it is.
        "document_model": base_model if config.side == "query" else str(out_dir.resolve()),
        "training_data": data, "questions": len(questions), "pairs": len(pairs),
        "pairs_with_negative": sum(bool(p.negative) for p in pairs),
        "excluded_scoring_sets": [{"name": n, "questions": len(s), "question_ids_sha256": question_ids_sha(s)}
                                  for n, s in scoring],
        "metrics": {**stats, **(extra_metrics or {})},
        "versions": {"sentence_transformers": sentence_transformers.__version__, "torch": torch.__version__},
    }
    (out_dir / CARD_JSON).write_text(json.dumps(card, indent=2, ensure_ascii=False), encoding="utf-8")
    (out_dir / "README.md").write_text(_card_markdown(card), encoding="utf-8")
    (out_dir / TRAINED_ON).write_text(
        "".join(json.dumps({"id": qid, "text_sha": _text_sha(text)}) + "\n" for qid, text in items), encoding="utf-8")
    return TuneResult(out_dir, card)
