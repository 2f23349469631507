"""Checks one answer sentence against a cited clause: its numbers must be there, and the meaning close enough."""
from __future__ import annotations

import logging
import re
import unicodedata
from decimal import Decimal, InvalidOperation

from rag.cite import Check, split_sentences
from rag.context import ContextBlock
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
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_SMALL = {"十": 10, "百": 100, "千": 1000}
_CN_BIG = {"万": 10**4, "亿": 10**8}
_CN_RUN = re.compile(r"(百分之|第)?([零〇一二两三四五六七八九十百千万亿]+)(?=(日|天|年|个|月|倍|元|%|条|款|项|周|小时|万|亿|以上|以下)?)")


def _plain(value: Decimal) -> str:
    value = value.normalize()
    return format(value, "f") if value == value.to_integral() else str(value)


def _cn_value(text: str) -> int:
    total, section, number = 0, 0, 0
    for ch in text:
        if ch in _CN_DIGITS:
            number = _CN_DIGITS[ch]
        elif ch in _CN_SMALL:
            section += (number or 1) * _CN_SMALL[ch]
            number = 0
        elif ch in _CN_BIG:
            total += (section + number) * _CN_BIG[ch]
            section, number = 0, 0
    return total + section + number


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
        if not (m.group(1) or m.group(3) or len(run) > 1 and any(c in _CN_SMALL or c in _CN_BIG for c in run)):
            continue  # a lone 一 inside a word (统一, 一般) is no quantity
        found.add(str(_cn_value(run)))
    return found


_STOP = set("""a an the of to in on at by for from with and or not no is are was were be been being have has had do does
did shall must may can will would should could that this these those it its as any each such which who whom whose
what when where how why than then there their they them he she his her we our you your i me my if under within
about into also other per""".split())
_TOKEN = re.compile(r"[a-z0-9]+|[\u3400-\u9fff]")


def content_tokens(text: str) -> set[str]:
    """Lower-cased English words without stop words (plural s stripped) and Chinese character bigrams."""
    text = unicodedata.normalize("NFKC", text).lower()
    out: set[str] = set()
    cjk: list[str] = []
    for t in _TOKEN.findall(text):
        if "\u3400" <= t[0] <= "\u9fff":
            cjk.append(t)
            continue
        if cjk:
            out.update(a + b for a, b in zip(cjk, cjk[1:]))
            cjk = []
        if t not in _STOP:
            out.add(t[:-1] if len(t) > 3 and t.endswith("s") and not t.endswith("ss") else t)
    out.update(a + b for a, b in zip(cjk, cjk[1:]))
    return out


def overlap(sentence: str, source: str) -> float:
    """Share of the sentence's content tokens found in the source, 0..1."""
    s = content_tokens(sentence)
    return len(s & content_tokens(source)) / len(s) if s else 0.0


class Verifier:
    """Checks sentences against context blocks. Embedder and NLI model are optional and used as given."""

    def __init__(self, embedder=None, nli_model: str = ""):
        self.embedder = embedder
        self.nli_model = nli_model
        self._nli = None
        self._nli_labels: dict[int, str] = {}

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
        if self._nli is None:
            from sentence_transformers import CrossEncoder

            self._nli = CrossEncoder(self.nli_model, device="cpu")
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
