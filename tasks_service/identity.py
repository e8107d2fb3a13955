"""Accounts (tenants), people, teams, memberships and API tokens.

These writes are small and synchronous (no operation queue): they do not drive any
timer or notification and have no ordering needs beyond their transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from tasks_service.calendar_store import check_calendar_ref
from tasks_service.db import ensure_free
from tasks_service.errors import Conflict, NotFound, PermissionDenied, field_error
from tasks_service.models import Account, ApiToken, Person, Team, TeamMembership, utcnow
from tasks_service.schemas import (
    AccountUpdate,
    PersonCreate,
    PersonUpdate,
    TeamCreate,
    TeamUpdate,
    provided,
)

TOKEN_PREFIX = "tsk_"
_TEAM_TAKEN = "another team has this name"
_EMAIL_TAKEN = "another person has this email"


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
    row = session.exec(
        select(ApiToken, Person, Account)
        .join(Person, col(Person.id) == ApiToken.person_id)
        .join(Account, col(Account.id) == ApiToken.account_id)
        .where(ApiToken.token_hash == hash_token(token))
    ).first()
    if row is None:
        return None
    _token, person, account = row
    if account.slug != account_slug or person.disabled:
        return None
    assert person.id is not None
    return Actor(account_id=account.id or 0, person_id=person.id, admin=person.admin)


def require_admin(actor: Actor) -> None:
    if not actor.admin:
        raise PermissionDenied("only administrators of the account may do this")


# --- accounts and tokens -------------------------------------------------------------


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


# --- people ----------------------------------------------------------------------------


def get_account_by_id(session: Session, account_id: int) -> Account:
    """Raises: NotFound."""
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(f"no account {account_id}")
    return account


def do_update_account(session: Session, account_id: int, data: AccountUpdate) -> Account:
    """Rename the account or set its default calendar. Raises: NotFound;
    TaskValidationError."""
    account = get_account_by_id(session, account_id)
    changes = provided(data)
    if "calendar_id" in changes:
        check_calendar_ref(session, account_id, changes["calendar_id"])
    if "escalation_policy_id" in changes:
        check_policy_ref(session, account_id, changes["escalation_policy_id"])
    for key, value in changes.items():
        setattr(account, key, value)
    session.add(account)
    session.flush()
    return account


def find_person(session: Session, account_id: int, person_id: int) -> Person | None:
    person = session.get(Person, person_id)
    return person if person is not None and person.account_id == account_id else None


def get_person(session: Session, account_id: int, person_id: int) -> Person:
    """Raises: NotFound (also for a person of another account)."""
    person = find_person(session, account_id, person_id)
    if person is None:
        raise NotFound(f"no person {person_id}")
    return person


def find_person_by_email(session: Session, account_id: int, email: str) -> Person | None:
    return session.exec(
        select(Person).where(Person.account_id == account_id, Person.primary_email == email)
    ).first()


def list_people(session: Session, account_id: int) -> list[Person]:
    return list(
        session.exec(select(Person).where(Person.account_id == account_id).order_by(col(Person.id)))
    )


def do_create_person(session: Session, account_id: int, data: PersonCreate) -> Person:
    """Raises: TaskValidationError if the email is taken in the account."""
    ensure_free(
        session, Person, account_id, "primary_email", data.primary_email, None, _EMAIL_TAKEN
    )
    person = Person(account_id=account_id, **data.model_dump())
    session.add(person)
    session.flush()
    return person


def do_update_person(
    session: Session, account_id: int, person_id: int, data: PersonUpdate
) -> Person:
    """Raises: NotFound; TaskValidationError if the new email is taken."""
    person = get_person(session, account_id, person_id)
    changes = provided(data)
    if "primary_email" in changes:
        ensure_free(
            session,
            Person,
            account_id,
            "primary_email",
            changes["primary_email"],
            person_id,
            _EMAIL_TAKEN,
        )
    for key, value in changes.items():
        setattr(person, key, value)
    person.updated_at = utcnow()
    session.add(person)
    session.flush()
    return person


def check_policy_ref(session: Session, account_id: int, policy_id: int | None) -> None:
    # imported here: escalation finds people and teams through this module
    from tasks_service.escalation import check_policy_ref as check

    check(session, account_id, policy_id)


# --- teams -----------------------------------------------------------------------------


def find_team(session: Session, account_id: int, team_id: int) -> Team | None:
    team = session.get(Team, team_id)
    return team if team is not None and team.account_id == account_id else None


def get_team(session: Session, account_id: int, team_id: int) -> Team:
    """Raises: NotFound (also for a team of another account)."""
    team = find_team(session, account_id, team_id)
    if team is None:
        raise NotFound(f"no team {team_id}")
    return team


def list_teams(session: Session, account_id: int, name: str | None = None) -> list[Team]:
    query = select(Team).where(Team.account_id == account_id)
    if name is not None:
        query = query.where(Team.name == name)
    return list(session.exec(query.order_by(col(Team.id))))


def do_create_team(session: Session, account_id: int, data: TeamCreate) -> Team:
    """Raises: TaskValidationError if the name is taken, or for an unknown calendar."""
    ensure_free(session, Team, account_id, "name", data.name, None, _TEAM_TAKEN)
    check_calendar_ref(session, account_id, data.calendar_id)
    check_policy_ref(session, account_id, data.escalation_policy_id)
    team = Team(
        account_id=account_id,
        name=data.name,
        calendar_id=data.calendar_id,
        escalation_policy_id=data.escalation_policy_id,
    )
    session.add(team)
    session.flush()
    return team


def do_update_team(session: Session, account_id: int, team_id: int, data: TeamUpdate) -> Team:
    """Raises: NotFound; TaskValidationError if the new name is taken, or for an unknown
    calendar. (A new calendar moves the targets of the team's tasks: the caller asks
    for that recompute, ``recompute.do_request_recompute``.)"""
    team = get_team(session, account_id, team_id)
    changes = provided(data)
    if "name" in changes:
        ensure_free(session, Team, account_id, "name", changes["name"], team_id, _TEAM_TAKEN)
    if "calendar_id" in changes:
        check_calendar_ref(session, account_id, changes["calendar_id"])
    if "escalation_policy_id" in changes:
        check_policy_ref(session, account_id, changes["escalation_policy_id"])
    for key, value in changes.items():
        setattr(team, key, value)
    team.updated_at = utcnow()
    session.add(team)
    session.flush()
    return team


def do_add_team_member(session: Session, account_id: int, team_id: int, person_id: int) -> Person:
    """Add a person to a team (adding twice is fine). Raises: NotFound."""
    get_team(session, account_id, team_id)
    try:
        person = get_person(session, account_id, person_id)
    except NotFound:
        raise field_error("person_id", "not_found", f"no person {person_id}") from None
    if session.get(TeamMembership, (team_id, person_id)) is None:
        try:
            with session.begin_nested():
                session.add(TeamMembership(team_id=team_id, person_id=person_id))
        except IntegrityError:
            pass  # a concurrent request added it: the outcome is the same
    return person


def do_remove_team_member(session: Session, account_id: int, team_id: int, person_id: int) -> None:
    """Raises: NotFound if the team, the person or the membership does not exist."""
    get_team(session, account_id, team_id)
    membership = session.get(TeamMembership, (team_id, person_id))
    if membership is None or find_person(session, account_id, person_id) is None:
        raise NotFound(f"person {person_id} is not a member of team {team_id}")
    session.delete(membership)
    session.flush()


def is_team_member(session: Session, team_id: int, person_id: int) -> bool:
    return session.get(TeamMembership, (team_id, person_id)) is not None
