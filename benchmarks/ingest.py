"""Acceptance 6: regcite ingest (first and unchanged re-run) vs LlamaIndex's default ingest path on the 22 CFR HTML parts."""
from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CORPUS = ROOT.parent / "shared" / "corpus" / "regulations" / "us-cfr"
RESULTS = ROOT / "benchmarks" / "results" / "ingest.json"


def embedded_tokens(texts, tokenizer, window: int) -> int:
    """Word pieces the embedder actually reads: each text cut at the model's window, as both systems' encoders do."""
    return sum(min(len(ids), window) for ids in tokenizer(list(texts), add_special_tokens=True)["input_ids"])


def _tokenizer():
    from sentence_transformers import SentenceTransformer

    from rag.embed import packaged_model_dir

    model = SentenceTransformer(str(packaged_model_dir()), device="cpu")
    return model.tokenizer, model.max_seq_length


def run_regcite(files: list[Path], data_dir: Path, device: str) -> tuple[dict, dict]:
    from ingest.pipeline import ingest_paths
    from rag.config import load_settings
    from rag.embed import load_embedder
    from rag.store import open_index

    settings = load_settings(env={}, overrides={"data_dir": data_dir, "device": device})
    embedder = load_embedder(settings)  # model load counted inside the first run, as LlamaIndex's is
    first = ingest_paths(files, settings, progress=True, embedder=embedder)
    index = open_index(settings)
    chars = sum(len(c.text) for c in index.clauses)
    tokenizer, window = _tokenizer()
    tokens = embedded_tokens([c.text for c in index.clauses], tokenizer, window)
    again = ingest_paths(files, settings, progress=False, embedder=embedder)
    assert again.embedded == 0 and again.unchanged == len(files), again
    row = {
        "system": "regcite", "docs": first.added, "units": first.clauses, "unit": "clauses",
        "seconds": first.seconds, "units_per_s": first.clauses / first.seconds, "chars_embedded": chars,
        "chars_per_s": chars / first.seconds, "tokens_embedded": tokens, "tokens_per_s": tokens / first.seconds,
        "skipped": [list(s) for s in first.skipped],
        "device": embedder.device,
    }
    rerun = {
        "system": "regcite (unchanged re-run)", "docs": again.unchanged, "units": 0, "unit": "clauses",
        "seconds": again.seconds, "units_per_s": 0.0, "chars_embedded": 0, "chars_per_s": 0.0,
        "tokens_embedded": 0, "tokens_per_s": 0.0, "speedup_vs_first": first.seconds / again.seconds,
    }
    return row, rerun


def run_llamaindex(files: list[Path], device: str) -> dict:
    import faiss
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.schema import MetadataMode
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.faiss import FaissVectorStore

    from rag.embed import packaged_model_dir

    started = time.perf_counter()
    documents = SimpleDirectoryReader(input_files=[str(f) for f in files]).load_data()
    nodes = SentenceSplitter().get_nodes_from_documents(documents)
    embed_model = HuggingFaceEmbedding(model_name=str(packaged_model_dir()), device=None if device == "auto" else device)
    store = FaissVectorStore(faiss_index=faiss.IndexFlatIP(384))
    VectorStoreIndex(nodes, embed_model=embed_model, storage_context=StorageContext.from_defaults(vector_store=store),
                     show_progress=True)
    seconds = time.perf_counter() - started
    texts = [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
    chars = sum(len(t) for t in texts)
    tokenizer, window = _tokenizer()
    tokens = embedded_tokens(texts, tokenizer, window)
    return {
        "system": "LlamaIndex default", "docs": len(documents), "units": len(nodes), "unit": "chunks",
        "seconds": seconds, "units_per_s": len(nodes) / seconds, "chars_embedded": chars,
        "chars_per_s": chars / seconds, "tokens_embedded": tokens, "tokens_per_s": tokens / seconds,
        "device": str(embed_model._model.device),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--limit", type=int, default=0, help="only the first N files (quick check)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    files = sorted(args.corpus.glob("*.html"))[: args.limit or None]
    if not files:
        print(f"no HTML files under {args.corpus}", file=sys.stderr)
        return 2
    # Import the heavy stack before timing, so neither system pays the other's import cost.
    import sentence_transformers  # noqa: F401
    import llama_index.core  # noqa: F401

    with tempfile.TemporaryDirectory() as tmp:
        regcite, rerun = run_regcite(files, Path(tmp) / "data", args.device)
    llama = run_llamaindex(files, args.device)
    rows = [regcite, rerun, llama]
    print(f"\n{'system':28} {'docs':>5} {'units':>14} {'seconds':>9} {'units/s':>9} {'chars/s':>9} "
          f"{'tokens embedded':>16} {'tokens/s':>9}")
    for r in rows:
        print(f"{r['system']:28} {r['docs']:>5} {str(r['units']) + ' ' + r['unit']:>14} {r['seconds']:>9.2f} "
              f"{r['units_per_s']:>9.1f} {r['chars_per_s']:>9.0f} {r['tokens_embedded']:>16,} {r['tokens_per_s']:>9.0f}")
    print(f"unchanged re-run: {rerun['speedup_vs_first']:.0f}x faster than the first ingest")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "corpus": str(args.corpus), "files": len(files), "machine": platform.platform(),
        "cpus": __import__("os").cpu_count(), "rows": rows,
    }, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
