"""Evaluation metrics: IR scores via pytrec_eval (trec_eval), citation, support, abstention, key facts, latency."""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Mapping, Sequence

DEFAULT_KS = (1, 3, 5, 10)


def normalize_reference(ref: str) -> str:
    """NFKC (full-width brackets become ASCII), single spaces, no space before a bracket."""
    text = unicodedata.normalize("NFKC", ref)
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r"\s+(?=\()", "", text)


def covers(gold: str, ref: str) -> bool:
    """True when `ref` is the gold clause or one of its descendants (a child is part of the gold clause).

    "12 CFR 1002.9(a)(1)" covers "12 CFR 1002.9(a)(1)(iii)" but not "12 CFR 1002.90"; a parent of the gold
    clause is not covered: in the clause model a parent holds its own lead-in, not its children's text.
    """
    g, r = normalize_reference(gold), normalize_reference(ref)
    if r == g:
        return True
    if not r.startswith(g):
        return False
    nxt = r[len(g)]
    return not (nxt.isascii() and nxt.isalnum())


def match_ranking(retrieved: Sequence[str], gold: Collection[str]) -> list[str]:
    """Rewrite a ranked list of references for trec_eval: a hit becomes the gold it covers, counted once.

    Parts of an over-long clause and several children of one gold clause would otherwise be counted as
    separate documents; the first occurrence keeps its rank, later ones drop out.
    """
    out: list[str] = []
    seen: set[str] = set()
    for ref in retrieved:
        key = next((g for g in gold if covers(g, ref)), None) or normalize_reference(ref)
        if key not in seen:
            seen.add(key)
            out.append(key)
    return out


@dataclass(frozen=True)
class RetrievalScores:
    per_query: dict[str, dict[str, float]]  # qid -> {"recall@5": ..., "mrr": ..., "map@10": ...}
    mean: dict[str, float]
    queries: int


def _measure_names(ks: Sequence[int]) -> dict[str, str]:
    names = {f"recall_{k}": f"recall@{k}" for k in ks}
    names.update({"recip_rank": "mrr", "map_cut_10": "map@10"})
    return names


def retrieval_scores(
    rankings: Mapping[str, Sequence[str]],
    qrels: Mapping[str, Collection[str]],
    ks: Sequence[int] = DEFAULT_KS,
    exact: bool = False,
) -> RetrievalScores:
    """Recall@k, MRR and MAP@10 over the queries that have gold; a query with no ranking scores 0.

    exact=True compares ids literally (ObliQA passage uuids); otherwise references are matched with covers().
    """
    import pytrec_eval

    qrels = {q: set(g) for q, g in qrels.items() if g}
    if not qrels:
        raise ValueError("no query has gold references; retrieval metrics need at least one answerable question")
    pytrec_qrels = {q: {_docid(d): 1 for d in (g if exact else map(normalize_reference, g))} for q, g in qrels.items()}
    run = {}
    for q in qrels:
        ranked = list(rankings.get(q, ()))
        ranked = list(dict.fromkeys(ranked)) if exact else match_ranking(ranked, qrels[q])
        # trec_eval sorts by score and breaks ties by docid, so scores must encode the rank to keep our order.
        run[q] = {_docid(d): float(len(ranked) - i) for i, d in enumerate(ranked)}
    measures = {f"recall.{','.join(map(str, ks))}", "recip_rank", "map_cut.10"}
    names = _measure_names(ks)
    evaluated = pytrec_eval.RelevanceEvaluator(pytrec_qrels, measures).evaluate({q: r for q, r in run.items() if r})
    per_query = {}
    for q in qrels:
        got = evaluated.get(q, {})
        per_query[q] = {nice: float(got.get(raw, 0.0)) for raw, nice in names.items()}
    mean = {nice: sum(p[nice] for p in per_query.values()) / len(per_query) for nice in names.values()}
    return RetrievalScores(per_query, mean, len(per_query))


def _docid(ref: str) -> str:
    # TREC files are whitespace-separated; references keep their readable form with spaces as underscores.
    return re.sub(r"\s", "_", ref)


