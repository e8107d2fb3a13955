"""Enumerations: those of 002 (Xurrent tasks and workflows) with the one task
transition table, and the states of the service's own records (operations, timers,
deliveries), all stored by value as plain strings.

Only the command layer writes ``task.status``, and only after ``ensure_transition``.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Final

from tasks_service.core.errors import InvalidTaskStatusError, field_error


class TaskStatus(StrEnum):
    registered = "registered"
    declined = "declined"
    assigned = "assigned"
    accepted = "accepted"
    in_progress = "in_progress"
    waiting_for = "waiting_for"
    waiting_for_customer = "waiting_for_customer"
    request_pending = "request_pending"
    failed = "failed"
    rejected = "rejected"
    completed = "completed"
    approved = "approved"
    canceled = "canceled"


class TaskCategory(StrEnum):
    risk_and_impact = "risk_and_impact"
    approval = "approval"
    implementation = "implementation"
    automation = "automation"


class TaskImpact(StrEnum):
    none = "none"
    low = "low"
    medium = "medium"
    high = "high"
    top = "top"


class WorkflowStatus(StrEnum):
    being_created = "being_created"
    registered = "registered"
    in_progress = "in_progress"
    progress_halted = "progress_halted"
    completed = "completed"


class WorkflowCompletionReason(StrEnum):
    """Why a workflow was completed (4me): ``complete`` when its tasks all succeeded or
    were canceled; the others are given when it is completed by hand."""

    withdrawn = "withdrawn"
    rejected = "rejected"
    rolled_back = "rolled_back"
    failed = "failed"
    partial = "partial"
    disruptive = "disruptive"
    complete = "complete"


class PhaseStatus(StrEnum):
    registered = "registered"
    in_progress = "in_progress"
    completed = "completed"


class WorkflowCategory(StrEnum):
    standard = "standard"
    non_standard = "non_standard"
    rapid = "rapid"
    emergency = "emergency"
    order = "order"


class OperationStatus(StrEnum):
    """A durable command: stored ``pending``, then applied once (``commands.operations``)."""

    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"


class TimerKind(StrEnum):
    """What a timer does when it fires (``schedule.timers``)."""

    alert = "alert"  # alert_at
    start = "start"  # start_at: assign the task
    wake = "wake"  # waiting_until: back to assigned
    due = "due"  # due_at passed: overdue
    target = "target"  # completion_target_at passed: overdue
    escalation = "escalation"  # one level of the task's escalation policy


class TimerState(StrEnum):
    pending = "pending"
    claimed = "claimed"  # by a worker that is firing it
    fired = "fired"
    canceled = "canceled"


class DeliveryChannel(StrEnum):
    webhook = "webhook"  # to a subscriber URL, signed
    email = "email"  # to a person, over SMTP


class DeliveryState(StrEnum):
    pending = "pending"  # waiting for its (next) attempt
    delivering = "delivering"  # claimed by a sender
    delivered = "delivered"
    dead = "dead"  # refused, or out of attempts (it can be retried by hand)


#: Statuses in which a task is done with; ``finished_at`` is set on entering them.
FINISHED: Final = frozenset(
    {
        TaskStatus.failed,
        TaskStatus.rejected,
        TaskStatus.completed,
        TaskStatus.approved,
        TaskStatus.canceled,
    }
)
#: Trackops' statuses (001) as the 002 statuses they stand for, for list filters.
TRACKOPS_STATUSES: Final = {
    "none": ("registered",),
    "needs_action": (
        "assigned",
        "accepted",
        "waiting_for",
        "waiting_for_customer",
        "request_pending",
    ),
    "complete": ("completed", "approved"),
}
#: Statuses in which someone is working the task (its completion clock runs).
ACTIVE: Final = frozenset(
    {
        TaskStatus.assigned,
        TaskStatus.accepted,
        TaskStatus.in_progress,
        TaskStatus.waiting_for,
        TaskStatus.waiting_for_customer,
        TaskStatus.request_pending,
    }
)
OPEN: Final = frozenset(TaskStatus) - FINISHED
#: Outcomes that exist only for approval tasks, and those that exist only for the others.
APPROVAL_ONLY: Final = frozenset({TaskStatus.approved, TaskStatus.rejected})
WORK_ONLY: Final = frozenset({TaskStatus.completed, TaskStatus.failed})

_finish_or_cancel = FINISHED
_working = ACTIVE | {TaskStatus.declined}

TRANSITIONS: Final[dict[TaskStatus, frozenset[TaskStatus]]] = {
    # Not yet with anyone: it may be assigned, picked up, or decided on directly.
    TaskStatus.registered: frozenset(ACTIVE | _finish_or_cancel),
    # The member declined: it goes back to the team (registered/assigned) or ends.
    TaskStatus.declined: frozenset(
        {TaskStatus.registered, TaskStatus.assigned, TaskStatus.accepted, TaskStatus.in_progress}
        | {TaskStatus.canceled}
    ),
    **{
        status: frozenset((_working | _finish_or_cancel | {TaskStatus.registered}) - {status})
        for status in ACTIVE
    },
    # A finished task can only be reopened: back with its assignee, or registered.
    **{status: frozenset({TaskStatus.assigned, TaskStatus.registered}) for status in FINISHED},
    # ... or, failed or rejected, be set to completed or approved after all (4me: the
    # workflow it halted resumes, and its successors go on).
    TaskStatus.failed: frozenset(
        {TaskStatus.assigned, TaskStatus.registered, TaskStatus.completed}
    ),
    TaskStatus.rejected: frozenset(
        {TaskStatus.assigned, TaskStatus.registered, TaskStatus.approved}
    ),
}
#: Besides a status change that reopens it (a row of ``TRANSITIONS``, which may carry
#: other fields with it: reopened and reassigned at once), what a finished task takes:
#: notes. It is done with (4me): any other change is refused until it is reopened.
FINISHED_ACCEPTS: Final = frozenset({"note"})


def finished_rule(status: TaskStatus) -> str:
    """What a finished task accepts, in words (the 409's message)."""
    reopen = " or ".join(sorted(TRANSITIONS[status]))
    return (
        f"a {status.value} task accepts only a status change that reopens it "
        f"(to {reopen}) and notes"
    )


class FinishedTaskError(InvalidTaskStatusError):
    """A change a finished task does not accept (``FINISHED_ACCEPTS``): its message says
    the rule; ``expected_status`` lists the open statuses, in which it would be taken."""

    def __init__(self, action: str, status: TaskStatus) -> None:
        super().__init__(
            action=action,
            expected_status=" or ".join(sorted(OPEN)),
            actual_status=status.value,
        )
        self.message = f"cannot {action} a task that is {status.value}: {finished_rule(status)}"
        self.args = (self.message,)


def ensure_transition(action: str, src: TaskStatus, dst: TaskStatus) -> None:
    """Raise ``InvalidTaskStatusError`` unless the table allows ``src`` -> ``dst``."""
    if src == dst:
        return
    if dst not in TRANSITIONS[src]:
        allowed = sorted(s for s, targets in TRANSITIONS.items() if dst in targets)
        raise InvalidTaskStatusError(
            action=action, expected_status=" or ".join(allowed), actual_status=src.value
        )


def ensure_change_accepted(
    action: str, src: TaskStatus, dst: TaskStatus, fields: Iterable[str]
) -> None:
    """Raise ``FinishedTaskError`` for a change of ``fields`` that a finished task does
    not accept: one that does not reopen it and changes more than ``FINISHED_ACCEPTS``
    (sending its own status again changes nothing). Then the transition table."""
    if src in FINISHED and dst not in TRANSITIONS[src]:
        others = set(fields) - FINISHED_ACCEPTS - {"status"}
        if dst != src or others:
            raise FinishedTaskError(action, src)
    ensure_transition(action, src, dst)


def ensure_status_fits_category(status: TaskStatus, category: TaskCategory) -> None:
    """Approved and rejected exist for approval tasks only; completed and failed for the rest."""
    if category == TaskCategory.approval and status in WORK_ONLY:
        raise field_error(
            "status", "invalid_for_category", f"an approval task cannot be {status.value}"
        )
    if category != TaskCategory.approval and status in APPROVAL_ONLY:
        raise field_error(
            "status",
            "invalid_for_category",
            f"only approval tasks can be {status.value}; this one is {category.value}",
        )


#: A predecessor in one of these lets its successors go on (4me's "completed or
#: approved"; a canceled one too: it will not be done, and waiting for it would block
#: the plan for ever).
SATISFIED: Final = frozenset({TaskStatus.completed, TaskStatus.approved, TaskStatus.canceled})
SUCCEEDED: Final = frozenset({TaskStatus.completed, TaskStatus.approved})
UNSUCCESSFUL: Final = frozenset({TaskStatus.failed, TaskStatus.rejected})


def derive_workflow_status(tasks: Iterable[tuple[TaskStatus, bool]]) -> WorkflowStatus:
    """A workflow's status follows its tasks (4me), given as ``(status, has a failure
    task)``.

    No task, or all registered: registered. Every task completed, approved or canceled:
    completed. A failed or rejected task without a failure task halts progress (one
    with a failure task sent the plan down its failure path instead). Anything else is
    in progress.
    """
    pairs = list(tasks)
    if all(status == TaskStatus.registered for status, _ in pairs):
        return WorkflowStatus.registered
    if all(status in SATISFIED for status, _ in pairs):
        return WorkflowStatus.completed
    if any(status in UNSUCCESSFUL and not handled for status, handled in pairs):
        return WorkflowStatus.progress_halted
    return WorkflowStatus.in_progress
