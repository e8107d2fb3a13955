"""Tables of the work itself: workflows, their phases, tasks and the links between
them, their labels, notes and events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from tasks_service.core.assignments import AssignmentStatus, CompletionRule
from tasks_service.core.statuses import (
    PhaseStatus,
    TaskCategory,
    TaskImpact,
    TaskStatus,
    WorkflowCategory,
    WorkflowCompletionReason,
    WorkflowStatus,
)
from tasks_service.store.models.columns import (
    calendar_ref,
    created,
    policy_ref,
    timestamp,
    where_present,
)


class Workflow(SQLModel, table=True):
    __table_args__ = (
        Index("ix_workflow_account_status", "account_id", "status"),
        Index("ix_workflow_manager_id", "manager_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    subject: str = Field(max_length=255)
    category: WorkflowCategory = Field(sa_type=String(32))
    status: WorkflowStatus = Field(default=WorkflowStatus.registered, sa_type=String(32))
    manager_id: int | None = Field(default=None, foreign_key="person.id")
    created_by_id: int | None = Field(default=None, foreign_key="person.id")
    calendar_id: int | None = calendar_ref("workflow")
    escalation_policy_id: int | None = policy_ref("workflow")
    template_id: int | None = Field(default=None, foreign_key="workflow_template.id")
    # No task is assigned before this moment (a timer of each first task's).
    start_at: datetime | None = timestamp()
    # Derived from its tasks (``commands.workflow_plan``), kept for lists and filters.
    impact: TaskImpact | None = Field(default=None, sa_type=String(16))
    completion_target_at: datetime | None = timestamp()
    completion_reason: WorkflowCompletionReason | None = Field(default=None, sa_type=String(16))
    created_at: datetime = created()
    updated_at: datetime = created()
    completed_at: datetime | None = timestamp()


class WorkflowPhase(SQLModel, table=True):
    """A stage of a workflow (4me's phases): its tasks are shown and started in order."""

    __tablename__ = "workflow_phase"
    __table_args__ = (
        UniqueConstraint("workflow_id", "name", name="uq_workflow_phase_name"),
        Index("ix_workflow_phase_workflow", "workflow_id", "position"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    workflow_id: int = Field(foreign_key="workflow.id")
    name: str = Field(max_length=80)
    position: int = 0
    status: PhaseStatus = Field(default=PhaseStatus.registered, sa_type=String(16))
    started_at: datetime | None = timestamp()
    completed_at: datetime | None = timestamp()
    created_at: datetime = created()
    updated_at: datetime = created()


#: The indexes behind the task lists (issue 4): each filterable field with the account
#: first (every list is one account's); references with ``id`` for "newest first";
#: fields that are mostly empty and not sortable only where they are set.
TASK_INDEXES = (
    Index("ix_task_account_id_id", "account_id", "id"),
    Index("ix_task_account_status", "account_id", "status", "id"),
    Index("ix_task_account_impact", "account_id", "impact"),
    Index("ix_task_account_category", "account_id", "category"),
    Index("ix_task_account_subject", "account_id", "subject", "id"),
    Index("ix_task_account_source", "account_id", "source"),
    Index("ix_task_account_source_id", "account_id", "source_id", "id"),
    Index("ix_task_account_planned_duration", "account_id", "planned_duration"),
    Index("ix_task_account_completion_target_at", "account_id", "completion_target_at", "id"),
    Index("ix_task_account_finished_at", "account_id", "finished_at", "id"),
    Index("ix_task_account_created_at", "account_id", "created_at", "id"),
    Index("ix_task_account_updated_at", "account_id", "updated_at", "id"),
    Index("ix_task_team_id", "team_id", "id"),
    Index("ix_task_member_id", "member_id", "id"),
    Index("ix_task_workflow_id", "workflow_id", "id"),
    Index("ix_task_calendar_id", "calendar_id", "id"),
    *(
        Index(f"ix_task_account_{name}", "account_id", name, **where_present(name))
        for name in ("due_at", "alert_at", "alert_sent_at", "start_at", "waiting_until")
    ),
    # other systems' references (Box's files, Trackops' cases and subjects)
    *(
        Index(f"ix_task_account_{name}", "account_id", name, "id", **where_present(name))
        for name in ("item_id", "casefile_id", "subject_id")
    ),
)


class Task(SQLModel, table=True):
    __table_args__ = TASK_INDEXES

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    workflow_id: int | None = Field(default=None, foreign_key="workflow.id")
    subject: str = Field(max_length=255)
    # Enumerations are stored by value as plain strings (no native enum types to migrate).
    category: TaskCategory = Field(sa_type=String(32))
    impact: TaskImpact | None = Field(default=None, sa_type=String(16))
    status: TaskStatus = Field(default=TaskStatus.registered, sa_type=String(32))
    team_id: int | None = Field(default=None, foreign_key="team.id")
    member_id: int | None = Field(default=None, foreign_key="person.id")
    created_by_id: int | None = Field(default=None, foreign_key="person.id")
    instructions: str | None = Field(default=None, sa_type=Text)
    planned_duration: int | None = None
    planned_effort: int | None = None
    urgent: bool = False
    work_hours_are_24x7: bool = False
    source: str | None = Field(default=None, max_length=30)
    source_id: str | None = Field(default=None, max_length=128)
    custom_fields: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    start_at: datetime | None = timestamp()
    waiting_until: datetime | None = timestamp()
    assigned_at: datetime | None = timestamp()
    finished_at: datetime | None = timestamp()
    completion_target_at: datetime | None = timestamp()
    due_at: datetime | None = timestamp()
    alert_at: datetime | None = timestamp()
    alert_sent_at: datetime | None = timestamp()
    # The calendar the target was computed with (team's, workflow's or account's; none
    # when 24x7), kept so that a calendar change finds the tasks it moves.
    calendar_id: int | None = calendar_ref("task")
    # The completion clock stops in waiting_for_customer: since when, and the service
    # time it stood still before, in seconds (which push the target out).
    clock_stopped_at: datetime | None = timestamp()
    clock_stopped_seconds: int = 0
    # Service minutes from assigned_at to finished_at, fixed when the task finishes.
    resolution_duration: int | None = None
    # Past due_at or completion_target_at while unfinished (set by those timers).
    overdue: bool = False
    # Its place in a workflow's plan (``commands.workflow_plan``): the task assigned when
    # this one fails or is rejected, its phase, the template it was made from.
    failure_task_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("task.id", name="fk_task_failure_task_id")),
    )
    phase_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("workflow_phase.id", name="fk_task_phase_id")),
    )
    template_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("task_template.id", name="fk_task_template_id")),
    )
    # The forward pass over the workflow's graph (``schedule.anticipation``): when the
    # task is expected to be assigned, and to be done (which its successors wait for).
    anticipated_assignment_at: datetime | None = timestamp()
    anticipated_completion_at: datetime | None = timestamp()
    # Its assignments (``TaskAssignment``): how many approvals an approval task takes
    # (4me), or Box's rule (every assignee, or one).
    required_approvals: int = 1
    rejection_count: int = 0
    completion_rule: CompletionRule | None = Field(default=None, sa_type=String(16))
    # How many people have an assignment (kept by ``commands.assignments``): a task
    # with some is with someone, as one with a team or member is.
    assignee_count: int = 0
    # The calendar chosen for the task itself (Trackops' ``calendar_id``): it comes
    # before its team's, workflow's and account's (``calendar_id`` is the one in use).
    chosen_calendar_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("calendar.id", name="fk_task_chosen_calendar_id"), nullable=True
        ),
    )
    # What other systems know the task by: Box's item (a file of theirs), Trackops'
    # case, subject and case service, and Trackops' address (kept as given).
    item_id: str | None = Field(default=None, max_length=64)
    casefile_id: int | None = None
    subject_id: int | None = None
    case_service_id: int | None = None
    address: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = created()
    updated_at: datetime = created()


