"""The overlap guard: no model is trained on a question it will be scored on, and a tuned folder proves it."""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from rag.errors import RegciteError

TRAINED_ON = "training-questions.jsonl"  # one {"id", "text_sha"} a line: lets a scorer prove it did not train on its set


class TrainingOverlap(RegciteError):
    """Training questions overlap the set used to score the tuned model."""

    exit_code = 2


def normalize_question(text: str) -> str:
    """NFKC, case-folded, punctuation dropped, single spaces: two spellings of one question compare equal."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def text_sha(text: str) -> str:
    """What TRAINED_ON keeps of a question's text: enough to match it, not enough to read it back."""
    return hashlib.sha256(normalize_question(text).encode()).hexdigest()[:16]


def question_ids_sha(items: Iterable[tuple[str, str]]) -> str:
    """sha256 over the sorted question ids: names exactly which questions a model saw."""
    return hashlib.sha256("\n".join(sorted(qid for qid, _ in items)).encode()).hexdigest()[:16]


def check_no_overlap(train: Iterable[tuple[str, str]], scoring: Iterable[tuple[str, str]],
                     scoring_name: str = "the scoring set") -> None:
    """Raise TrainingOverlap when a training question shares an id or its normalised text with a scoring question."""
    train = list(train)
    scoring = list(scoring)
    ids = {qid for qid, _ in scoring}
    texts = {normalize_question(t): qid for qid, t in scoring}
    clashes = []
    for qid, text in train:
        if qid in ids:
            clashes.append(f"{qid} (same id)")
        elif normalize_question(text) in texts:
            clashes.append(f"{qid} (same text as {texts[normalize_question(text)]})")
    if clashes:
        shown = ", ".join(clashes[:10]) + (f" and {len(clashes) - 10} more" if len(clashes) > 10 else "")
        raise TrainingOverlap(
            f"refusing to train: {len(clashes)} training question(s) also in {scoring_name}: {shown}. "
            "A model scored on questions it was trained on reports inflated figures; remove them from the "
            "training data or score on another set"
        )


@dataclass(frozen=True)
class ScoringSet:
    """A set a tuned model will be scored on: training refuses any question of it."""

    name: str
    items: tuple[tuple[str, str], ...]  # (question id, question text)


def write_trained_on(model_dir: Path, items: Iterable[tuple[str, str]]) -> None:
    """Record (id, text hash) of every training question in a model folder, for the scorers' check."""
    (Path(model_dir) / TRAINED_ON).write_text(
        "".join(json.dumps({"id": qid, "text_sha": text_sha(text)}) + "\n" for qid, text in items), encoding="utf-8")


def _trained_on(model_dir: str | Path) -> tuple[set[str], set[str]] | None:
    """(ids, text hashes) of the questions a regcite-tuned model folder was trained on; None for other models."""
    path = Path(model_dir).expanduser() / TRAINED_ON
    if not path.is_file():
        return None
    trained = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {t["id"] for t in trained}, {t["text_sha"] for t in trained}


def split_trained(model_dir: str | Path, scoring: Iterable[tuple[str, str]]) -> tuple[list, list]:
    """(questions the model never saw, questions it was trained on), by id or normalised text."""
    scoring = list(scoring)
    trained = _trained_on(model_dir)
    if trained is None:
        return scoring, []
    ids, shas = trained
    seen = [item for item in scoring if item[0] in ids or text_sha(item[1]) in shas]
    dropped = set(seen)
    return [item for item in scoring if item not in dropped], seen


def check_model_not_trained_on(model_dir: str | Path, scoring: Iterable[tuple[str, str]],
                               scoring_name: str = "the scoring set") -> None:
    """For scorers: raise TrainingOverlap when a tuned model folder was trained on any of these questions."""
    _, seen = split_trained(model_dir, scoring)
    if seen:
        clashes = [qid for qid, _ in seen]
        raise TrainingOverlap(f"the model {model_dir} was trained on {len(clashes)} question(s) of {scoring_name} "
                              f"(e.g. {', '.join(clashes[:5])}); its scores there would be inflated")
