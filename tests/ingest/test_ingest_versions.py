"""Ingesting versions: every version kept, dates from the user over the document, corrections replace, the impact
of an amendment reported, and the clause alignment stored once."""
from __future__ import annotations

import json
from datetime import date

import pytest

from ingest.manifest import read_manifest
from ingest.pipeline import ingest_paths
from rag.errors import ConfigError
from rag.store import open_index
from rag.types import ChangeKind, Filters, Status
from rag.versions import chain
from tests.fakes import HashEmbedder



def rule(effective: str | None, retention: str = "25 months", extra: str = "") -> str:
    stated = f"Effective date: {effective}\n\n" if effective else ""
    return (f"# 12 CFR Part 900 — Sample Records Rule\n\n{stated}## § 900.1 Retention.\n\n"
            f"(a) A creditor shall retain records of each application for {retention}.\n\n"
            f"(b) A creditor shall retain notices of action taken for {retention}.\n\n{extra}")


@pytest.fixture
def versions(tmp_path):
    folder = tmp_path / "versions"
    folder.mkdir()
    (folder / "part900_2011.md").write_text(rule("2011-12-30"), encoding="utf-8")
    (folder / "part900_2016.md").write_text(rule("2016-07-11", "24 months"), encoding="utf-8")
    (folder / "part900_2022.md").write_text(
        rule("2022-01-01", "24 months", "(c) A creditor shall retain records of applications made by telephone.\n"),
        encoding="utf-8")
    return folder


def _chain(settings):
    index = open_index(settings)
    return index, [(v.effective_from, v.effective_to, v.status) for v in chain(index.documents, "12 CFR 900")]


def test_every_version_is_kept_and_chained_by_date_in_any_ingest_order(versions, settings, tmp_path):
    files = sorted(versions.iterdir())
    report = ingest_paths([versions], settings, progress=False, embedder=HashEmbedder())
    one_run = _chain(settings)[1]
    assert report.added == 3 and report.replaced == 0
    assert one_run == [(date(2011, 12, 30), date(2016, 7, 11), Status.SUPERSEDED),
                       (date(2016, 7, 11), date(2022, 1, 1), Status.SUPERSEDED),
                       (date(2022, 1, 1), None, Status.IN_FORCE)]
    other = settings.replace(data_dir=tmp_path / "other")
    for path in (files[2], files[0], files[1]):  # newest first, then the oldest, then the middle one
        ingest_paths([path], other, progress=False, embedder=HashEmbedder())
    assert _chain(other)[1] == one_run
    again = HashEmbedder()
    rerun = ingest_paths([versions], settings, progress=False, embedder=again)
    assert (rerun.unchanged, rerun.added, again.embedded) == (3, 0, [])


def test_an_amendment_reports_its_impact_and_its_alignment_is_stored(versions, settings):
    files = sorted(versions.iterdir())
    ingest_paths(files[:1], settings, progress=False, embedder=HashEmbedder())
    report = ingest_paths(files[1:2], settings, progress=False, embedder=HashEmbedder())
    impact, = report.impacts
    assert (impact.doc_id, impact.from_effective, impact.to_effective) == ("12 CFR 900", date(2011, 12, 30),
                                                                          date(2016, 7, 11))
    index = open_index(settings)
    old, new = chain(index.documents, "12 CFR 900")
    kinds = {index.clause(c.from_clause_id).reference: c.kind for c in index.changes(old.version_id, new.version_id)
             if c.from_clause_id}
    assert kinds["12 CFR 900.1(a)"] is ChangeKind.MODIFIED and kinds["12 CFR 900.1(b)"] is ChangeKind.MODIFIED
    # the two retention periods, and the preamble whose stated effective date changed
    assert (impact.substantive, impact.added, impact.removed) == (3, 0, 0), kinds


