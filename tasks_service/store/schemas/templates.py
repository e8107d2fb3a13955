"""The shapes of task templates and workflow templates (4me's names).

A task template holds the fields it fills on a new task (``template_id`` on a task's
create; the body's own fields win). A workflow template holds a plan: its phases, and
one task template relation per task the plan instantiates, with the phase it goes in,
the task template whose task is assigned when it fails (``failure_task_template_id``)
and the task templates whose tasks it waits for (``predecessor_task_template_ids``).

Why ``predecessor_task_template_ids``: 4me names a relation's references after what
they point at (``task_template``, ``failure_task_template``), and a task's links
``predecessor_ids``. A relation has no id of its own in a body (they are written whole,
with the workflow template), and a task template appears at most once in a plan, so a
relation is named by its task template: its predecessors are task template ids, in the
field name that says so. Only predecessors are written (each link once); the successors
are the same links read the other way.

``WorkflowPlan`` is what ``WorkflowTemplate.plan`` stores. ``plan_errors`` and
``plan_cycle`` are the plan's own rules (no database): the commands check the task
templates it names against the account (``commands.templates``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints

from tasks_service.core.graph import find_cycle
from tasks_service.core.statuses import TaskCategory, TaskImpact, WorkflowCategory
from tasks_service.core.validation import (
    Id,
    InputModel,
    Integral,
    LongText,
    Minutes,
    OneLine,
    Subject,
)
from tasks_service.store.schemas.shape import (
    PublicModel,
    Ref,
    field_names,
    pick,
    readonly_fields,
)

#: The most task template relations (tasks) a workflow template holds.
MAX_RELATIONS = 1_000
#: The most phases a workflow template holds.
MAX_PHASES = 100
#: The most approvals an approval task can ask for.
MAX_REQUIRED_APPROVALS = 1_000

#: A phase's name, as a workflow's phases take it (``WorkflowPhase.name``).
PhaseName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80), OneLine
]
#: As a workflow's phases take it (``store.schemas.phases``): from 1.
Position = Annotated[StrictInt, Field(ge=1, le=1_000_000), Integral]
RequiredApprovals = Annotated[StrictInt, Field(ge=1, le=MAX_REQUIRED_APPROVALS), Integral]


# --- task templates --------------------------------------------------------------------


class TaskTemplateUpdate(InputModel):
    """Every field optional; only the fields sent are changed, ``null`` clears."""

    subject: Subject = None  # type: ignore[assignment]  # absent is fine, null is not
    category: TaskCategory = None  # type: ignore[assignment]
    impact: TaskImpact | None = None
    planned_duration: Minutes | None = None
    instructions: LongText | None = None
    team_id: Id | None = None
    member_id: Id | None = None
    required_approvals: RequiredApprovals = None  # type: ignore[assignment]
    work_hours_are_24x7: StrictBool = None  # type: ignore[assignment]
    disabled: StrictBool = None  # type: ignore[assignment]


class TaskTemplateCreate(TaskTemplateUpdate):
    subject: Subject
    category: TaskCategory
    required_approvals: RequiredApprovals = 1
    work_hours_are_24x7: StrictBool = False
    disabled: StrictBool = False


class TaskTemplatePublic(PublicModel):
    id: int
    subject: str
    category: TaskCategory
    impact: TaskImpact | None
    planned_duration: int | None
    instructions: str | None
    team: Ref | None
    member: Ref | None
    required_approvals: int
    work_hours_are_24x7: bool
    disabled: bool
    created_at: datetime
    updated_at: datetime


#: The fields of a task template that a new task takes (``TaskCreate``'s names).
TASK_FIELDS_FROM_TEMPLATE = (
    "subject",
    "category",
    "impact",
    "planned_duration",
    "instructions",
    "team_id",
    "member_id",
    "required_approvals",
    "work_hours_are_24x7",
)


# --- workflow templates ----------------------------------------------------------------


class TemplatePhase(InputModel):
    """A phase of the plan; ``position`` orders them (absent: its place in the list)."""

    name: PhaseName
    position: Position | None = None


class TaskTemplateRelation(InputModel):
    """One task of the plan: made from ``task_template_id``, in the phase named
    ``phase_name`` (one of the template's; null: none), assigned once the tasks of
    ``predecessor_task_template_ids`` are finished; ``failure_task_template_id``'s task
    is assigned when it fails or is rejected."""

    task_template_id: Id
    phase_name: PhaseName | None = None
    failure_task_template_id: Id | None = None
    predecessor_task_template_ids: Annotated[list[Id], Field(max_length=MAX_RELATIONS)] = []


Phases = Annotated[list[TemplatePhase], Field(max_length=MAX_PHASES)]
Relations = Annotated[list[TaskTemplateRelation], Field(max_length=MAX_RELATIONS)]


class WorkflowPlan(BaseModel):
    """A workflow template's plan, as ``WorkflowTemplate.plan`` stores it (JSON): the
    phases with their positions filled in, the relations as written."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    phases: Phases = []
    task_template_relations: Relations = []

    def ordered_phases(self) -> list[TemplatePhase]:
        """The phases by position (ties: in the order written)."""
        return sorted(self.phases, key=lambda phase: phase.position or 0)


class WorkflowTemplateUpdate(InputModel):
    """Every field optional; ``phases`` and ``task_template_relations`` replace the
    template's when sent (a plan is written whole)."""

    subject: Subject = None  # type: ignore[assignment]
    category: WorkflowCategory = None  # type: ignore[assignment]
    instructions: LongText | None = None
    disabled: StrictBool = None  # type: ignore[assignment]
    phases: Phases = None  # type: ignore[assignment]
    task_template_relations: Relations = None  # type: ignore[assignment]


class WorkflowTemplateCreate(WorkflowTemplateUpdate):
    subject: Subject
    category: WorkflowCategory = WorkflowCategory.standard
    disabled: StrictBool = False
    phases: Phases = []
    task_template_relations: Relations = []


class TemplatePhasePublic(PublicModel):
    name: str
    position: int


class TaskTemplateRelationPublic(PublicModel):
    task_template_id: int
    phase_name: str | None
    failure_task_template_id: int | None
    predecessor_task_template_ids: list[int]


class WorkflowTemplatePublic(PublicModel):
    id: int
    subject: str
    category: WorkflowCategory
    instructions: str | None
    disabled: bool
    phases: list[TemplatePhasePublic]
    task_template_relations: list[TaskTemplateRelationPublic]
    created_at: datetime
    updated_at: datetime


def _error(field: str, code: str, message: str) -> dict[str, str]:
    return {"field": field, "code": code, "message": message}


def numbered_phases(phases: Sequence[TemplatePhase]) -> list[TemplatePhase]:
    """The phases with every position filled in: an absent one is its place (1, 2...)."""
    return [
        phase if phase.position is not None else TemplatePhase(name=phase.name, position=i)
        for i, phase in enumerate(phases, start=1)
    ]


def plan_errors(plan: WorkflowPlan) -> list[dict[str, str]]:
    """What breaks the plan's own rules, one error per place: a phase name given twice
    (in any letters), a task template in two relations, a ``phase_name`` that is none
    of the phases, a failure task template or predecessor that is not one of the
    relations' task templates, a relation that is its own failure task."""
    errors: list[dict[str, str]] = []
    seen_phases: set[str] = set()
    for i, phase in enumerate(plan.phases):
        folded = phase.name.casefold()
        if folded in seen_phases:
            errors.append(_error(f"phases.{i}.name", "taken", f"another phase is {phase.name!r}"))
        seen_phases.add(folded)
    names = {phase.name for phase in plan.phases}
    members: set[int] = set()
    for i, relation in enumerate(plan.task_template_relations):
        if relation.task_template_id in members:
            errors.append(
                _error(
                    f"task_template_relations.{i}.task_template_id",
                    "taken",
                    f"task template {relation.task_template_id} is in the workflow template "
                    "already (a task template appears once)",
                )
            )
        members.add(relation.task_template_id)
    for i, relation in enumerate(plan.task_template_relations):
        place = f"task_template_relations.{i}"
        if relation.phase_name is not None and relation.phase_name not in names:
            known = ", ".join(repr(phase.name) for phase in plan.phases) or "none"
            errors.append(
                _error(
                    f"{place}.phase_name",
                    "not_found",
                    f"no phase {relation.phase_name!r} in this workflow template (phases: {known})",
                )
            )
        failure = relation.failure_task_template_id
        if failure is not None and failure == relation.task_template_id:
            errors.append(
                _error(
                    f"{place}.failure_task_template_id",
                    "own_failure_task",
                    "a task cannot be its own failure task",
                )
            )
        elif failure is not None and failure not in members:
            errors.append(
                _error(
                    f"{place}.failure_task_template_id",
                    "not_in_template",
                    f"task template {failure} is not one of this workflow template's relations",
                )
            )
        outside = [p for p in relation.predecessor_task_template_ids if p not in members]
        if outside:
            errors.append(
                _error(
                    f"{place}.predecessor_task_template_ids",
                    "not_in_template",
                    f"task template {outside[0]} is not one of this workflow template's relations",
                )
            )
    return errors


def plan_links(plan: WorkflowPlan) -> list[tuple[int, int]]:
    """The plan's links as ``(predecessor, successor)`` task template ids, each once."""
    links = (
        (before, relation.task_template_id)
        for relation in plan.task_template_relations
        for before in relation.predecessor_task_template_ids
    )
    return list(dict.fromkeys(links))


def plan_cycle(plan: WorkflowPlan) -> list[int] | None:
    """A cycle of the predecessor relations as task template ids in order (the first
    repeated at the end: ``[3, 5, 3]``; a relation that is its own predecessor:
    ``[3, 3]``), or None."""
    nodes = [relation.task_template_id for relation in plan.task_template_relations]
    return find_cycle(nodes, plan_links(plan))


TASK_TEMPLATE_FIELDS = field_names(TaskTemplatePublic)
TASK_TEMPLATE_READONLY = readonly_fields(TaskTemplatePublic, TaskTemplateCreate, TaskTemplateUpdate)
WORKFLOW_TEMPLATE_FIELDS = field_names(WorkflowTemplatePublic)
#: What a list of workflow templates shows unless ``?fields=`` asks (not their plans).
WORKFLOW_TEMPLATE_COLLECTION_FIELDS = pick(
    WorkflowTemplatePublic, ("id", "subject", "category", "disabled", "created_at", "updated_at")
)
WORKFLOW_TEMPLATE_READONLY = readonly_fields(
    WorkflowTemplatePublic, WorkflowTemplateCreate, WorkflowTemplateUpdate
)
