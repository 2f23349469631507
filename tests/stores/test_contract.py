"""The store contract (rag/stores/contract.py), one suite run against FAISS and against Milvus Lite.

Each test drives an engine the way the writer and readers do: stage a generation, "commit" it (here: keep its
state, as the catalog's meta would), open readers on committed states, collect. The catalog side is a list of
rows in key order; the engines under test are the real ones.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pytest

from rag.lexical import lexical_text, terms
from rag.stores.contract import Scope, StoredClause, StoreState
from rag.types import CharSpan, Clause, PageSpan

DIM = 16

TEXTS = {
    "reg-b": ["A creditor shall notify an applicant of action taken within 30 days after receiving a completed "
              "application.", "Adverse action means a refusal to grant credit in substantially the amount requested.",
              "A creditor shall preserve records for 25 months after notifying an applicant of action taken."],
    "aml": ["Financial institutions shall report suspicious transactions involving money laundering.",
            "Customer due diligence records shall be kept for five years after the business relationship ends.",
            "金融机构应当按照规定建立客户身份识别制度。"],
    "gdpr": ["The data subject shall have the right to obtain the erasure of personal data without undue delay.",
             "Personal data shall be processed lawfully, fairly and in a transparent manner."],
}


def unit(text: str) -> np.ndarray:
    rng = np.random.default_rng(int(hashlib.sha256(text.encode()).hexdigest()[:15], 16))
    v = rng.normal(size=DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def clause(version_id: str, ordinal: int, text: str) -> Clause:
    return Clause(clause_id=f"{version_id}:{ordinal}", version_id=version_id, ordinal=ordinal, path=(str(ordinal),),
                  reference=f"{version_id} {ordinal}", headings=(), text=text, char_span=CharSpan(0, len(text)),
                  page_span=PageSpan(1, 1))


@dataclass
class Catalog:
    """The catalog's side of the protocol: rows in key order, a never-reused key counter, committed states."""

    rows: list[tuple[int, Clause, np.ndarray]] = field(default_factory=list)
    next_key: int = 1
    state: StoreState | None = None
    embeddings_read: int = 0  # how often an engine asked for every embedding (a rebuild)

    def add(self, version_id: str, texts: list[str]) -> list[StoredClause]:
        added = []
        for i, text in enumerate(texts):
            c, key = clause(version_id, i, text), self.next_key
            self.next_key += 1
            self.rows.append((key, c, unit(text)))
            added.append(StoredClause(key, version_id, unit(text), tuple(terms(lexical_text(c)))))
        return added

    def remove(self, version_id: str) -> None:
        self.rows = [r for r in self.rows if r[1].version_id != version_id]

    @property
    def keys(self) -> np.ndarray:
        return np.array([k for k, _, _ in self.rows], dtype=np.int64)

    @property
    def versions(self) -> frozenset[str]:
        return frozenset(c.version_id for _, c, _ in self.rows)

    def lexical_texts(self) -> list[str]:
        return [lexical_text(c) for _, c, _ in self.rows]

    def embeddings(self) -> np.ndarray:
        self.embeddings_read += 1
        return np.stack([e for _, _, e in self.rows]) if self.rows else np.zeros((0, DIM), np.float32)

    def key_of(self, version_id: str, ordinal: int) -> int:
        return next(k for k, c, _ in self.rows if c.version_id == version_id and c.ordinal == ordinal)


class Engine:
    """One engine under test, with the catalog it serves."""

    def __init__(self, store):
        self.store = store
        self.catalog = Catalog()

    def commit(self, added=(), removed=()) -> StoreState:
        previous = self.catalog.state
        self.store.recover(self.catalog.versions | set(removed))
        generation = (previous.generation if previous else 0) + 1
        state = self.store.stage(generation, previous, list(added), list(removed), self.catalog.keys, self.catalog)
        self.catalog.state = state  # the catalog commit
        self.store.collect(state, self.catalog.versions)
        return state

    def reader(self):
        return self.store.open(self.catalog.state, self.catalog.keys, self.catalog.versions, self.catalog)

    def ingest(self, *version_ids: str) -> StoreState:
        added = [s for v in version_ids for s in self.catalog.add(v, TEXTS[v.split("@")[0]])]
        return self.commit(added)


@pytest.fixture(params=["faiss", "milvus"])
def engine(request, tmp_path):
    if request.param == "faiss":
        from rag.stores.faiss_store import FaissStore

        return Engine(FaissStore(tmp_path, DIM, use_gpu=False))
    pytest.importorskip("pymilvus", reason="the milvus extra (pip install -e '.[milvus]')")
    from rag.stores.milvus_store import MilvusStore

    return Engine(MilvusStore(str(tmp_path / "milvus.db"), "contract_clauses", DIM))


def test_added_clauses_are_found_by_their_vector_and_by_their_words(engine):
    engine.ingest("reg-b", "aml", "gdpr")
    reader = engine.reader()
    own = engine.catalog.key_of("aml", 1)
    [dense] = reader.dense(unit(TEXTS["aml"][1])[None, :], 3, Scope())
    assert dense[0][0] == own and dense[0][1] == pytest.approx(1.0, abs=1e-4)
    assert [s for _, s in dense] == sorted((s for _, s in dense), reverse=True)
    lexical = reader.lexical("How long must customer due diligence records be kept?", 5, Scope())
    assert lexical[0][0] == own
    scores = [s for _, s in lexical]
    assert all(s >= 0 for s in scores) and scores == sorted(scores, reverse=True)
    assert np.allclose(reader.vector(own), unit(TEXTS["aml"][1]), atol=1e-6)
    han = reader.lexical("客户身份识别制度", 3, Scope())
    assert han[0][0] == engine.catalog.key_of("aml", 2)


