"""The no-model backend: answers with the retrieved clauses' sentences that best match the question, each cited."""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from rag.context import ContextBlock
from rag.llm.base import Completion, OnToken, Prompt
from rag.prompt import ABSTAIN, messages_sha256
from rag.text import content_tokens, has_han, split_sentences

MAX_SENTENCES = 3
KEEP_WITHIN = 0.8  # further sentences must score at least this share of the best one
MIN_SCORE = 0.2  # below this nothing in the context is about the question

_LABEL = re.compile(r"^\s*(?:\((?:\d{1,3}|[a-zA-Z]{1,5})\)\s*)+")  # "(iii) " starting a list item


@dataclass(frozen=True)
class _Candidate:
    number: int
    text: str
    score: float


def _compose(lead_in: str, sentence: str) -> str:
    """A list item read with the words that introduce it: "A creditor shall notify … within: 30 days after …"."""
    body = _LABEL.sub("", sentence).strip()
    body = re.sub(r"\s*(?:;|；)\s*(?:or|and)?\s*$", "", body)
    if lead_in:
        intro = split_sentences(lead_in)[-1] if split_sentences(lead_in) else lead_in
        intro = _LABEL.sub("", intro).strip()
        if intro.endswith((":", "：", "—", "-")):
            return f"{intro} {body}"
    return body


def _finish(text: str) -> tuple[str, str]:
    """(text without closing punctuation, the closing mark it should get)."""
    cjk = has_han(text)
    text = text.rstrip(" ;,:；，：.。")
    return text, "。" if cjk else "."


def _is_ancestor(parent: ContextBlock, child: ContextBlock) -> bool:
    """By clause path, never by reference prefix: 1002.9 is no parent of 1002.90."""
    p, c = parent.hit.clause, child.hit.clause
    return p.version_id == c.version_id and len(p.path) < len(c.path) and c.path[:len(p.path)] == p.path


def _parent_in_context(block: ContextBlock, blocks: tuple[ContextBlock, ...]) -> str:
    """When parent and child were both retrieved the context gives no lead-in: take the parent's text if it is one."""
    for other in blocks:
        if other is not block and _is_ancestor(other, block) and other.body.rstrip().endswith((":", "：", "—")):
            return other.body
    return ""


class ExtractiveBackend:
    """Answers from the prompt's context blocks with their best-supported sentences, each with its marker.

    With an embedder, a sentence's score mixes question-token coverage with embedding cosine; without, coverage only.
    """

    name = "extractive"
    model = "extractive"

    def __init__(self, embedder=None):
        self.embedder = embedder

    def complete(self, prompt: Prompt, on_token: OnToken | None = None) -> Completion:
        started = time.perf_counter()
        chosen = self._choose(prompt.question, prompt.context.blocks)
        if chosen:
            parts = []
            for c in chosen:
                body, end = _finish(c.text)
                parts.append(f"{body} [{c.number}]{end}")
            text = " ".join(parts)
        else:
            text = ABSTAIN
        if on_token:
            on_token(text)
        return Completion(text=text, model=self.model, backend=self.name, finish_reason="stop",
                          timings={"total": (time.perf_counter() - started) * 1000},
                          prompt_sha256=messages_sha256(prompt.messages))

    def _choose(self, question: str, blocks: tuple[ContextBlock, ...]) -> list[_Candidate]:
        wanted = content_tokens(question)
        candidates: list[tuple[int, str]] = []
        references: list[str] = []
        for block in blocks:
            lead_in = block.lead_in or _parent_in_context(block, blocks)
            for sentence in split_sentences(block.body):
                if len(sentence) > 8:
                    candidates.append((block.number, _compose(lead_in, sentence)))
                    references.append(block.hit.clause.reference)
        if not candidates or not wanted:
            return []
        # The clause's reference counts as its words: "第二十九条规定了哪些情形" is about the clause it names.
        lexical = [len(wanted & content_tokens(f"{ref} {text}")) / len(wanted)
                   for (_, text), ref in zip(candidates, references)]
        scores = lexical
        if self.embedder is not None:
            vectors = self.embedder.embed_documents([t for _, t in candidates])
            cosines = vectors @ self.embedder.embed_query(question)
            scores = [0.5 * lx + 0.5 * float(cs) for lx, cs in zip(lexical, cosines)]
        # Retrieval rank breaks ties: the first blocks were judged most relevant by the fused retriever.
        ranked = sorted(
            (_Candidate(n, t, s + 0.05 / n) for (n, t), s in zip(candidates, scores)),
            key=lambda c: c.score, reverse=True,
        )
        best = ranked[0]
        if best.score < MIN_SCORE:
            return []
        chosen = [best]
        for c in ranked[1:]:
            if len(chosen) == MAX_SENTENCES or c.score < KEEP_WITHIN * best.score:
                break
            if all(content_tokens(c.text) - content_tokens(o.text) for o in chosen):
                chosen.append(c)
        return _without_repeated_lead_ins(chosen)


def _without_repeated_lead_ins(chosen: list[_Candidate]) -> list[_Candidate]:
    """An item composed with its lead-in needs no lead-in when the lead-in is already a sentence of the answer."""
    out = []
    for c in chosen:
        text = c.text
        for other in chosen:
            intro = other.text.rstrip(" :：")
            if other is not c and len(intro) < len(text) and text.startswith(intro):
                text = text[len(intro):].lstrip(" :：")
        out.append(_Candidate(c.number, text, c.score))
    return out
