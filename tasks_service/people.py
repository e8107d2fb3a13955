"""People and teams for the in-process Python API (Canvas's ``staffing``: staff are people).

Functions return frozen snapshots (``Person``, ``Team``): no ORM object leaves its
transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlmodel import col, select

from tasks_service.context import current
from tasks_service.core.errors import NotFound
from tasks_service.core.settings import Settings, get_settings
from tasks_service.core.validation import validate
from tasks_service.identity import accounts, directory
from tasks_service.store import lookups, models
from tasks_service.store.db import session_scope
from tasks_service.store.migrate import ensure_schema
from tasks_service.store.schemas.directory import PersonCreate, TeamCreate


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    primary_email: str
    admin: bool = False


@dataclass(frozen=True)
class Team:
    id: int
    name: str


def _person(row: models.Person) -> Person:
    return Person(id=row.id or 0, name=row.name, primary_email=row.primary_email, admin=row.admin)


def _team(row: models.Team) -> Team:
    return Team(id=row.id or 0, name=row.name)


@dataclass(frozen=True)
class NewAccount:
    """An account just made: its administrator (also its service user, who acts when no
    person is named) and the administrator's first API token, shown here only."""

    slug: str
    name: str
    admin: Person
    token: str


def create_account(
    slug: str,
    *,
    admin_name: str,
    admin_email: str,
    name: str | None = None,
    settings: Settings | None = None,
) -> NewAccount:
    """A new account with its administrator (``tasks-service account create``); work in
    it with ``tasks.account(slug)``. The embedded database is brought to its schema first.

    Raises: Conflict (the slug is taken); TaskValidationError (bad name or email);
    DatabaseNotReady."""
    settings = settings or get_settings()
    ensure_schema(settings)
    with session_scope(settings) as session:
        row, admin, token = accounts.do_create_account(
            session, slug, name or slug, admin_name, admin_email
        )
        return NewAccount(slug=row.slug, name=row.name, admin=_person(admin), token=token)


def get_service_user() -> Person:
    """The account's first administrator, who acts when no person is named."""
    ctx = current()
    with session_scope(ctx.settings, write=False) as session:
        row = session.exec(
            select(models.Person)
            .where(models.Person.account_id == ctx.account_id, col(models.Person.admin))
            .order_by(col(models.Person.id))
        ).first()
        if row is None:
            raise NotFound("the account has no administrator")
        return _person(row)


#: Canvas's name for it.
get_service_user_staff = get_service_user


def create_person(name: str, primary_email: str, admin: bool = False) -> Person:
    """Raises: TaskValidationError (bad or taken email)."""
    ctx = current()
    data = validate(PersonCreate, {"name": name, "primary_email": primary_email, "admin": admin})
    with session_scope(ctx.settings) as session:
        return _person(directory.do_create_person(session, ctx.account_id, data))


def get_person(person_id: int | None = None, *, email: str | None = None) -> Person:
    """A person by id or by primary email. Raises: NotFound."""
    ctx = current()
    with session_scope(ctx.settings, write=False) as session:
        if email is not None:
            row = directory.find_person_by_email(session, ctx.account_id, email)
            if row is None:
                raise NotFound(f"no person with email {email}")
            return _person(row)
        return _person(lookups.get(session, models.Person, ctx.account_id, person_id or 0))


def list_people() -> Iterator[Person]:
    ctx = current()
    with session_scope(ctx.settings, write=False) as session:
        rows = [_person(p) for p in directory.list_people(session, ctx.account_id)]
    return iter(rows)


def create_team(
    name: str,
    members: tuple[Person, ...] = (),
    calendar_id: int | None = None,
    escalation_policy_id: int | None = None,
) -> Team:
    """A team; ``calendar_id`` names the calendar of its tasks' targets,
    ``escalation_policy_id`` the policy that escalates them.
    Raises: TaskValidationError (taken name, unknown calendar or policy)."""
    ctx = current()
    data = validate(
        TeamCreate,
        {"name": name, "calendar_id": calendar_id, "escalation_policy_id": escalation_policy_id},
    )
    with session_scope(ctx.settings) as session:
        team = directory.do_create_team(session, ctx.account_id, data)
        for person in members:
            directory.do_add_team_member(session, ctx.account_id, team.id or 0, person.id)
        return _team(team)


def add_team_member(team: Team, person: Person) -> None:
    """Raises: NotFound."""
    ctx = current()
    with session_scope(ctx.settings) as session:
        directory.do_add_team_member(session, ctx.account_id, team.id, person.id)


def get_team(team_id: int) -> Team:
    """Raises: NotFound."""
    ctx = current()
    with session_scope(ctx.settings, write=False) as session:
        return _team(lookups.get(session, models.Team, ctx.account_id, team_id))


def list_teams(name: str | None = None) -> Iterator[Team]:
    """Teams of the account, optionally by name (an iterator, as in Canvas's examples)."""
    ctx = current()
    with session_scope(ctx.settings, write=False) as session:
        rows = [_team(t) for t in directory.list_teams(session, ctx.account_id, name=name)]
    return iter(rows)
