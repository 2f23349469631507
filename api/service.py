"""What the server holds for its lifetime: the settings, the record book, and the pipeline over the newest snapshot.

The pipeline is built once at startup and rebuilt over a newer generation when an ingest commits one, keeping the
embedder and the backend (their models load once). Answers run one at a time in a worker thread (the pipeline's
lazy model loading is not for two threads at once); searches, listings and health never wait for an answer.
"""
from __future__ import annotations

import logging
import threading
import time
from functools import partial

import anyio
import anyio.to_thread

from rag.errors import IndexMissing, RegciteError
from rag.records.answers import AnswerRecord, ask_and_record
from rag.records.users import User
from rag.types import Filters

log = logging.getLogger(__name__)

GENERATION_CHECK_S = 1.0  # how stale the served snapshot may be after an ingest commits


class Service:
    def __init__(self, settings, book, probe, pipeline=None):
        self.settings = settings
        self.book = book
        self.probe = probe  # () -> (reachable, detail) of the configured backend
        self._pipeline = pipeline
        self._problem = ""  # why a newer generation did not open: the older one stays served
        self._checked = 0.0
        self._lock = threading.Lock()
        self._answering: anyio.CapacityLimiter | None = None  # made inside the event loop, on first use

    def pipeline(self):
        """The pipeline over the newest committed generation; IndexMissing before the first ingest."""
        from rag.store import committed_generation

        now = time.monotonic()
        if self._pipeline is None or now - self._checked >= GENERATION_CHECK_S:
            with self._lock:
                if self._pipeline is None or now - self._checked >= GENERATION_CHECK_S:
                    self._checked = now
                    generation = committed_generation(self.settings)
                    if self._pipeline is None or generation > self._pipeline.index.generation:
                        self._reopen()
        if self._pipeline is None:
            raise IndexMissing(self._problem or f"no index at {self.settings.index_dir} yet; run "
                                                "`regcite ingest PATH...` and ask again")
        return self._pipeline

    def _reopen(self) -> None:
        from rag.pipeline import open_pipeline

        kept = self._pipeline
        try:
            self._pipeline = open_pipeline(self.settings, embedder=kept.embedder if kept else None,
                                           backend=kept.backend if kept else None)
            self._problem = ""
            if kept is not None:
                log.info("serving index generation %s", self._pipeline.index.generation)
        except IndexMissing as e:
            self._problem = str(e)
        except RegciteError as e:  # a model mismatch, a newer schema: keep serving what opened before
            self._problem = str(e)
            log.warning("keeping index generation %s: %s", kept.index.generation if kept else None, e)

    @property
    def problem(self) -> str:
        return self._problem

    def warm_up(self) -> None:
        """Load the embedder and build the snapshot's retrieval structures before the first question."""
        try:
            self.pipeline().search("notice within 30 days", Filters(), 1)
        except RegciteError as e:
            log.warning("warm-up skipped: %s", e)

    async def answer(self, pipeline, user: User, question: str, filters: Filters, on_token=None) -> AnswerRecord:
        """Answer and record (entry "api"), in the worker thread, one answer at a time."""
        if self._answering is None:
            self._answering = anyio.CapacityLimiter(1)
        work = partial(ask_and_record, pipeline, self.book, user, question, filters, on_token, entry="api")
        return await anyio.to_thread.run_sync(work, limiter=self._answering)
