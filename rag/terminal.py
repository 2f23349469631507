"""Text made safe to print on a terminal: control and escape sequences shown, not obeyed; URLs inert."""
from __future__ import annotations

import re
from typing import TextIO

from rag.planted import SentenceStream

# C0 controls but tab and newline (ESC starts colours, cursor moves, title changes and OSC 8 hyperlinks; CR
# overwrites a line), DEL, C1 controls (0x9b is a one-byte CSI, 0x9d an OSC), and the bidirectional overrides
# that reorder what a reader sees ("Trojan Source").
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# A scheme a terminal (or a reader's copy and paste) would follow, and bare www. hosts; a loopback URL (the
# configured model server in a fallback message) reaches no other host and stays as it is.
_SCHEME = re.compile(r"\b(https?|s?ftp|file|javascript|vbscript|data|mailto)(:)(?=\S)"
                     r"(?!//(?:127\.0\.0\.1|localhost|\[::1\])[:/\s])", re.I)
_WWW = re.compile(r"\bwww\.(?=\S)", re.I)


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


class TerminalStream(SentenceStream):
    """An `on_token` callback that writes terminal-safe text to out a sentence at a time (rag.planted's stream)."""

    def __init__(self, out: TextIO):
        super().__init__(self._write)
        self.out = out

    def _write(self, text: str) -> None:
        self.out.write(terminal_safe(text))
        self.out.flush()
