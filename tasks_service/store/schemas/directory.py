"""The shapes of accounts, people, teams and memberships (002's names)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StrictBool, field_validator

from tasks_service.core.events import PEOPLE_EVENTS
from tasks_service.core.validation import Email, Id, InputModel, Name
from tasks_service.store.schemas.shape import PublicModel, Ref, field_names, readonly_fields


class PersonCreate(InputModel):
    name: Name
    primary_email: Email
    admin: StrictBool = False


class PersonUpdate(InputModel):
    name: Name = None  # type: ignore[assignment]
    primary_email: Email = None  # type: ignore[assignment]
    admin: StrictBool = None  # type: ignore[assignment]
    disabled: StrictBool = None  # type: ignore[assignment]


_OPT_OUTS = [
    f"{channel}{event}" for channel in ("", "email:", "in_app:") for event in PEOPLE_EVENTS
]
OptOuts = Annotated[
    list[str], Field(max_length=40, json_schema_extra={"items": {"enum": _OPT_OUTS}})
]


class NotificationPreferences(InputModel):
    """What a person may change about themselves (``PATCH /people/me``): the
    notifications they do not want, as events (``task.alert``) or channel:event
    (``email:task.assigned``)."""

    # absent: as they are (a PATCH is partial); null is not a list
    notification_opt_outs: OptOuts = None  # type: ignore[assignment]

    @field_validator("notification_opt_outs")
    @classmethod
    def _known(cls, values: list[str]) -> list[str]:
        for value in values:
            channel, _, event = value.rpartition(":")
            if channel not in ("", "email", "in_app") or event not in PEOPLE_EVENTS:
                raise ValueError(
                    f"{value!r}: give an event ({', '.join(PEOPLE_EVENTS)}), optionally "
                    "after email: or in_app:"
                )
        return sorted(set(values))


class PersonPublic(PublicModel):
    id: int
    name: str
    primary_email: str
    admin: bool
    disabled: bool
    notification_opt_outs: list[str]
    created_at: datetime
    updated_at: datetime


class TeamCreate(InputModel):
    name: Name
    calendar_id: Id | None = None
    escalation_policy_id: Id | None = None


class TeamUpdate(InputModel):
    name: Name = None  # type: ignore[assignment]
    disabled: StrictBool = None  # type: ignore[assignment]
    calendar_id: Id | None = None
    escalation_policy_id: Id | None = None


class TeamPublic(PublicModel):
    id: int
    name: str
    disabled: bool
    calendar: Ref | None
    escalation_policy: Ref | None
    created_at: datetime
    updated_at: datetime


class MembershipCreate(InputModel):
    person_id: Id


class AccountUpdate(InputModel):
    name: Name = None  # type: ignore[assignment]
    calendar_id: Id | None = None  # the default calendar; null: 24x7
    escalation_policy_id: Id | None = None  # the default policy; null: no escalation


class AccountPublic(PublicModel):
    id: int
    slug: str
    name: str
    calendar: Ref | None
    escalation_policy: Ref | None


PERSON_FIELDS = field_names(PersonPublic)
PERSON_READONLY = readonly_fields(PersonPublic, PersonCreate, PersonUpdate)
#: What ``PATCH /people/me`` refuses as readonly: all but the person's own preferences.
ME_READONLY = readonly_fields(PersonPublic, NotificationPreferences)
TEAM_FIELDS = field_names(TeamPublic)
TEAM_READONLY = readonly_fields(TeamPublic, TeamCreate, TeamUpdate)
ACCOUNT_READONLY = readonly_fields(AccountPublic, AccountUpdate)
