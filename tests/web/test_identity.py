"""People, teams and membership; admin rights; tenancy."""

from __future__ import annotations

from tasks_service.identity.accounts import do_create_token
from tasks_service.store.db import session_scope
from tests.helpers import AccountInfo, Api, assert_error, make_account


def test_me_and_people(api: Api, account: AccountInfo) -> None:
    me = api.get("/v1/people/me").get_json()
    assert me["id"] == account.admin_id
    assert me["admin"] is True
    bob = api.create_person("Bob", "bob@example.com")
    assert bob["admin"] is False
    assert [p["id"] for p in api.get("/v1/people").get_json()] == [account.admin_id, bob["id"]]
    renamed = api.patch(f"/v1/people/{bob['id']}", json={"name": "Robert"})
    assert renamed.get_json()["name"] == "Robert"
    assert_error(
        api.post("/v1/people", json={"name": "Dup", "primary_email": "bob@example.com"}),
        422,
        "validation_failed",
        "primary_email",
    )
    assert_error(
        api.post("/v1/people", json={"name": "X", "primary_email": "not-an-email"}),
        422,
        "validation_failed",
        "primary_email",
    )
    assert_error(
        api.patch(f"/v1/people/{bob['id']}", json={"id": 7}), 422, "validation_failed", "id"
    )


def test_teams_and_members(api: Api, account: AccountInfo) -> None:
    bob = api.create_person("Bob", "bob@example.com")
    team = api.create_team("Network", members=(account.admin_id, bob["id"]))
    members = api.get(f"/v1/teams/{team['id']}/members").get_json()
    assert [m["id"] for m in members] == [account.admin_id, bob["id"]]
    assert [t["name"] for t in api.get(f"/v1/people/{bob['id']}/teams").get_json()] == ["Network"]
    removed = api.delete(f"/v1/teams/{team['id']}/members/{bob['id']}")
    assert removed.status_code == 204
    assert api.get(f"/v1/people/{bob['id']}/teams").get_json() == []
    assert_error(api.delete(f"/v1/teams/{team['id']}/members/{bob['id']}"), 404, "not_found")
    assert_error(
        api.post(f"/v1/teams/{team['id']}/members", json={"person_id": 999999}),
        422,
        "validation_failed",
        "person_id",
    )
    assert (
        api.patch(f"/v1/teams/{team['id']}", json={"name": "Networking"}).get_json()["name"]
        == "Networking"
    )
    assert_error(
        api.post("/v1/teams", json={"name": "Networking"}), 422, "validation_failed", "name"
    )


def test_only_admins_change_people_and_teams(api: Api, account: AccountInfo, settings) -> None:
    bob = api.create_person("Bob", "bob@example.com")
    with session_scope(settings) as session:
        token = do_create_token(session, account.account_id, bob["id"])
    as_bob = api.as_(token, account.slug)
    assert as_bob.get("/v1/people/me").get_json()["id"] == bob["id"]
    assert_error(as_bob.post("/v1/teams", json={"name": "Mine"}), 403, "forbidden")
    assert_error(
        as_bob.post("/v1/people", json={"name": "Eve", "primary_email": "eve@example.com"}),
        403,
        "forbidden",
    )
    assert_error(as_bob.patch(f"/v1/people/{bob['id']}", json={"admin": True}), 403, "forbidden")
    # ... but a non-admin works on tasks.
    created = as_bob.post("/v1/tasks", json={"subject": "Bob's", "category": "implementation"})
    assert created.status_code == 201
    assert created.get_json()["created_by"]["id"] == bob["id"]


def test_other_accounts_people_and_teams_do_not_exist(api: Api, settings) -> None:
    other = make_account(settings)
    stranger = api.as_(other.token, other.slug)
    team = api.create_team("Private")
    assert_error(stranger.get(f"/v1/teams/{team['id']}"), 404, "not_found")
    assert stranger.get("/v1/teams").get_json() == []
    mine = api.get("/v1/people/me").get_json()
    assert_error(stranger.get(f"/v1/people/{mine['id']}"), 404, "not_found")
    # Nor can they be referenced from the other account's tasks.
    response = stranger.post(
        "/v1/tasks", json={"subject": "x", "category": "implementation", "team_id": team["id"]}
    )
    assert_error(response, 422, "validation_failed", "team_id")
