"""`POST /v1/ask`: an answer with verified citations, recorded like the CLI's and the app's; streamed on request."""
from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from api.auth import access_of, acting_user, service_of
from api.convert import answer_out, filters_of
from api.errors import documented, status_of
from api.schemas import AnswerOut, AskRequest
from api.streaming import KEEPALIVE, Done, Failed, Token, Waiting, answer_events, sse
from rag.records.users import User

router = APIRouter(tags=["answers"])

EVENT_SCHEMA = {"type": "object", "required": ["event", "data"], "properties": {  # one event (OpenAPI 3.2's SSE shape)
    "event": {"type": "string", "enum": ["token", "answer", "error"]},
    "data": {"type": "string", "contentMediaType": "application/json"}}}
STREAM_DOC = {"text/event-stream": {"schema": EVENT_SCHEMA, "description": (
    "with `stream: true`: `event: token` (data `{\"text\": …}`) as the text comes, then `event: answer` (data: "
    "the AnswerOut), or `event: error` (data: the error body)")}}


@router.post("/v1/ask", response_model=AnswerOut,
             responses={200: {"content": STREAM_DOC}, **documented(400, 401, 403, 413, 422, 503)})
async def ask(body: AskRequest, user: User = Depends(acting_user), service=Depends(service_of)):
    """Answer a question from the indexed versions in force on `as_of` (today by default)."""
    pipeline, filters = await run_in_threadpool(_prepare, service, user, body)
    if not body.stream:
        return answer_out(await service.answer(pipeline, user, body.question, filters))

    async def events():
        async for event in answer_events(service, pipeline, user, body.question, filters):
            if isinstance(event, Waiting):
                yield KEEPALIVE
            elif isinstance(event, Token):
                yield sse("token", {"text": event.text})
            elif isinstance(event, Done):
                yield sse("answer", answer_out(event.record).model_dump(mode="json"))
            elif isinstance(event, Failed):
                status, code = status_of(event.error)
                yield sse("error", {"error": {"code": code, "message": str(event.error), "status": status}})

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


def _prepare(service, user: User, body: AskRequest):
    """The served pipeline (IndexMissing: 503 before any stream starts) and the request's filters, checked against
    what the user may read (ask_and_record narrows them to it); k by settings."""
    pipeline = service.pipeline()
    filters = filters_of(body.filters, body.as_of, access_of(service, user).view(pipeline.index))
    if body.k is not None and body.k != pipeline.settings.top_k:
        pipeline = pipeline.with_settings(pipeline.settings.replace(top_k=body.k))
    return pipeline, filters
