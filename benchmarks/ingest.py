"""regcite ingest (first and unchanged re-run) vs LlamaIndex's default ingest path on the 22 CFR HTML parts.

Issue 2 (acceptance 6) compared the torch embedder with LlamaIndex; issue 16 adds a row per embedding backend
(onnx, onnx-int8, openvino; a CUDA fp16 row where torch sees a GPU), each with the mean and minimum cosine of its
vectors to the torch fp32 vectors of the same clauses, over every clause. Each backend ingests into a fresh data
dir, so its model load and first-use ONNX export are inside its time (and shown apart as load_s).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CORPUS = ROOT.parent / "shared" / "corpus" / "regulations" / "us-cfr"
RESULTS = ROOT / "benchmarks" / "results" / "ingest.json"

from rag.config import Settings  # noqa: E402  (after the path insert, so a checkout runs without installing)

DEFAULT_BACKEND = Settings().embed_backend


def embedded_tokens(texts, tokenizer, window: int) -> int:
    """Word pieces the embedder actually reads: each text cut at the model's window, as both systems' encoders do."""
    return sum(min(len(ids), window) for ids in tokenizer(list(texts), add_special_tokens=True)["input_ids"])


def _tokenizer():
    from sentence_transformers import SentenceTransformer

    from rag.embed import packaged_model_dir

    model = SentenceTransformer(str(packaged_model_dir()), device="cpu")
    return model.tokenizer, model.max_seq_length


def _vectors_by_clause(index) -> dict[str, "np.ndarray"]:
    return {c.clause_id: index.vector(i) for i, c in enumerate(index.clauses)}


def run_regcite(files: list[Path], data_dir: Path, device: str, backend: str, reference: dict | None,
                rerun: bool) -> tuple[dict, dict | None, dict]:
    """One backend's first ingest (and optionally an unchanged re-run); returns its row, the re-run row, vectors."""
    import numpy as np

    from ingest.pipeline import ingest_paths
    from rag.config import load_settings
    from rag.embed import load_embedder
    from rag.store import open_index

    settings = load_settings(env={}, overrides={"data_dir": data_dir, "device": device, "embed_backend": backend})
    embedder = load_embedder(settings)
    # The model load (and for the ONNX backends the first-use export) is counted in the row, as LlamaIndex's is.
    started, cpu = time.perf_counter(), time.process_time()
    embedder.embed_query("load")
    load_s = time.perf_counter() - started
    first = ingest_paths(files, settings, progress=True, embedder=embedder)
    seconds = load_s + first.seconds
    cpu_s = time.process_time() - cpu  # every thread's CPU time: less moved than wall time by other jobs' load
    index = open_index(settings)
    chars = sum(len(c.text) for c in index.clauses)
    tokenizer, window = _tokenizer()
    tokens = embedded_tokens([c.text for c in index.clauses], tokenizer, window)
    vectors = _vectors_by_clause(index)
    label = f"regcite {backend}" + (" fp16" if embedder.device.startswith("cuda") else "")
    row = {
        "system": label, "backend": backend, "docs": first.added, "units": first.clauses, "unit": "clauses",
        "seconds": seconds, "units_per_s": first.clauses / seconds, "chars_embedded": chars,
        "chars_per_s": chars / seconds, "tokens_embedded": tokens, "tokens_per_s": tokens / seconds,
        "skipped": [list(s) for s in first.skipped], "device": embedder.device, "load_s": round(load_s, 2),
        "cpu_s": round(cpu_s, 1), "load_average_after": round(os.getloadavg()[0], 2),
        "index_model_name": index.model_name,
    }
    if reference is not None:
        shared = sorted(set(reference) & set(vectors))
        cos = np.array([float(np.dot(reference[k], vectors[k])) for k in shared])
        row.update(cosine_clauses=len(shared), cosine_mean=float(cos.mean()), cosine_min=float(cos.min()),
                   cosine_p01=float(np.quantile(cos, 0.01)))
    again_row = None
    if rerun:
        again = ingest_paths(files, settings, progress=False, embedder=embedder)
        assert again.embedded == 0 and again.unchanged == len(files), again
        again_row = {
            "system": f"regcite {backend} (unchanged re-run)", "docs": again.unchanged, "units": 0, "unit": "clauses",
            "seconds": again.seconds, "units_per_s": 0.0, "chars_embedded": 0, "chars_per_s": 0.0,
            "tokens_embedded": 0, "tokens_per_s": 0.0, "speedup_vs_first": seconds / again.seconds,
        }
    return row, again_row, vectors


