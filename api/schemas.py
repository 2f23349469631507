"""The API's request and response models: /openapi.json is generated from them, and every response is built as one."""
from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

KindName = Literal["regulation", "guidance", "report", "filing"]
VerdictName = Literal["supported", "partial", "unsupported"]
StatusName = Literal["in_force", "superseded", "not_yet_in_force", "dates_unknown", "unplaced", "alternate"]
StateName = Literal["pending", "second_review", "disputed", "approved", "approved_with_corrections", "rejected"]
OutcomeName = Literal["approved", "approved_with_corrections", "rejected"]
ReasonName = Literal["wrong_clause", "does_not_support", "outdated_version", "other"]

MAX_QUESTION = 4000  # characters; a question, not a document
MAX_K = 100


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    code: str = Field(description="machine-readable: bad_input, unauthorized, forbidden, not_found, index_missing, …")
    message: str = Field(description="what went wrong and what to do next")
    details: list[dict] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class FiltersIn(Strict):
    doc_ids: list[str] = Field(default=[], max_length=50, description="only these instruments (`GET /v1/documents`)")
    jurisdictions: list[str] = Field(default=[], max_length=20, description="US, EU, CN …")
    kinds: list[KindName] = Field(default=[], max_length=4)
    languages: list[str] = Field(default=[], max_length=10, description="document language: en, zh")


class AskRequest(Strict):
    question: str = Field(min_length=1, max_length=MAX_QUESTION, pattern=r"\S")
    filters: FiltersIn = FiltersIn()
    as_of: date | None = Field(default=None, description="answer from the versions in force that day (default: today)")
    k: int | None = Field(default=None, ge=1, le=MAX_K, description="clauses to retrieve (default: settings.top_k)")
    stream: bool = Field(default=False, description="server-sent events: `token` events with the text as it comes, "
                                                    "then one `answer` event with the verified answer (or `error`)")


class PageSpanOut(BaseModel):
    first: int
    last: int


class CitationOut(BaseModel):
    marker: str = Field(description="as written in the answer's text, e.g. [1]")
    clause_id: str
    reference: str = Field(description="e.g. 12 CFR 1002.9(a)(1)(iii)")
    document_title: str
    version_id: str
    pages: str = Field(description="p. 14, pp. 3-4")
    page_span: PageSpanOut
    quote: str = Field(description="the clause's words that support the sentence")
    verdict: VerdictName
    score: float
    effective_from: date | None = Field(description="the cited version's dates; null where open or unknown")
    effective_to: date | None
    source_path: str


class SentenceOut(BaseModel):
    text: str
    verdict: VerdictName
    problems: list[str]
    citations: list[CitationOut]


class RetrievedOut(BaseModel):
    rank: int
    clause_id: str
    version_id: str
    doc_id: str
    reference: str
    score: float
    via: str


class FiltersOut(BaseModel):
    doc_ids: list[str]
    jurisdictions: list[str]
    kinds: list[KindName]
    languages: list[str]
    as_of: date | None


class DecisionSummary(BaseModel):
    decision_id: str
    reviewer: str
    decided_at: str
    outcome: OutcomeName
    comment: str


class AnswerOut(BaseModel):
    """An answer as recorded: what POST /v1/ask returns and GET /v1/answers/{answer_id} shows again."""

    answer_id: str
    asked_at: str
    user: str
    entry: str = Field(description="where it was asked: api, cli, app")
    question: str
    filters: FiltersOut
    as_of: date | None
    text: str = Field(description="the verified answer with its markers")
    sentences: list[SentenceOut]
    citations: list[CitationOut] = Field(description="every sentence's citations, in reading order")
    abstained: bool
    backend: str
    model: str
    fallback_reason: str = Field(description="set when the configured backend failed and the extractive one answered")
    notes: list[str]
    timings_ms: dict[str, float]
    reasoning: str
    dropped_markers: int
    index_generation: int
    retrieved: list[RetrievedOut]
    state: StateName = Field(description="where the answer stands in review")
    decisions: list[DecisionSummary]


