"""Hostile and malformed files: each is skipped with its reason or ingested within the parse limits, the valid files
beside them are ingested, and what the index held before is all still there."""
from __future__ import annotations

import os
import pickle
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from ingest.pipeline import ingest_paths
from ingest.sandbox import ParseLimits, ParseSandbox, _restricted_loads
from rag.config import load_settings
from rag.errors import DocumentError
from rag.reports import IngestReport
from rag.store import open_index
from tests.fakes import HashEmbedder
from tests.ingest import hostile

STORED = """# 12 CFR Part 949 - Sample Stored Rule

## § 949.1 Notices.

(a) A creditor shall notify an applicant of action taken within 30 days.
"""

# file in the hostile folder -> ("skipped", words its reason must hold) or ("ingested", "")
TIMED_OUT = "took longer than 60 s to parse (parse_timeout_s)"
EXPECTED = {
    "bomb.pdf": ("skipped", "decompression bomb"),
    "nested.pdf": ("skipped", "pypdf could not read parts of it"),  # the nested resources: no text comes out
    "loop.pdf": ("skipped", "cyclic page references"),
    "empty-pages.pdf": ("skipped", "no text layer"),
    # ~9 s to parse on a quiet 2-core machine; one loaded five times over may reach the time limit instead
    "one-line.html": ("ingested", TIMED_OUT),
    "nested.html": ("skipped", "nested too deeply"),
    "laughs.xhtml": ("ingested", ""),
    "invalid-utf8.txt": ("ingested", ""),
    "archive.pdf": ("skipped", "not a PDF (no %PDF header)"),
    "link-a.md": ("skipped", "symbolic link loop"),
    "link-b.md": ("skipped", "symbolic link loop"),
    "sub/up": ("skipped", "folder that contains it"),
    "valid.md": ("ingested", ""),
    "valid.pdf": ("ingested", ""),
}


@dataclass(frozen=True)
class HostileRun:
    folder: Path
    report: IngestReport
    before: object  # the Index before the hostile run
    after: object
    seconds: float


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory) -> HostileRun:
    base = tmp_path_factory.mktemp("hostile")
    settings = load_settings(env={}, overrides={"data_dir": base / "data",
                                                "audit_key_file": str(base / "keys" / "audit.key")})
    stored = base / "earlier" / "stored.md"
    stored.parent.mkdir()
    stored.write_text(STORED, encoding="utf-8")
    embedder = HashEmbedder()
    ingest_paths([stored], settings, progress=False, embedder=embedder)
    before = open_index(settings)
    folder = hostile.write_folder(base / "hostile")
    t0 = time.perf_counter()
    report = ingest_paths([folder], settings, progress=False, embedder=embedder)
    return HostileRun(folder, report, before, open_index(settings), time.perf_counter() - t0)


def test_every_file_of_the_hostile_folder_is_accounted_for(hostile_run):
    names = {str(Path(p).relative_to(hostile_run.folder)) for p, _ in hostile_run.report.skipped}
    folder = hostile_run.folder.resolve()
    ingested = {str(Path(d.source_path).relative_to(folder))
                for d in hostile_run.after.documents.values() if d.source_path.startswith(str(folder))}
    assert names | ingested == set(EXPECTED) and not names & ingested


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_hostile_file_is_skipped_with_its_reason_or_ingested(hostile_run, name):
    outcome, words = EXPECTED[name]
    reasons = {str(Path(p).relative_to(hostile_run.folder)): r for p, r in hostile_run.report.skipped}
    if outcome == "ingested" and words and name in reasons:  # the one other outcome it may have
        assert reasons[name].startswith(words)
    elif outcome == "skipped":
        assert words in reasons.get(name, ""), reasons.get(name)
    else:
        assert name not in reasons
        source = str((hostile_run.folder / name).resolve())
        assert any(d.source_path == source for d in hostile_run.after.documents.values())


