"""`GET /v1/health`: the index generation served and whether the configured backend can be reached."""
from __future__ import annotations

import threading
import time

from fastapi import APIRouter, Depends

from api.auth import service_of
from api.schemas import BackendHealth, HealthOut
from rag.errors import RegciteError

router = APIRouter(tags=["service"])

PROBE_EVERY_S = 10.0  # a health poller every second must not turn into a request a second to the LLM server
PROBE_TIMEOUT_S = 2.0


class BackendProbe:
    """Whether an OpenAI-compatible server answers GET {base_url}/models, remembered for PROBE_EVERY_S."""

    def __init__(self, settings):
        self.settings = settings
        self._lock = threading.Lock()
        self._at = -PROBE_EVERY_S
        self._last = (True, "")

    def __call__(self) -> tuple[bool, str]:
        s = self.settings
        if s.llm_backend != "openai":
            return True, f"{s.llm_backend} runs in this process"
        with self._lock:
            if time.monotonic() - self._at >= PROBE_EVERY_S:
                self._last = self._probe()
                self._at = time.monotonic()
            return self._last

    def _probe(self) -> tuple[bool, str]:
        import httpx

        s = self.settings
        headers = {"Authorization": f"Bearer {s.llm_api_key}"} if s.llm_api_key else {}
        url = s.llm_base_url.rstrip("/") + "/models"
        try:
            response = httpx.get(url, headers=headers, timeout=PROBE_TIMEOUT_S)
        except httpx.HTTPError as e:
            return False, f"{url}: {type(e).__name__}; answers fall back to the extractive backend"
        if response.status_code >= 400:
            return False, f"{url}: HTTP {response.status_code}; answers fall back to the extractive backend"
        return True, f"{url}: HTTP {response.status_code}"


@router.get("/v1/health", response_model=HealthOut)
def health(service=Depends(service_of)) -> HealthOut:
    """Needs no key: the generation served, the documents and clauses in it, and the backend's reachability."""
    from rag.records.users import list_users

    s = service.settings
    try:
        index = service.pipeline().index
    except RegciteError:
        index = None
    reachable, detail = service.probe()
    return HealthOut(
        status="ok" if index is not None and reachable else "degraded",
        index_generation=index.generation if index is not None else None,
        documents=len(index.documents) if index is not None else 0,
        clauses=len(index.clauses) if index is not None else 0,
        index_problem=service.problem,
        backend=BackendHealth(name=s.llm_backend, model=s.llm_model or s.llm_backend, base_url=s.llm_base_url,
                              reachable=reachable, detail=detail),
        auth="api_keys" if list_users(service.book) else "none",
    )
