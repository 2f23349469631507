"""The engines that hold clause vectors and BM25 for the index (the contract: rag/stores/contract.py)."""
from __future__ import annotations

from rag.config import Settings
from rag.stores.contract import ClauseStore, StoreState

# Catalog meta keys that are the catalog's own; every other key an engine wrote is one of its StoreState facts.
CATALOG_KEYS = frozenset({"generation", "model_name", "dim", "schema_version", "vectors_count", "embed_backends",
                          "index_engine", "next_clause_key"})


def open_store(settings: Settings, dim: int) -> ClauseStore:
    """The engine settings.index_backend names; Milvus (and pymilvus) only loads when asked for."""
    if settings.index_backend == "milvus":
        from rag.stores.milvus_store import MilvusStore

        return MilvusStore(settings.milvus_target, settings.milvus_collection, dim)
    from rag.stores.faiss_store import FaissStore

    return FaissStore(settings.index_dir, dim, settings.faiss_gpu)


def state_from_meta(meta: dict[str, str]) -> StoreState | None:
    """The committed engine state a catalog's meta records; None before the first commit. A store from before
    issue 17 has no index_engine key: it is FAISS."""
    generation = int(meta.get("generation", 0))
    if not generation:
        return None
    facts = tuple(sorted((k, v) for k, v in meta.items() if k not in CATALOG_KEYS))
    return StoreState(meta.get("index_engine", "faiss"), generation, int(meta.get("vectors_count", 0) or 0), facts)


def meta_of(state: StoreState) -> list[tuple[str, str]]:
    """What the catalog commit records for a staged state."""
    return [("index_engine", state.engine), ("vectors_count", str(state.count)), *state.facts]
