"""Tasks worked by several people through the Python API (``tasks_service.assignments``),
in-process, on both backends: the module's example, both kinds of task, and the
table's refusals as ``InvalidTaskStatusError``."""

from __future__ import annotations

import pytest

from tasks_service import assignments, people, tasks
from tasks_service.core.errors import Conflict
from tasks_service.tasks import InvalidTaskStatusError, TaskValidationError


def test_the_module_example_runs(in_account) -> None:
    me = people.get_service_user()
    ann = people.create_person("Ann", "ann@example.com")
    bob = people.create_person("Bob", "bob@example.com")
    cab = tasks.create_task("CAB approval", creator=me, category="approval", required_approvals=2)
    assignments.request_approval(cab, ann)
    assert cab.xurrent_status == "assigned"
    assignments.request_approval(cab, bob)
    assignments.approve_task(cab, ann, note="fine")
    assert cab.xurrent_status == "assigned"
    assignments.approve_task(cab, bob)
    assert cab.xurrent_status == "approved"
    assert cab.status == tasks.Task.Status.COMPLETED
    assert [(a.person_id, a.status, a.note) for a in cab.assignments] == [
        (ann.id, "approved", "fine"),
        (bob.id, "approved", None),
    ]
    # the table forbids deciding twice
    with pytest.raises(InvalidTaskStatusError):
        assignments.approve_task(cab, ann)


def test_a_rejection_and_several_assignees(in_account) -> None:
    me = people.get_service_user()
    ann = people.create_person("Ann", "ann@example.com")
    bob = people.create_person("Bob", "bob@example.com")
    cab = tasks.create_task("CAB", creator=me, category="approval")
    for person in (ann, bob):
        assignments.request_approval(cab, person)
    rejected = assignments.reject_task(cab.id, bob, "not now")
    assert rejected.xurrent_status == "rejected"
    assert rejected.rejection_count == 1
    assert [a.status for a in rejected.assignments] == ["canceled", "rejected"]
    # a work task: every assignee completes (all_assignees), or one (any_assignee)
    rack = tasks.create_task("Rack", creator=me, completion_rule="any_assignee")
    assignments.add_task_assignee(rack, ann)
    assignments.add_task_assignee(rack, bob)
    with pytest.raises(Conflict):
        assignments.add_task_assignee(rack, bob)
    with pytest.raises(InvalidTaskStatusError):
        assignments.resolve_task_assignment(rack, ann, "approved")
    done = assignments.resolve_task_assignment(rack, ann)
    assert done.xurrent_status == "completed"
    assert [a.status for a in done.assignments] == ["completed", "assigned"]
    carol = people.create_person("Carol", "carol@example.com")
    with pytest.raises(TaskValidationError) as missing:
        assignments.resolve_task_assignment(rack, carol)
    assert missing.value.code == "not_assigned"
    # reopened, every assignment is to decide again
    tasks.reopen_task(done)
    assert [a.status for a in tasks.get_task(rack.id).assignments] == ["assigned", "assigned"]
