"""Assignments (issue 16) through REST on both backends, applied by real workers: 4me's
approvals and several assignees of a task, each person with their own decision, and
what the decisions make of the task.

The rule table is written out here as its own oracle (``DECISION_TABLE``), not taken
from ``core.assignments``: every state of an assignment x every decision its person
can send, for both kinds of task.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlmodel import select

from tasks_service.core.settings import Settings
from tasks_service.identity.accounts import do_create_token
from tasks_service.notify.transport.signing import new_secret
from tasks_service.store.db import session_scope
from tasks_service.store.models import Delivery, Webhook
from tests.helpers import AccountInfo, Api, assert_error, make_account


@dataclass
class Person:
    id: int
    api: Api


def _people(api: Api, settings: Settings, account: AccountInfo, *names: str) -> list[Person]:
    """People of the account, each with a token of their own."""
    found = []
    for name in names:
        row = api.create_person(name, f"{name.lower()}@{account.slug}.example")
        with session_scope(settings) as session:
            token = do_create_token(session, account.account_id, row["id"])
        found.append(Person(row["id"], api.as_(token, account.slug)))
    return found


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.get_json()
    return response.get_json()


def _approval_task(api: Api, approvers: list[Person], **fields: Any) -> dict[str, Any]:
    task = api.create_task(subject="Approve the change", category="approval", **fields)
    for person in approvers:
        _ok(api.post(f"/v1/tasks/{task['id']}/approvals", json={"approver_id": person.id}), 201)
    return task


def _work_task(api: Api, assignees: list[Person], **fields: Any) -> dict[str, Any]:
    task = api.create_task(subject="Rack the servers", **fields)
    for person in assignees:
        _ok(api.post(f"/v1/tasks/{task['id']}/assignments", json={"person_id": person.id}), 201)
    return task


def _task(api: Api, task: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = _ok(api.get(f"/v1/tasks/{task['id']}"))
    return result


def _states(api: Api, task: dict[str, Any], form: str = "approvals") -> list[str]:
    key = "status" if form == "approvals" else "state"
    return [row[key] for row in _ok(api.get(f"/v1/tasks/{task['id']}/{form}"))]


def _decide(person: Person, task: dict[str, Any], status: str, **more: Any) -> Any:
    return person.api.patch(f"/v1/tasks/{task['id']}", json={"status": status, **more})


@pytest.fixture
def people(api: Api, settings: Settings, account: AccountInfo) -> list[Person]:
    return _people(api, settings, account, "Ann", "Bob", "Cid")


# --- the table: (kind, the assignment's state, the decision sent) -> (answer, state after)

#: How each state is reached (``_reach``) and what each decision answers. ``None``: the
#: state stays as it was. 409: the table forbids it; 422: the decision does not fit the
#: kind of task (approved and rejected are an approval task's, completed another's).
DECISION_TABLE: dict[tuple[str, str, str], tuple[int, str | None]] = {
    ("approval", "registered", "approved"): (409, None),
    ("approval", "registered", "rejected"): (409, None),
    ("approval", "registered", "completed"): (422, None),
    ("approval", "assigned", "approved"): (200, "approved"),
    ("approval", "assigned", "rejected"): (200, "rejected"),
    ("approval", "assigned", "completed"): (422, None),
    ("approval", "approved", "approved"): (409, None),
    ("approval", "approved", "rejected"): (409, None),
    ("approval", "approved", "completed"): (422, None),
    ("approval", "rejected", "approved"): (409, None),
    ("approval", "rejected", "rejected"): (200, None),  # the task's own status again
    ("approval", "canceled", "approved"): (409, None),  # approved without them
    ("approval", "canceled", "rejected"): (409, None),
    ("work", "registered", "completed"): (409, None),
    ("work", "registered", "approved"): (422, None),
    ("work", "assigned", "completed"): (200, "completed"),
    ("work", "assigned", "rejected"): (422, None),
    ("work", "completed", "completed"): (409, None),
    ("work", "completed", "approved"): (422, None),
}


def _reach(api: Api, kind: str, state: str, people: list[Person]) -> tuple[dict[str, Any], Person]:
    """A task whose first person's assignment is in ``state``, and that person."""
    ann, bob, cid = people
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    held = {"start_at": later} if state == "registered" else {}
    if kind == "approval":
        # two approvals needed of three: one approval leaves the task open
        task = _approval_task(api, [ann, bob, cid], required_approvals=2, **held)
        if state == "approved":
            _ok(_decide(ann, task, "approved"))
        elif state == "rejected":
            _ok(_decide(ann, task, "rejected"))
        elif state == "canceled":
            _ok(_decide(bob, task, "approved"))
            _ok(_decide(cid, task, "approved"))  # quorum: Ann's is canceled
    else:
        task = _work_task(api, [ann, bob], **held)
        if state == "completed":
            _ok(
                ann.api.patch(
                    f"/v1/tasks/{task['id']}/assignments/{_first(api, task)}",
                    json={"state": "completed"},
                )
            )
    assert _states(api, task, _form(kind))[0] == _shown(kind, state)
    return task, ann


