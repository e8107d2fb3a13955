"""Each person's own feed (``/people/me/notifications``) and opt-outs (``/people/me``)."""

from __future__ import annotations

from sqlmodel import select

from tasks_service.identity.accounts import do_create_token
from tasks_service.store.db import session_scope
from tasks_service.store.models import Notification, Task
from tests.helpers import AccountInfo, Api, error_fields


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
    assert error_fields(bad) == [("read", "invalid_type")]


def test_opt_outs_silence_a_person(api: Api, settings, account: AccountInfo) -> None:
    ann = api.create_person("Ann", "ann2@example.com")
    with session_scope(settings) as session:
        token = do_create_token(session, account.account_id, ann["id"])
    ann_api = api.as_(token, account.slug)
    bad = ann_api.patch("/v1/people/me", json={"notification_opt_outs": ["task.nothing"]})
    assert bad.status_code == 422
    assert error_fields(bad) == [("notification_opt_outs", "invalid_value")]
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
