"""Retrieval latency (no reranker) at the shared-corpus size and at 100,000 clauses, beside LlamaIndex's default
VectorStoreIndex retriever over the same embeddings.

regcite: the real Retriever (named clauses, FAISS dense, bm25s BM25, fusion as settings default) over a real
rag.store.Index.
At 100k the Index is built in memory from the shared corpus: its clauses replicated with their texts, each copy's
embeddings moved by small Gaussian noise and re-normalised, each copy a document version of its own.
LlamaIndex: VectorStoreIndex over TextNodes carrying those same embeddings, default SimpleVectorStore,
as_retriever(similarity_top_k=8); its query embedding comes from the same model through HuggingFaceEmbedding.
Each system is timed with the query embedding included (question text in) and excluded (vector in).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
QUESTIONS = ROOT / "evals" / "sets" / "shared_corpus.jsonl"
RESULTS = ROOT / "benchmarks" / "results" / "query.json"

from rag.text import has_han  # noqa: E402  (after the path insert, so a checkout runs without installing)
TARGET_P95_MS = 100.0
VERSIONS_TARGET = 1.2  # p95 over three versions of everything, as of today, within this of one version's
AS_OF_TODAY = "regcite Retriever, as of today"


def questions(limit: int) -> list[str]:
    """The shared-corpus eval questions, a reworded copy of each, and questions naming their gold clauses."""
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    base = [r["question"] for r in rows]
    reworded = [("请问：" + q) if has_han(q) else
                "According to the regulations, " + q[0].lower() + q[1:] for q in base]
    named = [f"What does {g} say?" if not has_han(g) else f"{g}规定了什么？"
             for r in rows for g in r.get("gold", [])[:1]]
    out = list(dict.fromkeys(base + reworded + named))
    return out[:limit]


def summary(ms: list[float]) -> dict:
    ordered = sorted(ms)
    def pct(p: float) -> float:  # nearest rank
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]
    return {"n": len(ms), "p50_ms": round(pct(50), 2), "p95_ms": round(pct(95), 2),
            "mean_ms": round(statistics.fmean(ms), 2), "max_ms": round(ordered[-1], 2)}


def timed(fn, items, warmup: int = 3) -> list[float]:
    for item in items[:warmup]:
        fn(item)
    out = []
    for item in items:
        t = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - t) * 1000)
    return out


class CachedEmbedder:
    """The real embedder's query vectors, computed beforehand: retrieval timed without query embedding."""

    def __init__(self, embedder, texts: list[str]):
        self.name, self.dim = embedder.name, embedder.dim
        self._vectors = dict(zip(texts, embedder.embed_documents(texts)))

    def embed_query(self, text: str) -> np.ndarray:
        return self._vectors[text]


def scale_up(index, size: int, noise: float, seed: int = 0, versions: int = 1):
    """An in-memory rag.store.Index of `size` clauses: copies of index's clauses, embeddings jittered per copy.

    With versions > 1, every `versions` consecutive copies are versions of one instrument, effective 2000-01-01,
    2001-01-01, …: only the newest of each is in force today, so (versions - 1) / versions of the clauses are
    superseded and an as-of-today filter must skip them."""
    from datetime import date

    from rag.store import Index
    from rag.versions import place_versions

    rng = np.random.default_rng(seed)
    base = index.vectors()
    copies = math.ceil(size / len(index.clauses))
    documents, clauses, blocks = {}, [], []
    for r in range(copies):
        suffix = f"~{r}" if r else ""
        group, nth = divmod(r, versions)
        for v in index.documents.values():
            # Copies are other documents (or versions): new version ids, and names no question uses.
            documents[v.version_id + suffix] = replace(
                v, version_id=v.version_id + suffix, doc_id=v.doc_id + (f" (copy {group})" if group else ""),
                title=v.title + (f" (copy {group})" if group else ""), sha256=f"{v.sha256[:60]}{r:04x}",
                effective_from=date(2000 + nth, 1, 1) if versions > 1 else v.effective_from)
        take = min(len(index.clauses), size - len(clauses))
        clauses += [replace(c, clause_id=c.clause_id + suffix, version_id=c.version_id + suffix)
                    for c in index.clauses[:take]]
        block = base[:take] if r == 0 else base[:take] + rng.normal(0, noise, (take, base.shape[1])).astype(np.float32)
        blocks.append(block / np.linalg.norm(block, axis=1, keepdims=True))
    matrix = np.ascontiguousarray(np.vstack(blocks), dtype=np.float32)
    documents = place_versions(documents.values(), date.today())
    return Index.in_memory(index.index_dir, index.generation, index.model_name, index.dim, documents, clauses,
                           matrix), matrix


