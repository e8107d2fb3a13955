"""A workflow's phases over REST (``/workflows/:id/phases``, issue 15): create, read,
rename, move and delete; their order; who may change them; another account's workflow
or phase is not there; bad input is a clear error that changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from tasks_service.commands.phases import create_phases
from tasks_service.core.errors import TaskValidationError
from tasks_service.core.settings import Settings
from tasks_service.identity.accounts import do_create_token
from tasks_service.store.db import session_scope
from tasks_service.store.models import Task, WorkflowPhase
from tasks_service.store.schemas.phases import MAX_POSITION, PhasePublic
from tasks_service.store.schemas.shape import field_names
from tests.helpers import AccountInfo, Api, assert_error, error_fields, links, make_account


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def _workflow(api: Api, subject: str = "Datacenter move", **fields: Any) -> dict[str, Any]:
    workflow: dict[str, Any] = _ok(
        api.post("/v1/workflows", json={"subject": subject, **fields}), 201
    )
    return workflow


def _phase(api: Api, workflow_id: int, name: str, **fields: Any) -> dict[str, Any]:
    body = {"name": name, **fields}
    phase: dict[str, Any] = _ok(api.post(f"/v1/workflows/{workflow_id}/phases", json=body), 201)
    return phase


def _names(api: Api, workflow_id: int, query: str = "") -> list[str]:
    listing = _ok(api.get(f"/v1/workflows/{workflow_id}/phases{query}"))
    return [p["name"] for p in listing]


def _stored(settings: Settings, workflow_id: int) -> list[tuple[str, int]]:
    with session_scope(settings, write=False) as session:
        rows = session.exec(
            select(WorkflowPhase).where(WorkflowPhase.workflow_id == workflow_id)
        ).all()
        return sorted((p.name, p.position) for p in rows)


def _as_person(api: Api, settings: Settings, account: AccountInfo, name: str) -> tuple[Api, int]:
    person = api.create_person(name, f"{name.lower()}@example.com")
    with session_scope(settings) as session:
        token = do_create_token(session, account.account_id, person["id"])
    return api.as_(token, account.slug), person["id"]


def _task_in_phase(api: Api, settings: Settings, workflow_id: int, phase_id: int) -> dict[str, Any]:
    """A task of the workflow in the phase: ``phase_id`` on create; where the task
    fields do not take it yet, the task's row is put in the phase directly."""
    body = {"subject": "Rack servers", "category": "implementation"}
    created = api.post(f"/v1/workflows/{workflow_id}/tasks", json={**body, "phase_id": phase_id})
    if created.status_code == 422 and ("phase_id", "unknown_field") in error_fields(created):
        created = api.post(f"/v1/workflows/{workflow_id}/tasks", json=body)
        with session_scope(settings) as session:
            row = session.get(Task, created.get_json()["id"])
            assert row is not None
            row.phase_id = phase_id
            session.add(row)
    task: dict[str, Any] = _ok(created, 201)
    with session_scope(settings, write=False) as session:
        stored = session.get(Task, task["id"])
        assert stored is not None
        assert stored.phase_id == phase_id
    return task


def test_create_read_rename_move_delete(api: Api) -> None:
    workflow = _workflow(api)
    base = f"/v1/workflows/{workflow['id']}/phases"
    plan = _phase(api, workflow["id"], "Plan")
    assert plan["name"] == "Plan"
    assert plan["position"] == 1
    assert plan["status"] == "registered"
    assert plan["workflow"] == {"id": workflow["id"], "subject": "Datacenter move"}
    assert (plan["started_at"], plan["completed_at"]) == (None, None)
    assert list(plan) == list(field_names(PhasePublic))
    PhasePublic.model_validate(plan)  # each field of its type
    # 4me's wrapped form too; names are stripped like every one-line name
    build = _ok(api.post(base, json={"phase": {"name": "  Build  "}}), 201)
    assert (build["name"], build["position"]) == ("Build", 2)
    check = _phase(api, workflow["id"], "Check")
    assert check["position"] == 3

    assert _ok(api.get(f"{base}/{build['id']}")) == build
    listing = api.get(base)
    assert [p["id"] for p in _ok(listing)] == [plan["id"], build["id"], check["id"]]
    assert listing.headers["X-Pagination-Total-Entries"] == "3"

    renamed = _ok(api.patch(f"{base}/{build['id']}", json={"name": "Build and test"}))
    assert renamed["name"] == "Build and test"
    assert renamed["position"] == 2
    assert renamed["updated_at"] >= build["updated_at"]
    moved = _ok(api.put(f"{base}/{check['id']}", json={"position": 1}))
    assert (moved["name"], moved["position"]) == ("Check", 1)
    # a tie: the older first, then by position
    assert _names(api, workflow["id"]) == ["Plan", "Check", "Build and test"]

    deleted = api.delete(f"{base}/{plan['id']}")
    assert deleted.status_code == 204
    assert deleted.get_data() == b""
    assert_error(api.get(f"{base}/{plan['id']}"), 404, "not_found")
    assert_error(api.delete(f"{base}/{plan['id']}"), 404, "not_found")
    assert _names(api, workflow["id"]) == ["Check", "Build and test"]