def _form(kind: str) -> str:
    return "approvals" if kind == "approval" else "assignments"


def _shown(kind: str, state: str) -> str:
    """A state as its list shows it: a work assignment is incomplete until completed."""
    if kind == "work" and state != "completed":
        return "incomplete"
    return state


def _first(api: Api, task: dict[str, Any]) -> int:
    rows = _ok(api.get(f"/v1/tasks/{task['id']}/assignments"))
    return int(rows[0]["id"])


@pytest.mark.parametrize(("kind", "state", "decision"), list(DECISION_TABLE), ids=lambda v: str(v))
def test_decision_table(
    api: Api, people: list[Person], kind: str, state: str, decision: str
) -> None:
    answer, after = DECISION_TABLE[(kind, state, decision)]
    task, person = _reach(api, kind, state, people)
    before = _states(api, task, _form(kind))
    response = _decide(person, task, decision)
    assert response.status_code == answer, response.get_json()
    states = _states(api, task, _form(kind))
    assert states[0] == _shown(kind, after or state)
    if answer != 200:
        assert states == before  # nothing refused is applied


# --- what the decisions make of the task


def test_quorum_approves_and_cancels_the_rest(api: Api, people: list[Person]) -> None:
    ann, bob, _cid = people
    task = _approval_task(api, people, required_approvals=2)
    assert _task(api, task)["status"] == "assigned"
    assert _task(api, task)["missing_approvers"] == 0
    _ok(_decide(ann, task, "approved", note="fine by me"))
    assert _task(api, task)["status"] == "assigned"
    decided = _ok(_decide(bob, task, "approved"))
    assert decided["status"] == "approved"
    assert _states(api, task) == ["approved", "approved", "canceled"]
    approvals = _ok(api.get(f"/v1/tasks/{task['id']}/approvals?status=approved"))
    assert [a["approver"]["id"] for a in approvals] == [ann.id, bob.id]
    assert approvals[0]["note"] == "fine by me"
    assert approvals[0]["decided_at"] is not None
    # each decision is recorded once, as an event of the task
    events = _ok(api.get(f"/v1/tasks/{task['id']}/events"))
    decisions = [e for e in events if e["action"] == "assignment_decided"]
    assert len(decisions) == 2
    assert [e["person"]["id"] for e in decisions] == [ann.id, bob.id]
    # the approver's note is a note of the task too
    notes = _ok(api.get(f"/v1/tasks/{task['id']}/notes"))
    assert [n["text"] for n in notes] == ["fine by me"]


def test_one_rejection_rejects_the_task(api: Api, people: list[Person]) -> None:
    ann, bob, _cid = people
    task = _approval_task(api, people, required_approvals=2)
    _ok(_decide(ann, task, "approved"))
    rejected = _ok(_decide(bob, task, "rejected", note="not in the freeze"))
    assert rejected["status"] == "rejected"
    assert rejected["rejection_count"] == 1
    assert _states(api, task) == ["approved", "rejected", "canceled"]


