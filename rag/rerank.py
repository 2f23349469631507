"""Optional cross-encoder reranking of fused candidates (sentence-transformers CrossEncoder, loaded on first use)."""
from __future__ import annotations

import threading

from rag.models import load_cross_encoder

ADVICE = "Set reranker (REGCITE_RERANKER) to a local cross-encoder folder, or to an empty string to turn reranking off"


class Reranker:
    """Scores (question, clause text) pairs with a local cross-encoder; higher is more relevant."""

    def __init__(self, name: str, device: str = "auto", max_length: int = 512, allow_downloads: bool = False):
        self.name = name
        self._device = device
        self._max_length = max_length
        self._allow_downloads = allow_downloads
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                self._model = load_cross_encoder(self.name, self._device, self._allow_downloads, "reranker",
                                                 ADVICE, max_length=self._max_length)
            return self._model
    def scores(self, question: str, texts: list[str]) -> list[float]:
        if not texts:
            return []
        model = self._load()
        raw = model.predict([(question, t) for t in texts], show_progress_bar=False, convert_to_numpy=True)
        if getattr(raw, "ndim", 1) == 2:  # a multi-label head: take the last column as "relevant"
            raw = raw[:, -1]
        return [float(s) for s in raw]
