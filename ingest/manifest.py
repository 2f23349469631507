"""What the user says about files: effective dates (and document ids) from `--effective-from` or a manifest file.

A manifest is JSON, in either shape:
  {"amendments/12cfr1002_2016-16301.pdf": "2016-07-11", "memo.md": {"effective_from": "2024-03-01", "doc_id": "X"}}
  [{"path": "…", "effective_from": "…", "doc_id": "…"}, …]   (also ../shared/corpus/MANIFEST.json's own shape:
  "primary", "effective_date" and "other_formats", each other format the same version)
Paths are relative to the manifest's folder, or absolute.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from rag.dates import iso_date
from rag.errors import ConfigError


@dataclass(frozen=True)
class Stated:
    """What the user stated about one file; None where they said nothing."""

    effective_from: date | None = None
    doc_id: str | None = None


def _date(value, where: str) -> date | None:
    try:
        return iso_date(value, where)
    except ValueError as e:
        raise ConfigError(str(e)) from None


def parse_date(text: str, flag: str = "--effective-from") -> date:
    day = _date(text, flag)
    if day is None:
        raise ConfigError(f"{flag} needs a date (YYYY-MM-DD)")
    return day


def read_manifest(path: str | Path) -> dict[Path, Stated]:
    """Resolved file path -> what the manifest states about it; raises ConfigError saying what is wrong."""
    path = Path(path).expanduser()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"manifest not found: {path}") from None
    except (OSError, ValueError) as e:
        raise ConfigError(f"manifest {path} is not readable JSON: {e}") from None
    entries = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else None
    if entries is None:
        raise ConfigError(f"manifest {path}: expected a JSON object or list")
    out: dict[Path, Stated] = {}
    for key, value in entries:
        where = f"manifest {path}, entry {key}"
        if isinstance(value, str):
            files, stated = [key], Stated(_date(value, where))
        elif isinstance(value, dict):
            files = [value.get("path") or value.get("primary") or key, *value.get("other_formats", [])]
            stated = Stated(_date(value.get("effective_from", value.get("effective_date")), where),
                            value.get("doc_id") or None)
        else:
            raise ConfigError(f"{where}: expected a date or an object")
        for name in files:
            if not isinstance(name, str):
                raise ConfigError(f"{where}: no file path")
            out[(path.parent / name).resolve()] = stated
    return out