def test_the_run_stays_within_the_limits_and_keeps_what_was_stored(hostile_run):
    before, after = hostile_run.before, hostile_run.after
    kept = {c.clause_id: c.text for c in after.clauses}
    assert all(kept.get(c.clause_id) == c.text for c in before.clauses)  # nothing already stored is lost
    assert set(before.documents) < set(after.documents)
    timed_out = [p for p, r in hostile_run.report.skipped if "parse_timeout_s" in r]
    assert hostile_run.report.added == 5 - len(timed_out) and hostile_run.report.generation == before.generation + 1
    assert [Path(p).name for p in timed_out] in ([], ["one-line.html"])
    assert not [r for _, r in hostile_run.report.skipped if "parse_memory_mb" in r]  # the default memory sufficed
    assert hostile_run.seconds < len(EXPECTED) * ParseLimits().timeout_s / 2


def test_entities_stay_unexpanded_and_the_one_line_file_is_split(hostile_run):
    after = hostile_run.after
    by_name = {Path(d.source_path).name: d for d in after.documents.values()}
    laughs = [c for c in after.clauses if c.version_id == by_name["laughs.xhtml"].version_id]
    assert sum(len(c.text) for c in laughs) < 1000  # ten billion "lol"s were not written out
    if "one-line.html" in by_name:
        one_line = [c for c in after.clauses if c.version_id == by_name["one-line.html"].version_id]
        assert len(one_line) > 20_000 and max(len(c.text) for c in one_line) <= 2400


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.fixture
def big_line(tmp_path) -> Path:
    return _write(tmp_path / "big.html", hostile.one_line_html(20 << 20))


@pytest.fixture
def valid(tmp_path) -> Path:
    return _write(tmp_path / "valid.md", hostile.VALID_MD.encode())


def test_a_file_over_the_memory_limit_is_skipped_and_the_next_parses(big_line, valid):
    with ParseSandbox(ParseLimits(memory_mb=64)) as sandbox:
        with pytest.raises(DocumentError) as caught:
            sandbox.parse(big_line, "0" * 64, 2400)
        assert "64 MB parse memory limit" in caught.value.reason
        assert len(sandbox.parse(valid, "1" * 64, 2400)[2]) == 3
        assert sandbox.started == 2  # the worker that ran out was replaced


def test_a_file_over_the_time_limit_is_skipped_and_the_next_parses(big_line, valid):
    with ParseSandbox(ParseLimits(timeout_s=0.5)) as sandbox:
        t0 = time.perf_counter()
        with pytest.raises(DocumentError) as caught:
            sandbox.parse(big_line, "0" * 64, 2400)
        assert time.perf_counter() - t0 < 10  # the worker's start-up, then half a second
        assert caught.value.reason.startswith("took longer than 0.5 s to parse (parse_timeout_s)")
        sandbox.limits = ParseLimits()  # the next file, on a busy machine, gets the default time
        assert len(sandbox.parse(valid, "1" * 64, 2400)[2]) == 3
        assert sandbox.started == 2  # the worker that ran out of time was killed and replaced


def test_a_file_over_max_file_mb_is_skipped_before_any_parse(tmp_path):
    big = _write(tmp_path / "big.md", b"# Big\n\n" + b"x" * (2 << 20))
    with ParseSandbox(ParseLimits(max_file_mb=1)) as sandbox:
        with pytest.raises(DocumentError, match="2 MB is over the 1 MB file size limit"):
            sandbox.parse(big, "0" * 64, 2400)
        assert sandbox.started == 0


def test_one_worker_parses_file_after_file(tmp_path, valid):
    other = _write(tmp_path / "other.txt", b"Sample\n\nA creditor shall keep records.\n")
    with ParseSandbox() as sandbox:
        for _ in range(3):
            sandbox.parse(valid, "0" * 64, 2400)
            with pytest.raises(DocumentError, match="not a PDF"):
                sandbox.parse(_write(tmp_path / "zip.pdf", hostile.zip_named_pdf()), "1" * 64, 2400)
            sandbox.parse(other, "2" * 64, 2400)
        assert sandbox.started == 1  # a refused file (a DocumentError) keeps the worker


def test_the_parent_refuses_to_unpickle_anything_but_parse_results(valid):
    from ingest.sandbox import parse_file

    with pytest.raises(pickle.UnpicklingError, match="posix.system"):
        _restricted_loads(pickle.dumps(("ok", os.system)))
    result = ("ok", parse_file(valid, "0" * 64, 2400))  # a real result: LoadedText, DocumentInfo, Clauses
    assert _restricted_loads(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)) == result
