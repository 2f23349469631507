"""Small hand-built Reg B and 反洗钱法 clauses, hits and a lexical retriever for the answering tests."""
from __future__ import annotations

from rag.types import CharSpan, Clause, DocumentVersion, Filters, Hit, Kind, PageSpan
from rag.versions import unavailable_on
from rag.text import content_tokens

REG_B = DocumentVersion(
    version_id="regb000000000001", doc_id="12 CFR 1002", title="Equal Credit Opportunity Act (Regulation B)",
    kind=Kind.REGULATION, jurisdiction="US", language="en", source_path="/tmp/regb.pdf", sha256="0" * 64,
    page_starts=(0, 1000, 2000),
)
AML = DocumentVersion(
    version_id="aml0000000000001", doc_id="反洗钱法", title="中华人民共和国反洗钱法", kind=Kind.REGULATION,
    jurisdiction="CN", language="zh", source_path="/tmp/aml.pdf", sha256="1" * 64, page_starts=(0,),
)

_TEXTS = [
    (REG_B, ("§ 1002.9", "(a)", "(1)"), "12 CFR 1002.9(a)(1)",
     "(1) When notification is required. A creditor shall notify an applicant of action taken within:", 14),
    (REG_B, ("§ 1002.9", "(a)", "(1)", "(i)"), "12 CFR 1002.9(a)(1)(i)",
     "(i) 30 days after receiving a completed application concerning the creditor's approval of, counteroffer to, "
     "or adverse action on the application;", 14),
    (REG_B, ("§ 1002.9", "(a)", "(1)", "(ii)"), "12 CFR 1002.9(a)(1)(ii)",
     "(ii) 30 days after taking adverse action on an incomplete application, unless notice is provided in "
     "accordance with paragraph (c) of this section;", 14),
    (REG_B, ("§ 1002.9", "(a)", "(1)", "(iii)"), "12 CFR 1002.9(a)(1)(iii)",
     "(iii) 30 days after taking adverse action on an existing account; or", 14),
    (REG_B, ("§ 1002.9", "(a)", "(1)", "(iv)"), "12 CFR 1002.9(a)(1)(iv)",
     "(iv) 90 days after notifying the applicant of a counteroffer if the applicant does not expressly accept or "
     "use the credit offered.", 15),
    (REG_B, ("§ 1002.12", "(b)", "(1)"), "12 CFR 1002.12(b)(1)",
     "(1) Applications. For 25 months (12 months for business credit) after the date that a creditor notifies an "
     "applicant of action taken on an application, the creditor shall retain records.", 22),
    (AML, ("第二十九条",), "反洗钱法 第二十九条",
     "第二十九条 金融机构应当按照规定建立客户身份资料和交易记录保存制度。客户身份资料在业务关系结束后、"
     "客户交易信息在交易结束后，应当至少保存十年。", 1),
]


def _clauses() -> list[tuple[Clause, DocumentVersion]]:
    out = []
    for i, (doc, path, ref, text, page) in enumerate(_TEXTS):
        clause = Clause(clause_id=f"{doc.version_id}:{i}", version_id=doc.version_id, ordinal=i, path=path,
                        reference=ref, headings=("§ 1002.9 Notifications.",) if "1002.9" in ref else (),
                        text=text, char_span=CharSpan(i * 100, i * 100 + len(text)), page_span=PageSpan(page, page))
        out.append((clause, doc))
    return out


CLAUSES = _clauses()


def clause(reference: str) -> Clause:
    return next(c for c, _ in CLAUSES if c.reference == reference)


def hit(reference: str, score: float = 1.0, dense: float | None = None) -> Hit:
    c, d = next((c, d) for c, d in CLAUSES if c.reference == reference)
    return Hit(c, d, score, dense_score=dense, lexical_score=score)


class LexicalRetriever:
    """Ranks the fixture clauses by shared content tokens; exposes parent_lead_in like rag.retrieve.Retriever."""

    def __init__(self, clauses=None):
        self.clauses = clauses or CLAUSES
        self.calls: list[tuple[str, Filters, int]] = []

    def retrieve(self, question: str, filters: Filters = Filters(), k: int | None = None) -> list[Hit]:
        self.calls.append((question, filters, k))
        wanted = content_tokens(question)
        scored = []
        for c, d in self.clauses:
            if not filters.admits(d):
                continue
            s = len(wanted & content_tokens(c.text)) / max(len(wanted), 1)
            if s > 0:
                scored.append(Hit(c, d, s, lexical_score=s, via="lexical"))
        return sorted(scored, key=lambda h: h.score, reverse=True)[: k or 8]

    def admitted_doc_ids(self, filters: Filters) -> list[str]:
        return sorted({d.doc_id for _, d in self.clauses if filters.admits(d)})

    def unavailable_on(self, question: str, filters: Filters) -> list:
        if filters.as_of is None:
            return []
        documents = {d.version_id: d for _, d in self.clauses}
        return unavailable_on(documents, {d.doc_id for d in documents.values() if filters.without_date().admits(d)},
                              filters.as_of)

    def parent_lead_in(self, child: Clause) -> Clause | None:
        for c, _ in self.clauses:
            if c.version_id == child.version_id and c.path == child.path[:-1] and len(child.path) > 1:
                return c
        return None
