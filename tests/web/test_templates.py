"""Task templates and workflow templates over REST (issue 15, "Templates"): create, read,
list and change them; every reference checked against the account; a workflow
template's plan checked whole when saved (its phases, its relations, no cycle, the
cycle named); another account's templates are not there; bad input is a clear error
that changes nothing."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, TypeAdapter

from tasks_service.core.settings import Settings
from tasks_service.identity.accounts import do_create_token
from tasks_service.store.db import session_scope
from tasks_service.store.models import WorkflowTemplate
from tasks_service.store.schemas.shape import field_names
from tasks_service.store.schemas.templates import (
    MAX_RELATIONS,
    TaskTemplatePublic,
    WorkflowTemplatePublic,
)
from tests.helpers import AccountInfo, Api, assert_error, error_fields, make_account


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def _conforms(model: type[BaseModel], body: Any) -> None:
    """Exactly the model's fields, in its order, each of its type."""
    items = body if isinstance(body, list) else [body]
    assert items
    TypeAdapter(list[model]).validate_python(items)  # type: ignore[valid-type]
    for item in items:
        assert list(item) == list(field_names(model))


def _task_template(api: Api, subject: str = "Install server", **fields: Any) -> Any:
    body = {"subject": subject, "category": "implementation", **fields}
    return _ok(api.post("/v1/task_templates", json=body), 201)


def _workflow_template(api: Api, **fields: Any) -> Any:
    return api.post("/v1/workflow_templates", json={"subject": "New rack", **fields})


def _relation(template_id: int, *predecessors: int, **fields: Any) -> dict[str, Any]:
    return {
        "task_template_id": template_id,
        "predecessor_task_template_ids": list(predecessors),
        **fields,
    }


def _stored_plan(settings: Settings, template_id: int) -> dict[str, Any]:
    with session_scope(settings, write=False) as session:
        row = session.get(WorkflowTemplate, template_id)
        assert row is not None
        return dict(row.plan)


# --- task templates --------------------------------------------------------------------


def test_task_template_crud(api: Api, account: AccountInfo) -> None:
    team = api.create_team("Servers", members=(account.admin_id,))
    created = _task_template(
        api,
        impact="low",
        planned_duration=120,
        instructions="Rack it, cable it.",
        team_id=team["id"],
        member_id=account.admin_id,
        work_hours_are_24x7=True,
    )
    _conforms(TaskTemplatePublic, created)
    assert created["team"] == {"id": team["id"], "name": "Servers"}
    assert created["member"] == {"id": account.admin_id, "name": "Ada Admin"}
    assert created["required_approvals"] == 1  # 4me's default
    assert created["disabled"] is False
    assert created["work_hours_are_24x7"] is True
    assert _ok(api.get(f"/v1/task_templates/{created['id']}")) == created

    approval = _task_template(api, "Approve", category="approval", required_approvals=3)
    assert approval["required_approvals"] == 3
    assert approval["team"] is None
    assert approval["impact"] is None

    changed = _ok(
        api.patch(
            f"/v1/task_templates/{created['id']}",
            json={"subject": "Install servers", "impact": None, "member_id": None},
        )
    )
    assert changed["subject"] == "Install servers"
    assert changed["impact"] is None
    assert changed["member"] is None
    assert changed["team"] == created["team"]
    assert changed["planned_duration"] == 120
    assert changed["updated_at"] >= created["updated_at"]
    assert _ok(api.get(f"/v1/task_templates/{created['id']}")) == changed

    listing = _ok(api.get("/v1/task_templates"))
    assert [t["id"] for t in listing] == [created["id"], approval["id"]]
    _conforms(TaskTemplatePublic, listing)
    _ok(api.patch(f"/v1/task_templates/{approval['id']}", json={"disabled": True}))
    assert [t["id"] for t in _ok(api.get("/v1/task_templates?disabled=true"))] == [approval["id"]]
    assert [t["id"] for t in _ok(api.get("/v1/task_templates?category=approval"))] == [
        approval["id"]
    ]
    assert [t["id"] for t in _ok(api.get("/v1/task_templates?sort=-subject"))] == [
        created["id"],
        approval["id"],
    ]
    picked = _ok(api.get("/v1/task_templates?fields=subject"))
    assert picked == [
        {"id": created["id"], "subject": "Install servers"},
        {"id": approval["id"], "subject": "Approve"},
    ]


