"""The transition table and the status rules, without any database."""

from __future__ import annotations

import pytest

from tasks_service.core.errors import InvalidTaskStatusError, TaskValidationError
from tasks_service.core.statuses import (
    ACTIVE,
    FINISHED,
    TRANSITIONS,
    TaskCategory,
    TaskStatus,
    WorkflowStatus,
    derive_workflow_status,
    ensure_status_fits_category,
    ensure_transition,
)


def test_every_status_has_a_row_and_never_lists_itself() -> None:
    assert set(TRANSITIONS) == set(TaskStatus)
    assert len(TaskStatus) == 13
    for src, targets in TRANSITIONS.items():
        assert src not in targets


@pytest.mark.parametrize("finished", sorted(FINISHED))
def test_finished_tasks_can_only_be_reopened(finished: TaskStatus) -> None:
    # issue 15: or, failed or rejected, be set to completed or approved after all
    after_all = {
        TaskStatus.failed: {TaskStatus.completed},
        TaskStatus.rejected: {TaskStatus.approved},
    }
    expected = {TaskStatus.assigned, TaskStatus.registered} | after_all.get(finished, set())
    assert TRANSITIONS[finished] == expected
    with pytest.raises(InvalidTaskStatusError) as info:
        ensure_transition("update", finished, TaskStatus.in_progress)
    assert info.value.actual_status == finished.value
    assert info.value.action == "update"
    assert "assigned" in info.value.expected_status


@pytest.mark.parametrize("active", sorted(ACTIVE))
def test_work_in_progress_can_finish(active: TaskStatus) -> None:
    for finished in FINISHED:
        ensure_transition("update", active, finished)


def test_registered_cannot_be_declined_and_declined_cannot_complete() -> None:
    with pytest.raises(InvalidTaskStatusError):
        ensure_transition("update", TaskStatus.registered, TaskStatus.declined)
    with pytest.raises(InvalidTaskStatusError):
        ensure_transition("update", TaskStatus.declined, TaskStatus.completed)
    ensure_transition("update", TaskStatus.assigned, TaskStatus.declined)


def test_same_status_is_no_transition() -> None:
    ensure_transition("update", TaskStatus.completed, TaskStatus.completed)


@pytest.mark.parametrize(
    ("category", "status", "ok"),
    [
        (TaskCategory.approval, TaskStatus.approved, True),
        (TaskCategory.approval, TaskStatus.rejected, True),
        (TaskCategory.approval, TaskStatus.completed, False),
        (TaskCategory.approval, TaskStatus.failed, False),
        (TaskCategory.implementation, TaskStatus.completed, True),
        (TaskCategory.implementation, TaskStatus.approved, False),
        (TaskCategory.risk_and_impact, TaskStatus.rejected, False),
        (TaskCategory.automation, TaskStatus.failed, True),
    ],
)
def test_outcomes_fit_the_category(category: TaskCategory, status: TaskStatus, ok: bool) -> None:
    if ok:
        ensure_status_fits_category(status, category)
    else:
        with pytest.raises(TaskValidationError) as info:
            ensure_status_fits_category(status, category)
        assert info.value.errors[0]["field"] == "status"


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], WorkflowStatus.registered),
        ([TaskStatus.registered, TaskStatus.registered], WorkflowStatus.registered),
        ([TaskStatus.assigned, TaskStatus.registered], WorkflowStatus.in_progress),
        ([TaskStatus.completed, TaskStatus.registered], WorkflowStatus.in_progress),
        ([TaskStatus.failed, TaskStatus.assigned], WorkflowStatus.progress_halted),
        ([TaskStatus.completed, TaskStatus.canceled], WorkflowStatus.completed),
        ([TaskStatus.approved, TaskStatus.canceled], WorkflowStatus.completed),
        # issue 15: only completed, approved or canceled tasks complete a workflow
        ([TaskStatus.rejected, TaskStatus.approved], WorkflowStatus.progress_halted),
        ([TaskStatus.failed, TaskStatus.canceled], WorkflowStatus.progress_halted),
    ],
)
def test_workflow_status_follows_tasks(
    statuses: list[TaskStatus], expected: WorkflowStatus
) -> None:
    assert derive_workflow_status((s, False) for s in statuses) == expected


def test_a_failure_with_a_failure_path_does_not_halt() -> None:
    handled = [(TaskStatus.failed, True), (TaskStatus.assigned, False)]
    assert derive_workflow_status(handled) == WorkflowStatus.in_progress
    unhandled = [(TaskStatus.failed, False), (TaskStatus.assigned, False)]
    assert derive_workflow_status(unhandled) == WorkflowStatus.progress_halted