def test_a_filtered_out_version_never_comes_back_from_either_route(engine):
    engine.ingest("reg-b", "aml", "gdpr")
    reader = engine.reader()
    hidden = engine.catalog.key_of("aml", 1)
    scope = Scope(frozenset({"reg-b", "gdpr"}), np.array([c.version_id != "aml" for _, c, _ in engine.catalog.rows]))
    # the hidden clause is the best match for both the vector and the words, and still never returned
    [dense] = reader.dense(unit(TEXTS["aml"][1])[None, :], 10, scope)
    lexical = reader.lexical("customer due diligence records kept five years business relationship", 10, scope)
    allowed = {k for k, c, _ in engine.catalog.rows if c.version_id != "aml"}
    assert {k for k, _ in dense} == allowed  # a selective filter still yields every admitted clause up to k
    assert hidden not in {k for k, _ in lexical} and {k for k, _ in lexical} <= allowed
    assert reader.dense(unit(TEXTS["aml"][1])[None, :], 10, Scope(frozenset(), np.zeros(8, bool))) == [[]]


def test_a_scope_naming_single_clauses_admits_only_those(engine):
    engine.ingest("reg-b", "aml")
    reader = engine.reader()
    keep = np.array([engine.catalog.key_of("reg-b", 0), engine.catalog.key_of("aml", 2)], dtype=np.int64)
    mask = np.isin(engine.catalog.keys, keep)
    scope = Scope(frozenset({"reg-b", "aml"}), mask, keys=keep)
    [dense] = reader.dense(unit(TEXTS["reg-b"][1])[None, :], 5, scope)
    assert sorted(k for k, _ in dense) == sorted(keep.tolist())
    assert {k for k, _ in reader.lexical("creditor applicant action", 5, scope)} <= set(keep.tolist())


def test_removing_a_version_drops_its_clauses_from_the_new_generation_only(engine):
    engine.ingest("reg-b", "aml")
    old_reader = engine.reader()
    gone = engine.catalog.key_of("aml", 1)
    engine.catalog.remove("aml")
    engine.commit(removed=["aml"])
    new_reader = engine.reader()
    [dense] = new_reader.dense(unit(TEXTS["aml"][1])[None, :], 10, Scope())
    assert gone not in {k for k, _ in dense} and len(dense) == len(TEXTS["reg-b"])
    assert gone not in {k for k, _ in new_reader.lexical("customer due diligence records", 10, Scope())}
    # a reader of the previous generation still answers from it whole (one generation of grace)
    [before] = old_reader.dense(unit(TEXTS["aml"][1])[None, :], 1, Scope())
    assert before[0][0] == gone


def test_a_commit_edits_what_changed_and_keys_stay_stable(engine):
    engine.ingest("reg-b", "aml")
    kept = engine.catalog.key_of("reg-b", 2)
    engine.catalog.embeddings_read = 0
    engine.catalog.remove("aml")
    added = engine.catalog.add("gdpr", TEXTS["gdpr"])
    engine.commit(added, removed=["aml"])
    assert engine.catalog.embeddings_read == 0  # nothing re-read every vector: the commit added and deleted
    reader = engine.reader()
    [dense] = reader.dense(unit(TEXTS["reg-b"][2])[None, :], 1, Scope())
    assert dense[0][0] == kept  # the same key as before the commit, though rows before it were removed
    [found] = reader.dense(unit(TEXTS["gdpr"][0])[None, :], 1, Scope())
    assert found[0][0] == engine.catalog.key_of("gdpr", 0)


def test_a_staged_generation_is_invisible_until_committed_and_a_dead_commit_leaves_no_trace(engine):
    engine.ingest("reg-b")
    committed = engine.catalog.state
    reader = engine.reader()
    # a writer stages gen 2 with "aml" and dies before the catalog commit
    orphan = engine.catalog.add("aml", TEXTS["aml"])
    engine.store.stage(2, committed, orphan, [], engine.catalog.keys, engine.catalog)
    [dense] = reader.dense(unit(TEXTS["aml"][1])[None, :], 10, Scope())
    assert {k for k, _ in dense} == {k for k, c, _ in engine.catalog.rows if c.version_id == "reg-b"}
    fresh = engine.store.open(committed, np.array([k for k, c, _ in engine.catalog.rows if c.version_id == "reg-b"]),
                              frozenset({"reg-b"}), engine.catalog)
    assert not {s.key for s in orphan} & {k for k, _ in fresh.lexical("customer due diligence", 10, Scope())}
    # the next writer: the catalog never saw "aml" (its keys are not reused), and the engine drops the orphans
    engine.catalog.remove("aml")
    engine.catalog.state = committed
    again = engine.catalog.add("aml", TEXTS["aml"])
    assert not {s.key for s in again} & {s.key for s in orphan}
    engine.commit(again)
    [found] = engine.reader().dense(unit(TEXTS["aml"][1])[None, :], 10, Scope())
    keys = [k for k, _ in found]
    assert len(keys) == len(set(keys)) == len(TEXTS["reg-b"]) + len(TEXTS["aml"])
    assert not set(keys) & {s.key for s in orphan}


def test_an_empty_generation_answers_nothing(engine):
    engine.ingest("reg-b")
    engine.catalog.remove("reg-b")
    engine.commit(removed=["reg-b"])
    reader = engine.reader()
    assert reader.dense(unit("anything")[None, :], 5, Scope()) == [[]]
    assert reader.lexical("creditor", 5, Scope()) == []
