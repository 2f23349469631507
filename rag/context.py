"""The numbered context a model answers from: reference, document, pages, heading trail, parent lead-in, text."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable, Sequence

from rag.text import CJK_PUNCTUATION, HAN
from rag.types import Clause, Hit

LeadIn = Callable[[Clause], Clause | None]

_CJK = re.compile(f"[{HAN}{CJK_PUNCTUATION}]")
_SPACE = re.compile(r"\s+")
LEAD_IN_CHARS = 300  # the end of the parent's text: where "shall notify … within:" sits


def estimate_tokens(text: str) -> int:
    """About one token per CJK character and four characters per token otherwise; no tokenizer is loaded."""
    cjk = len(_CJK.findall(text))
    return cjk + math.ceil((len(text) - cjk) / 4)


@dataclass(frozen=True)
class ContextBlock:
    number: int  # the marker a model writes: [number]
    hit: Hit
    lead_in: str  # the parent clause's closing words when the child was retrieved without it; "" otherwise
    text: str  # as rendered into the prompt: header, headings, lead-in, body
    parent_lead_in: str = ""  # the parent's closing words whether or not rendered: verification reads them
    body: str = ""  # the clause text as the prompt shows it: on one line, cut with " …" when over the budget


@dataclass(frozen=True)
class Context:
    blocks: tuple[ContextBlock, ...]
    tokens: int  # estimated
    left_out: int = 0  # hits that did not fit the budget

    @property
    def text(self) -> str:
        return "\n\n".join(b.text for b in self.blocks)

    def block(self, number: int) -> ContextBlock | None:
        return self.blocks[number - 1] if 1 <= number <= len(self.blocks) else None


def _one_line(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def lead_in_text(parent: Clause) -> str:
    text = _one_line(parent.text)
    if len(text) <= LEAD_IN_CHARS:
        return text
    tail = text[-LEAD_IN_CHARS:]
    cut = max(tail.find(". "), tail.find("。"))  # start at a sentence boundary where there is one
    return tail[cut + 1:].strip() if cut >= 0 else "…" + tail


def header(number: int, hit: Hit) -> str:
    return f"[{number}] {hit.clause.reference} — {hit.document.title} ({hit.clause.page_span})"


def render_block(number: int, hit: Hit, lead_in: str, text: str | None = None) -> str:
    lines = [header(number, hit)]
    if hit.clause.headings:
        lines.append("Headings: " + " > ".join(_one_line(h) for h in hit.clause.headings))
    if lead_in:
        lines.append("Lead-in: " + lead_in)
    lines.append(_one_line(hit.clause.text) if text is None else text)
    return "\n".join(lines)


def build_context(hits: Sequence[Hit], budget_tokens: int = 3000, lead_in: LeadIn | None = None) -> Context:
    """Hits in rank order, numbered from 1, as many as fit budget_tokens. The first always goes in, cut to fit.

    `lead_in` finds a clause's parent (the retriever's parent_lead_in).
    """
    ids = {h.clause.clause_id for h in hits}
    blocks: list[ContextBlock] = []
    used, left_out = 0, 0
    for hit in hits:
        parent = lead_in(hit.clause) if lead_in else None
        parent_words = lead_in_text(parent) if parent is not None else ""
        lead = parent_words if parent is not None and parent.clause_id not in ids else ""
        number = len(blocks) + 1
        body = _one_line(hit.clause.text)
        rendered = render_block(number, hit, lead, body)
        cost = estimate_tokens(rendered) + 1
        if used + cost > budget_tokens:
            if blocks:
                left_out += 1
                continue
            room = max(budget_tokens - estimate_tokens(render_block(number, hit, lead, "")) - 1, 16)
            while body and estimate_tokens(body) > room:
                body = body[: int(len(body) * 0.9)]
            body += " …"
            rendered = render_block(number, hit, lead, body)
            cost = estimate_tokens(rendered) + 1
        blocks.append(ContextBlock(number, hit, lead, rendered, parent_words, body))
        used += cost
    return Context(tuple(blocks), used, left_out)
