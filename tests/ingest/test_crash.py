"""Acceptance 4: an ingest killed with SIGKILL at random moments leaves the old or the new index, never a mix; on
the SQLite catalog and on PostgreSQL (issue 17: there the server rolls the killed writer's transaction back)."""
from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rag.store import open_index
from tests.rag.catalog_fixtures import catalog  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
TRIALS = 24

# A text-keyed random unit vector: distinct clauses get distinct vectors, so a vector finds exactly its clause.
VECTORS = textwrap.dedent("""
    import hashlib
    import numpy as np

    def vectors(texts):
        rows = [np.random.default_rng(int(hashlib.sha256(t.encode()).hexdigest()[:15], 16)).normal(size=32)
                for t in texts]
        out = np.array(rows, dtype=np.float32).reshape(len(texts), 32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)
""")

# The subprocess: a real ingest_paths run with a fast deterministic embedder injected by argument.
SCRIPT = VECTORS + textwrap.dedent("""
    import sys, time
    import faiss  # imported before READY so the kill window covers the ingest, not interpreter start-up
    if sys.argv[4] == "milvus":
        import pymilvus
    from ingest.pipeline import ingest_paths
    from rag.config import load_settings

    class HashEmbedder:
        name = "fake-hash-32"
        dim = 32
        def embed_documents(self, texts):
            time.sleep(0.002 * len(texts))  # stretch the run a little so kills land inside it
            return vectors(texts)
        def embed_query(self, text):
            return vectors([text])[0]

    settings = load_settings(env={}, overrides={"data_dir": sys.argv[1], "catalog_url": sys.argv[3],
                                                "index_backend": sys.argv[4], "milvus_uri": sys.argv[5]})
    print("READY", flush=True)
    ingest_paths([sys.argv[2]], settings, prune=True, progress=False, embedder=HashEmbedder())
    print("DONE", flush=True)
""")
_namespace: dict = {}
exec(VECTORS, _namespace)
vectors = _namespace["vectors"]


def write_state(folder: Path, state: str) -> None:
    """Two corpus states that differ by changed, added and removed files."""
    for path in folder.glob("*.md"):
        path.unlink()
    for n in range(8):
        if state == "B" and n == 7:
            continue  # removed in B (pruned)
        version = state if n % 2 == 0 else "A"  # even files change between A and B
        body = "\n\n".join(
            f"({chr(97 + i)}) Rule {n}.{i} version {version}: a lender shall keep record {n}-{i}-{version} "
            f"for {n + i + 1} months." for i in range(12)
        )
        (folder / f"part{n}.md").write_text(f"# Part {900 + n}\n\n§ {900 + n}.1 Records.\n\n{body}\n", encoding="utf-8")
    if state == "B":
        (folder / "part8.md").write_text("# Part 908\n\n§ 908.1 New.\n\n(a) A lender shall publish rates.\n", encoding="utf-8")


def snapshot(settings) -> frozenset:
    """The committed content; also checks the vectors agree with the clauses of the same generation."""
    index = open_index(settings)
    assert len(index.clauses) > 0
    own = vectors([c.text for c in index.clauses])
    best = index.search(own, k=1)
    assert all(abs(hits[0][1] - 1.0) < 1e-4 for hits in best), "vector file does not match the catalog's clauses"
    assert [index.clauses[hits[0][0]].text for hits in best] == [c.text for c in index.clauses]
    return frozenset((Path(index.document_of(c).source_path).name, c.text) for c in index.clauses)


def run_ingest(settings, folder: Path, kill_after: float | None) -> bool:
    """Run one ingest in a subprocess; kill it kill_after seconds after READY. True when it reported DONE."""
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(settings.data_dir), str(folder), settings.catalog_url,
         settings.index_backend, settings.milvus_uri],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "READY", proc.stderr.read()
        if kill_after is None:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            return "DONE" in out
        time.sleep(kill_after)
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        return "DONE" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture(params=["faiss", "milvus"])
def engine(request, tmp_path, catalog):
    """The catalog's settings on FAISS, or on one Milvus Lite server process that outlives every killed writer."""
    if request.param == "faiss":
        yield catalog
        return
    pytest.importorskip("pymilvus", reason="the milvus extra (pip install -e '.[milvus]')")
    from tests.milvus_fixtures import milvus_lite_server

    with milvus_lite_server(tmp_path / "milvus") as server:
        yield catalog.replace(index_backend="milvus", milvus_uri=server.uri)


def test_sigkill_at_random_points_leaves_old_or_new_state(tmp_path, engine):
    settings, folder = engine, tmp_path / "corpus"
    folder.mkdir()

    write_state(folder, "A")
    assert run_ingest(settings, folder, None)
    states = {"A": snapshot(settings)}
    write_state(folder, "B")
    started = time.perf_counter()
    assert run_ingest(settings, folder, None)
    duration = time.perf_counter() - started
    states["B"] = snapshot(settings)
    assert states["A"] != states["B"]

    rng = random.Random(20261123)
    current, outcomes = "B", {"old": 0, "new": 0}
    for trial in range(TRIALS):
        target = "A" if current == "B" else "B"
        write_state(folder, target)
        finished = run_ingest(settings, folder, rng.uniform(0.0, duration))
        seen = snapshot(settings)
        assert seen in (states[current], states[target]), f"trial {trial}: a mix of old and new content"
        if finished:
            assert seen == states[target], f"trial {trial}: a completed commit was lost"
        if seen == states[target]:
            outcomes["new"] += 1
            current = target
        else:
            outcomes["old"] += 1
    print(f"{TRIALS} SIGKILL trials: {outcomes}")
    # Both outcomes must occur, or the kills did not land inside the run.
    assert outcomes["old"] > 0 and outcomes["new"] > 0, outcomes