def write_trec_run(path: Path, rankings: Mapping[str, Sequence[str]], qrels: Mapping[str, Collection[str]],
                   tag: str = "regcite") -> None:
    """The run as trec_eval reads it, with hits already rewritten to the gold they cover."""
    lines = []
    for q, ranked in rankings.items():
        gold = qrels.get(q, ())
        ranked = match_ranking(ranked, gold)
        lines += [f"{q} Q0 {_docid(d)} {i + 1} {len(ranked) - i} {tag}" for i, d in enumerate(ranked)]
    Path(path).write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def write_trec_qrels(path: Path, qrels: Mapping[str, Collection[str]]) -> None:
    lines = []
    for q, gold in qrels.items():
        lines += [f"{q} 0 {_docid(normalize_reference(g))} 1" for g in gold]
    Path(path).write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def citation_scores(cited: Sequence[str], gold: Collection[str]) -> tuple[float | None, float]:
    """(precision, recall) of the clauses an answer cites; precision is None when it cites nothing."""
    cited = list(dict.fromkeys(cited))
    if not gold:
        raise ValueError("citation scores need gold references")
    precision = None if not cited else sum(any(covers(g, c) for g in gold) for c in cited) / len(cited)
    recall = sum(any(covers(g, c) for c in cited) for g in gold) / len(gold)
    return precision, recall


def supported_share(verdicts: Sequence[str]) -> float | None:
    """Share of an answer's sentences verified as supported; None for an answer with no sentences."""
    if not verdicts:
        return None
    return sum(v == "supported" for v in verdicts) / len(verdicts)


@dataclass(frozen=True)
class AbstentionScores:
    accuracy: float  # share of questions where abstaining matched being unanswerable
    unanswerable_abstained: float | None  # recall of abstention on unanswerable questions
    answerable_abstained: float | None  # false abstentions on answerable questions
    questions: int


def abstention_scores(pairs: Sequence[tuple[bool, bool]]) -> AbstentionScores:
    """pairs: (answerable, abstained) per question."""
    if not pairs:
        raise ValueError("abstention accuracy needs at least one question")
    unanswerable = [abst for ans, abst in pairs if not ans]
    answerable = [abst for ans, abst in pairs if ans]
    return AbstentionScores(
        accuracy=sum(ans != abst for ans, abst in pairs) / len(pairs),
        unanswerable_abstained=sum(unanswerable) / len(unanswerable) if unanswerable else None,
        answerable_abstained=sum(answerable) / len(answerable) if answerable else None,
        questions=len(pairs),
    )


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)  # 1,000 == 1000
    return re.sub(r"\s+", " ", text)


def key_fact_share(answer: str, facts: Sequence[str]) -> float | None:
    """Share of key facts found in the answer text (NFKC, case and spacing folded); None without facts."""
    if not facts:
        return None
    text = _fold(answer)
    return sum(_fold(f).strip() in text for f in facts) / len(facts)


def percentiles(values: Sequence[float], qs: Sequence[int] = (50, 90, 95, 99)) -> dict[str, float]:
    """Linear-interpolated percentiles (numpy's default) plus mean and max; empty input gives {}."""
    data = sorted(float(v) for v in values)
    if not data:
        return {}
    out = {}
    for q in qs:
        pos = (len(data) - 1) * q / 100
        lo, hi = math.floor(pos), math.ceil(pos)
        out[f"p{q}"] = data[lo] + (data[hi] - data[lo]) * (pos - lo)
    out["mean"] = sum(data) / len(data)
    out["max"] = data[-1]
    return out


def mean_and_spread(values: Sequence[float]) -> dict[str, float]:
    """Across repeats: mean, sample standard deviation (0 for one value), min and max."""
    data = [float(v) for v in values]
    if not data:
        return {}
    mean = sum(data) / len(data)
    std = math.sqrt(sum((v - mean) ** 2 for v in data) / (len(data) - 1)) if len(data) > 1 else 0.0
    return {"mean": mean, "std": std, "min": min(data), "max": max(data), "n": len(data)}
