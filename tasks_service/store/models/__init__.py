"""The tables (SQLModel), by concern; importing this package registers them all."""

from tasks_service.store.models.directory import Account, ApiToken, Person, Team, TeamMembership
from tasks_service.store.models.messages import Delivery, Notification, Webhook
from tasks_service.store.models.operations import Operation, OperationBatch
from tasks_service.store.models.schedule import Calendar, EscalationPolicy, TaskEscalation, Timer
from tasks_service.store.models.templates import TaskTemplate, WorkflowTemplate
from tasks_service.store.models.work import (
    Note,
    Task,
    TaskAssignment,
    TaskDependency,
    TaskEvent,
    TaskLabel,
    Workflow,
    WorkflowPhase,
)

__all__ = [
    "Account",
    "ApiToken",
    "Calendar",
    "Delivery",
    "EscalationPolicy",
    "Note",
    "Notification",
    "Operation",
    "OperationBatch",
    "Person",
    "Task",
    "TaskAssignment",
    "TaskDependency",
    "TaskEscalation",
    "TaskEvent",
    "TaskLabel",
    "TaskTemplate",
    "Team",
    "TeamMembership",
    "Timer",
    "Webhook",
    "Workflow",
    "WorkflowPhase",
    "WorkflowTemplate",
]
