"""One declaration of each shape (``store.schemas``): every GET shows exactly the fields
of its resource's public model, with their types, and every collection's ``?fields=``
accepts each field its GET shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from pydantic import BaseModel, TypeAdapter
from sqlmodel import select

from tasks_service.commands import drain
from tasks_service.identity.accounts import do_create_token
from tasks_service.store.db import session_scope
from tasks_service.store.models import Notification
from tasks_service.store.schemas.calendars import CalendarPublic
from tasks_service.store.schemas.directory import AccountPublic, PersonPublic, TeamPublic
from tasks_service.store.schemas.messages import (
    DeliveryPublic,
    NotificationPublic,
    WebhookCreated,
    WebhookPublic,
)
from tasks_service.store.schemas.operations import OperationPublic
from tasks_service.store.schemas.policies import EscalationPolicyPublic, TaskEscalationPublic
from tasks_service.store.schemas.shape import field_names
from tasks_service.store.schemas.tasks import EventPublic, NotePublic, TaskPublic
from tasks_service.store.schemas.workflows import WorkflowPublic
from tests.helpers import AccountInfo, Api, Receiver, wait_for

OFFICE = {
    "name": "Office",
    "time_zone": "Europe/Amsterdam",
    "hours": [{"weekday": "monday", "start": "09:00", "end": "24:00"}],
    "holidays": ["2026-12-31"],
}


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.get_json()
    return response.get_json()


def _conforms(model: type[BaseModel], body: Any) -> None:
    """The body is exactly the model's fields (none missing, none more), each of its type."""
    items = body if isinstance(body, list) else [body]
    assert items, f"nothing to check against {model.__name__}"
    TypeAdapter(list[model]).validate_python(items)  # type: ignore[valid-type]
    for item in items:
        assert list(item) == list(field_names(model)), model.__name__


@pytest.fixture
def world(api: Api, settings) -> dict[str, Any]:
    """One of every resource, with its references filled in."""
    calendar = _ok(api.post("/v1/calendars", json=OFFICE), 201)
    policy = _ok(
        api.post("/v1/escalation_policies", json={"name": "P", "levels": [{"percent": 50}]}), 201
    )
    bob = api.create_person("Bob", "bob@example.com")
    team = _ok(
        api.post(
            "/v1/teams",
            json={
                "name": "Ops",
                "calendar_id": calendar["id"],
                "escalation_policy_id": policy["id"],
            },
        ),
        201,
    )
    _ok(api.post(f"/v1/teams/{team['id']}/members", json={"person_id": bob["id"]}), 201)
    workflow = _ok(
        api.post(
            "/v1/workflows",
            json={
                "subject": "Change",
                "calendar_id": calendar["id"],
                "escalation_policy_id": policy["id"],
            },
        ),
        201,
    )
    task = _ok(
        api.post(
            f"/v1/workflows/{workflow['id']}/tasks",
            json={
                "subject": "Patch",
                "category": "implementation",
                "team_id": team["id"],
                "member_id": bob["id"],
                "planned_duration": 60,
                "labels": ["net"],
                "sourceID": "T-1",
                "custom_fields": {"k": 1},
            },
        ),
        201,
    )
    _ok(api.post(f"/v1/tasks/{task['id']}/notes", json={"text": "seen"}), 201)
    receiver = Receiver()
    hook = _ok(
        api.post("/v1/webhooks", json={"uri": receiver.uri, "events": ["task.updated"]}), 201
    )
    _ok(api.patch(f"/v1/tasks/{task['id']}", json={"impact": "high"}))
    wait_for(lambda: api.get(f"/v1/webhooks/{hook['id']}/deliveries").get_json(), what="a delivery")
    receiver.close()
    async_create = api.post(
        "/v1/tasks",
        json={"subject": "Later", "category": "implementation"},
        headers={"Prefer": "respond-async"},
    )
    assert async_create.status_code == 202
    with session_scope(settings, write=False) as session:  # Bob's feed has the assignment
        assert session.exec(select(Notification).where(Notification.person_id == bob["id"])).all()
    return {
        "calendar": calendar,
        "policy": policy,
        "bob": bob,
        "team": team,
        "workflow": workflow,
        "task": task,
        "hook": hook,
        "operation": async_create.headers["Location"],
    }