def test_a_stated_date_wins_over_the_documents_and_an_unknown_date_stays_unknown(versions, settings, tmp_path):
    undated = tmp_path / "memo.md"
    undated.write_text(rule(None), encoding="utf-8")
    ingest_paths([undated], settings, progress=False, embedder=HashEmbedder())
    index, got = _chain(settings)
    assert got == [(None, None, Status.DATES_UNKNOWN)]
    assert list(index.documents.values())[0].effective_source == ""
    report = ingest_paths([versions / "part900_2016.md"], settings, progress=False, embedder=HashEmbedder(),
                          effective_from=date(2016, 8, 1))
    assert report.added == 1
    index, got = _chain(settings)
    dated = [v for v in chain(index.documents, "12 CFR 900") if v.effective_from]
    assert [(v.effective_from, v.effective_source) for v in dated] == [(date(2016, 8, 1), "user")]
    assert got[-1][2] is Status.UNPLACED  # the undated file cannot be placed beside a dated version


def test_a_manifest_states_dates_and_document_ids_relative_to_itself(versions, tmp_path, settings):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({
        "versions/part900_2011.md": {"effective_from": "2012-01-01", "doc_id": "Sample rule"},
        "versions/part900_2016.md": "2016-07-12",
    }))
    stated = read_manifest(manifest)
    ingest_paths([versions / "part900_2011.md", versions / "part900_2016.md"], settings, progress=False,
                 embedder=HashEmbedder(), stated=stated)
    index = open_index(settings)
    got = sorted((v.doc_id, v.effective_from) for v in index.documents.values())
    assert got == [("12 CFR 900", date(2016, 7, 12)), ("Sample rule", date(2012, 1, 1))]
    (tmp_path / "bad.json").write_text('{"a.md": "July 2016"}')
    with pytest.raises(ConfigError, match="not a date"):
        read_manifest(tmp_path / "bad.json")


def test_a_file_with_the_same_date_and_format_but_other_text_replaces_it_as_a_correction(versions, settings, tmp_path):
    ingest_paths([versions / "part900_2016.md"], settings, progress=False, embedder=HashEmbedder())
    fixed = tmp_path / "part900_2016_corrected.md"
    fixed.write_text(rule("2016-07-11", "24 months") + "\n", encoding="utf-8")
    report = ingest_paths([fixed], settings, progress=False, embedder=HashEmbedder())
    assert (report.added, report.replaced) == (1, 1)
    assert any("as a correction of 12 CFR 900 effective 2016-07-11" in n for n in report.notes)
    index, got = _chain(settings)
    assert [v.source_path for v in index.documents.values()] == [str(fixed.resolve())]


def test_the_default_date_is_today_and_a_superseded_version_answers_only_when_asked(versions, settings):
    from rag.pipeline import open_pipeline

    ingest_paths([versions], settings, progress=False, embedder=HashEmbedder())
    pipeline = open_pipeline(settings, embedder=HashEmbedder())
    question = "How long must a creditor retain records of each application?"
    today = pipeline.search(question, Filters(as_of=date.today()))
    then = pipeline.search(question, Filters(as_of=date(2012, 6, 1)))
    assert {h.document.effective_from for h in today} == {date(2022, 1, 1)}
    assert {h.document.effective_from for h in then} == {date(2011, 12, 30)}
    assert "25 months" in then[0].clause.text and "24 months" in today[0].clause.text


def test_a_manifest_in_the_shared_corpus_shape_dates_every_format_of_a_version(tmp_path):
    manifest = tmp_path / "MANIFEST.json"
    manifest.write_text(json.dumps([{"primary": "regulations/a.pdf", "effective_date": "2022-01-01",
                                     "other_formats": ["formats/a.html"]}]))
    stated = read_manifest(manifest)
    assert {p.relative_to(tmp_path).as_posix(): s.effective_from for p, s in stated.items()} == {
        "regulations/a.pdf": date(2022, 1, 1), "formats/a.html": date(2022, 1, 1)}
