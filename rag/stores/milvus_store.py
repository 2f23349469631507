"""The Milvus engine: one collection holding each clause's vector and regcite's BM25 terms, on Milvus Lite or a server.

Milvus has no transactions, so visibility comes from the catalog: a stage inserts the new versions' rows (flushed)
before the catalog commit names them, and every search carries a `version_id in [...]` filter listing the versions
of the reader's own catalog snapshot, so rows of a version not yet committed (or already removed) never come back.
Removed versions' rows stay one generation longer for readers of the previous snapshot; `collect` drops them after
the next commit. A side collection (`<name>_staged`) records, per staged generation, which versions it removed, so
`recover` can tell the orphans of a commit that died from rows the previous generation's readers still search.
"""
from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from pathlib import Path
from typing import Iterable, Sequence
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from rag.errors import IndexUnavailable, ModelMismatch
from rag.lexical import B, K1, terms
from rag.stores.contract import CatalogRows, Hits, Scope, StoreState, StoredClause

log = logging.getLogger(__name__)

ENGINE = "milvus"
# rag.lexical's word pairs join with "_", which Milvus's standard tokenizer (tantivy on a server) splits on while Milvus
# Lite's (\w+) keeps it; "ǂ" (U+01C2) is a letter to both and never occurs in rag.lexical's tokens, so a pair stays one
# term on every deployment. Letter, digit and Han runs are kept whole by both.
PAIR_MARK = "\u01c2"
MAX_TOPK = 16384  # Milvus refuses a larger limit
INSERT_BATCH = 1000  # rows per insert: ~2.5 kB each at 384 dims, far below gRPC's 64 MB message limit
TERMS_MAX_BYTES = 65535  # VARCHAR's limit; clauses of max_clause_chars (2400) stay far below it
VERSION_MAX = 512
LOG_SUFFIX = "_staged"


def milvus_terms(tokens: Iterable[str]) -> str:
    """regcite's token stream as the text Milvus's BM25 function analyses: one term per space-separated word."""
    text = " ".join(t.replace("_", PAIR_MARK) for t in tokens)
    if len(text.encode("utf-8")) > TERMS_MAX_BYTES:
        log.warning("BM25 terms of one clause exceed %d bytes; the tail is not indexed", TERMS_MAX_BYTES)
        text = text.encode("utf-8")[:TERMS_MAX_BYTES].decode("utf-8", "ignore").rsplit(" ", 1)[0]
    return text


def query_text(question: str) -> str:
    """The question's terms, each once: Milvus weighs a query term by its count, rag.lexical once."""
    return milvus_terms(dict.fromkeys(terms(question)))


def masked(uri: str) -> str:
    """The uri without a password, for messages and the catalog's facts."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def is_server(uri: str) -> bool:
    return uri.split("://", 1)[0].lower() in ("http", "https", "tcp", "grpc") and "://" in uri


def version_filter(version_ids: Iterable[str], negate: bool = False) -> str:
    """`version_id in [...]` over exactly these ids (sorted, so one set gives one expression and one cache entry)."""
    for v in version_ids:
        if '"' in v or "\\" in v:
            raise ValueError(f"version id {v!r} cannot be quoted in a Milvus filter")
    listed = ", ".join(f'"{v}"' for v in sorted(version_ids))
    return f"version_id {'not in' if negate else 'in'} [{listed}]"


@contextlib.contextmanager
def _quiet_lite_server():
    """pymilvus waits for a new index with AllocTimestamp, which an in-process Milvus Lite 3.2 does not implement:
    its gRPC server logs a traceback per index although the index is built. Keep that out of the user's terminal."""
    server_log = logging.getLogger("grpc._server")
    level = server_log.level
    server_log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        server_log.setLevel(level)