class HitOut(BaseModel):
    rank: int
    clause_id: str
    reference: str
    doc_id: str
    version_id: str
    document_title: str
    kind: KindName
    jurisdiction: str
    language: str
    pages: str
    score: float
    dense_score: float | None
    lexical_score: float | None
    via: str
    effective_from: date | None
    effective_to: date | None
    status: StatusName
    text: str


class SearchOut(BaseModel):
    query: str
    as_of: date | None
    hits: list[HitOut]


class VersionOut(BaseModel):
    version_id: str
    effective_from: date | None
    effective_to: date | None
    effective_source: str | None
    status: StatusName
    pages: int
    clauses: int
    ingested_at: str
    source_path: str


class DocumentOut(BaseModel):
    doc_id: str
    title: str
    kind: KindName
    jurisdiction: str
    language: str
    versions: list[VersionOut]


class DocumentsOut(BaseModel):
    index_generation: int
    documents: list[DocumentOut]


class ClauseOut(BaseModel):
    clause_id: str
    reference: str
    path: list[str]
    headings: list[str]
    text: str
    pages: str
    page_span: PageSpanOut
    part: int
    doc_id: str
    version_id: str
    document_title: str
    effective_from: date | None
    effective_to: date | None
    status: StatusName


class DiffSide(BaseModel):
    version_id: str
    effective_from: date | None


class ChangeOut(BaseModel):
    kind: Literal["added", "removed", "modified", "moved"]
    editorial: bool
    from_ref: str | None
    to_ref: str | None
    old_text: str | None
    new_text: str | None


class DiffOut(BaseModel):
    doc_id: str
    from_version: DiffSide
    to_version: DiffSide
    summary: dict[str, int]
    changes: list[ChangeOut]


class RulingIn(Strict):
    sentence: int = Field(ge=1, le=10_000, description="1-based sentence number")
    marker: str = Field(pattern=r"^\[\d{1,4}\]$", description="the citation's marker in that sentence, e.g. [1]")
    action: Literal["accept", "reject", "correct"]
    reason: ReasonName | None = Field(default=None, description="required to reject")
    correction: str | None = Field(default=None, max_length=500, description="to correct: the right clause's id")
    comment: str = Field(default="", max_length=4000)

    @model_validator(mode="after")
    def _fits_action(self) -> "RulingIn":
        if self.action == "reject" and self.reason is None:
            raise ValueError("rejecting a citation needs a reason: wrong_clause, does_not_support, outdated_version, "
                             "other")
        if self.action == "correct" and not self.correction:
            raise ValueError("correcting a citation needs `correction`: the right clause's id (GET /v1/search)")
        return self


class ReviewRequest(Strict):
    outcome: OutcomeName
    rulings: list[RulingIn] = Field(default=[], max_length=1000)
    accept_all: bool = Field(default=False, description="accept every citation not ruled on in `rulings`")
    comment: str = Field(default="", max_length=4000)


class RulingOut(BaseModel):
    sentence: int
    marker: str
    clause_id: str
    action: Literal["accept", "reject", "correct"]
    reason: ReasonName | None
    correction_clause_id: str | None
    comment: str


class DecisionOut(BaseModel):
    decision_id: str
    answer_id: str
    reviewer: str
    decided_at: str
    outcome: OutcomeName
    comment: str
    rulings: list[RulingOut]
    state: StateName = Field(description="the answer's review state after this decision")


class BackendHealth(BaseModel):
    name: str
    model: str
    base_url: str
    reachable: bool
    detail: str


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    index_generation: int | None = Field(description="the generation being served; null before the first ingest")
    documents: int
    clauses: int
    index_problem: str
    backend: BackendHealth
    auth: Literal["none", "api_keys"] = Field(description="none: no users are defined, requests act as the local user")
