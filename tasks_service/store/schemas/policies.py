"""The shape of escalation policies (their levels) and of the escalations that fired."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from tasks_service.core.statuses import TaskImpact
from tasks_service.core.validation import Id, InputModel, Integral, Name
from tasks_service.store.schemas.shape import PublicModel, Ref, readonly_fields

#: Who a level tells: the task's member, its team's members, its workflow's manager, a
#: person, or a team's members.
NotifyTarget = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, pattern=r"^(member|team|manager|(person|team):[1-9][0-9]{0,9})$"
    ),
]
#: A year of minutes either way.
OffsetMinutes = Annotated[StrictInt, Field(ge=-525_600, le=525_600), Integral]


class EscalationActions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    set_impact: TaskImpact | None = None
    reassign_team_id: Id | None = None
    set_urgent: StrictBool | None = None


class EscalationLevel(BaseModel):
    """One level: at ``offset_minutes`` from ``relative_to``, or at ``percent`` of the
    planned service time (a warning before the breach)."""

    # what ``_one_moment`` holds a level to: a percent alone
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "if": {"properties": {"percent": {"type": "integer"}}, "required": ["percent"]},
            "then": {
                "not": {"required": ["relative_to"]},
                "properties": {"offset_minutes": {"const": 0}},
            },
        },
    )

    offset_minutes: OffsetMinutes = 0
    relative_to: Literal["completion_target_at", "due_at"] = "completion_target_at"
    percent: Annotated[StrictInt, Field(ge=1, le=1000), Integral] | None = None
    notify: Annotated[list[NotifyTarget], Field(max_length=50)] = []
    actions: EscalationActions | None = None

    @model_validator(mode="after")
    def _one_moment(self) -> EscalationLevel:
        if self.percent is not None and (
            self.offset_minutes != 0 or "relative_to" in self.model_fields_set
        ):
            raise PydanticCustomError(
                "invalid_value",
                "percent counts from the start of the clock: give it alone, without "
                "offset_minutes or relative_to",
            )
        return self

    def as_stored(self) -> dict[str, Any]:
        """The level as it is stored and shown (``level_as_given``)."""
        return level_as_given(self.model_dump(mode="json", exclude_none=True))


def level_as_given(level: Mapping[str, Any]) -> dict[str, Any]:
    """A stored level as it is shown, in a form its input accepts back: a percent level
    without ``offset_minutes`` and ``relative_to`` (it counts from the clock's start, and
    its input refuses them); an offset level with both. (Levels stored before this have
    a percent level's defaults too.)"""
    if level.get("percent") is not None:
        return {k: v for k, v in level.items() if k not in ("offset_minutes", "relative_to")}
    return {"offset_minutes": 0, "relative_to": "completion_target_at", **level}


Levels = Annotated[list[EscalationLevel], Field(min_length=1, max_length=20)]


class EscalationPolicyCreate(InputModel):
    name: Name
    levels: Levels
    # offsets count service minutes of the task's calendar (else wall-clock minutes)
    offsets_in_service_time: StrictBool = False
    # emails from levels wait for the calendar's service hours (webhooks never wait)
    hold_email_to_service_hours: StrictBool = True


class EscalationPolicyUpdate(InputModel):
    name: Name = None  # type: ignore[assignment]
    levels: Levels = None  # type: ignore[assignment]
    offsets_in_service_time: StrictBool = None  # type: ignore[assignment]
    hold_email_to_service_hours: StrictBool = None  # type: ignore[assignment]


class EscalationPolicyPublic(PublicModel):
    id: int
    name: str
    levels: list[dict[str, Any]]  # as given (``level_as_given``)
    offsets_in_service_time: bool
    hold_email_to_service_hours: bool
    created_at: datetime
    updated_at: datetime


class TaskEscalationPublic(PublicModel):
    """One level that fired for a task (``GET /tasks/:id/escalations``)."""

    id: int
    level: int
    escalation_policy: Ref | None
    fire_at: datetime
    fired_at: datetime
    late: bool
    notified: list[Ref]
    actions: dict[str, Any]


ESCALATION_POLICY_READONLY = readonly_fields(
    EscalationPolicyPublic, EscalationPolicyCreate, EscalationPolicyUpdate
)
