"""`regcite ingest`, `docs` and `search` in-process with the real packaged embedder; a light, fast `--help`."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from regcite.cli import main

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "faiss", "transformers", "sentence_transformers", "streamlit", "llama_index", "sqlalchemy",
         "psycopg", "argon2", "cryptography")

NOTICES = """# Part 900 - Notices of Action Taken

§ 900.9 Notifications.

(a) A creditor shall notify an applicant of action taken within 30 days after receiving a completed application.

(b) A creditor shall give reasons for adverse action in writing.
"""

ERASURE = """# Regulation on Data

Article 17 Right to erasure

1. The data subject shall have the right to obtain from the controller the erasure of personal data where the
data subject withdraws consent on which the processing is based.
"""


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "notices.md").write_text(NOTICES, encoding="utf-8")
    (folder / "erasure.md").write_text(ERASURE, encoding="utf-8")
    return folder


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_search_before_any_ingest_says_how_to_start(tmp_path, capsys):
    code, _, err = cli(capsys, "--data-dir", str(tmp_path / "data"), "search", "anything")
    assert code == 1 and "regcite ingest" in err


def test_ingest_missing_path_is_a_usage_error(tmp_path, capsys):
    code, _, err = cli(capsys, "--data-dir", str(tmp_path / "data"), "ingest", str(tmp_path / "nope"))
    assert code == 2 and "nope" in err


def test_ingest_docs_and_search_with_the_packaged_embedder(corpus, tmp_path, capsys):
    data = str(tmp_path / "data")
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf")
    code, out, err = cli(capsys, "--data-dir", data, "ingest", str(corpus), "--no-progress")
    assert code == 3  # committed, but a file was skipped
    assert "2 added" in out and "broken.pdf" in out and "1 skipped" in out

    code, out, _ = cli(capsys, "--data-dir", data, "ingest", str(corpus), "--no-progress", "--json")
    report = json.loads(out)
    assert (report["unchanged"], report["embedded"], report["added"]) == (2, 0, 0)

    code, out, _ = cli(capsys, "--data-dir", data, "docs", "--json")
    instruments = json.loads(out)
    versions = [v for i in instruments for v in i["versions"]]
    assert code == 0 and len(instruments) == 2 and all(v["clauses"] > 0 and v["pages"] == 1 for v in versions)
    assert {(v["effective_from"], v["status"]) for v in versions} == {(None, "dates_unknown")}
    code, out, _ = cli(capsys, "--data-dir", data, "docs")
    assert "2 documents, 2 versions" in out and "effective_from" in out.splitlines()[1]

    code, out, _ = cli(capsys, "--data-dir", data, "search", "When must the creditor notify the applicant?", "-k", "2", "--json")
    hits = json.loads(out)
    assert code == 0 and len(hits) == 2
    assert "30 days" in hits[0]["text"] and hits[0]["pages"] == "p. 1"
    erasure_doc = next(i["doc_id"] for i in instruments if "erasure" in i["versions"][0]["source_path"])
    code, out, _ = cli(capsys, "--data-dir", data, "search", "When must the creditor notify the applicant?",
                       "--doc", erasure_doc, "--json")
    assert code == 0 and {h["doc_id"] for h in json.loads(out)} == {erasure_doc}

    code, out, _ = cli(capsys, "--data-dir", data, "search", "withdraws consent erasure", "-k", "1")
    assert code == 0 and out.startswith("1. ") and "score" in out


def test_search_with_another_model_is_refused(corpus, tmp_path, capsys, monkeypatch):
    data = str(tmp_path / "data")
    assert cli(capsys, "--data-dir", data, "ingest", str(corpus / "notices.md"), "--no-progress")[0] == 0
    other = tmp_path / "other-model"
    other.mkdir()
    monkeypatch.setenv("REGCITE_EMBED_MODEL", str(other))
    code, _, err = cli(capsys, "--data-dir", data, "search", "notify")
    assert code == 1 and "all-MiniLM-L6-v2" in err and str(other) in err


def _imported_heavy(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint('HEAVY:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stdout.splitlines() if x.startswith("HEAVY:"))
    return [m for m in line.removeprefix("HEAVY:").split(",") if m]


def test_importing_the_core_loads_no_heavy_library():
    assert _imported_heavy("import rag, rag.config, rag.types, rag.errors, rag.store, rag.embed, ingest.pipeline") == []


def test_help_loads_no_heavy_library_and_lists_the_commands():
    """The import-weight check measures what makes --help slow; its wall time is for benchmarks, not unit tests."""
    code = "from regcite.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    assert _imported_heavy(code + "\nimport rag.pipeline, rag.answer, rag.prompt, rag.models") == []
    script = Path(sys.executable).with_name("regcite")
    command = [str(script), "--help"] if script.exists() else [sys.executable, "-m", "regcite.cli", "--help"]
    out = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert all(name in out.stdout for name in ("ingest", "docs", "search", "ask", "ui", "eval", "tune-embedder",
                                               "users", "review", "audit", "--user NAME"))
