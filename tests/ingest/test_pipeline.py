"""The ingest job: unchanged files cost nothing, changed files replace, prune, bad files skipped by name, atomic runs."""
from __future__ import annotations

import io
import logging
import re

import pytest

from tests.fakes import hashed_word_vectors

from ingest.pipeline import ingest_paths, walk
from rag.store import open_index

REG_A = """# Part 900 - Sample Notices

§ 900.1 Purpose.

(a) This part sets out when a lender must send a notice of action taken.

(b) It applies to every lender that extends consumer credit.

§ 900.2 Notices.

(a) A lender shall notify an applicant within 30 days after receiving a completed application.
"""

REG_B = """# Part 901 - Sample Records

§ 901.1 Retention.

(a) A lender shall keep records of each application for 25 months.
"""


class HashEmbedder:
    """A fast deterministic embedder for plumbing tests: hashed word counts, normalised; counts what it embeds."""

    name = "fake-hash-16"
    dim = 16

    def __init__(self, fail: bool = False):
        self.embedded: list[str] = []
        self.fail = fail

    def embed_documents(self, texts):
        if self.fail:
            raise RuntimeError("embedder crashed")
        self.embedded += list(texts)
        return hashed_word_vectors(texts, self.dim)

    def embed_query(self, text):
        return self.embed_documents([text])[0]


def make_pdf(pages: list[str]) -> bytes:
    """A minimal valid PDF with one line of Helvetica text per page (no PDF library needed)."""
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", None, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for text in pages:
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream.decode()}\nendstream")
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
                       f"/Contents {len(objects)} 0 R >>")
        kids.append(f"{len(objects)} 0 R")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(pages)} >>"
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n{body}\nendobj\n".encode())
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def encrypted_pdf(pages: list[str]) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(pages))))
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "part900.md").write_text(REG_A, encoding="utf-8")
    (folder / "part901.md").write_text(REG_B, encoding="utf-8")
    (folder / ".hidden.md").write_text(REG_B.replace("901", "902"), encoding="utf-8")
    return folder


def texts_in(index) -> set[str]:
    return {c.text for c in index.clauses}


def test_walk_sorts_skips_hidden_and_reports_missing(corpus, tmp_path):
    (corpus / ".git").mkdir()
    (corpus / ".git" / "x.md").write_text("x")
    files, missing = walk([corpus, corpus / "part900.md", tmp_path / "absent"])
    assert [f.name for f in files] == ["part900.md", "part901.md"]
    assert missing == [(str(tmp_path / "absent"), "no such file or directory")]


def test_first_run_adds_and_unchanged_rerun_embeds_nothing(corpus, settings):
    embedder = HashEmbedder()
    progress = []
    first = ingest_paths([corpus], settings, progress=False, embedder=embedder,
                         on_progress=lambda done, total: progress.append((done, total)))
    assert (first.files, first.added, first.unchanged, first.skipped) == (2, 2, 0, ())
    assert first.clauses == len(embedder.embedded) == first.embedded > 0
    assert first.generation == 1
    assert progress == [(1, 2), (2, 2)]
    index = open_index(settings)
    assert len(index.clauses) == first.clauses
    assert any("30 days" in t for t in texts_in(index))

    again = HashEmbedder()
    second = ingest_paths([corpus], settings, progress=False, embedder=again)
    assert (second.added, second.unchanged, second.embedded, second.generation) == (0, 2, 0, 1)
    assert again.embedded == []


def test_changed_file_replaces_its_version_and_clauses(corpus, settings):
    ingest_paths([corpus], settings, progress=False, embedder=HashEmbedder())
    before = open_index(settings)
    old_version = next(v for v in before.documents.values() if v.source_path.endswith("part900.md"))
    (corpus / "part900.md").write_text(REG_A.replace("30 days", "45 days"), encoding="utf-8")
    embedder = HashEmbedder()
    report = ingest_paths([corpus], settings, progress=False, embedder=embedder)
    assert (report.added, report.replaced, report.unchanged) == (1, 1, 1)
    assert all("part901" not in t for t in embedder.embedded)  # only the changed file was embedded
    after = open_index(settings)
    assert old_version.version_id not in after.documents
    assert len(after.documents) == 2
    assert not any(c.version_id == old_version.version_id for c in after.clauses)
    assert any("45 days" in t for t in texts_in(after)) and not any("30 days" in t for t in texts_in(after))
    # The old clauses left the vector index too: every vector hit maps to a live clause.
    query = HashEmbedder().embed_query("lender shall notify an applicant within 30 days")
    for position, _ in after.search(query[None, :], k=len(after.clauses))[0]:
        assert after.clauses[position].version_id in after.documents


def test_prune_removes_versions_whose_files_are_gone(corpus, settings):
    ingest_paths([corpus], settings, progress=False, embedder=HashEmbedder())
    (corpus / "part901.md").unlink()
    kept = ingest_paths([corpus], settings, progress=False, embedder=HashEmbedder())
    assert kept.removed == 0 and len(open_index(settings).documents) == 2
    pruned = ingest_paths([corpus], settings, prune=True, progress=False, embedder=HashEmbedder())
    assert pruned.removed == 1
    index = open_index(settings)
    assert [v.source_path.endswith("part900.md") for v in index.documents.values()] == [True]
    assert not any("25 months" in t for t in texts_in(index))


