"""FAISS side of the index: a flat inner-product index whose row i is clause position i, written atomically."""
from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# ENVIRONMENT.md: batches of 32-100 queries run 4-7x faster on 2 cores with BLAS from 20 queries up.
BLAS_THRESHOLD = 20


def _faiss():
    import faiss

    faiss.cvar.distance_compute_blas_threshold = BLAS_THRESHOLD
    return faiss


def vector_file(index_dir: Path, generation: int) -> Path:
    return index_dir / f"vectors-{generation}.faiss"


def build(embeddings: np.ndarray, dim: int):
    """A CPU IndexFlatIP over the rows given, in order (row == clause position)."""
    faiss = _faiss()
    index = faiss.IndexFlatIP(dim)
    if len(embeddings):
        index.add(np.ascontiguousarray(embeddings, dtype=np.float32))
    return index


def write_atomic(index, path: Path) -> str:
    """Write to path.tmp, fsync, rename, fsync the folder; return the file's sha256."""
    faiss = _faiss()
    data = faiss.serialize_index(index).tobytes()
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)
    return hashlib.sha256(data).hexdigest()


def fsync_dir(folder: Path) -> None:
    """Make a rename inside folder durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, "" when it cannot be read."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                h.update(block)
    except OSError:
        return ""
    return h.hexdigest()


def read_checked(path: Path, count: int, sha256: str, dim: int):
    """The index stored at path, memory-mapped (no copy of the vectors in this process), or None when it is missing
    or does not match the catalog. The writer never rewrites a file in place, so a mapped file stays valid."""
    faiss = _faiss()
    found = file_sha256(path)
    if not found:
        return None
    if found != sha256:
        log.warning("vector file %s does not match the catalog; rebuilding it from stored embeddings", path)
        return None
    try:
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
    except RuntimeError:  # an index type that cannot be mapped: read it whole
        index = faiss.read_index(str(path))
    if index.ntotal != count or index.d != dim:
        return None
    return index


def to_gpu(index, wanted: bool):
    """A GPU copy of index when faiss sees a GPU and settings allow it, else None."""
    if not wanted:
        return None
    faiss = _faiss()
    if not hasattr(faiss, "get_num_gpus") or faiss.get_num_gpus() < 1:
        return None
    log.info("moving the vector index to %d GPU(s)", faiss.get_num_gpus())
    return faiss.index_cpu_to_all_gpus(index)


def search(cpu_index, gpu_index, queries: np.ndarray, k: int, allowed: np.ndarray | None):
    """Per query, (position, inner product) best first; with allowed, only those positions, still up to k."""
    faiss = _faiss()
    queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
    n = cpu_index.ntotal
    if allowed is not None:
        allowed = np.asarray(allowed, dtype=bool)
        if allowed.shape != (n,):
            raise ValueError(f"allowed mask has shape {allowed.shape}, index has {n} clauses")
        k = min(k, int(allowed.sum()))
    k = min(k, n)
    if k <= 0:
        return [[] for _ in range(len(queries))]
    if allowed is None or allowed.all():
        scores, ids = (gpu_index or cpu_index).search(queries, k)
    else:
        # The selector filters inside the scan, so a selective filter still yields k results.
        bitmap = np.packbits(allowed, bitorder="little")
        selector = faiss.IDSelectorBitmap(n, faiss.swig_ptr(bitmap))
        params = faiss.SearchParameters(sel=selector)
        # GPU flat indexes do not take every selector; the CPU copy always does.
        scores, ids = cpu_index.search(queries, k, params=params)
    return [[(int(i), float(s)) for i, s in zip(row_ids, row_scores) if i >= 0] for row_ids, row_scores in zip(ids, scores)]
