"""People, teams and the account in their REST form (``store.schemas.directory``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session

from tasks_service.core.clock import iso
from tasks_service.querying.serializers import refs
from tasks_service.store.models import Account, Person, Team


def serialize_person(person: Person) -> dict[str, Any]:
    return {
        "id": person.id,
        "name": person.name,
        "primary_email": person.primary_email,
        "admin": person.admin,
        "disabled": person.disabled,
        "notification_opt_outs": person.notification_opt_outs,
        "created_at": iso(person.created_at),
        "updated_at": iso(person.updated_at),
    }


def serialize_teams(session: Session, teams: Sequence[Team]) -> list[dict[str, Any]]:
    calendars = refs.calendars(session, {t.calendar_id for t in teams})
    policies = refs.policies(session, {t.escalation_policy_id for t in teams})
    return [
        {
            "id": team.id,
            "name": team.name,
            "disabled": team.disabled,
            "calendar": refs.ref(calendars, team.calendar_id),
            "escalation_policy": refs.ref(policies, team.escalation_policy_id),
            "created_at": iso(team.created_at),
            "updated_at": iso(team.updated_at),
        }
        for team in teams
    ]


def serialize_team(session: Session, team: Team) -> dict[str, Any]:
    return serialize_teams(session, [team])[0]


def serialize_account(session: Session, account: Account) -> dict[str, Any]:
    calendars = refs.calendars(session, {account.calendar_id})
    policies = refs.policies(session, {account.escalation_policy_id})
    return {
        "id": account.id,
        "slug": account.slug,
        "name": account.name,
        "calendar": refs.ref(calendars, account.calendar_id),
        "escalation_policy": refs.ref(policies, account.escalation_policy_id),
    }
