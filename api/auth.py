"""Who a request acts as: the user of its API key (`Authorization: Bearer KEY`), or the local user while none exist."""
from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from rag.records.users import User, require_reviewer

# auto_error off: a missing key is refused by the core's rule (none needed while no users exist), not by FastAPI
bearer = HTTPBearer(auto_error=False, description="an API key from `regcite users key NAME`; not needed while no "
                                                  "users are defined")


def service_of(request: Request):
    return request.app.state.service


def acting_user(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> User:
    from rag.records.api_keys import user_for_request

    service = service_of(request)
    return user_for_request(service.book, service.settings, credentials.credentials if credentials else None)


def reviewer(user: User = Depends(acting_user)) -> User:
    require_reviewer(user)  # PermissionDenied: 403
    return user


def access_of(service, user: User):
    """What `user` may read (rag.access): admins and the local user everything, others their collections' grants."""
    from rag.access import access_for

    return access_for(service.book, user)
