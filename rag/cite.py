"""The answering prompt, and the markers a model writes ([2]) turned into Sentences with checked Citations."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from rag.context import Context, ContextBlock
from rag.llm.base import Message
from rag.types import Citation, Sentence, Verdict

ABSTAIN = "The indexed documents do not say."

SYSTEM_PROMPT = f"""You answer questions about regulations and filings using only the numbered context below.
Rules:
- End every sentence with exactly one marker naming the context clause it rests on, like [2].
- Use only the numbers of the context clauses; never cite anything else.
- Copy every number, amount, percentage, date and duration exactly as the clause states it.
- If the context does not answer the question, reply with exactly: {ABSTAIN}
- Answer in the language of the question, in at most four sentences."""


def build_messages(question: str, context: Context) -> list[Message]:
    user = f"Context:\n{context.text}\n\nQuestion: {question.strip()}"
    return [Message("system", SYSTEM_PROMPT), Message("user", user)]


@dataclass(frozen=True)
class PromptBlock:
    """A context block as read back from a prompt (what the extractive backend answers from)."""

    number: int
    reference: str
    lead_in: str
    text: str


_BLOCK_HEAD = re.compile(r"^\[(\d+)\] ", re.M)


def read_prompt(messages: Sequence[Message]) -> tuple[str, list[PromptBlock]]:
    """(question, blocks) from messages made by build_messages; tolerant of a system text folded into the user turn."""
    user = next((m.content for m in reversed(messages) if m.role == "user"), "")
    body, _, question = user.rpartition("\nQuestion: ")
    body = body.split("Context:\n", 1)[-1]
    blocks: list[PromptBlock] = []
    heads = list(_BLOCK_HEAD.finditer(body))
    for i, head in enumerate(heads):
        chunk = body[head.end(): heads[i + 1].start() if i + 1 < len(heads) else len(body)]
        first, *rest = chunk.split("\n")
        lines = [ln for ln in rest if ln.strip()]
        lead = next((ln[len("Lead-in: "):] for ln in lines if ln.startswith("Lead-in: ")), "")
        text = " ".join(ln for ln in lines if not ln.startswith(("Lead-in: ", "Headings: ")))
        blocks.append(PromptBlock(int(head.group(1)), first.split(" — ", 1)[0].strip(), lead, text))
    return question.strip(), blocks


# [2], [2, 3], [2][3], 【2】 and full-width ［2］
_MARKER = re.compile(r"\s*[\[【［]\s*(\d+(?:\s*[,，;、]\s*\d+)*)\s*[\]】］]")
_ABBREV = re.compile(r"(?:\b(?:e\.g|i\.e|U\.S|No|Sec|Art|Reg|para|pp?|cf|etc|vs|Mr|Ms|Dr|Inc|Co|Corp)\.|\b[A-Z]\.)$")
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|(?<=[。！？；])|\n+")


def split_sentences(text: str) -> list[str]:
    """Sentences of English or Chinese text; markers that follow a full stop stay with the sentence before."""
    pieces: list[str] = []
    for piece in _SENTENCE_END.split(text):
        piece = piece.strip()
        if not piece:
            continue
        lead = re.match(r"^(?:\s*[\[【［]\s*\d+(?:\s*[,，;、]\s*\d+)*\s*[\]】］])+", piece)
        if lead and pieces:
            pieces[-1] += lead.group(0)
            piece = piece[lead.end():].strip()
            if not piece:
                continue
        if pieces and _ABBREV.search(pieces[-1]):
            pieces[-1] += " " + piece
        else:
            pieces.append(piece)
    return pieces


@dataclass(frozen=True)
class Draft:
    text: str  # without markers
    markers: tuple[int, ...]  # context numbers cited, in order, only those that exist


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
        if clean and re.search(r"\w", clean):
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
_ORDER = {Verdict.SUPPORTED: 0, Verdict.PARTIAL: 1, Verdict.UNSUPPORTED: 2}


def cite_sentences(drafts: Sequence[Draft], context: Context, check: Checker) -> tuple[Sentence, ...]:
    """Sentences whose verdict is the worst of their citations; one without a citation is unsupported."""
    out: list[Sentence] = []
    for draft in drafts:
        citations: list[Citation] = []
        problems: list[str] = []
        for n in draft.markers:
            block = context.block(n)
            result = check(draft.text, block)
            clause, doc = block.hit.clause, block.hit.document
            citations.append(Citation(
                marker=f"[{n}]", clause_id=clause.clause_id, reference=clause.reference,
                document_title=doc.title, version_id=doc.version_id, page_span=clause.page_span,
                quote=result.quote, verdict=result.verdict, score=round(result.score, 3),
            ))
            problems += result.problems
        if citations:
            verdict = max((c.verdict for c in citations), key=_ORDER.__getitem__)
        else:
            verdict = Verdict.UNSUPPORTED
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
        joined += p if not joined or re.match(r"[\u4e00-\u9fff]", p[0]) and joined[-1] in "。！？；" else " " + p
    return joined.strip()
