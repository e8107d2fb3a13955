"""Every body is read by a declared input model (issue 14): an unknown field is a 422
naming it and nothing changes; a PATCH is partial, so an empty one changes nothing and
answers 200 with the resource."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tasks_service.core.settings import Settings
from tasks_service.identity.accounts import do_create_token
from tasks_service.store.db import session_scope
from tests.helpers import AccountInfo, Api, assert_error, make_account


@pytest.fixture(scope="module")
def world(app: Flask, settings: Settings, worker: Any) -> tuple[Api, Api, dict[str, str]]:
    """An admin, a person with two unread notifications, and a path of each resource."""
    account: AccountInfo = make_account(settings)
    api = Api(app.test_client(), account.token, account.slug)
    ann = api.create_person("Ann", "ann@bodies.example")
    team = api.create_team("Bodies", members=(ann["id"],))
    task = api.create_task(subject="Told", team_id=team["id"])
    api.create_task(subject="Told again", team_id=team["id"])
    with session_scope(settings) as session:
        token = do_create_token(session, account.account_id, ann["id"])
    ann_api = api.as_(token, account.slug)
    calendar = api.post("/v1/calendars", json={"name": "Always", "is_24x7": True}).get_json()
    policy = api.post(
        "/v1/escalation_policies",
        json={"name": "P", "levels": [{"offset_minutes": 0, "notify": ["team"]}]},
    ).get_json()
    hook = api.post(
        "/v1/webhooks", json={"uri": "http://127.0.0.1:9/hook", "events": ["task.created"]}
    ).get_json()
    workflow = api.post("/v1/workflows", json={"subject": "W", "category": "standard"})
    assert workflow.status_code == 201, workflow.get_json()
    paths = {
        "task": f"/v1/tasks/{task['id']}",
        "workflow": f"/v1/workflows/{workflow.get_json()['id']}",
        "person": f"/v1/people/{ann['id']}",
        "team": f"/v1/teams/{team['id']}",
        "calendar": f"/v1/calendars/{calendar['id']}",
        "policy": f"/v1/escalation_policies/{policy['id']}",
        "webhook": f"/v1/webhooks/{hook['id']}",
        "account": "/v1/account",
    }
    return api, ann_api, paths


def _unread(ann_api: Api) -> int:
    return int(ann_api.get("/v1/people/me/notifications/unread_count").get_json()["unread"])


def test_marking_all_read_refuses_a_field_it_does_not_take(
    world: tuple[Api, Api, dict[str, str]],
) -> None:
    _, ann_api, _ = world
    assert _unread(ann_api) == 2
    body = assert_error(
        ann_api.post("/v1/people/me/notifications/read", json={"ids": [1]}),
        422,
        "validation_failed",
        "ids",
    )
    assert body["errors"] == [
        {"field": "ids", "code": "unknown_field", "message": "is not a field of this resource"}
    ]
    assert _unread(ann_api) == 2  # nothing marked
    assert_error(
        ann_api.post("/v1/people/me/notifications/read", json=[1]), 422, "validation_failed"
    )
    assert _unread(ann_api) == 2


def test_patching_ones_own_person_is_partial(world: tuple[Api, Api, dict[str, str]]) -> None:
    _, ann_api, _ = world
    chosen = ann_api.patch("/v1/people/me", json={"notification_opt_outs": ["task.alert"]})
    assert chosen.status_code == 200, chosen.get_json()
    empty = ann_api.patch("/v1/people/me", json={})
    assert empty.status_code == 200, empty.get_json()
    assert empty.get_json()["notification_opt_outs"] == ["task.alert"]  # unchanged
    assert ann_api.patch("/v1/people/me").status_code == 200  # no body at all
    assert_error(
        ann_api.patch("/v1/people/me", json={"notification_opt_outs": None}),
        422,
        "validation_failed",
        "notification_opt_outs",
    )
    assert_error(
        ann_api.patch("/v1/people/me", json={"opt_outs": []}), 422, "validation_failed", "opt_outs"
    )
    assert ann_api.get("/v1/people/me").get_json()["notification_opt_outs"] == ["task.alert"]
    ann_api.patch("/v1/people/me", json={"notification_opt_outs": []})


def test_patching_a_notification_is_partial(world: tuple[Api, Api, dict[str, str]]) -> None:
    _, ann_api, _ = world
    [first, *_] = ann_api.get("/v1/people/me/notifications").get_json()
    path = f"/v1/people/me/notifications/{first['id']}"
    empty = ann_api.patch(path, json={})
    assert empty.status_code == 200, empty.get_json()
    assert empty.get_json()["read"] is False
    assert_error(ann_api.patch(path, json={"read": None}), 422, "validation_failed", "read")
    assert_error(ann_api.patch(path, json={"seen": True}), 422, "validation_failed", "seen")
    assert ann_api.get("/v1/people/me/notifications?unread=true").status_code == 200


def test_retrying_a_delivery_takes_no_body_fields(
    world: tuple[Api, Api, dict[str, str]],
) -> None:
    api, _, paths = world
    retry = f"{paths['webhook']}/deliveries/1/retry"
    assert_error(api.post(retry, json={"force": True}), 422, "validation_failed", "force")


def test_marking_all_read_still_works_without_a_body(
    world: tuple[Api, Api, dict[str, str]],
) -> None:
    _, ann_api, _ = world
    marked = ann_api.post("/v1/people/me/notifications/read", json={})
    assert marked.status_code == 200, marked.get_json()
    assert _unread(ann_api) == 0
    assert ann_api.post("/v1/people/me/notifications/read").status_code == 200


KINDS = ["task", "workflow", "person", "team", "calendar", "policy", "webhook", "account"]


@pytest.mark.parametrize("kind", KINDS)
def test_an_empty_patch_changes_nothing(world: tuple[Api, Api, dict[str, str]], kind: str) -> None:
    api, _, paths = world
    before = api.get(paths[kind]).get_json()
    response = api.patch(paths[kind], json={})
    assert response.status_code == 200, response.get_json()
    after = response.get_json()
    assert {k: v for k, v in after.items() if k != "updated_at"} == {
        k: v for k, v in before.items() if k != "updated_at"
    }


@pytest.mark.parametrize("kind", KINDS)
def test_a_patch_with_an_unknown_field_is_refused(
    world: tuple[Api, Api, dict[str, str]], kind: str
) -> None:
    api, _, paths = world
    before = api.get(paths[kind]).get_json()
    assert_error(
        api.patch(paths[kind], json={"bogus_field": 1}), 422, "validation_failed", "bogus_field"
    )
    assert api.get(paths[kind]).get_json() == before


@pytest.mark.parametrize(
    "path",
    [
        "/v1/tasks",
        "/v1/workflows",
        "/v1/people",
        "/v1/teams",
        "/v1/calendars",
        "/v1/escalation_policies",
        "/v1/webhooks",
        "{task}/notes",
        "{task}/labels",
        "{team}/members",
    ],
)
def test_a_post_with_an_unknown_field_is_refused(
    world: tuple[Api, Api, dict[str, str]], path: str
) -> None:
    api, _, paths = world
    url = path.format(**paths)
    assert_error(api.post(url, json={"bogus_field": 1}), 422, "validation_failed", "bogus_field")