def test_positions_order_and_defaults(api: Api, settings: Settings) -> None:
    workflow = _workflow(api)
    wid = workflow["id"]
    assert _ok(api.get(f"/v1/workflows/{wid}/phases")) == []
    _phase(api, wid, "Late", position=10)
    _phase(api, wid, "Early", position=2)
    # after the last means past the highest position, not the count of phases
    assert _phase(api, wid, "Default")["position"] == 11
    _phase(api, wid, "Also early", position=2)
    assert _names(api, wid) == ["Early", "Also early", "Late", "Default"]
    assert _names(api, wid, "?sort=-position") == ["Default", "Late", "Also early", "Early"]
    assert _names(api, wid, "?sort=name") == ["Also early", "Default", "Early", "Late"]
    # at the highest position allowed a new phase stays there, after the older ones
    _phase(api, wid, "Last", position=MAX_POSITION)
    after = _phase(api, wid, "After the last")
    assert after["position"] == MAX_POSITION
    assert _names(api, wid)[-2:] == ["Last", "After the last"]
    # paged like every list, in the same order
    first = api.get(f"/v1/workflows/{wid}/phases?per_page=4")
    assert [p["name"] for p in _ok(first)] == ["Early", "Also early", "Late", "Default"]
    assert links(first)["next"]["page"] == "2"
    second = _ok(api.get(f"/v1/workflows/{wid}/phases?per_page=4&page=2"))
    assert [p["name"] for p in second] == ["Last", "After the last"]
    assert _stored(settings, wid) == sorted(
        [
            ("Late", 10),
            ("Early", 2),
            ("Default", 11),
            ("Also early", 2),
            ("Last", MAX_POSITION),
            ("After the last", MAX_POSITION),
        ]
    )


def test_phases_of_one_workflow_only(api: Api) -> None:
    one, other = _workflow(api, "One"), _workflow(api, "Other")
    phase = _phase(api, one["id"], "Plan")
    # the same name in another workflow is another phase
    same_name = _phase(api, other["id"], "Plan")
    assert same_name["position"] == 1
    assert _names(api, one["id"]) == ["Plan"]
    # a phase of another workflow is not there under this one
    wrong = f"/v1/workflows/{other['id']}/phases/{phase['id']}"
    assert_error(api.get(wrong), 404, "not_found")
    assert_error(api.patch(wrong, json={"name": "Moved"}), 404, "not_found")
    assert_error(api.delete(wrong), 404, "not_found")
    assert _ok(api.get(f"/v1/workflows/{one['id']}/phases/{phase['id']}"))["name"] == "Plan"
    missing = f"/v1/workflows/{one['id']}/phases/999999999"
    assert_error(api.get(missing), 404, "not_found")
    assert_error(api.get("/v1/workflows/999999999/phases"), 404, "not_found")
    assert_error(api.post("/v1/workflows/999999999/phases", json={"name": "X"}), 404, "not_found")


def test_another_accounts_workflow_and_phase_are_not_there(api: Api, settings: Settings) -> None:
    workflow = _workflow(api)
    phase = _phase(api, workflow["id"], "Plan")
    stranger = make_account(settings, "stranger")
    them = api.as_(stranger.token, stranger.slug)
    base = f"/v1/workflows/{workflow['id']}/phases"
    assert_error(them.get(base), 404, "not_found")
    assert_error(them.post(base, json={"name": "Theirs"}), 404, "not_found")
    assert_error(them.get(f"{base}/{phase['id']}"), 404, "not_found")
    assert_error(them.patch(f"{base}/{phase['id']}", json={"name": "Theirs"}), 404, "not_found")
    assert_error(them.delete(f"{base}/{phase['id']}"), 404, "not_found")
    # their own workflow does not reach this account's phase either
    theirs = _workflow(them, "Theirs")
    assert_error(them.get(f"/v1/workflows/{theirs['id']}/phases/{phase['id']}"), 404, "not_found")
    assert _stored(settings, workflow["id"]) == [("Plan", 1)]


