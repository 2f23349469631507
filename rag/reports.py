"""What an ingest run reports, typed: the ingest job returns it, the store keeps its summary, the app reads both."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
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
class IngestReport(IngestCounts):
    """A run's counts with what it skipped, how long it took and the generation it committed."""

    skipped: tuple[SkippedFile, ...] = ()
    seconds: float = 0.0
    generation: int = 0  # the index generation after the run

    @property
    def counts(self) -> IngestCounts:
        return IngestCounts(**{f.name: getattr(self, f.name) for f in fields(IngestCounts)})

    def to_dict(self) -> dict:
        """The report as one flat JSON object (the ingest subprocess's "report" event, `ingest --json`)."""
        return {**asdict(self), "skipped": [list(s) for s in self.skipped]}

    @classmethod
    def from_dict(cls, data: dict) -> "IngestReport":
        skipped = tuple(SkippedFile(str(p), str(r)) for p, r in data.get("skipped", []))
        return cls(**asdict(IngestCounts.from_dict(data)), skipped=skipped, seconds=float(data.get("seconds", 0.0)),
                   generation=int(data.get("generation", 0)))


@dataclass(frozen=True)
class IngestRun:
    """A committed run as the catalog remembers it, for the app's ingest history."""

    started: str  # ISO-8601 UTC
    finished: str
    generation: int
    counts: IngestCounts
    skipped: tuple[SkippedFile, ...]
