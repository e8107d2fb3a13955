"""Assignments: a person's own part of a task, with its own state (issue 16).

One concept behind three vendors' shapes: 4me's approvals of an approval task (002:
``required_approvals``, approval status registered / assigned / approved / rejected /
canceled), Box's task assignments (003: ``resolution_state`` incomplete / approved /
rejected / completed, ``completion_rule`` all_assignees / any_assignee) and Trackops'
``users_list`` (001). An approval task's assignments are its approvals; any other
task's are its assignees, each incomplete or completed.

This module holds the rules as tables, like the task statuses' (``core.statuses``):
what a person may decide (``DECISIONS``), what the task's own status change does to
its assignments (``follow_task``), and what a set of decisions makes of the task
(``outcome``). ``commands.assignments`` applies them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from tasks_service.core.errors import InvalidTaskStatusError
from tasks_service.core.statuses import ACTIVE, FINISHED, TaskCategory, TaskStatus


class AssignmentStatus(StrEnum):
    """An assignment's state (4me's approval statuses, plus ``completed`` for work)."""

    registered = "registered"  # its task is not with anyone yet
    assigned = "assigned"  # waiting for this person's decision
    approved = "approved"
    rejected = "rejected"
    completed = "completed"
    canceled = "canceled"  # no longer needed: the task was decided without it


class AssignmentKind(StrEnum):
    """What deciding means: approving or rejecting (an approval task: 4me's category
    ``approval``, Box's action ``review``), or completing (any other: Box's ``complete``)."""

    approval = "approval"
    work = "work"

    @classmethod
    def of(cls, category: TaskCategory | str) -> AssignmentKind:
        return cls.approval if category == TaskCategory.approval else cls.work


class CompletionRule(StrEnum):
    """Box's: every assignee must decide, or one is enough. On an approval task without
    one, 4me's ``required_approvals`` says how many approvals it takes."""

    all_assignees = "all_assignees"
    any_assignee = "any_assignee"


#: Not decided yet.
PENDING: Final = frozenset({AssignmentStatus.registered, AssignmentStatus.assigned})
#: Decided by its person: it cannot change again (Box: "no further changes"), until
#: its task is reopened or sent back by a rework loop.
DECIDED: Final = frozenset(
    {AssignmentStatus.approved, AssignmentStatus.rejected, AssignmentStatus.completed}
)

#: What a person may decide, by kind, from ``assigned`` (a registered one waits for its
#: task to be assigned; a decided or canceled one is done with).
DECISIONS: Final[dict[AssignmentKind, frozenset[AssignmentStatus]]] = {
    AssignmentKind.approval: frozenset({AssignmentStatus.approved, AssignmentStatus.rejected}),
    AssignmentKind.work: frozenset({AssignmentStatus.completed}),
}
#: The task status a decision stands for (``PATCH /tasks/:id {"status": ...}`` by an
#: assignee records that decision).
DECISION_OF_STATUS: Final[dict[TaskStatus, AssignmentStatus]] = {
    TaskStatus.approved: AssignmentStatus.approved,
    TaskStatus.rejected: AssignmentStatus.rejected,
    TaskStatus.completed: AssignmentStatus.completed,
}


def ensure_decision(
    kind: AssignmentKind, status: AssignmentStatus, decision: AssignmentStatus
) -> None:
    """Raise ``InvalidTaskStatusError`` unless the table lets an assignment in
    ``status`` of a task of ``kind`` be decided as ``decision``."""
    if decision not in DECISIONS[kind]:
        allowed = " or ".join(sorted(DECISIONS[kind]))
        raise InvalidTaskStatusError(
            action=f"set an assignment to {decision.value} (it can be {allowed})",
            expected_status="an approval task"
            if decision in DECISIONS[AssignmentKind.approval]
            else "a task that is not an approval",
            actual_status=f"a {kind.value} assignment",
        )
    if status != AssignmentStatus.assigned:
        raise InvalidTaskStatusError(
            action=f"{_verb(decision)} an assignment",
            expected_status=AssignmentStatus.assigned.value,
            actual_status=status.value,
        )


