"""Who is calling under ``/2.0``: the bearer token alone names the person and the
account (Box's clients send no account header; one sent is not read)."""

from __future__ import annotations

from flask import g, request

from tasks_service.identity.accounts import Actor, authenticate_token
from tasks_service.store.db import session_scope
from web.errors import ApiError
from web.http import settings


def _unauthorized(message: str) -> ApiError:
    return ApiError(
        401, "unauthorized", message, headers={"WWW-Authenticate": 'Bearer realm="tasks"'}
    )


def authenticate_box_request() -> Actor:
    """The caller, kept in ``g.actor`` (as ``web.auth`` does for ``/v1``). One query a
    request: a revoked token or a disabled person stops working at once.

    Raises: ApiError 401 (no bearer token, an unknown one, a disabled person's).
    """
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("send Authorization: Bearer <token>")
    with session_scope(settings(), write=False) as session:
        actor = authenticate_token(session, token.strip())
    if actor is None:
        raise _unauthorized("unknown token")
    g.actor = actor
    return actor
