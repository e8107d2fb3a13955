"""Box's official Python SDK (``box-sdk-gen``) against a live HTTP server of the app,
with only its base URL changed, on both backends and a real worker: a review task on a
file approved by its two assignees, each with their own token; a complete task; the
SDK's errors from Box's error shape; deletes."""

from __future__ import annotations

import pytest
from box_sdk_gen import (
    BaseUrls,
    BoxAPIError,
    BoxClient,
    BoxDeveloperTokenAuth,
    CreateTaskAction,
    CreateTaskAssignmentAssignTo,
    CreateTaskAssignmentTask,
    CreateTaskCompletionRule,
    CreateTaskItem,
    CreateTaskItemTypeField,
    TaskAssignmentResolutionStateField,
    UpdateTaskAssignmentByIdResolutionState,
)

from tasks_service.core.settings import Settings
from tasks_service.identity.accounts import do_create_token
from tasks_service.store.db import session_scope
from tests.helpers import AccountInfo, Api

FILE = "11446498"


def _client(base_url: str, token: str) -> BoxClient:
    """Box's client as Box documents it, but for the base URL."""
    client = BoxClient(auth=BoxDeveloperTokenAuth(token=token))
    return client.with_custom_base_urls(BaseUrls(base_url=base_url))


def _token(settings: Settings, account: AccountInfo, person_id: int) -> str:
    with session_scope(settings) as session:
        return do_create_token(session, account.account_id, person_id)


def test_box_sdk_reviews_completes_and_deletes(
    base_url: str, api: Api, settings: Settings, account: AccountInfo
) -> None:
    ann = api.create_person("Ann", f"ann@{account.slug}.example")
    bob = api.create_person("Bob", f"bob@{account.slug}.example")
    admin = _client(base_url, account.token)
    as_ann = _client(base_url, _token(settings, account, ann["id"]))
    as_bob = _client(base_url, _token(settings, account, bob["id"]))
    on_file = CreateTaskItem(type=CreateTaskItemTypeField.FILE, id=FILE)

    task = admin.tasks.create_task(
        on_file,
        action=CreateTaskAction.REVIEW,
        message="Please review for publication!",
        completion_rule=CreateTaskCompletionRule.ALL_ASSIGNEES,
    )
    assert (task.item.id, task.is_completed) == (FILE, False)
    assert task.message == "Please review for publication!"
    assert task.created_by.login == f"ada@{account.slug}.example"
    first = admin.task_assignments.create_task_assignment(
        CreateTaskAssignmentTask(id=task.id), CreateTaskAssignmentAssignTo(id=str(ann["id"]))
    )
    second = admin.task_assignments.create_task_assignment(
        CreateTaskAssignmentTask(id=task.id),
        CreateTaskAssignmentAssignTo(login=bob["primary_email"]),
    )
    assert first.assigned_to.id == str(ann["id"])
    assert second.assigned_to.login == bob["primary_email"]
    assert first.resolution_state == TaskAssignmentResolutionStateField.INCOMPLETE
    tasks = admin.tasks.get_file_tasks(FILE)
    assert [t.id for t in tasks.entries] == [task.id]
    assert tasks.total_count == 1
    assert admin.task_assignments.get_task_assignments(task.id).total_count == 2

    decided = as_ann.task_assignments.update_task_assignment_by_id(
        first.id, resolution_state=UpdateTaskAssignmentByIdResolutionState.APPROVED, message="OK"
    )
    assert decided.resolution_state == TaskAssignmentResolutionStateField.APPROVED
    assert admin.tasks.get_task_by_id(task.id).is_completed is False
    as_bob.task_assignments.update_task_assignment_by_id(
        second.id, resolution_state=UpdateTaskAssignmentByIdResolutionState.APPROVED
    )
    assert admin.tasks.get_task_by_id(task.id).is_completed is True
    v1 = api.get(f"/v1/tasks/{task.id}").get_json()
    assert (v1["category"], v1["status"]) == ("approval", "approved")

    # Box's errors, as the SDK reads them: a change after the decision, a state the
    # action does not allow, a task that is not there
    with pytest.raises(BoxAPIError) as refused:
        as_ann.task_assignments.update_task_assignment_by_id(first.id, message="Changed my mind")
    assert (refused.value.response_info.status_code, refused.value.response_info.code) == (
        400,
        "bad_request",
    )
    work = admin.tasks.create_task(on_file, action=CreateTaskAction.COMPLETE)
    mine = admin.task_assignments.create_task_assignment(
        CreateTaskAssignmentTask(id=work.id), CreateTaskAssignmentAssignTo(id=str(ann["id"]))
    )
    with pytest.raises(BoxAPIError) as wrong_state:
        as_ann.task_assignments.update_task_assignment_by_id(
            mine.id, resolution_state=UpdateTaskAssignmentByIdResolutionState.APPROVED
        )
    assert wrong_state.value.response_info.status_code == 400
    assert wrong_state.value.response_info.context_info["errors"][0]["name"] == "resolution_state"
    as_ann.task_assignments.update_task_assignment_by_id(
        mine.id, resolution_state=UpdateTaskAssignmentByIdResolutionState.COMPLETED
    )
    assert admin.tasks.get_task_by_id(work.id).is_completed is True

    # deletes: an assignment, then a task (gone for Box, canceled under /v1)
    open_task = admin.tasks.create_task(on_file)  # Box's defaults: review, all assignees
    row = admin.task_assignments.create_task_assignment(
        CreateTaskAssignmentTask(id=open_task.id), CreateTaskAssignmentAssignTo(id=str(bob["id"]))
    )
    admin.task_assignments.delete_task_assignment_by_id(row.id)
    assert admin.task_assignments.get_task_assignments(open_task.id).total_count == 0
    admin.tasks.delete_task_by_id(open_task.id)
    with pytest.raises(BoxAPIError) as gone:
        admin.tasks.get_task_by_id(open_task.id)
    assert (gone.value.response_info.status_code, gone.value.response_info.code) == (
        404,
        "not_found",
    )
    assert api.get(f"/v1/tasks/{open_task.id}").get_json()["status"] == "canceled"
    assert [t.id for t in admin.tasks.get_file_tasks(FILE).entries] == [task.id, work.id]
