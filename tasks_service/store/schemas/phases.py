"""A workflow phase's shape (4me's ``/workflows/:id/phases``): what a client may send,
and what it is shown.

A phase has a name (unique in its workflow, without regard to case) and a position: a
sort key, not a slot. Phases are listed by position, then by id, so two phases may
share a position (the older first) and a phase added without one goes after the last.
Its status, ``started_at`` and ``completed_at`` follow its tasks and are readonly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StrictInt, StringConstraints

from tasks_service.core.statuses import PhaseStatus
from tasks_service.core.validation import InputModel, Integral, OneLine
from tasks_service.store.schemas.shape import PublicModel, field_names, readonly_fields
from tasks_service.store.schemas.tasks import WorkflowRef

#: The longest phase name (the column's length).
MAX_PHASE_NAME = 80
#: The highest position a client may give; positions start at 1.
MAX_POSITION = 1_000_000

PhaseName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_PHASE_NAME),
    OneLine,
]
Position = Annotated[StrictInt, Field(ge=1, le=MAX_POSITION), Integral]


class PhaseCreate(InputModel):
    name: PhaseName
    position: Position | None = None  # none: after the last phase of the workflow


class PhaseUpdate(InputModel):
    """Only the fields sent are changed; neither can be cleared."""

    name: PhaseName = None  # type: ignore[assignment]
    position: Position = None  # type: ignore[assignment]


class PhasePublic(PublicModel):
    id: int
    name: str
    position: int
    status: PhaseStatus
    workflow: WorkflowRef
    started_at: datetime | None  # when its first task left registered
    completed_at: datetime | None  # when its last task was finished
    created_at: datetime
    updated_at: datetime


PHASE_FIELDS = field_names(PhasePublic)
#: ``workflow_id`` too: a phase stays in the workflow it was made in.
PHASE_READONLY = readonly_fields(PhasePublic, PhaseCreate, PhaseUpdate, also=("workflow_id",))
