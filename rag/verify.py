"""Checks one answer sentence against a cited clause: its numbers must be there, and the meaning close enough."""
from __future__ import annotations

import logging
import re
import threading
import unicodedata
from decimal import Decimal, InvalidOperation

from rag.cite import Check
from rag.config import Settings
from rag.context import ContextBlock
from rag.models import load_cross_encoder
from rag.numerals import LARGE_UNITS, NUMERAL_CHARS, SMALL_UNITS, chinese_number
from rag.text import overlap, split_sentences
from rag.types import Verdict

log = logging.getLogger(__name__)

SUPPORTED_AT = 0.6  # semantic score at or above which a sentence with all its numbers is supported
PARTIAL_AT = 0.35

_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split())}
_WORDS.update({w: 10 * (i + 2) for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())})
_SCALES = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9}
_UNITS = re.compile(r"^\s*(?:business |calendar )?(?:days?|weeks?|months?|years?|hours?|minutes?|percent|per cent|"
                    r"dollars?|times|percentage points?)\b", re.I)
_LABEL = re.compile(r"\((?:\d{1,3}|[a-zA-Z]{1,5})\)")  # paragraph labels such as (1), (iii), (a): not quantities
_DIGITS = re.compile(r"(?<![0-9A-Za-z.,])\d[\d,]*(?:\.\d+)?(?:\s*(million|billion|thousand))?")
_WORD_RUN = re.compile(r"\b(?:(?:%s)(?:[\s-]+(?:and[\s-]+)?)?)+" % "|".join(sorted([*_WORDS, *_SCALES], key=len, reverse=True)), re.I)
_CN_RUN = re.compile(rf"(百分之|第)?([{NUMERAL_CHARS}]+)(?=(日|天|年|个|月|倍|元|%|条|款|项|周|小时|万|亿|以上|以下)?)")


def _plain(value: Decimal) -> str:
    value = value.normalize()
    return format(value, "f") if value == value.to_integral() else str(value)


def _word_value(words: list[str]) -> int:
    total, current = 0, 0
    for w in words:
        if w in _WORDS:
            current += _WORDS[w]
        elif w == "hundred":
            current = (current or 1) * 100
        elif w in _SCALES:
            total += (current or 1) * _SCALES[w]
            current = 0
    return total + current


def numbers_in(text: str) -> set[str]:
    """Every quantity in the text as a plain decimal string: "$1,000" and "1000" -> "1000", "thirty days" -> "30",
    "百分之五" -> "5", "三十日" -> "30". Paragraph labels like (1) are not quantities."""
    text = _LABEL.sub(" ", unicodedata.normalize("NFKC", text))
    found: set[str] = set()
    for m in _DIGITS.finditer(text):
        raw = m.group(0).split()[0].replace(",", "")
        try:
            value = Decimal(raw)
        except InvalidOperation:
            continue
        if m.group(1):
            value *= _SCALES[m.group(1).lower()]
        found.add(_plain(value))
    for m in _WORD_RUN.finditer(text):
        words = [w for w in re.split(r"[\s-]+", m.group(0).lower()) if w and w != "and"]
        if not words or all(w in _SCALES for w in words):
            continue  # "million" alone scales a digit before it, handled above
        # A lone "one" is an article far more often than a quantity ("any one of"), unless a unit follows.
        if words == ["one"] and not _UNITS.match(text[m.end():]):
            continue
        found.add(str(_word_value(words)))
    for m in _CN_RUN.finditer(text):
        run = m.group(2)
        if not (m.group(1) or m.group(3) or len(run) > 1 and any(c in SMALL_UNITS or c in LARGE_UNITS for c in run)):
            continue  # a lone 一 inside a word (统一, 一般) is no quantity
        found.add(str(chinese_number(run)))
    return found


NLI_ADVICE = ("Set nli_model (REGCITE_NLI_MODEL) to a local NLI cross-encoder folder, or to an empty string to "
              "verify citations without NLI")


class Verifier:
    """Checks sentences against context blocks. The embedder is optional; settings.nli_model, when set, loads once,
    on the first check, through the one model loader (offline unless settings allow downloads)."""

    def __init__(self, embedder=None, settings: Settings | None = None):
        self.embedder = embedder
        self.nli_model = settings.nli_model if settings else ""
        self._device = settings.device if settings else "cpu"
        self._allow_downloads = settings.allow_model_downloads if settings else False
        self._nli = None
        self._nli_labels: dict[int, str] = {}
        self._lock = threading.Lock()

    def check(self, sentence: str, block: ContextBlock) -> Check:
        clause = block.hit.clause
        lead = block.lead_in or block.parent_lead_in
        source = f"{lead} {clause.text}".strip()
        candidates = split_sentences(clause.text) or [clause.text]  # the quote comes from the clause itself
        read = [f"{lead} {c}".strip() for c in candidates]  # a list item is read with its lead-in
        lexical = [overlap(sentence, r) for r in read]
        dense = self._cosines(sentence, read)
        per = [max(lx, dn) for lx, dn in zip(lexical, dense)] if dense else lexical
        best = max(range(len(candidates)), key=per.__getitem__)
        score = max(overlap(sentence, source), per[best])
        problems: list[str] = []

        allowed = numbers_in(source) | numbers_in(f"{clause.reference} {' '.join(clause.headings)} "
                                                  f"{block.hit.document.title} {block.hit.document.doc_id}")
        allowed |= {a.split(".")[0] for a in allowed}  # "12 CFR 1002" in a sentence vs "1002.9" in the reference
        missing = sorted(numbers_in(sentence) - allowed, key=lambda v: (len(v), v))
        problems += [f"{v} not in {clause.reference}" for v in missing]

        if self.nli_model:
            entail, contradict = self._nli_scores(candidates[best], sentence)
            if contradict > max(entail, 0.5):
                problems.append(f"contradicted by {clause.reference}")
            score = max(score, entail)

        if missing or any(p.startswith("contradicted") for p in problems):
            verdict = Verdict.UNSUPPORTED
        elif score >= SUPPORTED_AT:
            verdict = Verdict.SUPPORTED
        elif score >= PARTIAL_AT:
            verdict = Verdict.PARTIAL
        else:
            verdict = Verdict.UNSUPPORTED
            problems.append(f"little support in {clause.reference} (score {score:.2f})")
        return Check(candidates[best].strip(), verdict, float(min(max(score, 0.0), 1.0)), tuple(problems))

    def _cosines(self, sentence: str, candidates: list[str]) -> list[float]:
        if self.embedder is None:
            return []
        vectors = self.embedder.embed_documents([sentence, *candidates])
        return [float(v) for v in vectors[1:] @ vectors[0]]

    def _nli_scores(self, premise: str, hypothesis: str) -> tuple[float, float]:
        """(entailment, contradiction) probabilities from the configured cross-encoder."""
        with self._lock:
            if self._nli is None:
                self._nli = load_cross_encoder(self.nli_model, self._device, self._allow_downloads, "NLI model",
                                               NLI_ADVICE)
                id2label = getattr(self._nli.model.config, "id2label", {}) or {}
                self._nli_labels = {int(i): str(l).lower() for i, l in id2label.items()}
        import numpy as np

        logits = np.asarray(self._nli.predict([(premise, hypothesis)], apply_softmax=False))[0]
        probs = np.exp(logits - logits.max())
        probs = probs / probs.sum()
        label = {v: k for k, v in self._nli_labels.items()}
        entail = float(probs[label["entailment"]]) if "entailment" in label else 0.0
        contradict = float(probs[label["contradiction"]]) if "contradiction" in label else 0.0
        return entail, contradict
