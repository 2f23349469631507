"""Text that addresses a language model instead of a reader: planted instructions, markup, system-prompt echoes."""
from __future__ import annotations

import re
from functools import lru_cache

# Instructions to a model, as planted in documents (OWASP LLM01, garak's and promptfoo's indirect-injection
# probes). Each pattern names the model or its instructions, so ordinary rule text ("the notice shall state
# that", "follow the instructions on Form 4") does not match: tests/test_planted.py scans the sample corpus.
_NEAR = r"[^.\n。]{0,60}?"
_INSTRUCTIONS = re.compile("|".join([
    rf"\b(?:ignore|disregard|forget|override|bypass)\b{_NEAR}\b(?:previous|prior|preceding|above|earlier|all|any|"
    rf"your|other|system)\b{_NEAR}\b(?:instructions?|rules|prompts?|directions|guidelines|context)\b",
    r"\bsystem\s+prompt\b|\bdeveloper\s+(?:prompt|message)\b|\bhidden\s+(?:prompt|instructions)\b",
    rf"\b(?:print|reveal|repeat|output|show|display|leak|disclose|recite)\b{_NEAR}\b(?:your\s+"
    r"(?:instructions|rules|prompt)|the\s+prompt)\b",
    r"\b(?:you are|you're|act as|pretend to be|as an?)\s+(?:an?\s+)?(?:ai|assistant|language model|llm|chatbot)\b",
    r"\b(?:new|updated|important|additional)\s+instructions?\s+(?:for|to)\s+(?:the\s+)?(?:ai|assistant|model|llm)\b",
    r"\b(?:ai|assistant|language model|llm|chatbot)s?\b[^.\n]{0,40}\b(?:must|should|shall|will)\s+(?:answer|say|"
    r"reply|respond|state|write|include|add|print)\b",
    rf"\b(?:when|if)\s+(?:you are\s+)?(?:asked|questioned|queried)\b{_NEAR}\b(?:answer|reply|respond|say)\s+"
    r"(?:that|with|only)\b",
    # Chinese: "ignore the instructions above", "system prompt", "you are an AI", "print your instructions".
    r"(?:忽略|无视|忽视|不要理会|忘记|忘掉)[^。\n]{0,12}?(?:指令|指示|提示|规则|要求)",
    r"系统提示|系統提示",
    r"(?:你是|作为)(?:一个|一名)?(?:AI|人工智能|语言模型|助手|聊天机器人)",
    r"(?:打印|输出|显示|泄露|复述|重复)[^。\n]{0,8}?(?:你的|系统)(?:指令|提示|规则)",
    r"(?:当|如果)[^。\n]{0,20}?(?:被问|询问|问到)[^。\n]{0,30}?(?:回答|答复|回复)(?:说|称|为)",
    # An image whose URL carries a query: the exfiltration pattern (the reader's question in the URL).
    r"!\[[^\]\n]*\]\(\s*(?:https?:)?//[^)\s]*\?",
]), re.I)

# Markup that would act if rendered: a Markdown image or link, an HTML tag, a script-bearing URL.
_MARKUP = re.compile(
    r"!\[[^\]\n]*\]\s*\(|\[[^\]\n]*\]\s*\(\s*[a-z][\w+.-]*:|<\s*/?\s*[a-z][a-z0-9-]*(?:\s[^<>]*)?/?>"
    r"|\b(?:javascript|vbscript|data)\s*:", re.I)
_URL = re.compile(r"\b(?:https?|ftp|file)://[^\s<>\"')\]]+|\bwww\.[^\s<>\"')\]]+", re.I)


def planted_instructions(text: str) -> tuple[str, ...]:
    """The phrases in text that address a language model, as found (empty for ordinary document text)."""
    return tuple(m.group(0) for m in _INSTRUCTIONS.finditer(text))


def markup_in(text: str) -> tuple[str, ...]:
    """Markdown images and links, HTML tags and script-bearing URLs in text."""
    return tuple(m.group(0) for m in _MARKUP.finditer(text))


