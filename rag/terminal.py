"""Text made safe to print on a terminal: control and escape sequences shown, not obeyed; URLs inert."""
from __future__ import annotations

import re
from typing import TextIO

from rag.planted import withhold_echoes

# C0 controls but tab and newline (ESC starts colours, cursor moves, title changes and OSC 8 hyperlinks; CR
# overwrites a line), DEL, C1 controls (0x9b is a one-byte CSI, 0x9d an OSC), and the bidirectional overrides
# that reorder what a reader sees ("Trojan Source").
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# A scheme a terminal (or a reader's copy and paste) would follow, and bare www. hosts; a loopback URL (the
# configured model server in a fallback message) reaches no other host and stays as it is.
_SCHEME = re.compile(r"\b(https?|s?ftp|file|javascript|vbscript|data|mailto)(:)(?=\S)"
                     r"(?!//(?:127\.0\.0\.1|localhost|\[::1\])[:/\s])", re.I)
_WWW = re.compile(r"\bwww\.(?=\S)", re.I)
_SENTENCE_END = re.compile(r"[.!?。！？；;](?=\s)|[。！？]|\n")
FLUSH_CHARS = 400  # a stream this long without a sentence end is written up to its last space


def _visible(ch: str) -> str:
    code = ord(ch)
    if code < 0x20:
        return chr(0x2400 + code)  # the control picture: ESC shows as "␛"
    return "\u2421" if code == 0x7f else f"<U+{code:04X}>"


def terminal_safe(text: str) -> str:
    """Every control character as a visible picture, and URLs defanged ("http[:]//", "www[.]") so no terminal
    makes them live links."""
    text = _CONTROLS.sub(lambda m: _visible(m.group(0)), text)
    return _WWW.sub("www[.]", _SCHEME.sub(r"\1[:]", text))


class TerminalStream:
    """An `on_token` callback that writes terminal-safe text a sentence at a time, so that no escape sequence, URL
    or echo of the answering rules slips through split across tokens. Call `close()` when the answer is done."""

    def __init__(self, out: TextIO):
        self.out = out
        self._pending = ""

    def __call__(self, token: str) -> None:
        self._pending += token
        ends = [m.end() for m in _SENTENCE_END.finditer(self._pending)]
        cut = ends[-1] if ends else 0
        if not cut and len(self._pending) > FLUSH_CHARS:
            cut = self._pending.rfind(" ") + 1
        if cut:
            self._write(self._pending[:cut])
            self._pending = self._pending[cut:]

    def close(self) -> None:
        if self._pending:
            self._write(self._pending)
            self._pending = ""

    def _write(self, text: str) -> None:
        lead = text[: len(text) - len(text.lstrip())]
        self.out.write(lead + terminal_safe(withhold_echoes(text.lstrip())))
        self.out.flush()
