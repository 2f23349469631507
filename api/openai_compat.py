"""OpenAI-compatible `POST /v1/chat/completions` and `GET /v1/models`: any OpenAI client can ask regcite.

The last user message is the question. The reply is the verified answer with its markers, then a Markdown list of
the sources; the citations themselves travel in `regcite` (an AnswerOut) on the completion, or on the last chunk
of a stream. Streaming sends the backend's text as it comes; where verification changed it, the verified answer
follows under its own heading, so what a client shows at the end is always what was checked and recorded.
"""
from __future__ import annotations

import re
import time
import uuid
from typing import Literal

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from api.auth import access_of, acting_user, service_of
from api.convert import answer_out, filters_of
from api.errors import ApiError, bad_input, documented
from api.schemas import AnswerOut, FiltersIn, MAX_QUESTION
from api.streaming import KEEPALIVE, Done, Failed, Token, Waiting, answer_events, sse_data
from rag.records.answers import AnswerRecord
from rag.records.users import User

router = APIRouter(tags=["openai-compatible"])

MODEL_ID = "regcite"
CREATED = 1767225600  # 2026-01-01: /v1/models needs a creation time; the model is this server


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[ContentPart] | None = None


class RegciteOptions(BaseModel):
    """Sent as `regcite` beside the OpenAI fields (the openai client's `extra_body`)."""

    model_config = ConfigDict(extra="forbid")
    filters: FiltersIn = FiltersIn()
    as_of: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")


class ChatRequest(BaseModel):
    # OpenAI's other fields (temperature, max_tokens, stream_options, …) are accepted and have no effect: the answer
    # is the verified one, whatever sampling a client asks for.
    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[ChatMessage] = Field(min_length=1, max_length=500)
    stream: bool = False
    regcite: RegciteOptions | None = None


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: Literal["stop"]


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    regcite: AnswerOut = Field(description="the answer as recorded: sentences, citations, answer id")


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


CHUNK_EVENT = {"type": "object", "required": ["data"], "properties": {  # one event (OpenAPI 3.2's SSE shape)
    "data": {"type": "string", "description": "a chat.completion.chunk as JSON, or [DONE]"}}}
STREAM_DOC = {"text/event-stream": {"schema": CHUNK_EVENT, "description": (
    "with `stream: true`: `data: {chat.completion.chunk}` lines, the last one with finish_reason stop and the "
    "`regcite` field, then `data: [DONE]`")}}


@router.get("/v1/models", response_model=ModelList, responses=documented(401))
def models(user: User = Depends(acting_user)) -> ModelList:
    return ModelList(data=[ModelCard(id=MODEL_ID, created=CREATED, owned_by="regcite")])


@router.post("/v1/chat/completions", response_model=ChatCompletion,
             responses={200: {"content": STREAM_DOC}, **documented(400, 401, 403, 404, 413, 422, 503)})
