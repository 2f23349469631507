"""Past one machine (issue 17): the shared corpus grown synthetically to 1M clauses, FAISS and Milvus Lite side by side.

Base material: the shared regulations ingested once with the packaged embedder (`regcite ingest
../shared/corpus/regulations` into --data-dir, skipped when an index is there). Growth: copy r of the corpus is a
new version of every document (new version ids, effective a year later each), its vectors the originals plus
Gaussian noise (sigma 0.02) re-normalised, its texts with ~5% of words dropped and numbers shifted. Nothing is
re-embedded: the figures are the stores', embedding cost is in benchmarks/ingest.py.

Each engine runs in a worker process of its own (so resident memory is its own): FAISS through
rag.stores.faiss_store.FaissStore in the worker; Milvus through rag.stores.milvus_store.MilvusStore against a
`milvus-lite server` subprocess (the replicas setup), whose memory is reported too. Per size: ingest rate through
store.stage (chunks of whole versions; terms for the added clauses timed apart, the writer computes them for either
engine), then p50/p95 of dense k=100 (query vectors: clause vectors with noise) and lexical k=100 (~50 eval questions)
under three scopes: every version, as of today (the newest version of each instrument) and a jurisdiction-like
subset of that (the non-US instruments).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results" / "scale.json"
QUESTIONS = ROOT / "evals" / "sets" / "shared_corpus.jsonl"
SIZES = (100_000, 250_000, 500_000, 1_000_000)
QUICK = (5_000, 10_000, 20_000)
NOISE = 0.02
K = 100


def rss_mb(pid: int | str = "self") -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MB: now and its peak."""
    found = dict(re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M))
    return round(int(found.get("VmRSS", 0)) / 1024, 1), round(int(found.get("VmHWM", 0)) / 1024, 1)


def disk_mb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20, 1)


def pct(ms: list[float], p: float) -> float:
    ordered = sorted(ms)
    return round(ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)], 2)


# -- base material ----------------------------------------------------------------------------------------------
def base_material(data_dir: Path, out: Path) -> None:
    """The shared regulations' clauses (BM25 text, version, instrument, jurisdiction) and embeddings, saved once."""
    from rag.config import load_settings
    from rag.errors import IndexMissing
    from rag.lexical import lexical_text
    from rag.store import open_index

    settings = load_settings(env={}, overrides={"data_dir": data_dir, "reranker": ""})
    try:
        index = open_index(settings)
    except IndexMissing:
        print(f"ingesting ../shared/corpus/regulations into {data_dir} (once)", file=sys.stderr)
        env = {**os.environ, "REGCITE_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        subprocess.run([str(Path(sys.executable).with_name("regcite")), "ingest",
                        str(ROOT.parent / "shared" / "corpus" / "regulations")], env=env, check=True)
        index = open_index(settings)
    documents = index.documents
    meta = [{"text": lexical_text(c), "version_id": c.version_id, "doc_id": documents[c.version_id].doc_id,
             "jurisdiction": str(getattr(documents[c.version_id], "jurisdiction", ""))} for c in index.clauses]
    vectors = np.vstack([index.vector(i) for i in range(len(index.clauses))]).astype(np.float32)
    out.mkdir(parents=True, exist_ok=True)
    (out / "clauses.json").write_text(json.dumps(meta), encoding="utf-8")
    np.save(out / "vectors.npy", vectors)


class Growth:
    """Copies of the base corpus, each a new version of every document, generated the same way on every call."""

    def __init__(self, base: Path):
        self.meta = json.loads((base / "clauses.json").read_text(encoding="utf-8"))
        self.vectors = np.load(base / "vectors.npy")
        self.n = len(self.meta)
        self.instruments = sorted({m["doc_id"] for m in self.meta})
        us = {m["doc_id"] for m in self.meta if "cfr" in m["doc_id"].lower() or m["jurisdiction"].lower() == "us"}
        self.subset = {d for d in self.instruments if d not in us}  # the EU and PRC instruments

    @staticmethod
    def version(version_id: str, copy: int) -> str:
        return f"{version_id}~{copy}" if copy else version_id

    def texts(self, copy: int) -> list[str]:
        if copy == 0:
            return [m["text"] for m in self.meta]
        rng = np.random.default_rng(copy)
        out = []
        for m in self.meta:
            words = m["text"].split(" ")
            keep = rng.random(len(words)) > 0.05
            out.append(" ".join(re.sub(r"\d+", lambda d: str(int(d.group()) + copy), w) if w[:1].isdigit() else w
                                for w, k in zip(words, keep) if k))
        return out

    def embeddings(self, copy: int) -> np.ndarray:
        if copy == 0:
            return self.vectors
        noise = np.random.default_rng(10_000 + copy).normal(0, NOISE, self.vectors.shape).astype(np.float32)
        noisy = self.vectors + noise
        return noisy / np.linalg.norm(noisy, axis=1, keepdims=True)