def llamaindex_retriever(index, matrix: np.ndarray, model_dir: Path, embed_model=None):
    """LlamaIndex's default path: VectorStoreIndex (SimpleVectorStore) over TextNodes with precomputed embeddings."""
    from llama_index.core import VectorStoreIndex
    from llama_index.core.schema import TextNode

    if embed_model is None:
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding

        embed_model = HuggingFaceEmbedding(model_name=str(model_dir), device="cpu")
    started = time.perf_counter()
    nodes = [TextNode(id_=c.clause_id, text=c.text, embedding=row.tolist(),
                      metadata={"reference": c.reference, "version_id": c.version_id})
             for c, row in zip(index.clauses, matrix)]
    vector_index = VectorStoreIndex(nodes, embed_model=embed_model, show_progress=False)
    build_s = time.perf_counter() - started
    return vector_index.as_retriever(similarity_top_k=8), embed_model, build_s


def set_threads(n: int) -> None:
    """Threads for torch (query embedding) and FAISS's OpenMP (search); both are process-wide."""
    import faiss
    import torch

    torch.set_num_threads(n)
    faiss.omp_set_num_threads(n)


def _show(row: dict) -> None:
    print(f"  {row['system']:56} threads {row['threads']} embedding {row['query_embedding']:8} "
          f"p50 {row['p50_ms']:8.1f} p95 {row['p95_ms']:8.1f}", flush=True)


def measure(label: str, index, matrix: np.ndarray, embedder, settings, texts: list[str], li_queries: int,
            model_dir: Path, embed_model, with_llamaindex: bool, threads: list[int]) -> tuple[dict, object]:
    from rag.pipeline import open_pipeline
    from rag.types import Filters

    print(f"\n[{label}] {len(index.clauses):,} clauses, {len(index.documents)} document versions", flush=True)
    cached = CachedEmbedder(embedder, texts)
    pipeline = open_pipeline(settings, index=index, embedder=embedder)
    live, offline = pipeline.retriever, pipeline.with_embedder(cached).retriever
    t = time.perf_counter()
    offline.retrieve(texts[0])  # builds the BM25 index and the reference map once per snapshot
    build_s = time.perf_counter() - t
    print(f"  BM25 + reference map built in {build_s:.1f} s", flush=True)
    result = {"name": label, "clauses": len(index.clauses), "document_versions": len(index.documents),
              "regcite_first_query_build_s": round(build_s, 2), "rows": []}
    retriever = vectors = None
    if with_llamaindex:
        from llama_index.core.schema import QueryBundle

        retriever, embed_model, li_build = llamaindex_retriever(index, matrix, model_dir, embed_model)
        result["llamaindex_build_s"] = round(li_build, 2)
        print(f"  LlamaIndex VectorStoreIndex built in {li_build:.1f} s", flush=True)
        subset = texts[:li_queries]
        vectors = {q: cached.embed_query(q).tolist() for q in subset}
        # Same embeddings on both sides: LlamaIndex's top 8 should be FAISS's top 8 for the same query vector.
        agree = []
        for q in subset[:5]:
            theirs_ids = [n.node.node_id for n in retriever.retrieve(QueryBundle(q, embedding=vectors[q]))]
            ours_ids = [index.clauses[p].clause_id for p, _ in index.search(cached.embed_query(q), 8)[0]]
            agree.append(len(set(theirs_ids) & set(ours_ids)) / 8)
        result["dense_top8_agreement_with_llamaindex"] = round(statistics.fmean(agree), 3)
        print(f"  dense top-8 agreement with LlamaIndex on the same vectors: {statistics.fmean(agree):.3f}", flush=True)
    us = Filters(jurisdictions=("US",))
    today = Filters(as_of=date.today())  # what every entry point searches by default
    fusion = "RRF" if settings.fusion == "rrf" else f"weighted {settings.dense_weight:g}"
    ours = f"regcite Retriever (dense + BM25, {fusion})"
    theirs = "LlamaIndex VectorStoreIndex (SimpleVectorStore, top 8)"
    for n in threads:
        set_threads(n)
        runs = [(ours, "included", live.retrieve, texts, 3),
                (ours, "excluded", offline.retrieve, texts, 3),
                ("regcite Retriever, filter jurisdiction=US", "excluded", lambda q: offline.retrieve(q, us), texts, 3),
                (AS_OF_TODAY, "excluded", lambda q: offline.retrieve(q, today), texts, 3)]
        if retriever is not None:
            runs += [(theirs, "included", retriever.retrieve, subset, 1),
                     (theirs, "excluded", lambda q: retriever.retrieve(QueryBundle(q, embedding=vectors[q])), subset, 1)]
        for system, embedding, fn, items, warmup in runs:
            row = {"system": system, "threads": n, "query_embedding": embedding, **summary(timed(fn, items, warmup))}
            _show(row)
            result["rows"].append(row)
    return result, embed_model