def test_task_template_bad_input_changes_nothing(api: Api, account: AccountInfo) -> None:
    bob = api.create_person("Bob", "bob@example.com")
    team = api.create_team("Servers", members=(account.admin_id,))
    assert error_fields(api.post("/v1/task_templates", json={})) == [
        ("subject", "missing"),
        ("category", "missing"),
    ]
    bad = api.post(
        "/v1/task_templates",
        json={
            "subject": "x",
            "category": "cooking",
            "impact": "huge",
            "planned_duration": 0,
            "required_approvals": 0,
            "work_hours_are_24x7": "yes",
            "colour": "red",
        },
    )
    assert sorted(error_fields(bad)) == [
        ("category", "invalid_value"),
        ("colour", "unknown_field"),
        ("impact", "invalid_value"),
        ("planned_duration", "out_of_range"),
        ("required_approvals", "out_of_range"),
        ("work_hours_are_24x7", "invalid_type"),
    ]
    readonly = api.post(
        "/v1/task_templates",
        json={"subject": "x", "category": "approval", "id": 9, "team": {"id": 1}, "created_at": 1},
    )
    assert sorted(error_fields(readonly)) == [
        ("created_at", "readonly"),
        ("id", "readonly"),
        ("team", "readonly"),
    ]
    assert_error(_task_post(api, team_id=999_999), 422, "validation_failed", "team_id")
    assert_error(_task_post(api, member_id=999_999), 422, "validation_failed", "member_id")
    not_in = _task_post(api, team_id=team["id"], member_id=bob["id"])
    assert error_fields(not_in) == [("member_id", "not_in_team")]
    assert _ok(api.get("/v1/task_templates")) == []

    template = _task_template(api, team_id=team["id"], member_id=account.admin_id)
    url = f"/v1/task_templates/{template['id']}"
    other_team = api.create_team("Network")
    # a new team without the member: the member (kept) is not in it
    assert error_fields(api.patch(url, json={"team_id": other_team["id"]})) == [
        ("member_id", "not_in_team")
    ]
    assert error_fields(api.patch(url, json={"subject": None, "disabled": None})) == [
        ("subject", "not_nullable"),
        ("disabled", "not_nullable"),
    ]
    assert error_fields(api.patch(url, json={"updated_at": "2026-01-01T00:00:00Z"})) == [
        ("updated_at", "readonly")
    ]
    assert _ok(api.get(url)) == template
    assert_error(api.get("/v1/task_templates/999999"), 404, "not_found")
    assert_error(api.patch("/v1/task_templates/999999", json={"subject": "y"}), 404, "not_found")


def _task_post(api: Api, **fields: Any) -> Any:
    return api.post(
        "/v1/task_templates", json={"subject": "x", "category": "implementation", **fields}
    )


def test_only_admins_change_templates(api: Api, account: AccountInfo, settings: Settings) -> None:
    bob = api.create_person("Bob", "bob@example.com")
    with session_scope(settings) as session:
        token = do_create_token(session, account.account_id, bob["id"])
    as_bob = api.as_(token, account.slug)
    template = _task_template(api)
    assert_error(_task_post(as_bob), 403, "forbidden")
    url = f"/v1/task_templates/{template['id']}"
    assert_error(as_bob.patch(url, json={"subject": "Mine"}), 403, "forbidden")
    assert_error(_workflow_template(as_bob), 403, "forbidden")
    plan = _ok(_workflow_template(api), 201)
    wf_url = f"/v1/workflow_templates/{plan['id']}"
    assert_error(as_bob.patch(wf_url, json={"subject": "Mine"}), 403, "forbidden")
    # ... but everyone in the account reads them
    assert _ok(as_bob.get(url)) == template
    assert _ok(as_bob.get(wf_url)) == plan
    assert [t["id"] for t in _ok(as_bob.get("/v1/task_templates"))] == [template["id"]]


