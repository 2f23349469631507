"""The app's cached resources: the index snapshot it serves across commits, failures and a running ingest."""
from __future__ import annotations

import numpy as np
import pytest

from rag.config import PACKAGED_EMBEDDER
from rag.errors import IndexMissing, ModelMismatch
from rag.types import CharSpan, Clause, DocumentVersion, Kind, PageSpan
from tests.ui.conftest import build_index
from ui import resources


def _memo(n: int) -> tuple[DocumentVersion, str, list[Clause]]:
    version = DocumentVersion(
        version_id=f"{n:016x}", doc_id=f"memo-{n}", title=f"Memo {n}", kind=Kind.GUIDANCE, jurisdiction="US",
        language="en", source_path=f"/nonexistent/memo-{n}.md", sha256=f"{n:064x}", page_starts=(0,),
    )
    text = f"Memo {n}: notify within 30 days."
    clause = Clause(clause_id=f"{version.version_id}:0", version_id=version.version_id, ordinal=0, path=("Memo",),
                    reference=f"Memo {n}", headings=(), text=text, char_span=CharSpan(0, len(text)),
                    page_span=PageSpan(1, 1))
    return version, text, [clause]


def _add(settings, n: int, commit: bool = True):
    """Another ingest's writer adding one document; returns the writer still open when commit is False."""
    from rag.writer import open_writer

    writer = open_writer(settings, PACKAGED_EMBEDDER, 384)
    w = writer.__enter__()
    vector = np.zeros((1, 384), np.float32)
    vector[0, n % 384] = 1.0
    w.add_version(*_memo(n), vector)
    if commit:
        w.commit()
        writer.__exit__(None, None, None)
    return writer


def test_no_index_yet_serves_nothing(app_env):
    assert resources.committed_generation(app_env) == 0
    assert resources.index(app_env) is None
    with pytest.raises(IndexMissing, match="Library page"):
        resources.answer(app_env, "q")


def test_a_new_generation_is_picked_up_on_the_next_run(app_env):
    build_index(app_env)
    first = resources.index(app_env)
    assert first.generation == 1 and resources.index(app_env) is first  # opened once, then cached

    _add(app_env, 7)
    second = resources.index(app_env)
    assert second.generation == 2 and "0000000000000007" in second.documents
    assert first.generation == 1 and "0000000000000007" not in first.documents  # a snapshot never changes


def test_the_last_good_index_is_served_while_an_ingest_is_writing(app_env):
    build_index(app_env)
    before = resources.index(app_env)
    writer = _add(app_env, 8, commit=False)  # holds the writer lock, nothing committed yet
    try:
        during = resources.index(app_env)
        assert during is before and len(during.documents) == 1
        writer.commit()  # Writer.commit, on the open writer
    finally:
        writer.__exit__(None, None, None)
    after = resources.index(app_env)
    assert after.generation == 2 and len(after.documents) == 2


def test_a_newer_generation_that_fails_to_open_keeps_the_previous_one(app_env, monkeypatch):
    build_index(app_env)
    good = resources.index(app_env)
    _add(app_env, 9)

    def broken(settings):
        raise ModelMismatch("index built with model-a, configured model-b")

    monkeypatch.setattr("rag.store.open_index", broken)
    assert resources.index(app_env) is good
    assert "model-a" in resources.index_error(app_env)

    monkeypatch.undo()
    assert resources.index(app_env).generation == 2
    assert resources.index_error(app_env) == ""