async def chat_completions(body: ChatRequest, user: User = Depends(acting_user), service=Depends(service_of)):
    """The last user message answered by regcite, as an OpenAI chat completion (or a stream of chunks)."""
    if body.model != MODEL_ID:
        raise ApiError(404, "model_not_found", f"no model {body.model!r}; this server serves {MODEL_ID!r}")
    question = last_question(body.messages)
    pipeline, filters = await run_in_threadpool(_prepare, service, user, body.regcite or RegciteOptions())
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"  # the answer id is known only when the stream ends
    if not body.stream:
        record = await service.answer(pipeline, user, question, filters)
        return ChatCompletion(id=f"chatcmpl-{record.answer_id}", created=int(time.time()), model=MODEL_ID,
                              choices=[Choice(index=0, message=AssistantMessage(content=reply_text(record)),
                                              finish_reason="stop")],
                              regcite=answer_out(record))

    async def chunks():
        created, streamed = int(time.time()), []
        yield sse_data(_chunk(completion_id, created, {"role": "assistant", "content": ""}))
        async for event in answer_events(service, pipeline, user, question, filters):
            if isinstance(event, Waiting):
                yield KEEPALIVE
            elif isinstance(event, Token):
                streamed.append(event.text)
                yield sse_data(_chunk(completion_id, created, {"content": event.text}))
            elif isinstance(event, Done):
                tail = stream_tail("".join(streamed), event.record)
                last = _chunk(completion_id, created, {"content": tail}, finish="stop")
                last["regcite"] = answer_out(event.record).model_dump(mode="json")
                yield sse_data(last)
            elif isinstance(event, Failed):
                yield sse_data({"error": {"code": "answer_failed", "message": str(event.error)}})
        yield sse_data("[DONE]")

    return StreamingResponse(chunks(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


def last_question(messages: list[ChatMessage]) -> str:
    """The last user message's text (text parts joined); earlier turns are context a chat client keeps, not asked."""
    for m in reversed(messages):
        if m.role != "user":
            continue
        text = m.content if isinstance(m.content, str) else " ".join(
            p.text for p in (m.content or []) if p.type == "text" and p.text)
        text = text.strip()
        if not text:
            raise bad_input("the last user message has no text to answer")
        if len(text) > MAX_QUESTION:
            raise bad_input(f"the question is {len(text)} characters; at most {MAX_QUESTION}")
        return text
    raise bad_input("no user message: the last one with role \"user\" is the question")


def _prepare(service, user: User, options: RegciteOptions):
    from datetime import date

    pipeline = service.pipeline()
    try:
        as_of = date.fromisoformat(options.as_of) if options.as_of else None
    except ValueError:
        raise bad_input(f"regcite.as_of {options.as_of!r} is not a date (YYYY-MM-DD)") from None
    return pipeline, filters_of(options.filters, as_of, access_of(service, user).view(pipeline.index))


def sources(record: AnswerRecord) -> str:
    """The cited clauses as a Markdown list, one per marker: reference, pages, document, version and its dates."""
    seen: dict[str, object] = {}
    for s in record.sentences:
        for c in s.citations:
            seen.setdefault(c.marker, c)
    if not seen:
        return ""
    lines = ["**Sources**", ""]
    for marker, c in sorted(seen.items(), key=lambda kv: int(kv[0].strip("[]"))):
        lines.append(f"- {marker} **{_literal(c.reference)}**, {c.page_span} — {_literal(c.document_title)} "
                     f"(version {c.version_id}, {_dates(c)}; {c.verdict.value})")
    return "\n".join(lines)


def _dates(c) -> str:
    if c.effective_from is None:
        return "dates unknown"
    return f"effective {c.effective_from.isoformat()}" + (f" to {c.effective_to.isoformat()}" if c.effective_to else "")


def _literal(text: str) -> str:
    """Document text shown as text by a Markdown client: markup and HTML in a title are escaped, never rendered."""
    return re.sub(r"([\\`*_\[\]<>#|!])", r"\\\1", " ".join(text.split()))


def reply_text(record: AnswerRecord) -> str:
    """The whole reply of a non-streamed completion: any fallback stated first, the answer, then its sources."""
    return "\n\n".join(p for p in (_notes_before(record), record.text, sources(record), _notes_after(record)) if p)


def _notes_before(record: AnswerRecord) -> str:
    return f"_fallback: {record.fallback_reason}_" if record.fallback_reason else ""


def _notes_after(record: AnswerRecord) -> str:
    return "\n".join(f"_note: {n}_" for n in record.notes)


def stream_tail(streamed: str, record: AnswerRecord) -> str:
    """What a stream adds after the backend's text: the verified answer where it differs from what was streamed
    (markers dropped, sentences reworded by verification), then the sources. The fallback was streamed already."""
    flat = " ".join(streamed.split())
    parts = [] if flat.endswith(" ".join(record.text.split())) else ["**Verified answer**", record.text]
    return "\n\n" + "\n\n".join(p for p in (*parts, sources(record), _notes_after(record)) if p)


def _chunk(completion_id: str, created: int, delta: dict, finish: str | None = None) -> dict:
    return {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
