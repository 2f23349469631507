"""A model-free embedder for tests (and benchmarks) of everything but ranking quality: hashed word counts."""
from __future__ import annotations

import hashlib
import re

import numpy as np


def hashed_word_vectors(texts, dim: int, pattern: str = r"\w+") -> np.ndarray:
    """L2-normalised hashed bags of words: the same vectors on every machine, no model."""
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in re.findall(pattern, text.lower()):
            out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % dim] += 1.0
    out[:, 0] += 1e-3  # no zero rows
    return out / np.linalg.norm(out, axis=1, keepdims=True)


class HashEmbedder:
    """Stands in for the packaged embedder where the vectors' meaning does not matter; records what it embedded.

    Its name is stored with an index like a model's, so an index built with one dim refuses another."""

    def __init__(self, dim: int = 16):
        self.name, self.dim = f"fake-hash-{dim}", dim
        self.embedded: list[str] = []

    def embed_documents(self, texts):
        self.embedded += list(texts)
        return hashed_word_vectors(texts, self.dim)

    def embed_query(self, text):
        return hashed_word_vectors([text], self.dim)[0]