class Rows:
    """CatalogRows of copies 0..copies-1, regenerated when an engine asks (FAISS rebuilds BM25 from the texts)."""

    def __init__(self, growth: Growth, copies: int):
        self.growth, self.copies = growth, copies

    def lexical_texts(self) -> list[str]:
        return [t for c in range(self.copies) for t in self.growth.texts(c)]

    def embeddings(self) -> np.ndarray:
        return np.vstack([self.growth.embeddings(c) for c in range(self.copies)])


def questions(limit: int = 50) -> list[str]:
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    base = [r["question"] for r in rows]
    return list(dict.fromkeys(base + ["According to the regulations, " + q[0].lower() + q[1:] for q in base]))[:limit]


# -- one engine -------------------------------------------------------------------------------------------------
def start_lite_server(folder: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([str(Path(sys.executable).with_name("milvus-lite")), "server", "--data-dir", str(folder),
                             "--host", "127.0.0.1", "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=open(folder.parent / "milvus-lite.log", "wb"), preexec_fn=limit_memory)
    for _ in range(300):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, f"http://127.0.0.1:{port}"
        time.sleep(0.2)
    raise SystemExit("milvus-lite server did not start")


def limit_memory() -> None:
    """Cap a benchmark process's address space (REGCITE_SCALE_MAX_GB, default 18): on a shared machine a size that
    does not fit fails with MemoryError in its own process instead of waking the kernel's OOM killer."""
    import resource

    cap = int(float(os.environ.get("REGCITE_SCALE_MAX_GB", "18")) * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def worker(engine: str, base: Path, sizes: list[int], work: Path) -> list[dict]:
    growth = Growth(base)
    dim = growth.vectors.shape[1]
    server = None
    if engine == "faiss":
        from rag.stores.faiss_store import FaissStore

        store_dir = work / "faiss"
        store_dir.mkdir(parents=True)
        store = FaissStore(store_dir, dim, use_gpu=False)
    else:
        from rag.stores.milvus_store import MilvusStore

        store_dir = work / "milvus.db"
        server, uri = start_lite_server(store_dir)
        store = MilvusStore(uri, "scale", dim, timeout=60)
    try:
        return measure(engine, store, store_dir, growth, sizes, server, work)
    finally:
        if server is not None:  # also when a size did not fit: the server is this worker's to stop
            store.close()
            server.terminate()
            server.wait(timeout=60)


def measure(engine: str, store, store_dir: Path, growth: Growth, sizes: list[int], server, work: Path) -> list[dict]:
    """One row per size: stage the copies that reach it, then time searches under each scope."""
    from rag.lexical import terms
    from rag.stores.contract import Scope, StoredClause

    dim = growth.vectors.shape[1]
    store.recover([])
    qs = questions()
    rng = np.random.default_rng(1)
    picks = rng.choice(growth.n, 50, replace=False)
    qvec = growth.vectors[picks] + rng.normal(0, 0.05, (50, dim)).astype(np.float32)
    qvec /= np.linalg.norm(qvec, axis=1, keepdims=True)
    state, copies, out = None, 0, []
    for generation, size in enumerate(sizes, start=1):
        target = max(copies + 1, round(size / growth.n))  # whole copies: every version is staged whole
        t = time.perf_counter()
        # Terms interned: half a million clauses of ~150 terms each fit in memory as shared strings.
        added = [StoredClause(c * growth.n + i + 1, Growth.version(m["version_id"], c), emb,
                              tuple(map(sys.intern, terms(text))))
                 for c in range(copies, target)
                 for i, (m, text, emb) in enumerate(zip(growth.meta, growth.texts(c), growth.embeddings(c)))]
        t_terms = time.perf_counter() - t
        added_n = len(added)
        copies = target
        done = copies * growth.n
        keys = np.arange(1, done + 1, dtype=np.int64)
        version_of = np.array([Growth.version(m["version_id"], c) for c in range(copies) for m in growth.meta])
        all_versions = frozenset(version_of.tolist())
        t = time.perf_counter()
        state = store.stage(generation, state, added, [], keys, Rows(growth, copies))
        t_stage = time.perf_counter() - t
        t = time.perf_counter()
        store.collect(state, all_versions)
        t_collect = time.perf_counter() - t
        del added
        # As of today only the newest copy is in force: one version per instrument. The subset: of those, the
        # instruments outside the US (a jurisdiction filter).
        as_of = frozenset(Growth.version(m["version_id"], copies - 1) for m in growth.meta)
        subset = frozenset(Growth.version(m["version_id"], copies - 1) for m in growth.meta
                           if m["doc_id"] in growth.subset)
        t = time.perf_counter()
        reader = store.open(state, keys, all_versions, Rows(growth, copies))
        open_s = time.perf_counter() - t
        row = {"engine": engine, "clauses": done, "versions": len(all_versions), "added": added_n,
               "terms_s": round(t_terms, 1), "stage_s": round(t_stage, 1), "collect_s": round(t_collect, 1),
               "ingest_per_s": round(added_n / t_stage) if t_stage else None, "open_s": round(open_s, 2)}
        for name, ids in (("all", None), ("as_of", as_of), ("subset", subset)):
            scope = Scope(version_ids=ids, positions=None if ids is None else np.isin(version_of, list(ids)))
            for route in ("dense", "lexical"):
                call = ((lambda i: reader.dense(qvec[i % 50][None], K, scope)) if route == "dense"
                        else (lambda i: reader.lexical(qs[i % len(qs)], K, scope)))
                t = time.perf_counter()
                call(0)  # warm: FAISS maps its BM25 folder, Milvus Lite builds its segments' indexes
                row[f"{route}_{name}_first_ms"] = round((time.perf_counter() - t) * 1000, 1)
                ms = []
                for i in range(50):
                    t = time.perf_counter()
                    call(i)
                    ms.append((time.perf_counter() - t) * 1000)
                row[f"{route}_{name}_p50_ms"], row[f"{route}_{name}_p95_ms"] = pct(ms, 50), pct(ms, 95)
            row[f"versions_{name}"] = len(ids) if ids is not None else len(all_versions)
        row["rss_mb"], row["peak_rss_mb"] = rss_mb()
        if server is not None:
            row["server_rss_mb"], row["server_peak_rss_mb"] = rss_mb(server.pid)
        row["disk_mb"] = disk_mb(store_dir)
        print(json.dumps(row), flush=True)
        out.append(row)
        with open(work / "rows.jsonl", "a", encoding="utf-8") as f:  # kept if a later size runs out of memory
            f.write(json.dumps(row) + "\n")
    return out


def table(rows: list[dict]) -> str:
    head = ("| engine | clauses | versions | ingest clauses/s | dense p50/p95 ms (all · as-of · subset) | "
            "lexical p50/p95 ms (all · as-of · subset) | RSS MB (server) | disk MB |")
    lines = [head, "| --- | ---: | ---: | ---: | --- | --- | ---: | ---: |"]
    for r in rows:
        cell = lambda route: " · ".join(f"{r[f'{route}_{s}_p50_ms']:.0f}/{r[f'{route}_{s}_p95_ms']:.0f}"
                                        for s in ("all", "as_of", "subset"))
        rss = f"{r['peak_rss_mb']:.0f}" + (f" ({r['server_peak_rss_mb']:.0f})" if "server_peak_rss_mb" in r else "")
        lines.append(f"| {r['engine']} | {r['clauses']:,} | {r['versions']:,} | {r['ingest_per_s']:,} "
                     f"| {cell('dense')} "
                     f"| {cell('lexical')} | {rss} | {r['disk_mb']:,.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "regcite-scale-base",
                   help="an index of the shared regulations (built here once when missing)")
    p.add_argument("--max-clauses", type=int, default=1_000_000)
    p.add_argument("--engines", default="faiss,milvus")
    p.add_argument("--quick", action="store_true", help="5k, 10k, 20k clauses: a smoke test")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--sizes", help=argparse.SUPPRESS)
    p.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    base = args.data_dir / "scale-base"
    if args.worker:
        limit_memory()
        worker(args.worker, base, [int(s) for s in args.sizes.split(",")], args.work)
        return 0
    if not (base / "vectors.npy").exists():
        base_material(args.data_dir, base)
    sizes = [s for s in (QUICK if args.quick else SIZES) if s <= args.max_clauses] or [args.max_clauses]
    rows = []
    for engine in args.engines.split(","):
        work = Path(tempfile.mkdtemp(prefix=f"scale-{engine}-"))
        cmd = [sys.executable, __file__, "--worker", engine, "--data-dir", str(args.data_dir),
               "--sizes", ",".join(map(str, sizes)), "--work", str(work)]
        done = subprocess.run(cmd)
        if (work / "rows.jsonl").exists():
            rows += [json.loads(x) for x in (work / "rows.jsonl").read_text(encoding="utf-8").splitlines()]
        if done.returncode:
            print(f"{engine} worker exited with {done.returncode}; rows so far kept", file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)
    print(table(rows))
    out = args.out or (RESULTS.with_name("scale-quick.json") if args.quick else RESULTS)
    out.write_text(json.dumps({"date": date.today().isoformat(), "machine": f"{platform.machine()}, "
                               f"{os.cpu_count()} cores", "noise": NOISE, "k": K, "rows": rows}, indent=1) + "\n",
                   encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
