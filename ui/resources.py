"""Shared, cached resources of the app: settings, the index snapshot, the pipeline (rag.pipeline) over it, and the
record book (rag.records) every answer shown is recorded in."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from rag.config import Settings, load_settings
from rag.errors import IndexMissing, RegciteError
from rag.store import committed_generation, file_sha256
from rag.types import Answer, Filters, Hit

log = logging.getLogger(__name__)


@st.cache_resource(show_spinner=False)
def settings() -> Settings:
    """Built once per server process from REGCITE_* (regcite ui passes the data dir through the environment)."""
    return load_settings()


@st.cache_resource(show_spinner=False)
def _last_good() -> dict:
    # The one mutable holder: the snapshot served while a newer generation fails to open.
    return {}


@st.cache_resource(max_entries=2, show_spinner="Loading the index…")
def _open_index(data_dir: str, generation: int, _settings: Settings):
    from rag.store import open_index

    return open_index(_settings)


def index(settings: Settings):
    """The index snapshot to serve: the newest committed generation, else the last one that opened, else None."""
    holder = _last_good().setdefault(str(settings.data_dir), {})
    generation = committed_generation(settings)
    if generation > 0 and holder.get("generation") != generation:
        try:
            holder["index"] = _open_index(str(settings.data_dir), generation, settings)
            holder["generation"] = generation
            holder.pop("error", None)
        except IndexMissing:
            pass
        except RegciteError as e:
            log.warning("keeping generation %s: %s", holder.get("generation"), e)
            holder["error"] = str(e)
    return holder.get("index")


def index_error(settings: Settings) -> str:
    return _last_good().get(str(settings.data_dir), {}).get("error", "")


@st.cache_resource(show_spinner="Loading the embedding model…")
def _embedder(embed_model: str, device: str, _settings: Settings):
    from rag.embed import load_embedder

    return load_embedder(_settings)


@st.cache_resource(show_spinner=False)
def _backend(llm_backend: str, llm_model: str, llm_base_url: str, _settings: Settings, _embedder):
    from rag.llm import make_backend

    return make_backend(_settings, _embedder)


@st.cache_resource(max_entries=2, show_spinner="Preparing retrieval…")
def _pipeline(data_dir: str, generation: int, embed_model: str, _index, _settings: Settings):
    """The composition root over one snapshot; the embedder and the backend outlive generations."""
    from rag.pipeline import open_pipeline

    embedder = _embedder(_settings.embed_model, _settings.device, _settings)
    backend = _backend(_settings.llm_backend, _settings.llm_model, _settings.llm_base_url, _settings, embedder)
    return open_pipeline(_settings, index=_index, embedder=embedder, backend=backend)


@dataclass(frozen=True)
class BackendInfo:
    backend: str
    model: str
    base_url: str


def backend_info(settings: Settings) -> BackendInfo:
    return BackendInfo(settings.llm_backend, settings.llm_model, settings.llm_base_url)


@st.cache_resource(max_entries=2, show_spinner="Loading the embedding model and search indexes…")
def _warmed(data_dir: str, generation: int, embed_model: str, _index, _settings: Settings) -> bool:
    pipeline = _pipeline(data_dir, generation, embed_model, _index, _settings)
    pipeline.search("notice within 30 days", Filters(), 1)  # builds the lexical index and reference map once
    return True


def warm_up(settings: Settings, idx) -> None:
    """Load the embedder and build this snapshot's retrieval structures before the first question, not during it."""
    try:
        _warmed(str(settings.data_dir), idx.generation, settings.embed_model, idx, settings)
    except RegciteError as e:  # e.g. a model mismatch: the question path reports it where the user will see it
        log.warning("warm-up skipped: %s", e)


def _served_pipeline(settings: Settings):
    idx = index(settings)
    if idx is None:
        raise IndexMissing(f"no index at {settings.index_dir} yet: add documents on the Library page")
    return _pipeline(str(settings.data_dir), idx.generation, settings.embed_model, idx, settings)


def answer(settings: Settings, question: str, filters: Filters = Filters(), on_token=None) -> Answer:
    """The rag core's answer over the snapshot being served; raises IndexMissing before the first ingest."""
    return _served_pipeline(settings).answer(question, filters, on_token)


def search(settings: Settings, user, query: str, filters: Filters = Filters(), k: int = 8) -> list[Hit]:
    """Clauses for a query over the snapshot being served (the reviewer's search for the right clause), from the
    collections `user` may read."""
    return _served_pipeline(settings).search(query, reader_filters(settings, user, filters), k)


