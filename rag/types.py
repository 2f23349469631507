"""The few types every layer speaks: document versions, clauses, retrieval hits, citations, answers."""
from __future__ import annotations

import bisect
import dataclasses
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from typing import Iterable


class Kind(str, Enum):
    REGULATION = "regulation"
    GUIDANCE = "guidance"
    REPORT = "report"
    FILING = "filing"


class Status(str, Enum):
    """Where a version stands in its instrument's chain, derived from the dates whenever the index opens."""

    IN_FORCE = "in_force"
    SUPERSEDED = "superseded"
    NOT_YET_IN_FORCE = "not_yet_in_force"  # effective_from is in the future
    DATES_UNKNOWN = "dates_unknown"  # the instrument's only (latest) version, with no effective date: it answers
    UNPLACED = "unplaced"  # no effective date, beside dated versions: it cannot be placed, so it never answers
    ALTERNATE = "alternate"  # the same version in another format: kept and listed, but never answers


class Verdict(str, Enum):
    SUPPORTED = "supported"
    PARTIAL = "partial"
    UNSUPPORTED = "unsupported"

    @property
    def severity(self) -> int:
        """0 supported, 1 partial, 2 unsupported: a sentence or card shows the worst of its citations."""
        return _SEVERITY[self]


_SEVERITY = {Verdict.SUPPORTED: 0, Verdict.PARTIAL: 1, Verdict.UNSUPPORTED: 2}


def worst_verdict(verdicts: Iterable[Verdict]) -> Verdict:
    """The least supported of the verdicts; UNSUPPORTED when there are none (nothing cited supports nothing)."""
    return max(verdicts, key=lambda v: v.severity, default=Verdict.UNSUPPORTED)