def test_missing_approvers_block_the_approval(api: Api, people: list[Person]) -> None:
    ann, bob, cid = people
    task = _approval_task(api, [ann, bob], required_approvals=3)
    assert _task(api, task)["missing_approvers"] == 1
    _ok(_decide(ann, task, "approved"))
    _ok(_decide(bob, task, "approved"))
    assert _task(api, task)["status"] == "assigned"
    # an admin cannot approve it over the missing approver's head either
    assert_error(
        api.patch(f"/v1/tasks/{task['id']}", json={"status": "approved"}),
        422,
        "validation_failed",
        "status",
    )
    _ok(api.post(f"/v1/tasks/{task['id']}/approvals", json={"approver_id": cid.id}), 201)
    assert _task(api, task)["missing_approvers"] == 0
    assert _ok(_decide(cid, task, "approved"))["status"] == "approved"


@pytest.mark.parametrize(("rule", "approvals_needed"), [("any_assignee", 1), ("all_assignees", 3)])
def test_box_rules_on_an_approval_task(
    api: Api, people: list[Person], rule: str, approvals_needed: int
) -> None:
    task = _approval_task(api, people, completion_rule=rule)
    for count, person in enumerate(people, start=1):
        status = _ok(_decide(person, task, "approved"))["status"]
        assert status == ("approved" if count == approvals_needed else "assigned")
        if count == approvals_needed:
            break


@pytest.mark.parametrize(
    ("rule", "completions_needed"), [("any_assignee", 1), ("all_assignees", 3), (None, 3)]
)
def test_completion_rules_on_a_work_task(
    api: Api, people: list[Person], rule: str | None, completions_needed: int
) -> None:
    fields = {"completion_rule": rule} if rule else {}
    task = _work_task(api, people, **fields)
    assert _task(api, task)["completion_rule"] == rule
    for count, person in enumerate(people, start=1):
        status = _ok(_decide(person, task, "completed"))["status"]
        assert status == ("completed" if count == completions_needed else "assigned")
        if count == completions_needed:
            break
    expected = ["completed"] * completions_needed + ["incomplete"] * (3 - completions_needed)
    assert _states(api, task, "assignments") == expected


def test_reopening_resets_the_decisions(api: Api, people: list[Person]) -> None:
    ann, bob, _cid = people
    task = _approval_task(api, [ann, bob])
    _ok(_decide(ann, task, "rejected"))
    reopened = _ok(api.patch(f"/v1/tasks/{task['id']}", json={"status": "assigned"}))
    assert reopened["rejection_count"] == 1
    assert _states(api, task) == ["assigned", "assigned"]
    approvals = _ok(api.get(f"/v1/tasks/{task['id']}/approvals"))
    assert all(a["decided_at"] is None for a in approvals)
    assert _ok(_decide(ann, task, "approved"))["status"] == "approved"


def test_only_an_approver_or_an_admin_decides(
    api: Api, settings: Settings, account: AccountInfo, people: list[Person]
) -> None:
    ann, bob, cid = people
    task = _approval_task(api, [ann, bob])
    assert_error(_decide(cid, task, "approved"), 403, "forbidden")
    approval = _ok(api.get(f"/v1/tasks/{task['id']}/approvals"))[0]
    # another's approval's note is anyone's to edit; its decision is not
    _ok(cid.api.patch(f"/v1/tasks/{task['id']}/approvals/{approval['id']}", json={"note": "x"}))
    assert _states(api, task) == ["assigned", "assigned"]
    # the admin decides the whole task: the pending approvals are canceled
    assert _ok(api.patch(f"/v1/tasks/{task['id']}", json={"status": "rejected"}))["status"] == (
        "rejected"
    )
    assert _states(api, task) == ["canceled", "canceled"]


def test_a_registered_task_is_assigned_with_its_first_approver(
    api: Api, people: list[Person]
) -> None:
    ann, *_ = people
    task = api.create_task(subject="Approve", category="approval")
    assert task["status"] == "registered"
    _ok(api.post(f"/v1/tasks/{task['id']}/approvals", json={"approver_id": ann.id}), 201)
    assert _task(api, task)["status"] == "assigned"
    assert _states(api, task) == ["assigned"]
    # and a task that starts later waits with its approvals registered
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    waiting = api.create_task(subject="Approve later", category="approval", start_at=later)
    _ok(api.post(f"/v1/tasks/{waiting['id']}/approvals", json={"approver_id": ann.id}), 201)
    assert _task(api, waiting)["status"] == "registered"
    assert _states(api, waiting) == ["registered"]


