"""Library page in AppTest: the document table, the clause browser, and uploads ingested by the real subprocess."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.ui.conftest import HOSTILE, ROOT, build_index

APP = str(ROOT / "ui" / "app.py")


def _library() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    return at.switch_page("views/library.py").run()


def test_table_lists_every_document_with_its_metadata(app_env):
    build_index(app_env, with_hostile=True)
    at = _library()

    assert not at.exception
    table = at.dataframe[0].value
    rows = {r["Document"]: r for r in table.to_dict("records")}
    assert set(rows) == {"12 CFR 1002", "memo-policy"}
    regb = rows["12 CFR 1002"]
    assert (regb["Kind"], regb["Jurisdiction"], regb["Language"], regb["Pages"], regb["Clauses"]) == (
        "regulation", "US", "en", 3, 2)
    assert rows["memo-policy"]["Title"] == 'Memo policy <b onmouseover="x">'  # a grid cell: text, not markup
    assert [m.value for m in at.metric][:3] == ["2", "3", "4"]


def test_clause_browser_shows_document_text_literally(app_env):
    build_index(app_env, with_hostile=True)
    at = _library()
    docs = at.selectbox(key="lib_doc")
    docs.select_index(next(i for i, o in enumerate(docs.options) if "memo-policy" in o)).run()

    assert not at.exception
    shown = "\n".join(m.value for m in at.markdown)
    assert "#### Memo policy\\, Section 1" in shown
    # escaped Markdown: Streamlit shows the characters, it never parses them as HTML
    assert "\\<script\\>window\\.pwned\\=1\\<\\/script\\>" in shown
    assert r'\<img src\=x onerror\=\"window\.pwned\=2\"\>' in shown
    assert "<script>" not in shown


def test_clause_browser_walks_sections_and_clauses(app_env):
    docs = build_index(app_env)
    at = _library()
    assert at.selectbox(key="lib_doc").value.doc_id == "12 CFR 1002"
    assert at.selectbox(key=f"lib_sec_{docs['regb'][0].version_id}").options == ["§ 1002.9"]
    radio = next(r for r in at.radio if r.key and r.key.startswith("lib_cl_"))
    # indented by depth, cut to stay on one line
    assert len(radio.options) == 2 and radio.options[1] == "\u2003" * 3 + "(iii)  30 days after taking adverse action on an…"
    radio.set_value(docs["regb"][2][1]).run()

    shown = "\n".join(m.value for m in at.markdown)
    assert "#### 12 CFR 1002\\.9\\(a\\)\\(1\\)\\(iii\\)" in shown
    # the list item is shown under the lead-in it completes
    assert ":gray[\\(1\\) When notification is required\\. A creditor shall notify an applicant of]" in shown
    assert any("p. 2" in c.value for c in at.caption)


def _results(at: AppTest) -> list[dict]:
    """The rows of the ingest results table (the Documents and Versions tabs draw tables too)."""
    return next(d.value for d in at.dataframe if "Result" in d.value.columns).to_dict("records")


def _upload(at: AppTest, files: list[tuple[str, bytes, str]]) -> AppTest:
    at.file_uploader(key="lib_upload").set_value(files).run()
    next(b for b in at.button if b.label == "Ingest uploaded files").click().run()
    return at


def _generation(settings) -> int:
    from rag.store import open_index

    return open_index(settings).generation


def test_corrupt_pdf_upload_shows_its_reason_and_leaves_index_unchanged(app_env):
    build_index(app_env)
    before = _generation(app_env)
    at = _upload(_library(), [("Reg B amendment (2024).pdf", b"%PDF-1.7\n1 0 obj <<\ntruncated", "application/pdf")])

    assert not at.exception
    rows = _results(at)
    row = next(r for r in rows if r.get("File") == "Reg B amendment (2024).pdf")
    assert row["Result"] == "skipped" and row["Detail"], row
    assert row["Saved as"] == "Reg_B_amendment_(2024).pdf"
    assert any("1 skipped" in w.value for w in at.warning)
    assert _generation(app_env) == before
    assert (app_env.uploads_dir / "Reg_B_amendment_(2024).pdf").is_file()


def test_oversized_upload_is_refused_before_ingest(app_env, monkeypatch):
    monkeypatch.setenv("REGCITE_UPLOAD_MAX_MB", "1")
    build_index(app_env)
    at = _upload(_library(), [("big.txt", b"x" * (1024 * 1024 + 1), "text/plain")])

    rows = _results(at)
    assert rows[0]["Result"] == "rejected" and "over the 1 MB upload limit" in rows[0]["Detail"]
    assert not app_env.uploads_dir.exists() or not any(app_env.uploads_dir.iterdir())
    assert _generation(app_env) == 1


def test_disallowed_type_never_reaches_the_app(app_env):
    build_index(app_env)
    at = _library()
    at.file_uploader(key="lib_upload").set_value([("run.sh", b"#!/bin/sh\n", "text/x-sh")]).run()
    assert "Invalid file extension" in at.exception[0].message  # Streamlit's own check, before our code runs
    assert not app_env.uploads_dir.exists()


@pytest.mark.slow
def test_good_upload_is_indexed_and_served_and_an_amendment_replaces_it(app_env):
    """The real ingest subprocess (packaged embedder): new file indexed, the app serves the new generation at once."""
    build_index(app_env)
    memo = b"# Staff memo\n\n## 1. Timing\n\nNotify applicants within 30 days of adverse action.\n"
    at = _upload(_library(), [("staff memo.md", memo, "text/markdown")])

    assert not at.exception
    rows = _results(at)
    assert [(r["File"], r["Saved as"], r["Result"]) for r in rows] == [("staff memo.md", "staff_memo.md", "indexed")]
    assert any("1 added" in s.value and "generation 2" in s.value for s in at.success)
    assert _generation(app_env) == 2
    # No further interaction: the page reran itself after the commit, so the Documents tab already shows it.
    assert "staff_memo" in {r["Document"] for r in at.dataframe[0].value.to_dict("records")}
    assert [m.value for m in at.metric][3] == "2"  # index generation now served

    amended = memo.replace(b"30 days", b"14 days")
    at.file_uploader(key="lib_upload").set_value([("staff memo.md", amended, "text/markdown")]).run()
    next(b for b in at.button if b.label == "Ingest uploaded files").click().run()
    assert any("1 replaced" in s.value for s in at.success)
    assert (app_env.uploads_dir / "staff_memo.md").read_bytes() == amended


def test_overview_names_the_question_model_when_a_tuned_one_searches_the_index(app_env, tmp_path, monkeypatch):
    import json

    build_index(app_env)
    assert "questions embedded with" not in "\n".join(c.value for c in _library().caption)

    tuned = tmp_path / "minilm-tuned"
    tuned.mkdir()
    (tuned / "regcite-tuning.json").write_text(json.dumps({"base_model": "all-MiniLM-L6-v2",
                                                           "document_model": "all-MiniLM-L6-v2",
                                                           "hyperparameters": {"side": "query"}}))
    monkeypatch.setenv("REGCITE_EMBED_MODEL", str(tuned))
    import streamlit as st

    st.cache_resource.clear()
    hub = next(c.value for c in _library().caption if c.value.startswith(":material/hub:"))
    # The index still holds the base model's vectors; the tuned folder only embeds the questions.
    assert hub.startswith(":material/hub: embedded with all\\-MiniLM\\-L6\\-v2 (384 dimensions); questions embedded with")
    assert hub.endswith("minilm\\-tuned")


@pytest.mark.slow
def test_an_upload_takes_the_effective_date_the_user_states(app_env):
    """The Library's date reaches the ingest subprocess: the version is dated as stated, and says who stated it."""
    from datetime import date

    from rag.store import open_index

    build_index(app_env)
    at = _library()
    at.date_input(key="lib_effective_from").set_value(date(2024, 3, 1)).run()
    memo = b"# Branch policy\n\n## 1. Timing\n\nNotify applicants within 30 days of adverse action.\n"
    at = _upload(at, [("branch policy.md", memo, "text/markdown")])
    assert not at.exception and any("1 added" in s.value for s in at.success)
    policy = next(v for v in open_index(app_env).documents.values() if v.source_path.endswith("branch_policy.md"))
    assert (policy.effective_from, policy.effective_source) == (date(2024, 3, 1), "user")
