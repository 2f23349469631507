"""Version chains do not depend on ingest order: the shared corpus plus every Reg B and HMDA version, ingested in one
run and in several runs in shuffled orders, gives the same chains (dates, statuses, effective_to); nothing is
deleted; an unchanged re-run embeds nothing.

Embeddings play no part in chains, so by default a hashed-word embedder stands in for the model (the parse and the
clause alignment are the real ones); `--packaged` uses the packaged embedder for the one-run index.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "corpus"

from tests.fakes import HashEmbedder  # noqa: E402  (embeddings play no part in chains)
RESULTS = ROOT / "benchmarks" / "results" / "version_chains.json"
VERSIONS = ("versions", "amendments")
CORPUS = ("regulations", "filings")



def files() -> list[Path]:
    """Every file to ingest; none where ../shared is absent."""
    from ingest.pipeline import walk

    if not SHARED.is_dir():
        return []
    found, missing = walk([SHARED / name for name in (*CORPUS, *VERSIONS)])
    if missing:
        raise SystemExit(f"missing: {missing}")
    return found


def chains(data_dir: Path) -> dict[str, list[dict]]:
    from rag.config import load_settings
    from rag.store import open_index
    from rag.versions import chain

    index = open_index(load_settings(env={}, overrides={"data_dir": data_dir}))
    return {doc_id: [{"version_id": v.version_id, "effective_from": _day(v.effective_from),
                      "effective_to": _day(v.effective_to), "status": v.status.value,
                      "source": Path(v.source_path).name} for v in chain(index.documents, doc_id)]
            for doc_id in sorted({v.doc_id for v in index.documents.values()})}


def _day(value) -> str | None:
    return value.isoformat() if value else None


def ingest(paths: list[Path], data_dir: Path, embedder) -> object:
    from ingest.pipeline import ingest_paths
    from rag.config import load_settings

    return ingest_paths(paths, load_settings(env={}, overrides={"data_dir": data_dir}), progress=False,
                        embedder=embedder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=2, help="shuffled multi-run orders to compare with one run")
    parser.add_argument("--runs", type=int, default=4, help="runs each shuffled order is cut into")
    parser.add_argument("--packaged", action="store_true", help="the packaged embedder for the one-run index")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    paths = files()
    if not paths:
        print(f"skipped: needs {SHARED}", file=sys.stderr)
        return 0
    work = Path(tempfile.mkdtemp(prefix="regcite-chains-"))
    if args.packaged:
        from rag.config import load_settings
        from rag.embed import load_embedder

        embedder = load_embedder(load_settings(env={}))
    else:
        embedder = HashEmbedder()
    started = time.perf_counter()
    report = ingest(paths, work / "one-run", embedder)
    one_run_s = time.perf_counter() - started
    expected = chains(work / "one-run")
    versions = sum(len(c) for c in expected.values())
    print(f"one run: {len(paths)} files, {report.added} versions added, {report.replaced} replaced, "
          f"{len(report.skipped)} skipped, {report.clauses:,} clauses, {one_run_s:.0f} s")
    for impact in report.impacts:
        print(f"  {impact}")
    rows = [{"order": "one run", "runs": 1, "versions": versions, "same_chains": True, "seconds": round(one_run_s, 1)}]
    for seed in range(1, args.orders + 1):
        shuffled = paths[:]
        random.Random(seed).shuffle(shuffled)
        data_dir = work / f"order-{seed}"
        started = time.perf_counter()
        size = -(-len(shuffled) // args.runs)
        for start in range(0, len(shuffled), size):
            ingest(shuffled[start:start + size], data_dir, HashEmbedder())
        got = chains(data_dir)
        same = got == expected
        rows.append({"order": f"shuffled, seed {seed}", "runs": args.runs, "versions": sum(map(len, got.values())),
                     "same_chains": same, "seconds": round(time.perf_counter() - started, 1)})
        if not same:
            for doc_id in sorted(set(got) | set(expected)):
                if got.get(doc_id) != expected.get(doc_id):
                    print(f"  differs: {doc_id}\n    one run:  {expected.get(doc_id)}\n    shuffled: {got.get(doc_id)}")
    rerun = ingest(paths, work / "one-run", embedder)
    embedded_again = rerun.embedded
    print("\n| order | runs | versions | same chains as one run | seconds |\n| --- | ---: | ---: | --- | ---: |")
    for r in rows:
        print(f"| {r['order']} | {r['runs']} | {r['versions']} | {'yes' if r['same_chains'] else 'NO'} | {r['seconds']} |")
    print(f"\nunchanged re-run: {rerun.unchanged} unchanged, {rerun.added} added, {embedded_again} clause texts embedded")
    print("\nchains of the instruments with more than one version:")
    for doc_id, versions_of in expected.items():
        if len(versions_of) > 1:
            print(f"  {doc_id}: " + "; ".join(f"{v['effective_from']}..{v['effective_to'] or 'open'} {v['status']}"
                                            for v in versions_of))
    out = {"files": len(paths), "versions": versions, "rows": rows, "rerun_embedded": embedded_again,
           "rerun_unchanged": rerun.unchanged, "chains": expected, "impacts": [i.to_dict() for i in report.impacts]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    ok = all(r["same_chains"] for r in rows) and embedded_again == 0 and rerun.added == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