def test_other_accounts_templates_are_not_there(api: Api, settings: Settings) -> None:
    other = make_account(settings)
    stranger = api.as_(other.token, other.slug)
    team = api.create_team("Private")
    mine = _task_template(api, team_id=team["id"])
    plan = _ok(_workflow_template(api, task_template_relations=[_relation(mine["id"])]), 201)
    for path in (f"/v1/task_templates/{mine['id']}", f"/v1/workflow_templates/{plan['id']}"):
        assert_error(stranger.get(path), 404, "not_found")
        assert_error(stranger.patch(path, json={"subject": "Taken"}), 404, "not_found")
    assert _ok(stranger.get("/v1/task_templates")) == []
    assert _ok(stranger.get("/v1/workflow_templates")) == []
    # nor can the other account's templates refer to this one's team or templates
    assert error_fields(_task_post(stranger, team_id=team["id"])) == [("team_id", "not_found")]
    theirs = _workflow_template(stranger, task_template_relations=[_relation(mine["id"])])
    assert error_fields(theirs) == [("task_template_relations.0.task_template_id", "not_found")]
    assert _ok(api.get(f"/v1/task_templates/{mine['id']}")) == mine


def test_posts_are_idempotent(api: Api) -> None:
    body = {"subject": "Once", "category": "implementation"}
    headers = {"Idempotency-Key": "task-template-1"}
    first = _ok(api.post("/v1/task_templates", json=body, headers=headers), 201)
    again = _ok(api.post("/v1/task_templates", json=body, headers=headers), 201)
    assert again == first
    assert len(_ok(api.get("/v1/task_templates"))) == 1
    other = api.post("/v1/task_templates", json={**body, "subject": "Twice"}, headers=headers)
    assert_error(other, 422, "idempotency_key_reused")
    plan = {"subject": "Plan"}
    wf_headers = {"Idempotency-Key": "workflow-template-1"}
    made = _ok(api.post("/v1/workflow_templates", json=plan, headers=wf_headers), 201)
    assert _ok(api.post("/v1/workflow_templates", json=plan, headers=wf_headers), 201) == made
    assert len(_ok(api.get("/v1/workflow_templates"))) == 1


# --- workflow templates ----------------------------------------------------------------


def test_workflow_template_crud(api: Api, settings: Settings) -> None:
    order = _task_template(api, "Order rack")
    install = _task_template(api, "Install rack")
    test = _task_template(api, "Test rack")
    rollback = _task_template(api, "Roll back")
    body = {
        "subject": "New rack",
        "category": "standard",
        "instructions": "Follow the plan.",
        "phases": [{"name": "Build", "position": 2}, {"name": "Prepare", "position": 1}],
        "task_template_relations": [
            _relation(order["id"], phase_name="Prepare"),
            _relation(install["id"], order["id"], phase_name="Build"),
            _relation(
                test["id"],
                install["id"],
                phase_name="Build",
                failure_task_template_id=rollback["id"],
            ),
            _relation(rollback["id"]),
        ],
    }
    created = _ok(api.post("/v1/workflow_templates", json=body), 201)
    _conforms(WorkflowTemplatePublic, created)
    assert created["phases"] == [
        {"name": "Prepare", "position": 1},
        {"name": "Build", "position": 2},
    ]
    assert created["task_template_relations"] == [
        {
            "task_template_id": order["id"],
            "phase_name": "Prepare",
            "failure_task_template_id": None,
            "predecessor_task_template_ids": [],
        },
        {
            "task_template_id": install["id"],
            "phase_name": "Build",
            "failure_task_template_id": None,
            "predecessor_task_template_ids": [order["id"]],
        },
        {
            "task_template_id": test["id"],
            "phase_name": "Build",
            "failure_task_template_id": rollback["id"],
            "predecessor_task_template_ids": [install["id"]],
        },
        {
            "task_template_id": rollback["id"],
            "phase_name": None,
            "failure_task_template_id": None,
            "predecessor_task_template_ids": [],
        },
    ]
    assert created["category"] == "standard"
    assert created["instructions"] == "Follow the plan."
    url = f"/v1/workflow_templates/{created['id']}"
    assert _ok(api.get(url)) == created

    # What a GET shows is what a PATCH takes: sent back unchanged, it changes nothing.
    same = {k: created[k] for k in ("phases", "task_template_relations")}
    assert (
        _ok(api.patch(url, json=same))["task_template_relations"] == same["task_template_relations"]
    )
    # Phases without positions take their places in the list.
    renamed = _ok(
        api.patch(
            url,
            json={
                "subject": "New racks",
                "phases": [{"name": "Prepare"}, {"name": "Build"}, {"name": "Verify"}],
                "task_template_relations": [
                    _relation(order["id"], phase_name="Prepare"),
                    _relation(test["id"], order["id"], phase_name="Verify"),
                ],
            },
        )
    )
    assert renamed["subject"] == "New racks"
    assert [(p["name"], p["position"]) for p in renamed["phases"]] == [
        ("Prepare", 1),
        ("Build", 2),
        ("Verify", 3),
    ]
    assert [r["task_template_id"] for r in renamed["task_template_relations"]] == [
        order["id"],
        test["id"],
    ]
    # Only the phases: the relations stay as they are.
    kept = _ok(api.patch(url, json={"phases": [{"name": "Prepare"}, {"name": "Verify"}]}))
    assert kept["task_template_relations"] == renamed["task_template_relations"]
    assert _ok(api.get(url)) == kept

    second = _ok(_workflow_template(api, subject="Emergency fix", category="emergency"), 201)
    listing = api.get("/v1/workflow_templates")
    assert [t["id"] for t in _ok(listing)] == [created["id"], second["id"]]
    # A list shows the templates, not their plans, unless asked.
    assert set(_ok(listing)[0]) == {
        "id",
        "subject",
        "category",
        "disabled",
        "created_at",
        "updated_at",
    }
    asked = _ok(api.get("/v1/workflow_templates?fields=phases,task_template_relations"))
    assert asked[0] == {
        "id": created["id"],
        "phases": kept["phases"],
        "task_template_relations": kept["task_template_relations"],
    }
    emergency = _ok(api.get("/v1/workflow_templates?category=emergency"))
    assert [t["id"] for t in emergency] == [second["id"]]
    assert _stored_plan(settings, created["id"])["phases"] == kept["phases"]


