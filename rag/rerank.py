"""Optional cross-encoder reranking of fused candidates (sentence-transformers CrossEncoder, loaded on first use)."""
from __future__ import annotations

import threading
from pathlib import Path

from rag.errors import ModelUnavailable


class Reranker:
    """Scores (question, clause text) pairs with a local cross-encoder; higher is more relevant."""

    def __init__(self, name: str, device: str = "cpu", max_length: int = 512):
        self.name = name
        self._device = device
        self._max_length = max_length
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                from sentence_transformers import CrossEncoder

                local = Path(self.name).expanduser()
                try:
                    self._model = CrossEncoder(str(local) if local.is_dir() else self.name, device=self._device,
                                               max_length=self._max_length, local_files_only=True)
                except Exception as e:  # HF raises OSError, ValueError or its own errors depending on the cause
                    raise ModelUnavailable(
                        f"cannot load reranker {self.name!r}: {e}. Set reranker (REGCITE_RERANKER) to a local "
                        "cross-encoder folder, or to an empty string to turn reranking off"
                    ) from e
            return self._model

    def scores(self, question: str, texts: list[str]) -> list[float]:
        if not texts:
            return []
        model = self._load()
        raw = model.predict([(question, t) for t in texts], show_progress_bar=False, convert_to_numpy=True)
        if getattr(raw, "ndim", 1) == 2:  # a multi-label head: take the last column as "relevant"
            raw = raw[:, -1]
        return [float(s) for s in raw]