def access(settings: Settings, user):
    """What `user` may read (rag.access.Access), from the grants as they are now: read on every run of a page, so a
    grant or revoke counts from the user's next click."""
    from rag.access import access_for

    return access_for(book(settings), user)


def reader_filters(settings: Settings, user, filters: Filters = Filters()) -> Filters:
    """`filters` narrowed to the collections `user` may read (rag.access.reader_filters)."""
    return access(settings, user).filters(filters)


@st.cache_resource(max_entries=16, show_spinner=False)
def _view(data_dir: str, generation: int, collections: frozenset, _index):
    from rag.index_view import IndexView

    return IndexView(_index, collections)


def reader_index(settings: Settings, user):
    """The served snapshot as `user` may list it (their collections' documents and clauses only; rag.access), or
    None before the first ingest. Every page lists from this, never from index()."""
    idx = index(settings)
    if idx is None:
        return None
    reach = access(settings, user)
    if reach.everything:
        return idx
    return _view(str(settings.data_dir), idx.generation, reach.collections, idx)


@st.cache_resource(show_spinner=False)
def _book(records_url: str, key_path: str, checkpoints_path: str, public_key: str, reviews_required: int,
          claim_minutes: int, _settings: Settings):
    from rag.records.book import open_book

    return open_book(_settings)


def book(settings: Settings):
    """The record book these settings name, opened (and migrated) once per server process."""
    return _book(settings.records_url, str(settings.audit_key_path), str(settings.audit_checkpoints_path),
                 settings.audit_public_key, settings.reviews_required, settings.claim_minutes, settings)


def ask_and_record(settings: Settings, user, question: str, filters: Filters = Filters(), on_token=None):
    """Answer over the served snapshot and record the answer as `user` asked it (entry "app"), so every answer the
    app shows is in the record book: (the Answer to show, its AnswerRecord). The Answer is kept because the page
    shows more of it (reasoning, timings) than the record holds. Raises IndexMissing before an ingest, and
    RecordsUnavailable when the records database cannot be opened or written (then nothing is shown)."""
    from rag.records.answers import record_shown

    from rag.access import reader_filters as narrowed

    pipeline = _served_pipeline(settings)
    records = book(settings)  # opened before answering: an answer that cannot be recorded is never computed
    filters = narrowed(records, user, filters)
    answer = pipeline.answer(question, filters, on_token)
    return answer, record_shown(pipeline, records, user, answer, filters, entry="app")


@st.cache_data(max_entries=4096, show_spinner=False)
def _recorded(records_url: str, answer_id: str, _book):
    from rag.records.answers import load_answer

    return load_answer(_book, answer_id)


def recorded_answer(settings: Settings, answer_id: str):
    """An AnswerRecord by id (ReviewError when there is none): records never change, so it is read once."""
    return _recorded(settings.records_url, answer_id, book(settings))


@st.cache_data(max_entries=64, show_spinner=False)
def document_text(data_dir: str, generation: int, version_id: str, _index) -> str:
    """The version's full text; "" when a commit removed it since this snapshot was opened (the page shows why)."""
    try:
        return _index.text_of(version_id)
    except KeyError:
        return ""


@st.cache_data(max_entries=64, show_spinner=False)
def page_png(source_path: str, sha256: str, page: int, passage: str, crop: bool = False) -> tuple[bytes, bool] | None:
    """A marked page image (crop: only the band around the passage), or None when the PDF is gone, was replaced by
    other content since it was indexed (an amendment uploaded under the same name), or cannot be rendered."""
    from ui.page_image import marked_page_png

    path = Path(source_path)
    if not path.is_file():
        return None
    try:
        if file_sha256(path) != sha256:
            log.info("%s changed since it was indexed; not showing its pages for the old version", path)
            return None
        return marked_page_png(path, page, passage, crop=crop)
    except Exception as e:  # a page we cannot render must not break the answer around it
        log.warning("cannot render %s page %s: %s", source_path, page, e)
        return None


@st.cache_data(max_entries=16, show_spinner="Comparing the versions…")
def version_diff(data_dir: str, generation: int, run: tuple[str, ...], _index):
    """What changed from run[0] to run[-1], the chain's versions between them composed (ui.versions_view.diff)."""
    from rag.lineage import align_versions
    from ui.versions_view import diff

    clauses: dict[str, list] = {v: [] for v in run}
    for c in _index.clauses:
        if c.version_id in clauses:
            clauses[c.version_id].append(c)

    def changes_of(a: str, b: str):
        # A store written before lineage was stored has none: align the two versions here, as ingest would.
        return _index.changes(a, b) or align_versions(clauses[a], clauses[b])

    return diff(_index.documents[run[0]], _index.documents[run[-1]], run, clauses.__getitem__, changes_of)