class MilvusStore:
    """One collection of clause rows (key, version_id, terms, dense, sparse) at a Milvus Lite folder or a server."""

    engine = ENGINE

    def __init__(self, uri: str, collection: str, dim: int, timeout: float | None = None):
        self.uri = uri
        self.collection = collection
        self.log_collection = collection + LOG_SUFFIX
        self.dim = dim
        # Seconds a server gets to answer the first call. Milvus Lite in process shares this process's GIL, so on a
        # busy machine its first answer can be slow without anything being wrong: it gets longer.
        self.timeout = timeout if timeout is not None else (10.0 if is_server(uri) else 60.0)
        self._client_obj = None

    # -- connection ---------------------------------------------------------------------------------------------
    def _client(self):
        if self._client_obj is None:
            from pymilvus import MilvusClient
            from pymilvus.exceptions import MilvusException

            # pymilvus pings every 10 s; a gRPC server that keeps gRPC's defaults (the milvus-lite server) allows one
            # ping per 5 minutes and answers more with GOAWAY "too_many_pings", logged on every replica's stderr.
            kwargs: dict = {"timeout": self.timeout, "grpc_options": {"grpc.keepalive_time_ms": 300_000}}
            uri = self.uri
            if is_server(uri):
                parts = urlsplit(uri)
                if parts.username:  # credentials travel as a token, never inside the address
                    kwargs["token"] = f"{parts.username}:{parts.password or ''}"
                    netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
                    uri = urlunsplit(parts._replace(netloc=netloc))
            else:
                uri = str(Path(uri).expanduser().resolve())
                if not uri.endswith(".db"):  # pymilvus starts Milvus Lite only for a path ending in .db
                    raise IndexUnavailable(f"milvus_uri {self.uri!r}: a Milvus Lite folder must end in .db "
                                           "(e.g. data/milvus.db), or name a server as http://host:19530")
                Path(uri).parent.mkdir(parents=True, exist_ok=True)
            try:
                self._client_obj = MilvusClient(uri=uri, **kwargs)
            except MilvusException as e:
                raise self._unavailable(e) from None
        return self._client_obj

    def _unavailable(self, error) -> IndexUnavailable:
        if not is_server(self.uri) and _lite_locked(Path(self.uri)):
            return IndexUnavailable(
                f"Milvus Lite folder {self.uri} is open in another process (Milvus Lite serves one process); run "
                f"`milvus-lite server --data-dir {self.uri} --port 19530` once and set milvus_uri = "
                "http://127.0.0.1:19530 in every process")
        message = getattr(error, "message", "") or str(error)
        if getattr(error, "code", None) == 2 or "connect" in message.lower():  # nothing answered at that address
            return IndexUnavailable(f"Milvus at {masked(self.uri)} cannot be reached: {message}. Start it (or check "
                                    "milvus_uri and its credentials) and try again")
        return IndexUnavailable(f"Milvus at {masked(self.uri)} refused the request: {message}. Check the server's "
                                "log and resources (memory, disk), then try again")

    def _call(self, method: str, *args, **kwargs):
        """One client call; a Milvus or connection failure becomes IndexUnavailable naming the uri."""
        from pymilvus.exceptions import MilvusException

        client = self._client()
        try:
            return getattr(client, method)(*args, **kwargs)
        except MilvusException as e:
            raise self._unavailable(e) from None

    def _ready(self, create: bool) -> None:
        """The collection (and its log) exists with this dim and is loaded; created when missing and `create`."""
        if not self._call("has_collection", self.collection):
            if not create:
                raise IndexUnavailable(f"Milvus at {masked(self.uri)} has no collection {self.collection!r}, which "
                                       "the catalog's generation names: point milvus_uri at the Milvus that holds it, "
                                       "or re-ingest into a new data_dir")
            self._create()
        else:
            self._check_dim()
        loaded = [self.collection]
        if create:  # only the writer reads or writes the log
            if not self._call("has_collection", self.log_collection):
                self._create_log()
            loaded.append(self.log_collection)
        for name in loaded:
            self._call("load_collection", name)

    def _check_dim(self) -> None:
        described = self._call("describe_collection", self.collection)
        dense = next((f for f in described["fields"] if f["name"] == "dense"), None)
        found = int(dense["params"].get("dim", 0)) if dense else 0
        if found != self.dim:
            raise ModelMismatch(f"Milvus collection {self.collection!r} at {masked(self.uri)} holds {found}-dim "
                                f"vectors, the embedder gives {self.dim}: set milvus_collection to a new name for "
                                "this model, or drop that collection")

    def _create(self) -> None:
        from pymilvus import DataType, Function, FunctionType

        client = self._client()
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("key", DataType.INT64, is_primary=True)  # the catalog's clause key, never reused
        schema.add_field("version_id", DataType.VARCHAR, max_length=VERSION_MAX)
        schema.add_field("terms", DataType.VARCHAR, max_length=TERMS_MAX_BYTES, enable_analyzer=True,
                         analyzer_params={"tokenizer": "standard"})
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=self.dim)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(Function(name="terms_bm25", function_type=FunctionType.BM25,
                                     input_field_names=["terms"], output_field_names=["sparse"]))
        params = client.prepare_index_params()
        # FLAT is exact, as FAISS's IndexFlatIP is; on a cluster of tens of millions use HNSW (M 16-32,
        # efConstruction 200, ef >= 2k at search) and measure recall against FLAT on a sample first.
        params.add_index("dense", index_type="FLAT", metric_type="IP")
        # pymilvus 3 sends index parameters as flat keys, which a server reads; Milvus Lite 3.2 reads only the older
        # nested "params" JSON (and silently uses k1 1.5, b 0.75 without it), which a server also accepts: send both.
        bm25 = {"bm25_k1": K1, "bm25_b": B}
        params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                         params={**bm25, "params": bm25})
        params.add_index("version_id", index_type="INVERTED")  # every search and delete filters on it
        # Strong: a reader opening right after a commit sees the rows the stage flushed.
        with _quiet_lite_server():
            self._call("create_collection", self.collection, schema=schema, index_params=params,
                       consistency_level="Strong")

    def _create_log(self) -> None:
        from pymilvus import DataType

        client = self._client()
        schema = client.create_schema(auto_id=True, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("generation", DataType.INT64)
        schema.add_field("version_id", DataType.VARCHAR, max_length=VERSION_MAX)  # "" marks the generation itself
        schema.add_field("mark", DataType.FLOAT_VECTOR, dim=2)  # Milvus requires a vector field in every collection
        params = client.prepare_index_params()
        params.add_index("mark", index_type="FLAT", metric_type="L2")
        with _quiet_lite_server():
            self._call("create_collection", self.log_collection, schema=schema, index_params=params,
                       consistency_level="Strong")

    # -- the writer's side --------------------------------------------------------------------------------------
    def _removed_by(self) -> dict[int, set[str]]:
        """Per staged generation still logged, the versions it removed."""
        rows = self._call("query", self.log_collection, filter="generation >= 0",
                          output_fields=["generation", "version_id"])
        removed: dict[int, set[str]] = {}
        for row in rows:
            removed.setdefault(int(row["generation"]), set())
            if row["version_id"]:
                removed[int(row["generation"])].add(row["version_id"])
        return removed

    def _delete_except(self, keep: set[str]) -> None:
        self._call("delete", self.collection, filter=version_filter(keep, negate=True) if keep else "key >= 0")
        self._call("flush", self.collection)

    def recover(self, live_version_ids: Iterable[str]) -> None:
        """Drop rows of versions that are not live and that neither of the last two staged generations removed.

        The latest logged generation is either committed (then the versions it removed are the previous
        generation's, still searched by its readers) or died before its catalog commit (then the live versions
        are the previous generation's and the ones it added are orphans, while the versions the generation before
        it removed are still searched by the readers before that). Keeping both removal lists covers both cases;
        what this keeps too long, the next collect drops."""
        self._ready(create=True)
        removed = self._removed_by()
        keep = set(live_version_ids)
        if removed:
            latest = max(removed)
            keep |= removed.get(latest, set()) | removed.get(latest - 1, set())
        self._delete_except(keep)

    def stage(self, generation: int, previous: StoreState | None, added: Sequence[StoredClause],
              removed_versions: Sequence[str], keys: np.ndarray, rows: CatalogRows) -> StoreState:
        """Log what this generation removes, then insert the added versions' rows and flush: all durable before
        the catalog commit. Removed versions' rows stay for the previous generation's readers."""
        self._ready(create=True)
        # The log first, so a stage that dies midway is still recognisable to recover. A retried generation
        # (after a crash) replaces its own earlier entries.
        self._call("delete", self.log_collection, filter=f"generation >= {int(generation)}")
        self._call("insert", self.log_collection, [{"generation": int(generation), "version_id": v, "mark": [0.0, 0.0]}
                                                   for v in ("", *sorted(set(removed_versions)))])
        self._call("flush", self.log_collection)
        # A version removed earlier and added again (the same file, so the same id) gets new keys: its old rows go
        # first, so the new snapshot never sees a version twice. A reader two generations old loses it early.
        again = sorted({c.version_id for c in added})
        for start in range(0, len(again), INSERT_BATCH):
            self._call("delete", self.collection, filter=version_filter(again[start:start + INSERT_BATCH]))
        for start in range(0, len(added), INSERT_BATCH):
            batch = added[start:start + INSERT_BATCH]
            self._call("insert", self.collection, [
                {"key": int(c.key), "version_id": c.version_id, "terms": milvus_terms(c.terms),
                 "dense": np.asarray(c.embedding, dtype=np.float32)} for c in batch])
        self._call("flush", self.collection)
        return StoreState(ENGINE, generation, int(len(keys)), self._facts())

    def _facts(self) -> tuple[tuple[str, str], ...]:
        return (("milvus_collection", self.collection), ("milvus_uri", masked(self.uri)))

    def complete(self, state: StoreState, keys: np.ndarray, rows: CatalogRows) -> StoreState | None:
        """Nothing is ever missing from a Milvus generation that an older release wrote (there was none)."""
        return None

    def open(self, state: StoreState, keys: np.ndarray, version_ids: frozenset[str],
             rows: CatalogRows) -> "MilvusReader":
        self._ready(create=False)
        return MilvusReader(self, np.asarray(keys, dtype=np.int64), frozenset(version_ids))

    def collect(self, current: StoreState, live_version_ids: Iterable[str]) -> None:
        """Drop rows of versions neither the current generation nor the one before it holds, and older log entries."""
        self._ready(create=True)
        removed = self._removed_by().get(current.generation, set())
        self._delete_except(set(live_version_ids) | removed)
        self._call("delete", self.log_collection, filter=f"generation < {int(current.generation)}")
        self._call("flush", self.log_collection)

    def row_count(self) -> int:
        """Rows the collection holds, every version (tests and the benchmark)."""
        found = self._call("query", self.collection, filter="", output_fields=["count(*)"])
        return int(found[0]["count(*)"])

    def close(self) -> None:
        if self._client_obj is not None:
            self._client_obj.close()
            self._client_obj = None


class MilvusReader:
    """Search over one committed generation: every request filters on the snapshot's (or the scope's) versions."""

    def __init__(self, store: MilvusStore, keys: np.ndarray, version_ids: frozenset[str]):
        self.store = store
        self.keys = keys  # ascending: a hit outside them (a row a later stage re-added) is dropped
        self.version_ids = version_ids
        self._everything = version_filter(version_ids) if version_ids else ""

    def _scope(self, scope: Scope) -> str:
        """The filter expression for a scope; "" when it admits nothing."""
        if scope.version_ids is None:
            return self._everything
        if not scope.version_ids & self.version_ids:
            return ""
        expr = version_filter(scope.version_ids & self.version_ids)
        if scope.keys is not None:  # a caller's mask admits part of a version: name the keys too
            if not len(scope.keys):
                return ""
            expr += f" and key in [{', '.join(str(int(k)) for k in scope.keys)}]"
        return expr

    def _kept(self, found, normalise) -> Hits:
        hits = [(int(h["key"]), normalise(float(h["distance"]))) for h in found]
        if not hits:
            return hits
        ids = np.fromiter((k for k, _ in hits), dtype=np.int64, count=len(hits))
        at = np.minimum(np.searchsorted(self.keys, ids), max(len(self.keys) - 1, 0))
        known = (self.keys[at] == ids) if len(self.keys) else np.zeros(len(ids), dtype=bool)
        return [h for h, ok in zip(hits, known) if ok]

    def dense(self, queries: np.ndarray, k: int, scope: Scope) -> list[Hits]:
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        expr = self._scope(scope)
        k = min(k, MAX_TOPK, len(self.keys))
        if not expr or k <= 0:
            return [[] for _ in range(len(queries))]
        found = self.store._call("search", self.store.collection, data=list(queries), anns_field="dense", limit=k,
                                 filter=expr, output_fields=["key"], search_params={"metric_type": "IP"})
        return [self._kept(row, float) for row in found]

    def lexical(self, question: str, k: int, scope: Scope) -> Hits:
        """BM25 over regcite's terms. Milvus Lite returns the score negated, a server as is; both multiply by
        (k1 + 1), which bm25s's Lucene variant leaves out: dividing gives rag.lexical's score, rank for rank."""
        text = query_text(question)
        expr = self._scope(scope)
        k = min(k, MAX_TOPK, len(self.keys))
        if not text or not expr or k <= 0:
            return []
        found = self.store._call("search", self.store.collection, data=[text], anns_field="sparse", limit=k,
                                 filter=expr, output_fields=["key"], search_params={"metric_type": "BM25"})
        hits = self._kept(found[0], lambda d: abs(d) / (1.0 + K1))
        return [(key, score) for key, score in sorted(hits, key=lambda h: -h[1]) if score > 0]

    def vector(self, key: int) -> np.ndarray:
        found = self.store._call("query", self.store.collection, filter=f"key == {int(key)}", output_fields=["dense"])
        if not found:
            raise KeyError(key)
        return np.asarray(found[0]["dense"], dtype=np.float32)


def _lite_locked(folder: Path) -> bool:
    """Whether another process holds the Milvus Lite folder's lock (it serves one process at a time)."""
    lock = folder.expanduser() / "LOCK"
    if not lock.exists():
        return False
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