def urls_in(text: str) -> tuple[str, ...]:
    return tuple(m.group(0).rstrip(".,;:") for m in _URL.finditer(text))


def foreign_markup(sentence: str, source: str) -> tuple[str, ...]:
    """What a sentence carries that its cited source does not: markup (a Markdown image or link, an HTML tag, a
    script URL) and URLs. Markup the source holds word for word is the source's own (the Federal Register's
    "![](ER19DE11.016)" image references): a sentence quoting it is no worse than the clause."""
    lowered = source.lower()
    found = [m for m in markup_in(sentence) if m.lower() not in lowered]
    known = [u.lower() for u in urls_in(source)]
    found += [u for u in urls_in(sentence) if not any(k.startswith(u.lower()) for k in known)]
    return tuple(dict.fromkeys(found))


# --- echoes of the system prompt -----------------------------------------------------------------------------

ECHO_WORDS = 5  # a run of this many of the system prompt's words in an answer is the prompt leaking
_LETTERS = re.compile(r"[a-z]+")


def _words(text: str) -> list[str]:
    return _LETTERS.findall(text.lower())


@lru_cache(maxsize=8)
def _shingles(system: str, spared: str) -> frozenset[tuple[str, ...]]:
    """Every ECHO_WORDS-word run of the system prompt, less those inside `spared` (what an answer may say)."""
    words = _words(system)
    allowed = {tuple(w[i:i + ECHO_WORDS]) for w in [_words(spared)] for i in range(len(w) - ECHO_WORDS + 1)}
    return frozenset(tuple(words[i:i + ECHO_WORDS]) for i in range(len(words) - ECHO_WORDS + 1)) - allowed


def echoes_system_prompt(text: str) -> bool:
    """Does text repeat a run of the answering rules (not the abstention phrase, which an answer may say)?"""
    from rag.prompt import ABSTAIN, SYSTEM_PROMPT

    shingles = _shingles(SYSTEM_PROMPT, ABSTAIN)
    words = _words(text)
    return any(tuple(words[i:i + ECHO_WORDS]) in shingles for i in range(len(words) - ECHO_WORDS + 1))


WITHHELD = "[withheld: the model repeated its instructions]"
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])|\n+")


def withhold_echoes(text: str) -> str:
    """Text with every sentence that repeats the system prompt replaced by WITHHELD (for live streams: the
    checked answer does the same sentence by sentence)."""
    parts = _SENTENCE_END.split(text)
    if not any(echoes_system_prompt(p) for p in parts):
        return text
    kept = [WITHHELD if echoes_system_prompt(p) else p for p in parts]
    return " ".join(p for i, p in enumerate(kept) if p and not (p == WITHHELD and i and kept[i - 1] == WITHHELD))


_STREAM_CUT = re.compile(r"[.!?。！？；;](?=\s)|[。！？]|\n")
FLUSH_CHARS = 400  # a stream this long without a sentence end is passed on up to its last space


class SentenceStream:
    """An `on_token` callback that passes the text on a sentence at a time to `emit`, any sentence repeating the
    answering rules withheld, so no echo of the rules (nor, for the terminal, an escape sequence or URL) slips
    through split across tokens. `close()` passes on the rest when the answer is done."""

    def __init__(self, emit):
        self.emit = emit
        self._pending = ""

    def __call__(self, token: str) -> None:
        self._pending += token
        ends = [m.end() for m in _STREAM_CUT.finditer(self._pending)]
        cut = ends[-1] if ends else 0
        if not cut and len(self._pending) > FLUSH_CHARS:
            cut = self._pending.rfind(" ") + 1
        if cut:
            self._pass_on(self._pending[:cut])
            self._pending = self._pending[cut:]

    def close(self) -> None:
        if self._pending:
            self._pass_on(self._pending)
            self._pending = ""

    def _pass_on(self, text: str) -> None:
        lead = text[: len(text) - len(text.lstrip())]
        self.emit(lead + withhold_echoes(text.lstrip()))
