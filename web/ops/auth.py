"""Signing in to ``/ops`` with an admin's API token, and the forms' CSRF tokens.

The session is an HttpOnly cookie holding the API token itself (with a random nonce
of this sign-in), not a signed Flask session: a signed session needs a secret key
shared by every web process, which this service has no setting for, and a session
that stored only "person 7 is signed in" would outlive the token's revocation. With
the token in the cookie, every request authenticates it again (one query), so a
revoked token, a disabled person or one no longer admin is signed out at once. The
cookie is scoped to ``/ops``, ``SameSite=Strict``, and ``Secure`` over HTTPS.

CSRF: every form carries a token derived from the session (HMAC of the nonce under
the API token): a page of another site can neither read the cookie nor compute the
token. The sign-in form, before any session, uses a double-submitted random cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from flask import request
from werkzeug.wrappers import Response

from tasks_service.identity.accounts import Actor, authenticate_token
from tasks_service.store.db import session_scope
from web.http import settings

SESSION_COOKIE = "ops_session"
SIGNIN_COOKIE = "ops_signin"
COOKIE_PATH = "/ops"
#: A sign-in lasts a working day; the token may stop working sooner.
SESSION_SECONDS = 8 * 3600
#: An API token as ``do_create_token`` makes them is 47 characters; a field much longer
#: than any token is not looked up.
MAX_TOKEN_LENGTH = 200


class Refused(Exception):
    """A request the page refuses, shown as an HTML page with this status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class OpsSession:
    actor: Actor
    csrf: str


def _csrf_for(token: str, nonce: str) -> str:
    return hmac.new(token.encode(), f"ops-csrf:{nonce}".encode(), hashlib.sha256).hexdigest()


def _secure() -> bool:
    return request.is_secure or (settings().public_url or "").startswith("https:")


def admin_for(token: str) -> Actor:
    """The admin whose token this is. Raises: Refused 401 (unknown token, disabled
    person), 403 (not an administrator of the account)."""
    token = token.strip()
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise Refused(401, "unknown token")
    with session_scope(settings(), write=False) as session:
        actor = authenticate_token(session, token)
    if actor is None:
        raise Refused(401, "unknown token")
    if not actor.admin:
        raise Refused(403, "only administrators of the account may use the operator page")
    return actor


def current_session() -> OpsSession | None:
    """The signed-in admin, from the cookie; None when signed out (or the token no
    longer works: revoked, its person disabled or no longer admin)."""
    nonce, _, token = request.cookies.get(SESSION_COOKIE, "").partition(".")
    if not nonce or not token:
        return None
    try:
        actor = admin_for(token)
    except Refused:
        return None
    return OpsSession(actor=actor, csrf=_csrf_for(token, nonce))


def check_csrf(session: OpsSession) -> None:
    """Raises: Refused 403 unless the form carries this session's CSRF token."""
    sent = request.form.get("csrf", "")
    if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
        raise Refused(403, "the form's CSRF token is missing or wrong: reload the page")


def sign_in(response: Response, token: str) -> None:
    """Start a session for ``token`` (checked by ``admin_for`` before)."""
    nonce = secrets.token_urlsafe(16)
    response.set_cookie(
        SESSION_COOKIE,
        f"{nonce}.{token.strip()}",
        max_age=SESSION_SECONDS,
        path=COOKIE_PATH,
        secure=_secure(),
        httponly=True,
        samesite="Strict",
    )
    response.delete_cookie(SIGNIN_COOKIE, path=COOKIE_PATH)


def sign_out(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH, httponly=True, samesite="Strict")


def signin_csrf() -> str:
    """The sign-in form's CSRF token: the one already in the browser's cookie, or a
    new one (``keep_signin_csrf`` puts it in the cookie)."""
    value = request.cookies.get(SIGNIN_COOKIE, "")
    return value if 16 <= len(value) <= 64 else secrets.token_urlsafe(16)


def keep_signin_csrf(response: Response, value: str) -> None:
    response.set_cookie(
        SIGNIN_COOKIE,
        value,
        max_age=3600,
        path=COOKIE_PATH,
        secure=_secure(),
        httponly=True,
        samesite="Strict",
    )


def check_signin_csrf() -> None:
    """Raises: Refused 403 unless the sign-in form sent back its cookie's token."""
    cookie = request.cookies.get(SIGNIN_COOKIE, "")
    sent = request.form.get("csrf", "")
    if len(cookie) < 16 or not hmac.compare_digest(sent.encode(), cookie.encode()):
        raise Refused(403, "the sign-in form expired or came from elsewhere: reload it")