def test_bad_files_are_named_with_reasons_and_good_ones_ingested(corpus, settings, caplog):
    good_pdf = make_pdf(["Section 1. A lender shall keep a register of complaints.", "Section 2. The register is public."])
    bad = {
        "corrupt.pdf": b"%PDF-1.4\n" + bytes(range(256)) * 8,
        "truncated.pdf": good_pdf[: len(good_pdf) // 3],
        "encrypted.pdf": encrypted_pdf(["Section 1. Secret text."]),
        "empty.txt": b"",
        "image.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 16,
    }
    for name, data in bad.items():
        (corpus / name).write_bytes(data)
    (corpus / "good.pdf").write_bytes(good_pdf)
    with caplog.at_level(logging.WARNING):
        report = ingest_paths([corpus], settings, progress=False, embedder=HashEmbedder())
    skipped = dict((path.rsplit("/", 1)[-1], reason) for path, reason in report.skipped)
    assert set(skipped) == set(bad), report.skipped
    assert all(reason for reason in skipped.values())
    assert re.search("encrypt|password", skipped["encrypted.pdf"], re.I)
    assert re.search("empty|no text", skipped["empty.txt"], re.I)
    for name in bad:
        assert name in caplog.text
    assert report.added == 3
    index = open_index(settings)
    assert any("register of complaints" in t for t in texts_in(index))
    pdf_version = next(v for v in index.documents.values() if v.source_path.endswith("good.pdf"))
    assert pdf_version.pages == 2


def test_failed_run_leaves_the_store_unchanged(corpus, settings):
    ingest_paths([corpus / "part900.md"], settings, progress=False, embedder=HashEmbedder())
    before = open_index(settings)
    with pytest.raises(RuntimeError, match="embedder crashed"):
        ingest_paths([corpus], settings, prune=True, progress=False, embedder=HashEmbedder(fail=True))
    after = open_index(settings)
    assert after.generation == before.generation
    assert after.clauses == before.clauses and after.documents == before.documents


def test_duplicate_content_is_stored_once(corpus, settings):
    (corpus / "copy.md").write_text(REG_B, encoding="utf-8")
    report = ingest_paths([corpus], settings, progress=False, embedder=HashEmbedder())
    assert (report.added, report.unchanged) == (2, 1)


def test_new_file_of_the_same_instrument_and_format_replaces_it(corpus, settings, tmp_path, monkeypatch):
    import dataclasses

    import ingest.identify

    real_identify = ingest.identify.identify
    monkeypatch.setattr(ingest.identify, "identify",
                        lambda path, loaded: dataclasses.replace(real_identify(path, loaded), doc_id="12 CFR 900"))
    ingest_paths([corpus / "part900.md"], settings, progress=False, embedder=HashEmbedder())
    amended = tmp_path / "amendments"
    amended.mkdir()
    (amended / "part900-2024.md").write_text(REG_A.replace("30 days", "60 days"), encoding="utf-8")
    report = ingest_paths([amended], settings, progress=False, embedder=HashEmbedder())
    assert (report.added, report.replaced) == (1, 1)
    index = open_index(settings)
    assert [v.source_path.endswith("part900-2024.md") for v in index.documents.values()] == [True]
    # Two files of one instrument in the same run are both kept: neither replaces the other.
    both = ingest_paths([corpus / "part900.md", amended], settings, progress=False, embedder=HashEmbedder())
    assert (both.added, both.replaced, both.unchanged) == (1, 0, 1)


def test_the_next_file_is_parsed_in_a_thread_while_the_current_one_embeds(corpus, settings, monkeypatch):
    import threading

    from ingest.sandbox import ParseSandbox

    parsed: list[tuple[str, str]] = []
    second_started = threading.Event()
    real_parse = ParseSandbox.parse  # the parse itself runs in the sandbox's worker process; this is its caller

    def parse(self, path, sha, max_clause_chars):
        parsed.append((path.name, threading.current_thread().name))
        if path.name == "part901.md":
            second_started.set()
        return real_parse(self, path, sha, max_clause_chars)

    class Waiting(HashEmbedder):
        def embed_documents(self, texts):
            if "Part 900" in " ".join(texts) or "lender must send" in " ".join(texts):
                # Embedding the first file: the second file's parse must be under way meanwhile.
                assert second_started.wait(10), "the next file was not parsed while this one embedded"
            return super().embed_documents(texts)

    monkeypatch.setattr(ParseSandbox, "parse", parse)
    report = ingest_paths([corpus], settings, progress=False, embedder=Waiting())
    assert report.added == 2 and not report.skipped
    assert [name for name, _ in parsed] == ["part900.md", "part901.md"]  # in the run's order
    assert all(thread.startswith("ingest-parse") for _, thread in parsed)  # never on the embedding thread


def test_the_progress_bar_shows_clauses_per_second(corpus, settings, capsys):
    ingest_paths([corpus], settings, progress=True, embedder=HashEmbedder())
    err = capsys.readouterr().err
    assert re.search(r"\d[\d,]* clauses, [\d.]+ clauses/s, \d+k chars/s", err), err[-500:]
