"""Symbolic links met while walking a folder: which ones the ingest names as skipped instead of passing over."""
from __future__ import annotations

import errno
from pathlib import Path


def link_problem(path: Path) -> str:
    """Why a symbolic link is not ingested: a loop, a dangling target, or a folder above it ("" for a usable link
    and for anything that is not a link). Folder links are never followed by the walk; these say why out loud."""
    if not path.is_symlink():
        return ""
    try:
        target = path.resolve(strict=True)
    except RuntimeError:  # Python 3.11 reports a loop this way
        return "symbolic link loop: not followed"
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "symbolic link loop: not followed"
        return f"broken symbolic link ({e.strerror or e}): nothing to ingest"
    parent = path.parent.resolve()
    if target.is_dir() and (target == parent or target in parent.parents):
        return "symbolic link to a folder that contains it (a loop): not followed"
    return ""