def test_a_cycle_is_refused_and_named(api: Api, settings: Settings) -> None:
    a, b, c, d = (_task_template(api, name)["id"] for name in ("A", "B", "C", "D"))
    cyclic = _workflow_template(
        api,
        task_template_relations=[_relation(a, c), _relation(b, a), _relation(c, b), _relation(d)],
    )
    body = assert_error(cyclic, 422, "validation_failed", "task_template_relations")
    assert error_fields(cyclic) == [("task_template_relations", "dependency_cycle")]
    assert f"task templates {a} -> {b} -> {c} -> {a}" in body["errors"][0]["message"]
    assert _ok(api.get("/v1/workflow_templates")) == []

    itself = _workflow_template(api, task_template_relations=[_relation(a), _relation(b, b)])
    assert error_fields(itself) == [("task_template_relations", "dependency_cycle")]
    assert f"task templates {b} -> {b}" in itself.get_json()["message"]

    # A PATCH that would close a cycle leaves the template as it was.
    chain = [_relation(a), _relation(b, a), _relation(c, b)]
    plan = _ok(_workflow_template(api, task_template_relations=chain), 201)
    url = f"/v1/workflow_templates/{plan['id']}"
    closing = [_relation(a, c), _relation(b, a), _relation(c, b)]
    refused = api.patch(url, json={"subject": "Renamed", "task_template_relations": closing})
    assert error_fields(refused) == [("task_template_relations", "dependency_cycle")]
    assert f"{a} -> {b} -> {c} -> {a}" in refused.get_json()["message"]
    assert _ok(api.get(url)) == plan
    stored = _stored_plan(settings, plan["id"])
    assert stored["task_template_relations"] == plan["task_template_relations"]
    # A diamond is no cycle.
    diamond = [_relation(a), _relation(b, a), _relation(c, a), _relation(d, b, c)]
    assert _ok(api.patch(url, json={"task_template_relations": diamond}))


