"""The file formats regcite reads, by suffix: one table for the loader, the ingest walk and the app's uploads."""
from __future__ import annotations

from pathlib import Path

SUFFIX_FORMATS = {
    ".pdf": "pdf", ".html": "html", ".htm": "html", ".xhtml": "html",
    ".md": "markdown", ".markdown": "markdown", ".txt": "text", ".text": "text",
}


def format_of(path: str | Path) -> str | None:
    """"pdf", "html", "markdown" or "text" ("text" also for a name without a suffix); None when unsupported."""
    suffix = Path(path).suffix.lower()
    return SUFFIX_FORMATS.get(suffix, "text" if not suffix else None)


def supported_suffixes() -> str:
    """For messages: ".htm, .html, .markdown, …"."""
    return ", ".join(sorted(SUFFIX_FORMATS))
