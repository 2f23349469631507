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
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)

ALLOWED_TYPES = ("pdf", "html", "htm", "md", "markdown", "txt")
ROOT = Path(__file__).resolve().parents[1]  # the ingest package lives beside ui/


@dataclass(frozen=True)
class Saved:
    name: str  # the name as uploaded
    path: Path  # where it was saved (safe name)
    sha256: str


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
    ext = name.rpartition(".")[2].lower() if "." in name else ""
    if ext not in ALLOWED_TYPES:
        return f"type .{ext or '?'} is not accepted (allowed: {', '.join('.' + t for t in ALLOWED_TYPES)})"
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
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return Saved(path.name, path, h.hexdigest())


def run_ingest(
    paths: list[Path], data_dir: Path, on_progress: Callable[[int, int], None] | None = None, timeout_s: float = 3600
) -> dict:
    """Run `python -m ingest --json-events` and return its report event (or an "error" event)."""
    env = {**os.environ, "REGCITE_DATA_DIR": str(data_dir)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    cmd = [sys.executable, "-m", "ingest", "--json-events", "--data-dir", str(data_dir), *map(str, paths)]
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
    if not final:
        tail = stderr.strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
        final = {"event": "error", "error": "IngestFailed", "message": tail[0]}
    return final


def per_file_results(saved: list[Saved], report: dict, indexed_before: set[str], indexed_after: set[str]) -> list[dict]:
    """One row per uploaded file: indexed, unchanged or skipped, with the reason."""
    skipped = {}
    for path, reason in report.get("skipped", []):
        skipped[str(Path(path).resolve())] = reason
    rows = []
    for s in saved:
        reason = skipped.get(str(s.path.resolve()))
        if reason is not None:
            rows.append({"File": s.name, "Saved as": s.path.name, "Result": "skipped", "Detail": reason})
        elif s.sha256 in indexed_before:
            rows.append({"File": s.name, "Saved as": s.path.name, "Result": "unchanged", "Detail": "already indexed"})
        elif s.sha256 in indexed_after:
            rows.append({"File": s.name, "Saved as": s.path.name, "Result": "indexed", "Detail": ""})
        else:
            rows.append({"File": s.name, "Saved as": s.path.name, "Result": "failed",
                         "Detail": report.get("message", "not in the index after the run")})
    return rows
