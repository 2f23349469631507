"""The markers a model writes ([2]) turned into Sentences with checked Citations, and the answer rendered back."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from rag.context import Context, ContextBlock
from rag.planted import WITHHELD, echoes_system_prompt, foreign_markup, planted_instructions
from rag.prompt import ABSTAIN
from rag.text import HAN, split_sentences
from rag.types import Citation, Sentence, Verdict, worst_verdict

# [2], [2, 3], [2][3], 【2】 and full-width ［2］
_MARKER = re.compile(r"\s*[\[【［]\s*(\d+(?:\s*[,，;、]\s*\d+)*)\s*[\]】］]")


@dataclass(frozen=True)
class Draft:
    text: str  # without markers
    markers: tuple[int, ...]  # context numbers cited, in order, only those that exist
    problem: str = ""  # why the sentence was withheld (it repeated the system prompt); "" for an ordinary one


def parse_markers(text: str, n_blocks: int) -> tuple[list[Draft], int]:
    """Drafts for each sentence and the count of markers removed because they point at no context block."""
    drafts: list[Draft] = []
    dropped = 0
    for sentence in split_sentences(text):
        numbers: list[int] = []
        for m in _MARKER.finditer(sentence):
            for part in re.split(r"[,，;、]", m.group(1)):
                n = int(part)
                if 1 <= n <= n_blocks:
                    if n not in numbers:
                        numbers.append(n)
                else:
                    dropped += 1
        clean = _MARKER.sub("", sentence)
        clean = re.sub(r"\s+([.,;:!?。，；：！？])", r"\1", clean).strip()
        clean = re.sub(r"^[-*•]\s+", "", clean)
        if clean and echoes_system_prompt(clean):
            drafts.append(Draft(WITHHELD, (), "the model repeated its instructions instead of answering"))
        elif clean and re.search(r"\w", clean):
            drafts.append(Draft(clean, tuple(numbers)))
    return drafts, dropped


def is_abstention(text: str) -> bool:
    return ABSTAIN.lower().rstrip(".") in " ".join(text.lower().split())


@dataclass(frozen=True)
class Check:
    """What verification says about one sentence against one cited block."""

    quote: str
    verdict: Verdict
    score: float
    problems: tuple[str, ...] = ()


Checker = Callable[[str, ContextBlock], Check]


def distrust(result: Check, sentence: str, block: ContextBlock) -> Check:
    """Whatever a verifier found, a clause that addresses a language model supports nothing (the sentence may be
    what it dictated), and a sentence carrying markup or a link its clause does not hold is unsupported."""
    clause = block.hit.clause
    source = f"{block.lead_in or block.parent_lead_in} {clause.text}"
    problems: list[str] = []
    planted = planted_instructions(source)
    if planted:
        problems.append(f"{clause.reference} holds text addressed to a language model (\"{_cut(planted[0])}\"), "
                        "so it supports nothing")
    markup = foreign_markup(sentence, source)
    if markup:
        problems.append(f"the sentence carries markup or a link that {clause.reference} does not (\"{_cut(markup[0])}\")")
    if not problems:
        return result
    return Check(result.quote, Verdict.UNSUPPORTED, 0.0 if planted else result.score, result.problems + tuple(problems))


def _cut(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def cite_sentences(drafts: Sequence[Draft], context: Context, check: Checker) -> tuple[Sentence, ...]:
    """Sentences whose verdict is the worst of their citations; one without a citation is unsupported."""
    out: list[Sentence] = []
    for draft in drafts:
        citations: list[Citation] = []
        problems: list[str] = []
        for n in draft.markers:
            block = context.block(n)
            result = distrust(check(draft.text, block), draft.text, block)
            clause, doc = block.hit.clause, block.hit.document
            citations.append(Citation(
                marker=f"[{n}]", clause_id=clause.clause_id, reference=clause.reference,
                document_title=doc.title, version_id=doc.version_id, page_span=clause.page_span,
                quote=result.quote, verdict=result.verdict, score=round(result.score, 3),
                effective_from=doc.effective_from, effective_to=doc.effective_to, source_path=doc.source_path,
            ))
            problems += result.problems
        verdict = worst_verdict(c.verdict for c in citations)
        if draft.problem:
            problems.append(draft.problem)
        elif not citations:
            problems.append("no citation")
        out.append(Sentence(draft.text, tuple(citations), verdict, tuple(problems)))
    return tuple(out)


def render_answer(sentences: Sequence[Sentence]) -> str:
    """The answer as shown: each sentence with its markers before its closing punctuation."""
    parts = []
    for s in sentences:
        markers = "".join(c.marker for c in s.citations)
        text = s.text
        if markers:
            m = re.search(r"[.!?;。！？；]$", text)
            text = f"{text[:-1]} {markers}{text[-1]}" if m else f"{text} {markers}"
        parts.append(text)
    joined = ""
    for p in parts:
        joined += p if not joined or re.match(f"[{HAN}]", p[0]) and joined[-1] in "。！？；" else " " + p
    return joined.strip()
