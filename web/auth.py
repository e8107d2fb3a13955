"""Bearer token plus account header (``X-Xurrent-Account``, or 4me's ``X-4me-Account``)."""

from __future__ import annotations

import threading
import time

from flask import g, request

from tasks_service.identity.accounts import Actor, authenticate
from tasks_service.store.db import session_scope
from web.errors import ApiError
from web.http import settings

ACCOUNT_HEADERS = ("X-Xurrent-Account", "X-4me-Account")


def _unauthorized(code: str, message: str) -> ApiError:
    return ApiError(401, code, message, headers={"WWW-Authenticate": 'Bearer realm="tasks"'})


class _ActorCache:
    """Recently seen tokens, per process, for a few seconds: saves a query per request.

    Short-lived on purpose: a disabled person or a revoked token stops working within
    ``TTL`` seconds.
    """

    TTL = 10.0
    SIZE = 1024

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], tuple[float, Actor]] = {}

    def get(self, token: str, slug: str) -> Actor | None:
        entry = self._entries.get((token, slug))
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, token: str, slug: str, actor: Actor) -> None:
        with self._lock:
            if len(self._entries) >= self.SIZE:
                self._entries.clear()
            self._entries[(token, slug)] = (time.monotonic() + self.TTL, actor)


_cache = _ActorCache()


def authenticate_request() -> Actor:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("unauthorized", "send Authorization: Bearer <token>")
    slug = next((request.headers[h] for h in ACCOUNT_HEADERS if request.headers.get(h)), None)
    if not slug:
        raise _unauthorized("account_missing", "send the account in the X-Xurrent-Account header")
    token, slug = token.strip(), slug.strip()
    actor = _cache.get(token, slug)
    if actor is None:
        with session_scope(settings(), write=False) as session:
            actor = authenticate(session, token, slug)
        if actor is not None:
            _cache.put(token, slug, actor)
    if actor is None:
        raise _unauthorized("unauthorized", "unknown token, or a token of another account")
    g.actor = actor
    return actor
