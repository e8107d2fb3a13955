"""The directory: people, teams and who is in which team (admins change it).

Writes are small and synchronous (no operation queue), like the accounts'.
"""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from tasks_service.core.clock import utcnow
from tasks_service.core.errors import NotFound, field_error
from tasks_service.core.validation import provided
from tasks_service.store import background, lookups
from tasks_service.store.models import (
    Calendar,
    EscalationPolicy,
    Operation,
    Person,
    Team,
    TeamMembership,
)
from tasks_service.store.schemas.directory import (
    NotificationPreferences,
    PersonCreate,
    PersonUpdate,
    TeamCreate,
    TeamUpdate,
)

_TEAM_TAKEN = "another team has this name"
_EMAIL_TAKEN = "another person has this email"


# --- people ----------------------------------------------------------------------------


def find_person_by_email(session: Session, account_id: int, email: str) -> Person | None:
    """The account's person with this email, in whatever letters it is given."""
    same = func.lower(Person.primary_email) == func.lower(email.strip())
    return session.exec(select(Person).where(Person.account_id == account_id, same)).first()


def list_people(session: Session, account_id: int) -> list[Person]:
    return list(
        session.exec(select(Person).where(Person.account_id == account_id).order_by(col(Person.id)))
    )


def do_create_person(session: Session, account_id: int, data: PersonCreate) -> Person:
    """Raises: TaskValidationError if the email is taken in the account."""
    lookups.ensure_free(
        session, Person, account_id, "primary_email", data.primary_email, None, _EMAIL_TAKEN
    )
    person = Person(account_id=account_id, **data.model_dump())
    lookups.store_unique(session, person, "primary_email", _EMAIL_TAKEN)
    return person


def do_update_person(
    session: Session, account_id: int, person_id: int, data: PersonUpdate
) -> Person:
    """Raises: NotFound; TaskValidationError if the new email is taken."""
    person = lookups.get(session, Person, account_id, person_id)
    changes = provided(data)
    if "primary_email" in changes:
        email = changes["primary_email"]
        lookups.ensure_free(
            session, Person, account_id, "primary_email", email, person_id, _EMAIL_TAKEN
        )
    for key, value in changes.items():
        setattr(person, key, value)
    person.updated_at = utcnow()
    lookups.store_unique(session, person, "primary_email", _EMAIL_TAKEN)
    return person


def do_set_opt_outs(
    session: Session, account_id: int, person_id: int, data: NotificationPreferences
) -> Person:
    """The notifications a person does not want (their own choice). Raises: NotFound."""
    person = lookups.get(session, Person, account_id, person_id)
    person.notification_opt_outs = data.notification_opt_outs
    person.updated_at = utcnow()
    session.add(person)
    session.flush()
    return person


# --- teams -----------------------------------------------------------------------------


def list_teams(session: Session, account_id: int, name: str | None = None) -> list[Team]:
    query = select(Team).where(Team.account_id == account_id)
    if name is not None:  # names are unique without regard to case
        query = query.where(func.lower(Team.name) == func.lower(name))
    return list(session.exec(query.order_by(col(Team.id))))


def _check_refs(session: Session, account_id: int, changes: dict[str, object]) -> None:
    for field, model in (("calendar_id", Calendar), ("escalation_policy_id", EscalationPolicy)):
        if field in changes:
            value = changes[field]
            assert value is None or isinstance(value, int)
            lookups.check_ref(session, model, account_id, value, field)


def do_create_team(session: Session, account_id: int, data: TeamCreate) -> Team:
    """Raises: TaskValidationError if the name is taken, or for an unknown calendar or
    escalation policy."""
    lookups.ensure_free(session, Team, account_id, "name", data.name, None, _TEAM_TAKEN)
    _check_refs(session, account_id, data.model_dump())
    team = Team(account_id=account_id, **data.model_dump())
    lookups.store_unique(session, team, "name", _TEAM_TAKEN)
    return team


def do_update_team(
    session: Session, account_id: int, team_id: int, data: TeamUpdate, person_id: int | None = None
) -> tuple[Team, Operation | None]:
    """Change the fields sent. Returns the team and, when its calendar or escalation
    policy changed, the recompute of its open tasks this requested (``store.background``).
    Raises: NotFound; TaskValidationError (a taken name, an unknown calendar or policy)."""
    team = lookups.get(session, Team, account_id, team_id)
    changes = provided(data)
    if "name" in changes:
        name = changes["name"]
        lookups.ensure_free(session, Team, account_id, "name", name, team_id, _TEAM_TAKEN)
    _check_refs(session, account_id, changes)
    before = background.movers(team)
    for key, value in changes.items():
        setattr(team, key, value)
    team.updated_at = utcnow()
    lookups.store_unique(session, team, "name", _TEAM_TAKEN)
    recompute = background.request_if_moved(session, team, before, person_id, {"team_id": team_id})
    return team, recompute


def do_add_team_member(session: Session, account_id: int, team_id: int, person_id: int) -> Person:
    """Add a person to a team (adding twice is fine). Raises: NotFound (the team);
    TaskValidationError (``person_id``: no such person)."""
    lookups.get(session, Team, account_id, team_id)
    person = lookups.find(session, Person, account_id, person_id)
    if person is None:
        raise field_error("person_id", "not_found", f"no person {person_id}")
    if session.get(TeamMembership, (team_id, person_id)) is None:
        try:
            with session.begin_nested():
                session.add(TeamMembership(team_id=team_id, person_id=person_id))
        except IntegrityError:
            pass  # a concurrent request added it: the outcome is the same
    return person


def do_remove_team_member(session: Session, account_id: int, team_id: int, person_id: int) -> None:
    """Raises: NotFound if the team, the person or the membership does not exist."""
    lookups.get(session, Team, account_id, team_id)
    membership = session.get(TeamMembership, (team_id, person_id))
    if membership is None or lookups.find(session, Person, account_id, person_id) is None:
        raise NotFound(f"person {person_id} is not a member of team {team_id}")
    session.delete(membership)
    session.flush()


def is_team_member(session: Session, team_id: int, person_id: int) -> bool:
    return session.get(TeamMembership, (team_id, person_id)) is not None


def team_members(session: Session, team_id: int | None) -> list[int]:
    """The ids of a team's members, in id order (none for no team)."""
    if team_id is None:
        return []
    query = select(TeamMembership.person_id).where(TeamMembership.team_id == team_id)
    return sorted(session.exec(query))