def test_a_plan_that_breaks_its_rules_is_refused(api: Api, account: AccountInfo) -> None:
    a, b = _task_template(api, "A")["id"], _task_template(api, "B")["id"]
    phases = [{"name": "Build"}]
    cases: list[tuple[dict[str, Any], list[tuple[str, str]]]] = [
        (
            {"task_template_relations": [_relation(a), _relation(a)]},
            [("task_template_relations.1.task_template_id", "taken")],
        ),
        (
            {"phases": phases, "task_template_relations": [_relation(a, phase_name="build")]},
            [("task_template_relations.0.phase_name", "not_found")],
        ),
        (
            {"task_template_relations": [_relation(a, failure_task_template_id=a)]},
            [("task_template_relations.0.failure_task_template_id", "own_failure_task")],
        ),
        (
            {"task_template_relations": [_relation(a, failure_task_template_id=b)]},
            [("task_template_relations.0.failure_task_template_id", "not_in_template")],
        ),
        (
            {"task_template_relations": [_relation(a, b)]},
            [("task_template_relations.0.predecessor_task_template_ids", "not_in_template")],
        ),
        (
            {"task_template_relations": [_relation(999_999)]},
            [("task_template_relations.0.task_template_id", "not_found")],
        ),
        (
            {"phases": [{"name": "Build"}, {"name": "BUILD"}]},
            [("phases.1.name", "taken")],
        ),
        (
            {"phases": [{"name": " "}, {"name": "x" * 81}, {"name": "a\nb"}]},
            [
                ("phases.0.name", "too_short"),
                ("phases.1.name", "too_long"),
                ("phases.2.name", "invalid_character"),
            ],
        ),
        (
            {"phases": [{"name": "Build", "position": 0}]},
            [("phases.0.position", "out_of_range")],
        ),
        (
            {"task_template_relations": [{"task_template_id": a, "successor_ids": [b]}]},
            [("task_template_relations.0.successor_ids", "unknown_field")],
        ),
        ({"task_template_relations": None}, [("task_template_relations", "not_nullable")]),
        ({"category": "casual"}, [("category", "invalid_value")]),
        ({"id": 1, "created_at": "x"}, [("id", "readonly"), ("created_at", "readonly")]),
    ]
    for fields, expected in cases:
        response = _workflow_template(api, **fields)
        assert response.status_code == 422, (fields, response.get_json())
        assert error_fields(response) == expected, fields
    too_many = [_relation(a)] * (MAX_RELATIONS + 1)
    assert error_fields(_workflow_template(api, task_template_relations=too_many)) == [
        ("task_template_relations", "too_long")
    ]
    assert _ok(api.get("/v1/workflow_templates")) == []

    # A PATCH of the phases alone is checked against the relations the template has.
    plan = _ok(
        _workflow_template(
            api, phases=phases, task_template_relations=[_relation(a, phase_name="Build")]
        ),
        201,
    )
    url = f"/v1/workflow_templates/{plan['id']}"
    dropped = api.patch(url, json={"phases": [{"name": "Test"}]})
    assert error_fields(dropped) == [("task_template_relations.0.phase_name", "not_found")]
    assert _ok(api.get(url)) == plan
    assert_error(api.get("/v1/workflow_templates/999999"), 404, "not_found")
    assert_error(api.patch("/v1/workflow_templates/999999", json={}), 404, "not_found")


def test_disabled_task_templates_stay_but_are_not_added(api: Api) -> None:
    a, b = _task_template(api, "A")["id"], _task_template(api, "B")["id"]
    plan = _ok(_workflow_template(api, task_template_relations=[_relation(a)]), 201)
    url = f"/v1/workflow_templates/{plan['id']}"
    for template_id in (a, b):
        _ok(api.patch(f"/v1/task_templates/{template_id}", json={"disabled": True}))
    # ``a`` was in the plan before it was disabled: the plan may keep it ...
    kept = _ok(api.patch(url, json={"task_template_relations": [_relation(a, phase_name=None)]}))
    assert [r["task_template_id"] for r in kept["task_template_relations"]] == [a]
    # ... but a disabled ``b`` is not added, to this plan or a new one.
    adding = api.patch(url, json={"task_template_relations": [_relation(a), _relation(b, a)]})
    assert error_fields(adding) == [("task_template_relations.1.task_template_id", "disabled")]
    new = _workflow_template(api, task_template_relations=[_relation(a)])
    assert error_fields(new) == [("task_template_relations.0.task_template_id", "disabled")]
    disabled = _ok(api.patch(url, json={"disabled": True}))
    assert disabled["disabled"] is True
    assert [t["id"] for t in _ok(api.get("/v1/workflow_templates?disabled=true"))] == [plan["id"]]