def test_quorum_assigns_the_workflow_successors(api: Api, people: list[Person]) -> None:
    ann, bob, cid = people
    workflow = _ok(api.post("/v1/workflows", json={"subject": "Change"}), 201)
    approval = _ok(
        api.post(
            f"/v1/workflows/{workflow['id']}/tasks",
            json={"subject": "CAB", "category": "approval", "required_approvals": 2},
        ),
        201,
    )
    after = _ok(
        api.post(
            f"/v1/workflows/{workflow['id']}/tasks",
            json={
                "subject": "Deploy",
                "category": "implementation",
                "member_id": cid.id,
                "predecessor_ids": [approval["id"]],
            },
        ),
        201,
    )
    for person in (ann, bob):
        _ok(api.post(f"/v1/tasks/{approval['id']}/approvals", json={"approver_id": person.id}), 201)
    assert _task(api, after)["status"] == "registered"
    _ok(_decide(ann, approval, "approved"))
    assert _task(api, after)["status"] == "registered"
    _ok(_decide(bob, approval, "approved"))
    assert _task(api, approval)["status"] == "approved"
    assert _task(api, after)["status"] == "assigned"


def test_views_and_notifications_of_an_approver(api: Api, people: list[Person]) -> None:
    ann, bob, _cid = people
    task = _approval_task(api, [ann, bob])
    other = _work_task(api, [ann])
    mine = {t["id"] for t in _ok(ann.api.get("/v1/tasks/assigned_to_me"))}
    assert mine == {task["id"], other["id"]}
    approvals = {t["id"] for t in _ok(ann.api.get("/v1/tasks/approval_by_me"))}
    assert approvals == {task["id"]}
    feed = _ok(ann.api.get("/v1/people/me/notifications"))
    assigned = [n["task"]["id"] for n in feed if n["event"] == "task.assigned"]
    # once each: added to a task that is with someone (the work task), or as the
    # approval task was assigned with its first approver
    assert sorted(assigned) == sorted([task["id"], other["id"]])


# --- refusals: nothing refused is applied


def test_refusals(api: Api, people: list[Person], settings: Settings) -> None:
    ann, bob, _cid = people
    approval = _approval_task(api, [ann], required_approvals=2)
    work = _work_task(api, [ann])
    # the same approver twice; an approval of a work task, an assignee of an approval task
    assert_error(
        api.post(f"/v1/tasks/{approval['id']}/approvals", json={"approver_id": ann.id}),
        409,
        "conflict",
    )
    assert_error(
        api.post(f"/v1/tasks/{work['id']}/approvals", json={"approver_id": bob.id}), 409, "conflict"
    )
    assert_error(
        api.post(f"/v1/tasks/{approval['id']}/assignments", json={"person_id": bob.id}),
        409,
        "conflict",
    )
    # bad bodies: a readonly status, a wrong type, an unknown field
    assert_error(
        api.post(
            f"/v1/tasks/{approval['id']}/approvals",
            json={"approver_id": bob.id, "status": "approved"},
        ),
        422,
        "validation_failed",
        "status",
    )
    assert_error(
        api.post(f"/v1/tasks/{approval['id']}/approvals", json={"approver_id": "bob"}),
        422,
        "validation_failed",
        "approver_id",
    )
    assert_error(
        api.patch(
            f"/v1/tasks/{work['id']}/assignments/{_first(api, work)}", json={"state": "done"}
        ),
        422,
        "validation_failed",
        "state",
    )
    # missing ones: a person, an approval, another task's approval
    assert_error(
        api.post(f"/v1/tasks/{approval['id']}/approvals", json={"approver_id": 999999}),
        404,
        "not_found",
    )
    assert_error(api.get(f"/v1/tasks/{approval['id']}/approvals/999999"), 404, "not_found")
    work_assignment = _first(api, work)
    assert_error(
        api.get(f"/v1/tasks/{approval['id']}/approvals/{work_assignment}"), 404, "not_found"
    )
    # a decided approval stays
    _ok(_decide(ann, approval, "approved"))
    first = _ok(api.get(f"/v1/tasks/{approval['id']}/approvals"))[0]
    assert_error(api.delete(f"/v1/tasks/{approval['id']}/approvals/{first['id']}"), 409, "conflict")
    assert _states(api, approval) == ["approved"]
    assert _task(api, approval)["status"] == "assigned"
    assert _states(api, work, "assignments") == ["incomplete"]


