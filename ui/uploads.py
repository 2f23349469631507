"""Uploads: safe names, size and type checks, and the ingest run as a subprocess reporting JSON events."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import subprocess
import sys
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Callable

from rag.formats import SUFFIX_FORMATS
from rag.reports import IngestReport
from rag.store import file_sha256

log = logging.getLogger(__name__)

# With the dot: Streamlit reads a bare "text" as the MIME family text/* and then checks no extension at all.
ALLOWED_SUFFIXES = tuple(SUFFIX_FORMATS)  # an upload must say what it is
ROOT = Path(__file__).resolve().parents[1]  # the ingest package lives beside ui/


@dataclass(frozen=True)
class Saved:
    name: str  # the name as uploaded
    path: Path  # where it was saved (safe name)
    sha256: str


@dataclass(frozen=True)
class IngestOutcome:
    """How an ingest subprocess ended: its report, or why there is none."""

    report: IngestReport | None
    error: str = ""


@dataclass(frozen=True)
class FileResult:
    """What became of one file: indexed, unchanged, skipped (by the ingest), rejected (before it), or failed."""

    file: str  # the name as uploaded
    saved_as: str
    result: str
    detail: str

    @property
    def is_problem(self) -> bool:
        return self.result in ("skipped", "rejected", "failed")

    def row(self) -> dict[str, str]:
        """A row of the results table, headed as the page shows it."""
        return {"File": self.file, "Saved as": self.saved_as, "Result": self.result, "Detail": self.detail}


def safe_name(name: str, max_len: int = 120) -> str:
    """A file name that cannot leave the uploads folder, hide itself, or carry control or shell characters."""
    base = unicodedata.normalize("NFKC", name).replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    base = re.sub(r"[^\w.()\-]+", "_", base, flags=re.UNICODE).strip("._")
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    stem = stem[: max_len - len(ext) - 1] or "upload"
    return f"{stem}.{ext.lower()}" if ext else stem


def check_upload(name: str, size: int, max_mb: int) -> str:
    """Why an upload is refused, or "" when it is acceptable."""
    ext = "." + name.rpartition(".")[2].lower() if "." in name else ""
    if ext not in ALLOWED_SUFFIXES:
        return f"type {ext or '(none)'} is not accepted (allowed: {', '.join(ALLOWED_SUFFIXES)})"
    if size > max_mb * 1024 * 1024:
        return f"{size / 1024 / 1024:.1f} MB is over the {max_mb} MB upload limit"
    if size == 0:
        return "the file is empty"
    return ""


def save_upload(name: str, data: bytes, folder: Path, max_mb: int) -> tuple[Saved | None, str]:
    """Write an upload under a safe name (a file of the same name is replaced: that is how amendments arrive)."""
    reason = check_upload(name, len(data), max_mb)
    if reason:
        return None, reason
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / safe_name(name)
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_bytes(data)
    os.replace(tmp, path)  # readers (a running ingest) see the old file or the new one, never half
    return Saved(name, path, hashlib.sha256(data).hexdigest()), ""


def saved_of(path: Path) -> Saved:
    """An already-present file as if just uploaded, for re-checking indexed files."""
    return Saved(path.name, path, file_sha256(path))


def run_ingest(
    paths: list[Path], data_dir: Path, on_progress: Callable[[int, int], None] | None = None, timeout_s: float = 3600,
    effective_from: date | None = None,
) -> IngestOutcome:
    """Run `python -m ingest --json-events`: progress events go to on_progress, the report (or error) comes back.

    `effective_from` is the date the user states for these files, over what the documents say."""
    env = {**os.environ, "REGCITE_DATA_DIR": str(data_dir)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    dated = ["--effective-from", effective_from.isoformat()] if effective_from else []
    cmd = [sys.executable, "-m", "ingest", "--json-events", "--data-dir", str(data_dir), *dated, *map(str, paths)]
    log.info("running %s", " ".join(cmd))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    final: dict = {}
    try:
        for line in proc.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if event.get("event") == "progress" and on_progress is not None:
                on_progress(int(event["done"]), int(event["total"]))
            elif event.get("event") in ("report", "error"):
                final = event
        stderr = proc.stderr.read()
        proc.wait(timeout=timeout_s)
    finally:
        if proc.poll() is None:
            proc.kill()
    if final.get("event") == "report":
        return IngestOutcome(IngestReport.from_dict(final))
    if final.get("event") == "error":
        return IngestOutcome(None, str(final.get("message") or final.get("error") or "the ingest failed"))
    tail = stderr.strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
    return IngestOutcome(None, tail[0])


def per_file_results(saved: list[Saved], outcome: IngestOutcome, indexed_before: set[str],
                     indexed_after: set[str]) -> list[FileResult]:
    """One result per uploaded file: indexed, unchanged, skipped with the ingest's reason, or failed."""
    skipped = {str(Path(path).resolve()): reason for path, reason in (outcome.report.skipped if outcome.report else ())}
    results = []
    for s in saved:
        reason = skipped.get(str(s.path.resolve()))
        if reason is not None:
            results.append(FileResult(s.name, s.path.name, "skipped", reason))
        elif s.sha256 in indexed_before:
            results.append(FileResult(s.name, s.path.name, "unchanged", "already indexed"))
        elif s.sha256 in indexed_after:
            results.append(FileResult(s.name, s.path.name, "indexed", ""))
        else:
            results.append(FileResult(s.name, s.path.name, "failed", outcome.error or "not in the index after the run"))
    return results
