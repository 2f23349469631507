"""The index: commit/open round trip, generations, filtered search, vector rebuild, the writer lock, model identity;
every test on the SQLite catalog and on PostgreSQL (`settings` here is tests/rag/catalog_fixtures.py's `catalog`)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from rag.errors import IndexLocked, IndexMissing, IndexUnavailable, ModelMismatch
from rag.store import committed_generation, ingest_runs, open_index
from rag.writer import open_writer
from rag.types import CharSpan, Clause, DocumentVersion, Kind, PageSpan
from tests.rag.catalog_fixtures import catalog, catalog_settings  # noqa: F401

DIM = 8
MODEL = "fake-8"
SQLITE_ONLY = pytest.mark.parametrize("catalog", ["sqlite"], indirect=True)


@pytest.fixture
def settings(catalog):
    return catalog


def make_version(n: int, doc_id: str | None = None, pages: int = 2) -> DocumentVersion:
    sha = f"{n:02d}" * 32
    return DocumentVersion(
        version_id=sha[:16], doc_id=doc_id or f"DOC {n}", title=f"Document {n}", kind=Kind.REGULATION,
        jurisdiction="US", language="en", source_path=f"/tmp/doc{n}.txt", sha256=sha,
        page_starts=tuple(range(0, 100 * pages, 100)), effective_from=date(2022, 1, 1),
    )


def make_clauses(version: DocumentVersion, count: int) -> list[Clause]:
    return [
        Clause(
            clause_id=f"{version.version_id}:{i}", version_id=version.version_id, ordinal=i,
            path=("§ 1", f"({chr(97 + i)})"), reference=f"{version.doc_id}.1({chr(97 + i)})",
            headings=("Part 1", "Général"), text=f"clause {i} of {version.doc_id}", char_span=CharSpan(i * 10, i * 10 + 9),
            page_span=PageSpan(1, 2 if i == count - 1 else 1),
        )
        for i in range(count)
    ]


def vectors_for(clauses: list[Clause]) -> np.ndarray:
    rng = np.random.default_rng(abs(hash(tuple(c.clause_id for c in clauses))) % 2**32)
    v = rng.normal(size=(len(clauses), DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def add(writer, n: int, count: int = 3, doc_id: str | None = None):
    version = make_version(n, doc_id)
    clauses = make_clauses(version, count)
    embeddings = vectors_for(clauses)
    writer.add_version(version, f"full text of {n}", clauses, embeddings)
    return version, clauses, embeddings


def test_open_before_any_commit_raises_index_missing(settings):
    with pytest.raises(IndexMissing, match="regcite ingest"):
        open_index(settings)


def test_committed_documents_and_clauses_round_trip(settings):
    with open_writer(settings, MODEL, DIM) as w:
        v1, c1, e1 = add(w, 1)
        v2, c2, e2 = add(w, 2, count=2)
        assert w.commit() == 1
    index = open_index(settings)
    assert index.generation == 1 and index.model_name == MODEL and index.dim == DIM
    stored = index.documents[v1.version_id]
    assert (stored.doc_id, stored.page_starts, stored.effective_from, stored.kind) == (
        v1.doc_id, v1.page_starts, date(2022, 1, 1), Kind.REGULATION)
    assert stored.ingested_at  # set by the store
    assert index.clauses == c1 + c2
    assert index.clause(c2[1].clause_id) == c2[1]
    assert index.position(c2[0].clause_id) == 3
    assert index.document_of(c2[0]).version_id == v2.version_id
    assert index.text_of(v2.version_id) == "full text of 2"
    hits = index.search(e2[1:2], k=2)
    assert hits[0][0][0] == 4 and hits[0][0][1] == pytest.approx(1.0, abs=1e-5)


def test_nothing_is_visible_without_commit(settings):
    with open_writer(settings, MODEL, DIM) as w:
        add(w, 1)
        w.commit()
    with open_writer(settings, MODEL, DIM) as w:
        add(w, 2)
        w.remove_version(make_version(1).version_id)
    index = open_index(settings)
    assert index.generation == 1
    assert set(index.documents) == {make_version(1).version_id}


def test_generation_bumps_on_each_change_and_old_vector_files_go(settings):
    with open_writer(settings, MODEL, DIM) as w:
        add(w, 1)
        assert w.commit() == 1
    with open_writer(settings, MODEL, DIM) as w:
        add(w, 2)
        w.remove_version(make_version(1).version_id)
        assert w.commit() == 2
    with open_writer(settings, MODEL, DIM) as w:
        assert w.commit() == 2  # nothing changed: no new generation
    index = open_index(settings)
    assert index.generation == 2
    assert [c.version_id for c in index.clauses] == [make_version(2).version_id] * 3
    assert sorted(p.name for p in settings.index_dir.glob("vectors-*")) == ["vectors-2.faiss"]


def test_allowed_mask_still_returns_k_results_when_selective(settings):
    with open_writer(settings, MODEL, DIM) as w:
        for n in range(1, 21):
            add(w, n, count=5)
        w.commit()
    index = open_index(settings)
    allowed = np.zeros(len(index.clauses), dtype=bool)
    allowed[[7, 42, 43, 99]] = True
    query = np.ones((2, DIM), dtype=np.float32) / np.sqrt(DIM)
    results = index.search(query, k=3, allowed=allowed)
    assert all(len(r) == 3 for r in results)
    assert all(pos in (7, 42, 43, 99) for r in results for pos, _ in r)
    assert [s for _, s in results[0]] == sorted((s for _, s in results[0]), reverse=True)
    assert len(index.search(query, k=10, allowed=allowed)[0]) == 4
    assert index.search(query, k=3, allowed=np.zeros(len(index.clauses), dtype=bool)) == [[], []]


@pytest.mark.parametrize("damage", ["delete", "corrupt", "stale"])
def test_missing_or_stale_vector_file_is_rebuilt_from_catalog(settings, damage):
    with open_writer(settings, MODEL, DIM) as w:
        _, _, e1 = add(w, 1)
        w.commit()
    with open_writer(settings, MODEL, DIM) as w:
        _, _, e2 = add(w, 2)
        w.commit()
    path = settings.index_dir / "vectors-2.faiss"
    good = path.read_bytes()
    if damage == "delete":
        path.unlink()
    elif damage == "corrupt":
        path.write_bytes(good[:-40] + b"\0" * 40)
    else:  # a file of another generation's content under this name
        import faiss

        stale = faiss.IndexFlatIP(DIM)
        stale.add(e1)
        faiss.write_index(stale, str(path))
    index = open_index(settings)
    hits = index.search(np.vstack([e1[0], e2[2]]), k=1)
    assert [h[0][0] for h in hits] == [0, 5]
    assert path.read_bytes() == good  # rewritten, since no writer held the lock


def test_second_writer_is_refused_naming_the_holder_pid(settings):
    with open_writer(settings, MODEL, DIM):
        with pytest.raises(IndexLocked, match=rf"pid {os.getpid()}"):
            with open_writer(settings, MODEL, DIM):
                pass
    with open_writer(settings, MODEL, DIM) as w:  # released on exit
        add(w, 1)
        w.commit()


def test_lock_held_by_another_process_is_refused(settings, tmp_path):
    settings.index_dir.mkdir(parents=True)
    script = textwrap.dedent(f"""
        import fcntl, os, sys, time
        fd = os.open({str(settings.index_dir / 'writer.lock')!r}, os.O_RDWR | os.O_CREAT)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, str(os.getpid()).encode())
        print("locked", flush=True)
        sys.stdin.read()
    """)
    holder = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(IndexLocked) as err:
            with open_writer(settings, MODEL, DIM):
                pass
        assert f"pid {holder.pid}" in str(err.value) and "wait" in str(err.value)
    finally:
        holder.communicate("", timeout=10)


def test_other_model_is_refused_naming_both(settings):
    with open_writer(settings, MODEL, DIM) as w:
        add(w, 1)
        w.commit()
    with pytest.raises(ModelMismatch, match=r"'fake-8'.*'other-model'.*data dir"):
        with open_writer(settings, "other-model", DIM):
            pass
    index = open_index(settings)
    index.check_model(MODEL)
    with pytest.raises(ModelMismatch, match="other-model"):
        index.check_model("other-model")


def test_uncommitted_writer_killed_leaves_previous_generation(settings, tmp_path):
    """A writer that dies before commit (here: raises) leaves the previous generation intact."""
    with open_writer(settings, MODEL, DIM) as w:
        add(w, 1)
        w.commit()
    with pytest.raises(RuntimeError):
        with open_writer(settings, MODEL, DIM) as w:
            add(w, 2)
            raise RuntimeError("boom")
    index = open_index(settings)
    assert list(index.documents) == [make_version(1).version_id]
    assert len(index.clauses) == 3


@SQLITE_ONLY
def test_catalog_path_is_under_index_dir(settings):
    with open_writer(settings, MODEL, DIM) as w:
        add(w, 1)
        w.commit()
    assert (settings.index_dir / "catalog.sqlite").exists()
    assert Path(settings.index_dir / "writer.lock").exists()


@SQLITE_ONLY
def test_catalog_without_schema_counts_as_missing(settings):
    import sqlite3

    settings.index_dir.mkdir(parents=True)
    sqlite3.connect(settings.index_dir / "catalog.sqlite").close()
    with pytest.raises(IndexMissing):
        open_index(settings)


# --- what a generation derives, saved with it (issue 16) ------------------------------------------------------------

def test_each_generation_saves_its_bm25_index_beside_its_vectors_and_old_ones_go(settings):
    from rag.lexical import LexicalIndex, lexical_text

    with open_writer(settings, MODEL, DIM, "torch") as w:
        add(w, 1)
        w.commit()
    with open_writer(settings, MODEL, DIM, "onnx") as w:
        add(w, 2)
        w.commit()
    assert sorted(p.name for p in settings.index_dir.glob("lexical-*")) == ["lexical-2"]
    index = open_index(settings)
    assert index.backends == ("onnx", "torch") and index.lexical_sha256
    saved = index.saved_lexical()
    built = LexicalIndex([lexical_text(c) for c in index.clauses])
    for query in ("clause 1 of DOC 2", "Général", "DOC 1.1(b)"):
        assert saved.top(query, k=4) == built.top(query, k=4)


def test_a_damaged_bm25_folder_is_rebuilt_by_the_reader_not_trusted(settings):
    with open_writer(settings, MODEL, DIM) as w:
        add(w, 1)
        w.commit()
    (settings.index_dir / "lexical-1" / "indices.csc.index.npy").write_bytes(b"garbage")
    assert open_index(settings).saved_lexical() is None


def test_a_reader_keeps_its_memory_mapped_vectors_when_a_commit_deletes_the_file(settings):
    with open_writer(settings, MODEL, DIM) as w:
        _, _, e1 = add(w, 1)
        w.commit()
    index = open_index(settings)
    with open_writer(settings, MODEL, DIM) as w:
        add(w, 2)
        w.commit()
    assert not (settings.index_dir / "vectors-1.faiss").exists()
    assert index.search(e1[:1], k=1)[0][0][0] == 0 and np.allclose(index.vector(1), e1[1])


def test_a_store_from_before_saved_bm25_gets_one_on_its_next_ingest_even_unchanged(tmp_path):
    import shutil

    from rag.config import load_settings

    shutil.copytree(Path(__file__).resolve().parents[1] / "fixtures" / "store-v1", tmp_path / "data")
    settings = load_settings(env={}, overrides={"data_dir": tmp_path / "data"})
    old = open_index(settings)
    assert old.saved_lexical() is None and old.backends == ("torch",)  # as that release wrote it
    with open_writer(settings, old.model_name, old.dim) as w:
        assert w.commit() == old.generation  # nothing changed: the same generation ...
    again = open_index(settings)
    assert again.generation == old.generation and again.saved_lexical() is not None  # ... now with its BM25 saved


# --- stable clause keys and the catalog on a server (issue 17) -----------------------------------------------------

def test_a_deleted_highest_key_is_never_handed_to_a_new_clause(settings):
    with open_writer(settings, MODEL, DIM) as w:
        add(w, 1)
        add(w, 2)
        w.commit()
    first = open_index(settings)
    assert list(first.keys) == sorted(first.keys) and len(first.keys) == len(first.clauses) == 6
    dead = set(first.keys[3:].tolist())  # version 2's keys, the highest
    with open_writer(settings, MODEL, DIM) as w:
        w.remove_version(make_version(2).version_id)
        w.commit()
    with open_writer(settings, MODEL, DIM) as w:  # a new writer: the counter comes from the catalog, not memory
        add(w, 3)
        w.commit()
    after = open_index(settings)
    assert after.keys.dtype == np.int64 and list(after.keys) == sorted(after.keys)
    assert after.keys[:3].tolist() == first.keys[:3].tolist()  # kept clauses keep their keys
    assert not dead & set(after.keys[3:].tolist()) and after.keys[3] > max(dead)
    assert [c.version_id for c in after.clauses] == [make_version(1).version_id] * 3 + [make_version(3).version_id] * 3


def test_lineage_runs_and_generation_read_from_the_catalog(settings):
    from rag.reports import IngestCounts

    assert committed_generation(settings) == 0 and ingest_runs(settings) == []
    with open_writer(settings, MODEL, DIM) as w:
        old = make_version(1, doc_id="DOC X")
        w.add_version(old, "old", make_clauses(old, 3), vectors_for(make_clauses(old, 3)))
        w.commit()
    with open_writer(settings, MODEL, DIM) as w:
        new = DocumentVersion(**{**make_version(2, doc_id="DOC X").__dict__, "effective_from": date(2024, 1, 1)})
        clauses = make_clauses(new, 3)
        w.add_version(new, "new", clauses, vectors_for(clauses))
        w.record_run("2026-01-01T00:00:00+00:00", IngestCounts(added=1), [])
        assert w.commit() == 2
    index = open_index(settings)
    changes = index.changes(old.version_id, new.version_id)
    assert len(changes) == 3 and all(c.from_clause_id and c.to_clause_id for c in changes)
    assert [c.from_clause_id for c in changes] == sorted(c.from_clause_id for c in changes)  # in written order
    assert committed_generation(settings) == 2
    runs = ingest_runs(settings)
    assert [(r.generation, r.counts.added) for r in runs] == [(2, 1)]


def _dead_catalog(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return catalog_settings(tmp_path, f"postgresql+psycopg://regcite:s3cret@127.0.0.1:{port}/catalog")


def test_a_catalog_server_that_is_down_is_a_clear_error_for_readers_and_the_writer(tmp_path):
    settings = _dead_catalog(tmp_path)
    for attempt in (lambda: open_index(settings), lambda: open_writer(settings, MODEL, DIM).__enter__()):
        with pytest.raises(IndexUnavailable, match=r"regcite:\*\*\*@127\.0\.0\.1.*catalog_url") as err:
            attempt()
        assert "s3cret" not in str(err.value)
    assert committed_generation(settings) == -1 and ingest_runs(settings) == []  # the long-lived readers' looks
    with open_writer(catalog_settings(tmp_path / "other"), MODEL, DIM) as w:  # the refused writer freed its locks
        add(w, 1)
        w.commit()
    assert not (settings.index_dir / "writer.lock").read_text()


def test_all_vectors_come_in_position_order_in_one_read(settings):
    with open_writer(settings, "fake-model", DIM) as w:
        v1, _, _ = add(w, 1, count=4)
        _, _, e2 = add(w, 2, count=3)
        w.commit()
    with open_writer(settings, "fake-model", DIM) as w:
        w.remove_version(v1.version_id)
        _, _, e3 = add(w, 3, count=2)
        w.commit()
    index = open_index(settings)
    one_by_one = np.stack([index.vector(i) for i in range(len(index.clauses))])
    assert index.vectors().shape == (5, DIM) and np.allclose(index.vectors(), one_by_one)
    assert np.allclose(index.vectors(), np.vstack([e2, e3]))


def test_a_commit_whose_clean_up_fails_still_reports_its_generation(settings, monkeypatch, caplog):
    from rag.stores.faiss_store import FaissStore

    def unreachable(self, current, live):
        raise IndexUnavailable("the engine went away after the commit")

    monkeypatch.setattr(FaissStore, "collect", unreachable)
    with open_writer(settings, "fake-model", DIM) as w:
        add(w, 1)
        assert w.commit() == 1
    assert open_index(settings).generation == 1 and "clearing what older generations used failed" in caplog.text
