"""Upload handling: safe names, limits, per-file results, and the ingest subprocess's JSON events."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rag.reports import IngestReport, SkippedFile
from ui import uploads

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name, safe", [
    ("../../etc/passwd.md", "passwd.md"),
    ("C:\\Users\\x\\Reg B.PDF", "Reg_B.pdf"),
    (".hidden.html", "hidden.html"),
    ("a;rm -rf $HOME`.txt", "a_rm_-rf_HOME_.txt"),
    ("反洗钱法(2024).md", "反洗钱法(2024).md"),
    ("new\nline\x00.md", "newline.md"),
    ("...", "upload"),
    ("/etc/cron.d/job.txt", "job.txt"),
    ("..\\..\\..\\Windows\\win.ini.txt", "win.ini.txt"),
    ("／etc／passwd.md", "passwd.md"),  # full-width solidus: NFKC makes it a slash, which cannot survive
    ("rule\x00.pdf\x00.exe.md", "rule.pdf.exe.md"),
    ("CON", "_CON"), ("nul.txt", "_nul.txt"), ("COM1.tar.md", "_COM1.tar.md"), ("LPT9.PDF", "_LPT9.pdf"),
    ("Aux.html", "_Aux.html"), ("console.md", "console.md"),
])
def test_safe_name_stays_inside_the_folder(name, safe):
    assert uploads.safe_name(name) == safe


@pytest.mark.parametrize("name", ["a" * 300 + ".md", "反洗钱法" * 80 + ".pdf", "x." + "y" * 300])
def test_a_long_name_fits_the_file_system(name, tmp_path):
    safe = uploads.safe_name(name)
    assert len(safe) <= 120 and len(safe.encode("utf-8")) <= uploads.MAX_NAME_BYTES
    (tmp_path / safe).write_bytes(b"x")  # no "file name too long"


HOSTILE_NAMES = ["../../escape.md", "/tmp/absolute.md", "C:\\Users\\x\\abs.md", "nul\x00byte.md", "NUL.txt",
                 "CON.md", ".hidden.md", "a/../../b.md"]


def test_hostile_names_are_all_saved_inside_the_uploads_folder(tmp_path):
    folder = tmp_path / "data" / "uploads"
    saved, rejected = uploads.save_uploads([(n, b"# Title\n\nText.") for n in HOSTILE_NAMES], folder, 1, 20)
    assert not rejected and len(saved) == len(HOSTILE_NAMES)
    assert all(s.path.parent == folder and s.path.resolve().parent == folder.resolve() for s in saved)
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert written == sorted(Path("data", "uploads", s.path.name) for s in saved)  # nothing anywhere else
    assert not any(s.path.name.split(".")[0].upper() in uploads.RESERVED for s in saved)
    assert folder.stat().st_mode & 0o777 == 0o700
    assert all(s.path.stat().st_mode & 0o777 == 0o600 for s in saved)


def test_a_request_over_the_file_count_limit_saves_only_the_first(tmp_path):
    files = [(f"doc{i}.md", b"# D\n\nText.") for i in range(5)]
    saved, rejected = uploads.save_uploads(files, tmp_path, 1, 3)
    assert [s.name for s in saved] == ["doc0.md", "doc1.md", "doc2.md"]
    assert [(r.file, r.result) for r in rejected] == [("doc3.md", "rejected"), ("doc4.md", "rejected")]
    assert "limit of 3 files per upload (upload_max_files)" in rejected[0].detail
    assert sorted(p.name for p in tmp_path.iterdir()) == ["doc0.md", "doc1.md", "doc2.md"]


def test_a_file_over_the_size_limit_is_rejected_and_not_written(tmp_path):
    saved, rejected = uploads.save_uploads([("big.pdf", b"%PDF-" + b"x" * (2 << 20)), ("ok.md", b"# A\n\nB.")],
                                           tmp_path, 1, 20)
    assert [s.name for s in saved] == ["ok.md"]
    assert rejected[0].file == "big.pdf" and "over the 1 MB upload limit" in rejected[0].detail
    assert [p.name for p in tmp_path.iterdir()] == ["ok.md"]


def test_two_uploads_that_would_share_a_name_keep_the_first(tmp_path):
    saved, rejected = uploads.save_uploads([("a/rule.md", b"# One\n\nA."), ("b/rule.md", b"# Two\n\nB.")],
                                           tmp_path, 1, 20)
    assert [s.name for s in saved] == ["a/rule.md"] and (tmp_path / "rule.md").read_bytes().startswith(b"# One")
    assert "saved as rule.md" in rejected[0].detail


def test_uploads_are_never_saved_where_the_app_serves_files(tmp_path):
    from rag.errors import ConfigError

    for folder in (uploads.SERVED[0], uploads.SERVED[0] / "uploads"):
        with pytest.raises(ConfigError, match="serves"):
            uploads.save_upload("a.md", b"# A", folder, 1)
    assert not (uploads.SERVED[0] / "uploads").exists() and not (uploads.SERVED[0] / "a.md").exists()
    uploads.check_folder(tmp_path / "uploads")  # anywhere else is fine


def test_check_upload_enforces_type_size_and_emptiness():
    assert uploads.check_upload("a.pdf", 10, 1) == ""
    assert "not accepted" in uploads.check_upload("a.exe", 10, 1)
    assert "over the 1 MB" in uploads.check_upload("a.pdf", 2 * 1024 * 1024, 1)
    assert "empty" in uploads.check_upload("a.md", 0, 1)


def test_save_upload_replaces_a_same_named_file(tmp_path):
    first, _ = uploads.save_upload("reg.md", b"one", tmp_path, 1)
    second, _ = uploads.save_upload("reg.md", b"two", tmp_path, 1)
    assert first.path == second.path and second.path.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["reg.md"]


def test_per_file_results_name_each_outcome(tmp_path):
    saved = [uploads.Saved(n, tmp_path / n, sha) for n, sha in (("a.pdf", "1"), ("b.md", "2"), ("c.md", "3"))]
    outcome = uploads.IngestOutcome(IngestReport(skipped=(SkippedFile(str(tmp_path / "a.pdf"), "encrypted PDF"),)))
    results = uploads.per_file_results(saved, outcome, indexed_before={"2"}, indexed_after={"2", "3"})
    assert [(r.file, r.result, r.detail, r.is_problem) for r in results] == [
        ("a.pdf", "skipped", "encrypted PDF", True), ("b.md", "unchanged", "already indexed", False),
        ("c.md", "indexed", "", False),
    ]


def test_a_file_missing_after_a_failed_run_says_why(tmp_path):
    saved = [uploads.Saved("a.md", tmp_path / "a.md", "1")]
    results = uploads.per_file_results(saved, uploads.IngestOutcome(None, "the index is locked"), set(), set())
    assert results[0].row() == {"File": "a.md", "Saved as": "a.md", "Result": "failed", "Detail": "the index is locked"}


def test_ingest_subprocess_reports_a_missing_path_as_json(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "ingest", "--json-events", "--data-dir", str(tmp_path), str(tmp_path / "nope.pdf")],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert events and events[-1]["event"] == "report", done.stderr
    assert events[-1]["skipped"] == [[str(tmp_path / "nope.pdf"), "no such file or directory"]]
    assert events[-1]["files"] == 0 and done.returncode == 3


def test_run_ingest_turns_a_crash_into_an_error_event(tmp_path):
    (tmp_path / "index").mkdir()
    (tmp_path / "index" / "catalog.sqlite").write_bytes(b"this is not a database")
    doc = tmp_path / "a.md"
    doc.write_text("# A\n\nText.")
    progress = []
    outcome = uploads.run_ingest([doc], tmp_path, on_progress=lambda d, t: progress.append((d, t)))
    assert outcome.report is None and "database" in outcome.error
    assert progress == []  # the run failed opening the index, before it looked at any file


@pytest.mark.slow
def test_run_ingest_reports_progress_per_file_and_a_typed_report(tmp_path):
    docs = []
    for name in ("a.md", "b.md"):
        docs.append(tmp_path / name)
        docs[-1].write_text(f"# {name}\n\n## 1 Scope\n\nThis memo {name} applies to every branch.\n")
    progress = []
    outcome = uploads.run_ingest(docs, tmp_path / "data", on_progress=lambda d, t: progress.append((d, t)))
    assert outcome.error == "" and outcome.report is not None
    assert progress == [(1, 2), (2, 2)]
    assert (outcome.report.files, outcome.report.added, outcome.report.skipped) == (2, 2, ())
    assert outcome.report.generation == 1 and outcome.report.clauses >= 2
