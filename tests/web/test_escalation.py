"""The REST side of issue 6's people channels: escalation policies (admins), which
policy an account or team names, a task's escalations, each person's feed and opt-outs."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from tasks_service.identity.accounts import do_create_token
from tasks_service.store.db import session_scope
from tasks_service.store.models import Notification, Task
from tests.helpers import AccountInfo, Api

POLICY = {
    "name": "Standard",
    "levels": [
        {"percent": 75, "notify": ["member"]},
        {"offset_minutes": 0, "notify": ["team", "manager"], "actions": {"set_impact": "high"}},
    ],
}


def _errors(response: Any) -> list[tuple[str, str]]:
    body = response.get_json()
    return [(e["field"], e["code"]) for e in body["errors"]]


def test_policies_are_created_read_and_changed_by_admins(
    api: Api, settings, account: AccountInfo
) -> None:
    created = api.post("/v1/escalation_policies", json=POLICY)
    assert created.status_code == 201, created.get_json()
    policy = created.get_json()
    assert policy["levels"][0] == {
        "percent": 75,
        "notify": ["member"],
        "offset_minutes": 0,
        "relative_to": "completion_target_at",
    }
    assert (policy["offsets_in_service_time"], policy["hold_email_to_service_hours"]) == (
        False,
        True,
    )
    assert api.get(f"/v1/escalation_policies/{policy['id']}").get_json() == policy
    assert [p["id"] for p in api.get("/v1/escalation_policies").get_json()] == [policy["id"]]
    # a change of timing re-plans the account's open tasks in the background
    changed = api.patch(
        f"/v1/escalation_policies/{policy['id']}", json={"levels": [{"offset_minutes": 30}]}
    )
    assert changed.status_code == 200, changed.get_json()
    assert changed.headers["Operation-Location"].startswith("/v1/operations/")
    renamed = api.patch(f"/v1/escalation_policies/{policy['id']}", json={"name": "Renamed"})
    assert "Operation-Location" not in renamed.headers  # a name moves nothing
    # the account and a team name it; a policy of nowhere is a 422 naming the field
    account_body = api.patch("/v1/account", json={"escalation_policy_id": policy["id"]})
    assert account_body.get_json()["escalation_policy"] == {"id": policy["id"], "name": "Renamed"}
    missing = api.post("/v1/teams", json={"name": "Ops", "escalation_policy_id": 999_999})
    assert missing.status_code == 422
    assert _errors(missing) == [("escalation_policy_id", "not_found")]
    # people who are not admins read policies but cannot change them
    person = api.create_person("Pat", "pat@example.com")
    with session_scope(settings) as session:
        token = do_create_token(session, account.account_id, person["id"])
    pat = api.as_(token, account.slug)
    assert pat.get("/v1/escalation_policies").status_code == 200
    assert pat.post("/v1/escalation_policies", json=POLICY).status_code == 403


def test_bad_policies_are_422_and_change_nothing(api: Api) -> None:
    cases = [
        ({"name": "x", "levels": []}, [("levels", "too_short")]),
        (
            {"name": "x", "levels": [{"notify": ["boss"]}]},
            [("levels.0.notify.0", "invalid_format")],
        ),
        (
            {"name": "x", "levels": [{"percent": 80, "relative_to": "due_at"}]},
            [("levels.0", "invalid_value")],
        ),
        (
            {"name": "x", "levels": [{"notify": ["team:999999"]}]},
            [("levels.0.notify.0", "not_found")],
        ),
        (
            {"name": "x", "levels": [{"actions": {"set_impact": "huge"}}]},
            [("levels.0.actions.set_impact", "invalid_value")],
        ),
        (
            {"name": "x", "levels": [{"offset_minutes": "soon"}]},
            [("levels.0.offset_minutes", "invalid_type")],
        ),
        ({"name": "x", "levels": [{}], "id": 5}, [("id", "readonly")]),
    ]
    for body, expected in cases:
        response = api.post("/v1/escalation_policies", json=body)
        assert response.status_code == 422, (body, response.get_json())
        assert _errors(response) == expected, body
    assert api.get("/v1/escalation_policies").get_json() == []


def test_a_task_shows_its_escalations_and_404_for_none(api: Api) -> None:
    task = api.create_task()
    assert api.get(f"/v1/tasks/{task['id']}/escalations").get_json() == []
    assert api.get("/v1/tasks/999999/escalations").status_code == 404


def test_the_feed_counts_unread_marks_read_and_is_ones_own(
    api: Api, settings, account: AccountInfo
) -> None:
    ann = api.create_person("Ann", "ann@example.com")
    team = api.create_team("Ops", members=(ann["id"],))
    task = api.create_task(team_id=team["id"])  # assigned to the team: Ann is told
    with session_scope(settings) as session:
        token = do_create_token(session, account.account_id, ann["id"])
        assert session.exec(select(Task).where(Task.id == task["id"])).one()
    ann_api = api.as_(token, account.slug)
    listed = ann_api.get("/v1/people/me/notifications")
    assert listed.headers["X-Unread-Count"] == "1"
    [item] = listed.get_json()
    assert (item["event"], item["read"], item["task"]) == (
        "task.assigned",
        False,
        {"id": task["id"]},
    )
    assert item["data"]["data"]["id"] == task["id"]
    assert ann_api.get("/v1/people/me/notifications/unread_count").get_json() == {"unread": 1}
    read = ann_api.patch(f"/v1/people/me/notifications/{item['id']}", json={"read": True})
    assert read.get_json()["read"] is True
    assert ann_api.get("/v1/people/me/notifications?unread=true").get_json() == []
    assert ann_api.get("/v1/people/me/notifications/unread_count").get_json() == {"unread": 0}
    # someone else's notification is not found; a bad body is a 422
    assert (
        api.patch(f"/v1/people/me/notifications/{item['id']}", json={"read": True}).status_code
        == 404
    )
    bad = ann_api.patch(f"/v1/people/me/notifications/{item['id']}", json={"read": "yes"})
    assert bad.status_code == 422
    assert _errors(bad) == [("read", "invalid_type")]


def test_opt_outs_silence_a_person(api: Api, settings, account: AccountInfo) -> None:
    ann = api.create_person("Ann", "ann2@example.com")
    with session_scope(settings) as session:
        token = do_create_token(session, account.account_id, ann["id"])
    ann_api = api.as_(token, account.slug)
    bad = ann_api.patch("/v1/people/me", json={"notification_opt_outs": ["task.nothing"]})
    assert bad.status_code == 422
    assert _errors(bad) == [("notification_opt_outs", "invalid_value")]
    not_mine = ann_api.patch("/v1/people/me", json={"admin": True})
    assert not_mine.status_code == 422  # only opt-outs are one's own to change
    me = ann_api.patch("/v1/people/me", json={"notification_opt_outs": ["in_app:task.assigned"]})
    assert me.get_json()["notification_opt_outs"] == ["in_app:task.assigned"]
    team = api.create_team("Quiet", members=(ann["id"],))
    api.create_task(team_id=team["id"])
    assert ann_api.get("/v1/people/me/notifications").get_json() == []
    with session_scope(settings, write=False) as session:
        assert (
            session.exec(select(Notification).where(Notification.person_id == ann["id"])).all()
            == []
        )
