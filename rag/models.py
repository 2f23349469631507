"""Where a model is loaded from, and on which device: one offline rule and one meaning of "auto" for every model.

A model is named by a local folder or by a Hugging Face hub id. A hub id resolves from the local cache only,
unless `allow_model_downloads` is on: nothing reaches the network because a name happened to look like a hub id.
"""
from __future__ import annotations

import logging
from pathlib import Path

from rag.errors import ModelUnavailable

log = logging.getLogger(__name__)

OFFLINE = ("is not a local folder and not in the Hugging Face cache, and model downloads are off "
           "(allow_model_downloads = false; REGCITE_ALLOW_MODEL_DOWNLOADS=1 lets regcite fetch it)")


def resolve_device(setting: str) -> str:
    """"auto" is CUDA when torch sees a GPU, else the CPU, for every model regcite loads; anything else as given."""
    if setting != "auto":
        return setting
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def model_source(name: str, allow_downloads: bool, what: str, advice: str) -> tuple[str, bool]:
    """(what to hand to from_pretrained, whether it may download): a local folder, or a hub id found in the cache.

    Raises ModelUnavailable, "cannot load <what> <name>: <reason>. <advice>", when the name is neither a folder
    nor cached and downloads are off.
    """
    folder = Path(name).expanduser()
    if folder.is_dir():
        return str(folder), False
    if name.startswith(("/", "./", "../", "~")):
        raise ModelUnavailable(f"cannot load {what} {name!r}: the folder {folder} does not exist. {advice}")
    if allow_downloads:
        return name, True
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(name, local_files_only=True), False
    except Exception:  # LocalEntryNotFoundError, or a malformed repo id (HFValidationError)
        raise ModelUnavailable(f"cannot load {what} {name!r}: it {OFFLINE}. {advice}") from None


def load_sentence_transformer(name: str, device: str, allow_downloads: bool, what: str, advice: str):
    source, download = model_source(name, allow_downloads, what, advice)
    from sentence_transformers import SentenceTransformer

    resolved = resolve_device(device)
    log.info("loading %s %s on %s", what, source, resolved)
    try:
        return SentenceTransformer(source, device=resolved, local_files_only=not download)
    except Exception as e:  # sentence-transformers raises OSError, ValueError or HF errors depending on the cause
        raise ModelUnavailable(f"cannot load {what} {name!r} from {source}: {e}. {advice}") from e


def load_cross_encoder(name: str, device: str, allow_downloads: bool, what: str, advice: str,
                       max_length: int | None = None):
    source, download = model_source(name, allow_downloads, what, advice)
    from sentence_transformers import CrossEncoder

    resolved = resolve_device(device)
    log.info("loading %s %s on %s", what, source, resolved)
    try:
        return CrossEncoder(source, device=resolved, max_length=max_length, local_files_only=not download)
    except Exception as e:  # as above
        raise ModelUnavailable(f"cannot load {what} {name!r} from {source}: {e}. {advice}") from e