@dataclass(frozen=True)
class CharSpan:
    """Offsets into a document version's normalised text; end is exclusive."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValueError(f"bad span {self.start}..{self.end}")


@dataclass(frozen=True)
class PageSpan:
    """1-based, inclusive. Text without pages (HTML, Markdown) is page 1..1."""

    first: int
    last: int

    def __str__(self) -> str:
        return f"p. {self.first}" if self.first == self.last else f"pp. {self.first}-{self.last}"


def page_span_of(span: CharSpan, page_starts: tuple[int, ...]) -> PageSpan:
    """Pages covered by a character span, given the offset where each page starts (page_starts[0] == 0)."""
    if not page_starts:
        return PageSpan(1, 1)
    first = bisect.bisect_right(page_starts, span.start)
    last = bisect.bisect_right(page_starts, max(span.start, span.end - 1))
    return PageSpan(max(first, 1), max(last, 1))


DEFAULT_COLLECTION = "default"  # where a version goes unless ingest is told another collection


@dataclass(frozen=True)
class DocumentVersion:
    """One file as ingested. doc_id names the instrument across versions ("12 CFR 1002")."""

    version_id: str  # sha256 of the file's bytes, first 16 hex digits
    doc_id: str
    title: str
    kind: Kind
    jurisdiction: str  # "US", "EU", "CN", "" when unknown
    language: str  # BCP-47 primary tag: "en", "zh"
    source_path: str
    sha256: str
    page_starts: tuple[int, ...]  # character offset where each page begins in the normalised text
    effective_from: date | None = None  # None: unknown (shown as unknown, never guessed)
    effective_to: date | None = None  # exclusive: the next version's effective_from; None while open or unknown
    status: Status = Status.IN_FORCE
    ingested_at: str = ""  # ISO-8601 UTC, set by the store on commit
    effective_source: str = ""  # where effective_from came from: "user", "document", "" (unknown)
    collection: str = DEFAULT_COLLECTION  # who may read it: rag.access admits a reader to the collections granted

    def answers_on(self, day: date) -> bool:
        """Whether this version is the text of its instrument on that day."""
        if self.status in (Status.ALTERNATE, Status.UNPLACED):
            return False
        if self.effective_from is None:  # IN_FORCE too: a version built by hand, not placed in a chain
            return self.status in (Status.DATES_UNKNOWN, Status.IN_FORCE)
        return self.effective_from <= day and (self.effective_to is None or day < self.effective_to)

    @property
    def pages(self) -> int:
        return max(len(self.page_starts), 1)


@dataclass(frozen=True)
class Clause:
    """The retrieval unit: a numbered provision (or a part of an over-long one) with its provenance."""

    clause_id: str  # f"{version_id}:{ordinal}", stable for a given file
    version_id: str
    ordinal: int  # 0-based position in the document
    path: tuple[str, ...]  # ("§ 1002.9", "(a)", "(1)", "(i)")
    reference: str  # canonical, human: "12 CFR 1002.9(a)(1)(i)"
    headings: tuple[str, ...]  # heading trail above the clause, outermost first
    text: str
    char_span: CharSpan
    page_span: PageSpan
    part: int = 0  # 0 for a whole clause; 1..n for the parts of an over-long one


@dataclass(frozen=True)
class Filters:
    """Restrict retrieval. Empty tuples mean no restriction.

    `collections` is who may read what (rag.access.reader_filters sets it): None admits every collection, an empty
    set admits none. It is a set apart from the tuples on purpose, so a reader granted nothing reads nothing."""

    doc_ids: tuple[str, ...] = ()
    jurisdictions: tuple[str, ...] = ()
    kinds: tuple[Kind, ...] = ()
    languages: tuple[str, ...] = ()
    as_of: date | None = None  # the versions in force that day; None admits every version (entry points pass today)
    collections: frozenset[str] | None = None  # None: unrestricted; frozenset(): nothing

    def admits(self, clause_doc: DocumentVersion) -> bool:
        d = clause_doc
        if self.collections is not None and d.collection not in self.collections:
            return False
        if self.doc_ids and d.doc_id not in self.doc_ids:
            return False
        if self.jurisdictions and d.jurisdiction not in self.jurisdictions:
            return False
        if self.kinds and d.kind not in self.kinds:
            return False
        if self.languages and d.language not in self.languages:
            return False
        if self.as_of is not None and not d.answers_on(self.as_of):
            return False
        return True

    def without_date(self) -> "Filters":
        return dataclasses.replace(self, as_of=None)

    def within(self, collections: frozenset[str] | None) -> "Filters":
        """These filters, reading at most `collections` (None: no further restriction); never widens them."""
        if collections is None:
            return self
        narrowed = frozenset(collections) if self.collections is None else self.collections & frozenset(collections)
        return dataclasses.replace(self, collections=narrowed)


@dataclass(frozen=True)
class Hit:
    """A retrieved clause with the scores that ranked it."""

    clause: Clause
    document: DocumentVersion
    score: float  # the fused score used for ranking
    dense_score: float | None = None
    lexical_score: float | None = None
    via: str = "hybrid"  # "dense", "lexical", "hybrid", "reference" (named in the question), "rerank"


@dataclass(frozen=True)
class Citation:
    marker: str  # as written in the answer, e.g. "[2]"
    clause_id: str
    reference: str
    document_title: str
    version_id: str
    page_span: PageSpan
    quote: str  # the supporting words from the clause
    verdict: Verdict
    score: float  # semantic support, 0..1
    effective_from: date | None = None  # the cited version's dates: None where open or unknown
    effective_to: date | None = None
    source_path: str = ""  # the cited version's file


@dataclass(frozen=True)
class Sentence:
    text: str  # without markers
    citations: tuple[Citation, ...]
    verdict: Verdict  # worst of its citations; UNSUPPORTED when it has none
    problems: tuple[str, ...] = ()  # e.g. "number 45 not in cited clause"


@dataclass(frozen=True)
class Answer:
    question: str
    text: str  # the answer as shown, markers included
    sentences: tuple[Sentence, ...]
    hits: tuple[Hit, ...]
    abstained: bool
    backend: str  # "openai", "transformers", "extractive"
    model: str
    timings_ms: dict[str, float] = field(default_factory=dict)
    reasoning: str = ""  # a model's <think> trace, kept out of text
    fallback_reason: str = ""  # set when a configured backend failed and extractive answered
    dropped_markers: int = 0  # markers that pointed at nothing retrieved
    as_of: date | None = None  # the date the answer speaks for (None: every indexed version was searched)
    notes: tuple[str, ...] = ()  # what a reader must know: cited versions with unknown dates, instruments not in force
    prompt_sha256: str = ""  # of the messages the backend sent; "" when it abstained before generating

    @property
    def citations(self) -> tuple[Citation, ...]:
        return tuple(c for s in self.sentences for c in s.citations)


class ChangeKind(str, Enum):
    UNCHANGED = "unchanged"
    MODIFIED = "modified"
    MOVED = "moved"  # the text now sits under another reference (redesignated, split, merged)
    ADDED = "added"
    REMOVED = "removed"


@dataclass(frozen=True)
class ClauseChange:
    """How one clause of a version relates to the next version of its instrument (stored at ingest)."""

    kind: ChangeKind
    from_clause_id: str | None  # None for ADDED
    to_clause_id: str | None  # None for REMOVED
    editorial: bool = False  # MODIFIED/MOVED whose text differs only in whitespace, punctuation or typography
    similarity: float = 1.0  # 0..1 text similarity of the two clauses
