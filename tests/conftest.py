"""Shared fixtures: the ../shared material (skipped with a reason where absent) and isolated settings."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

from rag.config import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def shared_path(relative: str) -> Path:
    """A path under ../shared, or skip the calling test naming what is missing."""
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"needs {path} (the shared test material beside the project root); absent here")
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with a private data directory and no environment or config file leaking in."""
    return load_settings(env={}, overrides={"data_dir": tmp_path / "data"})


def hashed_word_vectors(texts, dim: int, pattern: str = r"\w+") -> np.ndarray:
    """Stand-in embeddings for tests that need no real model: L2-normalised hashed bags of words."""
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in re.findall(pattern, text.lower()):
            out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % dim] += 1.0
    out[:, 0] += 1e-3  # no zero rows
    return out / np.linalg.norm(out, axis=1, keepdims=True)
