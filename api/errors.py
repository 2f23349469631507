"""Errors as JSON `{"error": {"code", "message"}}` with the status that fits: what every client of the API reads."""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.errors import (AuthError, BackendUnavailable, ConfigError, DocumentError, IndexIncompatible, IndexLocked,
                        IndexMissing, IndexUnavailable, ModelMismatch, ModelUnavailable, PermissionDenied,
                        RecordsUnavailable,
                        RegciteError, ReviewError)

log = logging.getLogger(__name__)

# The core's error types as (status, code), most specific first. Unavailable parts are 503: the request was fine.
STATUS_OF = (
    (IndexMissing, 503, "index_missing"),
    (IndexIncompatible, 503, "index_incompatible"),
    (IndexLocked, 503, "index_locked"),
    (IndexUnavailable, 503, "index_unavailable"),
    (ModelMismatch, 503, "model_mismatch"),
    (ModelUnavailable, 503, "model_unavailable"),
    (BackendUnavailable, 503, "backend_unavailable"),
    (RecordsUnavailable, 503, "records_unavailable"),
    (AuthError, 401, "unauthorized"),
    (PermissionDenied, 403, "forbidden"),
    (ReviewError, 409, "review_refused"),
    (ConfigError, 422, "bad_input"),
    (DocumentError, 422, "bad_document"),
)
# Answered by the HTTP layer itself (no route, wrong method)
HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large",
              415: "unsupported_media"}


class ApiError(Exception):
    """An error the API raises itself: unknown ids (404), input the core would not catch (422)."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def not_found(what: str, listing: str) -> ApiError:
    return ApiError(404, "not_found", f"no {what}; {listing}")


def bad_input(message: str) -> ApiError:
    return ApiError(422, "bad_input", message)


def status_of(error: RegciteError) -> tuple[int, str]:
    for kind, status, code in STATUS_OF:
        if isinstance(error, kind):
            return status, code
    return 500, "internal"


def error_body(code: str, message: str, details: list | None = None) -> dict:
    body: dict = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return {"error": body}


def error_response(status: int, code: str, message: str, details: list | None = None) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


class BodyLimit:
    """413 as a JSON error for a body over `max_bytes`: at once when its Content-Length says so, else once that much
    of a chunked body has arrived. The body is read here before the route runs (routes read bodies whole anyway)."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or ()).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            return await self._refuse(scope, receive, send)
        buffered, size = [], 0  # the messages read ahead, replayed to the app in order
        while True:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":  # the client left: the app sees that as it would have
                break
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                return await self._refuse(scope, receive, send)
            if not message.get("more_body"):
                break

        async def replay():
            return buffered.pop(0) if buffered else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope, receive, send):
        response = error_response(413, "too_large", f"the body is over {self.max_bytes} bytes, more than a "
                                                     "question and its conversation need")
        await response(scope, receive, send)


def install(app: FastAPI) -> None:
    @app.exception_handler(RegciteError)
    async def regcite_error(request: Request, e: RegciteError):
        status, code = status_of(e)
        return error_response(status, code, str(e))

    @app.exception_handler(ApiError)
    async def api_error(request: Request, e: ApiError):
        return error_response(e.status, e.code, e.message)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError):
        details = [{"where": ".".join(str(p) for p in err.get("loc", ())), "problem": err.get("msg", "")}
                   for err in e.errors()]
        shown = "; ".join(f"{d['where']}: {d['problem']}" for d in details[:5])
        return error_response(422, "bad_input", f"the request does not fit the schema at /openapi.json: {shown}",
                              details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException):
        code = HTTP_CODES.get(e.status_code, "http_error")
        message = e.detail if isinstance(e.detail, str) else str(e.detail)
        if e.status_code == 404:
            message = f"no such path {request.url.path}; the endpoints are listed at /docs"
        return error_response(e.status_code, code, message)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, e: Exception):
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal", f"unexpected {type(e).__name__}; the server log has the traceback")


_DESCRIPTIONS = {400: "the body is not JSON", 413: "the body is over 4 MiB",
                 401: "no API key, or an unknown or revoked one, while users are defined",
                 403: "the key's role may not do this", 404: "no such id", 409: "the records refuse it as things stand",
                 422: "the request does not fit the schema, or names what is not indexed",
                 503: "no index yet, or a part the server needs is unavailable"}


def documented(*statuses: int) -> dict:
    """The error responses of an operation, for /openapi.json (422 replaces FastAPI's own validation-error shape)."""
    from api.schemas import ErrorBody

    return {s: {"model": ErrorBody, "description": _DESCRIPTIONS[s]} for s in statuses}
