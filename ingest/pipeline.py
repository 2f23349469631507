"""The ingest job: walk files, skip unchanged ones by sha256, load, split, embed new clauses, commit once.

The next file is parsed in a thread while the current one embeds (the embedder's runtimes release the GIL), so
both cores stay busy on a corpus of PDFs; the progress bar shows clauses and word pieces per second.
"""
from __future__ import annotations

import logging
import os
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Mapping

import numpy as np

from ingest.links import link_problem
from ingest.manifest import Stated
from ingest.sandbox import ParseLimits, ParseSandbox
from rag.config import Settings
from rag.errors import DocumentError
from rag.formats import format_of
from rag.reports import IngestCounts, IngestReport, SkippedFile
from rag.store import file_sha256
from rag.types import DEFAULT_COLLECTION, DocumentVersion

log = logging.getLogger(__name__)


def walk(paths: Iterable[str | Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files under the given paths, sorted, hidden ones left out, each once; plus paths that do not exist."""
    files: list[Path] = []
    missing: list[tuple[str, str]] = []
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            entries = [p for p in path.rglob("*")
                       if not any(part.startswith(".") for part in p.relative_to(path).parts)]
            found = sorted(p for p in entries if p.is_file())
            missing += [(str(p), reason) for p in sorted(entries) if (reason := link_problem(p))]
        elif path.is_file():
            found = [path]
        else:
            missing.append((str(path), "no such file or directory"))
            continue
        for p in found:
            key = p.resolve()
            if key not in seen:
                seen.add(key)
                files.append(p)
    return files, missing


# Texts per embed_documents call under a progress bar: 32 batches, so the embedder batches by length in word pieces
# and both of OpenVINO's streams stay busy to a call's end; at 8 batches of 64 a call, each call's tail left one core
# idle and the 22 CFR parts took 20% longer.
CHUNK_BATCHES = 32


def _embed(embedder, texts: list[str], batch_size: int, progress: bool, label: str) -> np.ndarray:
    chunk = batch_size * CHUNK_BATCHES
    if not progress or len(texts) <= chunk:
        return embedder.embed_documents(texts)
    from tqdm import tqdm

    # Sort once for the whole file so each chunk holds texts of like length, then restore order.
    order = np.argsort([len(t) for t in texts], kind="stable")
    parts = []
    with tqdm(total=len(texts), desc=f"embedding {label}", unit="clause", leave=False, file=sys.stderr) as bar:
        for start in range(0, len(texts), chunk):
            parts.append(embedder.embed_documents([texts[i] for i in order[start:start + chunk]]))
            bar.update(len(parts[-1]))
    out = np.empty((len(texts), parts[0].shape[1]), dtype=np.float32)
    out[order] = np.vstack(parts)
    return out


class _Prefetch:
    """Parses the files to be added one ahead of the one being embedded, in a single worker thread, each in the
    sandbox's worker process under its limits."""

    def __init__(self, max_clause_chars: int, limits: ParseLimits):
        self._max = max_clause_chars
        self._sandbox = ParseSandbox(limits)
        self._queue: list[tuple[Path, str]] = []
        self._at: dict[Path, int] = {}
        self._futures: dict[Path, Future] = {}
        self._submitted = 0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-parse")

    def __enter__(self) -> "_Prefetch":
        return self

    def __exit__(self, *exc) -> None:
        for future in self._futures.values():
            future.cancel()
        self._pool.shutdown(wait=True)
        self._sandbox.close()

    def plan(self, files: list[Path], hashes: Mapping[Path, str | None], known: Mapping[str, str]) -> None:
        """The files the run will parse, in order: readable, not stored, the first of their bytes in the run."""
        queued: set[str] = set()
        for path in files:
            sha = hashes[path]
            if sha is not None and sha not in known and sha not in queued:
                queued.add(sha)
                self._at[path] = len(self._queue)
                self._queue.append((path, sha))

    def result(self, path: Path):
        """The parse of path (raising what parsing raised), with the next file's parse started first."""
        while self._submitted < len(self._queue) and self._submitted <= self._at[path] + 1:
            next_path, sha = self._queue[self._submitted]
            self._futures[next_path] = self._pool.submit(self._sandbox.parse, next_path, sha, self._max)
            self._submitted += 1
        return self._futures.pop(path).result()


class _Throughput:
    """Clauses and characters embedded per second of the run so far, for the files bar's postfix."""

    def __init__(self):
        self.started = time.perf_counter()
        self.clauses = self.chars = 0

    def add(self, texts: list[str]) -> None:
        self.clauses += len(texts)
        self.chars += sum(len(t) for t in texts)

    def postfix(self) -> str:
        seconds = max(time.perf_counter() - self.started, 1e-9)
        return f"{self.clauses:,} clauses, {self.clauses / seconds:.1f} clauses/s, {self.chars / seconds / 1000:.0f}k chars/s"


def ingest_paths(
    paths: Iterable[str | Path],
    settings: Settings,
    prune: bool = False,
    progress: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
    embedder=None,
    stated: Mapping[Path, Stated] | None = None,
    effective_from: date | None = None,
    collection: str | None = None,
) -> IngestReport:
    """Ingest files and folders into settings.index_dir in one atomic commit; bad files are skipped and reported.

    Every version is kept. `stated` (a manifest: resolved path -> date, doc id) and `effective_from` (for every
    file of the run) are what the user says and win over what a document states; without either the date is the
    document's own, else unknown. A file with the effective date and format of a stored version of its instrument
    but other bytes replaces that version as a correction; the report's notes say so.

    `collection` is who may read the files (rag.access): new versions go there (DEFAULT_COLLECTION unless given), and
    a stored file named again with a collection moves there; without one, stored files stay where they are.
    """
    from rag.access import check_label
    from rag.writer import open_writer

    target = check_label(collection, "collection") if collection is not None else DEFAULT_COLLECTION

    t0 = time.perf_counter()
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    if embedder is None:
        from rag.embed import load_embedder

        embedder = load_embedder(settings)
    files, skipped = walk(paths)
    added = replaced = unchanged = removed = clauses_added = pages = embedded = 0
    seen_sha: set[str] = set()
    added_ids: set[str] = set()
    replaced_ids: set[str] = set()
    notes: list[str] = []
    stated = stated or {}

    bar = None
    throughput = _Throughput()
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(files), desc="files", unit="file", file=sys.stderr)
    # The embedder's backend is recorded with the index; a stand-in embedder without one counts as the configured.
    with open_writer(settings, embedder.name, embedder.dim, getattr(embedder, "backend", None)) as writer, \
            _Prefetch(settings.max_clause_chars, ParseLimits.of(settings)) as prefetch:
        known = writer.known_sha256()
        hashes: dict[Path, str | None] = {}
        for path in files:
            try:
                hashes[path] = file_sha256(path)
            except OSError as e:
                hashes[path] = None
                skipped.append((str(path), f"cannot read: {e.strerror or e}"))
        # Stored versions whose files are part of this run stay, whatever else the run adds.
        in_run = {sha for sha in hashes.values() if sha is not None}
        prefetch.plan(files, hashes, known)
        for done, path in enumerate(files, 1):
            source = str(path.resolve())
            sha = hashes[path]
            said = stated.get(path.resolve(), Stated())
            said_date = said.effective_from or effective_from
            if sha is not None and (sha in known or sha in seen_sha):
                unchanged += 1
                seen_sha.add(sha)
                if sha in known and said_date and writer.restate(known[sha], said_date):
                    notes.append(f"{path}: effective date set to {said_date.isoformat()} as stated")
                if sha in known and collection is not None and writer.move(known[sha], target):
                    notes.append(f"{path}: moved to collection {target!r}")
            elif sha is not None:
                try:
                    loaded, info, clauses = prefetch.result(path)
                    version_id = sha[:16]
                except DocumentError as e:
                    log.warning("skipping %s: %s", path, e.reason)
                    skipped.append((str(path), e.reason))
                except Exception as e:  # a parser bug on one file must not sink the batch
                    log.exception("skipping %s: unexpected error", path)
                    skipped.append((str(path), f"unexpected error: {type(e).__name__}: {e}"))
                else:
                    day = said_date or info.effective_from
                    version = DocumentVersion(
                        version_id=version_id, doc_id=said.doc_id or info.doc_id, title=info.title, kind=info.kind,
                        jurisdiction=info.jurisdiction, language=info.language, source_path=source, sha256=sha,
                        page_starts=tuple(loaded.page_starts), effective_from=day,
                        effective_source="user" if said_date else "document" if day else "", collection=target,
                    )
                    stored = writer.versions()
                    for old in stored:
                        if _corrects(version, old) and old.version_id not in added_ids and old.sha256 not in in_run:
                            notes.append(f"{path} replaces {Path(old.source_path).name} as a correction of "
                                         f"{old.doc_id} effective {_day(day)} (same date and format, other text)")
                            log.info(notes[-1])
                            writer.remove_version(old.version_id)
                            replaced_ids.add(old.version_id)
                            known.pop(old.sha256, None)
                            replaced += 1
                    if day is None and any(v.doc_id == version.doc_id and v.sha256 != version.sha256 and
                                           v.version_id not in replaced_ids for v in stored):
                        notes.append(f"{path}: no effective date stated, so it cannot be placed among the other "
                                     f"versions of {version.doc_id} and will not answer; give --effective-from or a "
                                     "manifest")
                    texts = [c.text for c in clauses]
                    vectors = _embed(embedder, texts, settings.embed_batch_size, progress, path.name)
                    throughput.add(texts)
                    writer.add_version(version, loaded.text, clauses, vectors)
                    added_ids.add(version_id)
                    seen_sha.add(sha)
                    known[sha] = version_id
                    added += 1
                    clauses_added += len(clauses)
                    embedded += len(clauses)
                    pages += version.pages
            if bar is not None:
                bar.set_postfix_str(throughput.postfix(), refresh=False)
                bar.update(1)
            if on_progress is not None:
                on_progress(done, len(files))
        if bar is not None:
            bar.close()
        if prune:
            for old in writer.versions():
                if old.sha256 not in seen_sha and not os.path.exists(old.source_path):
                    log.info("pruning %s (%s): its file is gone", old.doc_id, old.source_path)
                    writer.remove_version(old.version_id)
                    removed += 1
        counts = IngestCounts(files=len(files), added=added, replaced=replaced, unchanged=unchanged,
                              removed=removed, clauses=clauses_added, pages=pages, embedded=embedded)
        skipped_files = tuple(SkippedFile(path, reason) for path, reason in skipped)
        writer.record_run(started, counts, skipped_files)
        generation = writer.commit()
    return IngestReport(**asdict(counts), skipped=skipped_files, seconds=time.perf_counter() - t0,
                        generation=generation, impacts=writer.impacts, notes=tuple(notes))


def _corrects(new: DocumentVersion, old: DocumentVersion) -> bool:
    """The same version of the same instrument, re-issued: same effective date (or both unknown), same format."""
    return (bool(old.doc_id) and old.doc_id == new.doc_id and old.effective_from == new.effective_from
            and format_of(old.source_path) == format_of(new.source_path))


def _day(day: date | None) -> str:
    return day.isoformat() if day else "unknown"