def test_another_accounts_task_and_person_are_missing(
    api: Api, client: FlaskClient, settings: Settings, people: list[Person]
) -> None:
    ann, *_ = people
    other = make_account(settings, "other")
    theirs = Api(client, other.token, other.slug)
    their_task = theirs.create_task(subject="Theirs", category="approval")
    their_person = theirs.create_person("Zed", f"zed@{other.slug}.example")
    assert_error(
        api.post(f"/v1/tasks/{their_task['id']}/approvals", json={"approver_id": ann.id}),
        404,
        "not_found",
    )
    assert_error(api.get(f"/v1/tasks/{their_task['id']}/approvals"), 404, "not_found")
    mine = _approval_task(api, [])
    assert_error(
        api.post(f"/v1/tasks/{mine['id']}/approvals", json={"approver_id": their_person["id"]}),
        404,
        "not_found",
    )
    assert _ok(theirs.get(f"/v1/tasks/{their_task['id']}/approvals")) == []


def test_removing_an_assignee_can_finish_the_task(api: Api, people: list[Person]) -> None:
    ann, bob, _cid = people
    task = _work_task(api, [ann, bob])
    _ok(_decide(ann, task, "completed"))
    assert _task(api, task)["status"] == "assigned"
    bobs = _ok(api.get(f"/v1/tasks/{task['id']}/assignments?state=incomplete"))[0]
    removed = api.delete(f"/v1/tasks/{task['id']}/assignments/{bobs['id']}")
    assert removed.status_code == 204, removed.get_json()
    assert _task(api, task)["status"] == "completed"


