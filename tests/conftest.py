"""Shared fixtures: the ../shared material (skipped with a reason where absent) and isolated settings."""
from __future__ import annotations

from pathlib import Path

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
