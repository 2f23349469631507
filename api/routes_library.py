"""What is indexed: search, documents and their versions, clauses, and diffs between versions."""
from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Query

from api.auth import access_of, acting_user, service_of
from api.convert import clause_out, documents_out, filters_of, hit_out
from api.errors import documented, not_found
from api.schemas import MAX_K, ClauseOut, DiffOut, DocumentOut, DocumentsOut, FiltersIn, SearchOut
from rag.records.users import User

router = APIRouter(tags=["library"])


@router.get("/v1/search", response_model=SearchOut, responses=documented(401, 422, 503))
def search(q: str = Query(min_length=1, max_length=4000, pattern=r"\S", description="what to look for"),
           k: int | None = Query(default=None, ge=1, le=MAX_K, description="how many clauses (default: top_k)"),
           doc_id: list[str] = Query(default=[], max_length=50, description="only these instruments (repeatable)"),
           as_of: date | None = Query(default=None, description="among the versions in force that day (default: "
                                                                 "today)"),
           user: User = Depends(acting_user), service=Depends(service_of)) -> SearchOut:
    """The clauses that best match a query (not recorded: nothing is answered)."""
    pipeline = service.pipeline()
    access = access_of(service, user)
    filters = access.filters(filters_of(FiltersIn(doc_ids=doc_id), as_of, access.view(pipeline.index)))
    hits = pipeline.search(q, filters, k)
    return SearchOut(query=q, as_of=filters.as_of, hits=[hit_out(i, h) for i, h in enumerate(hits, 1)])


@router.get("/v1/documents", response_model=DocumentsOut, responses=documented(401, 503))
def documents(user: User = Depends(acting_user), service=Depends(service_of)) -> DocumentsOut:
    """Every indexed instrument with its chain of versions, oldest first."""
    index = access_of(service, user).view(service.pipeline().index)  # only what the user may read
    return DocumentsOut(index_generation=index.generation, documents=documents_out(index))


@router.get("/v1/documents/{doc_id:path}/versions", response_model=DocumentOut, responses=documented(401, 404, 503))
def versions(doc_id: str, user: User = Depends(acting_user), service=Depends(service_of)) -> DocumentOut:
    """One instrument's versions: dates, where each date came from, status, pages and clauses."""
    index = access_of(service, user).view(service.pipeline().index)  # only what the user may read
    found = [d for d in documents_out(index) if d.doc_id == doc_id]
    if not found:
        raise not_found(f"indexed document {doc_id!r}", "GET /v1/documents lists them")
    return found[0]


@router.get("/v1/clauses/{clause_id:path}", response_model=ClauseOut, responses=documented(401, 404, 503))
def clause(clause_id: str, user: User = Depends(acting_user), service=Depends(service_of)) -> ClauseOut:
    """A clause's text, reference, pages and version, by the id that citations and search hits carry."""
    index = access_of(service, user).view(service.pipeline().index)  # only what the user may read
    try:
        found = index.clause(clause_id)
    except KeyError:
        raise not_found(f"clause {clause_id!r} in index generation {index.generation}",
                        "citations and GET /v1/search give clause ids") from None
    return clause_out(index, found)


@router.get("/v1/diff", response_model=DiffOut, responses=documented(401, 404, 422, 503))
def diff(doc_id: str = Query(min_length=1, max_length=500, description="the instrument, as /v1/documents lists it"),
         from_: str | None = Query(default=None, alias="from", max_length=64,
                                   description="the older version: a date (the one in force then) or a version id"),
         to: str | None = Query(default=None, max_length=64, description="the newer version (default: the latest)"),
         user: User = Depends(acting_user), service=Depends(service_of)) -> DiffOut:
    """Added, removed, modified (with whether only editorially) and moved clauses between two versions."""
    from api.diff import diff as compute

    return compute(access_of(service, user).view(service.pipeline().index), doc_id, from_, to)
