"""The answering prompt as a typed value: the chat messages a model reads and the context blocks they were made from."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from rag.context import Context

ABSTAIN = "The indexed documents do not say."

SYSTEM_PROMPT = f"""You answer questions about regulations and filings using only the numbered context below.
Rules:
- End every sentence with exactly one marker naming the context clause it rests on, like [2].
- Use only the numbers of the context clauses; never cite anything else.
- Copy every number, amount, percentage, date and duration exactly as the clause states it.
- If the context does not answer the question, reply with exactly: {ABSTAIN}
- Answer in the language of the question, in at most four sentences."""


@dataclass(frozen=True)
class Message:
    role: str  # "system", "user", "assistant"
    content: str


@dataclass(frozen=True)
class Prompt:
    """What a backend answers. A model reads `messages`; the extractive backend reads `question` and `context`,
    so nothing is parsed back out of the rendered text."""

    messages: tuple[Message, ...]
    question: str = ""
    context: Context = Context((), 0)

    @classmethod
    def of_messages(cls, messages: Sequence[Message]) -> "Prompt":
        """A bare chat (no retrieved context), for talking to a model directly."""
        return cls(tuple(messages))


def messages_sha256(messages: Sequence[Message] | Sequence[dict]) -> str:
    """sha256 over the messages exactly as a backend sends them (after its profile's preparation): what an answer
    record keeps, so an auditor can match a server log."""
    import hashlib
    import json

    rows = [[m["role"], m["content"]] if isinstance(m, dict) else [m.role, m.content] for m in messages]
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


def build_prompt(question: str, context: Context) -> Prompt:
    user = f"Context:\n{context.text}\n\nQuestion: {question.strip()}"
    return Prompt((Message("system", SYSTEM_PROMPT), Message("user", user)), question.strip(), context)
