"""Uploads: safe names, size, count and type checks, a private folder outside anything served, and the ingest run as
a subprocess reporting JSON events."""
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

from rag.errors import ConfigError
from rag.formats import SUFFIX_FORMATS
from rag.reports import IngestReport
from rag.store import file_sha256

log = logging.getLogger(__name__)

# With the dot: Streamlit reads a bare "text" as the MIME family text/* and then checks no extension at all.
ALLOWED_SUFFIXES = tuple(SUFFIX_FORMATS)  # an upload must say what it is
ROOT = Path(__file__).resolve().parents[1]  # the ingest package lives beside ui/
# What the app's web server hands out as files: Streamlit's static folder beside the app, were static serving on.
SERVED = (ROOT / "ui" / "static",)
# Names Windows reserves for devices whatever the extension ("NUL.txt" is the null device there).
RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in "0123456789¹²³"), *(f"LPT{i}" for i in "0123456789¹²³")}
MAX_NAME_BYTES = 200  # under the 255 bytes most file systems allow, with room for the ".part" of a write


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
    """A file name that cannot leave the uploads folder, hide itself, name a device, or carry control or shell
    characters: the last component only, at most max_len characters and MAX_NAME_BYTES bytes of UTF-8."""
    base = unicodedata.normalize("NFKC", name).replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    base = re.sub(r"[^\w.()\-]+", "_", base, flags=re.UNICODE).strip("._")
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    ext = ext[:16]
    cut = stem[: max_len - len(ext) - 1]
    while len(cut.encode("utf-8")) > MAX_NAME_BYTES - len(ext) - 1:
        cut = cut[:-1]
    stem = (cut if cut == stem else cut.rstrip("._")) or "upload"
    if stem.split(".")[0].upper() in RESERVED:  # Windows reads "NUL.tar.gz" as the device too: prefix, not suffix
        stem = "_" + stem
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


def check_folder(folder: Path) -> None:
    """Refuse an uploads folder inside what the web server serves: an upload must never be fetched as a page."""
    resolved = folder.expanduser().resolve()
    for served in SERVED:
        if resolved == served or served in resolved.parents:
            raise ConfigError(f"uploads would be saved in {folder}, inside {served}, which the app's web server "
                              "serves: set data_dir to a folder outside the app")


def save_upload(name: str, data: bytes, folder: Path, max_mb: int) -> tuple[Saved | None, str]:
    """Write an upload under a safe name (a file of the same name is replaced: that is how amendments arrive).
    The folder is private to this user (0700) and the file readable by its owner only."""
    reason = check_upload(name, len(data), max_mb)
    if reason:
        return None, reason
    check_folder(folder)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / safe_name(name)
    tmp = path.with_name(f".{path.name}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)  # readers (a running ingest) see the old file or the new one, never half
    return Saved(name, path, hashlib.sha256(data).hexdigest()), ""


def save_uploads(files: list[tuple[str, bytes]], folder: Path, max_mb: int, max_files: int,
                 ) -> tuple[list[Saved], list[FileResult]]:
    """One request's uploads, saved: at most max_files of them, each once. The rest come back rejected, named,
    with the limit they broke, and nothing of theirs is written."""
    saved: list[Saved] = []
    rejected: list[FileResult] = []
    names: set[str] = set()
    for n, (name, data) in enumerate(files):
        if n >= max_files:
            rejected.append(FileResult(name, "", "rejected", f"over the limit of {max_files} files per upload "
                                                             "(upload_max_files); upload it in another batch"))
            continue
        target = safe_name(name)
        if target in names:
            rejected.append(FileResult(name, "", "rejected", f"another file of this upload is saved as {target}; "
                                                             "rename one of them"))
            continue
        s, reason = save_upload(name, data, folder, max_mb)
        if s is None:
            rejected.append(FileResult(name, "", "rejected", reason))
        else:
            names.add(target)
            saved.append(s)
    return saved, rejected


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
