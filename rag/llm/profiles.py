"""Model-family profiles (prompt shape, temperature, reasoning tags) and removal of <think> traces, streamed or not."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from rag.llm.base import Message


@dataclass(frozen=True)
class Profile:
    name: str
    system_prompt: bool = True  # False: the system text is folded into the first user turn
    temperature: float = 0.0  # deterministic by default: answers are audited
    implicit_think: bool = False  # the chat template opens <think> itself, so output may start mid-trace
    answer_tag: bool = False  # the answer sits inside <answer>…</answer>


PROFILES = {
    "qwen2.5": Profile("qwen2.5"),
    # DeepSeek's model card: no system prompt, temperature 0.5-0.7 (0.6 recommended), a <think> block first.
    "deepseek-r1": Profile("deepseek-r1", system_prompt=False, temperature=0.6, implicit_think=True),
    "fin-r1": Profile("fin-r1", temperature=0.6, implicit_think=True, answer_tag=True),
    "plain": Profile("plain"),
}


def choose_profile(setting: str, model_name: str) -> Profile:
    """settings.llm_profile, or with "auto" the family recognised in the model name (plain when none is)."""
    if setting != "auto":
        return PROFILES[setting]
    name = model_name.lower().replace("_", "-")
    if "fin-r1" in name:
        return PROFILES["fin-r1"]
    if "deepseek-r1" in name or "r1-distill" in name:
        return PROFILES["deepseek-r1"]
    if "qwen" in name:
        return PROFILES["qwen2.5"]
    return PROFILES["plain"]


def prepare_messages(messages: Sequence[Message], profile: Profile) -> list[Message]:
    if profile.system_prompt:
        return list(messages)
    system = "\n\n".join(m.content for m in messages if m.role == "system")
    rest = [m for m in messages if m.role != "system"]
    if not system:
        return rest
    for i, m in enumerate(rest):
        if m.role == "user":
            rest[i] = Message("user", f"{system}\n\n{m.content}")
            return rest
    return [Message("user", system), *rest]


_THINK = re.compile(r"<think>(.*?)(?:</think>|$)", re.S)
_ANSWER = re.compile(r"<answer>(.*?)(?:</answer>|$)", re.S)


def split_reasoning(text: str) -> tuple[str, str]:
    """(answer, reasoning). Handles a closed or unterminated <think>, a bare </think> whose opening tag was in the
    prompt (DeepSeek-R1 templates), and Fin-R1's <answer>…</answer>."""
    reasoning: list[str] = []
    if "</think>" in text and "<think>" not in text.split("</think>", 1)[0]:
        head, text = text.split("</think>", 1)
        reasoning.append(head.strip())
    reasoning += [m.group(1).strip() for m in _THINK.finditer(text)]
    text = _THINK.sub("", text)
    answers = [m.group(1) for m in _ANSWER.finditer(text)]
    if answers:
        text = "\n".join(answers)
    text = text.replace("</answer>", "").replace("</think>", "")
    return text.strip(), "\n\n".join(r for r in reasoning if r)


_TAGS = ("<think>", "</think>", "<answer>", "</answer>")


class StreamFilter:
    """Turns raw streamed chunks into visible answer text: nothing between <think> and </think> gets out.

    A chunk may end inside a tag ("<thi"), so a possible tag prefix is held back until the next chunk decides it.
    With implicit_think, everything is held until </think> shows that what came before was a trace; output
    without any </think> is released at flush.
    """

    def __init__(self, profile: Profile):
        self._thinking = False
        self._held = ""  # undecided text: a partial tag, or with implicit_think the whole prefix
        self._implicit = profile.implicit_think

    def feed(self, chunk: str) -> str:
        text = self._held + chunk
        self._held = ""
        if self._implicit:
            if "</think>" in text:
                self._implicit = False
                text = text.split("</think>", 1)[1]
            elif "<think>" in text:
                self._implicit = False  # an explicit trace: handled by the tag machine below
            else:
                self._held = text
                return ""
        out: list[str] = []
        while text:
            i = text.find("<")
            if i < 0:
                if not self._thinking:
                    out.append(text)
                break
            if not self._thinking:
                out.append(text[:i])
            text = text[i:]
            tag = next((t for t in _TAGS if text.startswith(t)), None)
            if tag:
                if tag == "<think>":
                    self._thinking = True
                elif tag == "</think>":
                    self._thinking = False
                text = text[len(tag):]
            elif any(t.startswith(text) for t in _TAGS):
                self._held = text  # a tag may be completed by the next chunk
                break
            else:
                if not self._thinking:
                    out.append("<")
                text = text[1:]
        return "".join(out)

    def flush(self) -> str:
        out = ""
        if self._implicit:
            self._implicit = False  # no </think> ever came: it was all answer
            held, self._held = self._held, ""
            out = self.feed(held)
        held, self._held = self._held, ""
        return out + ("" if self._thinking else held)
