"""`regcite eval run`: every question through the ask path, resumable, repeated with seeds, scored into a run folder."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import random
import sys
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Callable

from rag.access import Access
from rag.config import RECORD_SETTINGS, Settings, settings_record
from rag.errors import RegciteError
from rag.serialize import answer_to_dict
from rag.types import Answer

from evals import metrics
from evals.questions import EvalQuestion, QuestionSetError, set_fingerprint

log = logging.getLogger(__name__)

RESULTS, SUMMARY, MANIFEST = "results.jsonl", "summary.json", "run.json"
KS = metrics.DEFAULT_KS


@dataclass(frozen=True)
class AnswerPath:
    """What answers a question in a run: the same objects `regcite ask` builds, built once."""

    answer: Callable[[EvalQuestion], Answer]
    generation: int  # index generation answered from; 0 where there is no index (tests)


def build_answer_path(settings: Settings, embedder=None, access: Access | None = None) -> AnswerPath:
    """The pipeline `regcite ask` answers through, opened once for the whole run; a question is answered as of its
    as_of (run_set dates every question; an undated one is answered as of today, as `regcite ask` does), from the
    collections `access` reads (rag.access; None: every collection, as for an admin)."""
    from rag.pipeline import open_pipeline

    pipeline = open_pipeline(settings, embedder=embedder)
    narrow = access.filters if access is not None else (lambda f: f)
    return AnswerPath(answer=lambda q: pipeline.answer(q.question, narrow(q.filters_on(date.today()))),
                      generation=pipeline.index.generation)


def _reach(access: Access | None) -> list[str] | None:
    """The collections a run reads, for its manifest: None for every collection."""
    return None if access is None or access.collections is None else sorted(access.collections)


def _settings_sha(settings: Settings) -> str:
    # data_dir is where, not how: a copied index must not block a resume; nor do the records' settings change an answer
    d = {k: v for k, v in settings_record(settings).items() if k != "data_dir" and k not in RECORD_SETTINGS}
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def seed_everything(seed: int) -> None:
    """Seed every RNG sampling may use; torch only if a backend already imported it."""
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % 2**32)
    except ImportError:
        pass
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


def answer_row(q: EvalQuestion, answer: Answer, repeat: int, seed: int, latency_ms: float, generation: int,
               settings_sha: str, error: str = "") -> dict:
    """One results.jsonl line: the answer as `ask --json` writes it, and what rescoring it needs besides."""
    record = answer_to_dict(answer)
    # A reasoning trace can be longer than the answer; the rows keep its length, not its text.
    reasoning = record.pop("reasoning")
    return {
        **record, "qid": q.qid, "repeat": repeat, "seed": seed, "question": q.question, "answerable": q.answerable,
        "gold": list(q.gold), "key_facts": list(q.key_facts), "reasoning_chars": len(reasoning),
        "latency_ms": round(latency_ms, 2), "generation": generation, "settings_sha": settings_sha, "error": error,
        # the date asked for, also where nothing was answered (the answer's own as_of is None then)
        "as_of": q.as_of.isoformat() if q.as_of else record["as_of"],
    }


def error_row(q: EvalQuestion, error: str, repeat: int, seed: int, latency_ms: float, generation: int,
              settings_sha: str) -> dict:
    """The row of a question that failed: the shape of an answer row, with nothing answered."""
    nothing = Answer(q.question, "", (), (), False, "", "")
    return answer_row(q, nothing, repeat, seed, latency_ms, generation, settings_sha, error)


def read_results(path: Path, repair: bool = False) -> list[dict]:
    """Rows of results.jsonl; a torn last line (the run was killed mid-write) is dropped, and cut off if repair."""
    if not path.exists():
        return []
    data = path.read_bytes()
    rows, good = [], 0
    for line in data.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            break
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break
        good += len(line)
    if good < len(data):
        log.warning("%s: dropping a torn line at byte %d (the run was interrupted)", path, good)
        if repair:
            with path.open("r+b") as f:
                f.truncate(good)
    return rows


def _previous_manifest(out: Path) -> dict:
    path = out / MANIFEST
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _check_manifest(out: Path, old: dict, manifest: dict) -> None:
    if not old:
        return
    # A folder written before runs were dated has no as_of: it answered from every version, so it is another run.
    for key, what in (("set_fingerprint", "question set"), ("settings_sha", "settings"), ("as_of", "as-of date"),
                      ("collections", "reader (collections read)")):
        if old.get(key) != manifest[key]:
            raise QuestionSetError(
                f"{out} holds a run with another {what} ({old.get(key)} != {manifest[key]}); "
                f"use a new --out folder, or delete {out} to start over"
            )


def run_set(questions: list[EvalQuestion], settings: Settings, out: Path, repeats: int = 1, seed: int = 0,
            answer_path: AnswerPath | None = None, set_path: str = "", progress: bool = True,
            as_of: date | None = None, access: Access | None = None) -> dict:
    """Answer every (repeat, question) not yet in out/results.jsonl, then score and write the reports.

    Questions without a date of their own are answered as of `as_of`: by default the date of the run being
    resumed, else today, so a run resumed the next day still answers for the day it started on. Each row is
    appended and fsynced as soon as it is answered, so a killed run loses at most the question it was on;
    running again with the same folder answers only what is missing. `access` is whose collections it answers
    from (rag.access.access_for; None: every collection); a run is resumed only by a reader of the same ones.
    """
    from tqdm import tqdm

    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sha = _settings_sha(settings)
    previous = _previous_manifest(out)
    day = as_of or (date.fromisoformat(previous["as_of"]) if previous.get("as_of") else date.today())
    manifest = {"set": set_path, "set_fingerprint": set_fingerprint(questions), "settings_sha": sha,
                "settings": settings_record(settings), "repeats": repeats, "seed": seed, "as_of": day.isoformat(),
                "dated_questions": sum(q.as_of is not None for q in questions), "collections": _reach(access)}
    _check_manifest(out, previous, manifest)
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")

    done = {(r["repeat"], r["qid"]) for r in read_results(out / RESULTS, repair=True)}
    dated = [q if q.as_of else dataclasses.replace(q, as_of=day) for q in questions]
    pending = [(r, q) for r in range(repeats) for q in dated if (r, q.qid) not in done]
    if pending:
        answer_path = answer_path or build_answer_path(settings, access=access)
        started = time.perf_counter()
        with (out / RESULTS).open("a", encoding="utf-8") as f, tqdm(
            total=repeats * len(questions), initial=repeats * len(questions) - len(pending), desc="questions",
            unit="q", disable=not progress,
        ) as bar:
            for repeat, q in pending:
                seed_everything(seed + repeat)
                t0 = time.perf_counter()
                try:
                    answer = answer_path.answer(q)
                    row = answer_row(q, answer, repeat, seed + repeat, (time.perf_counter() - t0) * 1000,
                                     answer_path.generation, sha)
                except RegciteError as e:  # a data or backend failure is a result; a bug is not
                    log.warning("question %s failed: %s", q.qid, e)
                    row = error_row(q, str(e), repeat, seed + repeat, (time.perf_counter() - t0) * 1000,
                                    answer_path.generation, sha)
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
                f.flush()
                os.fsync(f.fileno())
                bar.update(1)
        log.info("answered %d question(s) in %.1f s", len(pending), time.perf_counter() - started)

    rows = read_results(out / RESULTS)
    summary = summarize(rows, questions, repeats, manifest)
    write_run_folder(out, summary, rows)
    return summary


def _ranking(row: dict) -> list[str]:
    gold = set(row["gold"])
    # Gold may name clause ids (external sets) or references (ours): rank by whichever the gold speaks.
    return [h["clause_id"] if h["clause_id"] in gold else h["reference"] for h in row["hits"]]


def _cited(row: dict) -> list[str]:
    gold = set(row["gold"])
    return [c["clause_id"] if c["clause_id"] in gold else c["reference"]
            for s in row["sentences"] for c in s["citations"]]


def score_repeat(rows: list[dict]) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Aggregate metrics and per-question scores for the rows of one repeat."""
    per_q: dict[str, dict[str, float]] = {r["qid"]: {} for r in rows}
    agg: dict[str, float] = {}
    answerable = [r for r in rows if r["answerable"]]
    if answerable:
        ir = metrics.retrieval_scores({r["qid"]: _ranking(r) for r in answerable},
                                      {r["qid"]: r["gold"] for r in answerable}, ks=KS)
        agg.update(ir.mean)
        for q, s in ir.per_query.items():
            per_q[q].update(s)
        hits = {r["qid"]: float(any(metrics.covers(g, x) for g in r["gold"] for x in _ranking(r))) for r in answerable}
        agg["clause_hit_rate"] = sum(hits.values()) / len(hits)
        precisions, recalls = [], []
        for r in answerable:
            p, rec = metrics.citation_scores(_cited(r), r["gold"])
            per_q[r["qid"]]["citation_recall"] = rec
            recalls.append(rec)
            if p is not None:
                per_q[r["qid"]]["citation_precision"] = p
                precisions.append(p)
            per_q[r["qid"]]["clause_hit"] = hits[r["qid"]]
        agg["citation_recall"] = sum(recalls) / len(recalls)
        if precisions:
            agg["citation_precision"] = sum(precisions) / len(precisions)
        facts = [(r, metrics.key_fact_share(r["text"], r["key_facts"])) for r in answerable]
        facts = [(r, s) for r, s in facts if s is not None]
        for r, s in facts:
            per_q[r["qid"]]["key_facts"] = s
        if facts:
            agg["key_fact_accuracy"] = sum(s for _, s in facts) / len(facts)
            agg["key_facts_all_present"] = sum(s == 1.0 for _, s in facts) / len(facts)
    verdicts = [s["verdict"] for r in rows if not r["abstained"] for s in r["sentences"]]
    if verdicts:
        agg["supported_sentence_share"] = metrics.supported_share(verdicts)
    for r in rows:
        share = metrics.supported_share([s["verdict"] for s in r["sentences"]])
        if share is not None and not r["abstained"]:
            per_q[r["qid"]]["supported_share"] = share
        per_q[r["qid"]]["abstention_correct"] = float(r["answerable"] != r["abstained"] and not r["error"])
        per_q[r["qid"]]["latency_ms"] = r["latency_ms"]
    ok = [r for r in rows if not r["error"]]
    if ok:
        ab = metrics.abstention_scores([(r["answerable"], r["abstained"]) for r in ok])
        agg["abstention_accuracy"] = ab.accuracy
        if ab.unanswerable_abstained is not None:
            agg["unanswerable_abstained"] = ab.unanswerable_abstained
        if ab.answerable_abstained is not None:
            agg["answerable_abstained"] = ab.answerable_abstained
    agg["errors"] = float(len(rows) - len(ok))
    return agg, per_q


