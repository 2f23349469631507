"""A store written by the release before versions (catalog schema 1) opens, answers, and migrates on its next write;
a store from a newer release is refused with what to do."""
from __future__ import annotations

import shutil
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from rag.config import load_settings
from rag.errors import IndexIncompatible
from rag.pipeline import open_pipeline
from rag.schema import SCHEMA_VERSION
from rag.store import CATALOG, open_index
from rag.types import Filters, Status
from tests.fakes import HashEmbedder

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "store-v1"
ROOT = Path(__file__).resolve().parents[2]



@pytest.fixture
def old_store(tmp_path):
    shutil.copytree(FIXTURE, tmp_path / "data")
    return load_settings(env={}, overrides={"data_dir": tmp_path / "data"})


def _schema(settings) -> tuple[str | None, set[str]]:
    conn = sqlite3.connect(settings.index_dir / CATALOG)
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        columns = {r[1] for r in conn.execute("PRAGMA table_info(versions)")}
    finally:
        conn.close()
    return (row[0] if row else None), columns


def test_the_fixture_really_is_a_schema_1_store(old_store):
    version, columns = _schema(old_store)
    assert version == "1" and "effective_source" not in columns


def test_a_schema_1_store_opens_read_only_and_answers(old_store):
    index = open_index(old_store)
    assert _schema(old_store)[0] == "1"  # reading changes nothing on disk
    regb = next(v for v in index.documents.values() if v.doc_id == "12 CFR 1002")
    assert (regb.effective_from, regb.status, regb.effective_source) == (date(2022, 1, 1), Status.IN_FORCE, "")
    answer = open_pipeline(old_store, index=index, embedder=HashEmbedder()).answer(
        "How long does a creditor have to notify an applicant after taking adverse action on an existing account?",
        Filters(as_of=date(2024, 1, 1)))
    assert not answer.abstained and answer.citations[0].reference.startswith("12 CFR 1002.9")
    assert answer.citations[0].effective_from == date(2022, 1, 1)


def test_the_next_write_migrates_it_and_keeps_every_stored_version(old_store, tmp_path):
    from ingest.pipeline import ingest_paths

    before = {v.version_id for v in open_index(old_store).documents.values()}
    memo = tmp_path / "memo.md"
    memo.write_text("# Staff memo\n\n## 1. Timing\n\nNotify applicants within 30 days of adverse action.\n")
    report = ingest_paths([memo], old_store, progress=False, embedder=HashEmbedder())
    version, columns = _schema(old_store)
    assert (version, "effective_source" in columns, report.added) == (str(SCHEMA_VERSION), True, 1)
    after = open_index(old_store)
    assert before < set(after.documents) and after.generation == 2


def test_a_store_from_a_newer_release_is_refused_with_what_to_do(old_store):
    conn = sqlite3.connect(old_store.index_dir / CATALOG)
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', '99')")
    conn.commit()
    conn.close()
    with pytest.raises(IndexIncompatible, match=r"newer regcite \(catalog schema 99.*upgrade regcite"):
        open_index(old_store)


def test_every_version_of_an_older_store_is_in_the_default_collection_before_and_after_migrating(old_store,
                                                                                                  tmp_path):
    from ingest.pipeline import ingest_paths

    assert {v.collection for v in open_index(old_store).documents.values()} == {"default"}  # read as 'default'
    memo = tmp_path / "memo.md"
    memo.write_text("# Staff memo\n\n## 1. Timing\n\nNotify applicants within 30 days of adverse action.\n")
    ingest_paths([memo], old_store, progress=False, embedder=HashEmbedder(), collection="internal")
    version, columns = _schema(old_store)
    assert version == "3" and "collection" in columns
    by_title = {v.title: v.collection for v in open_index(old_store).documents.values()}
    assert by_title.pop("Staff memo") == "internal" and set(by_title.values()) == {"default"}
