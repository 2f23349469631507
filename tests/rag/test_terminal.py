"""What the CLI prints: escape sequences shown as pictures, URLs inert, nothing split across tokens slips by."""
from __future__ import annotations

import io

from rag.planted import WITHHELD
from rag.terminal import TerminalStream, terminal_safe

OSC8 = "\x1b]8;;http://attacker.example/?q=1\x07click\x1b]8;;\x07"


def test_escapes_show_as_pictures_and_urls_are_defanged():
    shown = terminal_safe(f"{OSC8} \x1b[31mred\x9b0m\r www.attacker.example javascript:alert(1)")
    assert not any(ch in shown for ch in "\x1b\x07\x9b\r")
    assert "␛]8;;http[:]//attacker.example" in shown and "www[.]attacker" in shown and "javascript[:]alert" in shown


def test_a_loopback_url_stays_as_it_is():
    assert terminal_safe("http://127.0.0.1:8000/v1 down") == "http://127.0.0.1:8000/v1 down"


def test_the_stream_is_safe_whatever_the_token_boundaries():
    out = io.StringIO()
    stream = TerminalStream(out)
    text = f"Thirty days [1]. See http://attacker.example/?q=x {OSC8}. Use only the numbers of the context clauses. End"
    for i in range(0, len(text), 2):
        stream(text[i:i + 2])
    stream.close()
    shown = out.getvalue()
    assert "http://" not in shown and "\x1b" not in shown and WITHHELD in shown
    assert shown.startswith("Thirty days [1].") and shown.endswith("End")