def _verb(decision: AssignmentStatus) -> str:
    return {"approved": "approve", "rejected": "reject", "completed": "complete"}[decision]


def follow_task(
    kind: AssignmentKind, status: AssignmentStatus, before: TaskStatus, after: TaskStatus
) -> AssignmentStatus:
    """An assignment's state once its task moved from ``before`` to ``after``.

    - Reopened (from finished to open) or sent back to registered (a rework loop): every
      assignment is pending again, ``assigned`` or ``registered`` as the task is.
    - Assigned (from registered): registered ones become assigned.
    - Finished without them (approved by quorum, rejected, canceled, decided by hand):
      pending approvals are canceled; pending work assignments stay incomplete (Box
      shows them so).
    """
    waiting = (
        AssignmentStatus.registered
        if after == TaskStatus.registered
        else (AssignmentStatus.assigned)
    )
    reopened = before in FINISHED and after not in FINISHED
    sent_back = before != TaskStatus.registered and after == TaskStatus.registered
    if reopened or sent_back:
        return waiting
    if status == AssignmentStatus.registered and after in ACTIVE:
        return AssignmentStatus.assigned
    if after in FINISHED and status in PENDING and kind == AssignmentKind.approval:
        return AssignmentStatus.canceled
    return status


@dataclass(frozen=True)
class Tally:
    """An assignments' decisions, counted."""

    kind: AssignmentKind
    rule: CompletionRule | None
    required_approvals: int
    statuses: tuple[AssignmentStatus, ...]

    @classmethod
    def of(
        cls,
        category: TaskCategory | str,
        rule: CompletionRule | str | None,
        required_approvals: int,
        statuses: Iterable[AssignmentStatus | str],
    ) -> Tally:
        return cls(
            AssignmentKind.of(category),
            CompletionRule(rule) if rule else None,
            required_approvals,
            tuple(AssignmentStatus(s) for s in statuses),
        )

    @property
    def people(self) -> int:
        """Assignees that count: all but the canceled ones."""
        return sum(s != AssignmentStatus.canceled for s in self.statuses)

    @property
    def needed(self) -> int:
        """How many decisions finish the task: one (any_assignee), every assignee's
        (all_assignees, and a work task without a rule), or ``required_approvals``
        (an approval task without a rule: 4me)."""
        if self.rule == CompletionRule.any_assignee:
            return 1
        if self.kind == AssignmentKind.approval and self.rule is None:
            return max(self.required_approvals, 1)
        return max(self.people, 1)

    @property
    def missing_approvers(self) -> int:
        """How many approvers must be added before the task can be approved at all."""
        if self.kind != AssignmentKind.approval or not self.statuses:
            return 0
        return max(self.needed - self.people, 0)


def outcome(tally: Tally) -> TaskStatus | None:
    """What the decisions make of the task: ``rejected`` at the first rejection,
    ``approved`` once enough approvals are in, ``completed`` once enough assignees
    completed; None while it is not decided (or it has no assignments)."""
    if not tally.statuses:
        return None
    if tally.kind == AssignmentKind.approval:
        if AssignmentStatus.rejected in tally.statuses:
            return TaskStatus.rejected
        approvals = tally.statuses.count(AssignmentStatus.approved)
        return TaskStatus.approved if approvals >= tally.needed else None
    completed = tally.statuses.count(AssignmentStatus.completed)
    return TaskStatus.completed if completed >= tally.needed else None


#: Box's ``resolution_state`` of an assignment (003).
def box_resolution_state(status: AssignmentStatus) -> str:
    if status in DECIDED:
        return status.value
    return "incomplete"


#: 4me's ``state`` of a work assignment (``/tasks/:id/assignments``).
def work_state(status: AssignmentStatus) -> str:
    return "completed" if status == AssignmentStatus.completed else "incomplete"
