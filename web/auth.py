"""Bearer token plus account header (``X-Xurrent-Account``, or 4me's ``X-4me-Account``)."""

from __future__ import annotations

from flask import g, request

from tasks_service.db import session_scope
from tasks_service.identity import Actor, authenticate
from web.errors import ApiError
from web.http import settings

ACCOUNT_HEADERS = ("X-Xurrent-Account", "X-4me-Account")


def _unauthorized(code: str, message: str) -> ApiError:
    return ApiError(401, code, message, headers={"WWW-Authenticate": 'Bearer realm="tasks"'})


def authenticate_request() -> Actor:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("unauthorized", "send Authorization: Bearer <token>")
    slug = next((request.headers[h] for h in ACCOUNT_HEADERS if request.headers.get(h)), None)
    if not slug:
        raise _unauthorized("account_missing", "send the account in the X-Xurrent-Account header")
    with session_scope(settings(), write=False) as session:
        actor = authenticate(session, token.strip(), slug.strip())
    if actor is None:
        raise _unauthorized("unauthorized", "unknown token, or a token of another account")
    g.actor = actor
    return actor
