"""What a finished task accepts, through the Python API (000): a reopen, or comments;
its labels and fields stay as they are until it is reopened (``FINISHED_ACCEPTS``)."""

from __future__ import annotations

import pytest

from tasks_service import people, tasks
from tasks_service.tasks import InvalidTaskStatusError


def test_a_completed_task_takes_a_comment_and_a_reopen_only(in_account) -> None:
    creator = people.get_service_user()
    task = tasks.create_task(title="Done", creator=creator, assignee=creator, labels=["kept"])
    task.complete()
    with pytest.raises(InvalidTaskStatusError) as info:
        tasks.add_task_labels(task, ["late"])
    assert info.value.action == "label"
    assert "accepts only a status change that reopens it" in info.value.message
    with pytest.raises(InvalidTaskStatusError):
        tasks.remove_task_label(task, "kept")
    with pytest.raises(InvalidTaskStatusError):
        tasks.update_task(task, title="Changed after the fact")
    task = tasks.add_task_comment(task, "for the record")
    assert tasks.get_task(task.id).labels == ["kept"]
    assert tasks.get_task(task.id).title == "Done"
    task.reopen()
    task.add_label("late")
    assert tasks.get_task(task.id).labels == ["kept", "late"]