def _versions_target(single: dict, versioned: dict, threads: list[int]) -> dict:
    """As-of-today p95 (query vector in) with every document in several versions against one version, per threads."""
    def p95(scale: dict, n: int) -> float:
        return next(r["p95_ms"] for r in scale["rows"] if r["system"] == AS_OF_TODAY and r["threads"] == n)

    out = {}
    for n in threads:
        one, many = p95(single, n), p95(versioned, n)
        out[str(n)] = {"one_version_p95_ms": one, "versions_p95_ms": many, "ratio": round(many / one, 3),
                       "met": many <= VERSIONS_TARGET * one}
    return out


def table(scales: list[dict]) -> str:
    lines = ["| clauses | system | threads | query embedding | n | p50 ms | p95 ms | mean ms |",
             "| ---: | --- | ---: | --- | ---: | ---: | ---: | ---: |"]
    for s in scales:
        for r in s["rows"]:
            lines.append(f"| {s['clauses']:,} | {r['system']} | {r['threads']} | {r['query_embedding']} | {r['n']} | "
                         f"{r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['mean_ms']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("REGCITE_BENCH_DATA_DIR", "/tmp/rc-shared")),
                        help="an index of the shared corpus (regcite ingest ../shared/corpus)")
    parser.add_argument("--size", type=int, default=100_000, help="clauses in the scaled-up index (0: skip)")
    parser.add_argument("--noise", type=float, default=0.01, help="per-dimension sd of the copies' embedding jitter")
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--llamaindex-queries", type=int, default=30,
                        help="questions timed for LlamaIndex at the scaled-up size (its store scans in Python)")
    parser.add_argument("--no-llamaindex", action="store_true")
    parser.add_argument("--threads", default="",
                        help="comma-separated thread counts for torch and FAISS to time under (default: the "
                             "process default, then 1)")
    parser.add_argument("--versions", type=int, default=3,
                        help="also time the scaled-up index with this many versions of every document, only the "
                             "newest in force (0 or 1: skip)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    from rag.config import load_settings
    from rag.embed import load_embedder, packaged_model_dir
    from rag.errors import IndexMissing
    from rag.store import open_index

    settings = load_settings(env={}, overrides={"data_dir": args.data_dir, "reranker": ""})
    try:
        index = open_index(settings)
    except IndexMissing as e:
        print(f"skipped: no shared-corpus index at {args.data_dir} ({e}). Build one with\n"
              f"  REGCITE_DATA_DIR={args.data_dir} regcite ingest ../shared/corpus", file=sys.stderr)
        return 0
    embedder = load_embedder(settings)
    index.check_model(embedder.name)
    texts = questions(args.questions)
    # Import and warm the heavy stack before timing, so no row pays for an import or a first model load.
    embedder.embed_query("warm up")
    if not args.no_llamaindex:
        import llama_index.core  # noqa: F401
    import torch

    default_threads = torch.get_num_threads()
    threads = [int(t) for t in args.threads.split(",")] if args.threads else list(dict.fromkeys([default_threads, 1]))

    load_before = os.getloadavg()
    started = time.perf_counter()
    scales = []
    matrix = np.vstack([index.vector(i) for i in range(len(index.clauses))])
    result, embed_model = measure("shared corpus", index, matrix, embedder, settings, texts, len(texts),
                                  packaged_model_dir(), None, not args.no_llamaindex, threads)
    result["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
    scales.append(result)
    if args.size:
        t = time.perf_counter()
        big, matrix = scale_up(index, args.size, args.noise)
        print(f"\nscaled up to {len(big.clauses):,} clauses in {time.perf_counter() - t:.1f} s", flush=True)
        result, _ = measure(f"synthetic {len(big.clauses):,}", big, matrix, embedder, settings, texts,
                            args.llamaindex_queries, packaged_model_dir(), embed_model, not args.no_llamaindex,
                            threads)
        result["noise_sd"] = args.noise
        result["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
        scales.append(result)
        del big, matrix
    versioned = None
    if args.size and args.versions > 1:
        t = time.perf_counter()
        big, matrix = scale_up(index, args.size, args.noise, versions=args.versions)
        superseded = sum(not d.answers_on(date.today()) for d in big.documents.values()) / len(big.documents)
        print(f"\nscaled up to {len(big.clauses):,} clauses in {args.versions} versions of each document "
              f"({superseded:.0%} of versions superseded) in {time.perf_counter() - t:.1f} s", flush=True)
        result, _ = measure(f"synthetic {len(big.clauses):,}, {args.versions} versions each", big, matrix, embedder,
                            settings, texts, 0, packaged_model_dir(), embed_model, False, threads)
        result["versions"], result["superseded_share"] = args.versions, round(superseded, 3)
        scales.append(result)
        versioned = _versions_target(scales[-2], result, threads)
    load_after = os.getloadavg()

    single = next(s for s in reversed(scales) if "versions" not in s)  # the latency target is one version's
    target = {"p95_ms": TARGET_P95_MS, "at_clauses": single["clauses"], "by_threads": {}}
    for n in threads:
        rows = {r["query_embedding"]: r["p95_ms"] for r in single["rows"]
                if r["system"].startswith("regcite Retriever (") and r["threads"] == n}
        target["by_threads"][str(n)] = {"p95_ms_with_query_embedding": rows["included"],
                                        "p95_ms_without_query_embedding": rows["excluded"],
                                        "met_with_query_embedding": rows["included"] < TARGET_P95_MS,
                                        "met_without_query_embedding": rows["excluded"] < TARGET_P95_MS}
    if versioned:
        target["versions"] = versioned
    import bm25s
    import faiss

    report = {
        "what": f"retrieval latency per question, no reranker; regcite returns top_k={settings.top_k} after fusing "
                f"{settings.candidates}+{settings.candidates} candidates",
        "settings": {"fusion": settings.fusion, "candidates": settings.candidates, "top_k": settings.top_k,
                     "dense_weight": settings.dense_weight, "rrf_k": settings.rrf_k, "reranker": settings.reranker or None, "embed_model": embedder.name},
        "questions": len(texts), "question_source": str(QUESTIONS.relative_to(ROOT)) + " (+ reworded + named-clause)",
        "machine": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
        "default_threads": default_threads,
        "versions": {"faiss": faiss.__version__, "bm25s": bm25s.__version__,
                     "llama_index_core": __import__("llama_index.core").core.__version__},
        "load_avg_before": [round(x, 2) for x in load_before], "load_avg_after": [round(x, 2) for x in load_after],
        "seconds": round(time.perf_counter() - started, 1),
        "scales": scales, "target": target,
    }
    print("\n" + table(scales))
    for n, t in target["by_threads"].items():
        print(f"target p95 < {TARGET_P95_MS:.0f} ms at {target['at_clauses']:,} clauses, {n} thread(s): "
              f"with query embedding {'met' if t['met_with_query_embedding'] else 'MISSED'} "
              f"({t['p95_ms_with_query_embedding']:.1f} ms), without "
              f"{'met' if t['met_without_query_embedding'] else 'MISSED'} ({t['p95_ms_without_query_embedding']:.1f} ms)")
    for n, v in (versioned or {}).items():
        print(f"versions: p95 as of today, {n} thread(s): {v['one_version_p95_ms']:.1f} ms with one version of "
              f"everything, {v['versions_p95_ms']:.1f} ms with {args.versions} ({v['ratio']:.2f}x; target "
              f"<= {VERSIONS_TARGET}x: {'met' if v['met'] else 'MISSED'})")
    print(f"load average before {report['load_avg_before']}, after {report['load_avg_after']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
