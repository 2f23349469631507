"""UI fixtures: a small real index (real SQLite and FAISS, stand-in vectors) and hand-built answers."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from rag.config import PACKAGED_EMBEDDER, load_settings
from ui import resources
from rag.types import (
    Answer, CharSpan, Citation, Clause, DocumentVersion, Hit, Kind, PageSpan, Sentence, Verdict, page_span_of,
)
from tests.fakes import HashEmbedder

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_PDF = ROOT / "corpus" / "regulations" / "sample_12cfr1002_excerpt_20220101.pdf"
ADVERSE = "(iii) 30 days after taking adverse action on an existing account; or"
REAL_WARM_UP = resources.warm_up
HOSTILE = 'Section 1. Staff must not paste <script>window.pwned=1</script> or <img src=x onerror="window.pwned=2"> into memos.'


def _pdf_text(path: Path) -> tuple[str, tuple[int, ...]]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        pages = [pdf[i].get_textpage().get_text_range().replace("\r\n", "\n") for i in range(len(pdf))]
    finally:
        pdf.close()
    starts, text = [], ""
    for p in pages:
        starts.append(len(text))
        text += p + "\n"
    return text, tuple(starts)


def _clause(version: DocumentVersion, text: str, ordinal: int, needle: str, path: tuple[str, ...], reference: str) -> Clause:
    start = text.index(needle)  # test data only: the real parser records spans as it splits
    span = CharSpan(start, start + len(needle))
    return Clause(
        clause_id=f"{version.version_id}:{ordinal}", version_id=version.version_id, ordinal=ordinal, path=path,
        reference=reference, headings=("§ 1002.9 Notifications.",), text=needle, char_span=span,
        page_span=page_span_of(span, version.page_starts),
    )


def build_index(settings, with_hostile: bool = False) -> dict:
    """Commit a Reg B excerpt (the real sample PDF) and optionally a document with markup in its text."""
    from rag.writer import open_writer

    text, starts = _pdf_text(SAMPLE_PDF)
    regb = DocumentVersion(
        version_id="ab12cd34ef56ab78", doc_id="12 CFR 1002", title="Regulation B (sample excerpt)",
        kind=Kind.REGULATION, jurisdiction="US", language="en", source_path=str(SAMPLE_PDF),
        sha256=hashlib.sha256(SAMPLE_PDF.read_bytes()).hexdigest(),  # the app shows pages only of the indexed file
        page_starts=starts,
    )
    lead = "(1) When notification is required. A creditor shall notify an applicant of"
    clauses = [
        _clause(regb, text, 0, lead, ("§ 1002.9", "(a)", "(1)"), "12 CFR 1002.9(a)(1)"),
        _clause(regb, text, 1, ADVERSE, ("§ 1002.9", "(a)", "(1)", "(iii)"), "12 CFR 1002.9(a)(1)(iii)"),
    ]
    docs = {"regb": (regb, text, clauses)}
    if with_hostile:
        hostile = DocumentVersion(
            version_id="ff00ff00ff00ff00", doc_id="memo-policy", title='Memo policy <b onmouseover="x">',
            kind=Kind.GUIDANCE, jurisdiction="US", language="en", source_path="/nonexistent/memo.md",
            sha256="b" * 64, page_starts=(0,),
        )
        span = CharSpan(0, len(HOSTILE))
        docs["hostile"] = (hostile, HOSTILE, [Clause(
            clause_id="ff00ff00ff00ff00:0", version_id=hostile.version_id, ordinal=0, path=("Section 1",),
            reference="Memo policy, Section 1", headings=(), text=HOSTILE, char_span=span, page_span=PageSpan(1, 1),
        )])
    rng = np.random.default_rng(0)
    # Named as the packaged embedder so a real ingest (the upload tests) may write to the same index.
    with open_writer(settings, PACKAGED_EMBEDDER, 384) as w:
        for version, body, cls in docs.values():
            vecs = rng.standard_normal((len(cls), 384)).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            w.add_version(version, body, cls, vecs)
        w.commit()
    return docs


def citation(clause: Clause, doc: DocumentVersion, marker: str, quote: str, verdict=Verdict.SUPPORTED, score=0.9) -> Citation:
    return Citation(marker=marker, clause_id=clause.clause_id, reference=clause.reference, document_title=doc.title,
                    version_id=doc.version_id, page_span=clause.page_span, quote=quote, verdict=verdict, score=score,
                    effective_from=doc.effective_from, effective_to=doc.effective_to, source_path=doc.source_path)


def regb_answer(docs: dict) -> Answer:
    regb, _, (lead, adverse) = docs["regb"]
    s1 = Sentence("A creditor must notify the applicant within 30 days after taking adverse action on an existing account.",
                  (citation(adverse, regb, "[1]", adverse.text), citation(lead, regb, "[2]", lead.text)), Verdict.SUPPORTED)
    s2 = Sentence("The notice may be given orally.", (citation(lead, regb, "[2]", lead.text, Verdict.UNSUPPORTED, 0.2),),
                  Verdict.UNSUPPORTED, ("not stated in the cited clause",))
    hits = tuple(Hit(c, regb, 1.0 - i / 10) for i, c in enumerate((adverse, lead)))
    return Answer(
        question="How long does a creditor have to notify an applicant after taking adverse action on an existing account?",
        text=f"{s1.text} [1][2] {s2.text} [2]", sentences=(s1, s2), hits=hits, abstained=False,
        backend="openai", model="Qwen2.5-7B-Instruct", timings_ms={"retrieve": 40.0, "generate": 1200.0, "total": 1250.0},
        reasoning="The question asks about existing accounts, so (iii) applies.",
    )


def abstained_answer(question: str) -> Answer:
    return Answer(question=question, text="Searched 2 documents (US regulations) for: net capital; nothing relevant.",
                  sentences=(), hits=(), abstained=True, backend="extractive", model="",
                  timings_ms={"total": 35.0})


@pytest.fixture
def app_env(tmp_path, monkeypatch):
    """Settings via the environment, as `regcite ui` passes them, and Streamlit caches emptied between tests."""
    import streamlit as st

    data = tmp_path / "data"
    monkeypatch.setenv("REGCITE_DATA_DIR", str(data))
    monkeypatch.setenv("REGCITE_AUDIT_KEY_FILE", str(tmp_path / "keys" / "audit.key"))  # never the user's own key
    for key in ("REGCITE_CONFIG", "REGCITE_LLM_BACKEND", "REGCITE_LLM_MODEL", "REGCITE_LLM_BASE_URL"):
        monkeypatch.delenv(key, raising=False)
    # Pages under test skip loading the real embedder ahead of the first question; tests of the real path restore it.
    monkeypatch.setattr("ui.resources.warm_up", lambda settings, index: None)
    st.cache_resource.clear()
    st.cache_data.clear()
    yield load_settings(env={"REGCITE_DATA_DIR": str(data),
                             "REGCITE_AUDIT_KEY_FILE": str(tmp_path / "keys" / "audit.key")})
    st.cache_resource.clear()
    st.cache_data.clear()


# Two versions of one small instrument, as Markdown: 900.1(a) edited only in punctuation, 900.1(b) removed,
# 900.2(a) and (b) amended, 900.3 added.
PART_900_2016 = """# Part 900 - Sample Notices