def test_bad_input_is_refused_and_changes_nothing(api: Api, settings: Settings) -> None:
    workflow = _workflow(api)
    wid = workflow["id"]
    base = f"/v1/workflows/{wid}/phases"
    phase = _phase(api, wid, "Plan")
    other = _phase(api, wid, "Build")

    assert_error(api.post(base, json={}), 422, "validation_failed", "name")
    assert error_fields(api.post(base, json=["Plan"])) == [("body", "invalid_type")]
    assert error_fields(api.post(base, json={"name": "a\u0000b"}))[0][0] == "name"
    assert error_fields(api.post(base, json={"position": 3})) == [("name", "missing")]
    assert error_fields(api.post(base, json={"name": "  "})) == [("name", "too_short")]
    assert error_fields(api.post(base, json={"name": "x" * 81})) == [("name", "too_long")]
    assert error_fields(api.post(base, json={"name": "a\nb"}))[0][0] == "name"
    assert error_fields(api.post(base, json={"name": "X", "position": 0})) == [
        ("position", "out_of_range")
    ]
    assert error_fields(api.post(base, json={"name": "X", "position": MAX_POSITION + 1})) == [
        ("position", "out_of_range")
    ]
    assert error_fields(api.post(base, json={"name": "X", "position": "2"}))[0][0] == "position"
    assert error_fields(api.post(base, json={"name": "X", "colour": "red"})) == [
        ("colour", "unknown_field")
    ]
    # a name the workflow has, in whatever letters
    taken = assert_error(api.post(base, json={"name": "plan"}), 422, "validation_failed")
    assert taken["errors"] == [
        {
            "field": "name",
            "code": "taken",
            "message": "this workflow has a phase named 'plan' already",
        }
    ]
    # readonly fields are refused by name, not ignored
    for field, value in [
        ("status", "completed"),
        ("started_at", "2030-01-01T00:00:00Z"),
        ("completed_at", "2030-01-01T00:00:00Z"),
        ("id", 5),
        ("workflow", {"id": wid}),
        ("workflow_id", wid),
        ("created_at", "2030-01-01T00:00:00Z"),
    ]:
        refused = api.post(base, json={"name": "Readonly", field: value})
        assert error_fields(refused) == [(field, "readonly")], field
        changed = api.patch(f"{base}/{phase['id']}", json={field: value})
        assert error_fields(changed) == [(field, "readonly")], field

    path = f"{base}/{phase['id']}"
    assert error_fields(api.patch(path, json={"name": None})) == [("name", "not_nullable")]
    assert error_fields(api.patch(path, json={"position": None})) == [("position", "not_nullable")]
    renamed = api.patch(path, json={"name": "BUILD", "position": 7})
    assert error_fields(renamed) == [("name", "taken")]
    assert _stored(settings, wid) == [("Build", 2), ("Plan", 1)]
    # its own name in other letters is no clash
    assert _ok(api.patch(path, json={"name": "PLAN"}))["name"] == "PLAN"
    assert _ok(api.patch(path, json={}))["name"] == "PLAN"
    assert _ok(api.get(f"{base}/{other['id']}"))["name"] == "Build"
    # a write takes no query parameters, a single phase no list parameters
    assert_error(api.patch(f"{path}?position=3", json={"name": "X"}), 400, "invalid_query")
    assert_error(api.get(f"{path}?fields=name"), 400, "invalid_query")
    assert_error(api.get(f"{base}?sort=workflow"), 400, "invalid_sort")
    assert _stored(settings, wid) == [("Build", 2), ("PLAN", 1)]