def run_llamaindex(files: list[Path], device: str) -> dict:
    import faiss
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.schema import MetadataMode
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.faiss import FaissVectorStore

    from rag.embed import packaged_model_dir

    started, cpu = time.perf_counter(), time.process_time()
    documents = SimpleDirectoryReader(input_files=[str(f) for f in files]).load_data()
    nodes = SentenceSplitter().get_nodes_from_documents(documents)
    embed_model = HuggingFaceEmbedding(model_name=str(packaged_model_dir()), device=None if device == "auto" else device)
    store = FaissVectorStore(faiss_index=faiss.IndexFlatIP(384))
    VectorStoreIndex(nodes, embed_model=embed_model, storage_context=StorageContext.from_defaults(vector_store=store),
                     show_progress=True)
    seconds = time.perf_counter() - started
    cpu_s = time.process_time() - cpu
    texts = [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
    chars = sum(len(t) for t in texts)
    tokenizer, window = _tokenizer()
    tokens = embedded_tokens(texts, tokenizer, window)
    return {
        "system": "LlamaIndex default", "docs": len(documents), "units": len(nodes), "unit": "chunks",
        "seconds": seconds, "units_per_s": len(nodes) / seconds, "chars_embedded": chars,
        "chars_per_s": chars / seconds, "tokens_embedded": tokens, "tokens_per_s": tokens / seconds,
        "device": str(embed_model._model.device), "cpu_s": round(cpu_s, 1),
        "load_average_after": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> int:
    from rag.embed import EMBED_BACKENDS

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--limit", type=int, default=0, help="only the first N files (quick check)")
    parser.add_argument("--device", default="cpu", help="the CPU rows' device; a CUDA fp16 row is added on a GPU")
    parser.add_argument("--backends", default=",".join(EMBED_BACKENDS),
                        help=f"comma-separated, from {', '.join(EMBED_BACKENDS)} (torch always runs: the reference)")
    parser.add_argument("--no-llamaindex", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    files = sorted(args.corpus.glob("*.html"))[: args.limit or None]
    if not files:
        print(f"no HTML files under {args.corpus}", file=sys.stderr)
        return 2
    backends = [b for b in args.backends.split(",") if b and b != "torch"]
    if unknown := [b for b in backends if b not in EMBED_BACKENDS]:
        parser.error(f"unknown backend(s) {', '.join(unknown)}; choose from {', '.join(EMBED_BACKENDS)}")
    # Import the heavy stack before timing, so neither system pays the other's import cost.
    import sentence_transformers  # noqa: F401
    import llama_index.core  # noqa: F401
    import torch

    load = {"start": round(os.getloadavg()[0], 2)}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        torch_row, rerun, reference = run_regcite(files, Path(tmp) / "torch", args.device, "torch", None, rerun=True)
        torch_row.update(cosine_clauses=len(reference), cosine_mean=1.0, cosine_min=1.0, cosine_p01=1.0)
        rows += [torch_row]
        for backend in backends:
            row, again, _ = run_regcite(files, Path(tmp) / backend, args.device, backend, reference,
                                        rerun=backend == DEFAULT_BACKEND)
            rows += [row] + ([again] if again else [])
        rows.append(rerun)
        if torch.cuda.is_available():
            row, _, _ = run_regcite(files, Path(tmp) / "cuda", "cuda", "torch", reference, rerun=False)
            rows.append(row)
    if not args.no_llamaindex:
        rows.append(run_llamaindex(files, args.device))
    load["end"] = round(os.getloadavg()[0], 2)

    print(f"\n{'system':36} {'units':>14} {'seconds':>8} {'load s':>8} {'CPU s':>7} {'units/s':>8} "
          f"{'tokens embedded':>15} {'tokens/s':>8} {'cos mean':>9} {'cos min':>8}")
    for r in rows:
        cos_mean = f"{r['cosine_mean']:.5f}" if "cosine_mean" in r else ""
        cos_min = f"{r['cosine_min']:.5f}" if "cosine_min" in r else ""
        load_s = f"{r['load_s']:.1f}" if r.get("load_s") is not None else ""
        cpu_s = f"{r['cpu_s']:.0f}" if r.get("cpu_s") is not None else ""
        print(f"{r['system']:36} {str(r['units']) + ' ' + r['unit']:>14} {r['seconds']:>8.2f} {load_s:>8} {cpu_s:>7} "
              f"{r['units_per_s']:>8.1f} {r['tokens_embedded']:>15,} {r['tokens_per_s']:>8.0f} {cos_mean:>9} {cos_min:>8}")
    llama = next((r for r in rows if r["system"] == "LlamaIndex default"), None)
    default = next((r for r in rows if r.get("backend") == DEFAULT_BACKEND and "cosine_min" in r), None)
    if llama and default:
        print(f"default backend ({DEFAULT_BACKEND}): {default['seconds']:.1f} s against LlamaIndex's "
              f"{llama['seconds']:.1f} s ({'at or below' if default['seconds'] <= llama['seconds'] else 'ABOVE'}); "
              f"minimum cosine to torch fp32 {default['cosine_min']:.5f} (target >= 0.99)")
    if not torch.cuda.is_available():
        print("no GPU: torch sees no CUDA device, so there is no fp16 row")
    print(f"load average {load['start']} -> {load['end']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "corpus": str(args.corpus), "files": len(files), "machine": platform.platform(),
        "cpus": os.cpu_count(), "load_average": load, "default_backend": DEFAULT_BACKEND, "rows": rows,
    }, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