§ 900.1 Purpose.

(a) This part sets out when a lender must send a notice of action taken.

(b) It applies to every lender that extends consumer credit.

§ 900.2 Notices.

(a) A lender shall notify an applicant of action taken within 30 days after receiving a completed application.

(b) The notice shall be in writing and may carry a fee of no more than $5.
"""
PART_900_2022 = """# Part 900 - Sample Notices

§ 900.1 Purpose.

(a) This part sets out, when a lender must send a notice of action taken.

§ 900.2 Notices.

(a) A lender shall notify an applicant of action taken within 14 days after receiving a completed application.

(b) The notice shall be in writing or electronic and may carry a fee of no more than $10.

§ 900.3 Records.

(a) A lender shall keep a copy of each notice for 25 months.
"""



def ingest_versions(settings, folder: Path, monkeypatch) -> dict:
    """Part 900 effective 2016-07-11 and 2022-01-01, ingested by the real pipeline; the app's embedder is the same
    stand-in, so its answers run the real retrieval, citation and verification. Returns the versions by year."""
    from datetime import date

    from ingest.pipeline import ingest_paths
    from rag.store import open_index

    folder.mkdir(parents=True, exist_ok=True)
    for name, text, day in (("part900_2016.md", PART_900_2016, date(2016, 7, 11)),
                            ("part900_2022.md", PART_900_2022, date(2022, 1, 1))):
        (folder / name).write_text(text, encoding="utf-8")
        report = ingest_paths([folder / name], settings, progress=False, embedder=HashEmbedder(64), effective_from=day)
        assert report.added == 1 and not report.skipped, report
    import rag.pipeline  # imported first with the real loader: a first import under the patch would keep the stand-in

    for where in ("rag.embed.load_embedder", "rag.pipeline.load_embedder"):
        monkeypatch.setattr(where, lambda settings: HashEmbedder(64))
    docs = open_index(settings).documents.values()
    return {d.effective_from.year: d for d in docs}