class TaskAssignment(SQLModel, table=True):
    """A person's own part of a task (``core.assignments``): an approval of an approval
    task, or one of several assignees of another; its state, note and moments."""

    __tablename__ = "task_assignment"
    # The unique key finds a task's assignments (one per person); this a person's.
    __table_args__ = (
        UniqueConstraint("task_id", "person_id", name="uq_task_assignment_person"),
        Index("ix_task_assignment_person", "person_id", "task_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    task_id: int = Field(foreign_key="task.id")
    person_id: int = Field(foreign_key="person.id")
    assigned_by_id: int | None = Field(default=None, foreign_key="person.id")
    status: AssignmentStatus = Field(default=AssignmentStatus.registered, sa_type=String(16))
    note: str | None = Field(default=None, sa_type=Text)
    planned_effort: int | None = None
    assigned_at: datetime | None = timestamp()
    decided_at: datetime | None = timestamp()
    reminded_at: datetime | None = timestamp()
    created_at: datetime = created()
    updated_at: datetime = created()


class TaskDependency(SQLModel, table=True):
    """A link in a workflow's plan: ``successor`` waits for ``predecessor`` to finish.
    Both are tasks of the one workflow, and the links never close a cycle."""

    __tablename__ = "task_dependency"
    # The primary key finds a task's successors; this finds its predecessors.
    __table_args__ = (
        Index("ix_task_dependency_successor", "successor_id", "predecessor_id"),
        Index("ix_task_dependency_workflow", "workflow_id"),
    )

    predecessor_id: int = Field(foreign_key="task.id", primary_key=True)
    successor_id: int = Field(foreign_key="task.id", primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    workflow_id: int = Field(foreign_key="workflow.id")
    created_at: datetime = created()


class TaskLabel(SQLModel, table=True):
    __tablename__ = "task_label"
    # The primary key finds a task's labels; this finds a label's tasks (?labels=).
    __table_args__ = (Index("ix_task_label_name", "name", "task_id"),)

    task_id: int = Field(foreign_key="task.id", primary_key=True)
    name: str = Field(max_length=100, primary_key=True)
    created_at: datetime = created()


class Note(SQLModel, table=True):
    __table_args__ = (Index("ix_note_task_id", "task_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    task_id: int = Field(foreign_key="task.id")
    person_id: int | None = Field(default=None, foreign_key="person.id")
    text: str = Field(sa_type=Text)
    created_at: datetime = created()


class TaskEvent(SQLModel, table=True):
    """One change to a task: who, when, what (``changes`` maps field -> [old, new])."""

    __tablename__ = "task_event"
    __table_args__ = (Index("ix_task_event_task_id", "task_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    task_id: int = Field(foreign_key="task.id")
    person_id: int | None = Field(default=None, foreign_key="person.id")
    action: str = Field(max_length=32)
    changes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    operation_id: int | None = Field(default=None, index=True)
    created_at: datetime = created()
