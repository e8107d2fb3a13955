"""Workflows that run themselves (issue 15), through REST on both backends, applied by
real workers: links, tasks held by their predecessors, the cascade when the last one
finishes, failure paths, and the workflow's status, impact and completion."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

from tasks_service.commands import templates
from tasks_service.core.settings import Settings
from tasks_service.store.db import session_scope
from tasks_service.store.schemas.templates import TaskTemplateCreate
from tests.helpers import AccountInfo, Api, assert_error


def _workflow(api: Api, **fields: Any) -> dict[str, Any]:
    response = api.post("/v1/workflows", json={"subject": "Migrate", **fields})
    assert response.status_code == 201, response.get_json()
    result: dict[str, Any] = response.get_json()
    return result


def _task(api: Api, workflow: dict[str, Any], subject: str, **fields: Any) -> dict[str, Any]:
    body = {"subject": subject, "category": "implementation", **fields}
    response = api.post(f"/v1/workflows/{workflow['id']}/tasks", json=body)
    assert response.status_code == 201, response.get_json()
    result: dict[str, Any] = response.get_json()
    return result


def _get(api: Api, path: str) -> Any:
    response = api.get(path)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _patch(api: Api, task: dict[str, Any], **fields: Any) -> dict[str, Any]:
    response = api.patch(f"/v1/tasks/{task['id']}", json=fields)
    assert response.status_code == 200, response.get_json()
    result: dict[str, Any] = response.get_json()
    return result


def _ids(api: Api, path: str) -> list[int]:
    return sorted(t["id"] for t in _get(api, path))


def _status(api: Api, task: dict[str, Any]) -> str:
    return str(_get(api, f"/v1/tasks/{task['id']}")["status"])


def test_links_on_create_agree_in_both_directions(api: Api, account: AccountInfo) -> None:
    workflow = _workflow(api)
    first = _task(api, workflow, "Back up")
    second = _task(api, workflow, "Check the backup")
    middle = _task(
        api, workflow, "Copy", predecessor_ids=[first["id"]], successor_ids=[second["id"]]
    )
    assert _ids(api, f"/v1/tasks/{middle['id']}/predecessors") == [first["id"]]
    assert _ids(api, f"/v1/tasks/{middle['id']}/successors") == [second["id"]]
    assert _ids(api, f"/v1/tasks/{first['id']}/successors") == [middle["id"]]
    assert _ids(api, f"/v1/tasks/{second['id']}/predecessors") == [middle["id"]]
    events = _get(api, f"/v1/tasks/{middle['id']}/events")
    created = next(e for e in events if e["action"] == "created")
    assert created["changes"]["predecessor_ids"] == [[], [first["id"]]]
    assert created["changes"]["successor_ids"] == [[], [second["id"]]]
    linked = [e for e in _get(api, f"/v1/tasks/{second['id']}/events") if e["action"] == "linked"]
    assert linked[0]["changes"] == {"predecessor_ids": [[], [middle["id"]]]}


def test_sub_resources_add_and_remove_links(api: Api) -> None:
    workflow = _workflow(api)
    a, b, c = (_task(api, workflow, name) for name in "ABC")
    added = api.post(f"/v1/tasks/{b['id']}/predecessors", json={"predecessor_id": a["id"]})
    assert added.status_code == 200, added.get_json()
    assert added.get_json()["id"] == a["id"]
    # 4me's form: the other task in the path
    in_path = api.post(f"/v1/tasks/{b['id']}/successors/{c['id']}")
    assert in_path.status_code == 200, in_path.get_json()
    assert _ids(api, f"/v1/tasks/{c['id']}/predecessors") == [b["id"]]
    again = api.post(f"/v1/tasks/{b['id']}/predecessors", json={"predecessor_id": a["id"]})
    assert again.status_code == 200  # linked already: nothing changes
    assert _ids(api, f"/v1/tasks/{b['id']}/predecessors") == [a["id"]]
    removed = api.delete(f"/v1/tasks/{c['id']}/predecessors/{b['id']}")
    assert removed.status_code == 204
    assert removed.data == b""
    assert _ids(api, f"/v1/tasks/{b['id']}/successors") == []
    assert_error(api.delete(f"/v1/tasks/{c['id']}/predecessors/{b['id']}"), 404, "not_found")
    assert_error(api.delete(f"/v1/tasks/{c['id']}/predecessors/999999"), 404, "not_found")


def test_a_link_that_closes_a_cycle_is_refused_and_names_it(api: Api) -> None:
    workflow = _workflow(api)
    a = _task(api, workflow, "A")
    b = _task(api, workflow, "B", predecessor_ids=[a["id"]])
    c = _task(api, workflow, "C", predecessor_ids=[b["id"]])
    refused = api.post(f"/v1/tasks/{a['id']}/predecessors", json={"predecessor_id": c["id"]})
    body = assert_error(refused, 422, "validation_failed", "predecessor_id")
    message = body["errors"][0]["message"]
    assert body["errors"][0]["code"] == "dependency_cycle"
    assert f"#{c['id']} -> #{a['id']} -> #{b['id']} -> #{c['id']}" in message
    assert _ids(api, f"/v1/tasks/{a['id']}/predecessors") == []
    # the same through PATCH, and a task following itself
    patched = api.patch(f"/v1/tasks/{a['id']}", json={"predecessor_ids": [c["id"]]})
    assert assert_error(patched, 422, "validation_failed", "predecessor_ids")
    itself = api.post(f"/v1/tasks/{a['id']}/successors", json={"successor_id": a["id"]})
    assert_error(itself, 422, "validation_failed", "successor_id")
    assert _ids(api, f"/v1/tasks/{a['id']}/successors") == [b["id"]]


def test_links_stay_inside_one_workflow(api: Api) -> None:
    one, other = _workflow(api), _workflow(api)
    a = _task(api, one, "A")
    b = _task(api, other, "B")
    standalone = api.create_task(subject="Alone")
    for candidate in (b, standalone):
        refused = api.post(
            f"/v1/tasks/{a['id']}/successors", json={"successor_id": candidate["id"]}
        )
        body = assert_error(refused, 422, "validation_failed", "successor_id")
        assert body["errors"][0]["code"] == "not_in_workflow"
    missing = api.post(f"/v1/tasks/{a['id']}/successors", json={"successor_id": 999999})
    assert_error(missing, 422, "validation_failed", "successor_id")
    created = api.post(
        f"/v1/workflows/{one['id']}/tasks",
        json={"subject": "X", "category": "implementation", "predecessor_ids": [b["id"]]},
    )
    assert_error(created, 422, "validation_failed", "predecessor_ids")
    assert len(_get(api, f"/v1/workflows/{one['id']}/tasks")) == 1  # nothing stored


def test_a_task_waits_for_its_predecessors_then_is_assigned(api: Api, account: AccountInfo) -> None:
    me = account.admin_id
    workflow = _workflow(api)
    first = _task(api, workflow, "Order", member_id=me)
    canceled = _task(api, workflow, "Maybe", member_id=me)
    then = _task(
        api,
        workflow,
        "Install",
        member_id=me,
        planned_duration=60,
        predecessor_ids=[first["id"], canceled["id"]],
    )
    assert then["status"] == "registered"
    assert then["assigned_at"] is None
    assert then["completion_target_at"] is None
    # held: it cannot be started by hand either
    refused = api.patch(f"/v1/tasks/{then['id']}", json={"status": "in_progress"})
    body = assert_error(refused, 422, "validation_failed", "status")
    assert body["errors"][0]["code"] == "predecessors_unfinished"
    assert f"#{first['id']}" in body["errors"][0]["message"]
    _patch(api, canceled, status="canceled")  # a canceled predecessor lets it go on
    assert _status(api, then) == "registered"
    _patch(api, first, status="completed")
    after = _get(api, f"/v1/tasks/{then['id']}")
    assert after["status"] == "assigned"
    assert after["assigned_at"] is not None
    assert after["completion_target_at"] is not None
    events = _get(api, f"/v1/tasks/{then['id']}/events")
    assert [e["action"] for e in events].count("assign") == 1
    # a task added to the running workflow after finished predecessors starts at once
    late = _task(api, workflow, "Verify", member_id=me, predecessor_ids=[first["id"]])
    assert late["status"] == "assigned"


def test_a_task_without_assignee_stays_registered_until_it_gets_one(
    api: Api, account: AccountInfo
) -> None:
    workflow = _workflow(api)
    first = _task(api, workflow, "Order", member_id=account.admin_id)
    then = _task(api, workflow, "Install", predecessor_ids=[first["id"]])
    assert _patch(api, then, member_id=account.admin_id)["status"] == "registered"
    _patch(api, first, status="completed")
    assert _status(api, then) == "assigned"


def test_removing_the_last_unfinished_predecessor_assigns(api: Api, account: AccountInfo) -> None:
    workflow = _workflow(api)
    first = _task(api, workflow, "Order", member_id=account.admin_id)
    then = _task(api, workflow, "Install", member_id=account.admin_id)
    added = api.post(f"/v1/tasks/{then['id']}/predecessors/{first['id']}")
    assert added.status_code == 422  # it has started: it cannot wait any more
    assert _ids(api, f"/v1/tasks/{then['id']}/predecessors") == []
    later = _task(api, workflow, "Test", member_id=account.admin_id, predecessor_ids=[first["id"]])
    assert later["status"] == "registered"
    assert api.delete(f"/v1/tasks/{later['id']}/predecessors/{first['id']}").status_code == 204
    assert _status(api, later) == "assigned"


def test_no_failure_task_halts_the_workflow_until_completed_after_all(
    api: Api, account: AccountInfo
) -> None:
    me = account.admin_id
    workflow = _workflow(api)
    wpath = f"/v1/workflows/{workflow['id']}"
    first = _task(api, workflow, "Build", member_id=me)
    then = _task(api, workflow, "Ship", member_id=me, predecessor_ids=[first["id"]])
    _patch(api, first, status="failed")
    assert _get(api, wpath)["status"] == "progress_halted"
    assert _status(api, then) == "registered"
    _patch(api, first, status="completed")  # after all
    assert _get(api, wpath)["status"] == "in_progress"
    assert _status(api, then) == "assigned"
    _patch(api, then, status="completed")
    done = _get(api, wpath)
    assert done["status"] == "completed"
    assert done["completion_reason"] == "complete"
    assert done["completed_at"] is not None


def test_a_forward_failure_task_is_assigned_and_canceled_on_success(
    api: Api, account: AccountInfo
) -> None:
    me = account.admin_id
    workflow = _workflow(api)
    wpath = f"/v1/workflows/{workflow['id']}"
    build = _task(api, workflow, "Build", member_id=me)
    ship = _task(api, workflow, "Ship", member_id=me, predecessor_ids=[build["id"]])
    rollback = _task(api, workflow, "Roll back", member_id=me, predecessor_ids=[build["id"]])
    shown = _patch(api, build, failure_task_id=rollback["id"])
    assert shown["failure_task"] == {"id": rollback["id"], "subject": "Roll back"}
    _patch(api, build, status="failed")
    assert _status(api, rollback) == "assigned"
    assert _status(api, ship) == "registered"
    assert _get(api, wpath)["status"] == "in_progress"  # not halted: down its failure path
    # another plan where the task succeeds: its failure task is canceled
    other = _workflow(api)
    good = _task(api, other, "Build", member_id=me)
    spare = _task(api, other, "Roll back", member_id=me, predecessor_ids=[good["id"]])
    _patch(api, good, failure_task_id=spare["id"])
    _patch(api, good, status="completed")
    assert _status(api, spare) == "canceled"
    notes = _get(api, f"/v1/tasks/{spare['id']}/notes")
    assert notes[0]["text"] == f"Canceled because task #{good['id']} succeeded"
    assert _get(api, f"/v1/workflows/{other['id']}")["status"] == "completed"


def test_a_failure_task_upstream_is_a_rework_loop(api: Api, account: AccountInfo) -> None:
    me = account.admin_id
    workflow = _workflow(api)
    wpath = f"/v1/workflows/{workflow['id']}"
    design = _task(api, workflow, "Design", member_id=me)
    build = _task(api, workflow, "Build", member_id=me, predecessor_ids=[design["id"]])
    review = _task(
        api, workflow, "Review", category="approval", member_id=me, predecessor_ids=[build["id"]]
    )
    _patch(api, review, failure_task_id=design["id"])
    _patch(api, design, status="completed")
    _patch(api, build, status="completed")
    assert _status(api, review) == "assigned"
    rejected = _patch(api, review, status="rejected")
    assert rejected["rejection_count"] == 1
    after = {t["id"]: t for t in _get(api, f"/v1/workflows/{workflow['id']}/tasks")}
    assert after[design["id"]]["status"] == "assigned"  # to be done again
    assert after[build["id"]]["status"] == "registered"
    assert _status(api, review) == "registered"
    note = f"Status set to registered because task #{review['id']} has failed"
    for task in (build, review):
        assert [n["text"] for n in _get(api, f"/v1/tasks/{task['id']}/notes")] == [note]
    assert _get(api, wpath)["status"] == "in_progress"  # not halted
    # round two: the loop runs again and the review is kept count of
    _patch(api, design, status="completed")
    assert _status(api, build) == "assigned"
    _patch(api, build, status="completed")
    approved = _patch(api, review, status="approved")
    assert approved["rejection_count"] == 1
    assert _get(api, wpath)["status"] == "completed"


def test_completed_by_hand_cancels_open_tasks_with_the_note(api: Api, account: AccountInfo) -> None:
    workflow = _workflow(api)
    wpath = f"/v1/workflows/{workflow['id']}"
    done = _task(api, workflow, "Done", member_id=account.admin_id, impact="low")
    open_one = _task(api, workflow, "Open", member_id=account.admin_id, impact="high")
    _patch(api, done, status="completed")
    assert _get(api, wpath)["impact"] == "high"
    refused = api.patch(wpath, json={"completion_reason": "withdrawn"})
    assert_error(refused, 422, "validation_failed", "completion_reason")
    body = {"status": "completed", "completion_reason": "withdrawn", "note": "No longer needed"}
    response = api.patch(wpath, json=body)
    assert response.status_code == 200, response.get_json()
    completed = response.get_json()
    assert completed["status"] == "completed"
    assert completed["completion_reason"] == "withdrawn"
    assert completed["completed_at"] is not None
    assert _status(api, open_one) == "canceled"
    assert _status(api, done) == "completed"
    notes = _get(api, f"/v1/tasks/{open_one['id']}/notes")
    assert [n["text"] for n in notes] == ["No longer needed"]
    assert_error(api.patch(wpath, json={"status": "in_progress"}), 422, "validation_failed")


def test_a_workflow_start_at_holds_its_first_tasks(api: Api, account: AccountInfo) -> None:
    workflow = _workflow(api, start_at="2999-01-01T09:00:00Z")
    wpath = f"/v1/workflows/{workflow['id']}"
    assert workflow["start_at"] == "2999-01-01T09:00:00Z"
    first = _task(api, workflow, "Order", member_id=account.admin_id)
    assert first["status"] == "registered"
    refused = api.patch(f"/v1/tasks/{first['id']}", json={"status": "assigned"})
    body = assert_error(refused, 422, "validation_failed", "status")
    assert body["errors"][0]["code"] == "workflow_not_started"
    # its start timer waits for the workflow's start
    events = _get(api, f"/v1/tasks/{first['id']}/escalations")  # readable, no escalations
    assert events == []
    moved = api.patch(wpath, json={"start_at": None})
    assert moved.status_code == 200, moved.get_json()
    assert _status(api, first) == "assigned"


def test_two_predecessors_finished_at_once_assign_the_successor_once(
    api: Api, account: AccountInfo
) -> None:
    me = account.admin_id
    for _round in range(3):
        workflow = _workflow(api)
        left = _task(api, workflow, "Left", member_id=me)
        right = _task(api, workflow, "Right", member_id=me)
        join = _task(api, workflow, "Join", member_id=me, predecessor_ids=[left["id"], right["id"]])
        answers: list[int] = []
        barrier = threading.Barrier(2)

        def complete(
            task: dict[str, Any],
            barrier: threading.Barrier = barrier,
            answers: list[int] = answers,
        ) -> None:
            caller = Api(api.client.application.test_client(), None, None)
            caller.headers = dict(api.headers)
            barrier.wait()  # both requests at once: two operations, two worker processes
            path = f"/v1/tasks/{task['id']}"
            answers.append(caller.patch(path, json={"status": "completed"}).status_code)

        threads = [threading.Thread(target=complete, args=(t,)) for t in (left, right)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert answers == [200, 200]
        assert _status(api, join) == "assigned"
        events = _get(api, f"/v1/tasks/{join['id']}/events")
        assert [e["action"] for e in events].count("assign") == 1
        assigned = [e for e in events if "status" in e["changes"]]
        assert [e["changes"]["status"] for e in assigned] == [["registered", "assigned"]]
        feed = _get(api, "/v1/people/me/notifications?per_page=100")
        told = [n for n in feed if n["task"] == {"id": join["id"]}]
        assert [n["event"] for n in told] == ["task.assigned"]  # one notification


def test_a_phase_follows_its_tasks(api: Api, account: AccountInfo) -> None:
    workflow = _workflow(api)
    wpath = f"/v1/workflows/{workflow['id']}"
    build = api.post(f"{wpath}/phases", json={"name": "Build"}).get_json()
    ship = api.post(f"{wpath}/phases", json={"name": "Ship"}).get_json()
    first = _task(api, workflow, "Compile", phase_id=build["id"])
    second = _task(api, workflow, "Test", phase_id=build["id"], predecessor_ids=[first["id"]])
    assert first["phase"] == {"id": build["id"], "name": "Build"}
    assert _get(api, f"{wpath}/phases/{build['id']}")["status"] == "registered"
    _patch(api, first, member_id=account.admin_id)  # leaves registered: the phase starts
    started = _get(api, f"{wpath}/phases/{build['id']}")
    assert started["status"] == "in_progress"
    assert started["started_at"] is not None
    _patch(api, first, status="completed")
    assert _get(api, f"{wpath}/phases/{build['id']}")["status"] == "in_progress"
    _patch(api, second, member_id=account.admin_id, status="completed")
    done = _get(api, f"{wpath}/phases/{build['id']}")
    assert done["status"] == "completed"
    assert done["completed_at"] is not None
    assert _get(api, f"{wpath}/phases/{ship['id']}")["status"] == "registered"
    # a phase of another workflow is refused
    other = _workflow(api)
    refused = api.post(
        f"/v1/workflows/{other['id']}/tasks",
        json={"subject": "X", "category": "implementation", "phase_id": ship["id"]},
    )
    body = assert_error(refused, 422, "validation_failed", "phase_id")
    assert body["errors"][0]["code"] == "not_in_workflow"


def test_a_task_from_a_task_template(api: Api, account: AccountInfo) -> None:
    template = api.post(
        "/v1/task_templates",
        json={
            "subject": "Patch the kernel",
            "category": "implementation",
            "planned_duration": 45,
            "instructions": "Reboot one node at a time",
            "member_id": account.admin_id,
        },
    ).get_json()
    response = api.post("/v1/tasks", json={"template_id": template["id"]})
    assert response.status_code == 201, response.get_json()
    task = response.get_json()
    assert task["subject"] == "Patch the kernel"
    assert task["planned_duration"] == 45
    assert task["instructions"] == "Reboot one node at a time"
    assert task["member"]["id"] == account.admin_id
    assert task["status"] == "assigned"
    assert task["template"] == {"id": template["id"], "subject": "Patch the kernel"}
    own = api.post("/v1/tasks", json={"template_id": template["id"], "subject": "Mine"})
    assert own.get_json()["subject"] == "Mine"
    assert own.get_json()["planned_duration"] == 45
    missing = api.post("/v1/tasks", json={"template_id": 999999})
    assert_error(missing, 422, "validation_failed", "template_id")
    bare = api.post("/v1/tasks", json={"category": "implementation"})
    assert_error(bare, 422, "validation_failed", "subject")


def test_a_workflow_from_a_template_runs_its_plan(api: Api, account: AccountInfo) -> None:
    me = account.admin_id

    def task_template(subject: str) -> int:
        body = {"subject": subject, "category": "implementation", "member_id": me}
        response = api.post("/v1/task_templates", json=body)
        assert response.status_code == 201, response.get_json()
        return int(response.get_json()["id"])

    build, test, ship, undo = (task_template(s) for s in ("Build", "Test", "Ship", "Undo"))
    relations = [
        {"task_template_id": build, "phase_name": "Make"},
        {
            "task_template_id": test,
            "phase_name": "Make",
            "predecessor_task_template_ids": [build],
            "failure_task_template_id": undo,
        },
        {"task_template_id": ship, "phase_name": "Out", "predecessor_task_template_ids": [test]},
        {"task_template_id": undo, "predecessor_task_template_ids": [test]},
    ]
    template = api.post(
        "/v1/workflow_templates",
        json={
            "subject": "Release",
            "category": "standard",
            "phases": [{"name": "Make"}, {"name": "Out"}],
            "task_template_relations": relations,
        },
    )
    assert template.status_code == 201, template.get_json()
    response = api.post("/v1/workflows", json={"template_id": template.get_json()["id"]})
    assert response.status_code == 201, response.get_json()
    workflow = response.get_json()
    assert workflow["subject"] == "Release"
    assert workflow["status"] == "in_progress"
    assert workflow["template"] == {"id": template.get_json()["id"], "subject": "Release"}
    wpath = f"/v1/workflows/{workflow['id']}"
    tasks = {
        t["subject"]: t
        for t in _get(api, f"{wpath}/tasks?fields=subject,status,phase,failure_task,template")
    }
    assert {s: t["status"] for s, t in tasks.items()} == {
        "Build": "assigned",
        "Test": "registered",
        "Ship": "registered",
        "Undo": "registered",
    }
    assert tasks["Test"]["failure_task"]["id"] == tasks["Undo"]["id"]
    assert tasks["Ship"]["phase"]["name"] == "Out"
    phases = _get(api, f"{wpath}/phases")
    assert [(p["name"], p["status"]) for p in phases] == [
        ("Make", "in_progress"),  # Build was assigned as it was made
        ("Out", "registered"),
    ]
    assert _ids(api, f"/v1/tasks/{tasks['Test']['id']}/predecessors") == [tasks["Build"]["id"]]
    _patch(api, tasks["Build"], status="completed")
    _patch(api, tasks["Test"], status="failed")
    assert _status(api, tasks["Undo"]) == "assigned"
    assert _status(api, tasks["Ship"]) == "registered"
    gone = api.post("/v1/workflows", json={"template_id": 999999})
    assert_error(gone, 422, "validation_failed", "template_id")


def test_anticipated_assignment_follows_the_plan(api: Api, account: AccountInfo) -> None:
    me = account.admin_id
    workflow = _workflow(api)
    wpath = f"/v1/workflows/{workflow['id']}"
    common = {"member_id": me, "work_hours_are_24x7": True}
    first = _task(api, workflow, "Order", planned_duration=60, **common)
    then = _task(
        api, workflow, "Install", planned_duration=30, predecessor_ids=[first["id"]], **common
    )
    first = _get(api, f"/v1/tasks/{first['id']}")
    then = _get(api, f"/v1/tasks/{then['id']}")
    assert first["anticipated_assignment_at"] == first["assigned_at"]
    assert then["anticipated_assignment_at"] == first["completion_target_at"]
    target = datetime.fromisoformat(then["anticipated_assignment_at"]) + timedelta(minutes=30)
    assert datetime.fromisoformat(_get(api, wpath)["completion_target_at"]) == target
    # a longer first task moves what waits for it
    _patch(api, first, planned_duration=120)
    moved = _get(api, f"/v1/tasks/{then['id']}")
    assert (
        moved["anticipated_assignment_at"]
        == _get(api, f"/v1/tasks/{first['id']}")["completion_target_at"]
    )
    assert moved["anticipated_assignment_at"] != then["anticipated_assignment_at"]
    # done: the successor is assigned, and anticipated as it was
    _patch(api, first, status="completed")
    done = _get(api, f"/v1/tasks/{then['id']}")
    assert done["anticipated_assignment_at"] == done["assigned_at"]


def test_a_template_of_200_tasks_is_one_operation(
    api: Api, account: AccountInfo, settings: Settings
) -> None:
    with session_scope(settings) as session:  # the task templates made in-process, at once
        ids = [
            templates.do_create_task_template(
                session,
                account.account_id,
                TaskTemplateCreate(
                    subject=f"Step {i}", category="implementation", member_id=account.admin_id
                ),
            ).id
            for i in range(200)
        ]
    relations = [
        {"task_template_id": t, "predecessor_task_template_ids": [ids[i - 1]] if i else []}
        for i, t in enumerate(ids)
    ]
    plan = api.post(
        "/v1/workflow_templates", json={"subject": "Long", "task_template_relations": relations}
    )
    assert plan.status_code == 201, plan.get_json()
    made = api.post("/v1/workflows", json={"template_id": plan.get_json()["id"]})
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["status"] == "in_progress"  # never seen being created
    wpath = f"/v1/workflows/{made.get_json()['id']}/tasks"
    tasks = _get(api, f"{wpath}?per_page=100&fields=status") + _get(
        api, f"{wpath}?per_page=100&page=2&fields=status"
    )
    assert len(tasks) == 200
    assert sorted(t["status"] for t in tasks) == ["assigned"] + ["registered"] * 199
    operations = _get(api, "/v1/operations?per_page=100")
    creates = [op for op in operations if op["kind"] == "workflow.create"]
    assert len(creates) == 1  # the whole plan in the one command


def test_a_failure_task_is_another_task_of_the_same_workflow(api: Api) -> None:
    workflow, other = _workflow(api), _workflow(api)
    task = _task(api, workflow, "Build")
    elsewhere = _task(api, other, "Undo elsewhere")
    standalone = api.create_task(subject="Alone")
    for value, code in (
        (task["id"], "invalid_value"),
        (elsewhere["id"], "not_in_workflow"),
        (999999, "not_found"),
    ):
        refused = api.patch(f"/v1/tasks/{task['id']}", json={"failure_task_id": value})
        body = assert_error(refused, 422, "validation_failed", "failure_task_id")
        assert body["errors"][0]["code"] == code
    alone = api.patch(f"/v1/tasks/{standalone['id']}", json={"failure_task_id": task["id"]})
    assert_error(alone, 422, "validation_failed", "failure_task_id")
    assert _get(api, f"/v1/tasks/{task['id']}")["failure_task"] is None  # nothing stored
