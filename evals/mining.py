"""Training data: questions with their gold clause texts (our sets, ObliQA) and the hard negatives mined for them."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

from rag.errors import ConfigError
from rag.types import Filters

if TYPE_CHECKING:
    from rag.store import Index

log = logging.getLogger(__name__)

# A ranker maps a batch of questions to ranked clause ids, best first.
Ranker = Callable[[Sequence[str]], list[list[str]]]
MINERS = ("retriever", "dense")


@dataclass(frozen=True)
class TrainQuestion:
    qid: str
    question: str
    gold_ids: tuple[str, ...]  # clause ids (ObliQA: passage uuids)
    positives: tuple[str, ...]  # the gold clauses' texts, same order


@dataclass(frozen=True)
class TrainingSet:
    name: str  # where the questions came from, as the model card names it
    questions: tuple[TrainQuestion, ...]


@dataclass(frozen=True)
class TrainPair:
    qid: str
    anchor: str
    positive: str
    negative: str = ""  # a hard negative mined from our retriever; "" when none was found


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


def dense_ranker(index, embedder, k: int = 20) -> Ranker:
    """Rank with the index's vectors alone, embedding questions in batches (fast; what the dense model sees)."""
    def rank(questions: Sequence[str]) -> list[list[str]]:
        vectors = embedder.embed_queries(list(questions))
        return [[index.clauses[pos].clause_id for pos, _ in row] for row in index.search(vectors, k)]

    return rank


def pipeline_ranker(pipeline, k: int = 20) -> Ranker:
    """Rank with our configured retriever (hybrid by default): negatives that fool dense, BM25 or both."""
    def rank(questions: Sequence[str]) -> list[list[str]]:
        return [[h.clause.clause_id for h in pipeline.search(q, Filters(), k)] for q in questions]

    return rank


def make_ranker(settings, mine_with: str = "retriever", k: int = 20) -> tuple[Ranker, Index]:
    """(ranker, index) over the index at settings.data_dir: "retriever" (configured hybrid) or "dense"."""
    from rag.pipeline import open_pipeline

    if mine_with not in MINERS:
        raise ConfigError(f"mine_with must be retriever or dense, got {mine_with!r}")
    pipeline = open_pipeline(settings)
    if mine_with == "dense":
        return dense_ranker(pipeline.index, pipeline.embedder, k), pipeline.index
    return pipeline_ranker(pipeline, k), pipeline.index


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
