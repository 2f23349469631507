"""An answer as a stream of events: the text as the backend writes it, then the recorded, verified answer."""
from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import AsyncIterator

from fastapi.sse import format_sse_event

from rag.errors import RegciteError
from rag.planted import SentenceStream
from rag.records.answers import AnswerRecord

log = logging.getLogger(__name__)

KEEPALIVE_S = 15.0  # a comment line this often while nothing else is sent, so proxies keep a queued stream open
KEEPALIVE = b": waiting\n\n"  # SSE comment: every client ignores it
_running: set[asyncio.Task] = set()  # answers whose client left: they finish and are recorded all the same


@dataclass(frozen=True)
class Token:
    text: str


@dataclass(frozen=True)
class Waiting:
    """Nothing to send yet (the answer is queued behind another, or the model is reading the prompt)."""


@dataclass(frozen=True)
class Done:
    record: AnswerRecord


@dataclass(frozen=True)
class Failed:
    error: RegciteError


async def answer_events(service, pipeline, user, question: str,
                        filters) -> AsyncIterator[Token | Waiting | Done | Failed]:
    """The text as the pipeline's on_token gives it (from the worker thread), a sentence at a time; Waiting after
    each quiet KEEPALIVE_S; then Done or Failed."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()

    def put(event) -> None:  # from any thread; callbacks run in order, so the last tokens come before Done
        loop.call_soon_threadsafe(queue.put_nowait, event)

    stream = SentenceStream(lambda text: put(Token(text)))

    async def run() -> None:
        try:
            record = await service.answer(pipeline, user, question, filters, stream)
            stream.close()
            put(Done(record))
        except RegciteError as e:
            put(Failed(e))
        except Exception as e:  # noqa: BLE001 - the stream has started: the client can only be told in it
            log.exception("answering %r failed", question)
            put(Failed(RegciteError(f"unexpected {type(e).__name__}; the server log has the traceback")))

    task = asyncio.create_task(run())
    _running.add(task)
    task.add_done_callback(_running.discard)
    while True:
        try:
            event = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
        except asyncio.TimeoutError:
            yield Waiting()
            continue
        yield event
        if isinstance(event, (Done, Failed)):
            return


def sse(event: str, data: object) -> bytes:
    return format_sse_event(event=event, data_str=json.dumps(data, ensure_ascii=False, default=str))


def sse_data(data: object) -> bytes:
    """A data-only event (what OpenAI's streaming clients read)."""
    return format_sse_event(data_str=data if isinstance(data, str) else json.dumps(data, ensure_ascii=False))
