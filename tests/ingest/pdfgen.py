"""Real multi-page PDFs for tests, printed by Debian's chromium from HTML (pypdf cannot write text)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def html_to_pdf(html: str, out: Path) -> Path:
    """Print html to out with chromium; skips the calling test where no chromium is installed."""
    if CHROMIUM is None:
        pytest.skip("needs chromium (apt-get install -y chromium) to print test PDFs")
    source = out.with_suffix(".html")
    source.write_text(html, encoding="utf-8")
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
         "--disable-background-networking", "--disable-component-update", "--no-first-run",
         f"--user-data-dir={out.parent / 'chromium-profile'}", f"--print-to-pdf={out}", source.as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    return out


def pages_html(pages: list[str], lang: str = "en") -> str:
    """One HTML page per entry, each forced onto its own printed page."""
    body = '<div style="page-break-after: always">{}</div>'
    return (f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>Test document</title>'
            "<style>body{font-family:serif;font-size:11pt} p{margin:0.2em 0}</style></head><body>"
            + "".join(body.format(p) for p in pages) + "</body></html>")
