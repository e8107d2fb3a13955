"""Accounts (tenants), who is calling, and API tokens.

These writes are small and synchronous (no operation queue): they drive no timer or
notification and have no ordering needs beyond their transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlmodel import Session, col, select

from tasks_service.core.errors import Conflict, NotFound, PermissionDenied
from tasks_service.core.validation import provided
from tasks_service.identity.directory import do_create_person
from tasks_service.store import background, lookups
from tasks_service.store.models import (
    Account,
    ApiToken,
    Calendar,
    EscalationPolicy,
    Operation,
    Person,
)
from tasks_service.store.schemas.directory import AccountUpdate, PersonCreate

TOKEN_PREFIX = "tsk_"


@dataclass(frozen=True)
class Actor:
    """Who is calling: the account and the person, by id (no ORM object leaves a scope)."""

    account_id: int
    person_id: int
    admin: bool


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def authenticate(session: Session, token: str, account_slug: str) -> Actor | None:
    """The actor for a bearer token, or None if the token is unknown or of another account."""
    found = _token_owner(session, token)
    if found is None or found[1] != account_slug:
        return None
    return found[0]


def authenticate_token(session: Session, token: str) -> Actor | None:
    """The actor for a bearer token alone, in the token's own account (Box's ``/2.0``:
    no account header), or None if the token is unknown. A token names one account:
    ``api_token.token_hash`` is unique (a constraint of the table, since 0001)."""
    found = _token_owner(session, token)
    return None if found is None else found[0]


def _token_owner(session: Session, token: str) -> tuple[Actor, str] | None:
    """The token's actor and the slug of its account; None for an unknown token or a
    disabled person."""
    row = session.exec(
        select(ApiToken, Person, Account)
        .join(Person, col(Person.id) == ApiToken.person_id)
        .join(Account, col(Account.id) == ApiToken.account_id)
        .where(ApiToken.token_hash == hash_token(token))
    ).first()
    if row is None:
        return None
    _token, person, account = row
    if person.disabled:
        return None
    assert person.id is not None
    actor = Actor(account_id=account.id or 0, person_id=person.id, admin=person.admin)
    return actor, account.slug


def require_admin(actor: Actor) -> None:
    if not actor.admin:
        raise PermissionDenied("only administrators of the account may do this")


def find_account(session: Session, slug: str) -> Account | None:
    return session.exec(select(Account).where(Account.slug == slug)).first()


def get_account(session: Session, slug: str) -> Account:
    """The account with this slug. Raises: NotFound."""
    account = find_account(session, slug)
    if account is None:
        raise NotFound(f"no account {slug!r}")
    return account


def any_account(session: Session) -> bool:
    return session.exec(select(Account.id).limit(1)).first() is not None


def first_admin(session: Session) -> tuple[str, str] | None:
    """The first account's slug and its first administrator's email (``None``: no
    account yet), for telling an operator how to get a token."""
    row = session.exec(
        select(Account.slug, Person.primary_email)
        .join(Person, col(Person.account_id) == col(Account.id))
        .where(col(Person.admin))
        .order_by(col(Account.id), col(Person.id))
        .limit(1)
    ).first()
    return None if row is None else (row[0], row[1])


def do_create_account(
    session: Session, slug: str, name: str, admin_name: str, admin_email: str
) -> tuple[Account, Person, str]:
    """Create an account with its admin person and a first token (returned in clear once).

    Raises: Conflict if the slug is taken; TaskValidationError on a bad name or email.
    """
    if find_account(session, slug) is not None:
        raise Conflict(f"account {slug!r} exists already")
    account = Account(slug=slug, name=name or slug)
    session.add(account)
    session.flush()
    assert account.id is not None
    admin = do_create_person(
        session,
        account.id,
        PersonCreate(name=admin_name, primary_email=admin_email, admin=True),
    )
    token = do_create_token(session, account.id, admin.id or 0)
    return account, admin, token


def do_create_token(session: Session, account_id: int, person_id: int) -> str:
    """A new API token for the person; only its hash is stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            account_id=account_id,
            person_id=person_id,
            token_hash=hash_token(token),
            prefix=token[:12],
        )
    )
    session.flush()
    return token


def do_update_account(
    session: Session, account_id: int, data: AccountUpdate, person_id: int | None = None
) -> tuple[Account, Operation | None]:
    """Rename the account, or set its default calendar or escalation policy. Returns the
    account and, when the default calendar or policy changed, the recompute of its open
    tasks this requested (``store.background``). Raises: NotFound; TaskValidationError."""
    account = lookups.get_account(session, account_id)
    changes = provided(data)
    if "calendar_id" in changes:
        lookups.check_ref(session, Calendar, account_id, changes["calendar_id"], "calendar_id")
    if "escalation_policy_id" in changes:
        policy_id = changes["escalation_policy_id"]
        lookups.check_ref(session, EscalationPolicy, account_id, policy_id, "escalation_policy_id")
    before = background.movers(account)
    for key, value in changes.items():
        setattr(account, key, value)
    session.add(account)
    session.flush()
    return account, background.request_if_moved(session, account, before, person_id, {})
