"""What an ingest run reports, typed: the ingest job returns it, the store keeps its summary, the app reads both."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import date
from typing import NamedTuple


class SkippedFile(NamedTuple):
    """A file a run did not index, and why (a pair, so `for path, reason in report.skipped` reads naturally)."""

    path: str
    reason: str


@dataclass(frozen=True)
class IngestCounts:
    files: int = 0  # files seen
    added: int = 0  # new versions (including replacements)
    replaced: int = 0  # stored versions that a changed file replaced
    unchanged: int = 0
    removed: int = 0  # versions pruned because their files are gone
    clauses: int = 0  # clauses added in this run
    pages: int = 0  # pages of the files added in this run
    embedded: int = 0  # clause texts embedded in this run

    @classmethod
    def from_dict(cls, data: dict) -> "IngestCounts":
        """Tolerant of keys a later release adds, and of counts an earlier one did not record."""
        return cls(**{f.name: int(data.get(f.name, 0)) for f in fields(cls)})


@dataclass(frozen=True)
class VersionImpact:
    """What a version changed against the version before it in its instrument's chain (counted in clauses)."""

    doc_id: str
    from_version_id: str
    to_version_id: str
    from_effective: date | None
    to_effective: date | None
    added: int = 0
    removed: int = 0
    substantive: int = 0  # modified or moved with a change of words
    editorial: int = 0  # modified or moved with only whitespace, punctuation or typography changed
    unchanged: int = 0

    def __str__(self) -> str:
        span = f"{_day(self.from_effective)} → {_day(self.to_effective)}"
        return (f"{self.doc_id} {span}: {self.added} added, {self.removed} removed, {self.substantive} changed "
                f"substantively, {self.editorial} editorially")

    def to_dict(self) -> dict:
        return {**asdict(self), "from_effective": _day(self.from_effective, ""), "to_effective": _day(self.to_effective, "")}

    @classmethod
    def from_dict(cls, data: dict) -> "VersionImpact":
        return cls(**{**data, "from_effective": _date(data.get("from_effective")),
                      "to_effective": _date(data.get("to_effective"))})


def _day(value: date | None, unknown: str = "unknown") -> str:
    return value.isoformat() if value else unknown


def _date(text) -> date | None:
    return date.fromisoformat(text) if text else None


@dataclass(frozen=True)
class IngestReport(IngestCounts):
    """A run's counts with what it skipped, how long it took, the generation it committed, what it changed."""

    skipped: tuple[SkippedFile, ...] = ()
    seconds: float = 0.0
    generation: int = 0  # the index generation after the run
    impacts: tuple[VersionImpact, ...] = ()  # one per newly neighbouring pair of versions
    notes: tuple[str, ...] = ()  # corrections, versions that could not be placed: what a reader should know

    @property
    def counts(self) -> IngestCounts:
        return IngestCounts(**{f.name: getattr(self, f.name) for f in fields(IngestCounts)})

    def to_dict(self) -> dict:
        """The report as one flat JSON object (the ingest subprocess's "report" event, `ingest --json`)."""
        return {**asdict(self), "skipped": [list(s) for s in self.skipped],
                "impacts": [i.to_dict() for i in self.impacts], "notes": list(self.notes)}

    @classmethod
    def from_dict(cls, data: dict) -> "IngestReport":
        skipped = tuple(SkippedFile(str(p), str(r)) for p, r in data.get("skipped", []))
        return cls(**asdict(IngestCounts.from_dict(data)), skipped=skipped, seconds=float(data.get("seconds", 0.0)),
                   generation=int(data.get("generation", 0)),
                   impacts=tuple(VersionImpact.from_dict(i) for i in data.get("impacts", [])),
                   notes=tuple(str(n) for n in data.get("notes", [])))


@dataclass(frozen=True)
class IngestRun:
    """A committed run as the catalog remembers it, for the app's ingest history."""

    started: str  # ISO-8601 UTC
    finished: str
    generation: int
    counts: IngestCounts
    skipped: tuple[SkippedFile, ...]