def test_every_get_shows_exactly_its_public_model(
    api: Api, world: dict[str, Any], settings, account: AccountInfo
) -> None:
    task_id, team_id, bob_id = world["task"]["id"], world["team"]["id"], world["bob"]["id"]
    hook_id = world["hook"]["id"]
    _conforms(WebhookCreated, world["hook"])
    shown = {
        f"/v1/tasks/{task_id}": TaskPublic,
        f"/v1/tasks/{task_id}/notes": NotePublic,
        f"/v1/tasks/{task_id}/events": EventPublic,
        f"/v1/workflows/{world['workflow']['id']}": WorkflowPublic,
        f"/v1/people/{bob_id}": PersonPublic,
        "/v1/people/me": PersonPublic,
        f"/v1/teams/{team_id}": TeamPublic,
        f"/v1/teams/{team_id}/members": PersonPublic,
        f"/v1/people/{bob_id}/teams": TeamPublic,
        f"/v1/calendars/{world['calendar']['id']}": CalendarPublic,
        "/v1/account": AccountPublic,
        f"/v1/escalation_policies/{world['policy']['id']}": EscalationPolicyPublic,
        "/v1/escalation_policies": EscalationPolicyPublic,
        f"/v1/webhooks/{hook_id}": WebhookPublic,
        "/v1/webhooks": WebhookPublic,
        f"/v1/webhooks/{hook_id}/deliveries": DeliveryPublic,
        world["operation"]: OperationPublic,
    }
    for path, model in shown.items():
        _conforms(model, _ok(api.get(path)))
    # lists show the collection fields by default; asked for all, exactly the GET's
    every = ",".join(field_names(TaskPublic))
    _conforms(TaskPublic, _ok(api.get(f"/v1/tasks?fields={every}&id={task_id}")))
    with session_scope(settings) as session:
        token = do_create_token(session, account.account_id, bob_id)
    bob = api.as_(token, account.slug)
    _conforms(NotificationPublic, _ok(bob.get("/v1/people/me/notifications")))


def test_escalations_show_exactly_their_public_model(api: Api, settings) -> None:
    policy = _ok(
        api.post(
            "/v1/escalation_policies",
            json={"name": "Now", "levels": [{"offset_minutes": -1, "notify": ["member"]}]},
        ),
        201,
    )
    _ok(api.patch("/v1/account", json={"escalation_policy_id": policy["id"]}))
    me = _ok(api.get("/v1/people/me"))
    task = api.create_task(member_id=me["id"], planned_duration=1)
    moment = datetime.fromisoformat(task["completion_target_at"]) - timedelta(minutes=1)
    with time_machine.travel(max(moment, datetime.now(UTC)), tick=False):
        drain.fire_due(settings, limit=500)
    escalations = wait_for(lambda: api.get(f"/v1/tasks/{task['id']}/escalations").get_json())
    _conforms(TaskEscalationPublic, escalations)


COLLECTIONS = [
    ("/v1/tasks", "/v1/tasks/{task}"),
    ("/v1/workflows", "/v1/workflows/{workflow}"),
    ("/v1/workflows/{workflow}/tasks", "/v1/tasks/{task}"),
    ("/v1/people", "/v1/people/{bob}"),
    ("/v1/teams", "/v1/teams/{team}"),
    ("/v1/teams/{team}/members", "/v1/people/{bob}"),
    ("/v1/people/{bob}/teams", "/v1/teams/{team}"),
    ("/v1/calendars", "/v1/calendars/{calendar}"),
    ("/v1/tasks/{task}/notes", "/v1/tasks/{task}/notes"),
    ("/v1/tasks/{task}/events", "/v1/tasks/{task}/events"),
]


@pytest.mark.parametrize(("collection", "single"), COLLECTIONS)
def test_fields_accepts_each_field_a_get_shows(
    api: Api, world: dict[str, Any], collection: str, single: str
) -> None:
    ids = {name: world[name]["id"] for name in ("task", "workflow", "bob", "team", "calendar")}
    shown = _ok(api.get(single.format(**ids)))
    fields = list((shown[0] if isinstance(shown, list) else shown).keys())
    path = collection.format(**ids)
    for field in fields:
        items = _ok(api.get(f"{path}?fields={field}"))
        assert items, path
        assert all(set(item) == {"id", field} for item in items), (path, field)
    items = _ok(api.get(f"{path}?fields={','.join(fields)}"))
    assert all(list(item) == fields for item in items), path