def summarize(rows: list[dict], questions: list[EvalQuestion], repeats: int, manifest: dict) -> dict:
    wanted = {q.qid for q in questions}
    by_repeat = {r: [x for x in rows if x["repeat"] == r and x["qid"] in wanted] for r in range(repeats)}
    per_repeat, per_question_runs = [], []
    for r in range(repeats):
        if by_repeat[r]:
            agg, per_q = score_repeat(by_repeat[r])
            per_repeat.append(agg)
            per_question_runs.append(per_q)
    names = sorted({k for a in per_repeat for k in a})
    metric_summary = {n: metrics.mean_and_spread([a[n] for a in per_repeat if n in a]) for n in names}
    per_question: dict[str, dict[str, float]] = {}
    for q in questions:
        scores = [p[q.qid] for p in per_question_runs if q.qid in p]
        keys = sorted({k for s in scores for k in s})
        per_question[q.qid] = {k: sum(s[k] for s in scores if k in s) / sum(k in s for s in scores) for k in keys}
    ok = [x for x in rows if x["qid"] in wanted and not x["error"]]
    stages = sorted({k for x in ok for k in x["timings_ms"]})
    first = ok[0] if ok else {}
    return {
        "set": manifest.get("set", ""), "set_fingerprint": manifest["set_fingerprint"],
        "questions": len(questions), "answerable": sum(q.answerable for q in questions), "repeats": repeats,
        "seeds": [manifest["seed"] + r for r in range(repeats)], "rows": sum(len(v) for v in by_repeat.values()),
        "complete": all(len(v) == len(questions) for v in by_repeat.values()),
        "backend": first.get("backend", ""), "model": first.get("model", ""),
        "generation": first.get("generation", 0), "settings": manifest["settings"],
        "as_of": manifest.get("as_of"), "dated_questions": manifest.get("dated_questions", 0),
        "metrics": metric_summary, "per_repeat": per_repeat,
        "latency_ms": metrics.percentiles([x["latency_ms"] for x in ok]),
        "stage_latency_ms": {s: metrics.percentiles([x["timings_ms"][s] for x in ok if s in x["timings_ms"]])
                             for s in stages},
        "per_question": per_question,
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def write_run_folder(out: Path, summary: dict, rows: list[dict]) -> None:
    from evals.report import write_html, write_markdown

    (out / SUMMARY).write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    first = [r for r in rows if r["repeat"] == 0]
    rankings = {r["qid"]: _ranking(r) for r in first}
    qrels = {r["qid"]: r["gold"] for r in first if r["answerable"]}
    metrics.write_trec_run(out / "run.trec", {q: rankings[q] for q in qrels}, qrels, tag="regcite")
    metrics.write_trec_qrels(out / "qrels.trec", qrels)
    write_markdown(out / "report.md", summary, rows)
    write_html(out / "report.html", summary, rows)


def load_run(folder: str | Path) -> tuple[dict, list[dict]]:
    folder = Path(folder)
    if not (folder / SUMMARY).exists():
        raise QuestionSetError(f"{folder} is not a finished run folder (no {SUMMARY}); run `regcite eval run` into it")
    return json.loads((folder / SUMMARY).read_text(encoding="utf-8")), read_results(folder / RESULTS)

