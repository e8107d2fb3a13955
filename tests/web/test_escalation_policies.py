"""Escalation policies over REST (admins), which policy an account or team names, a
task's escalations."""

from __future__ import annotations

from tasks_service.identity.accounts import do_create_token
from tasks_service.store.db import session_scope
from tests.helpers import AccountInfo, Api, error_fields

POLICY = {
    "name": "Standard",
    "levels": [
        {"percent": 75, "notify": ["member"]},
        {"offset_minutes": 0, "notify": ["team", "manager"], "actions": {"set_impact": "high"}},
    ],
}


def test_policies_are_created_read_and_changed_by_admins(
    api: Api, settings, account: AccountInfo
) -> None:
    created = api.post("/v1/escalation_policies", json=POLICY)
    assert created.status_code == 201, created.get_json()
    policy = created.get_json()
    assert policy["levels"][0] == {"percent": 75, "notify": ["member"]}
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
    assert error_fields(missing) == [("escalation_policy_id", "not_found")]
    # people who are not admins read policies but cannot change them
    person = api.create_person("Pat", "pat@example.com")
    with session_scope(settings) as session:
        token = do_create_token(session, account.account_id, person["id"])
    pat = api.as_(token, account.slug)
    assert pat.get("/v1/escalation_policies").status_code == 200
    assert pat.post("/v1/escalation_policies", json=POLICY).status_code == 403


def test_levels_are_shown_as_given_and_can_be_sent_back(api: Api) -> None:
    """A percent level shows its percent (no offset, no relative_to: a combination
    refused on input); an offset level its offset and what it counts from."""
    levels = [
        {"percent": 10},
        {"offset_minutes": -5},
        {"offset_minutes": 60, "relative_to": "due_at", "notify": ["team"]},
    ]
    created = api.post("/v1/escalation_policies", json={"name": "As given", "levels": levels})
    assert created.status_code == 201, created.get_json()
    shown = created.get_json()["levels"]
    assert shown == [
        {"percent": 10, "notify": []},
        {"offset_minutes": -5, "relative_to": "completion_target_at", "notify": []},
        {"offset_minutes": 60, "relative_to": "due_at", "notify": ["team"]},
    ]
    again = api.post("/v1/escalation_policies", json={"name": "Sent back", "levels": shown})
    assert again.status_code == 201, again.get_json()
    assert again.get_json()["levels"] == shown


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
        assert error_fields(response) == expected, body
    assert api.get("/v1/escalation_policies").get_json() == []


def test_a_task_shows_its_escalations_and_404_for_none(api: Api) -> None:
    task = api.create_task()
    assert api.get(f"/v1/tasks/{task['id']}/escalations").get_json() == []
    assert api.get("/v1/tasks/999999/escalations").status_code == 404
