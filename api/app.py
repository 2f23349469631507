"""`create_app(settings)`: the FastAPI application over one RecordBook and one Pipeline, both made at startup."""
from __future__ import annotations

import contextlib
import threading

from fastapi import FastAPI

from api import errors, health, openai_compat, routes_answers, routes_ask, routes_library
from api.service import Service

MAX_BODY_BYTES = 4 * 2**20  # a chat client sends the whole conversation; far more than any question needs (413 past it)

DESCRIPTION = """Compliance Q&A over regulations, every sentence citing a verified clause.

Every answer is recorded, as the CLI's and the app's are. Once users exist, every request but `/v1/health` needs an
API key (`regcite users key NAME`) as `Authorization: Bearer KEY`; before, the server listens on loopback only and
acts as the local user. Errors are `{"error": {"code": ..., "message": ...}}` with the status that fits.
`/v1/chat/completions` and `/v1/models` follow OpenAI's API, so chat clients can use regcite as a model."""


def create_app(settings, *, book=None, pipeline=None, warm_up: bool = False) -> FastAPI:
    """The application; `book` and `pipeline` are opened from settings unless given (a test's stand-ins).
    With warm_up the embedder loads in the background at startup, so the first question does not wait for it."""
    from rag.records.book import open_book

    service = Service(settings, book if book is not None else open_book(settings), health.BackendProbe(settings),
                      pipeline)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        if warm_up:
            threading.Thread(target=service.warm_up, name="regcite-warm-up", daemon=True).start()
        yield
        if book is None:
            service.book.db.dispose()

    app = FastAPI(title="regcite", version="1", description=DESCRIPTION, lifespan=lifespan)
    app.state.service = service
    errors.install(app)
    app.add_middleware(errors.BodyLimit, max_bytes=MAX_BODY_BYTES)
    for module in (routes_ask, routes_library, routes_answers, openai_compat, health):
        app.include_router(module.router)
    return app
