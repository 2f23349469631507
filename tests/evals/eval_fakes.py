"""A scripted answer path for runner tests: fixed hits and cited sentences per question, no index or model."""
from __future__ import annotations

import time

from evals.questions import EvalQuestion
from evals.run import AnswerPath
from rag.types import Answer, CharSpan, Citation, Clause, DocumentVersion, Hit, Kind, PageSpan, Sentence, Verdict

DOC = DocumentVersion("v1", "12 CFR 1002", "Reg B", Kind.REGULATION, "US", "en", "reg-b.pdf", "0" * 64, (0,))


def clause(ref: str) -> Clause:
    return Clause(f"v1:{ref}", "v1", 0, (ref,), ref, (), f"text of {ref}", CharSpan(0, 1), PageSpan(14, 14))


def answer(question: str, refs: list[str], cite: list[str], text: str = "", abstained: bool = False,
           verdict: Verdict = Verdict.SUPPORTED) -> Answer:
    hits = tuple(Hit(clause(r), DOC, 1.0 / (i + 1)) for i, r in enumerate(refs))
    sentences = tuple(
        Sentence(f"{text} ({r})", (Citation(f"[{i + 1}]", f"v1:{r}", r, "Reg B", "v1", PageSpan(14, 14), "q",
                                            verdict, 0.9),), verdict)
        for i, r in enumerate(cite)
    )
    return Answer(question, text, sentences, hits, abstained, "extractive", "", {"retrieve": 5.0, "generate": 1.0})


def scripted(script: dict[str, Answer], delay_s: float = 0.0, calls: list[str] | None = None) -> AnswerPath:
    def respond(q: EvalQuestion) -> Answer:
        if calls is not None:
            calls.append(q.qid)
        time.sleep(delay_s)
        return script[q.qid]

    return AnswerPath(answer=respond, generation=7)