def test_manager_or_admin_changes_phases_others_read(
    api: Api, settings: Settings, account: AccountInfo
) -> None:
    pat, pat_id = _as_person(api, settings, account, "Pat")
    sam, _sam_id = _as_person(api, settings, account, "Sam")
    workflow = _workflow(api, manager_id=pat_id)
    base = f"/v1/workflows/{workflow['id']}/phases"
    # the manager (no administrator) plans the workflow ...
    mine = _ok(pat.post(base, json={"name": "Plan"}), 201)
    _ok(pat.patch(f"{base}/{mine['id']}", json={"position": 4}))
    # ... someone else in the account reads, but changes nothing
    assert [p["name"] for p in _ok(sam.get(base))] == ["Plan"]
    assert _ok(sam.get(f"{base}/{mine['id']}"))["position"] == 4
    assert_error(sam.post(base, json={"name": "Sam's"}), 403, "forbidden")
    assert_error(sam.patch(f"{base}/{mine['id']}", json={"name": "Sam's"}), 403, "forbidden")
    assert_error(sam.delete(f"{base}/{mine['id']}"), 403, "forbidden")
    # an administrator may, manager or not
    admins = _ok(api.post(base, json={"name": "Review"}), 201)
    assert admins["position"] == 5
    assert pat.delete(f"{base}/{admins['id']}").status_code == 204
    assert _stored(settings, workflow["id"]) == [("Plan", 4)]


def test_a_phase_with_tasks_is_not_deleted(api: Api, settings: Settings) -> None:
    workflow = _workflow(api)
    wid = workflow["id"]
    base = f"/v1/workflows/{wid}/phases"
    phase = _phase(api, wid, "Build")
    task = _task_in_phase(api, settings, wid, phase["id"])
    refused = assert_error(api.delete(f"{base}/{phase['id']}"), 409, "conflict")
    assert refused["errors"][0]["code"] == "phase_has_tasks"
    assert refused["task_count"] == 1
    assert f"#{task['id']}" in refused["message"]
    assert _ok(api.get(f"{base}/{phase['id']}"))["name"] == "Build"
    # once its task is out of it, the empty phase goes
    moved = api.patch(f"/v1/tasks/{task['id']}", json={"phase_id": None})
    if moved.status_code == 422 and ("phase_id", "unknown_field") in error_fields(moved):
        with session_scope(settings) as session:
            row = session.get(Task, task["id"])
            assert row is not None
            row.phase_id = None
            session.add(row)
    else:
        assert _ok(moved)["phase"] is None
    assert api.delete(f"{base}/{phase['id']}").status_code == 204
    assert _stored(settings, wid) == []


def test_create_is_idempotent_with_a_key(api: Api, settings: Settings) -> None:
    workflow = _workflow(api)
    base = f"/v1/workflows/{workflow['id']}/phases"
    headers = {"Idempotency-Key": "phase-plan-1"}
    first = _ok(api.post(base, json={"name": "Plan"}, headers=headers), 201)
    again = api.post(base, json={"name": "Plan"}, headers=headers)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first
    reused = api.post(base, json={"name": "Other"}, headers=headers)
    assert_error(reused, 422, "idempotency_key_reused")
    assert _stored(settings, workflow["id"]) == [("Plan", 1)]


def test_create_phases_for_a_template(api: Api, settings: Settings, account: AccountInfo) -> None:
    """``create_phases`` (used by template instantiation) makes them in order, after
    those the workflow has, keyed by the names given; a repeated or taken name makes
    none."""
    workflow = _workflow(api)
    wid = workflow["id"]
    _phase(api, wid, "Existing", position=3)
    with session_scope(settings) as session:
        made = create_phases(session, account.account_id, wid, ["Plan", "Build", "Check"])
        assert {name: p.position for name, p in made.items()} == {
            "Plan": 4,
            "Build": 5,
            "Check": 6,
        }
        assert all(p.id is not None for p in made.values())
    assert _names(api, wid) == ["Existing", "Plan", "Build", "Check"]
    for names, field, code in [
        (["New", "new"], "phases", "duplicate"),
        (["New", "BUILD"], "phases", "taken"),
        (["New", ""], "name", "too_short"),
    ]:
        with pytest.raises(TaskValidationError) as refused, session_scope(settings) as session:
            create_phases(session, account.account_id, wid, names)
        assert [(e["field"], e["code"]) for e in refused.value.errors] == [(field, code)], names
    assert _names(api, wid) == ["Existing", "Plan", "Build", "Check"]
    # a new workflow's phases are numbered from 1
    fresh = _workflow(api, "Fresh")
    with session_scope(settings) as session:
        made = create_phases(session, account.account_id, fresh["id"], ["A", "B"])
        assert [p.position for p in made.values()] == [1, 2]
    assert _names(api, fresh["id"]) == ["A", "B"]