def test_ten_approvers_deciding_at_once(api: Api, settings: Settings, account: AccountInfo) -> None:
    """Ten approvers of one task approve at the same moment (ten operations, two worker
    processes): four approvals approve it, once; the other six approvals are canceled
    and their senders told so (409); each decision is recorded once."""
    names = [f"Approver{n}" for n in range(10)]
    approvers = _people(api, settings, account, *names)
    task = _approval_task(api, approvers, required_approvals=4)
    answers: list[int] = []
    barrier = threading.Barrier(len(approvers))

    def approve(person: Person) -> None:
        caller = Api(api.client.application.test_client(), None, None)
        caller.headers = dict(person.api.headers)
        barrier.wait()
        answers.append(
            caller.patch(f"/v1/tasks/{task['id']}", json={"status": "approved"}).status_code
        )

    threads = [threading.Thread(target=approve, args=(p,)) for p in approvers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(answers) == [200] * 4 + [409] * 6
    assert _task(api, task)["status"] == "approved"
    assert sorted(_states(api, task)) == ["approved"] * 4 + ["canceled"] * 6
    events = _ok(api.get(f"/v1/tasks/{task['id']}/events?per_page=100"))
    assert [e["action"] for e in events].count("assignment_decided") == 4
    finished = [e for e in events if e["changes"].get("status", [None, None])[1] == "approved"]
    assert len(finished) == 1


def test_the_body_the_xurrent_sdk_sends(api: Api, people: list[Person]) -> None:
    """``Task.approve()`` of the public Xurrent SDK sends its own user as ``member_id``
    with the note: that approver's decision, not a new member of the task; naming
    another approver is for an admin."""
    ann, bob, cid = people
    task = _approval_task(api, [ann, bob, cid], required_approvals=2)
    body = {"status": "approved", "note": "Task approved by API user", "member_id": ann.id}
    _ok(ann.api.patch(f"/v1/tasks/{task['id']}", json=body))
    after = _task(api, task)
    assert (after["status"], after["member"]) == ("assigned", None)
    assert _states(api, task) == ["approved", "assigned", "assigned"]
    for_bob = {"status": "rejected", "note": "no", "member_id": bob.id}
    assert_error(cid.api.patch(f"/v1/tasks/{task['id']}", json=for_bob), 403, "forbidden")
    # an admin may record an approver's decision
    _ok(api.patch(f"/v1/tasks/{task['id']}", json={**for_bob, "status": "approved"}))
    assert _task(api, task)["status"] == "approved"
    assert _states(api, task) == ["approved", "approved", "canceled"]


def test_a_rework_loop_sends_the_approvals_back(api: Api, people: list[Person]) -> None:
    """An approval task upstream is the failure task of the work it approved: when the
    work fails, the approval task is assigned again and its approvals are to decide
    again (its rejection count stays)."""
    ann, bob, cid = people
    workflow = _ok(api.post("/v1/workflows", json={"subject": "Change"}), 201)
    path = f"/v1/workflows/{workflow['id']}/tasks"
    cab = _ok(api.post(path, json={"subject": "CAB", "category": "approval"}), 201)
    for person in (ann, bob):
        _ok(api.post(f"/v1/tasks/{cab['id']}/approvals", json={"approver_id": person.id}), 201)
    work = _ok(
        api.post(
            path,
            json={
                "subject": "Deploy",
                "category": "implementation",
                "member_id": cid.id,
                "predecessor_ids": [cab["id"]],
                "failure_task_id": cab["id"],
            },
        ),
        201,
    )
    _ok(_decide(ann, cab, "approved"))
    assert _states(api, cab) == ["approved", "canceled"]
    assert _task(api, work)["status"] == "assigned"
    _ok(api.patch(f"/v1/tasks/{work['id']}", json={"status": "failed"}))
    assert _task(api, cab)["status"] == "assigned"
    assert _states(api, cab) == ["assigned", "assigned"]
    assert _task(api, work)["status"] == "registered"
    _ok(_decide(bob, cab, "approved"))
    assert _task(api, work)["status"] == "assigned"


def test_the_webhook_names_the_assignee(
    api: Api, settings: Settings, account: AccountInfo, people: list[Person]
) -> None:
    ann, bob, _cid = people
    with session_scope(settings) as session:
        hook = Webhook(
            account_id=account.account_id,
            uri="http://127.0.0.1:9/hooks",  # nothing listens: the rows are what counts
            events=["task.assigned"],
            secret=new_secret(),
        )
        session.add(hook)
        session.flush()
        hook_id = hook.id
    task = _work_task(api, [ann, bob])
    with session_scope(settings, write=False) as session:
        rows = session.exec(
            select(Delivery).where(
                Delivery.task_id == task["id"], Delivery.event == "task.assigned"
            )
        ).all()
    payloads = [row.payload for row in rows if row.webhook_id == hook_id]
    # one webhook delivery per assignee, naming them; and an email to each
    assert sorted(p["assignee"]["id"] for p in payloads) == [ann.id, bob.id]
    assert sum(row.webhook_id is None for row in rows) == 2
    assert all(p["data"]["id"] == task["id"] for p in payloads)


def test_the_rule_and_the_kind_of_a_task_with_people(api: Api, people: list[Person]) -> None:
    """A lower quorum (or ``any_assignee``) decides a task whose approvals reach it
    already; a task with people keeps its kind."""
    ann, bob, _cid = people
    task = _approval_task(api, [ann, bob], required_approvals=2)
    _ok(_decide(ann, task, "approved"))
    lowered = _ok(api.patch(f"/v1/tasks/{task['id']}", json={"required_approvals": 1}))
    assert lowered["status"] == "approved"
    assert _states(api, task) == ["approved", "canceled"]
    work = _work_task(api, [ann, bob])
    _ok(_decide(bob, work, "completed"))
    anyone = _ok(api.patch(f"/v1/tasks/{work['id']}", json={"completion_rule": "any_assignee"}))
    assert anyone["status"] == "completed"
    other = _work_task(api, [ann])
    refused = api.patch(f"/v1/tasks/{other['id']}", json={"category": "approval"})
    assert_error(refused, 422, "validation_failed", "category")
    assert _task(api, other)["category"] == "implementation"
