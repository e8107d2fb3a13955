"""The HTTP surface: root, health, authentication, and one error shape for bad input."""

from __future__ import annotations

import pytest

from tests.helpers import AccountInfo, Api, assert_error, make_account


def test_root_needs_no_authentication(anon: Api) -> None:
    response = anon.get("/v1")
    assert response.status_code == 200
    assert response.get_json() == {}


def test_health_and_readiness(anon: Api) -> None:
    assert anon.get("/healthz").get_json() == {"status": "ok"}
    ready = anon.get("/readyz")
    assert ready.status_code == 200, ready.get_json()
    assert ready.get_json()["checks"] == {"database": "ok", "broker": "ok"}


def test_missing_or_unknown_token_is_401(anon: Api, account: AccountInfo) -> None:
    assert_error(anon.get("/v1/tasks"), 401, "unauthorized")
    response = anon.get(
        "/v1/tasks", headers={"Authorization": "Bearer nope", "X-Xurrent-Account": account.slug}
    )
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    no_account = anon.get("/v1/tasks", headers={"Authorization": f"Bearer {account.token}"})
    assert_error(no_account, 401, "account_missing")


def test_token_of_another_account_is_401(anon: Api, settings, account: AccountInfo) -> None:
    other = make_account(settings)
    response = anon.get(
        "/v1/people/me",
        headers={"Authorization": f"Bearer {account.token}", "X-Xurrent-Account": other.slug},
    )
    assert_error(response, 401, "unauthorized")


def test_4me_account_header_is_accepted(anon: Api, account: AccountInfo) -> None:
    response = anon.get(
        "/v1/people/me",
        headers={"Authorization": f"Bearer {account.token}", "X-4me-Account": account.slug},
    )
    assert response.status_code == 200
    assert response.get_json()["id"] == account.admin_id


def test_unknown_route_and_wrong_method(api: Api) -> None:
    assert_error(api.get("/v1/nothing-here"), 404, "not_found")
    assert_error(api.get("/v1/tasks/0"), 404, "not_found")
    assert_error(api.get(f"/v1/tasks/{2**40}"), 404, "not_found")
    response = api.delete("/v1/tasks")
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_malformed_json_is_400(api: Api) -> None:
    response = api.request(
        "POST", "/v1/tasks", data='{"subject": ', headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, "malformed_json")
    response = api.request(
        "POST", "/v1/tasks", data='{"subject": NaN}', headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, "malformed_json")
    deep = "[" * 100000 + "]" * 100000
    response = api.request(
        "POST", "/v1/tasks", data=deep, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, "malformed_json")


def test_wrong_content_type_is_415(api: Api) -> None:
    response = api.request(
        "POST",
        "/v1/tasks",
        data="subject=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_error(response, 415, "unsupported_media_type")


def test_body_over_one_mebibyte_is_413(api: Api) -> None:
    body = '{"subject": "x", "instructions": "' + "a" * (1024 * 1024) + '"}'
    response = api.request(
        "POST", "/v1/tasks", data=body, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 413, "payload_too_large")


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"subject": "x", "category": "implementation", "id": 5}, "id", "readonly"),
        (
            {"subject": "x", "category": "implementation", "finished_at": "2026-01-01T00:00:00Z"},
            "finished_at",
            "readonly",
        ),
        (
            {"subject": "x", "category": "implementation", "completion_target_at": None},
            "completion_target_at",
            "readonly",
        ),
        (
            {"subject": "x", "category": "implementation", "colour": "red"},
            "colour",
            "unknown_field",
        ),
        ({"subject": "x", "category": "chores"}, "category", "invalid_value"),
        (
            {"subject": "x", "category": "implementation", "planned_duration": -1},
            "planned_duration",
            "out_of_range",
        ),
        ({"subject": 12, "category": "implementation"}, "subject", "invalid_type"),
        ({"category": "implementation"}, "subject", "missing"),
        ({"subject": "x\u0000y", "category": "implementation"}, "subject", "invalid_character"),
    ],
)
def test_invalid_task_is_422_and_creates_nothing(
    api: Api, body: dict, field: str, code: str
) -> None:
    response = api.post("/v1/tasks", json=body)
    found = assert_error(response, 422, "validation_failed", field)
    assert code in {e["code"] for e in found["errors"] if e["field"] == field}
    assert api.get("/v1/tasks").headers["X-Pagination-Total-Entries"] == "0"


def test_bad_paging_parameters_are_400(api: Api) -> None:
    assert_error(api.get("/v1/tasks?per_page=1000"), 400, "invalid_parameter", "per_page")
    assert_error(api.get("/v1/tasks?page=x"), 400, "invalid_parameter", "page")


def test_nul_in_url_is_400(api: Api) -> None:
    assert_error(api.get("/v1/tasks?subject=%00"), 400, "bad_request", "subject")
